"""JSON in and out: strict parsing of request bodies, compact responses with orjson.

Request bodies are parsed strictly, because two parsers that read the same bytes differently are a
security hole: invalid UTF-8, duplicate object keys, NaN/Infinity, lone UTF-16 surrogates and
pathological nesting are all 400. The standard library's C scanner is used because it can report
duplicate keys (orjson keeps the last silently); on the largest Synthea record (3 MB) it costs about 2x
orjson's parse.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from flask import Request, Response

from .core.errors import InvalidRequest, UnsupportedMediaType

JSON_TYPES = frozenset({"application/json", "application/fhir+json"})
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


class _Duplicate(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _Duplicate(f"duplicate key {dup!r}")
    return obj


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


def parse_json(body: bytes) -> Any:
    """Parse a request body strictly; InvalidRequest (400) says what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The body is not valid JSON: invalid UTF-8 at byte {exc.start}.") from None
    try:
        value = _DECODER.decode(text)
    except _Duplicate as exc:
        raise InvalidRequest(f"The body is not valid JSON here: {exc}.") from None
    except RecursionError:
        raise InvalidRequest("The body is not valid JSON here: nested too deeply.") from None
    except ValueError as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc}") from None
    if _MAYBE_SURROGATE.search(body) and _has_lone_surrogate(value):
        raise InvalidRequest("The body is not valid JSON here: a string holds an unpaired UTF-16 surrogate.")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def read_json(request: Request) -> Any:
    """The request body as JSON; 415 for a non-JSON content type, 400 for a body that is not JSON."""
    if request.mimetype not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json or application/fhir+json, got {request.mimetype or 'none'!r}."
        )
    return parse_json(request.get_data(cache=False))


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")
