"""Leg symptoms: red flags first (seed 002's "see a doctor" signs, guideline emergencies), then the other
causes that must be considered before magnesium is blamed.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import URGENCY, Indicator
from .context import Context
from .decision import Decision, Fact
from .signals import Signal, counted

_RED_FLAG_ACTIONS = {
    "red-flag-acute-limb-ischaemia": ("do-acute-limb-ischaemia", "do-heparin-ali"),
    "red-flag-dvt": ("do-assess-dvt",),
    "red-flag-limb-threatening-ischaemia": ("do-refer-clti",),
}
_RED_FLAG_SUMMARY = {
    "red-flag-acute-limb-ischaemia": "ali",
    "red-flag-dvt": "dvt",
    "red-flag-limb-threatening-ischaemia": "clti",
}
# The next step each other cause calls for (statements.yaml), in the order a clinician would take them.
_NEXT_STEP = {
    "pad": "do-check-abi",
    "claudication": "do-check-abi",
    "statin": "do-measure-ck",
    "restless-legs": "do-check-iron",
    "radiculopathy": "do-examine-neuro",
    "neuropathy": "do-examine-neuro",
    "venous-insufficiency": "do-examine-venous",
    "dehydration": "do-review-fluids",
    "hypothyroidism": "do-check-tsh",
    "cirrhosis": "do-review-cirrhosis",
}


def red_flag_decision(ctx: Context, flags: Sequence[Signal]) -> Decision | None:
    if not flags:
        return None
    ordered = sorted(flags, key=lambda s: URGENCY[s.indicator or "info"])
    indicator: Indicator = ordered[0].indicator or "warning"
    facts: list[Fact] = []
    for s in ordered:
        facts += s.facts
    actions = [a for s in ordered for a in _RED_FLAG_ACTIONS[s.code]]
    return Decision(
        "leg-red-flag",
        indicator,
        tuple(_RED_FLAG_SUMMARY[s.code] for s in ordered),
        tuple(dict.fromkeys(actions))[:3],
        tuple(facts[:4]),
    )


def differential_decision(
    ctx: Context, symptoms: Sequence[Signal], others: Sequence[Signal], flags: Sequence[Signal]
) -> Decision | None:
    shown = counted(symptoms)
    if not shown or not others:
        return None
    codes = {s.code for s in others} | {s.code for s in shown}
    has_abi = any(s.code == "pad" and "abi" in s.finding.values for s in others)
    pad_known = any(s.code == "pad" and s.items for s in others)
    actions: list[str] = []
    for code, next_step in _NEXT_STEP.items():
        if code not in codes:
            continue
        # PAD diagnosed or an ABI on file: show it, do not ask for it again.
        step = "do-known-pad" if next_step == "do-check-abi" and (has_abi or pad_known) else next_step
        if step not in actions:
            actions.append(step)
    # The specific next steps first; the general one only when there is room.
    actions = [*actions[:3], "do-evaluate-persistent"][:3] if len(actions) < 3 else actions[:3]
    facts: list[Fact] = []
    for s in shown[:2]:
        facts += s.facts[:1]
    for s in others:
        facts += s.facts[:2]
    notes = ["cramps-associations"] if "leg-cramps" in codes else []
    if ("pad" in codes or "claudication" in codes) and ctx.adult and not has_abi and not pad_known:
        notes.append("pad-risk-groups")
    names = [ctx.kb.conditions[s.code].display if s.code in ctx.kb.conditions else s.finding.display for s in others]
    short = [
        _SHORT.get(s.code, n)
        for s, n in zip(others, names, strict=True)
        if not (s.code == "claudication" and "pad" in codes)  # PAD already names it
    ]
    tests = tuple(t for a in actions for t in _TESTS.get(a, ()))
    return Decision(
        "leg-differential",
        "info",
        ("lead", "causes"),
        tuple(actions),
        tuple(facts[:5]),
        tuple(notes),
        tests=tests,
        recommend_tests=False,
        values={"causes": ", ".join(dict.fromkeys(short))},
    )


# Lab tests the next steps call for (an ABI has no verified LOINC code: no suggestion orders it).
_TESTS = {"do-measure-ck": ("creatine-kinase",), "do-check-iron": ("ferritin", "iron-saturation")}


# Short names of the other causes, for the summary.
_SHORT = {
    "pad": "PAD",
    "claudication": "claudication",
    "venous-insufficiency": "venous insufficiency",
    "neuropathy": "neuropathy",
    "radiculopathy": "sciatica/stenosis",
    "dehydration": "dehydration",
    "statin": "statin",
    "ckd": "CKD",
    "cirrhosis": "cirrhosis",
    "hypothyroidism": "hypothyroidism",
    "pregnancy": "pregnancy",
}
