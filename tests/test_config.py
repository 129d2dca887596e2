from __future__ import annotations

import pytest

from service import create_app
from service.config import ConfigError


def test_environment_settings_are_read_with_the_cds_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_AUTH_MODE", "off")
    monkeypatch.setenv("CDS_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("CDS_FIXED_NOW", "2026-01-02T03:04:05Z")
    app = create_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    assert app.config["FIXED_NOW"].isoformat() == "2026-01-02T03:04:05+00:00"


def test_unknown_cds_setting_stops_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_MAX_BODY_BYTE", "1")
    with pytest.raises(ConfigError, match="CDS_MAX_BODY_BYTE"):
        create_app({"AUTH_MODE": "off"})


@pytest.mark.parametrize(("key", "value"), [("MAX_BODY_BYTES", 0), ("MAX_BODY_BYTES", "big"), ("FIXED_NOW", "soon")])
def test_bad_setting_values_stop_startup(key: str, value: object) -> None:
    with pytest.raises(ConfigError):
        create_app({key: value, "AUTH_MODE": "off"})
