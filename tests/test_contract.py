"""openapi.yaml is the contract: it validates, and real traffic to the live service conforms to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_spec_validator import validate

from .conftest import ROOT, SAMPLES, SERVICE_URL, LiveService, load_json, sample_cases

pytestmark = pytest.mark.api
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))


def test_openapi_document_is_valid() -> None:
    validate(SPEC)


def test_examples_point_at_existing_samples() -> None:
    refs = [
        ex["externalValue"]
        for path in SPEC["paths"].values()
        for op in path.values()
        if isinstance(op, dict)
        for media in op.get("requestBody", {}).get("content", {}).values()
        for ex in media.get("examples", {}).values()
        if "externalValue" in ex
    ]
    assert refs and all((ROOT / ref).is_file() for ref in refs)


def openapi(live: LiveService, **changes: Any) -> OpenAPI:
    """The contract bound to the live service's address; application/fhir+json is JSON."""

    def text(body: bytes | str, **_: Any) -> str:
        return body.decode() if isinstance(body, bytes) else body

    config = Config(
        extra_media_type_deserializers={
            "application/fhir+json": json.loads,
            "application/yaml": text,
            "text/html": text,
            "text/javascript": text,
        }
    )
    return OpenAPI.from_dict({**SPEC, "servers": [{"url": live.url}], **changes}, config=config)


@pytest.fixture(scope="module")
def contract(live: LiveService) -> Iterator[Callable[[requests.Response], None]]:
    # The live test service runs with CDS_AUTH_MODE=off, so requests carry no client JWT.
    api = openapi(live, security=[])

    def check(response: requests.Response) -> None:
        request = RequestsOpenAPIRequest(response.request)
        api.validate_request(request)
        api.validate_response(request, RequestsOpenAPIResponse(response))

    yield check


def post(live: LiveService, path: str, body: Any, content_type: str = "application/json") -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{live.url}{path}", data=data, headers={"Content-Type": content_type}, timeout=10)


CASES = sample_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sample_traffic_conforms(live: LiveService, contract: Callable[[requests.Response], None], case: Path) -> None:
    expected = load_json(case / "expected.json")
    hook = expected.get("hook", "patient-view")
    service = {
        "patient-view": "magnesium-leg-symptoms",
        "order-select": "magnesium-order-select",
        "order-sign": "magnesium-order-sign",
    }[hook]
    contract(post(live, f"/cds-services/{service}", load_json(case / f"{hook}.json")))
    query = "?hook=order-sign" if hook != "patient-view" else ""
    contract(post(live, f"/evaluate{query}", load_json(case / "bundle.json"), "application/fhir+json"))


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/cds-services", "/rules", "/openapi.yaml", "/docs", "/docs/init.js"]
)
def test_get_endpoints_conform(live: LiveService, contract: Callable[[requests.Response], None], path: str) -> None:
    response = requests.get(f"{live.url}{path}", timeout=10)
    assert response.status_code == 200
    contract(response)


def test_feedback_conforms(live: LiveService, contract: Callable[[requests.Response], None]) -> None:
    contract(
        post(
            live,
            f"{SERVICE_URL}/feedback",
            {
                "feedback": [
                    {
                        "card": "c1",
                        "outcome": "accepted",
                        "acceptedSuggestions": [{"id": "s1"}],
                        "outcomeTimestamp": "2026-11-15T10:05:31Z",
                    }
                ]
            },
        )
    )


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status"),
    [
        (
            SERVICE_URL,
            {**load_json(SAMPLES / "mg-low" / "patient-view.json"), "hookInstance": "x"},
            "application/json",
            400,
        ),
        (
            SERVICE_URL,
            {k: v for k, v in load_json(SAMPLES / "mg-low" / "patient-view.json").items() if k != "prefetch"},
            "application/json",
            412,
        ),
        ("/evaluate", b"{}", "text/plain", 415),
        ("/evaluate", b"x" * (10 * 1024 * 1024 + 10), "application/json", 413),
        (f"{SERVICE_URL}/feedback", {"feedback": []}, "application/json", 400),
    ],
)
def test_error_responses_conform(
    live: LiveService,
    contract: Callable[[requests.Response], None],
    path: str,
    body: Any,
    content_type: str,
    status: int,
) -> None:
    response = post(live, path, body, content_type)
    assert response.status_code == status
    api = openapi(live)
    api.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
