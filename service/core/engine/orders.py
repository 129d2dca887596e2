"""order-select / order-sign: judge draft orders by what they are for, by route, and against the record.

A magnesium order that treats documented hypomagnesemia with poor renal function is a dose-and-monitoring
warning, never a recommended delete; an IV order is never called "oral"; a topical product (Epsom salt,
magnesium oil) is not a systemic supplement. A short PPI course is not long-term PPI therapy.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..orders import DraftOrder
from .context import LOCAL_ROUTES, Context, day, drug_fact
from .decision import Decision, Fact
from .magnesium import MgStatus, egfr_fact, mg_values, panel
from .safety import CHELATING_CLASSES, chelating, hypomagnesemia_documented, spacing

# Draft-order finding code per medication class.
DRAFT_WASTING = {
    "ppi": "draft-ppi",
    "loop-diuretic": "draft-diuretic",
    "thiazide-diuretic": "draft-diuretic",
    "mg-wasting-drug": "draft-mg-wasting-drug",
}
# Draft-order classes the order hooks judge; a draft of anything else needs no data and gets no card.
ORDER_JUDGED_CLASSES = frozenset({*DRAFT_WASTING, "mg-supplement"})
# The card's evidence per drug class: FDA for PPIs, diuretic and label evidence for the others.
_WASTING_NOTE = {
    "draft-ppi": "ppi-hypomagnesemia",
    "draft-diuretic": "diuretic-mg-loss",
    "draft-mg-wasting-drug": "other-mg-wasting-drugs",
}


def systemic(drafts: Sequence[DraftOrder]) -> list[DraftOrder]:
    return [d for d in drafts if d.route not in LOCAL_ROUTES]


def supplement_order(  # noqa: PLR0912 (one branch per clinical situation, most dangerous first)
    ctx: Context, drafts: Sequence[DraftOrder], all_drafts: Sequence[DraftOrder], status: MgStatus | None
) -> Decision | None:
    orders = systemic(drafts)
    if not orders:
        return None  # topical magnesium: not a systemic supplement
    renal = ctx.renal
    treating = hypomagnesemia_documented(ctx, status) or any("hypomagnesemia" in d.indications for d in orders)
    iv = all(d.route == "parenteral" for d in orders)
    obstetric = ctx.pregnancy is not None and all("magnesium-sulfate" in d.classes for d in orders)
    current_partners = chelating(ctx)
    drafted_partners = [d for d in all_drafts if set(d.classes) & set(CHELATING_CLASSES) and d.route in (None, "oral")]
    partners = [m.display for m in current_partners] + [d.display for d in drafted_partners]
    names = ", ".join(dict.fromkeys(d.display or "magnesium" for d in orders))
    values = {"drafts": names, "drugs": ", ".join(dict.fromkeys(partners))}
    facts: list[Fact] = [Fact("draft", {"drafts": names})]
    if status is not None:
        facts.append(Fact("mg", mg_values(status, ctx.mg)))
    if renal.dialysis is not None:
        facts.append(Fact("dialysis", {"name": renal.dialysis.display, "date": day(renal.dialysis.onset)}))
    elif renal.severe_ckd is not None:
        facts.append(Fact("condition", {"name": renal.severe_ckd.display, "since": day(renal.severe_ckd.onset)}))
    if renal.egfr is not None:
        facts.append(egfr_fact(renal.egfr))
    high = status is not None and status.state == "high" and not obstetric
    deletable = tuple(d for d in orders if d.has_id)
    if high and not treating:
        return Decision(
            "order-mg-supplement",
            "critical",
            ("high", "drafts"),
            ("do-order-mg-high",),
            tuple(facts),
            ("toxicity-symptoms",),
            delete=deletable,
            recommend_delete=True,
            values=values,
        )
    if renal.failure:
        if treating:
            # Treating documented hypomagnesemia: never a delete; a severe deficit keeps its urgency.
            severe = status is not None and status.mmol < ctx.kb.threshold("serum-mg-critical-low")
            if status is not None:
                values["mg"] = mg_values(status, ctx.mg)["mg"]
            return Decision(
                "order-mg-supplement",
                "warning",
                ("renal-severe" if severe else "renal-treating", "drafts"),
                ("do-order-severe-treating-renal" if severe else "do-order-treating-renal",),
                tuple(facts),
                () if iv else ("renal-caution",),  # the oral contraindication does not concern an IV order
                tests=panel(ctx, "magnesium", "potassium", "calcium", "creatinine")
                if severe
                else panel(ctx, "magnesium", "creatinine"),
                recommend_tests=False,
                values=values,
            )
        action = "do-order-iv-renal" if iv else "do-order-oral-renal"
        return Decision(
            "order-mg-supplement",
            "critical",
            ("renal-iv" if iv else "renal-oral", "drafts"),
            (action,),
            tuple(facts),
            ("renal-caution",),
            delete=deletable,
            recommend_delete=not iv,
            values=values,
        )
    actions: list[str] = []
    summary: list[str] = []
    indicator = "info"
    tests: tuple[str, ...] = ()
    if renal.impaired:
        actions.append("do-order-renal-caution")
        summary.append("renal-caution")
        indicator = "warning"
    if partners and not iv:
        spaced, names_by_class = spacing([*current_partners, *drafted_partners])
        actions += spaced
        values.update(names_by_class)
        summary.append("chelation")
        indicator = "warning"
    if not renal.known:
        actions.append("do-order-renal-unknown")
        summary.append("renal-unknown")
        tests = ("creatinine",)
    if not actions:
        return None
    return Decision(
        "order-mg-supplement",
        "warning" if indicator == "warning" else "info",
        tuple(summary),
        tuple(actions),
        tuple(facts),
        (),
        tests=tests,
        values=values,
    )


def wasting_order(ctx: Context, drafts: Sequence[DraftOrder], status: MgStatus | None) -> Decision | None:
    orders = [d for d in systemic(drafts) if set(d.classes) & set(DRAFT_WASTING)]
    if not orders:
        return None
    digoxin = ctx.current(["digoxin"])
    low = status is not None and status.state == "low"
    short = "short-course-days"

    def is_short(d: DraftOrder) -> bool:
        return "h-pylori-pack" in d.classes or (
            set(d.classes) <= {"ppi", "h-pylori-pack"}
            and d.supply_days is not None
            and d.supply_days <= ctx.kb.threshold(short)
        )

    if not low and not digoxin:
        orders = [d for d in orders if not is_short(d)]
        if not orders:
            return None  # a short PPI course or an H. pylori pack is not long-term PPI therapy
    codes = sorted({DRAFT_WASTING[c] for d in orders for c in d.classes if c in DRAFT_WASTING})
    names = ", ".join(dict.fromkeys(d.display or "medication" for d in orders))
    values = {"drafts": names}
    facts: list[Fact] = [Fact("draft", {"drafts": names})]
    notes = [_WASTING_NOTE[c] for c in codes]
    if "draft-diuretic" in codes and not any("thiazide-diuretic" in d.classes for d in orders):
        notes[notes.index("diuretic-mg-loss")] = "loop-diuretic-mg-loss"  # the thiazide cohort is not about loops
    if status is not None:
        values.update(mg_values(status, ctx.mg))
        facts.append(Fact("mg", mg_values(status, ctx.mg)))
    facts += [drug_fact(m, ctx.now) for m in digoxin]
    if low or digoxin:
        actions = []
        summary = []
        if low:
            actions.append("do-wasting-low-mg")
            summary.append("low")
        if digoxin:
            actions.append("do-wasting-digoxin")
            summary.append("digoxin")
            notes.append("digoxin-toxicity")
        return Decision(
            "order-mg-wasting-drug",
            "warning",
            tuple(summary),
            tuple(actions),
            tuple(facts),
            tuple(notes),
            tests=panel(ctx, "magnesium", "potassium", "creatinine"),
            values=values,
        )
    if status is not None:
        return None  # a recent serum magnesium that is not low: nothing to add
    lookback = round(ctx.kb.threshold("serum-mg-lookback-days") / 30.4375)
    values["lookback"] = f"{lookback} months"
    facts.append(Fact("mg-none", values))
    if "draft-ppi" in codes:
        notes.insert(0, "check-mg-on-ppi")
    return Decision(
        "order-mg-wasting-drug",
        "info",
        ("baseline", "drafts"),
        ("do-wasting-baseline",),
        tuple(facts),
        tuple(notes),
        tests=("magnesium",),
        values=values,
    )
