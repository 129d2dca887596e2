"""One exception hierarchy: the caller's fault (→ 4xx) versus ours (→ 500, details only in logs).

HTTP status codes are not defined here; service.errors maps each class to one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: where (a dotted path) and what."""

    location: str | None
    message: str
    code: str = "invalid"


class CDSError(Exception):
    """Base class for every error this service raises on purpose."""


class CallerError(CDSError):
    """Raised when the request, not the service, is at fault."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or (Problem(None, message),)


class InvalidRequest(CallerError):
    """Raised when a request body or its parameters break the protocol or FHIR rules."""


class UnknownService(CallerError):
    """Raised when no CDS service has the requested id."""


class UnsupportedMediaType(CallerError):
    """Raised when the request body is not JSON."""


class PrefetchUnavailable(CallerError):
    """Raised when data the rules require was neither prefetched nor obtainable (CDS Hooks 412)."""


class RulesError(CDSError):
    """Raised when a rules/ file is missing, malformed or inconsistent; the service must not start."""
