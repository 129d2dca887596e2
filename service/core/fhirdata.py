"""FHIR R4 extraction: from raw resources to the facts the rules use. All FHIR parsing lives here.

Payloads are FHIR R4 and parsed with models generated from `fhir.resources.R4B` (R4B shares R4's JSON for every
resource type read here). "Validate what you use": resources are first filtered cheaply on the raw JSON
by type and code, and only the survivors are validated. A malformed resource is skipped and reported as a
data-quality finding; it never fails the request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from types import MappingProxyType
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar, cast

from pydantic import ValidationError

from .errors import InvalidRequest
from .fhir_base import plain_validator
from .fhir_models import RESOURCE_MODELS
from .knowledge import LAB_VALUESETS, KnowledgeBase
from .matching import CLASSIFY_CACHE_SIZE, MEMO_MAX_CODINGS, MEMO_MAX_TEXT, CodingText, Vocabulary
from .model import Evidence, Finding
from .units import MgConverter, normalise_unit

LOINC = "http://loinc.org"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# FHIR R4 Observation.status values that denote a usable result (R4 §Observation.status).
# A preliminary result is a result: a newer preliminary critical value must not vanish behind an older final
# one (it is shown as preliminary); registered (no value yet), cancelled and entered-in-error are not results.
USABLE_OBSERVATION_STATUS = frozenset({"final", "amended", "corrected", "preliminary"})
# The subject element of each resource type we read (FHIR R4 resource definitions).
_SUBJECT_FIELD = {
    "Procedure": "subject",
    "Observation": "subject",
    "Condition": "subject",
    "MedicationRequest": "subject",
    "MedicationStatement": "subject",
}
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
# A result dated more than this after `now` is a data error (clock skew of a day is tolerated).
FUTURE_TOLERANCE = timedelta(days=1)
# Analytes whose every result is reported (not just the latest): non-serum Mg is a data-quality finding.
ALL_RESULTS_REPORTED = frozenset({"non-serum-magnesium"})
# Analytes whose results of the latest day are all read: simultaneous eGFRs (creatinine- and cystatin-based)
# are compared and the lowest decides.
SAME_DAY_REPORTED = frozenset({"egfr"})
# The elements the rules read, per resource type: only these are validated ("validate what you use"), so
# a vendor's unknown or malformed element elsewhere in a resource never costs time or drops the resource.
USED_ELEMENTS: Mapping[str, tuple[str, ...]] = {
    "Patient": ("resourceType", "id", "birthDate", "gender", "deceasedBoolean", "deceasedDateTime"),
    "Observation": (
        "resourceType",
        "id",
        "status",
        "code",
        "subject",
        "effectiveDateTime",
        "effectivePeriod",
        "effectiveInstant",
        "issued",
        "valueQuantity",
        "valueInteger",
        "valueString",
        "valueCodeableConcept",
        "dataAbsentReason",
        "specimen",
        "referenceRange",
        "interpretation",
    ),
    "Condition": (
        "resourceType",
        "id",
        "code",
        "subject",
        "clinicalStatus",
        "verificationStatus",
        "onsetDateTime",
        "onsetPeriod",
        "recordedDate",
        "abatementDateTime",
        "abatementPeriod",
        "abatementAge",
        "abatementString",
        "abatementRange",
        "abatementBoolean",
    ),
    "MedicationRequest": (
        "resourceType",
        "id",
        "status",
        "intent",
        "subject",
        "authoredOn",
        "dispenseRequest",
        "dosageInstruction",
        "reasonCode",
        "medicationCodeableConcept",
        "medicationReference",
    ),
    "MedicationStatement": (
        "resourceType",
        "id",
        "status",
        "subject",
        "effectiveDateTime",
        "effectivePeriod",
        "dateAsserted",
        "dosage",
        "reasonCode",
        "medicationCodeableConcept",
        "medicationReference",
    ),
    "Procedure": (
        "resourceType",
        "id",
        "status",
        "code",
        "subject",
        "performedDateTime",
        "performedPeriod",
    ),
}
_MAX_REPORTED_ERRORS = 3
_USED_SETS = {rtype: frozenset(elements) for rtype, elements in USED_ELEMENTS.items()}


class Entry(NamedTuple):
    """A raw resource as received, with the fullUrl it had in its Bundle (if any). A named tuple: one is
    made for every resource of every request, and it is the cheapest immutable record to create."""

    resource: Mapping[str, Any]
    full_url: str | None = None


@dataclass(frozen=True, slots=True)
class Demographics:
    """What the rules need from Patient."""

    reference: str
    birth_date: date | None
    gender: str | None
    deceased: datetime | None = None


@dataclass(frozen=True, slots=True)
class MedicationUse:
    """A MedicationStatement or MedicationRequest that matched at least one medication class."""

    reference: str
    display: str
    classes: Mapping[str, str]  # class id → matchedBy (code, category, name)
    status: str
    start: datetime | None
    end: datetime | None  # effectivePeriod.end, dispenseRequest.validityPeriod.end or the dosage bounds end
    route: str | None = None  # route class (rules/matchers.yaml routes), from the dosage route or the product name
    supply_days: float | None = None  # the course a prescription covers (expected supply x fills, or its period)
    indications: frozenset[str] = frozenset()  # condition classes of reasonCode

    def evidence(self) -> Evidence:
        return Evidence(self.reference, self.display, self.start.date().isoformat() if self.start else None)

    def current_at(self, now: datetime) -> bool:
        """Taken now: an active, on-hold or intended status whose period has not ended."""
        return self.status in CURRENT_MEDICATION_STATUS and (self.end is None or self.end >= now)

    def last_taken(self, now: datetime) -> datetime | None:
        """When exposure ended (or `now` while it goes on)."""
        return now if self.current_at(now) else (self.end or self.start)


@dataclass(frozen=True, slots=True)
class ConditionReading:
    """What a Condition's or Procedure's code says, read once per distinct code (shared: never mutated)."""

    classes: Mapping[str, str]  # class id → matchedBy
    current: bool = True  # False for "history of ..." and "... in remission"
    laterality: str | None = None


# Medication statuses that mean "taking it now" (R4 MedicationStatement and MedicationRequest status).
CURRENT_MEDICATION_STATUS = frozenset({"active", "on-hold", "intended"})


@dataclass(frozen=True, slots=True)
class ConditionFact:
    """A Condition (or Procedure) that matched at least one condition class."""

    reference: str
    display: str
    classes: Mapping[str, str]
    active: bool
    onset: datetime | None
    recorded: datetime | None = None
    # False for "history of ...", "... in remission" and remission codes: present in the record, not now.
    current: bool = True
    laterality: str | None = None  # "left", "right", "unilateral" or "bilateral", from the code or text
    kind: str = "Condition"

    def evidence(self) -> Evidence:
        return Evidence(self.reference, self.display, self.onset.date().isoformat() if self.onset else None)

    @property
    def latest_activity(self) -> datetime | None:
        dates = [d for d in (self.onset, self.recorded) if d is not None]
        return max(dates) if dates else None


@dataclass(frozen=True, slots=True)
class LabResult:
    """A laboratory result normalised to the analyte's canonical unit."""

    analyte: str  # value-set id, e.g. "serum-magnesium", or an observation-name class
    reference: str
    code: str
    display: str | None
    value: float  # as reported (magnesium); in mmol/L for potassium and calcium
    unit: str  # canonical UCUM for magnesium, potassium and calcium; as reported for other analytes
    effective: datetime
    range_low: float | None  # in `unit`
    range_high: float | None
    range_text: str | None
    interpretation: frozenset[str]
    comparator: str | None = None
    status: str = "final"
    issued: datetime | None = None
    value_text: str | None = None  # coded results (pregnancy status): the answer's text

    def evidence(self) -> Evidence:
        return Evidence(self.reference, self.display, self.effective.date().isoformat())


@dataclass(frozen=True, slots=True)
class UnreadableResult:
    """A result that exists but could not be interpreted: never the same as "not measured"."""

    analyte: str
    reference: str
    display: str | None
    effective: datetime | None
    problem: str  # what was wrong, in words a person can act on

    def evidence(self) -> Evidence:
        return Evidence(self.reference, self.display, self.effective.date().isoformat() if self.effective else None)


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """The facts extracted for one patient, plus what was wrong with the data."""

    demographics: Demographics | None
    labs: tuple[LabResult, ...]
    issues: tuple[Finding, ...]
    medications: tuple[MedicationUse, ...] = ()
    conditions: tuple[ConditionFact, ...] = ()
    unreadable: tuple[UnreadableResult, ...] = ()

    def labs_for(self, analyte: str) -> list[LabResult]:
        """Results for one analyte, most recent first (amended/corrected first, then latest issued)."""
        return sorted(
            (r for r in self.labs if r.analyte == analyte),
            key=lambda r: (r.effective, STATUS_RANK.get(r.status, 0), r.issued or _EARLIEST),
            reverse=True,
        )

    def unreadable_for(self, analyte: str) -> list[UnreadableResult]:
        return sorted(
            (u for u in self.unreadable if u.analyte == analyte),
            key=lambda u: u.effective or _EARLIEST,
            reverse=True,
        )


# An amended or corrected result supersedes the original of the same time (R4 §Observation.status).
STATUS_RANK: Mapping[str, int] = {"corrected": 2, "amended": 2, "final": 1, "preliminary": 0}


class Extractor:
    """Extracts a PatientRecord from raw FHIR resources; built once per knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._mg = MgConverter(kb.constant("mg-molar-mass"), kb.constant("mg-valence"))
        # (system, code) → analyte, for the cheap pre-filter on raw Observations.
        self._lab_index: dict[tuple[str, str], str] = {}
        for vs_id in LAB_VALUESETS:
            for key in kb.valuesets[vs_id].codes:
                self._lab_index.setdefault(key, vs_id)
        for cid, definition in kb.observation_names.items():
            if definition.valueset:
                for key in kb.valuesets[definition.valueset].codes:
                    self._lab_index.setdefault(key, cid)
        self.medications = Vocabulary(kb.medications, kb.valuesets)
        self.conditions = Vocabulary(kb.conditions, kb.valuesets)
        self.observation_names = Vocabulary(kb.observation_names, kb.valuesets)
        self.routes = Vocabulary(kb.routes, kb.valuesets)
        self.qualifiers = Vocabulary(kb.qualifiers, kb.valuesets)
        # Readings of codes by content (ConceptMemo): the same codes recur on every chart.
        self._condition_readings = ConceptMemo(self._read_condition_code)
        self._medication_readings = ConceptMemo(self._read_medication_code)
        self._route_readings = ConceptMemo(self._read_route)
        self._indication_readings = ConceptMemo(self._read_indication)
        self._short_course = kb.threshold("short-course-days")
        # Results outside these limits are data errors, not clinical findings (rules/thresholds.yaml).
        self._plausible_max = {
            "serum-magnesium": kb.threshold("plausible-max-serum-mg"),
            "non-serum-magnesium": kb.threshold("plausible-max-serum-mg"),
            "potassium": kb.threshold("plausible-max-potassium"),
            "calcium": kb.threshold("plausible-max-calcium"),
            "egfr": kb.threshold("plausible-max-egfr"),
        }

    @property
    def mg(self) -> MgConverter:
        return self._mg

    def extract(self, entries: Sequence[Entry], patient_id: str | None, now: datetime | None = None) -> PatientRecord:
        """Build the record for one patient; `patient_id` is the CDS Hooks context id, if any.

        With `now`, lab results are validated newest first and only until the first usable one that is
        not in the future: older results are never used by the rules, so they are not validated.
        """
        issues: list[Finding] = []
        identity = _patient_identity(entries, patient_id)
        medications_index = medication_index(entries)
        demographics: Demographics | None = None
        candidates: dict[str, list[Entry]] = {}
        meds: list[MedicationUse] = []
        conditions: list[ConditionFact] = []
        for entry in entries:
            raw = entry.resource
            rtype = raw.get("resourceType")
            if not isinstance(rtype, str):
                issues.append(_issue("resource-without-type", "An entry has no resourceType; ignored.", entry))
                continue
            if rtype == "Patient":
                if identity and not _is_identity(entry, identity):
                    issues.append(_issue("other-patient", "A Patient other than the context patient; ignored.", entry))
                    continue
                patient = _validate(VALIDATORS["Patient"], entry, issues)
                if patient is not None:
                    demographics = Demographics(
                        _reference(entry),
                        _as_date(patient.get("birthDate")),
                        patient.get("gender"),
                        as_utc(patient.get("deceasedDateTime")),
                    )
                continue
            handler = self._handlers.get(rtype)
            if handler is None:
                continue  # not used by the rules: not validated, not an error
            relevant = handler(self, raw, medications_index)
            if relevant is None:
                continue
            if not _about_patient(raw, rtype, identity):
                issues.append(_issue("other-patient", "Refers to a different patient; ignored.", entry))
                continue
            if rtype == "Observation":
                candidates.setdefault(relevant, []).append(entry)
            elif not _unused_by_status(raw, rtype):
                self._collect(rtype, relevant, entry, issues, meds=meds, conditions=conditions)
        labs: list[LabResult] = []
        unreadable: list[UnreadableResult] = []
        for analyte, found in candidates.items():
            self._labs(analyte, found, issues, now, labs=labs, unreadable=unreadable)
        return PatientRecord(
            demographics, tuple(labs), tuple(issues), tuple(meds), tuple(conditions), tuple(unreadable)
        )

    def _labs(
        self,
        analyte: str,
        found: list[Entry],
        issues: list[Finding],
        now: datetime | None,
        *,
        labs: list[LabResult],
        unreadable: list[UnreadableResult],
    ) -> None:
        """Validate an analyte's results newest first; stop at the first readable one not in the future.

        Results newer than it that could not be read are kept as UnreadableResult: a result exists.
        """
        # One result (the usual case for each analyte of a prefetch): nothing to order, its time read only if
        # it cannot be validated.
        ordered = (
            [(None, found[0])]
            if len(found) == 1
            else sorted(((_raw_sort_key(e), e) for e in found), key=itemgetter(0), reverse=True)
        )
        stop_day = None
        for key, entry in ordered:
            if stop_day is not None and (key or _raw_sort_key(entry))[0].date() != stop_day:
                break
            obs = _validate(VALIDATORS["Observation"], entry, issues)
            if obs is None:
                when = (key or _raw_sort_key(entry))[0]
                unreadable.append(
                    UnreadableResult(
                        analyte,
                        _reference(entry),
                        _raw_text(entry.resource.get("code")) or None,
                        when if when not in (_LATEST, _EARLIEST) else None,
                        "the result is not valid FHIR R4",
                    )
                )
                continue
            result = self._lab_result(obs, analyte, entry, issues)
            if result is None:
                continue
            if isinstance(result, UnreadableResult):
                unreadable.append(result)
                continue
            labs.append(result)
            if now is not None and analyte not in ALL_RESULTS_REPORTED and result.effective <= now + FUTURE_TOLERANCE:
                if analyte not in SAME_DAY_REPORTED:
                    break
                stop_day = stop_day or result.effective.date()

    # Cheap pre-filters on raw JSON: return what made the resource relevant, or None to skip it.
    def _observation_filter(self, raw: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
        code = raw.get("code")
        if type(code) is not dict:
            return None
        codings = code.get("coding")
        texts = [code.get("text")]
        if type(codings) is list:
            for c in codings:
                if type(c) is dict:
                    analyte = self._lab_index.get((c.get("system"), c.get("code")))  # type: ignore[arg-type]
                    if analyte is not None:
                        return analyte
                    texts.append(c.get("display"))
        # Name-only fallback (e.g. the ankle-brachial index, no verified LOINC): one regex per text.
        words = [t for t in texts if type(t) is str]
        if not any(self.observation_names.might_name(w) for w in words):
            return None
        named = self.observation_names.classify(_raw_codings(code), [_raw_text(code)])
        return next(iter(named), None)

    def classify_medication(
        self, raw: Mapping[str, Any], index: Mapping[str, Any]
    ) -> tuple[dict[str, str], str] | None:
        """(classes, medication name) of a raw MedicationRequest/Statement, or None when no class matches."""
        concept = raw.get("medicationCodeableConcept")
        if concept is None:
            concept = _referenced_medication_code(raw, index)
        found = self._medication_readings(concept)
        return (dict(found[0]), found[1]) if found else None

    def _read_medication_code(self, concept: Any) -> tuple[Mapping[str, str], str] | None:
        codings = _raw_codings(concept)
        found = self.medications.classify(codings, [_raw_text(concept)])
        name = _raw_text(concept) or next((c.display for c in codings if c.display), "")
        return (MappingProxyType(found), name) if found else None

    def route_of(self, raw: Mapping[str, Any], name: str) -> str | None:
        """The route class of a raw MedicationRequest/Statement: its dosage route, else its product name."""
        for dosage in _raw_list(raw.get("dosageInstruction")) + _raw_list(raw.get("dosage")):
            if type(dosage) is not dict:
                continue
            route = self._route_readings(dosage.get("route"))
            if route:
                return route
        return self._route_readings({"text": name})

    def _read_route(self, concept: Any) -> str | None:
        found = self.routes.classify(_raw_codings(concept), [_raw_text(concept)])
        return _first_route(found, self.routes) if found else None

    def indications_of(self, raw: Mapping[str, Any]) -> frozenset[str]:
        """Condition classes of a medication's reasonCode (e.g. hypomagnesemia)."""
        out: frozenset[str] = frozenset()
        for concept in _raw_list(raw.get("reasonCode")):
            out |= self._indication_readings(concept)
        return out

    def _read_indication(self, concept: Any) -> frozenset[str]:
        return frozenset(self.conditions.classify(_raw_codings(concept), [_raw_text(concept)]))

    def _condition_filter(self, raw: Mapping[str, Any], _: Mapping[str, Any]) -> ConditionReading | None:
        """What a raw Condition or Procedure code says (classes, qualifiers, side); None when no class matches."""
        return self._condition_readings(raw.get("code"))

    def _read_condition_code(self, code: Any) -> ConditionReading | None:
        codings = _raw_codings(code)
        text = _raw_text(code)
        found = self.conditions.classify(codings, [text])
        if not found:
            return None
        qualifiers = self.qualifiers.classify(codings, [text, *(c.display or "" for c in codings)])
        # A family history is about relatives, never the patient (ICD-10-CM Z80-Z84, "family history of").
        if "family-history" in qualifiers:
            return None
        return ConditionReading(
            MappingProxyType(found),
            # "History of ..." and "... in remission": present in the record, not now.
            current=not ({"past", "remission"} & qualifiers.keys()),
            laterality=_laterality(codings, text),
        )

    _handlers: ClassVar[Mapping[str, Callable[[Extractor, Mapping[str, Any], Mapping[str, Any]], Any]]] = {
        "Observation": _observation_filter,
        "MedicationRequest": classify_medication,
        "MedicationStatement": classify_medication,
        "Condition": _condition_filter,
        "Procedure": _condition_filter,
    }

    def _collect(
        self,
        rtype: str,
        relevant: Any,
        entry: Entry,
        issues: list[Finding],
        *,
        meds: list[MedicationUse],
        conditions: list[ConditionFact],
    ) -> None:
        if rtype in ("MedicationRequest", "MedicationStatement"):
            med = _validate(VALIDATORS[rtype], entry, issues)
            if med is not None:
                classes, name = relevant
                use = _medication_use(med, rtype, classes, name, entry)
                raw = entry.resource
                supply = supply_days(raw)
                if use.end is None and use.start is not None and supply is not None and supply <= self._short_course:
                    # A short course (e.g. 14 days) with no end date ends when its supply runs out.
                    use = replace(use, end=use.start + timedelta(days=supply))
                meds.append(
                    replace(
                        use,
                        route=self.route_of(raw, use.display),
                        supply_days=supply,
                        indications=self.indications_of(raw),
                    )
                )
        elif rtype == "Procedure":
            proc = _validate(VALIDATORS["Procedure"], entry, issues)
            if proc is not None:
                conditions.append(_procedure_fact(proc, relevant.classes, entry))
        else:
            cond = _validate(VALIDATORS["Condition"], entry, issues)
            if cond is not None:
                conditions.append(_condition_fact(cond, relevant, entry))

    def _lab_result(
        self, obs: Any, analyte: str, entry: Entry, issues: list[Finding]
    ) -> LabResult | UnreadableResult | None:
        if obs.get("status") not in USABLE_OBSERVATION_STATUS:
            return None  # preliminary, cancelled, entered-in-error...: not a result to act on
        effective = _observation_time(obs)
        if effective is None:
            issues.append(_issue("result-without-date", "A result has no effective time or issued; ignored.", entry))
            return None
        read = self._read_value(obs, analyte)
        if isinstance(read, str):
            issues.append(_issue("result-unreadable", f"A result could not be read: {read}.", entry))
            return UnreadableResult(
                analyte, _reference(entry), _concept_display(obs.get("code")) or None, effective, read
            )
        value, unit, ranges, comparator, text = read
        return _lab(
            obs,
            analyte,
            entry,
            effective,
            value=value,
            unit=unit,
            ranges=ranges,
            comparator=comparator,
            value_text=text,
        )

    def _read_value(  # noqa: PLR0911, PLR0912 (one early return per way a result can be unreadable)
        self, obs: Any, analyte: str
    ) -> str | tuple[float, str, tuple[float | None, float | None, str | None], str | None, str | None]:
        """(value, canonical unit, lab range, comparator, coded text), or what made the result unreadable."""
        if analyte in CODED_ANALYTES:
            text = _concept_display(obs.get("valueCodeableConcept"))
            return (0.0, "", (None, None, None), None, text) if text else "it has no coded answer"
        quantity = obs.get("valueQuantity")
        if quantity is not None and quantity.get("value") is not None:
            value, code, unit_text, comparator = (
                float(quantity["value"]),
                quantity.get("code"),
                quantity.get("unit"),
                quantity.get("comparator"),
            )
        elif obs.get("valueInteger") is not None:
            value, code, unit_text, comparator = float(obs["valueInteger"]), None, None, None
        elif obs.get("valueString") is not None:
            return f"the value is text ({_short(obs['valueString'])!r}), not a number with a unit"
        elif obs.get("dataAbsentReason") is not None:
            return f"no value ({_concept_display(obs['dataAbsentReason']) or 'data absent'})"
        else:
            return "it has no numeric value"
        if not math.isfinite(value):
            return "the value is not a finite number"
        named = code or unit_text
        if analyte in ("serum-magnesium", "non-serum-magnesium"):
            unit = normalise_unit(code, unit_text)
            if unit is None:
                return f"unit {named!r} is not a magnesium unit" if named else "it has no unit"
            canonical = self._mg.to_mmol(value, unit)
            ranges = _reference_range(obs, unit, self._mg)
        elif analyte in SI_ANALYTES:
            factor = si_factor(analyte, code, unit_text)
            if factor is None:
                return f"unit {named!r} is not understood" if named else "it has no unit"
            unit, value = MMOL_PER_L, value * factor
            canonical, ranges = value, _si_range(obs, analyte)
        else:
            unit = named or ""
            if analyte in UNIT_REQUIRED and not unit:
                return "it has no unit"
            canonical, ranges = value, _reference_range(obs, unit, None)
        limit = self._plausible_max.get(analyte)
        if limit is not None and (canonical <= 0 or canonical > limit):
            return f"the value {value:g} {unit} is not physiologically possible"
        return value, unit, ranges, comparator, None


# Coded (not numeric) observations the rules read, by observation-name class.
CODED_ANALYTES = frozenset({"pregnancy-status"})
# Analytes normalised to mmol/L (the engine's cut-offs are in mmol/L).
SI_ANALYTES = frozenset({"potassium", "calcium"})
# Analytes whose numbers mean nothing without a unit.
UNIT_REQUIRED = frozenset({"egfr"})
MMOL_PER_L = "mmol/L"
# Calcium: mg/dL x 0.2495 = mmol/L (clinical reference §2b); potassium: mmol/L = mEq/L.
_SI_FACTORS: Mapping[str, Mapping[str, float]] = {
    "potassium": {"mmol/l": 1.0, "meq/l": 1.0},
    "calcium": {"mmol/l": 1.0, "mg/dl": 0.2495, "meq/l": 0.5},
}


def si_factor(analyte: str, code: str | None, unit: str | None) -> float | None:
    for candidate in (code, unit):
        if candidate:
            factor = _SI_FACTORS[analyte].get(candidate.strip().lower())
            if factor is not None:
                return factor
    return None


def _si_range(obs: Any, analyte: str) -> tuple[float | None, float | None, str | None]:
    for rr in obs.get("referenceRange") or []:
        bounds = []
        for q in (rr.get("low"), rr.get("high")):
            given = q is not None and q.get("value") is not None
            # A bound without a unit is ambiguous for calcium: not used.
            factor = si_factor(analyte, q.get("code"), q.get("unit")) if given else None
            bounds.append(float(q["value"]) * factor if given and factor else None)
        if bounds[0] is not None or bounds[1] is not None:
            return bounds[0], bounds[1], rr.get("text")
        if rr.get("text"):
            return None, None, rr["text"]
    return None, None, None


def _lab(
    obs: Any,
    analyte: str,
    entry: Entry,
    effective: datetime,
    *,
    value: float,
    unit: str,
    ranges: tuple[float | None, float | None, str | None],
    comparator: str | None,
    value_text: str | None = None,
) -> LabResult:
    concept = obs.get("code") or {}
    coding = next((c for c in concept.get("coding") or [] if c.get("system") == LOINC), None)
    low, high, text = ranges
    return LabResult(
        analyte=analyte,
        reference=_reference(entry),
        code=(coding.get("code") if coding else None) or "",
        display=(coding.get("display") if coding else None) or concept.get("text"),
        value=value,
        unit=unit,
        effective=effective,
        range_low=low,
        range_high=high,
        range_text=text,
        interpretation=_interpretation_codes(obs),
        comparator=comparator,
        status=str(obs.get("status")),
        issued=as_utc(obs.get("issued")),
        value_text=value_text,
    )


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_route(found: Mapping[str, str], routes: Vocabulary) -> str:
    """The most specific route when a text names several (the vocabulary's order is the priority)."""
    order = list(routes.definitions)
    return min(found, key=order.index)


def _raw_list(value: Any) -> list[Any]:
    return value if type(value) is list else []


_LATERALITY = (
    ("bilateral", "bilateral"),
    ("both", "bilateral"),
    ("unilateral", "unilateral"),
    ("left", "left"),
    ("right", "right"),
)
# ICD-10-CM codes that carry the side (clinical reference §4b; R22.4x terminology review 2026-12-01).
_ICD_SIDE = {
    "M79604": "right",
    "M79661": "right",
    "M79605": "left",
    "M79662": "left",
    "R2241": "right",
    "R2242": "left",
    "R2243": "bilateral",
}


def _laterality(codings: Iterable[CodingText], text: str) -> str | None:
    """The side a code or its words name ("left", "right", "unilateral", "bilateral"), if any."""
    displays = [text]
    for c in codings:
        if c.code and c.system == ICD10CM_SYSTEM:
            side = _ICD_SIDE.get(c.code.replace(".", "").upper())
            if side:
                return side
        displays.append(c.display or "")
    words = set(_LETTERS.findall(" ".join(displays).lower()))
    return next((side for word, side in _LATERALITY if word in words), None)


_LETTERS = re.compile(r"[a-z]+")


ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
_DURATION_DAYS = {
    "d": 1.0,
    "day": 1.0,
    "days": 1.0,
    "wk": 7.0,
    "week": 7.0,
    "weeks": 7.0,
    "mo": 30.0,
    "month": 30.0,
    "months": 30.0,
    "h": 1 / 24,
}


def supply_days(raw: Mapping[str, Any]) -> float | None:
    """How long a prescription covers: expected supply x (1 + repeats), else its validity or dosage bounds."""
    dispense = raw.get("dispenseRequest")
    if type(dispense) is dict:
        supply = dispense.get("expectedSupplyDuration")
        if type(supply) is dict and isinstance(supply.get("value"), int | float):
            unit = str(supply.get("code") or supply.get("unit") or "d").strip().lower()
            factor = _DURATION_DAYS.get(unit)
            if factor is not None:
                repeats = dispense.get("numberOfRepeatsAllowed")
                fills = 1 + (repeats if type(repeats) is int and repeats > 0 else 0)
                return float(supply["value"]) * factor * fills
        days = _period_days(dispense.get("validityPeriod"))
        if days is not None:
            return days
    for dosage in _raw_list(raw.get("dosageInstruction")):
        timing = dosage.get("timing") if type(dosage) is dict else None
        repeat = timing.get("repeat") if type(timing) is dict else None
        if type(repeat) is dict:
            days = _period_days(repeat.get("boundsPeriod"))
            if days is not None:
                return days
    return None


def _period_days(period: Any) -> float | None:
    if type(period) is not dict:
        return None
    start, end = period.get("start"), period.get("end")
    if type(start) is not str or type(end) is not str:
        return None
    a, b = _parse_time(start), _parse_time(end)
    return (b - a).total_seconds() / 86400 if a and b and b >= a else None


def entries_from_bundle(bundle: Mapping[str, Any]) -> list[Entry]:
    """Entries of any Bundle type; entries without a resource object are skipped."""
    out: list[Entry] = []
    for item in bundle.get("entry") or []:
        # Parsed JSON is made of dicts: exact type checks are much cheaper than the Mapping ABC.
        if type(item) is dict:
            resource = item.get("resource")
            if type(resource) is dict:
                full_url = item.get("fullUrl")
                out.append(Entry(resource, full_url if type(full_url) is str else None))
    return out


_T = TypeVar("_T")
_MISSING: Any = object()


class ConceptMemo(Generic[_T]):
    """A reading of raw CodeableConcepts remembered by their content (text; system, code, display of each
    coding): the same problem and drug codes recur on every chart, so most readings are one lookup.

    Bounded (oldest out first) and never keyed on long texts (MEMO_MAX_TEXT) or many codings
    (MEMO_MAX_CODINGS), so hostile input cannot grow it; the readings are shared across requests and must
    be immutable.
    """

    def __init__(self, read: Callable[[Any], _T], size: int = CLASSIFY_CACHE_SIZE) -> None:
        self._read = read
        self._size = size
        self._memo: dict[tuple[Any, ...], _T] = {}

    def __call__(self, concept: Any) -> _T:
        key = concept_key(concept)
        if key is None:
            return self._read(concept)
        try:
            found = self._memo.get(key, _MISSING)
        except TypeError:  # a part that is a JSON array or object: unhashable, never remembered
            return self._read(concept)
        if found is _MISSING:
            found = self._read(concept)
            if len(key) <= 1 + 3 * MEMO_MAX_CODINGS and sum(len(p) for p in key if type(p) is str) <= MEMO_MAX_TEXT:
                if len(self._memo) >= self._size:
                    self._memo.pop(next(iter(self._memo)), None)
                self._memo[key] = found
        return cast(_T, found)


def concept_key(concept: Any) -> tuple[Any, ...] | None:
    """The parts of a raw CodeableConcept that any reading uses (text; system, code, display of each coding
    object), as a tuple; None when it is not an object. Parts are as given: a reading treats a part that is
    not text as absent, so such keys are merely distinct, and an unhashable one is read without a memo."""
    if type(concept) is not dict:
        return None if concept is not None else ()
    codings = concept.get("coding")
    if type(codings) is list and len(codings) == 1 and type(only := codings[0]) is dict:  # the usual shape
        return (concept.get("text"), only.get("system"), only.get("code"), only.get("display"))
    key: list[Any] = [concept.get("text")]
    if type(codings) is list:  # anything else is no codings to the readings (_raw_codings)
        for c in codings:
            if type(c) is dict:
                key += (c.get("system"), c.get("code"), c.get("display"))
    return tuple(key)


def _raw_codings(concept: Any) -> list[CodingText]:
    """Codings of a raw CodeableConcept, defensively: wrong shapes yield nothing, never an error."""
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    out = []
    for c in codings if isinstance(codings, list) else []:
        if isinstance(c, Mapping):
            system, code, display = c.get("system"), c.get("code"), c.get("display")
            out.append(
                CodingText(
                    system if isinstance(system, str) else None,
                    code if isinstance(code, str) else None,
                    display if isinstance(display, str) else None,
                )
            )
    return out


def _raw_text(concept: Any) -> str:
    text = concept.get("text") if isinstance(concept, Mapping) else None
    return text if isinstance(text, str) else ""


def medication_index(entries: Sequence[Entry]) -> dict[str, Mapping[str, Any]]:
    """Bundled Medication resources by 'Medication/id' and by fullUrl, for medicationReference."""
    index: dict[str, Mapping[str, Any]] = {}
    for e in entries:
        if e.resource.get("resourceType") == "Medication":
            if e.resource.get("id"):
                index[f"Medication/{e.resource['id']}"] = e.resource
            if e.full_url:
                index[e.full_url] = e.resource
                index[_normalise_ref(e.full_url)] = e.resource
    return index


def _referenced_medication_code(raw: Mapping[str, Any], index: Mapping[str, Any]) -> Any:
    """The code of a contained ('#id') or bundled Medication named by medicationReference."""
    ref_obj = raw.get("medicationReference")
    ref = ref_obj.get("reference") if isinstance(ref_obj, Mapping) else None
    display = ref_obj.get("display") if isinstance(ref_obj, Mapping) else None
    medication: Any = None
    if isinstance(ref, str) and ref.startswith("#"):
        contained = raw.get("contained")
        for item in contained if isinstance(contained, list) else []:
            if isinstance(item, Mapping) and item.get("resourceType") == "Medication" and item.get("id") == ref[1:]:
                medication = item
    elif isinstance(ref, str):
        medication = index.get(ref) or index.get(_normalise_ref(ref))
    code = medication.get("code") if isinstance(medication, Mapping) else None
    if code is None and isinstance(display, str):
        return {"text": display}  # an unresolvable reference still names the drug
    return code


def _concept_display(concept: Any) -> str:
    """A validated CodeableConcept's text, else its first coding display, else ""."""
    if not concept:
        return ""
    if concept.get("text"):
        return str(concept["text"])
    return next((str(c["display"]) for c in concept.get("coding") or [] if c.get("display")), "")


def _medication_use(med: Any, rtype: str, classes: Mapping[str, str], name: str, entry: Entry) -> MedicationUse:
    """Status and exposure dates of a MedicationStatement (effective[x]) or MedicationRequest (authoredOn...)."""
    if rtype == "MedicationStatement":
        period = med.get("effectivePeriod") or {}
        start = as_utc(med.get("effectiveDateTime")) or as_utc(period.get("start")) or as_utc(med.get("dateAsserted"))
        end = as_utc(period.get("end"))
    else:
        validity = (med.get("dispenseRequest") or {}).get("validityPeriod") or {}
        bounds = [
            b
            for d in med.get("dosageInstruction") or []
            if (b := ((d.get("timing") or {}).get("repeat") or {}).get("boundsPeriod"))
        ]
        start = (
            as_utc(med.get("authoredOn"))
            or as_utc(validity.get("start"))
            or next((as_utc(b["start"]) for b in bounds if b.get("start")), None)
        )
        end = as_utc(validity.get("end")) or next((as_utc(b["end"]) for b in bounds if b.get("end")), None)
    display = _concept_display(med.get("medicationCodeableConcept")) or name  # name: a contained or bundled Medication
    return MedicationUse(_reference(entry), display or "medication", dict(classes), str(med.get("status")), start, end)


# Statuses that make a resource useless to the rules, read from the raw JSON so such resources are never
# validated: inactive or refuted conditions, and medications that were stopped, cancelled, not taken,
# entered in error, or are unsigned drafts (the order hooks judge drafts from their own raw JSON).
UNUSED_MEDICATION_STATUS = frozenset({"stopped", "cancelled", "entered-in-error", "not-taken", "unknown", "draft"})


def _raw_status(concept: Any) -> str | None:
    codings = concept.get("coding") if type(concept) is dict else None
    if type(codings) is list:
        for c in codings:
            if type(c) is dict and type(c.get("code")) is str:
                return str(c["code"])
    return None


def _unused_by_status(raw: Mapping[str, Any], rtype: str) -> bool:
    if rtype == "Procedure":
        return raw.get("status") not in DONE_PROCEDURE_STATUS
    if rtype == "Condition":
        if _raw_status(raw.get("verificationStatus")) in IGNORED_VERIFICATION:
            return True
        clinical = _raw_status(raw.get("clinicalStatus"))
        return clinical is not None and clinical not in ACTIVE_CLINICAL_STATUS
    return raw.get("status") in UNUSED_MEDICATION_STATUS


# Condition.clinicalStatus codes that count as present (R4 condition-clinical).
ACTIVE_CLINICAL_STATUS = frozenset({"active", "recurrence", "relapse"})
# Condition.verificationStatus codes that mean the condition is not the patient's (R4 condition-ver-status).
IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})


def _status_code(concept: Any) -> str | None:
    if concept:
        for coding in concept.get("coding") or ():
            code = coding.get("code")
            if code:
                return str(code)
    return None


def _condition_fact(cond: Any, reading: ConditionReading, entry: Entry) -> ConditionFact:
    """The fact of a Condition that _unused_by_status let through: not refuted, clinical status active if given."""
    # An absent clinicalStatus with no abatement counts as active (R4: clinicalStatus is required unless
    # verificationStatus is entered-in-error, so EHRs that omit it are treating it as current).
    active = _status_code(cond.get("clinicalStatus")) is not None or not any(
        cond.get(k) is not None for k in ("abatementDateTime", "abatementPeriod", "abatementAge", "abatementString")
    )
    recorded = as_utc(cond.get("recordedDate"))
    onset = as_utc(cond.get("onsetDateTime")) or as_utc((cond.get("onsetPeriod") or {}).get("start")) or recorded
    return ConditionFact(
        _reference(entry),
        _concept_display(cond.get("code")) or "condition",
        dict(reading.classes),
        active,
        onset,
        recorded=recorded,
        current=reading.current,
        laterality=reading.laterality,
    )


# Procedure.status values that mean it happened or is happening (R4 event-status).
DONE_PROCEDURE_STATUS = frozenset({"completed", "in-progress"})


def _procedure_fact(proc: Any, classes: Mapping[str, str], entry: Entry) -> ConditionFact:
    """A Procedure (e.g. dialysis) as a fact: active when completed or in progress, dated when performed."""
    period = proc.get("performedPeriod") or {}
    performed = as_utc(proc.get("performedDateTime")) or as_utc(period.get("end") or period.get("start"))
    return ConditionFact(
        _reference(entry),
        _concept_display(proc.get("code")) or "procedure",
        dict(classes),
        str(proc.get("status")) in DONE_PROCEDURE_STATUS,
        performed,
        kind="Procedure",
    )


class Validator(Protocol):
    """What validates a resource: a plain validator of a generated model (or, in the tests, fhir.resources)."""

    def validate_python(self, data: Any) -> Any: ...


# The generated models (service/core/fhir_models.py: fhir.resources' definitions run by pydantic-core), as
# plain validators: the same rules, with validated resources as dicts of the elements given (fhir_base.py).
VALIDATORS: Mapping[str, Validator] = {rtype: plain_validator(m) for rtype, m in RESOURCE_MODELS.items()}


def _validate(validator: Validator, entry: Entry, issues: list[Finding]) -> Any:
    """Validate the used elements (a dict of them, or None); unknown elements are dropped (be liberal),
    errors skip the resource."""
    used = _USED_SETS.get(str(entry.resource.get("resourceType")))
    raw: Any = {k: v for k, v in entry.resource.items() if k in used} if used else entry.resource
    if used:
        _assume_utc(raw, entry, issues)
    for _ in range(2):
        try:
            return validator.validate_python(raw)
        except ValidationError as exc:
            errors = exc.errors()
            extras = [e["loc"] for e in errors if e["type"] == "extra_forbidden"]
            if extras and len(extras) == len(errors):
                # Unknown elements (e.g. from a newer FHIR version or a vendor): drop them and retry once.
                try:
                    raw = _without_paths(raw, extras)
                except RecursionError:
                    break
                continue
            where = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'resource'}: {e['msg']}" for e in errors[:_MAX_REPORTED_ERRORS]
            )
            issues.append(_issue("resource-invalid", f"Not valid FHIR R4 ({where}); ignored.", entry))
            return None
    issues.append(_issue("resource-invalid", "Not valid FHIR R4; ignored.", entry))
    return None


# FHIR R4 dateTime: "If hours and minutes are specified, a time zone SHALL be populated". EHRs that omit it
# still mean a real moment; reading it as UTC (and saying so) beats dropping the newest result for an older one.
_NO_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_TIME_FIELDS = (
    "effectiveDateTime",
    "issued",
    "onsetDateTime",
    "recordedDate",
    "authoredOn",
    "dateAsserted",
    "performedDateTime",
    "abatementDateTime",
)
_PERIOD_FIELDS = ("effectivePeriod", "onsetPeriod", "performedPeriod")
# The ones each resource type's used elements hold (the others are never in its projection).
_TIME_FIELDS_OF = {rtype: tuple(f for f in _TIME_FIELDS if f in used) for rtype, used in USED_ELEMENTS.items()}
_PERIOD_FIELDS_OF = {rtype: tuple(f for f in _PERIOD_FIELDS if f in used) for rtype, used in USED_ELEMENTS.items()}


def _may_lack_zone(value: str) -> bool:
    """A cheap test before the regex: a time with a zone ends in Z or in ±hh:mm."""
    return value[-1:] != "Z" and value[-6:-5] not in ("+", "-")


def _assume_utc(raw: dict[str, Any], entry: Entry, issues: list[Finding]) -> None:
    rtype = str(raw.get("resourceType"))
    patched = []
    for key in _TIME_FIELDS_OF.get(rtype, _TIME_FIELDS):
        value = raw.get(key)
        if type(value) is str and _may_lack_zone(value) and _NO_ZONE.match(value):
            raw[key] = value + "Z"
            patched.append(key)
    for key in _PERIOD_FIELDS_OF.get(rtype, _PERIOD_FIELDS):
        period = raw.get(key)
        if type(period) is dict:
            fixed = dict(period)
            for bound in ("start", "end"):
                value = period.get(bound)
                if type(value) is str and _may_lack_zone(value) and _NO_ZONE.match(value):
                    fixed[bound] = value + "Z"
                    patched.append(f"{key}.{bound}")
            raw[key] = fixed
    if patched:
        issues.append(
            _issue(
                "time-zone-missing",
                f"{', '.join(patched)} has no time zone; read as UTC.",
                entry,
            )
        )


def _without_paths(raw: Any, paths: Iterable[tuple[Any, ...]]) -> Any:
    """A copy of `raw` without the elements at the given pydantic error locations."""
    copy = _deep_copy(raw)
    for path in paths:
        node: Any = copy
        for step in path[:-1]:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return copy


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _reference(entry: Entry) -> str:
    raw = entry.resource
    rid = raw.get("id")
    if isinstance(rid, str) and rid:
        return f"{raw.get('resourceType')}/{rid}"
    return entry.full_url or f"{raw.get('resourceType')}/(no id)"


def _issue(code: str, message: str, entry: Entry) -> Finding:
    return Finding("data-quality", code, message, (Evidence(_reference(entry)),))


def _normalise_ref(ref: str) -> str:
    """'urn:uuid:x' stays; 'https://ehr/fhir/Patient/1/_history/2' and 'Patient/1' become 'Patient/1'."""
    if ref.startswith(("urn:uuid:", "urn:oid:")):
        return ref
    parts = [p for p in ref.split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


def _patient_identity(entries: Sequence[Entry], patient_id: str | None) -> frozenset[str]:
    """The references that denote the patient: from the hook context, or the Bundle's only Patient."""
    if patient_id is not None:
        refs = {f"Patient/{patient_id}"}
        for e in entries:
            if e.resource.get("resourceType") == "Patient" and e.resource.get("id") == patient_id and e.full_url:
                refs.add(_normalise_ref(e.full_url))
        return frozenset(refs)
    patients = [e for e in entries if e.resource.get("resourceType") == "Patient"]
    ids = {str(p.resource.get("id")) for p in patients}
    if len(ids) > 1:
        raise InvalidRequest(
            "The Bundle holds more than one Patient; send one patient's data per request.",
        )
    if patients:
        refs = {f"Patient/{p.resource.get('id')}" for p in patients if p.resource.get("id")}
        refs |= {_normalise_ref(p.full_url) for p in patients if p.full_url}
        return frozenset(refs)
    subjects = {s for e in entries if (s := _subject(e.resource)) is not None}
    if len(subjects) > 1:
        raise InvalidRequest("The Bundle's resources refer to more than one patient and it holds no Patient.")
    return frozenset()


def _is_identity(entry: Entry, identity: frozenset[str]) -> bool:
    if f"Patient/{entry.resource.get('id')}" in identity:
        return True
    return entry.full_url is not None and _normalise_ref(entry.full_url) in identity


def _subject(raw: Mapping[str, Any]) -> str | None:
    field = _SUBJECT_FIELD.get(str(raw.get("resourceType")))
    subject = raw.get(field) if field else None
    ref = subject.get("reference") if isinstance(subject, Mapping) else None
    return _normalise_ref(ref) if isinstance(ref, str) and ref else None


def _about_patient(raw: Mapping[str, Any], rtype: str, identity: frozenset[str]) -> bool:
    """True unless the resource names a subject that is not the patient (no subject: accepted)."""
    if not identity:
        return True
    # Fast path: the reference exactly as the identity holds it (e.g. 'Patient/1'), no normalising needed.
    field = _SUBJECT_FIELD.get(rtype)
    subject_obj = raw.get(field) if field else None
    ref = subject_obj.get("reference") if type(subject_obj) is dict else None
    if type(ref) is str and ref in identity:
        return True
    subject = _subject(raw)
    return not identity or subject is None or subject in identity


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        moment = _partial_to_datetime(value)
        return moment.date() if moment else None
    return None


def _partial_to_datetime(value: str) -> datetime | None:
    """FHIR allows 'YYYY' and 'YYYY-MM' dates; take the first instant of that period (UTC)."""
    m = _PARTIAL_DATE.match(value)
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2] or 1), int(m[3] or 1), tzinfo=UTC)
    except ValueError:
        return None  # an impossible date such as 2026-02-30: unreadable, never an error


def as_utc(value: Any) -> datetime | None:
    """A FHIR date/dateTime/instant (parsed or not) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        return _partial_to_datetime(value)
    return None


_FULL_DATE_LENGTH = len("YYYY-MM-DD")  # longer: a dateTime or instant, never a partial date
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _raw_sort_key(entry: Entry) -> tuple[datetime, int, datetime]:
    """A result's (time, status rank, issued) from its raw JSON, for ordering before validation.

    Unreadable times sort first: validate them first, they may be the newest. An amended or corrected
    result sorts before the original of the same time, and a later `issued` breaks remaining ties.
    """
    raw = entry.resource
    period = raw.get("effectivePeriod")
    status = raw.get("status")
    rank = STATUS_RANK.get(status, 0) if type(status) is str else 0
    issued_raw = raw.get("issued")
    issued = (_parse_time(issued_raw) if type(issued_raw) is str else None) or _EARLIEST
    for value in (
        raw.get("effectiveDateTime"),
        raw.get("effectiveInstant"),
        (period.get("end") or period.get("start")) if type(period) is dict else None,
        issued_raw,
    ):
        if type(value) is str:
            moment = _parse_time(value)
            return (moment if moment is not None else _LATEST), rank, issued
    return _LATEST, rank, issued


def _parse_time(value: str) -> datetime | None:
    if len(value) <= _FULL_DATE_LENGTH:
        return _partial_to_datetime(value)
    try:
        moment = datetime.fromisoformat(value)  # Python 3.11+ reads a trailing Z
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _observation_time(obs: Any) -> datetime | None:
    """Clinically relevant time: effective[x] (R4 §Observation.effective), then issued."""
    period = obs.get("effectivePeriod") or {}
    candidates = (
        obs.get("effectiveDateTime"),
        obs.get("effectiveInstant"),
        period.get("end") or period.get("start"),
        obs.get("issued"),
    )
    for value in candidates:
        moment = as_utc(value)
        if moment is not None:
            return moment
    return None


def _reference_range(obs: Any, unit: str, mg: MgConverter | None) -> tuple[float | None, float | None, str | None]:
    """The lab's own range, converted to the result's unit; the first range with a bound wins."""
    for rr in obs.get("referenceRange") or []:
        low = _range_bound(rr.get("low"), unit, mg)
        high = _range_bound(rr.get("high"), unit, mg)
        if low is not None or high is not None:
            return low, high, rr.get("text")
        if rr.get("text"):
            return None, None, rr["text"]
    return None, None, None


def _range_bound(quantity: Any, unit: str, mg: MgConverter | None) -> float | None:
    if quantity is None or quantity.get("value") is None:
        return None
    value = float(quantity["value"])
    if mg is None:
        # Other analytes: a bound is used only in the result's own unit (or with no unit at all).
        bound_unit = quantity.get("code") or quantity.get("unit")
        same = bound_unit is None or bound_unit.strip().lower() == unit.strip().lower()
        return value if same else None
    bound_unit = normalise_unit(quantity.get("code"), quantity.get("unit")) or unit  # no unit: same as the result
    return mg.from_mmol(mg.to_mmol(value, bound_unit), unit)


def _interpretation_codes(obs: Any) -> frozenset[str]:
    codes: set[str] = set()
    for concept in obs.get("interpretation") or []:
        for coding in concept.get("coding") or []:
            if coding.get("code") and coding.get("system") in (None, INTERPRETATION_SYSTEM):
                codes.add(coding["code"])
    return frozenset(codes)
