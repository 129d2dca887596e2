"""The pure pipeline shared by every entry point: entries → record → evaluation → cards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .cards import compose
from .engine import Evaluation, evaluate, evaluate_orders
from .fhirdata import Entry, Extractor
from .knowledge import KnowledgeBase
from .model import Card
from .orders import DraftOrder


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one evaluation produced."""

    cards: tuple[Card, ...]
    evaluation: Evaluation


def run(
    entries: Sequence[Entry],
    patient_id: str | None,
    *,
    kb: KnowledgeBase,
    extractor: Extractor,
    now: datetime,
    new_uuid: Callable[[], str],
) -> Outcome:
    """Evaluate one patient's resources at `now` and compose the cards."""
    record = extractor.extract(entries, patient_id, now)
    evaluation = evaluate(record, kb, extractor.mg, now)
    return Outcome(tuple(compose(evaluation, kb, new_uuid, patient_id)), evaluation)


def run_orders(
    entries: Sequence[Entry],
    patient_id: str | None,
    judged: Sequence[DraftOrder],
    all_drafts: Sequence[DraftOrder],
    *,
    kb: KnowledgeBase,
    extractor: Extractor,
    now: datetime,
    new_uuid: Callable[[], str],
) -> Outcome:
    """Judge draft orders against one patient's record at `now` and compose the order cards."""
    record = extractor.extract(entries, patient_id, now)
    evaluation = evaluate_orders(record, judged, all_drafts, kb=kb, mg=extractor.mg, now=now)
    return Outcome(tuple(compose(evaluation, kb, new_uuid, patient_id)), evaluation)
