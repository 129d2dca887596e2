"""The one place errors become HTTP responses: every non-2xx body is a FHIR OperationOutcome."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .auth import AuthError, ReplayStoreUnavailable
from .core.errors import (
    CallerError,
    InvalidRequest,
    PrefetchUnavailable,
    Problem,
    UnknownService,
    UnsupportedMediaType,
)
from .jsonio import json_response
from .observability import AUTH_FAILURES

log = logging.getLogger("magnesium_cds")

STATUS = {
    InvalidRequest: 400,
    UnknownService: 404,
    PrefetchUnavailable: 412,
    UnsupportedMediaType: 415,
}
# FHIR R4 IssueType for HTTP errors raised by the framework (unknown route, wrong method, too large...).
_HTTP_ISSUE_CODE = {404: "not-found", 405: "not-supported", 413: "too-long", 415: "not-supported"}


def operation_outcome(problems: Iterable[Problem], severity: str = "error") -> dict[str, object]:
    issues = []
    for p in problems:
        issue: dict[str, object] = {"severity": severity, "code": p.code, "diagnostics": p.message}
        if p.location:
            issue["expression"] = [p.location]
            issue["diagnostics"] = f"{p.location}: {p.message}"
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


def register(app: Flask) -> None:
    @app.errorhandler(AuthError)
    def _unauthenticated(exc: AuthError) -> Response:
        # Bare 401 (CDS Hooks best practice): the reason is logged, never returned; the token never logged.
        log.warning(
            "authentication failed: %s", exc.reason, extra={"fields": {"authFailure": exc.reason, **_safe(exc.context)}}
        )
        AUTH_FAILURES.labels(exc.reason).inc()
        problem = Problem(None, "Authentication required: a valid CDS client JWT (Bearer).", "login")
        response = json_response(operation_outcome([problem]), 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="magnesium-cds"'
        return response

    @app.errorhandler(ReplayStoreUnavailable)
    def _replay_store(exc: ReplayStoreUnavailable) -> Response:
        # Fail closed: without the jti store a replayed token could not be told apart. The store logs
        # (rate-limited) itself; the response names it so the EHR's operators know what is down.
        problem = Problem(
            None,
            f"Service unavailable: {exc}; replayed tokens cannot be refused, so no call is accepted. Retry later.",
            "transient",
        )
        response = json_response(operation_outcome([problem]), 503)
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(CallerError)
    def _caller(exc: CallerError) -> Response:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
        # An expected failure: one line, no stack trace, no request data beyond the problem codes.
        log.info(
            "request refused: HTTP %d %s",
            status,
            type(exc).__name__,
            extra={"fields": {"status": status, "issues": sorted({p.code for p in exc.problems})}},
        )
        return json_response(operation_outcome(exc.problems), status)

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError) -> Response:
        # Safety net behind jsonio's depth limit: never a 500 and a 100 KB stack trace for deep input.
        log.warning("request refused: HTTP 400 input nested too deeply", extra={"fields": {"status": 400}})
        problem = Problem(None, "The request is nested too deeply to be processed.", "too-costly")
        return json_response(operation_outcome([problem]), 400)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_ISSUE_CODE.get(status, "processing" if status < 500 else "exception")
        message = exc.description or exc.name
        if isinstance(exc, RequestEntityTooLarge):
            limit = current_app.config["MAX_BODY_BYTES"]
            message = f"Request body too large: the limit is {limit} bytes (CDS_MAX_BODY_BYTES)."
        response = json_response(operation_outcome([Problem(None, message, code)]), status)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        problem = Problem(None, "Internal error in the CDS service; the details are in the service log.", "exception")
        return json_response(operation_outcome([problem]), 500)


def _safe(context: dict[str, object]) -> dict[str, str]:
    """Identifiers that help trace a failure (iss, kid, jti, alg...), shortened; never a token."""
    return {k: str(v)[:200] for k, v in context.items() if v is not None}
