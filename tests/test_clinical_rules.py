"""The clinical rules end to end in-process: record → findings → cards, at a fixed `now`."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.core.fhirdata import Entry, Extractor, entries_from_bundle
from service.core.knowledge import KnowledgeBase
from service.core.pipeline import Outcome, run

from .conftest import SHARED, load_json

NOW = datetime(2026, 11, 15, tzinfo=UTC)
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
_ids = itertools.count()


@pytest.fixture(scope="module")
def extractor(kb: KnowledgeBase) -> Extractor:
    return Extractor(kb)


def patient(gender: str = "female", birth: str = "1980-01-01", **kw: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p", "gender": gender, "birthDate": birth, **kw}


def med(
    code: str,
    display: str,
    *,
    status: str = "active",
    start: str | None = "2024-01-01",
    kind: str = "MedicationRequest",
    end: str | None = None,
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": kind,
        "id": f"m{next(_ids)}",
        "status": status,
        "medicationCodeableConcept": {"coding": [{"system": RX, "code": code, "display": display}]},
        "subject": {"reference": "Patient/p"},
    }
    if kind == "MedicationRequest":
        r["intent"] = "order"
        if start:
            r["authoredOn"] = start
        if end:
            r["dispenseRequest"] = {"validityPeriod": {"end": end}}
    elif start or end:
        r["effectivePeriod"] = {k: v for k, v in {"start": start, "end": end}.items() if v}
    return r


def condition(
    system: str,
    code: str,
    display: str = "",
    *,
    clinical: str | None = "active",
    verification: str | None = None,
    abated: bool = False,
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"c{next(_ids)}",
        "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "onsetDateTime": "2026-09-01",  # recent: problem-list symptoms older than 12 months are not current
    }
    if clinical:
        r["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        r["verificationStatus"] = {"coding": [{"code": verification}]}
    if abated:
        r["abatementDateTime"] = "2025-06-01"
    return r


def lab(
    code: str,
    value: float,
    unit: str,
    *,
    date: str = "2026-10-01",
    low: float | None = None,
    high: float | None = None,
    flag: str | None = None,
    comparator: str | None = None,
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"o{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": date,
        "valueQuantity": {"value": value, "unit": unit, "code": unit},
    }
    if comparator:
        r["valueQuantity"]["comparator"] = comparator
    if low is not None:
        r["referenceRange"] = [{"low": {"value": low}, "high": {"value": high}}]
    if flag:
        r["interpretation"] = [{"coding": [{"code": flag}]}]
    return r


def evaluate(kb: KnowledgeBase, extractor: Extractor, *resources: dict[str, Any]) -> Outcome:
    ids = (str(n) for n in itertools.count())
    return run([Entry(r) for r in resources], None, kb=kb, extractor=extractor, now=NOW, new_uuid=lambda: next(ids))


def codes(outcome: Outcome, category: str | None = None) -> set[str]:
    return {f.code for f in outcome.evaluation.findings if category is None or f.category == category}


def topics(outcome: Outcome) -> list[str]:
    return [c.topic for c in outcome.cards]


OMEPRAZOLE = ("198051", "omeprazole 20 MG Delayed Release Oral Capsule")


@pytest.mark.parametrize(
    ("start", "is_risk", "long_term"),
    [("2026-09-20", False, False), ("2026-07-01", True, False), ("2025-10-01", True, True)],
)
def test_ppi_counts_from_three_months_and_is_long_term_from_one_year(
    kb: KnowledgeBase, extractor: Extractor, start: str, is_risk: bool, long_term: bool
) -> None:
    outcome = evaluate(kb, extractor, patient(), med(*OMEPRAZOLE, start=start))
    ppi = [f for f in outcome.evaluation.findings if f.code == "ppi"]
    assert bool(ppi) == is_risk
    if ppi:
        assert ppi[0].values["longTerm"] is long_term
        assert ppi[0].since is not None and ppi[0].since.isoformat() == start
    assert ("mg-not-measured" in topics(outcome)) == long_term


def test_ppi_without_a_start_date_is_reported_not_guessed(kb: KnowledgeBase, extractor: Extractor) -> None:
    outcome = evaluate(kb, extractor, patient(), med(*OMEPRAZOLE, start=None))
    assert "ppi" not in codes(outcome) and "ppi-start-unknown" in codes(outcome, "data-quality")


@pytest.mark.parametrize(
    ("status", "end", "counts"),
    [
        ("active", None, True),
        ("on-hold", None, True),
        ("completed", "2026-06-01", False),  # stopped months ago: "stopped on <date>", not current use
        ("completed", "2024-06-01", False),
        ("stopped", None, False),
        ("draft", None, False),  # an unsigned order is not exposure
        ("entered-in-error", None, False),
    ],
)
def test_medication_status_decides_exposure(
    kb: KnowledgeBase, extractor: Extractor, status: str, end: str | None, counts: bool
) -> None:
    outcome = evaluate(kb, extractor, patient(), med("4603", "furosemide", status=status, end=end))
    assert ("diuretic" in codes(outcome)) == counts


def test_a_completed_statin_course_is_not_an_active_statin(kb: KnowledgeBase, extractor: Extractor) -> None:
    done = med("36567", "simvastatin", status="completed", end="2026-08-01")
    assert "statin" not in codes(evaluate(kb, extractor, patient(), done))
    assert "statin" in codes(evaluate(kb, extractor, patient(), med("36567", "simvastatin")))


def test_medication_statement_intended_counts(kb: KnowledgeBase, extractor: Extractor) -> None:
    outcome = evaluate(
        kb, extractor, patient(), med("4603", "furosemide", status="intended", kind="MedicationStatement")
    )
    assert "diuretic" in codes(outcome)


@pytest.mark.parametrize(
    ("clinical", "verification", "abated", "active"),
    [
        ("active", None, False, True),
        ("recurrence", None, False, True),
        ("relapse", None, False, True),
        ("resolved", None, True, False),
        ("inactive", None, False, False),
        (None, None, False, True),  # no status, no abatement: counts as active
        (None, None, True, False),
        ("active", "refuted", False, False),
        ("active", "entered-in-error", False, False),
        ("active", "provisional", False, True),
    ],
)
def test_condition_status_decides_evidence(
    kb: KnowledgeBase, extractor: Extractor, clinical: str | None, verification: str | None, abated: bool, active: bool
) -> None:
    cond = condition(SCT, "7200002", "Alcoholism", clinical=clinical, verification=verification, abated=abated)
    assert ("alcohol" in codes(evaluate(kb, extractor, patient(), cond))) == active


@pytest.mark.parametrize(
    ("gender", "score", "positive"),
    [
        ("male", 3, False),
        ("male", 4, True),
        ("female", 3, True),
        ("female", 2, False),
        ("unknown", 3, True),
        (None, 3, True),
    ],
)
def test_audit_c_cut_off_depends_on_sex(
    kb: KnowledgeBase, extractor: Extractor, gender: str | None, score: int, positive: bool
) -> None:
    pat = patient(gender or "female")
    if gender is None:
        del pat["gender"]
    outcome = evaluate(kb, extractor, pat, lab("75626-2", score, "{score}"))
    assert ("alcohol" in codes(outcome)) == positive


@pytest.mark.parametrize(("birth", "older"), [("1961-11-16", False), ("1961-11-15", True), ("1940-01-01", True)])
def test_older_age_from_birth_date_at_now(kb: KnowledgeBase, extractor: Extractor, birth: str, older: bool) -> None:
    assert ("older-age" in codes(evaluate(kb, extractor, patient(birth=birth)))) == older


def test_age_of_a_deceased_patient_is_taken_at_death(kb: KnowledgeBase, extractor: Extractor) -> None:
    pat = patient(birth="1922-09-25", deceasedDateTime="1985-01-28T22:39:41+00:00")
    assert "older-age" not in codes(evaluate(kb, extractor, pat))


def test_low_potassium_and_calcium_follow_the_lab_range_or_flag(kb: KnowledgeBase, extractor: Extractor) -> None:
    outcome = evaluate(
        kb,
        extractor,
        patient(),
        lab("2823-3", 3.2, "mmol/L", low=3.5, high=5.1),
        lab("17861-6", 8.0, "mg/dL"),  # 2.0 mmol/L: below the standard cut-off when the lab gives no range
    )
    assert {"hypokalemia", "hypocalcemia"} <= codes(outcome, "safety")
    normal = evaluate(kb, extractor, patient(), lab("2823-3", 4.2, "mmol/L", low=3.5, high=5.1))
    assert "hypokalemia" not in codes(normal)
    # A lab flag never overrides the number: 8.9 mg/dL (2.22 mmol/L) flagged L is not low.
    flagged = evaluate(kb, extractor, patient(), lab("17861-6", 8.9, "mg/dL", flag="L"))
    assert "hypocalcemia" not in codes(flagged)


def test_egfr_below_sixty_is_flagged_and_a_greater_than_result_is_not(kb: KnowledgeBase, extractor: Extractor) -> None:
    assert "egfr-low" in codes(evaluate(kb, extractor, patient(), lab("98979-8", 45, "mL/min/{1.73_m2}")))
    above = evaluate(kb, extractor, patient(), lab("33914-3", 60, "mL/min/{1.73_m2}", comparator=">"))
    assert "egfr" in codes(above) and "egfr-low" not in codes(above)


def test_supplement_with_severe_renal_impairment_is_a_warning(kb: KnowledgeBase, extractor: Extractor) -> None:
    outcome = evaluate(kb, extractor, patient(), med("6582", "magnesium oxide"), lab("98979-8", 25, "mL/min/{1.73_m2}"))
    (card,) = outcome.cards
    assert (card.topic, card.indicator) == ("mg-supplement-safety", "warning")
    assert "renal failure" in card.summary and "eGFR 25 mL/min/1.73 m²" in (card.detail or "")
    assert card.override_reasons


def test_supplement_with_caution_band_egfr_alone_gives_no_card(kb: KnowledgeBase, extractor: Extractor) -> None:
    outcome = evaluate(kb, extractor, patient(), med("6582", "magnesium oxide"), lab("98979-8", 45, "mL/min/{1.73_m2}"))
    assert outcome.cards == ()


def test_supplement_with_high_mg_is_one_card_that_names_the_product(kb: KnowledgeBase, extractor: Extractor) -> None:
    outcome = evaluate(kb, extractor, patient(), med("6582", "magnesium oxide"), lab("19123-9", 3.0, "mg/dL"))
    (card,) = outcome.cards
    assert card.topic == "mg-high" and "Stop magnesium products: magnesium oxide" in (card.detail or "")


def test_at_most_three_cards_most_urgent_first(kb: KnowledgeBase, extractor: Extractor) -> None:
    outcome = evaluate(
        kb,
        extractor,
        patient(birth="1950-01-01"),
        lab("19123-9", 4.5, "mg/dL"),  # critical high
        med("6582", "magnesium oxide"),
        lab("98979-8", 20, "mL/min/{1.73_m2}"),  # renal failure: supplement safety
        condition(ICD, "M79.661", "Pain in right lower leg"),  # calf pain: exclude DVT
        condition(ICD, "R25.2", "Cramp and spasm"),
        condition(SCT, "840580004", "Peripheral arterial disease"),
    )
    assert [(c.topic, c.indicator) for c in outcome.cards] == [
        ("mg-high", "critical"),
        ("leg-red-flag", "warning"),
        ("mg-supplement-safety", "warning"),
    ]
    assert len(outcome.cards) <= kb.threshold("max-cards")


def test_ehr_text_cannot_inject_markdown_or_html_into_cards(kb: KnowledgeBase, extractor: Extractor) -> None:
    evil = "furosemide <img src=x onerror=alert(1)> [click](https://evil.example) **x**"
    outcome = evaluate(kb, extractor, patient(), med("4603", evil), condition(ICD, "R25.2", "cramps"))
    detail = outcome.cards[0].detail or ""
    assert "<img" not in detail and not re.search(r"(?<!\\)\]\(https://evil", detail) and "**x**" not in detail
    assert "&lt;img" in detail and r"\[click\]" in detail


SYNTHEA = SHARED / "data" / "synthea"


def synthea(kb: KnowledgeBase, extractor: Extractor, name: str) -> Outcome:
    (path,) = list(SYNTHEA.glob(f"{name}_*.json"))
    ids = (str(n) for n in itertools.count())
    return run(
        entries_from_bundle(load_json(path)), None, kb=kb, extractor=extractor, now=NOW, new_uuid=lambda: next(ids)
    )


@pytest.mark.parametrize(
    ("name", "risk", "cards"),
    [
        ("Barrett_Douglas", {"alcohol", "diuretic", "older-age"}, ["mg-not-measured"]),
        ("Dirk_Kuhlman", {"diuretic", "type-2-diabetes"}, []),
        ("Cleo_Friesen", {"diuretic", "mg-wasting-drug", "gi-malabsorption", "older-age"}, ["mg-not-measured"]),
        ("Norma_Pagan", set(), []),
    ],
)
def test_synthea_records_find_their_risk_factors(
    kb: KnowledgeBase, extractor: Extractor, name: str, risk: set[str], cards: list[str]
) -> None:
    outcome = synthea(kb, extractor, name)
    assert codes(outcome, "risk-factor") == risk
    assert topics(outcome) == cards


def test_synthea_barrett_card_names_the_evidence(kb: KnowledgeBase, extractor: Extractor) -> None:
    (card,) = synthea(kb, extractor, "Barrett_Douglas").cards
    detail = card.detail or ""
    assert "Alcoholism" in detail and "Lasix 40mg" in detail and "since 1934-06-16" in detail
    assert "digoxin toxicity" in detail
    (suggestion,) = card.suggestions
    resource = suggestion.actions[0].resource
    assert resource is not None and resource["subject"] == {"reference": "Patient/1d3b3586-5268-4ce8-b1eb-9fc7cc0947a4"}


@pytest.mark.parametrize("path", sorted(SYNTHEA.glob("*.json")), ids=lambda p: Path(p).name.split("_")[0])
def test_every_synthea_record_evaluates_cleanly(kb: KnowledgeBase, extractor: Extractor, path: Path) -> None:
    ids = (str(n) for n in itertools.count())
    outcome = run(
        entries_from_bundle(load_json(path)), None, kb=kb, extractor=extractor, now=NOW, new_uuid=lambda: next(ids)
    )
    assert not codes(outcome, "data-quality")
    assert all(len(c.summary) < 140 for c in outcome.cards)
