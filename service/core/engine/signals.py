"""What the record says about the patient: magnesium-loss risk factors, leg symptoms, other causes of the
symptoms and red flags. Each signal is a machine-readable finding plus the Why-lines a card shows for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..fhirdata import ConditionFact, MedicationUse
from ..model import Evidence, Finding, Indicator
from .context import CONTEXTUAL, STRONG, Context, earliest, evidence_of, facts_of, matched_by
from .decision import Fact

RISK_FACTOR, LEG_SYMPTOM, DIFFERENTIAL, SAFETY, RED_FLAG = (
    "risk-factor",
    "leg-symptom",
    "differential",
    "safety",
    "red-flag",
)
# Symptoms that make magnesium worth looking at (seeds 000 and 002: cramps, restless legs, spasm, aches,
# twitching, numbness and tingling); weakness and fatigue are too unspecific to count on their own.
COUNTED_SYMPTOMS = (
    "leg-cramps",
    "restless-legs",
    "muscle-spasm",
    "leg-pain",
    "calf-pain",
    "fasciculation",
    "paraesthesia",
)
CONTEXTUAL_SYMPTOMS = ("weakness-fatigue",)
DIFFERENTIAL_CONDITIONS = (
    "pad",
    "claudication",
    "venous-insufficiency",
    "neuropathy",
    "radiculopathy",
    "dehydration",
    "ckd",
    "cirrhosis",
    "hypothyroidism",
)
WASTING_DIURETICS = ("loop-diuretic", "thiazide-diuretic")


@dataclass(frozen=True, slots=True)
class Signal:
    """A finding and the facts (Why-lines) that show it on a card."""

    finding: Finding
    facts: tuple[Fact, ...]
    items: tuple[MedicationUse | ConditionFact, ...] = ()
    indicator: Indicator | None = None  # red flags only

    @property
    def code(self) -> str:
        return self.finding.code

    @property
    def strong(self) -> bool:
        return self.finding.values.get("strength") == STRONG


def _signal(
    ctx: Context,
    category: str,
    code: str,
    display: str,
    items: Sequence[MedicationUse | ConditionFact],
    *,
    values: dict[str, Any] | None = None,
    extra: Sequence[Evidence] = (),
    facts: Sequence[Fact] = (),
    indicator: Indicator | None = None,
) -> Signal:
    since = earliest(getattr(i, "start", None) if isinstance(i, MedicationUse) else i.onset for i in items)
    vals = dict(values or {})
    if items:
        vals["matchedBy"] = matched_by(items)
    finding = Finding(category, code, display, evidence_of(items) + tuple(extra), since.date() if since else None, vals)
    return Signal(finding, tuple(facts_of(items, ctx.now)) + tuple(facts), tuple(items), indicator)


def risk_factors(ctx: Context) -> list[Signal]:
    out: list[Signal] = []
    ppi = _ppi(ctx)
    if ppi is not None:
        out.append(ppi)
    for code, classes, display in (
        ("diuretic", WASTING_DIURETICS, "Loop or thiazide diuretic"),
        ("mg-wasting-drug", ("mg-wasting-drug",), "Magnesium-wasting drug"),
    ):
        meds = ctx.current(classes)
        if meds:
            out.append(_signal(ctx, RISK_FACTOR, code, display, meds, values={"strength": STRONG}))
    alcohol = _alcohol(ctx)
    if alcohol is not None:
        out.append(alcohol)
    for code, strength in (
        ("gi-malabsorption", STRONG),
        ("malnutrition", STRONG),
        ("refeeding", STRONG),
        ("hungry-bone", STRONG),
        ("functional-diarrhoea", CONTEXTUAL),
        ("type-2-diabetes", CONTEXTUAL),
    ):
        conditions = ctx.current_conditions([code])
        if conditions:
            out.append(
                _signal(
                    ctx, RISK_FACTOR, code, ctx.kb.conditions[code].display, conditions, values={"strength": strength}
                )
            )
    age = ctx.age
    if age is not None and ctx.adult and age >= ctx.kb.threshold("older-age-years"):
        demo = ctx.record.demographics
        reference = demo.reference if demo else "Patient"
        born = demo.birth_date.isoformat() if demo and demo.birth_date else None
        out.append(
            Signal(
                Finding(
                    RISK_FACTOR,
                    "older-age",
                    f"Age {age}",
                    (Evidence(reference, "Patient.birthDate", born),),
                    values={"strength": CONTEXTUAL, "ageYears": age},
                ),
                (Fact("age", {"age": str(age)}),),
            )
        )
    return out


def _ppi(ctx: Context) -> Signal | None:
    """A PPI taken now for at least the minimum duration; short courses and H. pylori packs do not count."""
    meds = [
        m
        for m in ctx.current(["ppi"])
        if "h-pylori-pack" not in m.classes
        and not (m.supply_days is not None and m.supply_days <= ctx.kb.threshold("short-course-days") and m.end)
    ]
    if not meds:
        return None
    since = earliest(m.start for m in meds)
    if since is None:
        ctx.issues.append(
            Finding(
                "data-quality",
                "ppi-start-unknown",
                "A proton pump inhibitor has no start date; its duration cannot be judged.",
                evidence_of(meds),
            )
        )
        return None
    days = (ctx.now - since).days
    if days < ctx.kb.threshold("ppi-min-days"):
        return None
    long_term = days >= ctx.kb.threshold("ppi-long-term-days")
    display = f"Proton pump inhibitor for {days // 30} months" + (" (long-term)" if long_term else "")
    return _signal(
        ctx,
        RISK_FACTOR,
        "ppi",
        display,
        meds,
        values={"strength": STRONG, "durationDays": days, "longTerm": long_term},
    )


def _alcohol(ctx: Context) -> Signal | None:
    """A current alcohol use disorder (strong), or an AUDIT-C score: high band strong, positive contextual."""
    conditions = ctx.current_conditions(["alcohol-use-disorder"])
    audit = ctx.lab("audit-c").result
    facts: list[Fact] = []
    extra: list[Evidence] = []
    values: dict[str, Any] = {}
    strength = STRONG if conditions else None
    if audit is not None:
        gender = ctx.record.demographics.gender if ctx.record.demographics else None
        cutoff = ctx.kb.threshold("audit-c-positive-male" if gender == "male" else "audit-c-positive-female")
        if audit.value >= cutoff:
            extra.append(audit.evidence())
            facts.append(Fact("audit-c", {"score": f"{audit.value:g}", "date": audit.effective.date().isoformat()}))
            values.update({"auditC": audit.value, "auditCCutoff": cutoff})
            if audit.value >= ctx.kb.threshold("audit-c-high"):
                strength = STRONG
            elif strength is None:
                strength = CONTEXTUAL
    if strength is None:
        return None
    values["strength"] = strength
    display = "Alcohol use disorder" if conditions else "Hazardous drinking (AUDIT-C)"
    return _signal(ctx, RISK_FACTOR, "alcohol", display, conditions, values=values, extra=extra, facts=facts)


def leg_symptoms(ctx: Context) -> list[Signal]:
    out = []
    for code in (*COUNTED_SYMPTOMS, *CONTEXTUAL_SYMPTOMS):
        found = ctx.current_symptoms([code])
        if found:
            values = {"strength": CONTEXTUAL} if code in CONTEXTUAL_SYMPTOMS else {}
            out.append(_signal(ctx, LEG_SYMPTOM, code, ctx.kb.conditions[code].display, found, values=values))
    return out


def counted(symptoms: Sequence[Signal]) -> list[Signal]:
    return [s for s in symptoms if s.code in COUNTED_SYMPTOMS]


def differentials(ctx: Context) -> list[Signal]:
    """Other causes of leg symptoms in the record; the ABI is shown whenever one is on file."""
    out: list[Signal] = []
    abi = ctx.lab("ankle-brachial-index").result
    for code in DIFFERENTIAL_CONDITIONS:
        found = ctx.current_conditions([code])
        extra: list[Evidence] = []
        facts: list[Fact] = []
        values: dict[str, Any] = {}
        if code == "pad" and abi is not None:
            facts.append(Fact("abi", {"value": f"{abi.value:.2f}", "date": abi.effective.date().isoformat()}))
            values = {"abi": abi.value, "abiMatchedBy": "name"}
            if abi.value <= ctx.kb.threshold("abi-abnormal"):
                extra.append(abi.evidence())
        if found or extra:
            out.append(
                _signal(
                    ctx,
                    DIFFERENTIAL,
                    code,
                    ctx.kb.conditions[code].display,
                    found,
                    values=values,
                    extra=extra,
                    facts=facts,
                )
            )
    statins = ctx.current(["statin"])
    sams = ctx.current_conditions(["statin-myopathy"])
    if statins or sams:
        out.append(
            _signal(ctx, DIFFERENTIAL, "statin", "Statin use or statin-associated muscle symptoms", [*statins, *sams])
        )
    pregnancy = ctx.pregnancy
    if isinstance(pregnancy, ConditionFact):
        out.append(_signal(ctx, DIFFERENTIAL, "pregnancy", "Pregnancy", [pregnancy]))
    elif pregnancy is not None:
        out.append(
            Signal(
                Finding(DIFFERENTIAL, "pregnancy", "Pregnancy", (pregnancy.evidence(),)),
                (
                    Fact(
                        "pregnancy-status",
                        {"answer": pregnancy.value_text or "", "date": pregnancy.effective.date().isoformat()},
                    ),
                ),
            )
        )
    return out


def red_flags(ctx: Context, symptoms: Sequence[Signal]) -> list[Signal]:
    """Seed 002's "see a doctor" signs and the guideline emergencies, most urgent first."""
    out: list[Signal] = []
    ali = ctx.current_symptoms(["acute-limb-ischaemia"])
    if ali:
        out.append(
            _signal(
                ctx,
                RED_FLAG,
                "red-flag-acute-limb-ischaemia",
                "Signs of acute limb ischaemia",
                ali,
                indicator="critical",
            )
        )
    swelling = ctx.current_symptoms(["leg-swelling"])
    calf = ctx.current_symptoms(["calf-pain"])
    pain = [s for s in symptoms if s.code in ("leg-pain", "calf-pain")]
    one_sided = [s for s in swelling if s.laterality in ("left", "right", "unilateral")]
    if calf or one_sided or (swelling and pain):
        items = [*one_sided, *calf] or [*swelling, *(i for s in pain for i in s.items if isinstance(i, ConditionFact))]
        out.append(
            _signal(
                ctx,
                RED_FLAG,
                "red-flag-dvt",
                "Calf pain or one-sided leg swelling: possible DVT",
                items,
                indicator="warning",
            )
        )
    clti = ctx.current_symptoms(["limb-threatening-ischaemia"])
    if clti:
        out.append(
            _signal(
                ctx,
                RED_FLAG,
                "red-flag-limb-threatening-ischaemia",
                "Ischaemic rest pain, ulcer or gangrene",
                clti,
                indicator="warning",
            )
        )
    return out
