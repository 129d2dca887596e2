"""Independent clinical scenario suite: tests/clinical/cases/<id>/{bundle.json,case.json} through /evaluate.

The cases were written from the clinical question (issue 10), not from the service's output. Each case.json
names the requirement, the rationale and the source; `expect` lists cards that must be present with their
indicator and wording-independent clinical keywords, topics that must be absent, and text no card may carry.
Regenerate the folders after editing tests/clinical/make_cases.py:

    .venv/bin/python -m tests.clinical.make_cases
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from fhir.resources.R4B import get_fhir_model_class

from .clinical.make_cases import CASES
from .conftest import SAMPLES_NOW, LiveService, load_json

CASES_DIR = Path(__file__).resolve().parent / "clinical" / "cases"
CASE_DIRS = sorted(p for p in CASES_DIR.iterdir() if (p / "case.json").exists())
IDS = [p.name for p in CASE_DIRS]
HOOKS = {"patient-view", "order-sign"}
INDICATORS = {"info", "warning", "critical"}
CARD_KEYS = {"topic", "indicator", "text_all", "text_none", "suggestion", "no_delete_suggestion"}
EXPECT_KEYS = {"cards", "absent_topics", "no_cards", "any_card_text_none"}


def case_of(folder: Path) -> dict[str, Any]:
    meta: dict[str, Any] = load_json(folder / "case.json")
    return meta


def topic_of(c: dict[str, Any]) -> str:
    return str(c.get("source", {}).get("topic", {}).get("code", "?"))


def text_of(c: dict[str, Any]) -> str:
    return f"{c.get('summary', '')}\n{c.get('detail', '')}".lower()


def describe(cards: list[dict[str, Any]]) -> str:
    if not cards:
        return "  (no cards)"
    return "\n".join(f"  [{topic_of(c)} / {c.get('indicator')}] {c.get('summary', '')}" for c in cards)


def card_problems(card: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """What this card lacks against one expected card (empty list: it satisfies the expectation)."""
    problems: list[str] = []
    if "indicator" in want and card.get("indicator") != want["indicator"]:
        problems.append(f"indicator is {card.get('indicator')!r}, expected {want['indicator']!r}")
    text = text_of(card)
    for alternatives in want.get("text_all", []):
        if not any(alt.lower() in text for alt in alternatives):
            problems.append(f"none of {alternatives} in summary+detail")
    for banned in want.get("text_none", []):
        if banned.lower() in text:
            problems.append(f"forbidden text {banned!r} in summary+detail")
    suggestions = card.get("suggestions") or []
    if want.get("suggestion") is True and not suggestions:
        problems.append("expected at least one suggestion, got none")
    if want.get("suggestion") is False and suggestions:
        problems.append(f"expected no suggestion, got {[s.get('label') for s in suggestions]}")
    if want.get("no_delete_suggestion"):
        deletes = [s.get("label") for s in suggestions for a in s.get("actions") or [] if a.get("type") == "delete"]
        if deletes:
            problems.append(f"expected no delete suggestion, got {deletes}")
    return problems


def evaluate(live: LiveService, folder: Path, hook: str) -> list[dict[str, Any]]:
    query = "?hook=order-sign" if hook == "order-sign" else ""
    r = requests.post(
        f"{live.url}/evaluate{query}",
        data=(folder / "bundle.json").read_bytes(),
        headers={"Content-Type": "application/fhir+json"},
        timeout=15,
    )
    assert r.status_code == 200, f"{folder.name}: /evaluate{query} answered {r.status_code}: {r.text[:500]}"
    cards: list[dict[str, Any]] = r.json()["cards"]
    return cards


@pytest.mark.api
@pytest.mark.parametrize("folder", CASE_DIRS, ids=IDS)
def test_clinical_scenario(live: LiveService, folder: Path) -> None:
    meta = case_of(folder)
    expected = meta["expect"]
    cards = evaluate(live, folder, meta["hook"])
    failures: list[str] = []

    for want in expected.get("cards", []):
        same_topic = [c for c in cards if topic_of(c) == want["topic"]]
        if not same_topic:
            failures.append(f"missing card {want['topic']!r} ({want.get('indicator')})")
            continue
        reports = [card_problems(c, want) for c in same_topic]
        if all(reports):
            detail = "; ".join(reports[0]) if len(reports) == 1 else " | ".join("; ".join(r) for r in reports)
            failures.append(f"card {want['topic']!r}: {detail}")

    present = {topic_of(c) for c in cards}
    for topic in expected.get("absent_topics", []):
        if topic in present:
            failures.append(f"card {topic!r} must not appear")

    if expected.get("no_cards") and cards:
        failures.append(f"expected no cards, got {len(cards)}")

    for banned in expected.get("any_card_text_none", []):
        for c in cards:
            if banned.lower() in text_of(c):
                failures.append(f"forbidden text {banned!r} on card {topic_of(c)!r}")

    if failures:
        lines = [
            f"{folder.name} (requirement {meta['requirement']}): {meta['title']}",
            *(f"- {f}" for f in failures),
            "cards returned:",
            describe(cards),
            f"why: {meta['rationale']}",
        ]
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.mark.parametrize("folder", CASE_DIRS, ids=IDS)
def test_clinical_case_has_requirement_rationale_and_source(folder: Path) -> None:
    meta = case_of(folder)
    for key in ("requirement", "title", "rationale", "source"):
        assert isinstance(meta.get(key), str), f"{folder.name}: case.json needs a {key!r} string"
        assert meta[key].strip(), f"{folder.name}: {key!r} is empty"
    assert meta["hook"] in HOOKS, f"{folder.name}: hook {meta['hook']!r}"
    assert meta["now"] == SAMPLES_NOW, f"{folder.name}: every case is evaluated at {SAMPLES_NOW}"
    expected = meta["expect"]
    assert set(expected) <= EXPECT_KEYS, f"{folder.name}: unknown expect keys {set(expected) - EXPECT_KEYS}"
    assert (
        expected.get("cards")
        or expected.get("absent_topics")
        or expected.get("no_cards")
        or expected.get("any_card_text_none")
    ), f"{folder.name}: the case expects nothing"
    for want in expected.get("cards", []):
        assert set(want) <= CARD_KEYS, f"{folder.name}: unknown card keys {set(want) - CARD_KEYS}"
        assert want.get("indicator") in INDICATORS, f"{folder.name}: {want}"
        for alternatives in want.get("text_all", []):
            assert isinstance(alternatives, list) and alternatives, f"{folder.name}: text_all entries are lists"
        listed = {w["topic"] for w in expected.get("cards", [])}
        assert not listed & set(expected.get("absent_topics", [])), f"{folder.name}: topic both expected and absent"
    # The requirement labels name issue 10's numbered rules.
    for part in meta["requirement"].split(","):
        assert part.strip().split(".")[0].isdigit(), f"{folder.name}: requirement {meta['requirement']!r}"
        assert 1 <= int(part.strip().split(".")[0]) <= 13, f"{folder.name}: requirement {meta['requirement']!r}"


@pytest.mark.parametrize("folder", CASE_DIRS, ids=IDS)
def test_clinical_bundle_is_valid_fhir_r4b(folder: Path) -> None:
    bundle = load_json(folder / "bundle.json")
    invalid = set(case_of(folder).get("deliberately_invalid", []))
    meta = case_of(folder)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    resources = [e["resource"] for e in bundle["entry"]]
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    assert len(patients) == 1 and patients[0].get("id"), f"{folder.name}: exactly one Patient with an id"
    patient_ref = f"Patient/{patients[0]['id']}"
    keys = [f"{r['resourceType']}/{r['id']}" for r in resources]
    assert len(keys) == len(set(keys)), f"{folder.name}: duplicate resource ids"
    assert invalid <= set(keys), f"{folder.name}: deliberately_invalid names unknown resources"
    for resource, key in zip(resources, keys, strict=True):
        if resource["resourceType"] != "Patient":
            assert resource["subject"]["reference"] == patient_ref, f"{folder.name}: {key} subject"
        model = get_fhir_model_class(resource["resourceType"])
        if key in invalid:
            with pytest.raises(ValueError):
                model.model_validate(resource)
        else:
            model.model_validate(resource)
    drafts = [r for r in resources if r["resourceType"] == "MedicationRequest" and r["status"] == "draft"]
    if meta["hook"] == "order-sign":
        assert drafts, f"{folder.name}: an order-sign case needs a draft MedicationRequest"
        assert all(d["intent"] == "order" for d in drafts)
    else:
        assert not drafts, f"{folder.name}: draft orders belong to order-sign cases"


def test_clinical_suite_covers_every_requirement_with_enough_cases() -> None:
    covered: set[int] = set()
    for folder in CASE_DIRS:
        for part in case_of(folder)["requirement"].split(","):
            covered.add(int(part.strip().split(".")[0]))
    assert covered == set(range(1, 14)), f"requirements without a case: {set(range(1, 14)) - covered}"
    assert len(CASE_DIRS) >= 50


def test_clinical_case_folders_match_their_generator() -> None:
    on_disk = {p.name for p in CASE_DIRS}
    assert on_disk == set(CASES), f"run python -m tests.clinical.make_cases: {on_disk ^ set(CASES)}"
    for cid, (bundle, meta) in CASES.items():
        assert load_json(CASES_DIR / cid / "bundle.json") == json.loads(json.dumps(bundle)), cid
        assert load_json(CASES_DIR / cid / "case.json") == json.loads(json.dumps(meta)), cid
