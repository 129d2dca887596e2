"""What the engine hands to card composition: findings plus one decision per card, and the evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..fhirdata import PatientRecord
from ..model import Finding, Indicator
from ..orders import DraftOrder


@dataclass(frozen=True, slots=True)
class Fact:
    """One line of a card's Why: a fact template (cards.yaml `facts`) and this patient's values (plain text)."""

    key: str
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    """A card the rules decided on: kind, urgency, and the parts it is composed of, most important first.

    `summary` names summary parts of the card kind; `actions` (Do) and `notes` (Why) name statements;
    `facts` are this patient's values; `tests` are lab tests a suggestion orders; `delete` are draft orders
    a suggestion removes. `values` fill placeholders of the summary parts and statements.
    """

    topic: str
    indicator: Indicator
    summary: tuple[str, ...]
    actions: tuple[str, ...]
    facts: tuple[Fact, ...] = ()
    notes: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()
    recommend_tests: bool = True
    delete: tuple[DraftOrder, ...] = ()
    recommend_delete: bool = False
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything the engine concluded for one patient at one moment."""

    now: datetime
    record: PatientRecord
    findings: tuple[Finding, ...]
    decisions: tuple[Decision, ...] = ()
    patient_reference: str | None = None

    def of(self, category: str) -> list[Finding]:
        return [f for f in self.findings if f.category == category]

    def codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self.findings)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(d.topic for d in self.decisions)
