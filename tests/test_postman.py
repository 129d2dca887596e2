"""The Postman collection, run by newman against the live service and the FHIR test server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from postman.build_collection import OUT, render

from .conftest import ROOT, FhirTestServer, LiveService

NEWMAN = ROOT / "node_modules" / ".bin" / "newman"


def test_committed_collection_is_up_to_date_with_the_samples() -> None:
    assert OUT.read_text(encoding="utf-8") == render(), "run: .venv/bin/python postman/build_collection.py"


def test_collection_is_postman_v2_1_with_a_base_url_variable() -> None:
    collection = json.loads(OUT.read_text(encoding="utf-8"))
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert {v["key"] for v in collection["variable"]} >= {"baseUrl", "fhirServer", "clientJwt"}
    folders = {f["name"] for f in collection["item"]}
    assert folders >= {
        "Discovery and operations",
        "patient-view",
        "patient-view through the FHIR-server fallback",
        "order-select",
        "order-sign",
        "feedback",
        "/evaluate",
        "errors",
    }
    for folder in collection["item"]:
        for item in folder["item"]:
            assert item["request"]["url"]["raw"].startswith("{{baseUrl}}")
            assert any("pm.test" in line for e in item["event"] for line in e["script"]["exec"])


@pytest.mark.api
def test_newman_runs_the_collection_green(live: LiveService, fhir_server: FhirTestServer, tmp_path: Path) -> None:
    if not NEWMAN.exists():
        pytest.fail("newman is not installed: run `npm ci` (make test does)")
    report = tmp_path / "newman.json"
    result = subprocess.run(
        [
            str(NEWMAN),
            "run",
            str(OUT),
            "-e",
            str(ROOT / "postman" / "local.postman_environment.json"),
            "--env-var",
            f"baseUrl={live.url}",
            "--env-var",
            f"fhirServer={fhir_server.base}",
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
            "--color",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    stats = json.loads(report.read_text(encoding="utf-8"))["run"]["stats"]
    assert stats["assertions"]["failed"] == 0 and stats["requests"]["failed"] == 0
    assert stats["requests"]["total"] >= 30 and stats["assertions"]["total"] >= 60
