"""FHIR-server fallback (checklist §4 P-09…P-17, §12 rows 7-10) against a real FHIR server process."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from service import create_app
from service.core.knowledge import KnowledgeBase
from service.fhirclient import substitute

from .conftest import SAMPLES, SERVICE_URL, SHARED, FhirTestServer, LiveService, free_port, load_json, topics

pytestmark = pytest.mark.api
TOKEN = "opaque-access-token-7c1e"
BARRETT = "1d3b3586-5268-4ce8-b1eb-9fc7cc0947a4"


def request_for(case: str, fhir_server: str, *, keep: tuple[str, ...] = (), token: str | None = None) -> dict[str, Any]:
    """The case's patient-view request pointed at the test server, keeping only some prefetch keys."""
    request: dict[str, Any] = load_json(SAMPLES / case / "patient-view.json")
    request["fhirServer"] = fhir_server
    request["prefetch"] = {k: v for k, v in request["prefetch"].items() if k in keep}
    if not request["prefetch"]:
        del request["prefetch"]
    if token:
        request["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Observation.read",
            "subject": "magnesium-cds",
        }
    return request


def barrett_request(fhir_server: str) -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": "0f3c2a8e-6d1b-4d7a-9b0e-3f1f4d6f2a11",
        "fhirServer": fhir_server,
        "context": {"userId": "Practitioner/example", "patientId": BARRETT},
    }


def post(live: LiveService, body: dict[str, Any], path: str = SERVICE_URL) -> requests.Response:
    return requests.post(f"{live.url}{path}", json=body, timeout=15)


def issues(r: requests.Response) -> dict[str, str]:
    assert r.status_code == 412, r.text
    return {i["expression"][0]: i["diagnostics"] for i in r.json()["issue"]}


def test_no_prefetch_at_all_is_fetched_from_the_fhir_server(live: LiveService, fhir_server: FhirTestServer) -> None:
    r = post(live, request_for("mg-low-electrolytes-digoxin", fhir_server.base))
    assert r.status_code == 200, r.text
    assert topics(r.json()["cards"]) == [("mg-low", "critical")]  # low Mg with digoxin
    paths = sorted(s["path"].split("?")[0] for s in fhir_server.seen())
    assert paths == [
        "/fhir/Condition",
        "/fhir/MedicationRequest",
        "/fhir/MedicationStatement",
        "/fhir/Observation",
        "/fhir/Patient/hal-0008",
        "/fhir/Procedure",
    ]


def test_partial_prefetch_fetches_only_the_missing_keys(live: LiveService, fhir_server: FhirTestServer) -> None:
    r = post(live, request_for("mg-low", fhir_server.base, keep=("patient", "observations")))
    assert topics(r.json()["cards"]) == [("mg-low", "warning")]
    paths = sorted(s["path"].split("?")[0] for s in fhir_server.seen())
    assert paths == ["/fhir/Condition", "/fhir/MedicationRequest", "/fhir/MedicationStatement", "/fhir/Procedure"]


def test_template_tokens_are_substituted_and_url_encoded(live: LiveService, fhir_server: FhirTestServer) -> None:
    post(live, request_for("mg-low", fhir_server.base, keep=("patient",)))
    observation = next(s["path"] for s in fhir_server.seen() if s["path"].startswith("/fhir/Observation"))
    assert "patient=ada-0001" in observation and "http://loinc.org|19123-9" in requests.utils.unquote(observation)


def test_access_token_is_passed_through_as_bearer(live: LiveService, fhir_server: FhirTestServer) -> None:
    fhir_server.control(token=TOKEN)
    r = post(live, request_for("mg-low", fhir_server.base, token=TOKEN))
    assert r.status_code == 200, r.text
    assert {s["authorization"] for s in fhir_server.seen()} == {f"Bearer {TOKEN}"}


def test_server_refusing_the_token_is_412(live: LiveService, fhir_server: FhirTestServer) -> None:
    fhir_server.control(token="another-token")
    found = issues(post(live, request_for("mg-low", fhir_server.base, token=TOKEN)))
    assert "refused access (HTTP 401)" in found["prefetch.patient"]


def test_access_token_never_reaches_the_logs(live: LiveService, fhir_server: FhirTestServer) -> None:
    fhir_server.control(token=TOKEN)
    post(live, request_for("mg-low", fhir_server.base, token=TOKEN))
    fhir_server.control(token="another-token")
    post(live, request_for("mg-low", fhir_server.base, token=TOKEN))
    time.sleep(0.2)
    log = live.log.read_text(encoding="utf-8")
    assert TOKEN not in log and "Bearer" not in log


def test_server_down_is_412(live: LiveService) -> None:
    found = issues(post(live, request_for("mg-low", f"http://127.0.0.1:{free_port()}/fhir")))
    assert set(found) == {
        f"prefetch.{k}"
        for k in ("patient", "observations", "medicationStatements", "medicationRequests", "conditions", "procedures")
    }
    assert all("could not be reached" in why for why in found.values())


def test_slow_server_is_cut_off_at_the_total_budget(live: LiveService, fhir_server: FhirTestServer) -> None:
    fhir_server.control(delay=5)
    started = time.monotonic()
    found = issues(post(live, request_for("mg-low", fhir_server.base)))
    elapsed = time.monotonic() - started
    assert any("did not answer within 2 s" in why for why in found.values())
    assert elapsed < 4.5  # the 2 s budget covers every request of the call together


@pytest.mark.parametrize("status", [500, 503, 404])
def test_server_error_is_412_naming_the_key(live: LiveService, fhir_server: FhirTestServer, status: int) -> None:
    fhir_server.control(fail={"Condition": status})
    found = issues(post(live, request_for("mg-low", fhir_server.base)))
    assert set(found) == {"prefetch.conditions"}
    assert f"HTTP {status}" in found["prefetch.conditions"] and "error/exception" in found["prefetch.conditions"]
    assert "failed on purpose" not in found["prefetch.conditions"]  # the server's own text is never echoed


def test_operation_outcome_answer_is_412(live: LiveService, fhir_server: FhirTestServer) -> None:
    fhir_server.control(outcome=["MedicationRequest"])
    found = issues(post(live, request_for("mg-low", fhir_server.base)))
    assert (
        "OperationOutcome" in found["prefetch.medicationRequests"]
        and "error/too-costly" in found["prefetch.medicationRequests"]
        and "query too costly" not in found["prefetch.medicationRequests"]
    )


def test_searchset_pages_are_followed(live: LiveService, fhir_server: FhirTestServer, kb: KnowledgeBase) -> None:
    fhir_server.control(page_size=8)  # 24 observations, 15 conditions, 11 medication requests: 2-3 pages each
    r = post(live, barrett_request(fhir_server.base))
    assert r.status_code == 200, r.text
    assert topics(r.json()["cards"]) == [("mg-not-measured", "info")]
    detail = r.json()["cards"][0]["detail"]
    assert "Alcoholism" in detail and "Lasix 40mg" in detail
    assert sum("_getpagesoffset" in s["path"] for s in fhir_server.seen()) >= 3


def test_page_cap_stops_paging_with_412(live: LiveService, fhir_server: FhirTestServer) -> None:
    fhir_server.control(page_size=1)
    found = issues(post(live, barrett_request(fhir_server.base)))
    assert any("more than 5 pages" in why for why in found.values())


def test_prefetched_bundle_with_a_next_link_is_completed_from_the_server(
    live: LiveService, fhir_server: FhirTestServer
) -> None:
    request = request_for(
        "mg-low",
        fhir_server.base,
        keep=("patient", "medicationStatements", "medicationRequests", "conditions", "procedures"),
    )
    fhir_server.control(page_size=1)
    request["prefetch"]["observations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "link": [{"relation": "next", "url": f"{fhir_server.base}/Observation?patient=ada-0001&_count=1"}],
    }
    r = post(live, request)
    assert topics(r.json()["cards"]) == [("mg-low", "warning")]


def test_next_link_outside_the_fhir_server_is_not_followed(live: LiveService, fhir_server: FhirTestServer) -> None:
    request = request_for(
        "mg-low",
        fhir_server.base,
        keep=("patient", "medicationStatements", "medicationRequests", "conditions", "procedures"),
    )
    request["prefetch"]["observations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "link": [{"relation": "next", "url": "http://169.254.169.254/latest/meta-data"}],
    }
    found = issues(post(live, request))
    assert "outside fhirServer" in found["prefetch.observations"]
    assert fhir_server.seen() == []


def test_null_prefetch_is_not_queried_again(live: LiveService, fhir_server: FhirTestServer) -> None:
    request = request_for("mg-low", fhir_server.base, keep=("patient", "observations"))
    request["prefetch"].update(conditions=None, medicationStatements=None, medicationRequests=None, procedures=None)
    r = post(live, request)
    assert r.status_code == 200 and fhir_server.seen() == []


def test_failed_client_query_is_not_repeated(live: LiveService, fhir_server: FhirTestServer) -> None:
    request = request_for(
        "mg-low",
        fhir_server.base,
        keep=("patient", "observations", "medicationStatements", "medicationRequests", "procedures"),
    )
    request["prefetch"]["conditions"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    found = issues(post(live, request))
    assert set(found) == {"prefetch.conditions"}
    assert fhir_server.seen() == []


def test_missing_prefetch_without_fhir_server_is_412(live: LiveService) -> None:
    request = request_for("mg-low", "https://unused.example", keep=("patient",))
    del request["fhirServer"]
    found = issues(post(live, request))
    assert "no fhirServer" in found["prefetch.observations"]


def test_http_fhir_server_is_refused_unless_allowed() -> None:
    app = create_app({"FIXED_NOW": "2026-11-15T00:00:00Z", "AUTH_MODE": "off"})  # FHIR_ALLOW_HTTP defaults to false
    r = app.test_client().post(SERVICE_URL, json=request_for("mg-low", "http://127.0.0.1:9/fhir"))
    assert r.status_code == 412
    assert "must use https" in r.get_data(as_text=True)


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("Patient/{{context.patientId}}", {"patientId": "123"}, "Patient/123"),
        (
            "Observation?patient={{context.patientId}}&encounter={{context.encounterId}}",
            {"patientId": "a b", "encounterId": "e1"},
            "Observation?patient=a%20b&encounter=e1",
        ),
        ("{{context.userId}}", {"userId": "Practitioner/9"}, "Practitioner/9"),
        (
            "PractitionerRole?practitioner={{userPractitionerId}}",
            {"userId": "Practitioner/9"},
            "PractitionerRole?practitioner=9",
        ),
        ("Patient/{{userPatientId}}", {"userId": "Practitioner/9"}, None),  # the user is not a Patient
        ("X?y={{context.draftOrders}}", {"draftOrders": {"resourceType": "Bundle"}}, None),  # not a primitive
        ("X?y={{context.missing}}", {}, None),
    ],
)
def test_prefetch_token_substitution(template: str, context: dict[str, Any], expected: str | None) -> None:
    assert substitute(template, context) == expected


def test_synthea_records_are_served(fhir_server: FhirTestServer) -> None:
    assert (SHARED / "data" / "synthea").is_dir()
    bundle = requests.get(f"{fhir_server.base}/Condition?patient={BARRETT}&clinical-status=active", timeout=5).json()
    assert bundle["total"] > 5
