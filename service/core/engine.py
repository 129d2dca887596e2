"""The rules engine: from a PatientRecord to findings and card decisions, with an injected `now`.

No I/O and no Flask: given the same record, knowledge base and `now`, it always returns the same answer.
Which category a code belongs to is data (rules/); what each category means for the cards is here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from .fhirdata import FUTURE_TOLERANCE, ConditionFact, LabResult, MedicationUse, PatientRecord
from .knowledge import Band, KnowledgeBase
from .model import Evidence, Finding, Indicator, as_utc_date
from .orders import DraftOrder
from .units import MEQ_PER_L, MG_PER_DL, MgConverter

MgState = Literal["low", "low-normal", "normal", "high"]
# Observation.interpretation codes (v3-ObservationInterpretation) that flag low / high results.
LOW_FLAGS = frozenset({"L", "LL", "LU"})
HIGH_FLAGS = frozenset({"H", "HH", "HU"})
_PRECISION = 4  # decimal places compared, so 2.07 mg/dL is not "below 0.85" by a rounding hair
# Medication statuses that mean "taking it now" (R4 MedicationStatement and MedicationRequest status).
CURRENT_MEDICATION_STATUS = frozenset({"active", "on-hold", "intended"})

# Finding categories and the codes they carry (the machine-readable contract of /evaluate).
RISK_FACTOR, LEG_SYMPTOM, DIFFERENTIAL, SAFETY = "risk-factor", "leg-symptom", "differential", "safety"
STRONG, CONTEXTUAL = "strong", "contextual"
LEG_SYMPTOM_CLASSES = ("leg-cramps", "restless-legs", "muscle-spasm", "leg-pain")
DIFFERENTIAL_CONDITIONS = ("pad", "venous-insufficiency", "neuropathy", "radiculopathy", "dehydration", "ckd")
INTERACTING_CLASSES = ("bisphosphonate", "tetracycline", "fluoroquinolone")


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
    topics: tuple[str, ...] = ()  # card kinds that fire, before ordering and the per-response cap
    patient_reference: str | None = None
    egfr: LabResult | None = None
    # Per card kind: why it fires (phrase keys in cards.yaml), its indicator when the kind has no fixed
    # one, and the draft orders it is about.
    reasons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    indicators: Mapping[str, Indicator] = field(default_factory=dict)
    drafts: Mapping[str, tuple[DraftOrder, ...]] = field(default_factory=dict)

    def of(self, category: str) -> list[Finding]:
        return [f for f in self.findings if f.category == category]

    def codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self.findings)


def evaluate(record: PatientRecord, kb: KnowledgeBase, mg: MgConverter, now: datetime) -> Evaluation:
    """Apply the knowledge base to one patient's record at `now` (an aware datetime)."""
    rules = _Rules(record, kb, now)
    findings: list[Finding] = list(record.issues)

    latest_mg = rules.latest("serum-magnesium", kb.threshold("serum-mg-lookback-days"), findings)
    status = interpret_mg(latest_mg, kb, mg) if latest_mg is not None else None
    if status is not None:
        findings.append(_mg_finding(status))
    for other in record.labs_for("non-serum-magnesium"):
        findings.append(
            Finding(
                "data-quality",
                "non-serum-magnesium",
                "Red-cell or whole-blood magnesium is not serum magnesium and was not interpreted as such.",
                (other.evidence(),),
            )
        )

    risk = rules.risk_factors(findings)
    symptoms = rules.leg_symptoms()
    signals = rules.differentials()
    egfr = rules.latest("egfr", kb.threshold("lab-lookback-days"), findings)
    safety = rules.safety(egfr, findings)
    findings += risk + symptoms + signals + safety

    codes = {f.code for f in safety}
    strong = {f.code for f in risk if f.values.get("strength") == STRONG}
    long_term_ppi = any(f.code == "ppi" and f.values.get("longTerm") for f in risk)
    topics: list[str] = []
    if status is not None:
        if status.state == "low":
            topics.append("mg-low")
        elif status.state == "high":
            topics.append("mg-high")
        elif status.state == "low-normal" and (risk or symptoms):
            topics.append("mg-low-normal")
        elif status.state == "normal" and risk and symptoms:
            topics.append("mg-normal-with-risk")
    elif (symptoms and risk) or long_term_ppi or len(strong) >= 2:
        topics.append("mg-not-measured")
    if symptoms and signals:
        topics.append("leg-differential")
    safety_reasons = _supplement_safety_reasons(codes, status, egfr, kb)
    if "mg-supplement" in codes and set(safety_reasons) & {"egfr-contraindication", "mg-high", "interacting-drug"}:
        topics.append("mg-supplement-safety")

    return Evaluation(
        now=now,
        record=record,
        mg=status,
        findings=tuple(findings),
        topics=tuple(topics),
        patient_reference=record.demographics.reference if record.demographics else None,
        egfr=egfr,
        reasons={"mg-supplement-safety": tuple(safety_reasons)},
    )


# Draft-order finding code per medication class, for the order hooks.
DRAFT_WASTING = {
    "ppi": "draft-ppi",
    "loop-diuretic": "draft-diuretic",
    "thiazide-diuretic": "draft-diuretic",
    "mg-wasting-drug": "draft-mg-wasting-drug",
}
DRAFT_ORDER = "draft-order"
# Draft-order classes the order hooks judge; a draft of anything else needs no data and gets no card.
ORDER_JUDGED_CLASSES = frozenset({*DRAFT_WASTING, "mg-supplement"})


def evaluate_orders(
    record: PatientRecord,
    judged: Sequence[DraftOrder],
    all_drafts: Sequence[DraftOrder],
    *,
    kb: KnowledgeBase,
    mg: MgConverter,
    now: datetime,
) -> Evaluation:
    """Judge draft orders: Mg-wasting drugs against the latest Mg and digoxin; supplements against safety."""
    rules = _Rules(record, kb, now)
    findings: list[Finding] = list(record.issues)
    latest_mg = rules.latest("serum-magnesium", kb.threshold("serum-mg-lookback-days"), findings)
    status = interpret_mg(latest_mg, kb, mg) if latest_mg is not None else None
    if status is not None:
        findings.append(_mg_finding(status))
    egfr = rules.latest("egfr", kb.threshold("lab-lookback-days"), findings)
    safety = rules.safety(egfr, findings)
    findings += safety
    codes = {f.code for f in safety}

    wasting = [d for d in judged if set(d.classes) & set(DRAFT_WASTING)]
    supplements = [d for d in judged if "mg-supplement" in d.classes]
    drafted_interacting = [d for d in all_drafts if set(d.classes) & set(INTERACTING_CLASSES)]
    for code in sorted({DRAFT_WASTING[c] for d in wasting for c in d.classes if c in DRAFT_WASTING}):
        group = [d for d in wasting if any(DRAFT_WASTING.get(c) == code for c in d.classes)]
        findings.append(_draft_finding(code, group))
    if supplements:
        findings.append(_draft_finding("draft-mg-supplement", supplements))
    if drafted_interacting:
        findings.append(_draft_finding("draft-interacting-drug", drafted_interacting))

    topics: list[str] = []
    reasons: dict[str, tuple[str, ...]] = {}
    indicators: dict[str, Indicator] = {}
    drafts: dict[str, tuple[DraftOrder, ...]] = {}
    if wasting:
        why = [
            r
            for r, present in (
                ("mg-low", status is not None and status.state == "low"),
                ("digoxin", "digoxin" in codes),
                ("mg-unknown", status is None),
            )
            if present
        ]
        if why:
            topics.append("order-mg-wasting-drug")
            reasons["order-mg-wasting-drug"] = tuple(why)
            indicators["order-mg-wasting-drug"] = "warning" if {"mg-low", "digoxin"} & set(why) else "info"
            drafts["order-mg-wasting-drug"] = tuple(wasting)
    if supplements:
        why = _supplement_order_reasons(
            codes | ({"interacting-drug"} if drafted_interacting else set()), status, egfr, kb
        )
        if why:
            topics.append("order-mg-supplement")
            reasons["order-mg-supplement"] = tuple(why)
            indicators["order-mg-supplement"] = (
                "critical" if "egfr-contraindication" in why else "warning" if set(why) - {"egfr-unknown"} else "info"
            )
            drafts["order-mg-supplement"] = tuple(supplements)
    return Evaluation(
        now=now,
        record=record,
        mg=status,
        findings=tuple(findings),
        topics=tuple(topics),
        patient_reference=record.demographics.reference if record.demographics else None,
        egfr=egfr,
        reasons=reasons,
        indicators=indicators,
        drafts=drafts,
    )


def _draft_finding(code: str, drafts: Sequence[DraftOrder]) -> Finding:
    return Finding(
        DRAFT_ORDER,
        code,
        "Draft order: " + ", ".join(d.display or d.reference for d in drafts),
        tuple(d.evidence() for d in drafts),
        values={"matchedBy": sorted({how for d in drafts for how in d.classes.values()})},
    )


def _supplement_order_reasons(
    codes: set[str], status: MgStatus | None, egfr: LabResult | None, kb: KnowledgeBase
) -> list[str]:
    """Why a drafted magnesium product needs a card, most serious first; egfr-caution fires here too."""
    return _supplement_safety_reasons({"mg-supplement", *codes}, status, egfr, kb)


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


def is_low_by_lab(result: LabResult) -> bool:
    """Below the lab's own lower limit or flagged low: no numbers of ours for K and Ca."""
    below = result.range_low is not None and result.value < result.range_low and result.comparator not in (">", ">=")
    return below or bool(result.interpretation & LOW_FLAGS)


class _Rules:
    """The per-category rules, over one record at one moment."""

    def __init__(self, record: PatientRecord, kb: KnowledgeBase, now: datetime) -> None:
        self.record = record
        self.kb = kb
        self.now = now
        self.med_lookback = timedelta(days=kb.threshold("medication-lookback-days"))
        self.lab_lookback = kb.threshold("lab-lookback-days")

    # -- data access ---------------------------------------------------------------------------------
    def latest(self, analyte: str, lookback_days: float, findings: list[Finding]) -> LabResult | None:
        """Most recent result within the lookback; future-dated results are reported and skipped."""
        for result in self.record.labs_for(analyte):
            if result.effective > self.now + FUTURE_TOLERANCE:
                findings.append(
                    Finding(
                        "data-quality",
                        "result-in-future",
                        "A result is dated in the future; ignored.",
                        (result.evidence(),),
                    )
                )
                continue
            return result if result.effective >= self.now - timedelta(days=lookback_days) else None
        return None

    def exposures(self, classes: Iterable[str]) -> list[MedicationUse]:
        """Current medications of these classes, and completed ones that ended within the lookback.

        Draft orders (MedicationRequest.status = draft) are not exposure: the order hooks judge them.
        """
        wanted = set(classes)
        out = []
        for m in self.record.medications:
            if not wanted & set(m.classes):
                continue
            if m.status in CURRENT_MEDICATION_STATUS:
                out.append(m)
            elif m.status == "completed":
                last = m.end or m.start
                if last is not None and last >= self.now - self.med_lookback:
                    out.append(m)
        return sorted(out, key=lambda m: (m.start is None, m.start or self.now, m.reference))

    def active_conditions(self, classes: Iterable[str]) -> list[ConditionFact]:
        wanted = set(classes)
        out = [c for c in self.record.conditions if c.active and wanted & set(c.classes)]
        return sorted(out, key=lambda c: (c.onset is None, c.onset or self.now, c.reference))

    # -- categories ----------------------------------------------------------------------------------
    def risk_factors(self, findings: list[Finding]) -> list[Finding]:
        out: list[Finding] = []
        ppi = self._ppi(findings)
        if ppi:
            out.append(ppi)
        out += self._medication_finding(
            RISK_FACTOR,
            "diuretic",
            ["loop-diuretic", "thiazide-diuretic"],
            "Loop or thiazide diuretic",
            strength=STRONG,
        )
        out += self._medication_finding(
            RISK_FACTOR, "mg-wasting-drug", ["mg-wasting-drug"], "Magnesium-wasting drug", strength=STRONG
        )
        alcohol = self._alcohol(findings)
        if alcohol:
            out.append(alcohol)
        out += self._condition_finding(RISK_FACTOR, "gi-malabsorption", ["gi-malabsorption"], strength=STRONG)
        older = self._older_age()
        if older:
            out.append(older)
        out += self._condition_finding(RISK_FACTOR, "type-2-diabetes", ["type-2-diabetes"], strength=CONTEXTUAL)
        return out

    def leg_symptoms(self) -> list[Finding]:
        out: list[Finding] = []
        for cls in LEG_SYMPTOM_CLASSES:
            out += self._condition_finding(LEG_SYMPTOM, cls, [cls])
        return out

    def differentials(self) -> list[Finding]:
        out: list[Finding] = []
        for cls in DIFFERENTIAL_CONDITIONS:
            evidence_conditions = self.active_conditions([cls])
            extra: list[Evidence] = []
            values: dict[str, Any] = {}
            if cls == "pad":
                abi = self.latest("ankle-brachial-index", self.lab_lookback, [])
                if abi is not None and abi.value <= self.kb.threshold("abi-abnormal"):
                    extra.append(abi.evidence())
                    values = {"abi": abi.value, "abiMatchedBy": "name"}
            if evidence_conditions or extra:
                out.append(
                    _finding(
                        DIFFERENTIAL,
                        cls,
                        self.kb.conditions[cls].display,
                        evidence_conditions,
                        extra=extra,
                        values=values,
                    )
                )
        statin_meds = [m for m in self.exposures(["statin"]) if m.status in CURRENT_MEDICATION_STATUS]
        statin_conditions = self.active_conditions(["statin-myopathy"])
        if statin_meds or statin_conditions:
            evidence = [m.evidence() for m in statin_meds] + [c.evidence() for c in statin_conditions]
            since = _earliest([m.start for m in statin_meds] + [c.onset for c in statin_conditions])
            out.append(
                Finding(
                    DIFFERENTIAL,
                    "statin",
                    "Statin use or statin-associated muscle symptoms",
                    tuple(evidence),
                    since.date() if since else None,
                    {"matchedBy": _matched_by([*statin_meds, *statin_conditions])},
                )
            )
        return out

    def safety(self, egfr: LabResult | None, findings: list[Finding]) -> list[Finding]:
        out: list[Finding] = []
        if egfr is not None:
            values = {"value": egfr.value, "unit": egfr.unit, "date": as_utc_date(egfr.effective)}
            if egfr.comparator:
                values["comparator"] = egfr.comparator
            out.append(
                Finding(
                    SAFETY,
                    "egfr",
                    f"Latest eGFR {egfr.comparator or ''}{egfr.value:g} {egfr.unit}".strip(),
                    (egfr.evidence(),),
                    values=values,
                )
            )
            if _egfr_below(egfr, self.kb.threshold("egfr-caution")):
                out.append(
                    Finding(
                        SAFETY,
                        "egfr-low",
                        f"eGFR below {self.kb.threshold('egfr-caution'):g}",
                        (egfr.evidence(),),
                        values=values,
                    )
                )
        for code, analyte in (("hypokalemia", "potassium"), ("hypocalcemia", "calcium")):
            lab = self.latest(analyte, self.lab_lookback, findings)
            low_lab = [lab.evidence()] if lab is not None and is_low_by_lab(lab) else []
            conditions = self.active_conditions([code])
            if low_lab or conditions:
                out.append(
                    _finding(
                        SAFETY,
                        code,
                        self.kb.conditions[code].display,
                        conditions,
                        extra=low_lab,
                        values={"labValue": lab.value, "labUnit": lab.unit} if low_lab and lab else {},
                    )
                )
        out += self._medication_finding(SAFETY, "digoxin", ["digoxin"], "Digoxin", current_only=True)
        out += self._medication_finding(
            SAFETY,
            "mg-supplement",
            ["mg-supplement"],
            "Magnesium supplement or magnesium-containing product",
            current_only=True,
        )
        out += self._medication_finding(
            SAFETY, "interacting-drug", INTERACTING_CLASSES, "Drug that chelates with oral magnesium", current_only=True
        )
        return out

    # -- helpers -------------------------------------------------------------------------------------
    def _ppi(self, findings: list[Finding]) -> Finding | None:
        meds = self.exposures(["ppi"])
        if not meds:
            return None
        since = _earliest(m.start for m in meds)
        if since is None:
            findings.append(
                Finding(
                    "data-quality",
                    "ppi-start-unknown",
                    "A proton pump inhibitor has no start date; its duration cannot be judged.",
                    tuple(m.evidence() for m in meds),
                )
            )
            return None
        current = any(m.status in CURRENT_MEDICATION_STATUS for m in meds)
        until = self.now if current else max((m.end or m.start or self.now) for m in meds)
        days = (until - since).days
        if days < self.kb.threshold("ppi-min-days"):
            return None
        long_term = days >= self.kb.threshold("ppi-long-term-days")
        months = days // 30
        display = f"Proton pump inhibitor for {months} months" + (" (long-term)" if long_term else "")
        return Finding(
            RISK_FACTOR,
            "ppi",
            display,
            tuple(m.evidence() for m in meds),
            since.date(),
            {"strength": STRONG, "durationDays": days, "longTerm": long_term, "matchedBy": _matched_by(meds)},
        )

    def _alcohol(self, findings: list[Finding]) -> Finding | None:
        conditions = self.active_conditions(["alcohol-use-disorder"])
        extra: list[Evidence] = []
        values: dict[str, Any] = {"strength": STRONG}
        audit = self.latest("audit-c", self.lab_lookback, findings)
        if audit is not None:
            gender = self.record.demographics.gender if self.record.demographics else None
            cutoff = self.kb.threshold("audit-c-positive-male" if gender == "male" else "audit-c-positive-female")
            if audit.value >= cutoff:
                extra.append(audit.evidence())
                values.update({"auditC": audit.value, "auditCCutoff": cutoff})
        if not conditions and not extra:
            return None
        return _finding(
            RISK_FACTOR, "alcohol", "Alcohol use disorder or hazardous drinking", conditions, extra=extra, values=values
        )

    def _older_age(self) -> Finding | None:
        demo = self.record.demographics
        if demo is None or demo.birth_date is None:
            return None
        at = min(self.now, demo.deceased) if demo.deceased else self.now
        age = at.year - demo.birth_date.year - ((at.month, at.day) < (demo.birth_date.month, demo.birth_date.day))
        if age < self.kb.threshold("older-age-years"):
            return None
        return Finding(
            RISK_FACTOR,
            "older-age",
            f"Age {age}",
            (Evidence(demo.reference, "Patient.birthDate", demo.birth_date.isoformat()),),
            values={"strength": CONTEXTUAL, "ageYears": age},
        )

    def _medication_finding(
        self,
        category: str,
        code: str,
        classes: Sequence[str],
        display: str,
        *,
        strength: str | None = None,
        current_only: bool = False,
    ) -> list[Finding]:
        meds = self.exposures(classes)
        if current_only:
            meds = [m for m in meds if m.status in CURRENT_MEDICATION_STATUS]
        if not meds:
            return []
        values: dict[str, Any] = {"matchedBy": _matched_by(meds)}
        if strength:
            values["strength"] = strength
        since = _earliest(m.start for m in meds)
        return [
            Finding(category, code, display, tuple(m.evidence() for m in meds), since.date() if since else None, values)
        ]

    def _condition_finding(
        self, category: str, code: str, classes: Sequence[str], *, strength: str | None = None
    ) -> list[Finding]:
        conditions = self.active_conditions(classes)
        if not conditions:
            return []
        values: dict[str, Any] = {"strength": strength} if strength else {}
        return [_finding(category, code, self.kb.conditions[classes[0]].display, conditions, extra=[], values=values)]


def _finding(
    category: str,
    code: str,
    display: str,
    conditions: Sequence[ConditionFact],
    *,
    extra: Sequence[Evidence],
    values: dict[str, Any],
) -> Finding:
    since = _earliest(c.onset for c in conditions)
    if conditions:
        values = {**values, "matchedBy": _matched_by(conditions)}
    return Finding(
        category,
        code,
        display,
        tuple(c.evidence() for c in conditions) + tuple(extra),
        since.date() if since else None,
        values,
    )


def _matched_by(items: Sequence[MedicationUse | ConditionFact]) -> list[str]:
    return sorted({how for item in items for how in item.classes.values()})


def _earliest(moments: Iterable[datetime | None]) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _egfr_below(egfr: LabResult, threshold: float) -> bool:
    return egfr.value < threshold and egfr.comparator not in (">", ">=")


def _supplement_safety_reasons(
    codes: set[str], status: MgStatus | None, egfr: LabResult | None, kb: KnowledgeBase
) -> list[str]:
    """Why an active magnesium product is a concern, most serious first (phrase keys in cards.yaml)."""
    if "mg-supplement" not in codes:
        return []
    reasons = []
    if egfr is not None and _egfr_below(egfr, kb.threshold("egfr-contraindication")):
        reasons.append("egfr-contraindication")
    elif egfr is not None and _egfr_below(egfr, kb.threshold("egfr-caution")):
        reasons.append("egfr-caution")
    if status is not None and status.state == "high":
        reasons.append("mg-high")
    if "interacting-drug" in codes:
        reasons.append("interacting-drug")
    if egfr is None:
        reasons.append("egfr-unknown")
    return reasons


def _mg_finding(status: MgStatus) -> Finding:
    r = status.result
    return Finding(
        category="serum-magnesium",
        code=f"serum-mg-{status.state}",
        display=f"Serum magnesium {status.mmol:.2f} mmol/L: {status.band.label}",
        evidence=(r.evidence(),),
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
