"""Serum magnesium: interpret the latest readable result and decide the magnesium-status card.

Thresholds, bands and the obstetric range are data (rules/thresholds.yaml). When the lab gives a range,
the lab decides low vs not low and high vs not high; the evidence bands add the low-normal reading.
A lab flag never overrides the number: a disagreement is reported, not obeyed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from ..fhirdata import LabResult, MedicationUse, UnreadableResult
from ..knowledge import IONISED_CALCIUM_CODES, Band, KnowledgeBase
from ..model import Finding
from ..units import MEQ_PER_L, MG_PER_DL, MgConverter
from .context import Context, LabPick, day, drug_fact
from .decision import Decision, Fact
from .signals import Signal, counted

# Observation.interpretation codes (v3-ObservationInterpretation) that flag low / high results.
LOW_FLAGS = frozenset({"L", "LL", "LU"})
HIGH_FLAGS = frozenset({"H", "HH", "HU"})
_PRECISION = 4  # decimal places compared, so 2.07 mg/dL is not "below 0.85" by a rounding hair
_BELOW = 1e-9  # "< x" is banded just below x
SYMPTOMATIC_CONDITIONS = ("tetany", "arrhythmia", "seizure")
CORRECTED_CALCIUM = "29265-6"  # Calcium corrected for albumin (clinical reference §1b)


@dataclass(frozen=True, slots=True)
class MgStatus:
    """The reading of one serum magnesium result."""

    state: str  # low | low-normal | normal | upper-normal | high | indeterminate
    result: LabResult
    mmol: float
    band: Band
    by_lab: bool  # the lab's own range decided low/high
    critical_high: bool
    flag_conflict: str | None  # the lab flag, when it disagrees with the number


def interpret_mg(result: LabResult, kb: KnowledgeBase, mg: MgConverter) -> MgStatus:
    """Read one serum Mg result against the lab's range, then the evidence bands."""
    mmol = round(mg.to_mmol(result.value, result.unit), _PRECISION)
    low_lab = _mmol(result.range_low, result.unit, mg)
    high_lab = _mmol(result.range_high, result.unit, mg)
    low_limit = low_lab if low_lab is not None else kb.threshold("serum-mg-low")
    high_limit = high_lab if high_lab is not None else kb.threshold("serum-mg-default-upper")
    banded = mmol - _BELOW if result.comparator in ("<", "<=") else mmol
    if result.comparator in ("<", "<="):
        # "< x": only known to be below x, so it is low only when x itself is at or below the low limit.
        state = "low" if mmol <= low_limit or mmol <= kb.threshold("serum-mg-critical-low") else "indeterminate"
    elif result.comparator in (">", ">="):
        # "> x": at least x; never low.
        state = "high" if mmol >= high_limit else "indeterminate"
    elif mmol < kb.threshold("serum-mg-critical-low") or mmol < low_limit:
        state = "low"
    elif mmol > high_limit:
        state = "high"
    elif mmol < kb.threshold("serum-mg-low-normal-upper"):
        state = "low-normal"
    elif mmol >= kb.threshold("serum-mg-upper-normal"):
        state = "upper-normal"
    else:
        state = "normal"
    band = next((b for b in kb.serum_mg_bands if b.below_mmol is None or banded < b.below_mmol), kb.serum_mg_bands[-1])
    flags = result.interpretation
    conflict = None
    if flags & LOW_FLAGS and state != "low":
        conflict = "/".join(sorted(flags & LOW_FLAGS))
    elif flags & HIGH_FLAGS and state != "high":
        conflict = "/".join(sorted(flags & HIGH_FLAGS))
    return MgStatus(
        state,
        result,
        mmol,
        band,
        by_lab=(low_lab is not None if state in ("low", "low-normal") else high_lab is not None),
        critical_high=state == "high" and mmol > kb.threshold("serum-mg-critical-high"),
        flag_conflict=conflict,
    )


def _mmol(value: float | None, unit: str, mg: MgConverter) -> float | None:
    return round(mg.to_mmol(value, unit), _PRECISION) if value is not None else None


def mg_values(status: MgStatus, mg: MgConverter) -> dict[str, str]:
    """Plain-text renderings of the value: as reported first, then converted."""
    r = status.result
    sign = {"<": "< ", "<=": "≤ ", ">": "> ", ">=": "≥ "}.get(r.comparator or "", "")
    mmol, mgdl = status.mmol, mg.from_mmol(status.mmol, MG_PER_DL)
    meq = mg.from_mmol(status.mmol, MEQ_PER_L)
    if r.unit == MG_PER_DL:
        short = f"{sign}{r.value:g} mg/dL ({sign}{mmol:.2f} mmol/L)"
    else:
        short = f"{sign}{mmol:.2f} mmol/L ({sign}{mgdl:.2f} mg/dL)"
    return {
        "mg": short,
        "mg_all": f"{sign}{mmol:.2f} mmol/L = {sign}{mgdl:.2f} mg/dL = {sign}{meq:.2f} mEq/L",
        "mg_date": day(r.effective),
        "mg_range": lab_range_text(r),
        "band": status.band.label,
    }


def lab_range_text(r: LabResult) -> str:
    unit = display_unit(r.unit)
    if r.range_low is not None and r.range_high is not None:
        return f"{r.range_low:g}–{r.range_high:g} {unit}"
    if r.range_low is not None:
        return f"≥ {r.range_low:g} {unit}"
    if r.range_high is not None:
        return f"≤ {r.range_high:g} {unit}"
    return r.range_text or "not given by the lab"


_UNITS = {"mL/min/{1.73_m2}": "mL/min/1.73 m²", "meq/L": "mEq/L", "{score}": "", "1": ""}


def display_unit(unit: str) -> str:
    """A UCUM code as a clinician reads it (mL/min/{1.73_m2} → mL/min/1.73 m²)."""
    return _UNITS.get(unit, unit)


def mg_finding(status: MgStatus, mg: MgConverter) -> Finding:
    r = status.result
    values: dict[str, object] = {
        "mmolPerL": round(status.mmol, 3),
        "mgPerDL": round(mg.from_mmol(status.mmol, MG_PER_DL), 2),
        "meqPerL": round(mg.from_mmol(status.mmol, MEQ_PER_L), 2),
        "reported": {"value": r.value, "unit": r.unit, **({"comparator": r.comparator} if r.comparator else {})},
        "decidedBy": "lab-range" if status.by_lab else "evidence-bands",
        "band": status.band.label,
    }
    if status.flag_conflict:
        values["labFlag"] = status.flag_conflict
    return Finding(
        "serum-magnesium",
        f"serum-mg-{status.state}",
        f"Serum magnesium {status.mmol:.2f} mmol/L: {status.band.label}",
        (r.evidence(),),
        values=values,
    )


@dataclass(frozen=True, slots=True)
class MgContext:
    """What the magnesium decision reads besides the value itself."""

    risks: Sequence[Signal]
    symptoms: Sequence[Signal]  # current leg symptoms that no red flag claims
    differentials: Sequence[Signal]


def decide(  # noqa: PLR0911 (one return per card kind)
    ctx: Context, pick: LabPick, status: MgStatus | None, mc: MgContext
) -> Decision | None:
    """The one magnesium-status card for this record, if any."""
    if status is None:
        if pick.unreadable:
            return _unreadable(ctx, pick)
        return _not_measured(ctx, pick, mc)
    values = mg_values(status, ctx.mg)
    facts = [Fact("mg", values)]
    if status.result.status == "preliminary":
        facts.append(Fact("mg-preliminary", values))
    if status.flag_conflict:
        facts.append(Fact("mg-flag", {"flag": status.flag_conflict}))
    facts += [Fact("unreadable", _unreadable_values(u)) for u in pick.unreadable]
    pregnant_on_mgso4 = ctx.pregnancy is not None and bool(ctx.mgso4_infusion)
    if pregnant_on_mgso4 and status.state != "low":
        return _obstetric(ctx, status, values, facts)
    if status.state == "low":
        return _low(ctx, status, values, facts, mc)
    if status.state == "high":
        return _high(ctx, status, values, facts)
    strong = [s for s in mc.risks if s.strong]
    symptoms = counted(mc.symptoms)
    if ctx.renal.failure and status.state == "normal":
        return None  # kidneys retain magnesium: "body stores may be low" would invite a contraindicated supplement
    if status.state == "low-normal" and status.mmol < ctx.kb.threshold("serum-mg-low"):
        if ctx.current(["digoxin", "qt-drug"]) or ctx.current_symptoms(SYMPTOMATIC_CONDITIONS):
            # Below 0.75 mmol/L with digoxin, a QT-prolonging drug or symptoms: critical whatever the lab's range.
            return _low(ctx, status, values, facts, mc)
        # Inside this lab's range, but below the IOM cut-off: say so, whatever the risk factors.
        return _below_evidence_cutoff(ctx, values=values, facts=facts, strong=strong, symptoms=symptoms)
    if status.state == "low-normal" and (symptoms or strong) and ctx.adult:
        return _low_normal(ctx, values=values, facts=facts, strong=strong, symptoms=symptoms)
    if status.state == "normal" and symptoms and strong and not mc.differentials and ctx.adult:
        return _normal_with_risk(ctx, values=values, facts=facts, strong=strong, symptoms=symptoms)
    return None


def _unreadable_values(u: UnreadableResult) -> dict[str, str]:
    return {"date": day(u.effective), "problem": u.problem, "name": u.display or "serum magnesium"}


def _risk_facts(signals: Sequence[Signal], limit: int = 4) -> list[Fact]:
    """The facts behind the signals: one per signal first (every risk is shown), then the rest."""
    first = [s.facts[0] for s in signals if s.facts]
    rest = [f for s in signals for f in s.facts[1:]]
    return [*first, *rest][:limit]


def _drug_names(signals: Sequence[Signal]) -> list[str]:
    return [i.display for s in signals for i in s.items if isinstance(i, MedicationUse)]


def _wasting_notes(signals: Sequence[Signal]) -> list[str]:
    codes = {s.code for s in signals}
    notes = []
    if "ppi" in codes:
        notes.append("ppi-hypomagnesemia")
    if "diuretic" in codes:
        notes.append("diuretic-mg-loss")
    if "mg-wasting-drug" in codes:
        egfr_ab = any("egfr-antibody" in i.classes for s in signals if s.code == "mg-wasting-drug" for i in s.items)
        notes.append("egfr-antibody-hypomagnesemia" if egfr_ab else "other-mg-wasting-drugs")
    return notes


def _co_deficits(ctx: Context) -> tuple[list[Fact], list[str]]:
    facts, parts = [], []
    k, ca = ctx.low_potassium(), ctx.low_calcium()
    if k is not None:
        facts.append(Fact("potassium-low", {"value": f"{k.value:.1f}", "date": day(k.effective)}))
        parts.append("potassium-low")
    if ca is not None:
        name = (
            "Ionised calcium"
            if ca.code in IONISED_CALCIUM_CODES
            else ("Corrected calcium" if ca.code == CORRECTED_CALCIUM else "Calcium")
        )
        facts.append(Fact("calcium-low", {"value": f"{ca.value:.2f}", "date": day(ca.effective), "name": name}))
        parts.append("calcium-low")
    return facts, parts


def _renal_facts(ctx: Context) -> list[Fact]:
    renal = ctx.renal
    facts = []
    if renal.dialysis is not None:
        facts.append(Fact("dialysis", {"name": renal.dialysis.display, "date": day(renal.dialysis.onset)}))
    elif renal.severe_ckd is not None:
        facts.append(Fact("condition", {"name": renal.severe_ckd.display, "since": day(renal.severe_ckd.onset)}))
    if renal.egfr is not None and renal.impaired:
        facts.append(egfr_fact(renal.egfr))
    return facts


def _egfr_text(ctx: Context) -> str:
    renal = ctx.renal
    if renal.dialysis is not None:
        return "on dialysis"
    if renal.egfr is not None:
        return f"eGFR {renal.egfr.value:g}"
    return renal.severe_ckd.display if renal.severe_ckd is not None else "renal failure"


def egfr_fact(egfr: LabResult) -> Fact:
    sign = {"<": "< ", ">": "> ", "<=": "≤ ", ">=": "≥ "}.get(egfr.comparator or "", "")
    return Fact(
        "egfr", {"value": f"{sign}{egfr.value:g}", "unit": display_unit(egfr.unit), "date": day(egfr.effective)}
    )


def panel(ctx: Context, *tests: str) -> tuple[str, ...]:
    """The lab panel to suggest: not creatinine on dialysis (it does not guide dosing there), and not a
    potassium or calcium measured in the last two days (re-ordering it is noise)."""
    wanted = tests or ("magnesium", "potassium", "calcium", "creatinine")
    recent = ctx.now - timedelta(days=2)
    out = []
    for t in wanted:
        if t == "creatinine" and ctx.renal.on_dialysis:
            continue
        if t in ("potassium", "calcium"):
            last = ctx.lab(t).result
            if last is not None and last.effective >= recent:
                continue
        out.append(t)
    return tuple(out)


def _causes(ctx: Context, mc: MgContext) -> str:
    names = list(
        dict.fromkeys(
            _drug_names(mc.risks)
            + [m.display for m in ctx.past(["ppi", "loop-diuretic", "thiazide-diuretic", "mg-wasting-drug"])]
        )
    )
    return ", ".join(names[:3])


def _low(ctx: Context, status: MgStatus, values: dict[str, str], facts: list[Fact], mc: MgContext) -> Decision:
    symptomatic = ctx.current_symptoms(SYMPTOMATIC_CONDITIONS)
    digoxin = ctx.current(["digoxin"])
    qt = ctx.current(["qt-drug"])
    severe = status.mmol < ctx.kb.threshold("serum-mg-critical-low")
    critical = severe or bool(symptomatic or digoxin or qt)
    k, ca = ctx.low_potassium(), ctx.low_calcium()
    co_facts, co_parts = _co_deficits(ctx)
    renal = ctx.renal
    causes = _causes(ctx, mc)
    ul = ctx.ul_mg()
    values = {**values, "causes": causes, "ul": f"{ul:g}" if ul is not None else ""}
    if k is not None:
        values.update({"k_value": f"{k.value:.1f}", "k_date": day(k.effective)})
    # "critically low" is said of the number only; digoxin, a QT drug or symptoms say why it is urgent.
    summary: list[str] = ["mg-critical" if severe else "mg"]
    if status.result.status == "preliminary":
        summary.append("preliminary")
    if symptomatic:
        summary.append("symptomatic")
        values["name"] = symptomatic[0].display
    if digoxin:
        summary.append("digoxin")
    if qt:
        summary.append("qt")
    summary += co_parts
    actions, tail = _low_actions(ctx, critical=critical, digoxin=bool(digoxin), k=k, ca=ca, causes=causes)
    summary.append(tail)
    why = [*facts, *co_facts]
    why += [Fact("symptom", {"name": c.display, "since": day(c.onset)}) for c in symptomatic]
    why += [drug_fact(m, ctx.now) for m in (*digoxin, *qt)]
    why += _renal_facts(ctx)
    why += _risk_facts([s for s in mc.risks if s.strong])
    why += [drug_fact(m, ctx.now) for m in ctx.past(["ppi", "loop-diuretic", "thiazide-diuretic"])]
    notes = ["hypomagnesemia-depletion"]
    if co_parts:
        notes.append("electrolytes-first")
    if digoxin:
        notes.append("digoxin-toxicity")
    if qt:
        notes.append("qt-torsades")
    if not critical and ul is not None and not renal.failure:
        notes.append("ul-not-for-treatment")
        if ctx.adult:
            notes.append("supplement-forms")
    notes += _wasting_notes(mc.risks)
    return Decision(
        "mg-low",
        "critical" if critical else "warning",
        tuple(summary),
        tuple(actions),
        tuple(why),
        tuple(notes),
        tests=panel(ctx),
        values=values,
    )


def _low_actions(
    ctx: Context, *, critical: bool, digoxin: bool, k: LabResult | None, ca: LabResult | None, causes: str
) -> tuple[list[str], str]:
    """Do for a low Mg, most urgent first, and the summary's action part."""
    renal = ctx.renal
    cause = "do-find-cause" if causes else ("do-find-cause-general" if ctx.adult else "do-find-cause-child")
    if critical:
        if renal.failure:
            iv = "do-iv-magnesium-renal"
        elif not renal.known:
            iv = "do-iv-magnesium-renal-unknown"
        else:
            iv = "do-iv-magnesium"
        ecg = "do-ecg-digoxin" if digoxin else "do-ecg-electrolytes"
        return [ecg, iv, "do-replace-potassium" if k is not None else cause], "act-critical"
    if renal.failure:
        repletion, tail = "do-oral-repletion-renal", "act-renal"
    elif not ctx.adult:
        repletion, tail = "do-oral-repletion-child", "act-oral"
    else:
        repletion, tail = "do-oral-repletion", "act-oral"
    # Renal function first: oral magnesium is contraindicated below GFR 30 (D1).
    first = [] if renal.known else ["do-check-renal-first"]
    if not renal.known:
        tail = "act-renal-unknown"
    if k is not None or ca is not None:
        # Low K or Ca with low Mg: an arrhythmia risk (QT): replace potassium and get an ECG.
        extra = [*(["do-replace-potassium"] if k is not None else []), "do-ecg-co-deficit"]
    else:
        extra = ["do-recheck-panel"]
    return [*first, repletion, *extra, cause][:3], tail


def _high(ctx: Context, status: MgStatus, values: dict[str, str], facts: list[Fact]) -> Decision:
    products = ctx.current(["mg-supplement"], systemic=True)
    names = ", ".join(dict.fromkeys(m.display for m in products))
    values = {**values, "mg_products": names}
    critical = status.critical_high
    stop = "do-stop-mg-products" if products else "do-ask-mg-sources"
    if status.flag_conflict:
        # The number is used, but a value the lab flags the other way is likely a unit or entry error:
        # verify before treating.
        values["flag"] = status.flag_conflict
        actions = ["do-verify-flagged-result", "do-check-high-mg", stop]
        summary = ["mg-flag-conflict"]
        notes: tuple[str, ...] = ("toxicity-symptoms",)
    elif critical:
        actions = ["do-stop-and-monitor", "do-calcium-gluconate", "do-urgent-renal"]
        summary = ["mg-critical", "act-severe"]
        notes = ("toxicity-symptoms",)
    else:
        actions = [stop, "do-check-high-mg"]
        summary = ["mg", "act-stop"]
        notes = ("haemolysis", "toxicity-symptoms")  # a repeat is worth it only when not dangerous
    why = [*facts, *(drug_fact(m, ctx.now) for m in products), *_renal_facts(ctx)]
    return Decision(
        "mg-high",
        "critical" if critical else "warning",
        tuple(summary),
        tuple(actions),
        tuple(why),
        notes,
        tests=panel(ctx, "magnesium", "creatinine"),
        values=values,
    )


def _obstetric(ctx: Context, status: MgStatus, values: dict[str, str], facts: list[Fact]) -> Decision:
    """Pregnant and on IV magnesium sulfate: the level is therapeutic monitoring, not 'toxic'."""
    low, high = ctx.kb.threshold("obstetric-mg-low"), ctx.kb.threshold("obstetric-mg-high")
    values = {**values, "obs_low": f"{low:g}", "obs_high": f"{high:g}"}
    # The general bands would call this range "toxic": on MgSO4 the value is read against the obstetric range.
    facts = [Fact("mg-obstetric", values), *facts[1:]]
    why = [*facts, *(drug_fact(m, ctx.now) for m in ctx.mgso4_infusion), *_renal_facts(ctx)]
    if status.mmol > high:
        return Decision(
            "mg-high",
            "critical",
            ("mg-critical", "act-obstetric-stop"),
            ("do-mgso4-stop", "do-mgso4-calcium", "do-urgent-renal"),
            tuple(why),
            ("mgso4-range",),
            tests=panel(ctx, "magnesium", "creatinine"),
            values=values,
        )
    below = status.mmol < low
    return Decision(
        "mg-obstetric-monitoring",
        "info",
        ("mg", "below-range" if below else "in-range"),
        (("do-mgso4-subtherapeutic",) if below else ()) + ("do-mgso4-monitor", "do-mgso4-antidote"),
        tuple(why),
        ("mgso4-range",),
        values=values,
    )


def _brief(
    values: dict[str, str], facts: list[Fact], strong: Sequence[Signal]
) -> tuple[dict[str, str], list[Fact], list[str]]:
    """For the not-low cards: the value without the band label (the notes explain it) and the drugs to review."""
    drugs = _drug_names(strong)
    values = {**values, "drugs": ", ".join(drugs[:2])}
    return values, [Fact("mg-brief", values), *facts[1:]], drugs


def _low_normal(
    ctx: Context,
    *,
    values: dict[str, str],
    facts: list[Fact],
    strong: Sequence[Signal],
    symptoms: Sequence[Signal],
) -> Decision:
    values, facts, drugs = _brief(values, facts, strong)
    if ctx.renal.failure:
        # Renal failure: say first that a supplement is not the answer, then food with the potassium caveat.
        actions = ["do-no-supplement-renal", "do-food-first-ckd"]
        values["egfr"] = _egfr_text(ctx)
    else:
        actions = ["do-review-drugs" if drugs else "do-address-risks"] if strong else []
        actions.append("do-food-first")
    notes = ["serum-not-total-body", "low-normal-latent-deficiency", *_cramp_notes(ctx, symptoms)]
    return Decision(
        "mg-low-normal",
        "info",
        ("mg", "renal" if ctx.renal.failure else ("risk" if strong else "symptom")),
        tuple(actions),
        (*facts, *_risk_facts([*strong, *symptoms])),
        tuple(notes),
        values=values,
    )


def _below_evidence_cutoff(
    ctx: Context,
    *,
    values: dict[str, str],
    facts: list[Fact],
    strong: Sequence[Signal],
    symptoms: Sequence[Signal],
) -> Decision:
    values, facts, drugs = _brief(values, facts, strong)
    actions = ["do-recheck-mg-below-cutoff"]
    if strong:
        actions.append("do-review-drugs" if drugs else "do-address-risks")
    return Decision(
        "mg-low-normal",
        "info",
        ("mg-below-cutoff", "below-cutoff"),
        tuple(actions),
        (*facts, *_risk_facts([*strong, *symptoms])),
        ("hypomagnesemia-definition", "lab-ranges-differ"),
        tests=("magnesium",),
        recommend_tests=False,
        values=values,
    )


def _normal_with_risk(
    ctx: Context,
    *,
    values: dict[str, str],
    facts: list[Fact],
    strong: Sequence[Signal],
    symptoms: Sequence[Signal],
) -> Decision:
    values, facts, drugs = _brief(values, facts, strong)
    return Decision(
        "mg-normal-with-risk",
        "info",
        ("mg", "stores"),
        ("do-consider-depletion", "do-review-drugs" if drugs else "do-address-risks"),
        (*facts, *_risk_facts([*strong, *symptoms])),
        ("serum-not-total-body", *_cramp_notes(ctx, symptoms)),
        values=values,
    )


def _cramp_notes(ctx: Context, symptoms: Sequence[Signal]) -> list[str]:
    """The Cochrane cramps evidence, only when cramps are on record (pregnancy has its own evidence)."""
    if not any(s.code == "leg-cramps" for s in symptoms):
        return []
    return ["cramps-pregnancy"] if ctx.pregnancy is not None else ["cramps-counter-evidence"]


def _unreadable(ctx: Context, pick: LabPick) -> Decision:
    latest = pick.unreadable[0]
    return Decision(
        "mg-unreadable",
        "info",
        ("unreadable",),
        ("do-check-unreadable",),
        tuple(Fact("unreadable", _unreadable_values(u)) for u in pick.unreadable[:2]),
        (),
        tests=("magnesium",),
        recommend_tests=False,
        values={"mg_date": day(latest.effective)},
    )


def _not_measured(ctx: Context, pick: LabPick, mc: MgContext) -> Decision | None:
    strong = [s for s in mc.risks if s.strong]
    symptoms = counted(mc.symptoms)
    long_term_ppi = any(s.code == "ppi" and s.finding.values.get("longTerm") for s in mc.risks)
    digoxin = ctx.current(["digoxin"])
    digoxin_diuretic = bool(digoxin) and any(s.code == "diuretic" for s in mc.risks)
    if not ((symptoms and strong) or long_term_ppi or len({s.code for s in strong}) >= 2 or digoxin_diuretic):
        return None
    lookback = round(ctx.kb.threshold("serum-mg-lookback-days") / 30.4375)
    values = {"lookback": f"{lookback} months"}
    facts: list[Fact] = []
    if pick.stale is not None:
        last = interpret_mg(pick.stale, ctx.kb, ctx.mg)
        key = "mg-last-low" if last.state == "low" else "mg-last"
        facts.append(Fact(key, {"value": mg_values(last, ctx.mg)["mg"], "date": day(pick.stale.effective), **values}))
    else:
        facts.append(Fact("mg-none", values))
    facts += [drug_fact(m, ctx.now) for m in digoxin]
    facts += _risk_facts(strong, limit=3)
    facts += _risk_facts(symptoms, limit=1)
    notes: list[str] = []
    if digoxin:
        notes.append("digoxin-toxicity")
    if long_term_ppi:
        notes.append("check-mg-on-ppi")
    notes += [n for n in _wasting_notes(strong) if n != "ppi-hypomagnesemia" or not long_term_ppi]
    codes = {s.code for s in strong}
    # Hungry bone and refeeding are hours-to-days dangers: warning, with the analytes that matter today.
    urgent = [a for c, a in (("hungry-bone", "do-hungry-bone"), ("refeeding", "do-refeeding")) if c in codes]
    summary = ["none", *(["urgent"] if urgent else []), "digoxin" if digoxin else "risk", "act"]
    return Decision(
        "mg-not-measured",
        "warning" if urgent else "info",
        tuple(summary),
        (*urgent, "do-order-panel-dialysis" if ctx.renal.on_dialysis else "do-order-panel")[:3],
        tuple(facts),
        tuple(notes),
        tests=panel(ctx, "magnesium", "potassium", "calcium-ionised", "creatinine") if urgent else panel(ctx),
        values=values,
    )
