"""JSON in and out with orjson: strict parsing of request bodies, compact responses."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Request, Response

from .core.errors import InvalidRequest, UnsupportedMediaType

JSON_TYPES = frozenset({"application/json", "application/fhir+json"})


def read_json(request: Request) -> Any:
    """The request body as JSON; 415 for a non-JSON content type, 400 for a body that is not JSON."""
    if request.mimetype not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json or application/fhir+json, got {request.mimetype or 'none'!r}."
        )
    body = request.get_data(cache=False)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc}") from None


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")
