"""Frozen domain values shared by extraction, the engine and card composition.

Every value checks its own invariants, so a card that breaks the CDS Hooks 2.0 card rules can never be
built, whatever the rules files say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from .text import Markdown, PlainText

Indicator = Literal["info", "warning", "critical"]
INDICATORS: tuple[Indicator, ...] = ("info", "warning", "critical")
# Urgency order used to sort cards: critical first (CDS Hooks 2.0 §Card: "in increasing order of urgency").
URGENCY: Mapping[str, int] = {"critical": 0, "warning": 1, "info": 2}

# CDS Hooks 2.0 §Card: summary is a "one-sentence, <140-character summary message".
MAX_SUMMARY_CHARS = 140


@dataclass(frozen=True, slots=True)
class Evidence:
    """A FHIR resource that supports a finding, with its clinically relevant date."""

    reference: str
    display: str | None = None
    date: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _compact({"reference": self.reference, "display": self.display, "date": self.date})


@dataclass(frozen=True, slots=True)
class Finding:
    """One machine-readable fact the engine detected, with the resources it rests on."""

    category: str
    code: str
    display: str
    evidence: tuple[Evidence, ...] = ()
    since: date | None = None
    values: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "category": self.category,
                "code": self.code,
                "display": self.display,
                "since": self.since.isoformat() if self.since else None,
                "values": dict(self.values),
                "evidence": [e.to_json() for e in self.evidence],
            }
        )


@dataclass(frozen=True, slots=True)
class Coding:
    """A FHIR-style Coding as CDS Hooks uses it (topic, override reasons)."""

    system: str
    code: str
    display: str | None = None

    def __post_init__(self) -> None:
        if not self.system or not self.code:
            raise ValueError("a Coding needs both system and code")

    def to_json(self) -> dict[str, Any]:
        return _compact({"system": self.system, "code": self.code, "display": self.display})


@dataclass(frozen=True, slots=True)
class Link:
    """A card link; only absolute links are emitted by this service."""

    label: str
    url: str
    type: Literal["absolute", "smart"] = "absolute"

    def __post_init__(self) -> None:
        if not self.label or not self.url.startswith(("https://", "http://")):
            raise ValueError(f"a link needs a label and an absolute URL, got {self.label!r} {self.url!r}")

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "url": self.url, "type": self.type}


@dataclass(frozen=True, slots=True)
class Source:
    """The card source: who says so, where to read more, and the card kind as topic."""

    label: str
    url: str | None = None
    topic: Coding | None = None

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("source.label is required (CDS Hooks 2.0 §Source)")

    def to_json(self) -> dict[str, Any]:
        return _compact({"label": self.label, "url": self.url, "topic": self.topic.to_json() if self.topic else None})


@dataclass(frozen=True, slots=True)
class Action:
    """A suggestion action (CDS Hooks 2.0 §Action)."""

    type: Literal["create", "update", "delete"]
    description: str
    resource: Mapping[str, Any] | None = None
    resource_id: str | None = None

    def __post_init__(self) -> None:
        if not self.description:
            raise ValueError("every action needs a description")
        if self.type == "delete" and (self.resource_id is None or self.resource is not None):
            raise ValueError("a delete action carries resourceId and no resource")
        if self.type in ("create", "update") and self.resource is None:
            raise ValueError(f"a {self.type} action carries the whole resource")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "type": self.type,
                "description": self.description,
                "resource": dict(self.resource) if self.resource is not None else None,
                "resourceId": self.resource_id,
            }
        )


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A suggestion on a card (CDS Hooks 2.0 §Suggestion)."""

    uuid: str
    label: str
    actions: tuple[Action, ...] = ()
    is_recommended: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "label": self.label,
                "uuid": self.uuid,
                "isRecommended": self.is_recommended,
                "actions": [a.to_json() for a in self.actions],
            }
        )


@dataclass(frozen=True, slots=True)
class Card:
    """A CDS Hooks 2.0 card that is valid by construction."""

    uuid: str
    summary: PlainText
    indicator: Indicator
    source: Source
    detail: Markdown | None = None
    links: tuple[Link, ...] = ()
    override_reasons: tuple[Coding, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    selection_behavior: Literal["at-most-one", "any"] | None = None

    def __post_init__(self) -> None:
        if not self.summary or len(self.summary) >= MAX_SUMMARY_CHARS:
            raise ValueError(f"card summary must be 1..139 characters, got {len(self.summary)}")
        if self.indicator not in INDICATORS:
            raise ValueError(f"indicator must be one of {INDICATORS}, got {self.indicator!r}")
        if self.suggestions and self.selection_behavior is None:
            raise ValueError("cards with suggestions need selectionBehavior (cds-resp-6)")
        if self.selection_behavior == "at-most-one" and sum(1 for s in self.suggestions if s.is_recommended) > 1:
            raise ValueError("at-most-one allows at most one recommended suggestion (cds-resp-1)")
        if any(not r.display for r in self.override_reasons):
            raise ValueError("override reasons need a display (cds-resp-4)")

    @property
    def topic(self) -> str:
        return self.source.topic.code if self.source.topic else ""

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "uuid": self.uuid,
                "summary": self.summary,
                "detail": self.detail,
                "indicator": self.indicator,
                "source": self.source.to_json(),
                "suggestions": [s.to_json() for s in self.suggestions],
                "selectionBehavior": self.selection_behavior,
                "overrideReasons": [r.to_json() for r in self.override_reasons],
                "links": [link.to_json() for link in self.links],
            }
        )


def _compact(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop None and empty values: CDS Hooks 2.0 forbids null, "", [] and {} for optional fields."""
    return {k: v for k, v in obj.items() if v is not None and v not in ("", [], {})}


def as_utc_date(moment: datetime) -> str:
    """Render an aware datetime as its calendar date for card text."""
    return moment.date().isoformat()
