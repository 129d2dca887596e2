"""Golden tests: every fhir_samples case through both endpoints of the real service under gunicorn."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from fhir_samples.make_requests import render
from service.core.knowledge import KnowledgeBase

from .conftest import SAMPLES_NOW, SERVICE_URL, LiveService, load_json, sample_cases, topics

CASES = sample_cases()
pytestmark = pytest.mark.api


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sample_evaluate_gives_expected_cards_and_findings(live: LiveService, case: Path) -> None:
    expected = load_json(case / "expected.json")
    assert expected["now"] == SAMPLES_NOW
    r = requests.post(f"{live.url}/evaluate", json=load_json(case / "bundle.json"), timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert topics(body["cards"]) == [(c["topic"], c["indicator"]) for c in expected["cards"]]
    assert sorted(f["code"] for f in body["findings"]) == sorted(expected["findings"])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sample_patient_view_gives_the_same_cards(live: LiveService, case: Path) -> None:
    expected = load_json(case / "expected.json")
    r = requests.post(f"{live.url}{SERVICE_URL}", json=load_json(case / "patient-view.json"), timeout=10)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"cards"}
    assert topics(r.json()["cards"]) == [(c["topic"], c["indicator"]) for c in expected["cards"]]


def test_every_card_kind_has_a_sample_where_it_fires_and_one_where_it_does_not(kb: KnowledgeBase) -> None:
    expected = [load_json(case / "expected.json") for case in CASES]
    fired = {c["topic"] for e in expected for c in e["cards"]}
    guarded = {topic for e in expected for topic in e.get("does_not_fire", [])}
    assert fired == set(kb.cards)
    assert guarded == set(kb.cards)
    for e in expected:
        assert not set(e.get("does_not_fire", [])) & {c["topic"] for c in e["cards"]}


@pytest.mark.parametrize(
    "case", [c for c in CASES if "detail_contains" in load_json(c / "expected.json")], ids=lambda c: c.name
)
def test_sample_card_details_say_what_the_case_is_about(live: LiveService, case: Path) -> None:
    expected = load_json(case / "expected.json")
    cards = requests.post(f"{live.url}/evaluate", json=load_json(case / "bundle.json"), timeout=10).json()["cards"]
    details = {c["source"]["topic"]["code"]: c.get("detail", "") for c in cards}
    for topic, snippets in expected["detail_contains"].items():
        for snippet in snippets:
            assert snippet in details[topic], f"{topic}: {snippet!r} missing"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sample_hook_request_is_up_to_date_with_its_bundle(case: Path) -> None:
    committed = (case / "patient-view.json").read_text(encoding="utf-8")
    assert committed == render(case), "run: .venv/bin/python fhir_samples/make_requests.py"
