"""Fuzzing: hypothesis properties over the request schema and the engine, schemathesis on the live service.

The CI budget is small (about 1,500 hypothesis cases and a schemathesis run of a few hundred); for a long
local run: HYPOTHESIS_PROFILE=long FUZZ_EXAMPLES=500 make test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ROOT, SAMPLES, SERVICE_URL, LiveService, load_json

settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
settings.register_profile(
    "long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ALLOWED = {200, 400, 404, 412, 413, 415}
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
LOINC = ["19123-9", "2601-3", "2597-3", "2823-3", "17861-6", "98979-8", "33914-3", "75626-2", "8302-2"]
RXNORM = ["198051", "315971", "5487", "6582", "197604", "2551", "83367", "1234"]
UNITS = ["mg/dL", "mmol/L", "meq/L", "mEq/L", "mg/L", "", "{score}", "mL/min/{1.73_m2}"]
DATES = ["2026-10-01", "2026-10-01T10:00:00Z", "2026-10", "2026", "2026-10-01T10:00:00", "yesterday", "2099-01-01"]
codings = st.fixed_dictionaries(
    {},
    optional={
        "system": st.sampled_from(
            [
                "http://loinc.org",
                "http://www.nlm.nih.gov/research/umls/rxnorm",
                "http://snomed.info/sct",
                "http://hl7.org/fhir/sid/icd-10-cm",
                "http://www.whocc.no/atc",
            ]
        ),
        "code": st.sampled_from(LOINC + RXNORM + ["44054006", "R25.2", "K5090", "A02BC05"]) | st.text(max_size=6),
        "display": st.text(max_size=30) | st.sampled_from(["Magnesium oxide", "omeprazole", "Leg cramps"]),
    },
)
concept = st.fixed_dictionaries({}, optional={"coding": st.lists(codings, max_size=3), "text": st.text(max_size=20)})
resource = st.fixed_dictionaries(
    {
        "resourceType": st.sampled_from(
            [
                "Patient",
                "Observation",
                "Condition",
                "MedicationRequest",
                "MedicationStatement",
                "Medication",
                "Encounter",
                "Weird",
            ]
        )
    },
    optional={
        "id": st.text(alphabet="abc123-", min_size=1, max_size=8),
        "status": st.sampled_from(["final", "active", "draft", "completed", "amended", "nonsense"]),
        "code": concept,
        "medicationCodeableConcept": concept,
        "valueQuantity": st.fixed_dictionaries(
            {},
            optional={
                "value": st.floats(min_value=-10, max_value=1e6, allow_nan=False) | st.text(max_size=4),
                "unit": st.sampled_from(UNITS),
                "code": st.sampled_from(UNITS),
                "comparator": st.sampled_from(["<", ">"]),
            },
        ),
        "effectiveDateTime": st.sampled_from(DATES),
        "authoredOn": st.sampled_from(DATES),
        "birthDate": st.sampled_from(DATES),
        "gender": st.sampled_from(["male", "female", "unknown", "x"]),
        "subject": st.fixed_dictionaries({"reference": st.sampled_from(["Patient/p", "Patient/q", "urn:uuid:p", ""])}),
        "clinicalStatus": st.fixed_dictionaries(
            {
                "coding": st.lists(
                    st.fixed_dictionaries({"code": st.sampled_from(["active", "resolved", "relapse"])}), max_size=1
                )
            }
        ),
        "referenceRange": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "low": st.fixed_dictionaries({"value": st.floats(0, 10)}),
                    "high": st.fixed_dictionaries({"value": st.floats(0, 10)}),
                },
            ),
            max_size=2,
        ),
        "extra": json_values,
    },
)


@given(
    bundle_entries=st.lists(st.fixed_dictionaries({"resource": resource}), max_size=12),
    hook=st.sampled_from(["patient-view", "order-sign"]),
)
def test_evaluate_never_fails_on_fhir_ish_bundles(client: FlaskClient, bundle_entries: list[Any], hook: str) -> None:
    r = client.post(f"/evaluate?hook={hook}", json={"resourceType": "Bundle", "entry": bundle_entries})
    assert r.status_code in ALLOWED, r.get_data(as_text=True)
    if r.status_code == 200:
        assert all(len(c["summary"]) < 140 for c in r.json["cards"])


BASE = load_json(SAMPLES / "mg-low" / "patient-view.json")
FIELDS = ["hook", "hookInstance", "fhirServer", "fhirAuthorization", "context", "prefetch", "extension"]


@given(
    changes=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3),
    drop=st.lists(st.sampled_from(FIELDS), max_size=2),
)
def test_hook_requests_with_any_field_of_any_type_never_fail(
    client: FlaskClient, changes: dict[str, Any], drop: list[str]
) -> None:
    request = {k: v for k, v in {**BASE, **changes}.items() if k not in drop}
    r = client.post(SERVICE_URL, json=request)
    assert r.status_code in ALLOWED, r.get_data(as_text=True)


prefetch_values = (
    st.none()
    | resource
    | json_values
    | st.fixed_dictionaries(
        {"resourceType": st.just("Bundle")},
        optional={
            "entry": st.lists(
                st.fixed_dictionaries({}, optional={"resource": resource, "fullUrl": st.text(max_size=10)}), max_size=5
            )
            | json_values,
            "link": st.lists(
                st.fixed_dictionaries({"relation": st.sampled_from(["next", "self"]), "url": st.text(max_size=20)}),
                max_size=2,
            ),
        },
    )
    | st.just({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]})
)


@given(
    prefetch=st.dictionaries(
        st.sampled_from(
            ["patient", "observations", "medicationStatements", "medicationRequests", "conditions", "other"]
        ),
        prefetch_values,
        max_size=6,
    )
)
def test_any_prefetch_shape_never_fails(client: FlaskClient, prefetch: dict[str, Any]) -> None:
    request = {**BASE, "prefetch": prefetch}
    request.pop("fhirServer")  # no fallback calls: the shapes themselves are under test
    r = client.post(SERVICE_URL, json=request)
    assert r.status_code in ALLOWED, r.get_data(as_text=True)


@given(drafts=st.lists(resource, max_size=4), selections=st.lists(st.text(max_size=12), max_size=2))
def test_order_hooks_with_any_drafts_never_fail(client: FlaskClient, drafts: list[Any], selections: list[str]) -> None:
    request = load_json(SAMPLES / "order-select-judges-selection-only" / "order-select.json")
    request["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": d} for d in drafts]}
    request["context"]["selections"] = selections or request["context"]["selections"]
    r = client.post("/cds-services/magnesium-order-select", json=request)
    assert r.status_code in ALLOWED, r.get_data(as_text=True)


@pytest.mark.api
def test_schemathesis_finds_no_server_error_on_the_live_service(live: LiveService) -> None:
    examples = os.environ.get("FUZZ_EXAMPLES", "25")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            str(ROOT / "openapi.yaml"),
            "--url",
            live.url,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            examples,
            "--seed",
            "20261122",
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
