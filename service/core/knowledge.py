"""The loaded knowledge base: clinical content from rules/, as frozen values the engine interprets.

The loader (service.rules_loader) builds these from files and validates them; this module only defines
the shapes and the vocabulary the code relies on (which thresholds, card kinds and value sets must exist).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .model import Coding

# The vocabulary the code interprets. The loader refuses a rules/ tree that lacks any of these names,
# so a typo in a rules file stops the service at startup rather than silently disabling a rule.
REQUIRED_THRESHOLDS: frozenset[str] = frozenset(
    {
        "serum-mg-low",
        "serum-mg-critical-low",
        "serum-mg-low-normal-upper",
        "serum-mg-default-upper",
        "serum-mg-critical-high",
        "serum-mg-lookback-days",
    }
)
REQUIRED_CARDS: frozenset[str] = frozenset({"mg-low", "mg-low-normal", "mg-high"})
REQUIRED_VALUESETS: frozenset[str] = frozenset({"serum-magnesium", "non-serum-magnesium"})
REQUIRED_CONSTANTS: frozenset[str] = frozenset({"mg-molar-mass", "mg-valence"})

# Placeholders a card template may use; each is filled by service.core.cards.
CARD_PLACEHOLDERS: frozenset[str] = frozenset(
    {"mmol", "mgdl", "meq", "date", "lab_range", "band", "loinc", "status_phrase"}
)


@dataclass(frozen=True, slots=True)
class Citation:
    """A source that card text and thresholds cite."""

    id: str
    label: str
    url: str | None
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class Threshold:
    """A number the rules use, with its unit and the sources it comes from."""

    name: str
    value: float
    unit: str
    sources: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Band:
    """A serum-Mg interpretation band: values below `below_mmol` (exclusive) and above the previous band."""

    below_mmol: float | None
    label: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    """A sentence a card may carry, with its citations."""

    id: str
    text: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CardKind:
    """The wording of one card kind: summary per indicator, detail header, statements, links."""

    topic: str
    title: str
    summaries: Mapping[str, str]
    detail: str
    statements: tuple[str, ...]
    source: str
    links: tuple[str, ...]
    override_reasons: tuple[Coding, ...]


@dataclass(frozen=True, slots=True)
class ValueSet:
    """A value set reduced to what matching needs: (system, code) pairs."""

    id: str
    url: str
    version: str
    title: str
    codes: frozenset[tuple[str, str]]

    def contains(self, system: str | None, code: str | None) -> bool:
        return system is not None and code is not None and (system, code) in self.codes


@dataclass(frozen=True, slots=True)
class ServiceDef:
    """A CDS service offered in discovery, with its prefetch templates."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    usage_requirements: str | None = None


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """Everything clinical the service knows, as loaded and validated from rules/."""

    version: str
    topic_system: str
    citations: Mapping[str, Citation]
    constants: Mapping[str, Threshold]
    thresholds: Mapping[str, Threshold]
    serum_mg_bands: tuple[Band, ...]
    statements: Mapping[str, Statement]
    cards: Mapping[str, CardKind]
    valuesets: Mapping[str, ValueSet]
    services: tuple[ServiceDef, ...]

    def threshold(self, name: str) -> float:
        return self.thresholds[name].value

    def constant(self, name: str) -> float:
        return self.constants[name].value

    def service(self, service_id: str) -> ServiceDef | None:
        return next((s for s in self.services if s.id == service_id), None)
