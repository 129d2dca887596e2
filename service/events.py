"""Structured event log lines: one JSON object per line, never patient data, tokens or card text.

Every issued card and every feedback item is logged once, so a log pipeline can join them on the card
uuid and count accepted versus overridden cards per card kind while the service stays stateless.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from flask import g, has_request_context

from . import gunicorn_logging
from .core.model import Card
from .observability import CARDS, FEEDBACK

events = logging.getLogger("magnesium_cds.events")


class JsonFormatter(gunicorn_logging.JsonFormatter):
    """A log record as one JSON line, with the request id; `extra={"fields": {...}}` adds structured fields."""

    def add_fields(self, record: logging.LogRecord, line: dict[str, Any]) -> None:
        if has_request_context() and g.get("request_id"):
            line["requestId"] = g.request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            line.update(fields)


def configure(level: str) -> None:
    """JSON lines on stderr for the service's loggers (once per process)."""
    root = logging.getLogger("magnesium_cds")
    root.setLevel(level)
    if not any(getattr(h, "_magnesium_cds", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._magnesium_cds = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False


def cards_issued(service_id: str, hook_instance: str | None, cards: Iterable[Card]) -> None:
    for card in cards:
        CARDS.labels(service_id, card.topic, card.indicator).inc()
        events.info(
            "card-issued",
            extra={
                "fields": {
                    "event": "card-issued",
                    "service": service_id,
                    "hookInstance": hook_instance,
                    "card": card.uuid,
                    "topic": card.topic,
                    "indicator": card.indicator,
                }
            },
        )


def feedback_received(service_id: str, item: Mapping[str, Any]) -> None:
    FEEDBACK.labels(service_id, item["outcome"]).inc()
    reason = (item.get("overrideReason") or {}).get("reason") or {}
    events.info(
        "card-feedback",
        extra={
            "fields": {
                "event": "card-feedback",
                "service": service_id,
                "card": item["card"],
                "outcome": item["outcome"],
                "overrideReason": reason.get("code"),
                "acceptedSuggestions": [s["id"] for s in item.get("acceptedSuggestions") or []],
                "outcomeTimestamp": item["outcomeTimestamp"].isoformat(),
            }
        },
    )
