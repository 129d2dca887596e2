"""Hostile input never gives a 5xx (issue 12 §3): impossible dates, huge and tiny numbers, deep nesting,
strings where numbers belong; expected failures are one log line without a stack trace.

Specific shapes run against the live service; hypothesis properties run in-process over the same app.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.jsonio import MAX_DEPTH, too_deep

from .conftest import SAMPLES, SERVICE_URL, LiveService, load_json

BUNDLE = load_json(SAMPLES / "mg-low" / "bundle.json")
HOOK = load_json(SAMPLES / "mg-low" / "patient-view.json")
NOT_5XX = {200, 400, 404, 412, 413, 415}


def resources(body: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    found = [e["resource"] for e in body.get("entry", []) if e["resource"]["resourceType"] == rtype]
    for value in (body.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found += [e["resource"] for e in value.get("entry", []) if e["resource"]["resourceType"] == rtype]
        elif isinstance(value, dict) and value.get("resourceType") == rtype:
            found.append(value)
    return found


def with_observation_value(body: dict[str, Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for obs in resources(body, "Observation"):
        if "valueQuantity" in obs:
            obs["valueQuantity"]["value"] = value
    return body


def with_dates(body: dict[str, Any], date: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for obs in resources(body, "Observation"):
        obs["effectiveDateTime"] = date
    for patient in resources(body, "Patient"):
        patient["birthDate"] = date
    for cond in resources(body, "Condition"):
        cond["onsetDateTime"] = date
    for key in ("MedicationRequest", "MedicationStatement"):
        for med in resources(body, key):
            med["authoredOn"] = date
    return body


def nested(depth: int) -> dict[str, Any]:
    ext: dict[str, Any] = {"url": "http://example.org/x", "valueString": "x"}
    for _ in range(depth):
        ext = {"url": "http://example.org/x", "extension": [ext]}
    return ext


def both(live: LiveService, body: Any, raw: bytes | None = None) -> list[requests.Response]:
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return [
        requests.post(f"{live.url}/evaluate", data=data if raw else json.dumps(body[0]), headers=headers, timeout=30),
        requests.post(
            f"{live.url}{SERVICE_URL}", data=data if raw else json.dumps(body[1]), headers=headers, timeout=30
        ),
    ]


@pytest.mark.api
@pytest.mark.parametrize("date", ["2026-02-30", "2026-13-01", "2025-02-29T10:00:00Z", "0000-00-00", "9999-99-99"])
def test_impossible_dates_are_not_a_server_error(live: LiveService, date: str) -> None:
    for r in both(live, (with_dates(BUNDLE, date), with_dates(HOOK, date))):
        assert r.status_code == 200, r.text


@pytest.mark.api
@pytest.mark.parametrize(
    "value",
    [
        1e40,
        -1e40,
        1e308,
        1e-300,
        5e-324,
        0,
        -1,
        10**30,
        "1.5",
        "abc",
        True,
        None,
    ],
)
def test_huge_tiny_and_wrongly_typed_numbers_are_not_a_server_error(live: LiveService, value: Any) -> None:
    for r in both(live, (with_observation_value(BUNDLE, value), with_observation_value(HOOK, value))):
        assert r.status_code in (200, 400), r.text
        if r.status_code == 200:
            assert all(len(c["summary"]) <= 140 for c in r.json()["cards"])


@pytest.mark.api
@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1E999"])
def test_numbers_beyond_a_double_are_a_400_not_infinity(live: LiveService, number: bytes) -> None:
    raw = json.dumps(BUNDLE).replace('"resourceType": "Bundle"', '"resourceType": "Bundle", "x": NUM', 1)
    for r in both(live, None, raw.encode().replace(b"NUM", number)):
        assert r.status_code == 400
        assert "too large" in r.json()["issue"][0]["diagnostics"]


@pytest.mark.api
def test_numbers_below_a_double_are_zero_not_an_error(live: LiveService) -> None:
    raw = json.dumps(BUNDLE).replace('"resourceType": "Bundle"', '"resourceType": "Bundle", "x": 1e-400', 1)
    r = requests.post(f"{live.url}/evaluate", data=raw, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.ok


@pytest.mark.api
@pytest.mark.parametrize("depth", [200, 5000, 100_000])
def test_deep_nesting_is_a_400_with_one_log_line_and_no_stack_trace(live: LiveService, depth: int) -> None:
    offset = live.log.stat().st_size
    bundle, hook = copy.deepcopy(BUNDLE), copy.deepcopy(HOOK)
    resources(bundle, "Observation")[0]["extension"] = [{"url": "x", "valueString": "y"}]
    resources(hook, "Observation")[0]["extension"] = [{"url": "x", "valueString": "y"}]
    deep = json.dumps(nested(1)).replace('"valueString": "x"', "NEST")
    inner = '"extension": [' * depth + "{}" + "]" * depth
    raws = [
        json.dumps(b).replace('[{"url": "x", "valueString": "y"}]', deep.replace("NEST", inner)) for b in (bundle, hook)
    ]
    for path, raw in zip(("/evaluate", SERVICE_URL), raws, strict=True):
        r = requests.post(f"{live.url}{path}", data=raw, headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 400, r.text[:300]
        assert f"nested deeper than {MAX_DEPTH}" in r.json()["issue"][0]["diagnostics"]
    time.sleep(0.3)
    log = live.log.read_bytes()[offset:].decode("utf-8", "replace")
    refused = [line for line in log.splitlines() if "request refused" in line]
    assert len(refused) == 2  # one line per refused request
    assert "Traceback" not in log and "RecursionError" not in log
    assert len(log) < 5000


@pytest.mark.api
def test_nesting_at_the_limit_is_accepted(live: LiveService) -> None:
    bundle = copy.deepcopy(BUNDLE)
    resources(bundle, "Observation")[0]["extension"] = [nested(25)]  # ~55 levels in all
    assert not too_deep(json.dumps(bundle).encode())
    r = requests.post(f"{live.url}/evaluate", json=bundle, timeout=30)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        (b"[" * 65 + b"]" * 65, True),
        (b"[" * 64 + b"]" * 64, False),
        (b'{"a": "' + b"[" * 500 + b'"}', False),  # brackets in strings do not count
        (b'{"a": "\\"' + b"[" * 500 + b'"}', False),  # nor after an escaped quote
        (b'{"a": "\\\\", "b": ' + b"[" * 70 + b"]" * 70 + b"}", True),  # an escaped backslash ends no string
        (b'{"a": "]]]]]]]]]]]]", "b": ' + b"[" * 70 + b"]" * 70 + b"}", True),
    ],
)
def test_the_depth_pre_scan_counts_only_structure(text: bytes, deep: bool) -> None:
    assert too_deep(text) is deep


# ---- properties (in-process, the same app) --------------------------------------------------------

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Any finite magnitude: summaries are composed to fit whatever the value (cards.py).
numbers = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.text(max_size=12)
    | st.none()
    | st.booleans()
)
dates = st.from_regex(r"\A-?\d{1,5}(-\d{1,3}(-\d{1,3}(T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?)?)?)?\Z") | st.text(
    max_size=30
)


@PROPERTY
@given(value=numbers, unit=st.sampled_from(["mmol/L", "mg/dL", "mEq/L", "g", "", "%"]))
def test_any_observation_value_and_unit_never_fails(client: FlaskClient, value: Any, unit: str) -> None:
    bundle = with_observation_value(BUNDLE, value)
    for obs in resources(bundle, "Observation"):
        if "valueQuantity" in obs:
            obs["valueQuantity"]["unit"] = unit
    for path, body in (("/evaluate", bundle), (SERVICE_URL, with_observation_value(HOOK, value))):
        r = client.post(path, json=body)
        assert r.status_code in NOT_5XX, r.get_data(as_text=True)[:500]
        if r.status_code == 200:
            assert all(len(c["summary"]) <= 140 for c in r.get_json()["cards"])


@PROPERTY
@given(date=dates)
def test_any_date_string_never_fails(client: FlaskClient, date: str) -> None:
    for path, body in (("/evaluate", with_dates(BUNDLE, date)), (SERVICE_URL, with_dates(HOOK, date))):
        r = client.post(path, json=body)
        assert r.status_code in NOT_5XX, r.get_data(as_text=True)[:500]


@PROPERTY
@given(depth=st.integers(min_value=1, max_value=400), where=st.sampled_from(["extension", "code", "note"]))
def test_any_nesting_depth_never_fails(client: FlaskClient, depth: int, where: str) -> None:
    bundle = copy.deepcopy(BUNDLE)
    resources(bundle, "Observation")[0][where] = nested(depth) if where != "extension" else [nested(depth)]
    raw = json.dumps(bundle)
    r = client.post("/evaluate", data=raw, content_type="application/json")
    assert r.status_code in NOT_5XX
    assert (r.status_code == 400) == too_deep(raw.encode())
