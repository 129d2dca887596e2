"""Serum magnesium interpretation: bands, the lab's range, flags, comparators, lookback, card decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service.core.engine import evaluate, interpret_mg
from service.core.fhirdata import LabResult, PatientRecord, UnreadableResult
from service.core.knowledge import KnowledgeBase
from service.core.units import MgConverter

NOW = datetime(2026, 11, 15, tzinfo=UTC)
MG = MgConverter(24.305, 2)


def lab(value: float, unit: str = "mmol/L", **kw: Any) -> LabResult:
    args: dict[str, Any] = {
        "analyte": "serum-magnesium",
        "reference": "Observation/1",
        "code": "2601-3",
        "display": None,
        "value": value,
        "unit": unit,
        "effective": datetime(2026, 10, 1, tzinfo=UTC),
        "range_low": None,
        "range_high": None,
        "range_text": None,
        "interpretation": frozenset(),
    }
    args.update(kw)
    return LabResult(**args)


def decisions(
    kb: KnowledgeBase, *labs: LabResult, unreadable: tuple[UnreadableResult, ...] = ()
) -> list[tuple[str, str]]:
    evaluation = evaluate(PatientRecord(None, labs, (), unreadable=unreadable), kb, MG, NOW)
    return [(d.topic, d.indicator) for d in evaluation.decisions]


@pytest.mark.parametrize(
    ("mmol", "state"),
    [
        (0.30, "low"),
        (0.49, "low"),
        (0.50, "low"),
        (0.74, "low"),
        (0.75, "low-normal"),
        (0.84, "low-normal"),
        (0.85, "normal"),
        (0.94, "normal"),
        (0.95, "upper-normal"),
        (1.07, "upper-normal"),
        (1.08, "high"),
        (1.75, "high"),
    ],
)
def test_bands_without_a_lab_range(kb: KnowledgeBase, mmol: float, state: str) -> None:
    assert interpret_mg(lab(mmol), kb, MG).state == state


@pytest.mark.parametrize(("mmol", "indicator"), [(0.49, "critical"), (0.50, "warning"), (0.74, "warning")])
def test_low_magnesium_is_severity_tiered(kb: KnowledgeBase, mmol: float, indicator: str) -> None:
    assert decisions(kb, lab(mmol)) == [("mg-low", indicator)]


@pytest.mark.parametrize(("mmol", "indicator"), [(1.08, "warning"), (1.74, "warning"), (1.75, "critical")])
def test_high_magnesium_is_critical_in_the_toxic_range(kb: KnowledgeBase, mmol: float, indicator: str) -> None:
    assert decisions(kb, lab(mmol)) == [("mg-high", indicator)]


def test_boundary_in_mg_dl_is_not_lost_to_rounding(kb: KnowledgeBase) -> None:
    assert interpret_mg(lab(2.07, "mg/dL"), kb, MG).state == "normal"  # 0.8517 mmol/L
    assert interpret_mg(lab(1.8, "mg/dL"), kb, MG).state == "low"  # 0.7406 mmol/L


def test_below_the_lab_lower_limit_is_low_even_above_075(kb: KnowledgeBase) -> None:
    status = interpret_mg(lab(0.78, range_low=0.8, range_high=1.0), kb, MG)
    assert status.state == "low" and status.by_lab


def test_inside_the_lab_range_is_never_low_but_below_075_is_said(kb: KnowledgeBase) -> None:
    status = interpret_mg(lab(0.70, range_low=0.65, range_high=1.05), kb, MG)
    assert status.state == "low-normal"
    assert decisions(kb, lab(0.70, range_low=0.65, range_high=1.05)) == [("mg-low-normal", "info")]


def test_a_lab_flag_never_overrides_the_number(kb: KnowledgeBase) -> None:
    flagged_low = interpret_mg(lab(15, "mg/dL", interpretation=frozenset({"L"})), kb, MG)
    assert flagged_low.state == "high" and flagged_low.flag_conflict == "L"
    assert interpret_mg(lab(0.9, interpretation=frozenset({"L"})), kb, MG).state == "normal"
    assert interpret_mg(lab(0.9, interpretation=frozenset({"H"})), kb, MG).state == "normal"


def test_lab_upper_limit_replaces_the_default_upper_limit(kb: KnowledgeBase) -> None:
    assert interpret_mg(lab(1.1, range_low=0.7, range_high=1.2), kb, MG).state == "upper-normal"
    assert interpret_mg(lab(1.0, range_low=0.7, range_high=0.95), kb, MG).state == "high"


@pytest.mark.parametrize(
    ("comparator", "value", "state"),
    [
        ("<", 0.4, "low"),
        ("<=", 0.4, "low"),
        ("<", 0.9, "indeterminate"),
        (">", 4.0, "high"),
        (">=", 0.3, "indeterminate"),
    ],
)
def test_comparators_band_below_a_reporting_limit_and_never_make_a_value_low(
    kb: KnowledgeBase, comparator: str, value: float, state: str
) -> None:
    assert interpret_mg(lab(value, comparator=comparator), kb, MG).state == state


def test_latest_result_within_the_lookback_decides(kb: KnowledgeBase) -> None:
    old_low = lab(0.5, effective=datetime(2025, 1, 1, tzinfo=UTC), reference="Observation/old")
    recent_ok = lab(0.9, effective=datetime(2026, 11, 1, tzinfo=UTC), reference="Observation/new")
    evaluation = evaluate(PatientRecord(None, (old_low, recent_ok), ()), kb, MG, NOW)
    (mg,) = [f for f in evaluation.findings if f.category == "serum-magnesium"]
    assert mg.evidence[0].reference == "Observation/new"


def test_amended_result_supersedes_the_original_of_the_same_time(kb: KnowledgeBase) -> None:
    original = lab(0.45, reference="Observation/original")
    amended = lab(0.88, reference="Observation/amended", status="amended")
    evaluation = evaluate(PatientRecord(None, (original, amended), ()), kb, MG, NOW)
    (mg,) = [f for f in evaluation.findings if f.category == "serum-magnesium"]
    assert mg.evidence[0].reference == "Observation/amended" and evaluation.decisions == ()


def test_result_older_than_the_lookback_is_not_interpreted(kb: KnowledgeBase) -> None:
    evaluation = evaluate(
        PatientRecord(None, (lab(0.5, effective=datetime(2025, 11, 1, tzinfo=UTC)),), ()), kb, MG, NOW
    )
    assert not [f for f in evaluation.findings if f.category == "serum-magnesium"]


def test_an_unreadable_result_is_never_not_measured(kb: KnowledgeBase) -> None:
    text = UnreadableResult("serum-magnesium", "Observation/t", None, datetime(2026, 11, 1, tzinfo=UTC), "text")
    assert decisions(kb, unreadable=(text,)) == [("mg-unreadable", "info")]


def test_future_dated_result_is_reported_and_skipped(kb: KnowledgeBase) -> None:
    future = lab(0.4, effective=datetime(2027, 1, 1, tzinfo=UTC), reference="Observation/future")
    evaluation = evaluate(PatientRecord(None, (future, lab(0.9)), ()), kb, MG, NOW)
    assert [f.code for f in evaluation.findings if f.category == "serum-magnesium"] == ["serum-mg-normal"]
    assert [f.code for f in evaluation.findings if f.category == "data-quality"] == ["result-in-future"]


def test_finding_carries_every_unit_and_the_evidence(kb: KnowledgeBase) -> None:
    evaluation = evaluate(PatientRecord(None, (lab(1.5, "mg/dL"),), ()), kb, MG, NOW)
    (finding,) = evaluation.findings
    assert finding.code == "serum-mg-low"
    assert finding.values["mgPerDL"] == 1.5 and finding.values["mmolPerL"] == 0.617
    assert finding.evidence[0].reference == "Observation/1" and finding.evidence[0].date == "2026-10-01"
