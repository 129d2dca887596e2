"""HTTP views. Each one validates, calls the pure core, and serialises: nothing clinical happens here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import swagger_ui_bundle  # type: ignore[import-untyped]
from flask import Blueprint, Response, g, request, send_file, send_from_directory
from marshmallow import ValidationError

from . import events
from .auth import RedisReplayStore
from .core.engine import ORDER_JUDGED_CLASSES
from .core.errors import InvalidRequest, Problem, UnknownService
from .core.fhirdata import entries_from_bundle
from .core.knowledge import KnowledgeBase, ServiceDef
from .core.orders import ORDER_HOOKS, drafts_from_bundle, drafts_from_context
from .core.pipeline import run, run_orders
from .errors import operation_outcome
from .fhirclient import gather_prefetch
from .jsonio import json_response, read_json
from .schemas import CONTEXT_SCHEMAS, feedback_schema, flatten_errors, hook_request_schema
from .state import current_state
from .version import __version__

bp = Blueprint("cds", __name__)
STATIC = Path(__file__).resolve().parent / "static"
OPENAPI = Path(__file__).resolve().parent.parent / "openapi.yaml"
SWAGGER_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)
VERSION_EXTENSION = "magnesium-cds.versions"


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: rules loaded, configuration valid (else the app would not exist), Redis reachable if used."""
    state = current_state()
    checks = {"rules": f"loaded (knowledge base {state.kb.version})", "config": "valid"}
    ready = True
    replay = state.authenticator.replay if state.authenticator else None
    if isinstance(replay, RedisReplayStore):
        reachable = replay.ping()
        checks["redis"] = "reachable" if reachable else "unreachable"
        ready = ready and reachable
    if not ready:
        problem = Problem(None, "Not ready: " + ", ".join(f"{k} {v}" for k, v in checks.items()), "transient")
        return json_response(operation_outcome([problem]), 503)
    return json_response({"status": "ready", "checks": checks, "version": __version__})


@bp.get("/openapi.yaml")
def openapi_document() -> Response:
    return send_file(OPENAPI, mimetype="application/yaml", max_age=0)


@bp.get("/docs")
def docs() -> Response:
    """Interactive API docs: the packaged Swagger UI, served offline."""
    response = send_file(STATIC / "docs.html", mimetype="text/html", max_age=0)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"
    )
    return response


@bp.get("/docs/<name>")
def docs_asset(name: str) -> Response:
    if name == "init.js":
        return send_file(STATIC / "docs-init.js", mimetype="text/javascript", max_age=0)
    if name not in SWAGGER_ASSETS:
        raise UnknownService(f"No docs asset {name!r}.", (Problem(None, f"no docs asset {name!r}", "not-found"),))
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=0)


@bp.get("/cds-services")
def discovery() -> Response:
    """CDS Hooks discovery, derived from the loaded rules (never maintained by hand)."""
    kb = current_state().kb
    return json_response({"services": [_service_json(s, kb) for s in kb.services]})


@bp.get("/rules")
def rules_catalogue() -> Response:
    """The loaded knowledge base: card kinds, value sets, thresholds and citations, with versions."""
    return json_response(catalogue(current_state().kb))


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    """Invoke a CDS service with a hook request; answer with cards."""
    state = current_state()
    offered = _offered(service_id)
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
    if service.hook in ORDER_HOOKS:
        judged, all_drafts = drafts_from_context(context, service.hook, state.extractor)
        if not any(set(d.classes) & ORDER_JUDGED_CLASSES for d in judged):
            return json_response({"cards": []})  # nothing to judge: no data needed, nothing fetched
        entries = gather_prefetch(service, envelope, context, state.fhir, g.get("started"))
        outcome = run_orders(entries, context["patientId"], judged, all_drafts, **_core_args())
    else:
        entries = gather_prefetch(service, envelope, context, state.fhir, g.get("started"))
        outcome = run(entries, context["patientId"], **_core_args())
    events.cards_issued(service.id, str(envelope["hookInstance"]), outcome.cards)
    return json_response({"cards": [c.to_json() for c in outcome.cards]})


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    """Receive card feedback (accepted / overridden); log it as structured events; answer 200, empty."""
    _offered(service_id)
    body = _load(feedback_schema, _json_object(read_json(request)))
    for item in body["feedback"]:
        events.feedback_received(service_id, item)
    return Response(status=200)


@bp.post("/evaluate")
def evaluate_bundle() -> Response:
    """Evaluate a FHIR Bundle about one patient: the hook's cards plus machine-readable findings.

    With ?hook=order-sign the Bundle's MedicationRequests with status draft are judged as draft orders.
    """
    hook = request.args.get("hook", "patient-view")
    if hook not in ("patient-view", "order-sign"):
        raise InvalidRequest("Unsupported hook.", (Problem("hook", "must be patient-view or order-sign"),))
    bundle = _json_object(read_json(request))
    if bundle.get("resourceType") != "Bundle":
        raise InvalidRequest("Expected a FHIR Bundle.", (Problem("resourceType", "must be 'Bundle'"),))
    if not isinstance(bundle.get("entry", []), list):
        raise InvalidRequest("Bundle.entry must be an array.", (Problem("entry", "must be an array"),))
    entries = entries_from_bundle(bundle)
    if hook == "order-sign":
        drafts = drafts_from_bundle(entries, current_state().extractor)
        outcome = run_orders(entries, None, drafts, drafts, **_core_args())
    else:
        outcome = run(entries, None, **_core_args())
    events.cards_issued("evaluate", None, outcome.cards)
    return json_response(
        {
            "cards": [c.to_json() for c in outcome.cards],
            "findings": [f.to_json() for f in outcome.evaluation.findings],
        }
    )


def _offered(service_id: str) -> list[ServiceDef]:
    offered = [s for s in current_state().kb.services if s.id == service_id]
    if not offered:
        raise UnknownService(
            f"No CDS service {service_id!r}.", (Problem(None, f"no CDS service with id {service_id!r}", "not-found"),)
        )
    return offered


def _core_args() -> dict[str, Any]:
    state = current_state()
    return {"kb": state.kb, "extractor": state.extractor, "now": state.clock(), "new_uuid": state.new_uuid}


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


def _service_json(s: ServiceDef, kb: KnowledgeBase) -> dict[str, Any]:
    out: dict[str, Any] = {"hook": s.hook, "id": s.id, "title": s.title, "description": s.description}
    if s.prefetch:
        out["prefetch"] = dict(s.prefetch)
    if s.usage_requirements:
        out["usageRequirements"] = s.usage_requirements
    # CDS Hooks reserves `extension` for exactly this kind of pre-coordinated, namespaced information.
    out["extension"] = {VERSION_EXTENSION: {"service": __version__, "knowledgeBase": kb.version}}
    return out


def catalogue(kb: KnowledgeBase) -> dict[str, Any]:
    """The knowledge base as a JSON catalogue (derived from what was loaded, never maintained by hand)."""

    def cite(ids: Sequence[str]) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in {"id": i, "label": kb.citations[i].label, "url": kb.citations[i].url}.items() if v}
            for i in ids
        ]

    return {
        "version": kb.version,
        "serviceVersion": __version__,
        "topicSystem": kb.topic_system,
        "cardKinds": [
            {
                "topic": k.topic,
                "title": k.title,
                "summaryParts": dict(k.summary),
                **({"source": cite([k.source])[0]} if k.source else {}),
                "links": cite(list(k.links)),
            }
            for k in kb.cards.values()
        ],
        "statements": [
            {"id": st.id, "text": st.text, "sources": cite(list(st.sources))} for st in kb.statements.values()
        ],
        "valueSets": [
            {
                "id": vs.id,
                "url": vs.url,
                "version": vs.version,
                "title": vs.title,
                "concepts": len(vs.codes),
                "isA": {system: list(p) for system, p in vs.prefixes.items()},
            }
            for vs in sorted(kb.valuesets.values(), key=lambda v: v.id)
        ],
        "thresholds": [
            {
                "name": t.name,
                "value": t.value,
                "unit": t.unit,
                "sources": cite(t.sources),
                **({"note": t.note} if t.note else {}),
            }
            for t in [*kb.thresholds.values(), *kb.constants.values()]
        ],
        "serumMagnesiumBands": [
            {
                **({"belowMmolPerL": b.below_mmol} if b.below_mmol is not None else {}),
                "label": b.label,
                "sources": cite(b.sources),
            }
            for b in kb.serum_mg_bands
        ],
        "nameFallbacks": {
            group: {
                m.id: {"names": list(m.names), "patterns": list(m.patterns), "source": m.names_source}
                for m in defs.values()
            }
            for group, defs in (
                ("medications", kb.medications),
                ("conditions", kb.conditions),
                ("observations", kb.observation_names),
            )
        },
    }
