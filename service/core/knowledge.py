"""The loaded knowledge base: clinical content from rules/, as frozen values the engine interprets.

The loader (service.rules_loader) builds these from files and validates them; this module only defines
the shapes and the vocabulary the code relies on (which thresholds, card kinds and value sets must exist).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
        "ppi-min-days",
        "ppi-long-term-days",
        "medication-lookback-days",
        "lab-lookback-days",
        "egfr-contraindication",
        "egfr-caution",
        "audit-c-positive-male",
        "audit-c-positive-female",
        "older-age-years",
        "abi-abnormal",
        "max-cards",
    }
)
REQUIRED_CONSTANTS: frozenset[str] = frozenset({"mg-molar-mass", "mg-valence"})
LAB_VALUESETS: tuple[str, ...] = (
    "serum-magnesium",
    "non-serum-magnesium",
    "potassium",
    "calcium",
    "egfr",
    "audit-c",
)
MEDICATION_CLASSES: frozenset[str] = frozenset(
    {
        "ppi",
        "loop-diuretic",
        "thiazide-diuretic",
        "mg-wasting-drug",
        "digoxin",
        "statin",
        "mg-supplement",
        "bisphosphonate",
        "tetracycline",
        "fluoroquinolone",
    }
)
CONDITION_CLASSES: frozenset[str] = frozenset(
    {
        "alcohol-use-disorder",
        "gi-malabsorption",
        "type-2-diabetes",
        "ckd",
        "leg-cramps",
        "restless-legs",
        "muscle-spasm",
        "leg-pain",
        "pad",
        "venous-insufficiency",
        "neuropathy",
        "radiculopathy",
        "dehydration",
        "statin-myopathy",
        "hypokalemia",
        "hypocalcemia",
    }
)
OBSERVATION_NAME_CLASSES: frozenset[str] = frozenset({"ankle-brachial-index"})
# Value sets whose codes a card may order (ServiceRequest.code of a suggestion).
ORDERABLE_VALUESETS: tuple[str, ...] = ("serum-magnesium", "creatinine")
REQUIRED_VALUESETS: frozenset[str] = (
    frozenset(LAB_VALUESETS) | frozenset(ORDERABLE_VALUESETS) | MEDICATION_CLASSES | CONDITION_CLASSES
)
# The card catalogue for magnesium-leg-symptoms; the topic codes are part of the public contract.
REQUIRED_CARDS: frozenset[str] = frozenset(
    {
        "mg-low",
        "mg-low-normal",
        "mg-normal-with-risk",
        "mg-high",
        "mg-not-measured",
        "leg-differential",
        "mg-supplement-safety",
        "order-mg-wasting-drug",
        "order-mg-supplement",
    }
)
# Cards that interpret (or miss) serum magnesium: each must say serum Mg may not reflect body stores.
MG_STATUS_CARDS: frozenset[str] = frozenset(
    {"mg-low", "mg-low-normal", "mg-normal-with-risk", "mg-high", "mg-not-measured"}
)
# Finding codes the engine can report; card statements may be conditioned on them.
FINDING_CODES: frozenset[str] = frozenset(
    {
        # risk factors
        "ppi",
        "diuretic",
        "mg-wasting-drug",
        "alcohol",
        "gi-malabsorption",
        "older-age",
        "type-2-diabetes",
        # leg symptoms
        "leg-cramps",
        "restless-legs",
        "muscle-spasm",
        "leg-pain",
        # differential signals
        "pad",
        "venous-insufficiency",
        "neuropathy",
        "radiculopathy",
        "dehydration",
        "statin",
        "ckd",
        # safety signals
        "egfr",
        "egfr-low",
        "hypokalemia",
        "hypocalcemia",
        "digoxin",
        "mg-supplement",
        "interacting-drug",
        # draft orders (order-select / order-sign)
        "draft-ppi",
        "draft-diuretic",
        "draft-mg-wasting-drug",
        "draft-mg-supplement",
        "draft-interacting-drug",
    }
)

# Placeholders a card template may use; inline ones may appear in summaries, block ones (Markdown lists)
# only in details. Each is filled by service.core.cards.
INLINE_PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "mmol",
        "mgdl",
        "meq",
        "date",
        "lab_range",
        "band",
        "loinc",
        "status_phrase",
        "lookback",
        "signals_short",
        "drafts_short",
        "reason_short",
    }
)
BLOCK_PLACEHOLDERS: frozenset[str] = frozenset(
    {"risk_factors", "leg_symptoms", "signals", "supplements", "drafts", "reasons"}
)
CARD_PLACEHOLDERS: frozenset[str] = INLINE_PLACEHOLDERS | BLOCK_PLACEHOLDERS
# Placeholders of short phrases (e.g. why a supplement is unsafe) that cards build their text from.
PHRASE_PLACEHOLDERS: frozenset[str] = frozenset({"value", "unit", "date", "threshold", "drugs", "lookback"})


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
    statements_when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    suggestion: SuggestionDef | None = None
    phrases: Mapping[str, str] = field(default_factory=dict)
    delete_suggestion: DeleteSuggestionDef | None = None


@dataclass(frozen=True, slots=True)
class ValueSet:
    """A value set reduced to what matching needs: (system, code) pairs and is-a prefixes per system."""

    id: str
    url: str
    version: str
    title: str
    codes: frozenset[tuple[str, str]]
    prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def match(self, system: str | None, code: str | None) -> str | None:
        """'code' for a listed concept, 'category' for a code under an is-a filter, else None."""
        if system is None or code is None:
            return None
        if (system, code) in self.codes:
            return "code"
        prefixes = self.prefixes.get(system)
        if prefixes and normalise_code(system, code).startswith(prefixes):
            return "category"
        return None

    def contains(self, system: str | None, code: str | None) -> bool:
        return self.match(system, code) is not None


ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def normalise_code(system: str, code: str) -> str:
    """ICD-10-CM codes are stored with or without the dot (E83.42 / E8342): compare without it."""
    code = code.strip()
    return code.replace(".", "").upper() if system == ICD10CM else code


@dataclass(frozen=True, slots=True)
class MatcherDef:
    """A clinical class: its value set plus the clearly marked name-matching fallback."""

    id: str
    display: str
    valueset: str | None
    names: tuple[str, ...]
    patterns: tuple[str, ...]
    exclude_names: tuple[str, ...]
    not_if: tuple[str, ...]
    names_source: str


@dataclass(frozen=True, slots=True)
class SuggestionDef:
    """A suggestion a card offers: create a draft order for a LOINC-coded test."""

    label: str
    description: str
    system: str
    code: str
    display: str


@dataclass(frozen=True, slots=True)
class DeleteSuggestionDef:
    """A suggestion that removes the draft orders a card is about."""

    label: str
    description: str


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
    medications: Mapping[str, MatcherDef] = field(default_factory=dict)
    conditions: Mapping[str, MatcherDef] = field(default_factory=dict)
    observation_names: Mapping[str, MatcherDef] = field(default_factory=dict)

    def threshold(self, name: str) -> float:
        return self.thresholds[name].value

    def constant(self, name: str) -> float:
        return self.constants[name].value

    def service(self, service_id: str) -> ServiceDef | None:
        return next((s for s in self.services if s.id == service_id), None)
