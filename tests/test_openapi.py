"""openapi.yaml stays true to the routes the app really serves (issue 6 adds full response checks)."""

from __future__ import annotations

import re

import yaml
from flask import Flask

from service.rules_loader import load_knowledge_base
from service.version import __version__

from .conftest import ROOT


def test_every_route_is_documented_and_nothing_else(app: Flask) -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    documented = {
        (path, method.upper()) for path, ops in spec["paths"].items() for method in ops if method != "parameters"
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{id}" if m[1] == "service_id" else "{" + m[1] + "}", rule.rule)
        served |= {(path, m) for m in rule.methods or () if m in {"GET", "POST", "PUT", "DELETE", "PATCH"}}
    assert documented == served


def test_version_matches_the_package_and_the_changelog() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    assert spec["info"]["version"] == __version__
    assert f"## {__version__} " in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_service_id_enum_matches_discovery() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    ids = sorted({s.id for s in load_knowledge_base().services})
    for path in ("/cds-services/{id}", "/cds-services/{id}/feedback"):
        assert sorted(spec["paths"][path]["parameters"][0]["schema"]["enum"]) == ids
