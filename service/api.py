"""HTTP views. Each one validates, calls the pure core, and serialises: nothing clinical happens here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, request
from marshmallow import ValidationError

from .core.errors import InvalidRequest, Problem, UnknownService
from .core.fhirdata import Entry, entries_from_bundle
from .core.knowledge import ServiceDef
from .core.pipeline import Outcome, run
from .core.prefetch import require_complete, split_prefetch
from .jsonio import json_response, read_json
from .schemas import CONTEXT_SCHEMAS, flatten_errors, hook_request_schema
from .state import current_state

bp = Blueprint("cds", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/cds-services")
def discovery() -> Response:
    """CDS Hooks discovery, derived from the loaded rules (never maintained by hand)."""
    kb = current_state().kb
    return json_response({"services": [_service_json(s) for s in kb.services]})


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    """Invoke a CDS service with a hook request; answer with cards."""
    state = current_state()
    offered = [s for s in state.kb.services if s.id == service_id]
    if not offered:
        raise UnknownService(
            f"No CDS service {service_id!r}.", (Problem(None, f"no CDS service with id {service_id!r}", "not-found"),)
        )
    envelope = _load(hook_request_schema, _json_object(read_json(request)))
    # Discovery may list one id under several hooks (checklist D-06): dispatch on (id, hook).
    service = next((s for s in offered if s.hook == envelope["hook"]), None)
    if service is None:
        hooks = ", ".join(s.hook for s in offered)
        raise InvalidRequest(
            "Wrong hook for this service.",
            (Problem("hook", f"service {service_id!r} is invoked on {hooks}, not {envelope['hook']!r}"),),
        )
    context = _load(CONTEXT_SCHEMAS[service.hook], envelope["context"], prefix="context")
    prefetched = split_prefetch(service, envelope.get("prefetch"))
    require_complete(service, prefetched)
    outcome = _run(prefetched.entries, context["patientId"])
    return json_response({"cards": [c.to_json() for c in outcome.cards]})


@bp.post("/evaluate")
def evaluate_bundle() -> Response:
    """Evaluate a FHIR Bundle about one patient: the hook's cards plus machine-readable findings."""
    bundle = _json_object(read_json(request))
    if bundle.get("resourceType") != "Bundle":
        raise InvalidRequest("Expected a FHIR Bundle.", (Problem("resourceType", "must be 'Bundle'"),))
    if not isinstance(bundle.get("entry", []), list):
        raise InvalidRequest("Bundle.entry must be an array.", (Problem("entry", "must be an array"),))
    outcome = _run(entries_from_bundle(bundle), None)
    return json_response(
        {
            "cards": [c.to_json() for c in outcome.cards],
            "findings": [f.to_json() for f in outcome.evaluation.findings],
        }
    )


def _run(entries: Sequence[Entry], patient_id: str | None) -> Outcome:
    state = current_state()
    return run(entries, patient_id, kb=state.kb, extractor=state.extractor, now=state.clock(), new_uuid=state.new_uuid)


def _json_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidRequest("The body must be a JSON object.")
    return body


def _load(schema: Any, data: Any, prefix: str = "") -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        problems = tuple(
            Problem(f"{prefix}.{loc}" if prefix and loc else (loc or prefix or None), message, "invalid")
            for loc, message in flatten_errors(exc.messages)
        )
        raise InvalidRequest("The request is not a valid CDS Hooks request.", problems) from None
    return loaded


def _service_json(s: ServiceDef) -> dict[str, Any]:
    out: dict[str, Any] = {"hook": s.hook, "id": s.id, "title": s.title, "description": s.description}
    if s.prefetch:
        out["prefetch"] = dict(s.prefetch)
    if s.usage_requirements:
        out["usageRequirements"] = s.usage_requirements
    return out
