"""Serum magnesium interpretation: bands, lab ranges and flags, lookback, indicators."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service.core.engine import evaluate, interpret_mg
from service.core.fhirdata import LabResult, PatientRecord
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


@pytest.mark.parametrize(
    ("mmol", "state", "indicator"),
    [
        (0.30, "low", "critical"),
        (0.49, "low", "critical"),
        (0.50, "low", "warning"),
        (0.74, "low", "warning"),
        (0.75, "low-normal", "info"),
        (0.84, "low-normal", "info"),
        (0.85, "normal", None),
        (1.07, "normal", None),
        (1.08, "high", "warning"),
        (1.74, "high", "warning"),
        (1.75, "high", "critical"),
    ],
)
def test_bands_without_a_lab_range(kb: KnowledgeBase, mmol: float, state: str, indicator: str | None) -> None:
    status = interpret_mg(lab(mmol), kb, MG)
    assert (status.state, status.indicator) == (state, indicator)


def test_boundary_in_mg_dl_is_not_lost_to_rounding(kb: KnowledgeBase) -> None:
    assert interpret_mg(lab(2.07, "mg/dL"), kb, MG).state == "normal"  # 0.8517 mmol/L
    assert interpret_mg(lab(1.8, "mg/dL"), kb, MG).state == "low"  # 0.7406 mmol/L


def test_below_the_lab_lower_limit_is_low_even_above_075(kb: KnowledgeBase) -> None:
    status = interpret_mg(lab(0.78, range_low=0.8, range_high=1.0), kb, MG)
    assert status.state == "low" and "below the lab's lower limit" in status.reasons


def test_lab_low_flag_is_low(kb: KnowledgeBase) -> None:
    assert interpret_mg(lab(0.9, interpretation=frozenset({"L"})), kb, MG).state == "low"


def test_lab_upper_limit_replaces_the_default_upper_limit(kb: KnowledgeBase) -> None:
    assert interpret_mg(lab(1.1, range_low=0.7, range_high=1.2), kb, MG).state == "normal"
    assert interpret_mg(lab(1.0, range_low=0.7, range_high=0.95), kb, MG).state == "high"
    assert interpret_mg(lab(0.9, interpretation=frozenset({"H"})), kb, MG).state == "high"


def test_latest_result_within_the_lookback_decides(kb: KnowledgeBase) -> None:
    old_low = lab(0.5, effective=datetime(2025, 1, 1, tzinfo=UTC), reference="Observation/old")
    recent_ok = lab(0.9, effective=datetime(2026, 11, 1, tzinfo=UTC), reference="Observation/new")
    evaluation = evaluate(PatientRecord(None, (old_low, recent_ok), ()), kb, MG, NOW)
    assert evaluation.mg is not None and evaluation.mg.result.reference == "Observation/new"


def test_result_older_than_the_lookback_is_not_interpreted(kb: KnowledgeBase) -> None:
    evaluation = evaluate(
        PatientRecord(None, (lab(0.5, effective=datetime(2025, 11, 1, tzinfo=UTC)),), ()), kb, MG, NOW
    )
    assert evaluation.mg is None


def test_future_dated_result_is_reported_and_skipped(kb: KnowledgeBase) -> None:
    future = lab(0.4, effective=datetime(2027, 1, 1, tzinfo=UTC), reference="Observation/future")
    evaluation = evaluate(PatientRecord(None, (future, lab(0.9)), ()), kb, MG, NOW)
    assert evaluation.mg is not None and evaluation.mg.state == "normal"
    assert [f.code for f in evaluation.findings if f.category == "data-quality"] == ["result-in-future"]


def test_finding_carries_both_units_and_the_evidence(kb: KnowledgeBase) -> None:
    evaluation = evaluate(PatientRecord(None, (lab(1.5, "mg/dL"),), ()), kb, MG, NOW)
    (finding,) = evaluation.findings
    assert finding.code == "serum-mg-low"
    assert finding.values["mgPerDL"] == 1.5 and finding.values["mmolPerL"] == 0.617
    assert finding.evidence[0].reference == "Observation/1" and finding.evidence[0].date == "2026-10-01"
