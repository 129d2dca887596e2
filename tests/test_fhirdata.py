"""FHIR extraction: selective validation, patient identity, dates, units and real Synthea records."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from service.core.errors import InvalidRequest
from service.core.fhirdata import Entry, Extractor, entries_from_bundle
from service.core.knowledge import KnowledgeBase

from .conftest import SHARED, load_json

SYNTHEA = sorted((SHARED / "data" / "synthea").glob("*.json"))
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-06-01"}


def mg_obs(**kw: Any) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "19123-9"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-10-01T10:00:00+02:00",
        "valueQuantity": {"value": 1.7, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
    }
    obs.update(kw)
    return obs


@pytest.fixture
def extractor(kb: KnowledgeBase) -> Extractor:
    return Extractor(kb)


def extract(extractor: Extractor, *resources: dict[str, Any], patient_id: str | None = None) -> Any:
    return extractor.extract([Entry(r) for r in resources], patient_id)


def test_extracts_demographics_and_serum_mg(extractor: Extractor) -> None:
    record = extract(extractor, PATIENT, mg_obs())
    assert record.demographics.gender == "female"
    assert str(record.demographics.birth_date) == "1950-06-01"
    (lab,) = record.labs_for("serum-magnesium")
    assert (lab.value, lab.unit, lab.reference) == (1.7, "mg/dL", "Observation/o1")
    assert lab.effective.isoformat() == "2026-10-01T08:00:00+00:00"
    assert record.issues == ()


def test_one_malformed_resource_is_skipped_and_reported(extractor: Extractor) -> None:
    bad = mg_obs(id="bad", valueQuantity={"value": "lots", "unit": "mg/dL"})
    record = extract(extractor, PATIENT, bad, mg_obs(id="good"))
    assert [lab.reference for lab in record.labs] == ["Observation/good"]
    (issue,) = record.issues
    assert issue.code == "resource-invalid"
    assert issue.evidence[0].reference == "Observation/bad"
    assert "valueQuantity.value" in issue.display


def test_unknown_elements_are_dropped_not_fatal(extractor: Extractor) -> None:
    obs = mg_obs(futureElement=1)
    obs["valueQuantity"]["vendorFlag"] = True
    record = extract(extractor, PATIENT, obs)
    assert len(record.labs) == 1 and record.issues == ()


def test_datetime_without_timezone_is_read_as_utc_and_reported(extractor: Extractor) -> None:
    record = extract(extractor, PATIENT, mg_obs(effectiveDateTime="2026-10-01T10:00:00"))
    (lab,) = record.labs
    assert lab.effective.isoformat() == "2026-10-01T10:00:00+00:00"
    assert [i.code for i in record.issues] == ["time-zone-missing"]


def test_unknown_resource_types_and_irrelevant_codes_are_ignored_without_validation(extractor: Extractor) -> None:
    other_obs = mg_obs(code={"coding": [{"system": "http://loinc.org", "code": "8302-2"}]}, status="nonsense")
    record = extract(extractor, PATIENT, {"resourceType": "FutureThing", "x": 1}, other_obs, {"no": "type"})
    assert record.labs == ()
    assert [i.code for i in record.issues] == ["resource-without-type"]


def test_result_time_falls_back_from_effective_to_issued(extractor: Extractor) -> None:
    obs = mg_obs()
    del obs["effectiveDateTime"]
    obs["issued"] = "2026-09-30T12:00:00Z"
    (lab,) = extract(extractor, PATIENT, obs).labs
    assert lab.effective.isoformat() == "2026-09-30T12:00:00+00:00"
    del obs["issued"]
    assert extract(extractor, PATIENT, obs).issues[0].code == "result-without-date"


def test_effective_period_and_partial_dates_are_used(extractor: Extractor) -> None:
    period = mg_obs(effectivePeriod={"start": "2026-09-01"})
    del period["effectiveDateTime"]
    assert extract(extractor, PATIENT, period).labs[0].effective.isoformat() == "2026-09-01T00:00:00+00:00"
    partial = mg_obs(effectiveDateTime="2026-08")
    assert extract(extractor, PATIENT, partial).labs[0].effective.isoformat() == "2026-08-01T00:00:00+00:00"


@pytest.mark.parametrize("status", ["registered", "cancelled", "entered-in-error"])
def test_registered_cancelled_and_entered_in_error_are_not_results(extractor: Extractor, status: str) -> None:
    assert extract(extractor, PATIENT, mg_obs(status=status)).labs == ()


def test_a_newer_preliminary_result_is_read_and_labelled(extractor: Extractor) -> None:
    (lab,) = extract(extractor, PATIENT, mg_obs(status="preliminary")).labs
    assert lab.status == "preliminary"


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_final_amended_corrected_results_count(extractor: Extractor, status: str) -> None:
    assert len(extract(extractor, PATIENT, mg_obs(status=status)).labs) == 1


def test_unrecognised_unit_is_reported_not_guessed(extractor: Extractor) -> None:
    obs = mg_obs(valueQuantity={"value": 20, "unit": "mg/L", "system": "http://unitsofmeasure.org", "code": "mg/L"})
    record = extract(extractor, PATIENT, obs)
    assert record.labs == () and record.issues[0].code == "result-unreadable"
    (unreadable,) = record.unreadable
    assert unreadable.problem == "unit 'mg/L' is not a magnesium unit"


def test_reference_range_is_converted_to_the_result_unit(extractor: Extractor) -> None:
    obs = mg_obs(referenceRange=[{"low": {"value": 0.7, "code": "mmol/L"}, "high": {"value": 1.0, "code": "mmol/L"}}])
    (lab,) = extract(extractor, PATIENT, obs).labs
    assert lab.range_low == pytest.approx(1.70, abs=0.01)
    assert lab.range_high == pytest.approx(2.43, abs=0.01)


def test_range_without_units_takes_the_result_unit(extractor: Extractor) -> None:
    (lab,) = extract(extractor, PATIENT, mg_obs(referenceRange=[{"low": {"value": 1.6}, "high": {"value": 2.6}}])).labs
    assert (lab.range_low, lab.range_high) == (1.6, 2.6)


def test_resources_about_another_patient_are_excluded(extractor: Extractor) -> None:
    record = extract(extractor, PATIENT, mg_obs(subject={"reference": "Patient/someone-else"}), patient_id="p1")
    assert record.labs == () and record.issues[0].code == "other-patient"


def test_absolute_and_versioned_subject_references_match(extractor: Extractor) -> None:
    obs = mg_obs(subject={"reference": "https://ehr.example.org/fhir/Patient/p1/_history/3"})
    assert len(extract(extractor, PATIENT, obs, patient_id="p1").labs) == 1


def test_bundle_with_two_patients_is_refused(extractor: Extractor) -> None:
    with pytest.raises(InvalidRequest, match="more than one Patient"):
        extract(extractor, PATIENT, {**PATIENT, "id": "p2"})


def test_bundle_without_patient_but_two_subjects_is_refused(extractor: Extractor) -> None:
    with pytest.raises(InvalidRequest, match="more than one patient"):
        extract(extractor, mg_obs(), mg_obs(subject={"reference": "Patient/p2"}))


def test_red_cell_magnesium_is_never_serum(extractor: Extractor) -> None:
    rbc = mg_obs(code={"coding": [{"system": "http://loinc.org", "code": "2597-3"}]})
    record = extract(extractor, PATIENT, rbc)
    assert record.labs_for("serum-magnesium") == []
    assert len(record.labs_for("non-serum-magnesium")) == 1


@pytest.mark.parametrize("path", SYNTHEA, ids=[p.name.split("_")[0] + "_" + p.name.split("_")[1] for p in SYNTHEA])
def test_every_synthea_record_extracts_without_error(extractor: Extractor, path: Path) -> None:
    bundle = load_json(path)
    record = extractor.extract(entries_from_bundle(bundle), None)
    assert record.demographics is not None and record.demographics.birth_date is not None
    assert record.issues == ()


def test_synthea_urn_uuid_references_resolve_to_the_patient(extractor: Extractor) -> None:
    bundle = copy.deepcopy(load_json(SYNTHEA[0]))
    patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    obs = mg_obs(subject={"reference": patient["fullUrl"]})
    bundle["entry"].append({"fullUrl": "urn:uuid:added-mg", "resource": obs})
    record = extractor.extract(entries_from_bundle(bundle), None)
    assert len(record.labs_for("serum-magnesium")) == 1


@pytest.mark.parametrize("reference", ["Medication/med-1", "urn:uuid:med-1-full"])
def test_medication_reference_to_a_bundled_medication_is_resolved(extractor: Extractor, reference: str) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "med-1",
        "code": {
            "coding": [
                {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "315971", "display": "Lasix 40mg"}
            ]
        },
    }
    request = {
        "resourceType": "MedicationRequest",
        "id": "mr-1",
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": reference},
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2025-01-01",
    }
    entries = [Entry(PATIENT), Entry(medication, "urn:uuid:med-1-full"), Entry(request)]
    (use,) = extractor.extract(entries, None).medications
    assert dict(use.classes) == {"loop-diuretic": "code"} and use.display == "Lasix 40mg"


def test_medication_reference_that_cannot_be_resolved_uses_its_display(extractor: Extractor) -> None:
    request = {
        "resourceType": "MedicationRequest",
        "id": "mr-2",
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "Medication/elsewhere", "display": "Pantoprazole 40 mg"},
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2025-01-01",
    }
    (use,) = extractor.extract([Entry(PATIENT), Entry(request)], None).medications
    assert dict(use.classes) == {"ppi": "name"}
