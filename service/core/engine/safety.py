"""Safety of a magnesium product the patient takes now: renal failure and chelating drugs.

A high serum magnesium is the magnesium-status card's business (it names the products to stop); topical
products (Epsom salt, magnesium oil) are not systemic supplements and are not judged here.
"""

from __future__ import annotations

from ..fhirdata import MedicationUse
from .context import Context, day, drug_fact
from .decision import Decision, Fact
from .magnesium import MgStatus, egfr_fact, panel

CHELATING_CLASSES = (
    "bisphosphonate",
    "tetracycline",
    "fluoroquinolone",
    "thyroid-hormone",
    "integrase-inhibitor",
    "oral-iron",
)


def chelating(ctx: Context) -> list[MedicationUse]:
    """Current oral drugs that oral magnesium binds (an IV bisphosphonate or IV iron is not affected)."""
    return [m for m in ctx.current(CHELATING_CLASSES) if m.route in (None, "oral")]


def separate_action(partners: list[MedicationUse]) -> str:
    """Levothyroxine needs 4 hours (its label); the other chelating drugs 2 hours before or 4-6 after."""
    return "do-separate-levothyroxine" if any("thyroid-hormone" in m.classes for m in partners) else "do-separate-doses"


def hypomagnesemia_documented(ctx: Context, status: MgStatus | None) -> bool:
    return (status is not None and status.state == "low") or bool(ctx.current_conditions(["hypomagnesemia"]))


def supplement_decision(ctx: Context, status: MgStatus | None) -> Decision | None:
    products = [m for m in ctx.current(["mg-supplement"]) if m not in ctx.mgso4_infusion or ctx.pregnancy is None]
    if not products:
        return None
    renal = ctx.renal
    partners = chelating(ctx) if any(m.route in (None, "oral") for m in products) else []
    if not renal.failure and not partners:
        return None
    names = ", ".join(dict.fromkeys(m.display for m in partners))
    values = {"drugs": names}
    actions: list[str] = []
    summary: list[str] = []
    facts: list[Fact] = [drug_fact(m, ctx.now) for m in products]
    tests: tuple[str, ...] = ()
    if renal.failure:
        treating = hypomagnesemia_documented(ctx, status)
        actions.append("do-supplement-renal-treating" if treating else "do-supplement-renal-stop")
        summary.append("renal-treating" if treating else "renal")
        if renal.dialysis is not None:
            facts.append(Fact("dialysis", {"name": renal.dialysis.display, "date": day(renal.dialysis.onset)}))
        elif renal.severe_ckd is not None:
            facts.append(Fact("condition", {"name": renal.severe_ckd.display, "since": day(renal.severe_ckd.onset)}))
        if renal.egfr is not None:
            facts.append(egfr_fact(renal.egfr))
        tests = panel(ctx, "magnesium", "creatinine")
    if partners:
        actions.append(separate_action(partners))
        summary.append("chelation")
        facts += [drug_fact(m, ctx.now) for m in partners]
    notes = ["renal-caution"] if renal.failure else []
    return Decision(
        "mg-supplement-safety",
        "warning",
        tuple(summary),
        tuple(actions[:3]),
        tuple(facts[:5]),
        tuple(notes),
        tests=tests,
        recommend_tests=status is None,
        values=values,
    )
