"""FHIR-server fallback: run prefetch templates the client did not satisfy (checklist §4 P-11…P-17).

An adapter with I/O, kept out of the pure core. One hook call has one budget for all its FHIR I/O: a
wall-clock deadline (CDS_FHIR_TIMEOUT_SECONDS, counted from when the request arrived) that covers connect,
response headers, body and every page, however slowly the server dribbles them, and a byte cap across all
keys and pages (CDS_FHIR_MAX_TOTAL_BYTES), so a slow or huge EHR cannot hang a worker or blow its memory.
All reads run concurrently: under gevent workers (gunicorn.conf.py) as greenlets that are killed at the
deadline; elsewhere (sync workers, tests in-process) as threads that are abandoned at the deadline.

The access token is sent as a bearer token and never logged or stored. `next` links are followed only
when, after decoding, they stay on the same scheme, host, port and path prefix as fhirServer (no dot
segments); redirects are never followed. A FHIR server's own error text (diagnostics can hold patient
data) is summarised by its issue codes, never logged or returned verbatim.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import requests

from .core.fhirdata import Entry, entries_from_bundle
from .core.knowledge import ServiceDef
from .core.prefetch import PrefetchResult, require_complete, split_prefetch
from .jsonio import MAX_DEPTH, too_deep
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
_DEFAULT_PORTS = {"http": 80, "https": 443}
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FhirSettings:
    """Limits for calls to an EHR's FHIR server."""

    allow_http: bool
    total_timeout: float  # seconds for all FHIR I/O of one hook call together, from the request's arrival
    connect_timeout: float
    max_pages: int
    max_response_bytes: int
    max_total_bytes: int = 16 * 1024 * 1024  # all responses of one hook call together


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


class Budget:
    """The time and bytes one hook call may spend on its FHIR server, shared by all its reads."""

    def __init__(self, settings: FhirSettings, started: float | None = None) -> None:
        self.settings = settings
        self.deadline = (started if started is not None else time.perf_counter()) + settings.total_timeout
        self._bytes_left = settings.max_total_bytes
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline - time.perf_counter()

    def timeout_error(self) -> FetchError:
        return FetchError(
            f"the FHIR server did not answer within {self.settings.total_timeout:g} s (CDS_FHIR_TIMEOUT_SECONDS)",
            "timeout",
        )

    def take(self, size: int) -> None:
        with self._lock:
            self._bytes_left -= size
            left = self._bytes_left
        if left < 0:
            raise FetchError(
                "the FHIR server's answers for this call are larger than CDS_FHIR_MAX_TOTAL_BYTES "
                f"({self.settings.max_total_bytes} bytes)",
                "too-large",
            )
        if self.remaining() <= 0:
            raise self.timeout_error()


def gather_prefetch(
    service: ServiceDef,
    envelope: Mapping[str, Any],
    context: Mapping[str, Any],
    settings: FhirSettings,
    started: float | None = None,
) -> tuple[Entry, ...]:
    """All the data a service call needs (P-15): what was prefetched, its further pages, and what the
    service fetches itself for absent keys; raises PrefetchUnavailable (→ 412) naming what is missing.
    `started` (time.perf_counter() when the request arrived) starts the one FHIR deadline of the call.
    """
    split = split_prefetch(service, envelope.get("prefetch"))
    fhir_server = envelope.get("fhirServer")
    authorization = envelope.get("fhirAuthorization") or {}
    token = authorization.get("access_token")
    entries = list(split.entries)
    failed = dict(split.failed)
    absent = split.absent
    paged = dict(split.paged)
    if paged and not fhir_server:
        for key in paged:
            failed[key] = "the prefetched Bundle has more pages but no fhirServer was given to read them"
        paged = {}
    if fhir_server and (paged or absent):
        fetched = _fetch_all(
            fhir_server,
            token,
            templates={k: service.prefetch[k] for k in absent},
            paged=paged,
            context=context,
            budget=Budget(settings, started),
        )
        for key in [*paged, *absent]:
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
    """Run each template against the FHIR server concurrently, all within one budget."""
    return _fetch_all(fhir_server, token, templates=templates, paged={}, context=context, budget=Budget(settings))


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
    result = _fetch_all(fhir_server, token, templates={}, paged={"bundle": bundle}, context={}, budget=Budget(settings))
    if result.failed:
        raise FetchError(result.failed["bundle"])
    return result.entries["bundle"]


def _fetch_all(
    fhir_server: str,
    token: str | None,
    *,
    templates: Mapping[str, str],
    paged: Mapping[str, Mapping[str, Any]],
    context: Mapping[str, Any],
    budget: Budget,
) -> FetchResult:
    base = fhir_server.rstrip("/")
    keys = [*paged, *templates]
    refused = _scheme_refused(base, budget.settings)
    if refused:
        return FetchResult({}, dict.fromkeys(keys, refused))
    entries: dict[str, tuple[Entry, ...]] = {}
    failed: dict[str, str] = {}
    with _session(token) as session:
        tasks: dict[str, Callable[[], tuple[Entry, ...]]] = {}
        for key, bundle in paged.items():
            tasks[key] = lambda b=bundle: tuple(_follow_next(session, base, b, budget))  # type: ignore[misc]
        for key, template in templates.items():
            tasks[key] = lambda t=template: _run_template(session, base, t, context, budget)  # type: ignore[misc]
        for key, outcome in run_within(tasks, budget).items():
            if isinstance(outcome, FetchError):
                failed[key] = ("could not read further pages: " if key in paged else "") + str(outcome)
            else:
                entries[key] = outcome
    for key, reason in failed.items():
        log.warning("FHIR fallback failed for prefetch key %s: %s", key, reason)
    return FetchResult(entries, failed)


def run_within(tasks: Mapping[str, Callable[[], T]], budget: Budget) -> dict[str, T | FetchError]:
    """Run the tasks concurrently; those not finished by the deadline are stopped and count as timeouts."""
    if not tasks:
        return {}
    if _gevent_active():
        return _run_greenlets(tasks, budget)
    return _run_threads(tasks, budget)


def _gevent_active() -> bool:
    try:
        from gevent import monkey  # noqa: PLC0415 (only present and patched under gevent workers)
    except ImportError:  # pragma: no cover - gevent is a runtime dependency
        return False
    return bool(monkey.is_module_patched("socket"))


def _guarded(task: Callable[[], T]) -> T | FetchError:
    try:
        return task()
    except FetchError as exc:
        return exc
    except Exception as exc:  # an answer the code did not foresee: this key fails (412), never the call (500)
        log.warning("FHIR fallback: unexpected %s while reading an answer", type(exc).__name__)
        return FetchError(f"the FHIR server's answer could not be used ({type(exc).__name__})")


def _run_greenlets(tasks: Mapping[str, Callable[[], T]], budget: Budget) -> dict[str, T | FetchError]:
    import gevent  # noqa: PLC0415

    greenlets = {key: gevent.spawn(_guarded, task) for key, task in tasks.items()}
    gevent.joinall(list(greenlets.values()), timeout=max(0.0, budget.remaining()))
    out: dict[str, T | FetchError] = {}
    for key, greenlet in greenlets.items():
        if greenlet.ready() and greenlet.successful():
            out[key] = greenlet.value
        elif greenlet.ready():
            out[key] = FetchError(f"the request to the FHIR server failed ({type(greenlet.exception).__name__})")
        else:
            greenlet.kill(block=False)  # GreenletExit at its blocking read: the socket is closed, not leaked
            out[key] = budget.timeout_error()
    return out


def _run_threads(tasks: Mapping[str, Callable[[], T]], budget: Budget) -> dict[str, T | FetchError]:
    pool = ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="fhir")
    futures = {key: pool.submit(_guarded, task) for key, task in tasks.items()}
    wait_futures(list(futures.values()), timeout=max(0.0, budget.remaining()))
    # Threads cannot be stopped: a read still running gives up at its own socket timeout or its next chunk.
    pool.shutdown(wait=False, cancel_futures=True)
    out: dict[str, T | FetchError] = {}
    for key, future in futures.items():
        if not future.done():
            out[key] = budget.timeout_error()
        elif future.exception() is not None:
            out[key] = FetchError(f"the request to the FHIR server failed ({type(future.exception()).__name__})")
        else:
            out[key] = future.result()
    return out


def _scheme_refused(base: str, settings: FhirSettings) -> str | None:
    scheme = urllib.parse.urlsplit(base).scheme
    if scheme == "https" or (scheme == "http" and settings.allow_http):
        return None
    return "fhirServer must use https (set CDS_FHIR_ALLOW_HTTP=true for local development)"


def _session(token: str | None) -> requests.Session:
    session = requests.Session()
    session.headers["Accept"] = FHIR_JSON
    session.max_redirects = 0
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def _run_template(
    session: requests.Session, base: str, template: str, context: Mapping[str, Any], budget: Budget
) -> tuple[Entry, ...]:
    query = substitute(template, context)
    if query is None:
        raise FetchError(f"template {template!r} has a token the request context cannot fill")
    url = same_server_url(base, f"{base}/{query.lstrip('/')}")
    if url is None:
        raise FetchError(f"template {template!r} does not stay under fhirServer; not run")
    body = _get_json(session, url, budget)
    if body.get("resourceType") == "OperationOutcome":
        raise FetchError("the FHIR server answered with an OperationOutcome: " + outcome_summary(body))
    if body.get("resourceType") != "Bundle":
        return (Entry(body),)
    return tuple(_usable(entries_from_bundle(body)) + _follow_next(session, base, body, budget))


def _follow_next(session: requests.Session, base: str, body: Mapping[str, Any], budget: Budget) -> list[Entry]:
    """Entries of the pages after `body`, following `next` links on the same server up to the page cap."""
    collected: list[Entry] = []
    pages = 1
    max_pages = budget.settings.max_pages
    while (next_url := _next_link(body)) is not None:
        if pages >= max_pages:
            raise FetchError(f"more than {max_pages} pages of results (CDS_FHIR_MAX_PAGES)")
        url = same_server_url(base, next_url)
        if url is None:
            raise FetchError("a next link points outside fhirServer; not followed", "refused")
        body = _get_json(session, url, budget)
        collected += _usable(entries_from_bundle(body))
        pages += 1
    return collected


def same_server_url(base: str, url: str) -> str | None:
    """`url` rebuilt on fhirServer's scheme and authority if it stays under fhirServer's path; else None.

    Refused: another scheme, host or port; user info; dot segments (also percent-encoded), backslashes
    and encoded slashes that could climb out of the path prefix; control characters.
    """
    try:
        b = urllib.parse.urlsplit(base)
        u = urllib.parse.urlsplit(url.strip())
        b_port = b.port or _DEFAULT_PORTS.get(b.scheme.lower())
        u_port = u.port or _DEFAULT_PORTS.get(u.scheme.lower())
    except ValueError:
        return None
    if (
        u.scheme.lower() != b.scheme.lower()
        or u.hostname != b.hostname
        or u_port != b_port
        or u.username is not None
        or u.password is not None
    ):
        return None
    if any(ord(c) < 0x21 or c == "\\" for c in url.strip()) or "%2f" in u.path.lower() or "%5c" in u.path.lower():
        return None
    decoded = urllib.parse.unquote(u.path)
    if any(segment in (".", "..") for segment in decoded.split("/")):
        return None
    prefix = urllib.parse.unquote(b.path).rstrip("/")
    if decoded != prefix and not decoded.startswith(prefix + "/"):
        return None
    return urllib.parse.urlunsplit((b.scheme, b.netloc, u.path, u.query, ""))


def _usable(entries: Sequence[Entry]) -> list[Entry]:
    # search.mode = outcome entries (OperationOutcome warnings) are not patient data.
    return [e for e in entries if e.resource.get("resourceType") != "OperationOutcome"]


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def outcome_summary(outcome: Mapping[str, Any]) -> str:
    """An OperationOutcome by its issue severities and codes only: its free text may hold patient data."""
    issues = [i for i in outcome.get("issue") or [] if isinstance(i, Mapping)]
    parts = [
        f"{_token(i.get('severity'))}/{_token(i.get('code'))}" for i in issues[:5]
    ]  # codes are FHIR tokens; anything else is replaced
    more = f" and {len(issues) - 5} more" if len(issues) > 5 else ""
    return f"issues {', '.join(parts)}{more} (diagnostics not shown)" if parts else "no issues given"


def _token(value: Any) -> str:
    text = value if isinstance(value, str) else ""
    return text if text and len(text) <= 32 and text.replace("-", "").isalnum() else "unspecified"


def _get_json(session: requests.Session, url: str, budget: Budget) -> dict[str, Any]:
    """GET a URL within the budget, counting the outcome and latency in the metrics."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        return _get_json_unmetered(session, url, budget)
    except FetchError as exc:
        outcome = exc.kind
        raise
    except BaseException:  # killed at the deadline (gevent) — counted, then let it stop the greenlet
        outcome = "timeout"
        raise
    finally:
        FHIR_CALLS.labels(outcome).inc()
        FHIR_LATENCY.observe(time.perf_counter() - started)


def _get_json_unmetered(session: requests.Session, url: str, budget: Budget) -> dict[str, Any]:
    """GET a URL; the body is read in chunks that count against the call's bytes and time."""
    settings = budget.settings
    remaining = budget.remaining()
    if remaining <= 0:
        raise budget.timeout_error()
    try:
        with session.get(
            url, timeout=(min(settings.connect_timeout, remaining), remaining), stream=True, allow_redirects=False
        ) as response:
            status = response.status_code
            _check_status(response, settings)
            content = bytearray()
            for chunk in response.iter_content(_CHUNK):
                content += chunk
                if len(content) > settings.max_response_bytes:
                    raise FetchError("the FHIR server response is larger than CDS_FHIR_MAX_RESPONSE_BYTES", "too-large")
                budget.take(len(chunk))
    except requests.Timeout:
        raise budget.timeout_error() from None
    except requests.ConnectionError:
        if budget.remaining() <= 0:
            raise budget.timeout_error() from None
        raise FetchError("the FHIR server could not be reached", "unreachable") from None
    except requests.RequestException as exc:
        raise FetchError(f"the request to the FHIR server failed ({type(exc).__name__})") from None
    return _parse_body(content, status)


def _check_status(response: requests.Response, settings: FhirSettings) -> None:
    status = response.status_code
    if status in (401, 403):
        raise FetchError(f"the FHIR server refused access (HTTP {status})", "refused")
    if 300 <= status < 400:
        raise FetchError(f"the FHIR server answered HTTP {status} (redirects are not followed)", "http-error")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > settings.max_response_bytes:
        raise FetchError("the FHIR server response is larger than CDS_FHIR_MAX_RESPONSE_BYTES", "too-large")


def _parse_body(content: bytearray, status: int) -> dict[str, Any]:
    if too_deep(bytes(content)):
        raise FetchError(f"the FHIR server answered HTTP {status} with JSON nested deeper than {MAX_DEPTH}", "invalid")
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise FetchError(f"the FHIR server answered HTTP {status} with a body that is not JSON", "invalid") from None
    if not isinstance(body, dict):
        raise FetchError(f"the FHIR server answered HTTP {status} with JSON that is not a resource", "invalid")
    if status >= 400:
        detail = outcome_summary(body) if body.get("resourceType") == "OperationOutcome" else "no OperationOutcome"
        raise FetchError(f"the FHIR server answered HTTP {status}: {detail}", "http-error")
    return body
