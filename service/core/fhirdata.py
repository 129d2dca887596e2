"""FHIR R4 extraction: from raw resources to the facts the rules use. All FHIR parsing lives here.

Payloads are FHIR R4 and parsed with the `fhir.resources.R4B` models (R4B shares R4's JSON for every
resource type read here). "Validate what you use": resources are first filtered cheaply on the raw JSON
by type and code, and only the survivors are validated. A malformed resource is skipped and reported as a
data-quality finding; it never fails the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from pydantic import BaseModel, ValidationError

from .errors import InvalidRequest
from .knowledge import KnowledgeBase
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


@dataclass(frozen=True, slots=True)
class LabResult:
    """A laboratory result normalised to the analyte's canonical unit."""

    analyte: str  # value-set id, e.g. "serum-magnesium"
    reference: str
    code: str
    display: str | None
    value: float  # as reported
    unit: str  # canonical UCUM of the reported value
    effective: datetime
    range_low: float | None  # in the reported unit
    range_high: float | None
    range_text: str | None
    interpretation: frozenset[str]


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """The facts extracted for one patient, plus what was wrong with the data."""

    demographics: Demographics | None
    labs: tuple[LabResult, ...]
    issues: tuple[Finding, ...]

    def labs_for(self, analyte: str) -> list[LabResult]:
        """Results for one analyte, most recent first."""
        return sorted((r for r in self.labs if r.analyte == analyte), key=lambda r: r.effective, reverse=True)


class Extractor:
    """Extracts a PatientRecord from raw FHIR resources; built once per knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._mg = MgConverter(kb.constant("mg-molar-mass"), kb.constant("mg-valence"))
        # (system, code) → analyte, for the cheap pre-filter on raw Observations.
        self._lab_index: dict[tuple[str, str], str] = {}
        for vs_id in ("serum-magnesium", "non-serum-magnesium"):
            for key in kb.valuesets[vs_id].codes:
                self._lab_index[key] = vs_id

    @property
    def mg(self) -> MgConverter:
        return self._mg

    def extract(self, entries: Sequence[Entry], patient_id: str | None) -> PatientRecord:
        """Build the record for one patient; `patient_id` is the CDS Hooks context id, if any."""
        issues: list[Finding] = []
        identity = _patient_identity(entries, patient_id)
        demographics: Demographics | None = None
        labs: list[LabResult] = []
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
                    demographics = Demographics(_reference(entry), _as_date(patient.birthDate), patient.gender)
                continue
            if rtype != "Observation":
                continue  # other types are not used by the rules (yet): not validated, not an error
            analyte = self._analyte(raw)
            if analyte is None:
                continue
            if not _about_patient(raw, rtype, identity):
                issues.append(_issue("other-patient", "Refers to a different patient; ignored.", entry))
                continue
            obs = _validate(Observation, entry, issues)
            if obs is not None:
                result = self._lab_result(obs, analyte, entry, issues)
                if result is not None:
                    labs.append(result)
        return PatientRecord(demographics, tuple(labs), tuple(issues))

    def _analyte(self, raw: Mapping[str, Any]) -> str | None:
        code = raw.get("code")
        codings = code.get("coding") if isinstance(code, Mapping) else None
        if not isinstance(codings, list):
            return None
        for coding in codings:
            if isinstance(coding, Mapping):
                key = (coding.get("system"), coding.get("code"))
                if key in self._lab_index:
                    return self._lab_index[key]
        return None

    def _lab_result(self, obs: Any, analyte: str, entry: Entry, issues: list[Finding]) -> LabResult | None:
        if obs.status not in USABLE_OBSERVATION_STATUS:
            return None  # preliminary, cancelled, entered-in-error...: not a result to act on
        effective = _observation_time(obs)
        if effective is None:
            issues.append(_issue("result-without-date", "A result has no effective time or issued; ignored.", entry))
            return None
        quantity = obs.valueQuantity
        if quantity is None or quantity.value is None:
            issues.append(_issue("result-without-value", "A result has no numeric value; ignored.", entry))
            return None
        unit = normalise_unit(quantity.code, quantity.unit)
        if unit is None:
            issues.append(
                _issue(
                    "unit-not-recognised",
                    f"Unit {quantity.code or quantity.unit!r} is not a recognised magnesium unit; "
                    "the result was not interpreted.",
                    entry,
                )
            )
            return None
        low, high, text = _reference_range(obs, unit, self._mg)
        coding = next((c for c in obs.code.coding or [] if c.system == LOINC), None)
        return LabResult(
            analyte=analyte,
            reference=_reference(entry),
            code=coding.code if coding else "",
            display=(coding.display if coding else None) or obs.code.text,
            value=float(quantity.value),
            unit=unit,
            effective=effective,
            range_low=low,
            range_high=high,
            range_text=text,
            interpretation=_interpretation_codes(obs),
        )


def entries_from_bundle(bundle: Mapping[str, Any]) -> list[Entry]:
    """Entries of any Bundle type; entries without a resource object are skipped."""
    out: list[Entry] = []
    for item in bundle.get("entry") or []:
        if isinstance(item, Mapping) and isinstance(item.get("resource"), Mapping):
            full_url = item.get("fullUrl")
            out.append(Entry(item["resource"], full_url if isinstance(full_url, str) else None))
    return out


def _validate(model: type[BaseModel], entry: Entry, issues: list[Finding]) -> Any:
    """Validate with fhir.resources; unknown elements are dropped (be liberal), other errors skip it."""
    raw: Any = entry.resource
    for _ in range(2):
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            errors = exc.errors()
            extras = [e["loc"] for e in errors if e["type"] == "extra_forbidden"]
            if extras and len(extras) == len(errors):
                # Unknown elements (e.g. from a newer FHIR version or a vendor): drop them and retry once.
                raw = _without_paths(raw, extras)
                continue
            where = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:_MAX_REPORTED_ERRORS]
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


def _reference_range(obs: Any, unit: str, mg: MgConverter) -> tuple[float | None, float | None, str | None]:
    """The lab's own range, converted to the result's unit; the first range with a bound wins."""
    for rr in obs.referenceRange or []:
        low = _range_bound(rr.low, unit, mg)
        high = _range_bound(rr.high, unit, mg)
        if low is not None or high is not None:
            return low, high, rr.text
        if rr.text:
            return None, None, rr.text
    return None, None, None


def _range_bound(quantity: Any, unit: str, mg: MgConverter) -> float | None:
    if quantity is None or quantity.value is None:
        return None
    bound_unit = normalise_unit(quantity.code, quantity.unit) or unit  # no unit: same as the result
    return mg.from_mmol(mg.to_mmol(float(quantity.value), bound_unit), unit)


def _interpretation_codes(obs: Any) -> frozenset[str]:
    codes: set[str] = set()
    for concept in obs.interpretation or []:
        for coding in concept.coding or []:
            if coding.code and coding.system in (None, INTERPRETATION_SYSTEM):
                codes.add(coding.code)
    return frozenset(codes)
