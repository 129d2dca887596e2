"""Golden tests: every fhir_samples case through /evaluate and its CDS Hooks service on the live service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from fhir_samples.make_requests import SERVICE_FOR_HOOK, render, request_path
from service.core.knowledge import KnowledgeBase

from .conftest import SAMPLES_NOW, LiveService, load_json, sample_cases, topics

CASES = sample_cases()
pytestmark = pytest.mark.api


def expected_of(case: Path) -> dict[str, Any]:
    expected: dict[str, Any] = load_json(case / "expected.json")
    return expected


def evaluate(live: LiveService, case: Path) -> dict[str, Any]:
    hook = expected_of(case).get("hook", "patient-view")
    query = "?hook=order-sign" if hook != "patient-view" else ""
    r = requests.post(f"{live.url}/evaluate{query}", json=load_json(case / "bundle.json"), timeout=10)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def call_hook(live: LiveService, case: Path) -> dict[str, Any]:
    hook = expected_of(case).get("hook", "patient-view")
    r = requests.post(
        f"{live.url}/cds-services/{SERVICE_FOR_HOOK[hook]}", json=load_json(request_path(case)), timeout=10
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"cards"}
    return body


def pairs(cards: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["topic"], c["indicator"]) for c in cards]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sample_evaluate_gives_expected_cards_and_findings(live: LiveService, case: Path) -> None:
    expected = expected_of(case)
    assert expected["now"] == SAMPLES_NOW
    body = evaluate(live, case)
    assert topics(body["cards"]) == pairs(expected.get("evaluate_cards", expected["cards"]))
    assert sorted(f["code"] for f in body["findings"]) == sorted(
        expected.get("evaluate_findings", expected["findings"])
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sample_hook_request_gives_the_expected_cards(live: LiveService, case: Path) -> None:
    assert topics(call_hook(live, case)["cards"]) == pairs(expected_of(case)["cards"])


def test_every_card_kind_has_a_sample_where_it_fires_and_one_where_it_does_not(kb: KnowledgeBase) -> None:
    expected = [expected_of(case) for case in CASES]
    fired = {c["topic"] for e in expected for c in e["cards"]}
    guarded = {topic for e in expected for topic in e.get("does_not_fire", [])}
    assert fired == set(kb.cards)
    assert guarded == set(kb.cards)
    for e in expected:
        assert not set(e.get("does_not_fire", [])) & {c["topic"] for c in e["cards"]}


def test_every_hook_has_samples() -> None:
    hooks = {expected_of(case).get("hook", "patient-view") for case in CASES}
    assert hooks == set(SERVICE_FOR_HOOK)


@pytest.mark.parametrize("case", [c for c in CASES if "detail_contains" in expected_of(c)], ids=lambda c: c.name)
def test_sample_card_details_say_what_the_case_is_about(live: LiveService, case: Path) -> None:
    # /evaluate sees the whole bundle (the hook's prefetch cannot search name-only results such as the ABI).
    cards = call_hook(live, case)["cards"] if "evaluate_cards" in expected_of(case) else evaluate(live, case)["cards"]
    details = {c["source"]["topic"]["code"]: c.get("detail", "") for c in cards}
    for topic, snippets in expected_of(case)["detail_contains"].items():
        for snippet in snippets:
            assert snippet in details[topic], f"{topic}: {snippet!r} missing"


@pytest.mark.parametrize("case", [c for c in CASES if "suggestions" in expected_of(c)], ids=lambda c: c.name)
def test_sample_card_suggestions_carry_the_expected_actions(live: LiveService, case: Path) -> None:
    cards = {c["source"]["topic"]["code"]: c for c in call_hook(live, case)["cards"]}
    for topic, wanted in expected_of(case)["suggestions"].items():
        card = cards[topic]
        assert card["selectionBehavior"] == "at-most-one"
        actions = [a for s in card["suggestions"] for a in s["actions"]]
        for want in wanted:
            match = [a for a in actions if a["type"] == want["type"]]
            assert match, f"no {want['type']} action on {topic}"
            action = match[0]
            if want["type"] == "delete":
                assert action["resourceId"] == want["resourceId"] and "resource" not in action
            else:
                resource = action["resource"]
                assert resource["resourceType"] == want["resourceType"]
                assert resource["code"]["coding"][0]["code"] == want["code"]
                assert (resource["status"], resource["intent"]) == ("draft", "order")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sample_hook_request_is_up_to_date_with_its_bundle(case: Path) -> None:
    committed = request_path(case).read_text(encoding="utf-8")
    assert committed == render(case), "run: make samples"
