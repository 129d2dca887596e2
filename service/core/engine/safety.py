"""Safety of a magnesium product the patient takes now: renal failure and chelating drugs.

A high serum magnesium is the magnesium-status card's business (it names the products to stop); topical
products (Epsom salt, magnesium oil) are not systemic supplements and are not judged here.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..fhirdata import MedicationUse
from ..orders import DraftOrder
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


# Each chelating class has its own timing (its label or D4), named with the patient's drug.
SPACING = (
    ("tetracycline", "antibiotic", "do-space-antibiotic"),
    ("fluoroquinolone", "antibiotic", "do-space-antibiotic"),
    ("bisphosphonate", "bisphosphonate", "do-space-bisphosphonate"),
    ("thyroid-hormone", "levothyroxine", "do-space-levothyroxine"),
    ("integrase-inhibitor", "integrase", "do-space-integrase"),
    ("oral-iron", "iron", "do-space-iron"),
)


def spacing(partners: Sequence[MedicationUse | DraftOrder]) -> tuple[list[str], dict[str, str]]:
    """The spacing actions for these drugs, and the drug names each action names."""
    actions: list[str] = []
    names: dict[str, list[str]] = {}
    for cls, placeholder, action in SPACING:
        found = [p.display for p in partners if cls in p.classes]
        if found:
            names.setdefault(placeholder, []).extend(found)
            if action not in actions:
                actions.append(action)
    return actions, {k: ", ".join(dict.fromkeys(v)) for k, v in names.items()}


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
    values = {"drugs": names, "products": ", ".join(dict.fromkeys(m.display for m in products))}
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
        spaced, names_by_class = spacing(partners)
        actions += spaced
        values.update(names_by_class)
        summary.append("chelation")
        facts += [drug_fact(m, ctx.now) for m in partners]
    notes = ["renal-caution"] if renal.failure else []
    facts = [f for f in facts if renal.failure or f.key != "egfr"]
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
