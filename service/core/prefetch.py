"""CDS Hooks prefetch handling (checklist §4, P-09…P-15): what was sent, what is missing, what failed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidRequest, PrefetchUnavailable, Problem
from .fhirdata import Entry, entries_from_bundle
from .knowledge import ServiceDef


@dataclass(frozen=True, slots=True)
class PrefetchResult:
    """The usable entries, and the keys that could not be used (key → why)."""

    entries: tuple[Entry, ...]
    absent: tuple[str, ...]  # not sent: the service fetches them from fhirServer when it can
    failed: Mapping[str, str]  # the client's own query failed (OperationOutcome): do not re-query
    paged: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # searchsets with a `next` link


def split_prefetch(service: ServiceDef, prefetch: Mapping[str, Any] | None) -> PrefetchResult:
    """Sort each of the service's prefetch keys into used, absent or failed.

    A value may be a resource (read), a searchset Bundle (search, possibly empty), `null` ("queried,
    nothing found": no data, not an error) or an OperationOutcome (the client's query failed).
    Keys of other services are ignored.
    """
    prefetch = prefetch or {}
    entries: list[Entry] = []
    absent: list[str] = []
    failed: dict[str, str] = {}
    paged: dict[str, Mapping[str, Any]] = {}
    for key in service.prefetch:
        if key not in prefetch:
            absent.append(key)
            continue
        value = prefetch[key]
        if value is None:
            continue
        if not isinstance(value, Mapping) or not isinstance(value.get("resourceType"), str):
            raise InvalidRequest(
                "A prefetch value must be a FHIR resource, a Bundle or null.",
                (Problem(f"prefetch.{key}", "must be a FHIR resource (with resourceType), a Bundle or null"),),
            )
        rtype = value["resourceType"]
        if rtype == "OperationOutcome":
            failed[key] = "the client's query failed: " + outcome_text(value)
        elif rtype == "Bundle":
            if not isinstance(value.get("entry", []), list):
                raise InvalidRequest(
                    "Bundle.entry must be an array.", (Problem(f"prefetch.{key}.entry", "must be an array"),)
                )
            # Search Bundles may carry OperationOutcome entries (search.mode = outcome) as warnings.
            entries += [e for e in entries_from_bundle(value) if e.resource.get("resourceType") != "OperationOutcome"]
            links = value.get("link")
            if type(links) is list and any(type(link) is dict and link.get("relation") == "next" for link in links):
                paged[key] = value
        else:
            entries.append(Entry(value))
    return PrefetchResult(tuple(entries), tuple(absent), failed, paged)


def require_complete(service: ServiceDef, result: PrefetchResult) -> None:
    """Raise PrefetchUnavailable (→ 412) naming each key that is absent or failed."""
    problems = [
        Problem(
            f"prefetch.{key}",
            f"not provided and no fhirServer to fetch it from (template {service.prefetch[key]!r})",
            "incomplete",
        )
        for key in result.absent
    ]
    problems += [Problem(f"prefetch.{key}", why, "incomplete") for key, why in result.failed.items()]
    if problems:
        keys = ", ".join(p.location.removeprefix("prefetch.") for p in problems if p.location)
        raise PrefetchUnavailable(f"Required prefetch data could not be obtained: {keys}.", tuple(problems))


def outcome_text(outcome: Mapping[str, Any]) -> str:
    """A short rendering of an OperationOutcome's issues."""
    parts = []
    for issue in outcome.get("issue") or []:
        if isinstance(issue, Mapping):
            details = issue.get("details")
            text = issue.get("diagnostics") or (details.get("text") if isinstance(details, Mapping) else None)
            parts.append(str(text or issue.get("code") or "unspecified"))
    return "; ".join(parts) or "no details given"
