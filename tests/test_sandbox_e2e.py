"""The real client: the CDS Hooks sandbox (the reference EHR web app) in headless Chromium against the service.

Everything is a real process on loopback: the sandbox's static build (python -m http.server), the service
under gunicorn with JWT authentication trusting the sandbox's ES384 key and CORS for the sandbox's origin,
and tests/fhir_server.py (CORS, POST _search) serving one golden sample patient. tests/sandbox/drive.mjs
(playwright-core, Debian chromium) clicks through the sandbox and records what the page sent and received;
the assertions are here. Screenshots go to .pytest_cache/sandbox/.

The service runs on the real clock (the sandbox signs its tokens with the browser's clock), so the sample's
dates are shifted by whole days to keep it as old, relative to today, as it is relative to SAMPLES_NOW.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests

from .conftest import ROOT, SAMPLES, SAMPLES_NOW, SHARED, FhirTestServer, LiveService, free_port, load_json

SANDBOX_BUILD = SHARED / "tools" / "cds-hooks-sandbox" / "build"
SANDBOX_JWKS = SHARED / "data" / "cds-hooks-sandbox-jwks.json"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
DRIVER = ROOT / "tests" / "sandbox" / "drive.mjs"
ARTEFACTS = ROOT / ".pytest_cache" / "sandbox"
SAMPLE = SAMPLES / "mg-low"  # serum Mg 1.5 mg/dL, below the lab's range: an mg-low warning
PATIENT = "ada-0001"
# Typed into Rx View's medication box, then picked from its list: RxNorm 198051, a PPI.
DRUG, PICK = "omeprazole", "Omeprazole 20 MG Delayed Release Oral Capsule"
# Plain wording may change; the card is about magnesium (or names the drug ordered).
ABOUT_MAGNESIUM = re.compile(r"magnesium|\bMg\b", re.IGNORECASE)
FHIR_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$")


def shift_dates(node: Any, delta: timedelta) -> Any:
    """Every FHIR date and dateTime in `node` moved by `delta` (whole days), the rest unchanged."""
    if isinstance(node, dict):
        return {k: shift_dates(v, delta) for k, v in node.items()}
    if isinstance(node, list):
        return [shift_dates(v, delta) for v in node]
    if isinstance(node, str) and (m := FHIR_DATE.match(node)):
        return (date.fromisoformat(m[1]) + delta).isoformat() + (m[2] or "")
    return node


def log_events(service: LiveService) -> list[dict[str, Any]]:
    lines = service.log.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    """The sandbox build served as it is, read-only, from shared/."""
    if not (SANDBOX_BUILD / "index.html").is_file():
        pytest.fail(f"the CDS Hooks sandbox build is missing at {SANDBOX_BUILD}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "http.server", str(port), "-d", str(SANDBOX_BUILD), "--bind", "127.0.0.1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/index.html", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def patient_fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirTestServer]:
    delta = datetime.now(UTC).date() - datetime.fromisoformat(SAMPLES_NOW).date()
    bundle = tmp_path_factory.mktemp("patient") / "bundle.json"
    bundle.write_text(json.dumps(shift_dates(load_json(SAMPLE / "bundle.json"), delta)), encoding="utf-8")
    server = FhirTestServer(data=[bundle])
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def secured_service(tmp_path_factory: pytest.TempPathFactory, sandbox_url: str) -> Iterator[LiveService]:
    """Production authentication: the sandbox is trusted by its key, given inline; CORS for its exact origin."""
    issuers = tmp_path_factory.mktemp("trust") / "trusted-issuers.json"
    # Keys pinned inline; the sandbox's tokens name its jku, which is allowlisted (never fetched offline).
    issuer = {"iss": SANDBOX_ISS, "jwks": load_json(SANDBOX_JWKS), "jku": [f"{SANDBOX_ISS}/.well-known/jwks.json"]}
    issuers.write_text(json.dumps({"issuers": [issuer]}))
    service = LiveService(
        {
            "CDS_AUTH_MODE": "jwt",
            "CDS_PUBLIC_BASE_URL": "{url}",
            "CDS_TRUSTED_ISSUERS_FILE": str(issuers),
            "CDS_CORS_ORIGINS": sandbox_url,
            "CDS_FHIR_ALLOW_HTTP": "true",
        }
    )
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def drive(scenario: str, sandbox: str, fhir: FhirTestServer, service: LiveService, **extra: str) -> dict[str, Any]:
    node, chromium = shutil.which("node"), shutil.which("chromium")
    if node is None or chromium is None or not (ROOT / "node_modules" / "playwright-core").is_dir():
        pytest.fail("node, chromium and npm playwright-core are needed (make test installs them)")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    result_file = ARTEFACTS / f"{scenario}.json"
    result_file.unlink(missing_ok=True)
    config = {
        "scenario": scenario,
        "sandboxUrl": sandbox,
        "fhirBase": fhir.base,
        "serviceBase": service.url,
        "patientId": PATIENT,
        "chromium": chromium,
        "screenshotDir": str(ARTEFACTS),
        "result": str(result_file),
        **extra,
    }
    config_file = ARTEFACTS / f"{scenario}.config.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    run = subprocess.run(
        [node, str(DRIVER), str(config_file)], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert run.returncode == 0 and result_file.exists(), f"driver failed:\n{run.stdout}\n{run.stderr}"
    result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    assert "error" not in result, f"{result['error']}\ncalls: {json.dumps(result['calls'], indent=1)[:4000]}"
    return result


@pytest.fixture(scope="module")
def patient_view(sandbox_url: str, patient_fhir: FhirTestServer, secured_service: LiveService) -> dict[str, Any]:
    return drive("patient-view", sandbox_url, patient_fhir, secured_service)


@pytest.fixture(scope="module")
def rx_view(sandbox_url: str, patient_fhir: FhirTestServer, secured_service: LiveService) -> dict[str, Any]:
    return drive("rx-view", sandbox_url, patient_fhir, secured_service, drug=DRUG, pick=PICK)


def hook_calls(result: dict[str, Any], service: LiveService, service_id: str) -> list[dict[str, Any]]:
    return [
        c for c in result["calls"] if c["method"] == "POST" and c["url"] == f"{service.url}/cds-services/{service_id}"
    ]


def card_topics(response: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"]) for c in response["cards"]]


def valueset_codes(name: str) -> set[str]:
    vs = load_json(ROOT / "rules" / "valuesets" / f"{name}.json")
    return {c["code"] for inc in vs["compose"]["include"] for c in inc.get("concept", [])}


def test_patient_view_in_the_sandbox_shows_the_low_magnesium_card(
    patient_view: dict[str, Any], secured_service: LiveService, patient_fhir: FhirTestServer
) -> None:
    # Every request the sandbox made to the service and the FHIR server succeeded (CORS, JWT, searches).
    assert [(c["method"], c["url"], c["status"]) for c in patient_view["calls"] if c["status"] != 200] == []
    assert any(
        c["method"] == "GET" and c["url"] == f"{secured_service.url}/cds-services" for c in patient_view["calls"]
    )
    ours = (secured_service.url, patient_fhir.base)
    assert [e for e in patient_view["consoleErrors"] if e["url"].startswith(ours)] == []
    # The sandbox filled the prefetch itself with POST _search on the FHIR server.
    searches = {c["url"].removeprefix(patient_fhir.base) for c in patient_view["calls"] if c["method"] == "POST"}
    assert {"/Observation/_search", "/MedicationRequest/_search", "/Condition/_search"} <= searches
    (call,) = hook_calls(patient_view, secured_service, "magnesium-leg-symptoms")
    assert call["request"]["hook"] == "patient-view" and call["request"]["prefetch"]["patient"]["id"] == PATIENT
    assert card_topics(call["response"]) == [("mg-low", "warning")]
    # The EHR shows what the service sent: the summary as a heading, in the warning colour.
    (card,) = patient_view["cards"]
    assert "decision-card" in card["className"] and "alert-warning" in card["className"]
    assert card["summary"] == call["response"]["cards"][0]["summary"].strip()
    assert ABOUT_MAGNESIUM.search(card["summary"])
    assert (ARTEFACTS / "patient-view.png").stat().st_size > 10_000


def test_sandbox_tokens_are_its_es384_jwts_for_the_exact_url_and_all_were_accepted(
    patient_view: dict[str, Any], rx_view: dict[str, Any], secured_service: LiveService
) -> None:
    service_calls = [
        c
        for c in patient_view["calls"] + rx_view["calls"]
        if c["url"].startswith(f"{secured_service.url}/cds-services")
    ]
    assert len(service_calls) >= 5  # discovery and a hook call each, the second order-select, the feedback
    for call in service_calls:
        token = call["authorization"].removeprefix("Bearer ")
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (header["alg"], claims["iss"], claims["aud"]) == ("ES384", SANDBOX_ISS, call["url"])
        assert call["status"] == 200
    assert not [e for e in log_events(secured_service) if "authFailure" in e]


def test_rx_view_with_a_typed_ppi_shows_the_magnesium_wasting_drug_order_card(
    rx_view: dict[str, Any], secured_service: LiveService
) -> None:
    assert rx_view["steps"][-1]["typed"] == DRUG
    assert [(c["method"], c["url"], c["status"]) for c in rx_view["calls"] if c["status"] != 200] == []
    before, *_, chosen = hook_calls(rx_view, secured_service, "magnesium-order-select")
    # Before a drug is chosen the sandbox sends a draft without medication or intent: no cards, no error.
    assert before["request"]["hook"] == "order-select" and before["response"] == {"cards": []}
    draft = chosen["request"]["context"]["draftOrders"]["entry"][0]["resource"]
    assert chosen["request"]["context"]["selections"] == [f"MedicationRequest/{draft['id']}"]
    (coding,) = draft["medicationCodeableConcept"]["coding"]
    assert coding["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm" and coding["code"] in valueset_codes("ppi")
    assert card_topics(chosen["response"]) == [("order-mg-wasting-drug", "warning")]  # the patient's Mg is low
    (card,) = rx_view["cards"]
    assert "decision-card" in card["className"] and "alert-warning" in card["className"]
    assert card["summary"] == chosen["response"]["cards"][0]["summary"].strip()
    assert ABOUT_MAGNESIUM.search(card["summary"]) or re.search(r"omeprazole|PPI", card["summary"], re.IGNORECASE)
    assert (ARTEFACTS / "rx-view.png").stat().st_size > 10_000


def test_dismissing_a_card_with_an_override_reason_posts_feedback_the_service_accepts(
    patient_view: dict[str, Any], secured_service: LiveService
) -> None:
    (call,) = hook_calls(patient_view, secured_service, "magnesium-leg-symptoms")
    issued = call["response"]["cards"][0]
    (feedback,) = hook_calls(patient_view, secured_service, "magnesium-leg-symptoms/feedback")
    assert feedback["status"] == 200
    (item,) = feedback["request"]["feedback"]
    reason = item["overrideReason"]["reason"]
    assert (item["card"], item["outcome"]) == (issued["uuid"], "overridden")
    offered = {r["code"]: r["display"] for r in issued["overrideReasons"]}
    assert patient_view["overrideChoice"] == f"Override: {offered[reason['code']]}"  # the reason the user chose
    # The service logged it as a card-feedback event, joinable to the card-issued event by card uuid.
    logged = log_events(secured_service)
    feedback_events = [
        (e["card"], e["outcome"], e["overrideReason"]) for e in logged if e.get("event") == "card-feedback"
    ]
    assert feedback_events == [(issued["uuid"], "overridden", reason["code"])]
    assert any(e.get("event") == "card-issued" and e["card"] == issued["uuid"] for e in logged)
    # The dismissed card is gone from the sandbox's Patient View.
    assert patient_view["cardsAfterDismiss"] == []
