"""The rules engine: from a PatientRecord to findings and a judgement, with an injected `now`.

No I/O and no Flask: given the same record, knowledge base and `now`, it always returns the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .fhirdata import LabResult, PatientRecord
from .knowledge import Band, KnowledgeBase
from .model import Evidence, Finding, Indicator, as_utc_date
from .units import MEQ_PER_L, MG_PER_DL, MgConverter

MgState = Literal["low", "low-normal", "normal", "high"]
# Observation.interpretation codes (v3-ObservationInterpretation) that flag low / high results.
LOW_FLAGS = frozenset({"L", "LL", "LU"})
HIGH_FLAGS = frozenset({"H", "HH", "HU"})
# A result dated more than this after `now` is a data error (clock skew of a day is tolerated).
_FUTURE_TOLERANCE = timedelta(days=1)
_PRECISION = 4  # decimal places compared, so 2.07 mg/dL is not "below 0.85" by a rounding hair


@dataclass(frozen=True, slots=True)
class MgStatus:
    """The interpretation of the most recent serum magnesium within the lookback."""

    state: MgState
    indicator: Indicator | None
    result: LabResult
    mmol: float
    mgdl: float
    meq: float
    band: Band
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything the engine concluded for one patient at one moment."""

    now: datetime
    record: PatientRecord
    mg: MgStatus | None
    findings: tuple[Finding, ...]


def evaluate(record: PatientRecord, kb: KnowledgeBase, mg: MgConverter, now: datetime) -> Evaluation:
    """Apply the knowledge base to one patient's record at `now` (an aware datetime)."""
    findings: list[Finding] = list(record.issues)
    lookback = timedelta(days=kb.threshold("serum-mg-lookback-days"))
    latest: LabResult | None = None
    for result in record.labs_for("serum-magnesium"):
        if result.effective > now + _FUTURE_TOLERANCE:
            findings.append(
                Finding(
                    "data-quality",
                    "result-in-future",
                    "A result is dated in the future; ignored.",
                    (Evidence(result.reference, result.display, as_utc_date(result.effective)),),
                )
            )
            continue
        if result.effective >= now - lookback:
            latest = result
        break  # most recent first: the first usable one decides
    status = interpret_mg(latest, kb, mg) if latest is not None else None
    if status is not None:
        findings.append(_mg_finding(status))
    for other in record.labs_for("non-serum-magnesium"):
        findings.append(
            Finding(
                "data-quality",
                "non-serum-magnesium",
                "Red-cell or whole-blood magnesium is not serum magnesium and was not interpreted as such.",
                (Evidence(other.reference, other.display, as_utc_date(other.effective)),),
            )
        )
    return Evaluation(now, record, status, tuple(findings))


def interpret_mg(result: LabResult, kb: KnowledgeBase, mg: MgConverter) -> MgStatus:
    """Classify a serum Mg result against our bands and the lab's own range and flags."""
    mmol = round(mg.to_mmol(result.value, result.unit), _PRECISION)
    low_limit = kb.threshold("serum-mg-low")
    low_normal_upper = kb.threshold("serum-mg-low-normal-upper")
    default_upper = kb.threshold("serum-mg-default-upper")

    low_reasons: list[str] = []
    if mmol < low_limit:
        low_reasons.append(f"below {low_limit:g} mmol/L")
    if result.range_low is not None and result.value < result.range_low:
        low_reasons.append("below the lab's lower limit")
    if result.interpretation & LOW_FLAGS:
        low_reasons.append("flagged low by the lab")

    high_reasons: list[str] = []
    if result.range_high is not None:
        if result.value > result.range_high:
            high_reasons.append("above the lab's upper limit")
    elif mmol > default_upper:
        high_reasons.append(f"above {default_upper:g} mmol/L (no lab range reported)")
    if result.interpretation & HIGH_FLAGS:
        high_reasons.append("flagged high by the lab")

    state: MgState
    indicator: Indicator | None
    if low_reasons:
        state, reasons = "low", low_reasons
        indicator = "critical" if mmol < kb.threshold("serum-mg-critical-low") else "warning"
    elif high_reasons:
        state, reasons = "high", high_reasons
        indicator = "critical" if mmol > kb.threshold("serum-mg-critical-high") else "warning"
    elif mmol < low_normal_upper:
        state, reasons, indicator = "low-normal", [f"below {low_normal_upper:g} mmol/L"], "info"
    else:
        state, reasons, indicator = "normal", [], None
    return MgStatus(
        state=state,
        indicator=indicator,
        result=result,
        mmol=mmol,
        mgdl=result.value if result.unit == MG_PER_DL else mg.from_mmol(mmol, MG_PER_DL),
        meq=mg.from_mmol(mmol, MEQ_PER_L),
        band=band_for(mmol, kb.serum_mg_bands),
        reasons=tuple(reasons),
    )


def band_for(mmol: float, bands: tuple[Band, ...]) -> Band:
    """The first band whose exclusive upper bound lies above the value (the last band is open)."""
    for band in bands:
        if band.below_mmol is None or mmol < band.below_mmol:
            return band
    return bands[-1]


def _mg_finding(status: MgStatus) -> Finding:
    r = status.result
    return Finding(
        category="serum-magnesium",
        code=f"serum-mg-{status.state}",
        display=f"Serum magnesium {status.mmol:.2f} mmol/L: {status.band.label}",
        evidence=(Evidence(r.reference, r.display, as_utc_date(r.effective)),),
        values={
            "mmolPerL": round(status.mmol, 3),
            "mgPerDL": round(status.mgdl, 2),
            "meqPerL": round(status.meq, 2),
            "reported": {"value": r.value, "unit": r.unit},
            "labRange": _compact_range(r),
            "reasons": list(status.reasons),
        },
    )


def _compact_range(r: LabResult) -> dict[str, object]:
    out: dict[str, object] = {}
    if r.range_low is not None:
        out["low"] = r.range_low
    if r.range_high is not None:
        out["high"] = r.range_high
    if out:
        out["unit"] = r.unit
    if r.range_text:
        out["text"] = r.range_text
    return out
