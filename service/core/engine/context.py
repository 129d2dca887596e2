"""One patient's record at one moment, as the rules read it: current results, medications and conditions.

Every rule module asks the same questions (what is the latest readable result, is this drug taken now,
is this condition the patient's and current, how are the kidneys, is she pregnant), so they are answered
once, here. No I/O; `now` is injected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar

from ..fhirdata import FUTURE_TOLERANCE, ConditionFact, LabResult, MedicationUse, PatientRecord, UnreadableResult
from ..knowledge import IONISED_CALCIUM_CODES, KnowledgeBase
from ..model import Evidence, Finding
from ..units import MgConverter
from .decision import Fact

STRONG, CONTEXTUAL = "strong", "contextual"
# Routes by which a drug does not act systemically (rules/matchers.yaml routes): eye drops, ear drops,
# skin. A topical aminoglycoside or ciclosporin eye drop does not waste magnesium; an Epsom salt bath is not
# a systemic magnesium supplement.
LOCAL_ROUTES = frozenset({"ophthalmic", "otic", "topical"})
_Classed = TypeVar("_Classed", ConditionFact, MedicationUse)


@dataclass(frozen=True, slots=True)
class LabPick:
    """The result the rules use for an analyte, and what else the clinician should know about it."""

    result: LabResult | None  # latest readable result within the lookback
    stale: LabResult | None  # latest readable result, when it is older than the lookback
    unreadable: tuple[UnreadableResult, ...]  # results within the lookback, newer than `result`, not readable


_NO_RESULT = LabPick(None, None, ())


@dataclass(frozen=True, slots=True)
class Renal:
    """Renal function from every source: eGFR (the lowest of the latest day), CKD stage 4-5/ESRD, dialysis."""

    egfr: LabResult | None
    dialysis: ConditionFact | None
    severe_ckd: ConditionFact | None
    failure: bool  # dialysis, CKD 4-5/ESRD, or eGFR below the contraindication limit
    impaired: bool  # eGFR below the caution limit (includes failure)
    known: bool  # any of the above is on record

    @property
    def on_dialysis(self) -> bool:
        return self.dialysis is not None


class Context:
    """Read-only questions about one record at `now`; findings of data problems collect in `issues`."""

    def __init__(self, record: PatientRecord, kb: KnowledgeBase, mg: MgConverter, now: datetime) -> None:
        self.record = record
        self.kb = kb
        self.mg = mg
        self.now = now
        self.issues: list[Finding] = []
        self._reported_future: set[str] = set()
        # Every rule asks the same questions: answer each once per evaluation.
        self._labs: dict[tuple[str, str], LabPick] = {}
        self._by_class: dict[tuple[int, frozenset[str]], list[Any]] = {}
        self._current: dict[frozenset[str], list[ConditionFact]] = {}
        self._days: dict[str, timedelta] = {}
        self._analytes = frozenset(r.analyte for r in record.labs) | frozenset(u.analyte for u in record.unreadable)
        # class id → the facts of that class, in one pass: the rules ask for some 40 class sets, most of
        # them absent from the record, so each question is a few dictionary lookups, not a scan.
        self._condition_index = _index(record.conditions)
        self._medication_index = _index(record.medications)

    def days(self, threshold: str) -> timedelta:
        found = self._days.get(threshold)
        if found is None:
            found = self._days[threshold] = timedelta(days=self.kb.threshold(threshold))
        return found

    # -- results ---------------------------------------------------------------------------------------
    def lab(self, analyte: str, lookback: str = "lab-lookback-days") -> LabPick:
        """Latest readable result within the lookback (future-dated ones are reported and skipped)."""
        key = (analyte, lookback)
        if key not in self._labs:
            self._labs[key] = self._pick(analyte, lookback)
        return self._labs[key]

    def _pick(self, analyte: str, lookback: str) -> LabPick:
        if analyte not in self._analytes:
            return _NO_RESULT  # most questions: an analyte the record has no result for
        since = self.now - self.days(lookback)
        result: LabResult | None = None
        stale: LabResult | None = None
        for candidate in self.record.labs_for(analyte):
            if candidate.effective > self.now + FUTURE_TOLERANCE:
                if candidate.reference not in self._reported_future:
                    self._reported_future.add(candidate.reference)
                    self.issues.append(
                        Finding(
                            "data-quality",
                            "result-in-future",
                            "A result is dated in the future; ignored.",
                            (candidate.evidence(),),
                        )
                    )
                continue
            if candidate.effective >= since:
                result = candidate
            else:
                stale = candidate
            break
        unreadable = tuple(
            u
            for u in self.record.unreadable_for(analyte)
            if u.effective is None
            or (
                since <= u.effective <= self.now + FUTURE_TOLERANCE
                and (result is None or u.effective >= result.effective)
            )
        )
        return LabPick(result, stale, unreadable)

    @cached_property
    def renal(self) -> Renal:
        pick = self.lab("egfr")
        egfr = pick.result
        if egfr is not None:
            # Simultaneous eGFRs (e.g. creatinine- and cystatin-based, same day): the lowest decides.
            same_day = [
                r
                for r in self.record.labs_for("egfr")
                if r.effective.date() == egfr.effective.date() and r.comparator not in (">", ">=")
            ]
            egfr = min(same_day, key=lambda r: r.value, default=egfr)
        dialysis = self._dialysis()
        severe = next(iter(self.current_conditions(["ckd-severe"])), None)
        failure = dialysis is not None or severe is not None or below(egfr, self.kb.threshold("egfr-contraindication"))
        impaired = failure or below(egfr, self.kb.threshold("egfr-caution"))
        return Renal(
            egfr, dialysis, severe, failure, impaired, egfr is not None or dialysis is not None or severe is not None
        )

    def _dialysis(self) -> ConditionFact | None:
        """A dialysis dependence condition, or a dialysis procedure in the recent past or in progress."""
        since = self.now - self.days("dialysis-lookback-days")
        for fact in self.conditions(["dialysis"]):
            if not fact.active or not fact.current:
                continue
            if fact.kind == "Condition" or fact.onset is None or fact.onset >= since:
                return fact
        return None

    # -- conditions ------------------------------------------------------------------------------------
    def conditions(self, classes: Iterable[str]) -> list[ConditionFact]:
        return self._of_classes(self._condition_index, frozenset(classes), lambda c: c.onset)

    def _of_classes(
        self, index: Mapping[str, list[_Classed]], wanted: frozenset[str], since: Callable[[_Classed], datetime | None]
    ) -> list[_Classed]:
        """The record's items of any of the classes, each once, oldest first (undated last); memoised."""
        if index.keys().isdisjoint(wanted):
            return []  # most questions: a class the record does not hold
        key = (id(index), wanted)
        found = self._by_class.get(key)
        if found is None:
            items = {id(i): i for c in wanted for i in index.get(c, ())}  # an item of two classes counts once
            found = self._by_class[key] = sorted(
                items.values(), key=lambda i: (since(i) is None, since(i) or self.now, i.reference)
            )
        return list(found)

    def current_conditions(self, classes: Iterable[str]) -> list[ConditionFact]:
        """Active, the patient's own and not "history of" or in remission."""
        key = frozenset(classes)
        if self._condition_index.keys().isdisjoint(key):
            return []
        found = self._current.get(key)
        if found is None:
            found = self._current[key] = [c for c in self.conditions(key) if c.active and c.current]
        return list(found)

    def current_symptoms(self, classes: Iterable[str]) -> list[ConditionFact]:
        """Current conditions whose latest date is within the symptom lookback (undated ones count)."""
        found = self.current_conditions(classes)
        if not found:
            return found
        since = self.now - self.days("symptom-lookback-days")
        return [c for c in found if c.latest_activity is None or c.latest_activity >= since or c.kind == "Procedure"]

    # -- medications -----------------------------------------------------------------------------------
    def medications(self, classes: Iterable[str]) -> list[MedicationUse]:
        return self._of_classes(self._medication_index, frozenset(classes), lambda m: m.start)

    def current(self, classes: Iterable[str], *, systemic: bool = True) -> list[MedicationUse]:
        """Taken now (status and period), and by a systemic route unless `systemic` is False."""
        return [
            m
            for m in self.medications(classes)
            if m.current_at(self.now) and not (systemic and m.route in LOCAL_ROUTES)
        ]

    def past(self, classes: Iterable[str]) -> list[MedicationUse]:
        """Taken within the medication lookback, but not now (stopped, completed, period ended)."""
        since = self.now - self.days("medication-lookback-days")
        out = []
        for m in self.medications(classes):
            if m.current_at(self.now) or m.route in LOCAL_ROUTES:
                continue
            last = m.last_taken(self.now)
            if last is not None and last >= since:
                out.append(m)
        return out

    # -- the patient -----------------------------------------------------------------------------------
    @cached_property
    def age(self) -> int | None:
        demo = self.record.demographics
        if demo is None or demo.birth_date is None:
            return None
        at = min(self.now, demo.deceased) if demo.deceased else self.now
        born = demo.birth_date
        return at.year - born.year - ((at.month, at.day) < (born.month, born.day))

    @property
    def adult(self) -> bool:
        """Adult unless the record says otherwise (adult-only statements are kept from children)."""
        return self.age is None or self.age >= self.kb.threshold("adult-age-years")

    @cached_property
    def pregnancy(self) -> ConditionFact | LabResult | None:
        """A current pregnancy: a Condition, or a recent pregnancy-status answer of 'pregnant'."""
        since = self.now - self.days("pregnancy-lookback-days")
        for fact in self.current_conditions(["pregnancy", "pre-eclampsia"]):
            if fact.latest_activity is None or fact.latest_activity >= since:
                return fact
        status = self.lab("pregnancy-status", "pregnancy-lookback-days").result
        if status is not None and is_pregnant_answer(status.value_text or ""):
            return status
        return None

    @cached_property
    def mgso4_infusion(self) -> list[MedicationUse]:
        """Magnesium sulfate given parenterally now (an unstated route counts in pregnancy: its use is IV/IM)."""
        out = []
        for m in self.current(["magnesium-sulfate"]):
            if m.route == "parenteral" or (m.route is None and self.pregnancy is not None):
                out.append(m)
        return out

    def ul_mg(self) -> float | None:
        """The tolerable upper intake of supplemental magnesium for this patient's age (IOM 1997)."""
        age = self.age
        if age is None or age >= 9:
            return self.kb.threshold("ul-supplement-9y-plus")
        if age >= 4:
            return self.kb.threshold("ul-supplement-4-8y")
        if age >= 1:
            return self.kb.threshold("ul-supplement-1-3y")
        return None  # not established for infants

    # -- co-deficits -----------------------------------------------------------------------------------
    def low_potassium(self) -> LabResult | None:
        k = self.lab("potassium").result
        return k if k is not None and is_low(k, self.kb.threshold("potassium-low")) else None

    def low_calcium(self) -> LabResult | None:
        ca = self.lab("calcium").result
        if ca is None:
            return None
        if ca.code in IONISED_CALCIUM_CODES:
            # No sourced default for ionised calcium: only the lab's own range judges it.
            return ca if ca.range_low is not None and is_low(ca, ca.range_low) else None
        return ca if is_low(ca, self.kb.threshold("calcium-total-low")) else None


def _index(items: Iterable[_Classed]) -> dict[str, list[_Classed]]:
    index: dict[str, list[_Classed]] = {}
    for item in items:
        for cid in item.classes:
            index.setdefault(cid, []).append(item)
    return index


def below(result: LabResult | None, threshold: float) -> bool:
    """Below a limit; a '>' or '>=' comparator never makes a value low."""
    return result is not None and result.value < threshold and result.comparator not in (">", ">=")


def is_low(result: LabResult, default_cutoff: float) -> bool:
    """Low by the lab's own lower limit when it gives one, else by the standard cut-off."""
    if result.comparator in (">", ">="):
        return False
    limit = result.range_low if result.range_low is not None else default_cutoff
    return result.value < limit or (result.comparator in ("<", "<=") and result.value <= limit)


_NEGATIVE_ANSWERS = ("not pregnant", "not currently pregnant", "negative", "no")


def is_pregnant_answer(text: str) -> bool:
    """A pregnancy-status answer that says pregnant (LOINC-style answers: 'Pregnant', 'Not pregnant')."""
    lowered = " ".join(text.lower().split())
    return "pregnant" in lowered and not any(lowered.startswith(n) or f" {n}" in lowered for n in _NEGATIVE_ANSWERS)


# -- plain-text facts ------------------------------------------------------------------------------------
def day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "date unknown"


def drug_fact(m: MedicationUse, now: datetime) -> Fact:
    """'furosemide 40 MG Oral Tablet since 2009-07-19', or '... stopped on 2026-01-10'."""
    if m.current_at(now):
        return Fact("drug", {"name": m.display, "since": day(m.start)})
    return Fact("drug-stopped", {"name": m.display, "ended": day(m.last_taken(now))})


def condition_fact(c: ConditionFact) -> Fact:
    return Fact("condition", {"name": c.display, "since": day(c.onset)})


def facts_of(items: Sequence[MedicationUse | ConditionFact], now: datetime) -> list[Fact]:
    return [drug_fact(i, now) if isinstance(i, MedicationUse) else condition_fact(i) for i in items]


def evidence_of(items: Sequence[MedicationUse | ConditionFact | LabResult]) -> tuple[Evidence, ...]:
    return tuple(i.evidence() for i in items)


def earliest(moments: Iterable[datetime | None]) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def matched_by(items: Sequence[MedicationUse | ConditionFact]) -> list[str]:
    return sorted({how for item in items for how in item.classes.values()})
