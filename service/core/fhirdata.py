"""FHIR R4 extraction: from raw resources to the facts the rules use. All FHIR parsing lives here.

Payloads are FHIR R4 and parsed with models generated from `fhir.resources.R4B` (R4B shares R4's JSON for every
resource type read here). "Validate what you use": resources are first filtered cheaply on the raw JSON
by type and code, and only the survivors are validated. A malformed resource is skipped and reported as a
data-quality finding; it never fails the request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from .errors import InvalidRequest
from .fhir_models import Condition, MedicationRequest, MedicationStatement, Observation, Patient
from .knowledge import LAB_VALUESETS, KnowledgeBase
from .matching import CodingText, Vocabulary
from .model import Evidence, Finding
from .units import MgConverter, normalise_unit

LOINC = "http://loinc.org"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# FHIR R4 Observation.status values that denote a usable result (R4 §Observation.status).
USABLE_OBSERVATION_STATUS = frozenset({"final", "amended", "corrected"})
# The subject element of each resource type we read (FHIR R4 resource definitions).
_SUBJECT_FIELD = {
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
        "medicationCodeableConcept",
        "medicationReference",
    ),
}
_MAX_REPORTED_ERRORS = 3


@dataclass(frozen=True, slots=True)
class Entry:
    """A raw resource as received, with the fullUrl it had in its Bundle (if any)."""

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
    end: datetime | None

    def evidence(self) -> Evidence:
        return Evidence(self.reference, self.display, self.start.date().isoformat() if self.start else None)


@dataclass(frozen=True, slots=True)
class ConditionFact:
    """A Condition that matched at least one condition class."""

    reference: str
    display: str
    classes: Mapping[str, str]
    active: bool
    onset: datetime | None

    def evidence(self) -> Evidence:
        return Evidence(self.reference, self.display, self.onset.date().isoformat() if self.onset else None)


@dataclass(frozen=True, slots=True)
class LabResult:
    """A laboratory result normalised to the analyte's canonical unit."""

    analyte: str  # value-set id, e.g. "serum-magnesium", or an observation-name class
    reference: str
    code: str
    display: str | None
    value: float  # as reported
    unit: str  # canonical UCUM for magnesium; as reported for other analytes
    effective: datetime
    range_low: float | None  # in the reported unit
    range_high: float | None
    range_text: str | None
    interpretation: frozenset[str]
    comparator: str | None = None

    def evidence(self) -> Evidence:
        return Evidence(self.reference, self.display, self.effective.date().isoformat())


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """The facts extracted for one patient, plus what was wrong with the data."""

    demographics: Demographics | None
    labs: tuple[LabResult, ...]
    issues: tuple[Finding, ...]
    medications: tuple[MedicationUse, ...] = ()
    conditions: tuple[ConditionFact, ...] = ()

    def labs_for(self, analyte: str) -> list[LabResult]:
        """Results for one analyte, most recent first."""
        return sorted((r for r in self.labs if r.analyte == analyte), key=lambda r: r.effective, reverse=True)


class Extractor:
    """Extracts a PatientRecord from raw FHIR resources; built once per knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._mg = MgConverter(kb.constant("mg-molar-mass"), kb.constant("mg-valence"))
        # (system, code) → analyte, for the cheap pre-filter on raw Observations.
        self._lab_index: dict[tuple[str, str], str] = {}
        for vs_id in LAB_VALUESETS:
            for key in kb.valuesets[vs_id].codes:
                self._lab_index.setdefault(key, vs_id)
        self.medications = Vocabulary(kb.medications, kb.valuesets)
        self.conditions = Vocabulary(kb.conditions, kb.valuesets)
        self.observation_names = Vocabulary(kb.observation_names, kb.valuesets)

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
                patient = _validate(Patient, entry, issues)
                if patient is not None:
                    demographics = Demographics(
                        _reference(entry),
                        _as_date(patient.birthDate),
                        patient.gender,
                        as_utc(patient.deceasedDateTime),
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
        labs = [lab for analyte, found in candidates.items() for lab in self._labs(analyte, found, issues, now)]
        return PatientRecord(demographics, tuple(labs), tuple(issues), tuple(meds), tuple(conditions))

    def _labs(self, analyte: str, found: list[Entry], issues: list[Finding], now: datetime | None) -> list[LabResult]:
        """Validate an analyte's results newest first; stop at the first usable one not in the future."""
        ordered = sorted(found, key=_raw_time_key, reverse=True)
        results: list[LabResult] = []
        for entry in ordered:
            obs = _validate(Observation, entry, issues)
            result = self._lab_result(obs, analyte, entry, issues) if obs is not None else None
            if result is None:
                continue
            results.append(result)
            if now is not None and analyte not in ALL_RESULTS_REPORTED and result.effective <= now + FUTURE_TOLERANCE:
                break
        return results

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
        codings = _raw_codings(concept)
        found = self.medications.classify(codings, [_raw_text(concept)])
        name = _raw_text(concept) or next((c.display for c in codings if c.display), "")
        return (found, name) if found else None

    def _condition_filter(self, raw: Mapping[str, Any], _: Mapping[str, Any]) -> dict[str, str] | None:
        code = raw.get("code")
        found = self.conditions.classify(_raw_codings(code), [_raw_text(code)])
        return found or None

    _handlers: ClassVar[Mapping[str, Callable[[Extractor, Mapping[str, Any], Mapping[str, Any]], Any]]] = {
        "Observation": _observation_filter,
        "MedicationRequest": classify_medication,
        "MedicationStatement": classify_medication,
        "Condition": _condition_filter,
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
            model = MedicationRequest if rtype == "MedicationRequest" else MedicationStatement
            med = _validate(model, entry, issues)
            if med is not None:
                classes, name = relevant
                meds.append(_medication_use(med, rtype, classes, name, entry))
        else:
            cond = _validate(Condition, entry, issues)
            if cond is not None:
                conditions.append(_condition_fact(cond, relevant, entry))

    def _lab_result(self, obs: Any, analyte: str, entry: Entry, issues: list[Finding]) -> LabResult | None:
        if obs.status not in USABLE_OBSERVATION_STATUS:
            return None  # preliminary, cancelled, entered-in-error...: not a result to act on
        effective = _observation_time(obs)
        if effective is None:
            issues.append(_issue("result-without-date", "A result has no effective time or issued; ignored.", entry))
            return None
        quantity = obs.valueQuantity
        if quantity is not None and quantity.value is not None:
            value, code, unit_text, comparator = (
                float(quantity.value),
                quantity.code,
                quantity.unit,
                quantity.comparator,
            )
        elif obs.valueInteger is not None:
            value, code, unit_text, comparator = float(obs.valueInteger), None, None, None
        else:
            issues.append(_issue("result-without-value", "A result has no numeric value; ignored.", entry))
            return None
        magnesium = analyte in ("serum-magnesium", "non-serum-magnesium")
        unit = normalise_unit(code, unit_text) if magnesium else (code or unit_text or "")
        if unit is None:
            issues.append(
                _issue(
                    "unit-not-recognised",
                    f"Unit {code or unit_text!r} is not a recognised magnesium unit; the result was not interpreted.",
                    entry,
                )
            )
            return None
        low, high, text = _reference_range(obs, unit, self._mg if magnesium else None)
        coding = next((c for c in obs.code.coding or [] if c.system == LOINC), None)
        return LabResult(
            analyte=analyte,
            reference=_reference(entry),
            code=coding.code if coding else "",
            display=(coding.display if coding else None) or obs.code.text,
            value=value,
            unit=unit,
            effective=effective,
            range_low=low,
            range_high=high,
            range_text=text,
            interpretation=_interpretation_codes(obs),
            comparator=comparator,
        )


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
    if concept is None:
        return ""
    if concept.text:
        return str(concept.text)
    return next((str(c.display) for c in concept.coding or [] if c.display), "")


def _medication_use(med: Any, rtype: str, classes: Mapping[str, str], name: str, entry: Entry) -> MedicationUse:
    """Status and exposure dates of a MedicationStatement (effective[x]) or MedicationRequest (authoredOn...)."""
    if rtype == "MedicationStatement":
        period = med.effectivePeriod
        start = as_utc(med.effectiveDateTime) or as_utc(period.start if period else None) or as_utc(med.dateAsserted)
        end = as_utc(period.end) if period else None
        concept = med.medicationCodeableConcept
    else:
        validity = med.dispenseRequest.validityPeriod if med.dispenseRequest else None
        bounds = [
            d.timing.repeat.boundsPeriod
            for d in med.dosageInstruction or []
            if d.timing and d.timing.repeat and d.timing.repeat.boundsPeriod
        ]
        start = (
            as_utc(med.authoredOn)
            or as_utc(validity.start if validity else None)
            or next((as_utc(b.start) for b in bounds if b.start), None)
        )
        end = as_utc(validity.end if validity else None) or next((as_utc(b.end) for b in bounds if b.end), None)
        concept = med.medicationCodeableConcept
    display = _concept_display(concept) or name  # name: from a contained or bundled Medication
    return MedicationUse(_reference(entry), display or "medication", dict(classes), str(med.status), start, end)


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
    return next((str(c.code) for c in concept.coding or [] if c.code), None) if concept is not None else None


def _condition_fact(cond: Any, classes: Mapping[str, str], entry: Entry) -> ConditionFact:
    """The fact of a Condition that _unused_by_status let through: not refuted, clinical status active if given."""
    abated = any(
        v is not None for v in (cond.abatementDateTime, cond.abatementPeriod, cond.abatementAge, cond.abatementString)
    )
    # An absent clinicalStatus with no abatement counts as active (R4: clinicalStatus is required unless
    # verificationStatus is entered-in-error, so EHRs that omit it are treating it as current).
    active = _status_code(cond.clinicalStatus) is not None or not abated
    onset = (
        as_utc(cond.onsetDateTime)
        or as_utc(cond.onsetPeriod.start if cond.onsetPeriod else None)
        or as_utc(cond.recordedDate)
    )
    return ConditionFact(_reference(entry), _concept_display(cond.code) or "condition", dict(classes), active, onset)


def _validate(model: type[BaseModel], entry: Entry, issues: list[Finding]) -> Any:
    """Validate the used elements with the generated models (service/core/fhir_models.py: fhir.resources'
    definitions run by pydantic-core); unknown elements are dropped (be liberal), errors skip the resource."""
    used = USED_ELEMENTS.get(str(entry.resource.get("resourceType")))
    raw: Any = {k: entry.resource[k] for k in used if k in entry.resource} if used else entry.resource
    for _ in range(2):
        try:
            return model.model_validate(raw)
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
    return datetime(int(m[1]), int(m[2] or 1), int(m[3] or 1), tzinfo=UTC)


def as_utc(value: Any) -> datetime | None:
    """A FHIR date/dateTime/instant (parsed or not) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        return _partial_to_datetime(value)
    return None


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _raw_time_key(entry: Entry) -> datetime:
    """A result's time from its raw JSON, for ordering before validation; unreadable times sort first."""
    raw = entry.resource
    period = raw.get("effectivePeriod")
    for value in (
        raw.get("effectiveDateTime"),
        raw.get("effectiveInstant"),
        (period.get("end") or period.get("start")) if type(period) is dict else None,
        raw.get("issued"),
    ):
        if type(value) is str:
            moment = _parse_time(value)
            return moment if moment is not None else _LATEST  # validate it first: it may be the newest
    return _LATEST


def _parse_time(value: str) -> datetime | None:
    partial = _partial_to_datetime(value)
    if partial is not None:
        return partial
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _observation_time(obs: Any) -> datetime | None:
    """Clinically relevant time: effective[x] (R4 §Observation.effective), then issued."""
    period = obs.effectivePeriod
    candidates = (
        obs.effectiveDateTime,
        obs.effectiveInstant,
        (period.end or period.start) if period is not None else None,
        obs.issued,
    )
    for value in candidates:
        moment = as_utc(value)
        if moment is not None:
            return moment
    return None


def _reference_range(obs: Any, unit: str, mg: MgConverter | None) -> tuple[float | None, float | None, str | None]:
    """The lab's own range, converted to the result's unit; the first range with a bound wins."""
    for rr in obs.referenceRange or []:
        low = _range_bound(rr.low, unit, mg)
        high = _range_bound(rr.high, unit, mg)
        if low is not None or high is not None:
            return low, high, rr.text
        if rr.text:
            return None, None, rr.text
    return None, None, None


def _range_bound(quantity: Any, unit: str, mg: MgConverter | None) -> float | None:
    if quantity is None or quantity.value is None:
        return None
    if mg is None:
        # Other analytes: a bound is used only in the result's own unit (or with no unit at all).
        bound_unit = quantity.code or quantity.unit
        same = bound_unit is None or bound_unit.strip().lower() == unit.strip().lower()
        return float(quantity.value) if same else None
    bound_unit = normalise_unit(quantity.code, quantity.unit) or unit  # no unit: same as the result
    return mg.from_mmol(mg.to_mmol(float(quantity.value), bound_unit), unit)


def _interpretation_codes(obs: Any) -> frozenset[str]:
    codes: set[str] = set()
    for concept in obs.interpretation or []:
        for coding in concept.coding or []:
            if coding.code and coding.system in (None, INTERPRETATION_SYSTEM):
                codes.add(coding.code)
    return frozenset(codes)
