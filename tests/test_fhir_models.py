"""The generated FHIR models: derived from fhir.resources, never looser than it, the same to the extraction."""

from __future__ import annotations

import importlib
import json
import typing
from datetime import datetime
from typing import Any

import pytest

from service.core import fhir_models, fhirdata
from service.core.fhirdata import USED_ELEMENTS, VALIDATORS, Entry, Extractor, _validate, entries_from_bundle
from service.core.model import Finding
from service.rules_loader import load_knowledge_base
from tools import fhir_differential, gen_fhir_models

from .conftest import SHARED


def test_committed_models_are_exactly_what_the_generator_produces_from_used_elements() -> None:
    expected = gen_fhir_models.formatted(gen_fhir_models.generate(gen_fhir_models.used_elements()))
    committed = gen_fhir_models.OUTPUT.read_text(encoding="utf-8")
    assert committed == expected, "service/core/fhir_models.py is out of date: run `make models`"


def test_generator_reads_the_used_elements_the_extraction_declares() -> None:
    assert gen_fhir_models.used_elements() == {k: tuple(v) for k, v in USED_ELEMENTS.items()}
    assert gen_fhir_models.digest(gen_fhir_models.used_elements()) == fhir_models.USED_ELEMENTS_DIGEST
    assert set(fhir_models.RESOURCE_MODELS) == set(USED_ELEMENTS)


def test_each_resource_model_has_exactly_the_used_elements_under_fhir_resources_names() -> None:
    for rtype, model in fhir_models.RESOURCE_MODELS.items():
        fhir = getattr(importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}"), rtype)
        aliases = {info.alias or name for name, info in fhir.model_fields.items()}
        listed = {e for e in USED_ELEMENTS[rtype] if e in aliases}
        assert {info.alias or name for name, info in model.model_fields.items()} == listed | {"resourceType"}
        for name in model.model_fields:
            assert name == "resourceType" or name in fhir.model_fields  # the same attribute names


def test_element_models_keep_every_element_of_their_fhir_resources_type() -> None:
    """Whole subtrees: e.g. Coding keeps userSelected and its primitive extensions (_code)."""
    for model in vars(fhir_models).values():
        if not isinstance(model, type) or not issubclass(model, fhir_models.FhirModel):
            continue
        if model is fhir_models.FhirModel or model.__name__ in fhir_models.RESOURCE_MODELS:
            continue
        module, _, name = (model.__doc__ or "").strip().rstrip(".").rpartition(".")
        fhir = getattr(importlib.import_module(module), name)
        assert set(model.model_fields) == set(fhir.model_fields) | {"resourceType"}, model.__name__


def _check(rtype: str, resource: dict[str, Any]) -> tuple[Any, str]:
    issues: list[Finding] = []
    result = _validate(VALIDATORS[rtype], Entry({"resourceType": rtype, **resource}), issues)
    return result, issues[0].display if issues else ""


OBS = {"status": "final", "code": {"text": "Mg"}, "subject": {"reference": "Patient/1"}}


@pytest.mark.parametrize(
    ("rtype", "resource", "where", "what"),
    [
        ("Observation", {**OBS, "effectiveDateTime": "2026-02-30"}, "effectiveDateTime", "Not a FHIR dateTime"),
        ("Observation", {**OBS, "issued": "2026-01-01"}, "issued", "Not a FHIR instant"),
        ("Observation", {**OBS, "valueQuantity": {"value": "0.7"}}, "valueQuantity.value", "valid number"),
        ("Observation", {**OBS, "status": None}, "status", "valid string"),
        ("Observation", {**OBS, "code": '{"text": "Mg"}'}, "code", "valid dictionary"),
        ("Observation", {**OBS, "valueQuantity": {"value": 1}, "valueInteger": 1}, "resource", "value[x] is a choice"),
        ("Observation", {k: v for k, v in OBS.items() if k != "code"}, "code", "Field required"),
        ("Condition", {"subject": None}, "subject", "valid dictionary"),
        (
            "MedicationRequest",
            {"status": "active", "intent": "order", "subject": {"reference": "Patient/1"}},
            "resource",
            "medication[x] is required",
        ),
        ("Patient", {"birthDate": "1970-02-30"}, "birthDate", "Not a FHIR date"),
        ("Patient", {"gender": "two  spaces"}, "gender", "should match pattern"),
    ],
)
def test_data_quality_findings_say_what_was_wrong_and_where(
    rtype: str, resource: dict[str, Any], where: str, what: str
) -> None:
    result, message = _check(rtype, resource)
    assert result is None
    assert message.startswith("Not valid FHIR R4 (") and message.endswith("; ignored.")
    assert f"{where}: " in message and what in message, message


def test_choice_and_type_rules_hold_at_any_depth_of_a_subtree() -> None:
    coding = {"system": "http://loinc.org", "code": "19123-9"}
    for extension, ok in [
        ({"url": "http://example.org/x", "valueString": "a"}, True),
        ({"url": "http://example.org/x", "valueString": "a", "valueCode": "b"}, False),
        ({"url": "http://example.org/x", "valueString": "a", "valueCode": None}, True),  # null is not given
        ({"url": "http://example.org/x", "extension": [{"url": "y", "valueBoolean": "yes"}]}, False),
        ({"url": "http://example.org/x", "valueCoding": {"code": "a", "resourceType": "Patient"}}, False),
        ({"valueString": "no url"}, False),
    ]:
        concept = {"coding": [{**coding, "_code": {"extension": [extension]}}]}
        result, message = _check("Observation", {**OBS, "code": concept})
        assert (result is not None) is ok, (extension, message)


def test_values_come_out_as_the_extraction_reads_them() -> None:
    result, _ = _check(
        "Observation",
        {
            **OBS,
            "effectiveDateTime": "2026-11-01T08:30:00+01:00",
            "valueQuantity": {"value": 0.62, "unit": "mmol/L"},
            "referenceRange": [{"low": {"value": 0.7}}],
        },
    )
    assert result["effectiveDateTime"] == datetime.fromisoformat("2026-11-01T08:30:00+01:00")
    assert result["valueQuantity"]["value"] == 0.62 and result["referenceRange"][0]["low"]["value"] == 0.7
    assert "valueString" not in result and "issued" not in result  # only the elements given
    partial, _ = _check("Observation", {**OBS, "effectiveDateTime": "2026-11"})
    assert partial["effectiveDateTime"] == "2026-11"  # a partial date stays text, as with fhir.resources


def test_plain_validators_run_the_generated_models_rules_and_only_give_dicts() -> None:
    """The runtime validators are the generated models' own core schemas with models made typed dicts: on
    the same inputs they accept and reject alike, and give the same values (the differential test proves
    the generated models never looser than fhir.resources over the whole corpus)."""
    for resource in fhir_differential.corpus():
        rtype = resource["resourceType"]
        ours, message = _check(rtype, resource)
        issues: list[Finding] = []
        model = _validate(fhir_differential.AsDicts(fhir_models.RESOURCE_MODELS[rtype]), Entry(resource), issues)
        assert (ours is None) is (model is None), (message, issues)
        if ours is not None:
            assert fhir_differential.normalised(ours) == fhir_differential.normalised(model)


def test_generated_models_never_accept_what_fhir_resources_rejects() -> None:
    """Differential run over Synthea, US Core and the samples, valid and systematically mutated."""
    outcome = fhir_differential.run()
    assert outcome.valid > 1000 and outcome.cases > 10000 and outcome.both_reject > 5000  # the corpus bites
    looser = [(kind, message, json.dumps(resource)[:300]) for kind, message, resource in outcome.looser]
    assert looser == []
    # Where both accept, the validated values are the same (Decimal and float compared as numbers).
    assert outcome.different_values == []
    # Stricter only where fhir.resources is lenient on malformed JSON (strings for objects or numbers, numbers
    # for dates, null for required elements...), never on a valid resource.
    assert "valid resource" not in outcome.stricter
    assert outcome.messages_without_location == []


def _fhir_resources_models(monkeypatch: pytest.MonkeyPatch) -> None:
    for rtype, validator in fhir_differential.fhir_resources_validators().items():
        monkeypatch.setitem(typing.cast(dict[str, Any], fhirdata.VALIDATORS), rtype, validator)


def test_extraction_of_every_synthea_record_is_unchanged_from_fhir_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    kb = load_knowledge_base()
    now = datetime.fromisoformat("2026-11-15T00:00:00+00:00")
    bundles = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((SHARED / "data" / "synthea").glob("*.json"))]
    # Without `now` every lab result is validated, not just the newest usable one.
    generated = [Extractor(kb).extract(entries_from_bundle(b), None, when) for b in bundles for when in (now, None)]
    _fhir_resources_models(monkeypatch)
    assert typing.cast(Any, fhirdata.VALIDATORS["Observation"]).model.__module__.startswith("fhir.resources")
    reference = [Extractor(kb).extract(entries_from_bundle(b), None, when) for b in bundles for when in (now, None)]
    assert generated == reference
    assert sum(len(r.labs) + len(r.conditions) + len(r.medications) for r in generated) > 100
