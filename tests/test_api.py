"""The HTTP contract against the real service under gunicorn: discovery, cards, and every error path."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from service.version import __version__

from .conftest import SAMPLES, SERVICE_URL, SHARED, LiveService, load_json

pytestmark = pytest.mark.api
EXAMPLES = SHARED / "data" / "cdshooks-examples"
MG_LOW = SAMPLES / "mg-low"


def post(
    live: LiveService, path: str, body: Any, content_type: str = "application/json", **kw: Any
) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{live.url}{path}", data=data, headers={"Content-Type": content_type}, timeout=10, **kw)


def assert_outcome(r: requests.Response, status: int, mentions: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    assert all({"severity", "code", "diagnostics"} <= set(i) for i in body["issue"])
    assert mentions in " ".join(i["diagnostics"] for i in body["issue"])


def test_healthz_is_ok(live: LiveService) -> None:
    assert requests.get(f"{live.url}/healthz", timeout=5).status_code == 200


def test_discovery_lists_the_patient_view_service_with_prefetch(live: LiveService) -> None:
    r = requests.get(f"{live.url}/cds-services", timeout=5)
    assert r.status_code == 200
    (service,) = [s for s in r.json()["services"] if s["id"] == "magnesium-leg-symptoms"]
    assert service["hook"] == "patient-view"
    assert service["title"] and service["description"]
    prefetch = service["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert prefetch["observations"].startswith("Observation?patient={{context.patientId}}&code=")
    assert "http://loinc.org|19123-9" in prefetch["observations"]
    assert "http://loinc.org|2601-3" in prefetch["observations"]
    for key, rtype in [
        ("medicationStatements", "MedicationStatement"),
        ("medicationRequests", "MedicationRequest"),
        ("conditions", "Condition"),
    ]:
        assert prefetch[key].startswith(f"{rtype}?patient={{{{context.patientId}}}}")
    assert all(v not in (None, "", [], {}) for s in r.json()["services"] for v in s.values())


def test_rules_catalogue_lists_card_kinds_value_sets_and_thresholds_with_sources(live: LiveService) -> None:
    r = requests.get(f"{live.url}/rules", timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == "1.0.0" and body["serviceVersion"] == __version__
    assert {k["topic"] for k in body["cardKinds"]} == {
        "mg-low",
        "mg-low-normal",
        "mg-normal-with-risk",
        "mg-high",
        "mg-obstetric-monitoring",
        "mg-unreadable",
        "mg-not-measured",
        "leg-red-flag",
        "leg-differential",
        "mg-supplement-safety",
        "order-mg-wasting-drug",
        "order-mg-supplement",
    }
    ppi = next(v for v in body["valueSets"] if v["id"] == "ppi")
    assert ppi["version"] and ppi["concepts"] > 100 and ppi["isA"]["http://www.whocc.no/atc"] == ["A02BC", "A02BD"]
    low = next(t for t in body["thresholds"] if t["name"] == "serum-mg-low")
    assert (low["value"], low["unit"]) == (0.75, "mmol/L") and low["sources"][0]["url"].startswith("https://")
    assert all(t["sources"] for t in body["thresholds"])
    assert "foscarnet" in body["nameFallbacks"]["medications"]["mg-wasting-drug"]["names"]


def test_mg_low_card_meets_the_card_contract(live: LiveService) -> None:
    r = post(live, SERVICE_URL, load_json(MG_LOW / "patient-view.json"))
    (card,) = r.json()["cards"]
    uuid.UUID(card["uuid"])
    assert len(card["summary"]) < 140
    assert card["indicator"] == "warning"
    assert card["source"]["label"] and card["source"]["url"].startswith("https://")
    assert card["source"]["topic"] == {
        "system": "urn:magnesium-cds:card-topic",
        "code": "mg-low",
        "display": "Low serum magnesium",
    }
    detail = card["detail"]
    assert "0.62 mmol/L" in detail and "1.50 mg/dL" in detail and "2026-10-20" in detail
    assert "(lab range 1.6–2.6 mg/dL)" in detail and detail.startswith("**Do**\n1. ")
    assert "Hypomagnesemia usually means" in detail and "nap.edu" in detail
    assert all(r["display"] for r in card["overrideReasons"])
    assert all(link["type"] == "absolute" for link in card["links"])


def test_each_call_issues_fresh_card_uuids(live: LiveService) -> None:
    request = load_json(MG_LOW / "patient-view.json")
    first, second = (post(live, SERVICE_URL, request).json()["cards"][0]["uuid"] for _ in range(2))
    assert first != second


def test_evaluate_findings_reference_the_evidence(live: LiveService) -> None:
    r = post(live, "/evaluate", load_json(MG_LOW / "bundle.json"), "application/fhir+json")
    (finding,) = [f for f in r.json()["findings"] if f["category"] == "serum-magnesium"]
    assert finding["category"] == "serum-magnesium"
    assert finding["evidence"] == [
        {
            "reference": "Observation/mg-ada-1",
            "display": "Magnesium [Mass/volume] in Serum or Plasma",
            "date": "2026-10-20",
        }
    ]
    assert finding["values"]["mmolPerL"] == 0.617


def _pv(**changes: Any) -> dict[str, Any]:
    request = load_json(MG_LOW / "patient-view.json")
    request.update(changes)
    return request


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "mentions"),
    [
        (SERVICE_URL, b"{not json", "application/json", 400, "not valid JSON"),
        ("/evaluate", b"\xff\xfe", "application/json", 400, "not valid JSON"),
        (SERVICE_URL, b"[1, 2]", "application/json", 400, "JSON object"),
        ("/evaluate", b'"Bundle"', "application/json", 400, "JSON object"),
        (SERVICE_URL, b"{}", "text/plain", 415, "Content-Type"),
        ("/evaluate", b"{}", "application/x-www-form-urlencoded", 415, "Content-Type"),
        ("/cds-services/no-such-service", b"{}", "application/json", 404, "no-such-service"),
        (SERVICE_URL, _pv(hook="order-sign"), "application/json", 400, "hook"),
        (SERVICE_URL, _pv(hookInstance="not-a-uuid"), "application/json", 400, "hookInstance"),
        (SERVICE_URL, {k: v for k, v in _pv().items() if k != "context"}, "application/json", 400, "context"),
        (
            SERVICE_URL,
            _pv(context={"userId": "example", "patientId": "ada-0001"}),
            "application/json",
            400,
            "context.userId",
        ),
        (
            SERVICE_URL,
            _pv(context={"userId": "Practitioner/1", "patientId": "Patient/ada-0001"}),
            "application/json",
            400,
            "context.patientId",
        ),
        (SERVICE_URL, _pv(fhirServer=None), "application/json", 400, "fhirServer"),
        (
            SERVICE_URL,
            {
                **{k: v for k, v in _pv().items() if k != "fhirServer"},
                "fhirAuthorization": {
                    "access_token": "t",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "user/Patient.read",
                    "subject": "cds",
                },
            },
            "application/json",
            400,
            "fhirServer",
        ),
        (
            SERVICE_URL,
            _pv(prefetch={**_pv()["prefetch"], "observations": [1]}),
            "application/json",
            400,
            "prefetch.observations",
        ),
        ("/evaluate", {"resourceType": "Patient"}, "application/json", 400, "Bundle"),
        ("/evaluate", {"resourceType": "Bundle", "entry": {}}, "application/json", 400, "entry"),
    ],
)
def test_bad_requests_get_an_operation_outcome(
    live: LiveService, path: str, body: Any, content_type: str, status: int, mentions: str
) -> None:
    assert_outcome(post(live, path, body, content_type), status, mentions)


def test_get_on_a_service_is_405(live: LiveService) -> None:
    r = requests.get(f"{live.url}{SERVICE_URL}", timeout=5)
    assert_outcome(r, 405, "not allowed")
    assert "POST" in r.headers["Allow"]


def test_unknown_route_is_404_outcome(live: LiveService) -> None:
    assert_outcome(requests.get(f"{live.url}/nope", timeout=5), 404, "not found")


def test_body_over_the_limit_is_413(live: LiveService) -> None:
    body = b'{"padding": "' + b"x" * (10 * 1024 * 1024 + 1) + b'"}'
    assert_outcome(post(live, "/evaluate", body), 413, "too large")


def test_missing_prefetch_key_is_412_naming_the_key(live: LiveService) -> None:
    request = _pv()
    del request["prefetch"]["observations"]
    assert_outcome(post(live, SERVICE_URL, request), 412, "prefetch.observations")


def test_no_prefetch_at_all_is_412(live: LiveService) -> None:
    request = _pv()
    del request["prefetch"]
    assert_outcome(post(live, SERVICE_URL, request), 412, "prefetch.patient")


def test_operation_outcome_prefetch_is_412_with_the_clients_reason(live: LiveService) -> None:
    request = _pv()
    request["prefetch"]["conditions"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "Condition search timed out"}],
    }
    assert_outcome(post(live, SERVICE_URL, request), 412, "Condition search timed out")


def test_null_and_empty_prefetch_mean_no_data(live: LiveService) -> None:
    request = _pv()
    request["prefetch"].update(
        conditions=None,
        medicationStatements=None,
        medicationRequests={"resourceType": "Bundle", "type": "searchset", "total": 0},
    )
    r = post(live, SERVICE_URL, request)
    assert r.status_code == 200
    assert [c["source"]["topic"]["code"] for c in r.json()["cards"]] == ["mg-low"]


def test_nothing_to_say_is_exactly_empty_cards(live: LiveService) -> None:
    r = post(live, SERVICE_URL, load_json(SAMPLES / "no-card-normal" / "patient-view.json"))
    assert r.status_code == 200
    assert r.json() == {"cards": []}


def test_unknown_fields_and_extensions_are_tolerated(live: LiveService) -> None:
    request = _pv(extension={"com.example.flag": True}, futureField={"x": 1})
    request["context"]["extension"] = {"org.example": 1}
    request["context"]["newContextField"] = "x"
    request["prefetch"]["somebodyElsesKey"] = {"resourceType": "Patient", "id": "other"}
    obs = request["prefetch"]["observations"]["entry"][0]["resource"]
    obs["futureElement"] = {"from": "FHIR R6"}
    r = post(live, SERVICE_URL, request)
    assert r.status_code == 200, r.text
    assert [c["source"]["topic"]["code"] for c in r.json()["cards"]] == ["mg-low"]


GOOD = sorted(EXAMPLES.glob("cdshooks-request-p*-good.json"))
BAD = sorted(EXAMPLES.glob("cdshooks-request-patient-view-bad*.json"))


@pytest.mark.parametrize("path", GOOD, ids=[p.name for p in GOOD])
def test_shared_good_patient_view_requests_are_accepted(live: LiveService, path: Path) -> None:
    # Their prefetch keys are another service's, so the request is valid but our data is missing → 412.
    r = post(live, SERVICE_URL, path.read_bytes())
    assert r.status_code == 412, r.text
    assert all(i["expression"][0].startswith("prefetch.") for i in r.json()["issue"])


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_shared_bad_patient_view_requests_get_400_naming_the_field(live: LiveService, path: Path) -> None:
    assert_outcome(post(live, SERVICE_URL, path.read_bytes()), 400, "context.patientId")
