"""CORS, response headers, input limits, log hygiene and the 500 path (issue: security and robustness)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from service import create_app

from .conftest import SAMPLES, SERVICE_URL, LiveService, load_json
from .security_support import EHR, Trust, claims, mint

pytestmark = pytest.mark.api
ORIGIN = "https://sandbox.cds-hooks.org"


def token(service: LiveService, trust: Trust, path: str) -> str:
    return mint(trust.ec, claims(EHR, f"{service.url}{path}", time.time()))


@pytest.mark.parametrize("path", ["/cds-services", SERVICE_URL, f"{SERVICE_URL}/feedback", "/evaluate"])
def test_preflight_allows_the_allowlisted_origin(secured: LiveService, path: str) -> None:
    r = requests.options(
        f"{secured.url}{path}",
        timeout=5,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in r.headers["Access-Control-Allow-Methods"]


def test_preflight_ignores_other_origins(secured: LiveService) -> None:
    r = requests.options(
        f"{secured.url}{SERVICE_URL}",
        timeout=5,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_headers_are_on_success_and_error_responses(secured: LiveService, trust: Trust) -> None:
    headers = {"Origin": ORIGIN}
    ok = requests.get(
        f"{secured.url}/cds-services",
        timeout=5,
        headers={**headers, "Authorization": f"Bearer {token(secured, trust, '/cds-services')}"},
    )
    unauthorized = requests.post(f"{secured.url}{SERVICE_URL}", json={}, headers=headers, timeout=5)
    request = load_json(SAMPLES / "mg-low" / "patient-view.json")
    del request["prefetch"], request["fhirServer"]
    precondition = requests.post(
        f"{secured.url}{SERVICE_URL}",
        json=request,
        timeout=5,
        headers={**headers, "Authorization": f"Bearer {token(secured, trust, SERVICE_URL)}"},
    )
    not_found = requests.get(f"{secured.url}/nope", headers=headers, timeout=5)
    assert [r.status_code for r in (ok, unauthorized, precondition, not_found)] == [200, 401, 412, 404]
    for r in (ok, unauthorized, precondition, not_found):
        assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_a_crashing_handler_gives_a_500_outcome_with_cors_and_no_stack_trace() -> None:
    app = create_app({"AUTH_MODE": "off", "CORS_ORIGINS": ORIGIN})

    def boom() -> Any:
        return {"ratio": 1 / 0}

    app.add_url_rule("/boom", view_func=boom)
    r = app.test_client().get("/boom", headers={"Origin": ORIGIN})
    assert r.status_code == 500
    assert r.json == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "exception",
                "diagnostics": "Internal error in the CDS service; the details are in the service log.",
            }
        ],
    }
    body = r.get_data(as_text=True)
    assert "Traceback" not in body and "ZeroDivision" not in body
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN and r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (b'{"hook": "patient-view", "hook": "order-sign"}', "duplicate key 'hook'"),
        (
            b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Observation", "valueQuantity": '
            b'{"value": NaN}}}]}',
            "NaN",
        ),
        (b'{"x": "\\ud800"}', "unpaired UTF-16 surrogate"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b'{"a": "caf\xe9"}', "invalid UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper than 64"),
        (b"", "not valid JSON"),
    ],
)
def test_hostile_json_is_a_400(live: LiveService, body: bytes, mentions: str) -> None:
    r = requests.post(f"{live.url}/evaluate", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400, r.text
    assert mentions in r.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hook": 7}, "hook"),
        ({"hookInstance": 123}, "hookInstance"),
        ({"context": "Patient/1"}, "context"),
        ({"context": {"userId": ["Practitioner/1"], "patientId": "1"}}, "context.userId"),
        ({"context": {"userId": "Practitioner/1", "patientId": 1}}, "context.patientId"),
        ({"prefetch": []}, "prefetch"),
        ({"prefetch": {"patient": "Patient/1"}}, "prefetch.patient"),
        ({"fhirServer": 5}, "fhirServer"),
        ({"fhirServer": "ftp://ehr.example.org"}, "fhirServer"),
        ({"fhirAuthorization": "token"}, "fhirAuthorization"),
        (
            {
                "fhirAuthorization": {
                    "access_token": "t",
                    "token_type": "Bearer",
                    "expires_in": "300",
                    "scope": "s",
                    "subject": "c",
                }
            },
            "fhirAuthorization.expires_in",
        ),
        ({"extension": []}, "extension"),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(live: LiveService, change: dict[str, Any], field: str) -> None:
    request = {**load_json(SAMPLES / "mg-low" / "patient-view.json"), **change}
    r = requests.post(f"{live.url}{SERVICE_URL}", json=request, timeout=10)
    assert r.status_code == 400, r.text
    assert field in [i.get("expression", [None])[0] for i in r.json()["issue"]]


def test_logs_never_hold_tokens_bodies_or_card_text(live: LiveService) -> None:
    secret_token = "fhir-access-token-do-not-log-8d1f"
    request = load_json(SAMPLES / "mg-low-electrolytes-digoxin" / "patient-view.json")
    request["fhirAuthorization"] = {
        "access_token": secret_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "magnesium-cds",
    }
    headers = {"Authorization": "Bearer client-jwt-do-not-log-51c2"}
    r = requests.post(f"{live.url}{SERVICE_URL}", json=request, headers=headers, timeout=10)
    (card,) = r.json()["cards"]
    bad = dict(request, hookInstance="not-a-uuid")
    requests.post(f"{live.url}{SERVICE_URL}", json=bad, headers=headers, timeout=10)
    time.sleep(0.2)
    log = live.log.read_text(encoding="utf-8")
    for secret in (secret_token, "client-jwt-do-not-log-51c2", card["summary"], "Hal", "hal-0008", "Digoxin 0.125"):
        assert secret not in log, secret
