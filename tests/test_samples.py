"""Golden tests: every fhir_samples case through both endpoints of the real service under gunicorn."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from fhir_samples.make_requests import render

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


def test_every_card_kind_has_a_sample_that_fires_and_one_without_cards(kb: object) -> None:
    fired = {c["topic"] for case in CASES for c in load_json(case / "expected.json")["cards"]}
    assert fired >= {"mg-low", "mg-low-normal", "mg-high"}
    assert any(not load_json(case / "expected.json")["cards"] for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sample_hook_request_is_up_to_date_with_its_bundle(case: Path) -> None:
    committed = (case / "patient-view.json").read_text(encoding="utf-8")
    assert committed == render(case), "run: .venv/bin/python fhir_samples/make_requests.py"
