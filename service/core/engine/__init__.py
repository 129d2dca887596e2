"""The rules engine: from a PatientRecord to findings and card decisions, with an injected `now`.

No I/O and no Flask: given the same record, knowledge base and `now`, it always returns the same answer.
Which category a code belongs to, every cut-off and every sentence is data (rules/); what they mean for
the cards is here, one module per clinical concern:

- context: current results, medications and conditions; renal function and pregnancy from every source
- signals: risk factors, leg symptoms, other causes and red flags, as findings
- magnesium: the serum magnesium reading and its card (low, low-normal, normal, high, obstetric, unreadable,
  not measured)
- legs: the red-flag and other-causes cards
- safety: a magnesium product taken now with renal failure or chelating drugs
- orders: order-select / order-sign
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..fhirdata import PatientRecord
from ..knowledge import KnowledgeBase
from ..model import Finding
from ..orders import DraftOrder
from ..units import MgConverter
from .context import Context, LabPick, earliest, evidence_of
from .decision import Decision, Evaluation, Fact
from .legs import differential_decision, red_flag_decision
from .magnesium import MgContext, MgStatus, decide, interpret_mg, mg_finding
from .orders import DRAFT_WASTING, ORDER_JUDGED_CLASSES, supplement_order, wasting_order
from .safety import CHELATING_CLASSES, chelating, supplement_decision
from .signals import (
    DIFFERENTIAL,
    LEG_SYMPTOM,
    RED_FLAG,
    RISK_FACTOR,
    SAFETY,
    differentials,
    leg_symptoms,
    red_flags,
    risk_factors,
)

__all__ = [
    "DIFFERENTIAL",
    "LEG_SYMPTOM",
    "ORDER_JUDGED_CLASSES",
    "RED_FLAG",
    "RISK_FACTOR",
    "SAFETY",
    "Decision",
    "Evaluation",
    "Fact",
    "MgStatus",
    "evaluate",
    "evaluate_orders",
    "interpret_mg",
]


def _magnesium(ctx: Context, findings: list[Finding]) -> tuple[LabPick, MgStatus | None]:
    pick = ctx.lab("serum-magnesium", "serum-mg-lookback-days")
    status = interpret_mg(pick.result, ctx.kb, ctx.mg) if pick.result is not None else None
    if status is not None:
        findings.append(mg_finding(status, ctx.mg))
        if status.state == "indeterminate":
            findings.append(
                Finding(
                    "data-quality",
                    "result-indeterminate",
                    "A serum magnesium reported with a comparator cannot be placed in a band.",
                    (status.result.evidence(),),
                )
            )
        if status.flag_conflict:
            findings.append(
                Finding(
                    "data-quality",
                    "lab-flag-disagrees",
                    f"The lab flagged the result {status.flag_conflict}, which its value does not support; "
                    "the value was used.",
                    (status.result.evidence(),),
                )
            )
    for u in pick.unreadable:
        findings.append(
            Finding(
                "data-quality",
                "serum-mg-unreadable",
                f"A serum magnesium result could not be read: {u.problem}.",
                (u.evidence(),),
            )
        )
    for other in ctx.record.labs_for("non-serum-magnesium"):
        findings.append(
            Finding(
                "data-quality",
                "non-serum-magnesium",
                "Red-cell or whole-blood magnesium is not serum magnesium and was not interpreted as such.",
                (other.evidence(),),
            )
        )
    return pick, status


def _safety_findings(ctx: Context) -> list[Finding]:
    """Machine-readable safety context: renal function, electrolytes, digoxin, products, chelating drugs."""
    out: list[Finding] = []
    renal = ctx.renal
    if renal.egfr is not None:
        e = renal.egfr
        values = {"value": e.value, "unit": e.unit, "date": e.effective.date().isoformat()}
        if e.comparator:
            values["comparator"] = e.comparator
        out.append(
            Finding(
                SAFETY,
                "egfr",
                f"Latest eGFR {e.comparator or ''}{e.value:g} {e.unit}".strip(),
                (e.evidence(),),
                values=values,
            )
        )
        if renal.impaired and e.value < ctx.kb.threshold("egfr-caution"):
            out.append(
                Finding(
                    SAFETY,
                    "egfr-low",
                    f"eGFR below {ctx.kb.threshold('egfr-caution'):g}",
                    (e.evidence(),),
                    values=values,
                )
            )
    if renal.dialysis is not None:
        out.append(Finding(SAFETY, "dialysis", "On dialysis", (renal.dialysis.evidence(),)))
    if renal.failure:
        sources = [x for x in (renal.dialysis, renal.severe_ckd) if x is not None]
        out.append(
            Finding(
                SAFETY,
                "renal-failure",
                "Renal failure (eGFR below 30, CKD stage 4-5/ESRD or dialysis)",
                evidence_of(sources) + ((renal.egfr.evidence(),) if renal.egfr is not None else ()),
            )
        )
    for code, lab in (("hypokalemia", ctx.low_potassium()), ("hypocalcemia", ctx.low_calcium())):
        conditions = ctx.current_conditions([code])
        if lab is not None or conditions:
            values = {"labValue": lab.value, "labUnit": lab.unit} if lab is not None else {}
            out.append(
                Finding(
                    SAFETY,
                    code,
                    ctx.kb.conditions[code].display,
                    evidence_of(conditions) + ((lab.evidence(),) if lab else ()),
                    values=values,
                )
            )
    for code, classes, display in (
        ("digoxin", ["digoxin"], "Digoxin"),
        ("qt-drug", ["qt-drug"], "QT-prolonging drug"),
        ("mg-supplement", ["mg-supplement"], "Magnesium supplement or magnesium-containing product"),
    ):
        meds = ctx.current(classes)
        if meds:
            since = earliest(m.start for m in meds)
            out.append(Finding(SAFETY, code, display, evidence_of(meds), since.date() if since else None))
    partners = chelating(ctx)
    if partners:
        out.append(Finding(SAFETY, "interacting-drug", "Drug that chelates with oral magnesium", evidence_of(partners)))
    if ctx.mgso4_infusion and ctx.pregnancy is not None:
        out.append(
            Finding(
                SAFETY, "mgso4-therapy", "Pregnant, on parenteral magnesium sulfate", evidence_of(ctx.mgso4_infusion)
            )
        )
    hypomg = ctx.current_conditions(["hypomagnesemia"])
    if hypomg:
        out.append(Finding(SAFETY, "hypomagnesemia", "Hypomagnesemia (diagnosis)", evidence_of(hypomg)))
    return out


def evaluate(record: PatientRecord, kb: KnowledgeBase, mg: MgConverter, now: datetime) -> Evaluation:
    """Apply the knowledge base to one patient's record at `now` (an aware datetime)."""
    ctx = Context(record, kb, mg, now)
    findings: list[Finding] = list(record.issues)
    pick, status = _magnesium(ctx, findings)
    risks = risk_factors(ctx)
    symptoms = leg_symptoms(ctx)
    others = differentials(ctx)
    flags = red_flags(ctx, symptoms)
    findings += [s.finding for s in (*risks, *symptoms, *others, *flags)]
    # A symptom a red flag claims (calf pain with swelling, a cold leg) is not offered a benign magnesium
    # or other-cause explanation beside the red-flag card.
    claimed = {i.reference for f in flags for i in f.items}
    free = [s for s in symptoms if not {i.reference for i in s.items} <= claimed]
    findings += _safety_findings(ctx)
    decisions = [
        red_flag_decision(ctx, flags),
        decide(ctx, pick, status, MgContext(risks, free, others)),
        differential_decision(ctx, free, others, flags),
        supplement_decision(ctx, status),
    ]
    findings += ctx.issues
    return Evaluation(
        now=now,
        record=record,
        findings=tuple(findings),
        decisions=tuple(d for d in decisions if d is not None),
        patient_reference=record.demographics.reference if record.demographics else None,
    )


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
    ctx = Context(record, kb, mg, now)
    findings: list[Finding] = list(record.issues)
    _, status = _magnesium(ctx, findings)
    findings += _safety_findings(ctx)
    wasting = [d for d in judged if set(d.classes) & set(DRAFT_WASTING)]
    supplements = [d for d in judged if "mg-supplement" in d.classes]
    for code in sorted({DRAFT_WASTING[c] for d in wasting for c in d.classes if c in DRAFT_WASTING}):
        group = [d for d in wasting if any(DRAFT_WASTING.get(c) == code for c in d.classes)]
        findings.append(_draft_finding(code, group))
    if supplements:
        findings.append(_draft_finding("draft-mg-supplement", supplements))
    interacting = [d for d in all_drafts if set(d.classes) & set(CHELATING_CLASSES)]
    if interacting:
        findings.append(_draft_finding("draft-interacting-drug", interacting))
    decisions = [
        supplement_order(ctx, supplements, all_drafts, status) if supplements else None,
        wasting_order(ctx, wasting, status) if wasting else None,
    ]
    findings += ctx.issues
    return Evaluation(
        now=now,
        record=record,
        findings=tuple(findings),
        decisions=tuple(d for d in decisions if d is not None),
        patient_reference=record.demographics.reference if record.demographics else None,
    )


def _draft_finding(code: str, drafts: Sequence[DraftOrder]) -> Finding:
    values: dict[str, object] = {"matchedBy": sorted({how for d in drafts for how in d.classes.values()})}
    routes = sorted({d.route for d in drafts if d.route})
    if routes:
        values["route"] = routes
    return Finding("draft-order", code, "Draft order", tuple(d.evidence() for d in drafts), values=values)
