"""order-select and order-sign (checklist §3 R-05, §5 suggestions, §12 rows 4, 5, 18) on the live service."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
import requests
from fhir.resources.R4B.servicerequest import ServiceRequest

from .conftest import SAMPLES, SHARED, FhirTestServer, LiveService, load_json, topics

pytestmark = pytest.mark.api
EXAMPLES = SHARED / "data" / "cdshooks-examples"
SELECT = "/cds-services/magnesium-order-select"
SIGN = "/cds-services/magnesium-order-sign"


def post(live: LiveService, path: str, body: Any) -> requests.Response:
    return requests.post(f"{live.url}{path}", json=body, timeout=10)


def test_discovery_lists_all_three_services_with_their_own_prefetch(live: LiveService) -> None:
    services = {s["id"]: s for s in requests.get(f"{live.url}/cds-services", timeout=5).json()["services"]}
    assert {k: v["hook"] for k, v in services.items()} == {
        "magnesium-leg-symptoms": "patient-view",
        "magnesium-order-select": "order-select",
        "magnesium-order-sign": "order-sign",
    }
    for sid in ("magnesium-order-select", "magnesium-order-sign"):
        prefetch = services[sid]["prefetch"]
        assert set(prefetch) == {
            "patient",
            "observations",
            "medicationRequests",
            "medicationStatements",
            "conditions",
            "procedures",
        }
        assert "http://loinc.org|98979-8" in prefetch["observations"]


@pytest.mark.parametrize(
    ("name", "path"),
    [("cdshooks-request-order-select-good.json", SELECT), ("cdshooks-request-order-sign-good.json", SIGN)],
)
def test_shared_good_order_requests_are_accepted(live: LiveService, name: str, path: str) -> None:
    # Their drafts (flurazepam, Suboxone) are not magnesium-related: 200, no card, no FHIR call needed.
    r = post(live, path, load_json(EXAMPLES / name))
    assert r.status_code == 200, r.text
    assert r.json() == {"cards": []}


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("cdshooks-request-order-select-bad.json", SELECT),
        ("cdshooks-request-order-sign-bad-1.json", SIGN),
        ("cdshooks-request-order-sign-bad-2.json", SIGN),
    ],
)
def test_shared_bad_order_requests_get_400(live: LiveService, name: str, path: str) -> None:
    r = post(live, path, load_json(EXAMPLES / name))
    assert r.status_code == 400, r.text
    assert any(i["expression"] == ["context.patientId"] for i in r.json()["issue"])


def test_order_select_with_extensions_and_no_draft_orders_is_400(live: LiveService) -> None:
    # The shared "extensions" request has selections but no draftOrders, which order-select requires.
    r = post(live, SELECT, load_json(EXAMPLES / "cdshooks-request-order-select-extensions.json"))
    assert r.status_code == 400
    assert any(i["expression"] == ["context.draftOrders"] for i in r.json()["issue"])


def sandbox_request(hook: str, draft: dict[str, Any]) -> dict[str, Any]:
    """What the CDS Hooks sandbox sends: draftOrders without Bundle.type, no prefetch."""
    context: dict[str, Any] = {
        "userId": "Practitioner/example",
        "patientId": "ada-0001",
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]},
    }
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{draft['id']}"]
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}


@pytest.mark.parametrize(("hook", "path"), [("order-select", SELECT), ("order-sign", SIGN)])
def test_sandbox_draft_without_a_drug_yet_is_200_with_no_card(live: LiveService, hook: str, path: str) -> None:
    draft = {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "subject": {"reference": "Patient/ada-0001"},
    }
    r = post(live, path, sandbox_request(hook, draft))
    assert r.status_code == 200, r.text
    assert r.json() == {"cards": []}


def test_sandbox_style_order_is_judged_with_data_from_the_fhir_server(
    live: LiveService, fhir_server: FhirTestServer
) -> None:
    draft = {
        "resourceType": "MedicationRequest",
        "id": "request-456",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/tia-0021"},
        "medicationCodeableConcept": {"text": "Lasix 40 MG Oral Tablet"},
    }
    request = sandbox_request("order-sign", draft)
    request["context"]["patientId"] = "tia-0021"
    request["fhirServer"] = fhir_server.base
    r = post(live, SIGN, request)
    assert r.status_code == 200, r.text
    assert topics(r.json()["cards"]) == [("order-mg-wasting-drug", "warning")]  # latest Mg 1.5 mg/dL is low


def test_order_select_selection_missing_from_draft_orders_is_400(live: LiveService) -> None:
    request = load_json(SAMPLES / "order-select-judges-selection-only" / "order-select.json")
    request["context"]["selections"] = ["MedicationRequest/not-there"]
    r = post(live, SELECT, request)
    assert r.status_code == 400
    assert r.json()["issue"][0]["expression"] == ["context.selections.0"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c.pop("selections"), "context.selections"),
        (lambda c: c.update(selections=[]), "context.selections"),
        (lambda c: c.update(selections=["request-123"]), "context.selections.0"),
        (lambda c: c.update(draftOrders={"resourceType": "Patient"}), "context.draftOrders"),
        (lambda c: c.update(draftOrders=[1]), "context.draftOrders"),
    ],
)
def test_malformed_order_select_context_is_400_naming_the_field(live: LiveService, change: Any, field: str) -> None:
    request = load_json(SAMPLES / "order-select-judges-selection-only" / "order-select.json")
    change(request["context"])
    r = post(live, SELECT, request)
    assert r.status_code == 400, r.text
    assert field in [i["expression"][0] for i in r.json()["issue"]]


def test_unrelated_selection_needs_no_data(live: LiveService) -> None:
    request = load_json(SAMPLES / "no-card-order-select-unrelated-drug" / "order-select.json")
    del request["prefetch"], request["fhirServer"]
    r = post(live, SELECT, request)
    assert r.status_code == 200 and r.json() == {"cards": []}


def test_relevant_order_without_any_data_source_is_412(live: LiveService) -> None:
    request = load_json(SAMPLES / "order-sign-ppi-without-mg" / "order-sign.json")
    del request["prefetch"], request["fhirServer"]
    r = post(live, SIGN, request)
    assert r.status_code == 412


def card_of(r: requests.Response, topic: str) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return next(c for c in r.json()["cards"] if c["source"]["topic"]["code"] == topic)


def test_critical_supplement_card_deletes_the_draft_order(live: LiveService) -> None:
    card = card_of(
        post(live, SIGN, load_json(SAMPLES / "order-sign-supplement-egfr-25" / "order-sign.json")),
        "order-mg-supplement",
    )
    assert card["indicator"] == "critical"
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    uuid.UUID(suggestion["uuid"])
    assert suggestion["isRecommended"] is True
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": "Delete the draft magnesium order: Magnesium oxide 400 MG Oral Tablet",
            "resourceId": "MedicationRequest/draft-wes-mgo",
        }
    ]
    assert all(r["display"] for r in card["overrideReasons"])
    assert "contraindicated" in card["summary"] and "eGFR 25" in card["detail"]


def test_create_suggestion_carries_a_complete_r4_service_request(live: LiveService) -> None:
    card = card_of(
        post(live, SIGN, load_json(SAMPLES / "order-sign-ppi-without-mg" / "order-sign.json")), "order-mg-wasting-drug"
    )
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "create" and action["description"]
    resource = ServiceRequest.model_validate(action["resource"])
    assert (resource.status, resource.intent) == ("draft", "order")
    assert resource.subject.reference == "Patient/sam-0020"
    assert (resource.code.coding[0].system, resource.code.coding[0].code) == ("http://loinc.org", "19123-9")


def test_every_card_follows_the_suggestion_rules(live: LiveService) -> None:
    for case in sorted(p for p in SAMPLES.iterdir() if (p / "expected.json").exists()):
        hook = load_json(case / "expected.json").get("hook", "patient-view")
        path = {"patient-view": "/cds-services/magnesium-leg-symptoms", "order-select": SELECT, "order-sign": SIGN}[
            hook
        ]
        for card in post(live, path, load_json(case / f"{hook}.json")).json()["cards"]:
            check_card(card)


def check_card(card: dict[str, Any]) -> None:
    """CDS Hooks 2.0 card rules: cds-resp-1…6 and G-02 (no empty values)."""
    assert len(card["summary"]) < 140 and card["indicator"] in ("info", "warning", "critical")
    if card.get("suggestions"):
        assert card["selectionBehavior"] in ("at-most-one", "any")
        if card["selectionBehavior"] == "at-most-one":
            assert sum(1 for s in card["suggestions"] if s.get("isRecommended")) <= 1
        for s in card["suggestions"]:
            uuid.UUID(s["uuid"])
            for a in s["actions"]:
                assert a["description"]
                if a["type"] == "delete":
                    assert "resourceId" in a and "resource" not in a
                if a["type"] == "create":
                    assert a["resource"]["resourceType"] and a["resource"]["id"]
    for r in card.get("overrideReasons", []):
        assert r["display"] and r["code"] and r["system"]
    for link in card.get("links", []):
        assert link["type"] == "absolute" and "appContext" not in link

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert all(v not in (None, "", [], {}) for v in node.values()), node
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(copy.deepcopy(card))


def test_unknown_fields_and_extensions_on_order_requests_are_tolerated(live: LiveService) -> None:
    request = load_json(SAMPLES / "order-sign-ppi-with-digoxin" / "order-sign.json")
    request["extension"] = {"org.example.flag": {"nested": True}}
    request["context"]["extension"] = {"org.example": 1}
    request["context"]["draftOrders"]["entry"][0]["resource"]["extension"] = [
        {"url": "http://example.org/ext", "valueString": "x"}
    ]
    request["context"]["draftOrders"]["entry"][0]["resource"]["futureElement"] = {"r6": True}
    r = post(live, SIGN, request)
    assert topics(r.json()["cards"]) == [("order-mg-wasting-drug", "warning")]


def test_evaluate_with_an_unsupported_hook_is_400(live: LiveService) -> None:
    r = requests.post(f"{live.url}/evaluate?hook=order-dispatch", json={"resourceType": "Bundle"}, timeout=5)
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["hook"]
