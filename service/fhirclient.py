"""FHIR-server fallback: run prefetch templates the client did not satisfy (checklist §4 P-11…P-17).

An adapter with I/O, kept out of the pure core. All absent keys are fetched concurrently under one total
deadline, so a slow EHR cannot hang a worker. The access token is sent as a bearer token and never
logged or stored. `next` links are followed only when they point back at the same FHIR server.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import requests

from .core.fhirdata import Entry, entries_from_bundle
from .core.knowledge import ServiceDef
from .core.prefetch import PrefetchResult, outcome_text, require_complete, split_prefetch
from .observability import FHIR_CALLS, FHIR_LATENCY

log = logging.getLogger("magnesium_cds.fhir")
_OPEN = "{{"
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
_CHUNK = 64 * 1024
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True, slots=True)
class FhirSettings:
    """Limits for calls to an EHR's FHIR server."""

    allow_http: bool
    total_timeout: float  # seconds for all requests of one hook call together
    connect_timeout: float
    max_pages: int
    max_response_bytes: int


class FetchError(Exception):
    """Raised when a prefetch template could not be run against the FHIR server (→ 412)."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind  # metrics label: timeout, unreachable, refused, http-error, too-large, invalid, error


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Entries fetched per key, and the keys that failed with the reason."""

    entries: Mapping[str, tuple[Entry, ...]]
    failed: Mapping[str, str]


def gather_prefetch(
    service: ServiceDef,
    envelope: Mapping[str, Any],
    context: Mapping[str, Any],
    settings: FhirSettings,
) -> tuple[Entry, ...]:
    """All the data a service call needs (P-15): what was prefetched, its further pages, and what the
    service fetches itself for absent keys; raises PrefetchUnavailable (→ 412) naming what is missing.
    """
    split = split_prefetch(service, envelope.get("prefetch"))
    fhir_server = envelope.get("fhirServer")
    authorization = envelope.get("fhirAuthorization") or {}
    token = authorization.get("access_token")
    entries = list(split.entries)
    failed = dict(split.failed)
    for key, bundle in split.paged.items():
        try:
            entries += page_bundle(bundle, fhir_server, token, settings)
        except FetchError as exc:
            failed[key] = f"could not read further pages: {exc}"
    absent = split.absent
    if absent and fhir_server:
        fetched = fetch_prefetch(fhir_server, token, {k: service.prefetch[k] for k in absent}, context, settings)
        for key in absent:
            entries += fetched.entries.get(key, ())
        failed.update(fetched.failed)
        absent = ()
    require_complete(service, PrefetchResult(tuple(entries), absent, failed))
    return tuple(entries)


def substitute(template: str, context: Mapping[str, Any]) -> str | None:
    """Fill {{context.X}} and the four {{user…Id}} tokens (P-16); None if a token cannot be filled."""
    out = template
    while _OPEN in out:
        start = out.index(_OPEN)
        end = out.find("}}", start)
        if end < 0:
            return None
        name = out[start + 2 : end].strip()
        value = _token_value(name, context)
        if value is None:
            return None
        out = out[:start] + urllib.parse.quote(value, safe="/") + out[end + 2 :]
    return out


def _token_value(name: str, context: Mapping[str, Any]) -> str | None:
    if name.startswith("context."):
        value = context.get(name.removeprefix("context."))
        # Only root-level primitives are prefetch tokens (P-03).
        return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    if name in _USER_TOKENS:
        kind, _, ident = str(context.get("userId", "")).partition("/")
        return ident if kind == _USER_TOKENS[name] and ident else None
    return None


def fetch_prefetch(
    fhir_server: str,
    token: str | None,
    templates: Mapping[str, str],
    context: Mapping[str, Any],
    settings: FhirSettings,
) -> FetchResult:
    """Run each template against the FHIR server concurrently, all within settings.total_timeout."""
    base = fhir_server.rstrip("/")
    refused = _scheme_refused(base, settings)
    if refused:
        return FetchResult({}, dict.fromkeys(templates, refused))
    deadline = time.monotonic() + settings.total_timeout
    entries: dict[str, tuple[Entry, ...]] = {}
    failed: dict[str, str] = {}
    with _session(token) as session, ThreadPoolExecutor(max_workers=max(1, len(templates))) as pool:
        futures = {
            key: pool.submit(
                _run_template, session, base, template, context=context, deadline=deadline, settings=settings
            )
            for key, template in templates.items()
        }
        for key, future in futures.items():
            try:
                entries[key] = future.result()
            except FetchError as exc:
                failed[key] = str(exc)
    for key, reason in failed.items():
        log.warning("FHIR fallback failed for prefetch key %s: %s", key, reason)
    return FetchResult(entries, failed)


def page_bundle(
    bundle: Mapping[str, Any],
    fhir_server: str | None,
    token: str | None,
    settings: FhirSettings,
) -> tuple[Entry, ...]:
    """The rest of a prefetched searchset that came with a `next` link (P-09), read from the FHIR server."""
    if _next_link(bundle) is None:
        return ()
    if not fhir_server:
        raise FetchError("the prefetched Bundle has more pages but no fhirServer was given to read them")
    base = fhir_server.rstrip("/")
    refused = _scheme_refused(base, settings)
    if refused:
        raise FetchError(refused)
    with _session(token) as session:
        return tuple(_follow_next(session, base, bundle, time.monotonic() + settings.total_timeout, settings))


def _scheme_refused(base: str, settings: FhirSettings) -> str | None:
    scheme = urllib.parse.urlsplit(base).scheme
    if scheme == "https" or (scheme == "http" and settings.allow_http):
        return None
    return "fhirServer must use https (set CDS_FHIR_ALLOW_HTTP=true for local development)"


def _session(token: str | None) -> requests.Session:
    session = requests.Session()
    session.headers["Accept"] = FHIR_JSON
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def _run_template(
    session: requests.Session,
    base: str,
    template: str,
    *,
    context: Mapping[str, Any],
    deadline: float,
    settings: FhirSettings,
) -> tuple[Entry, ...]:
    query = substitute(template, context)
    if query is None:
        raise FetchError(f"template {template!r} has a token the request context cannot fill")
    body = _get_json(session, f"{base}/{query.lstrip('/')}", deadline, settings)
    if body.get("resourceType") == "OperationOutcome":
        raise FetchError("the FHIR server answered with an OperationOutcome: " + outcome_text(body))
    if body.get("resourceType") != "Bundle":
        return (Entry(body),)
    return tuple(_usable(entries_from_bundle(body)) + _follow_next(session, base, body, deadline, settings))


def _follow_next(
    session: requests.Session, base: str, body: Mapping[str, Any], deadline: float, settings: FhirSettings
) -> list[Entry]:
    """Entries of the pages after `body`, following `next` links on the same server up to the page cap."""
    collected: list[Entry] = []
    pages = 1
    while (next_url := _next_link(body)) is not None:
        if pages >= settings.max_pages:
            raise FetchError(f"more than {settings.max_pages} pages of results (CDS_FHIR_MAX_PAGES)")
        if not next_url.startswith((base + "/", base + "?")):
            raise FetchError("a next link points outside fhirServer; not followed")
        body = _get_json(session, next_url, deadline, settings)
        collected += _usable(entries_from_bundle(body))
        pages += 1
    return collected


def _usable(entries: Sequence[Entry]) -> list[Entry]:
    # search.mode = outcome entries (OperationOutcome warnings) are not patient data.
    return [e for e in entries if e.resource.get("resourceType") != "OperationOutcome"]


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def _get_json(session: requests.Session, url: str, deadline: float, settings: FhirSettings) -> dict[str, Any]:
    """GET a URL within the deadline, counting the outcome and latency in the metrics."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        return _get_json_unmetered(session, url, deadline, settings)
    except FetchError as exc:
        outcome = exc.kind
        raise
    finally:
        FHIR_CALLS.labels(outcome).inc()
        FHIR_LATENCY.observe(time.perf_counter() - started)


def _get_json_unmetered(session: requests.Session, url: str, deadline: float, settings: FhirSettings) -> dict[str, Any]:
    """GET a URL within the deadline; the body is read in chunks so a slow drip cannot overrun it."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(
            f"no time left within the {settings.total_timeout:g} s budget (CDS_FHIR_TIMEOUT_SECONDS)", "timeout"
        )
    try:
        with session.get(url, timeout=(min(settings.connect_timeout, remaining), remaining), stream=True) as response:
            if response.status_code in (401, 403):
                raise FetchError(f"the FHIR server refused access (HTTP {response.status_code})", "refused")
            content = bytearray()
            for chunk in response.iter_content(_CHUNK):
                content += chunk
                if len(content) > settings.max_response_bytes:
                    raise FetchError("the FHIR server response is larger than CDS_FHIR_MAX_RESPONSE_BYTES", "too-large")
                if time.monotonic() > deadline:
                    raise FetchError(f"the FHIR server did not answer within {settings.total_timeout:g} s", "timeout")
            status = response.status_code
    except requests.Timeout:
        raise FetchError(f"the FHIR server did not answer within {settings.total_timeout:g} s", "timeout") from None
    except requests.ConnectionError:
        raise FetchError("the FHIR server could not be reached", "unreachable") from None
    except requests.RequestException as exc:
        raise FetchError(f"the request to the FHIR server failed ({type(exc).__name__})") from None
    try:
        body = orjson.loads(bytes(content))
    except orjson.JSONDecodeError:
        raise FetchError(f"the FHIR server answered HTTP {status} with a body that is not JSON", "invalid") from None
    if not isinstance(body, dict):
        raise FetchError(f"the FHIR server answered HTTP {status} with JSON that is not a resource", "invalid")
    if status >= 400:
        detail = outcome_text(body) if body.get("resourceType") == "OperationOutcome" else "no OperationOutcome"
        raise FetchError(f"the FHIR server answered HTTP {status}: {detail}", "http-error")
    return body
