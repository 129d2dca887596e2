"""The card style guide (README "Card style guide"), enforced on every golden sample and clinical case.

Measurable rules only: plain-text summaries that fit, Do / Why / Sources in that order, word budgets,
no repeated sentence within a response, no raw FHIR ids or UCUM codes in card text, at most two links,
and a suggestion on every card whose advice is to order tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import ROOT, load_json, sample_cases

CLINICAL = ROOT / "tests" / "clinical" / "cases"
CASES = [*sample_cases(), *sorted(p for p in CLINICAL.iterdir() if (p / "bundle.json").exists())]
WORD_BUDGET = {"info": 110, "warning": 160, "critical": 160}
RAW_ID = re.compile(r"\b(Observation|Condition|MedicationRequest|MedicationStatement|Patient|Procedure)/[\w.-]+")
MARKDOWN_IN_PLAIN = re.compile(r"\\|\*\*|__|\[|\]|&lt;|&gt;|&amp;")
ORDER_ADVICE = re.compile(r"^\d\. (Check (serum Mg|a baseline)|No recent serum Mg: check)", re.MULTILINE)


def hook_of(case: Path) -> str:
    expected = case / "expected.json"
    meta = case / "case.json"
    data: dict[str, Any] = load_json(expected if expected.exists() else meta)
    return str(data.get("hook", "patient-view"))


def cards_of(client: FlaskClient, case: Path) -> list[dict[str, Any]]:
    query = "" if hook_of(case) == "patient-view" else "?hook=order-sign"
    r = client.post(f"/evaluate{query}", json=load_json(case / "bundle.json"))
    assert r.status_code == 200, r.get_data(as_text=True)
    cards: list[dict[str, Any]] = r.get_json()["cards"]
    return cards


def words_before_sources(detail: str) -> int:
    body = detail.split("*Sources:*", maxsplit=1)[0]
    return len(re.findall(r"[^\s*#\-|]+", re.sub(r"^\d+\. ", "", body, flags=re.MULTILINE)))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cards_follow_the_style_guide(client: FlaskClient, case: Path) -> None:
    cards = cards_of(client, case)
    sentences: list[str] = []
    for card in cards:
        summary, detail, indicator = card["summary"], card["detail"], card["indicator"]
        where = f"{case.name}/{card['source']['topic']['code']}"
        # 1. Summary: plain text under 140 characters, never cut mid-word.
        assert 0 < len(summary) < 140, where
        assert not MARKDOWN_IN_PLAIN.search(summary), f"{where}: Markdown or an escape in the summary: {summary!r}"
        assert not summary.endswith("…") or summary[-2] != " ", where
        # 2. Detail: Do (1-3 actions), Why, one Sources line last; within the word budget.
        blocks = detail.split("\n\n")
        assert blocks[0].startswith("**Do**\n"), f"{where}: the detail starts with Do"
        actions = [line for line in blocks[0].splitlines()[1:] if re.match(r"^\d\. ", line)]
        assert 1 <= len(actions) <= 3, f"{where}: {len(actions)} actions"
        assert blocks[-1].startswith("*Sources:* ") and "\n" not in blocks[-1], f"{where}: one Sources line last"
        assert [b.split("\n")[0] for b in blocks[1:-1]] in ([], ["**Why**"]), f"{where}: blocks {blocks}"
        assert words_before_sources(detail) <= WORD_BUDGET[indicator], f"{where}: {words_before_sources(detail)} words"
        # Raw ids stay in /evaluate findings; units are shown as a clinician reads them.
        assert not RAW_ID.search(detail), f"{where}: raw FHIR id in the detail"
        assert "{1.73_m2}" not in detail + summary and "none found" not in detail, where
        # 3. Advice to order tests comes with a suggestion that orders them; at most two links.
        if ORDER_ADVICE.search(blocks[0]):
            assert any(a["type"] == "create" for s in card.get("suggestions", []) for a in s["actions"]), where
        assert len(card.get("links", [])) <= 2, where
        for line in detail.splitlines():
            if line.startswith(("- ", "1. ", "2. ", "3. ")):
                sentences.append(line.split(" ", 1)[1])
    # No sentence repeated across the cards of one response.
    repeated = {s for s in sentences if sentences.count(s) > 1}
    assert not repeated, f"{case.name}: repeated {repeated}"


def test_style_guide_cases_cover_every_card_kind(client: FlaskClient) -> None:
    seen = {c["source"]["topic"]["code"] for case in CASES for c in cards_of(client, case)}
    assert seen >= {
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
