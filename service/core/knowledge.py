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
        "serum-mg-upper-normal",
        "serum-mg-default-upper",
        "serum-mg-critical-high",
        "serum-mg-lookback-days",
        "obstetric-mg-low",
        "obstetric-mg-high",
        "pregnancy-lookback-days",
        "ppi-min-days",
        "ppi-long-term-days",
        "short-course-days",
        "medication-lookback-days",
        "lab-lookback-days",
        "symptom-lookback-days",
        "dialysis-lookback-days",
        "egfr-contraindication",
        "egfr-caution",
        "potassium-low",
        "calcium-total-low",
        "audit-c-positive-male",
        "audit-c-positive-female",
        "audit-c-high",
        "older-age-years",
        "adult-age-years",
        "ul-supplement-1-3y",
        "ul-supplement-4-8y",
        "ul-supplement-9y-plus",
        "abi-abnormal",
        "plausible-max-serum-mg",
        "plausible-max-potassium",
        "plausible-max-calcium",
        "plausible-max-egfr",
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
# Calcium LOINC codes that are ionised calcium (clinical reference §1b), judged against their own cut-off.
IONISED_CALCIUM_CODES: frozenset[str] = frozenset({"1995-0", "1994-3", "17863-2", "17864-0"})
MEDICATION_CLASSES: frozenset[str] = frozenset(
    {
        "ppi",
        "h-pylori-pack",
        "loop-diuretic",
        "thiazide-diuretic",
        "mg-wasting-drug",
        "egfr-antibody",
        "digoxin",
        "qt-drug",
        "statin",
        "mg-supplement",
        "magnesium-sulfate",
        "bisphosphonate",
        "tetracycline",
        "fluoroquinolone",
        "thyroid-hormone",
        "integrase-inhibitor",
        "oral-iron",
    }
)
CONDITION_CLASSES: frozenset[str] = frozenset(
    {
        "alcohol-use-disorder",
        "gi-malabsorption",
        "functional-diarrhoea",
        "malnutrition",
        "refeeding",
        "hungry-bone",
        "type-2-diabetes",
        "ckd",
        "ckd-severe",
        "dialysis",
        "hypomagnesemia",
        "pregnancy",
        "pre-eclampsia",
        "tetany",
        "arrhythmia",
        "seizure",
        "leg-cramps",
        "restless-legs",
        "muscle-spasm",
        "leg-pain",
        "calf-pain",
        "leg-swelling",
        "fasciculation",
        "paraesthesia",
        "weakness-fatigue",
        "acute-limb-ischaemia",
        "limb-threatening-ischaemia",
        "pad",
        "claudication",
        "venous-insufficiency",
        "neuropathy",
        "radiculopathy",
        "dehydration",
        "cirrhosis",
        "hypothyroidism",
        "statin-myopathy",
        "hypokalemia",
        "hypocalcemia",
    }
)
OBSERVATION_NAME_CLASSES: frozenset[str] = frozenset({"ankle-brachial-index", "pregnancy-status"})
# Routes a medication is given by (rules/matchers.yaml routes), most specific first.
ROUTE_CLASSES: frozenset[str] = frozenset({"parenteral", "ophthalmic", "otic", "topical", "oral"})
# Phrases that qualify a condition: a relative's, a past one, or one in remission.
QUALIFIER_CLASSES: frozenset[str] = frozenset({"family-history", "past", "remission"})
# Value sets whose codes a card may order (ServiceRequest.code of a suggestion).
ORDERABLE_VALUESETS: tuple[str, ...] = (
    "serum-magnesium",
    "creatinine",
    "potassium",
    "calcium",
    "creatine-kinase",
    "ferritin",
    "iron-saturation",
)
# Every class with codes has a value set of the same id; the others match by name only (clearly marked
# fallback: their codes are UNVERIFIED in the clinical reference).
NAME_ONLY_CLASSES: frozenset[str] = frozenset({"qt-drug", "refeeding"})
REQUIRED_VALUESETS: frozenset[str] = (
    frozenset(LAB_VALUESETS)
    | frozenset(ORDERABLE_VALUESETS)
    | ((MEDICATION_CLASSES | CONDITION_CLASSES) - NAME_ONLY_CLASSES)
)
# The card catalogue; the topic codes are part of the public contract.
REQUIRED_CARDS: frozenset[str] = frozenset(
    {
        "mg-low",
        "mg-low-normal",
        "mg-normal-with-risk",
        "mg-high",
        "mg-obstetric-monitoring",
        "mg-unreadable",
        "mg-not-measured",
        "leg-red-flag",
        "leg-differential",
        "mg-supplement-safety",
        "order-mg-wasting-drug",
        "order-mg-supplement",
    }
)
# Lab tests a card may suggest ordering (cards.yaml tests), each a LOINC code in an orderable value set.
REQUIRED_TESTS: frozenset[str] = frozenset({"magnesium", "potassium", "calcium", "creatinine"})
# Finding codes the engine can report (the machine-readable contract of /evaluate findings).
FINDING_CODES: frozenset[str] = frozenset(
    {
        "ppi",
        "diuretic",
        "mg-wasting-drug",
        "alcohol",
        "gi-malabsorption",
        "functional-diarrhoea",
        "malnutrition",
        "refeeding",
        "hungry-bone",
        "older-age",
        "type-2-diabetes",
        "leg-cramps",
        "restless-legs",
        "muscle-spasm",
        "leg-pain",
        "calf-pain",
        "leg-swelling",
        "fasciculation",
        "paraesthesia",
        "weakness-fatigue",
        "pad",
        "claudication",
        "venous-insufficiency",
        "neuropathy",
        "radiculopathy",
        "dehydration",
        "statin",
        "ckd",
        "cirrhosis",
        "hypothyroidism",
        "pregnancy",
        "red-flag-dvt",
        "red-flag-acute-limb-ischaemia",
        "red-flag-limb-threatening-ischaemia",
        "egfr",
        "egfr-low",
        "renal-failure",
        "dialysis",
        "hypokalemia",
        "hypocalcemia",
        "digoxin",
        "qt-drug",
        "mg-supplement",
        "interacting-drug",
        "mgso4-therapy",
        "hypomagnesemia",
        "mg-symptomatic",
        "draft-ppi",
        "draft-diuretic",
        "draft-mg-wasting-drug",
        "draft-mg-supplement",
        "draft-interacting-drug",
    }
)
# Statements the engine names (actions for Do, notes for Why); the loader refuses rules without them.
REQUIRED_STATEMENTS: frozenset[str] = frozenset(
    [
        "do-ecg-electrolytes",
        "do-ecg-digoxin",
        "do-iv-magnesium",
        "do-iv-magnesium-renal",
        "do-iv-magnesium-renal-unknown",
        "do-find-cause",
        "do-find-cause-general",
        "do-find-cause-child",
        "do-oral-repletion",
        "do-oral-repletion-renal",
        "do-oral-repletion-child",
        "do-recheck-panel",
        "do-check-renal-first",
        "do-replace-potassium",
        "do-ecg-co-deficit",
        "hypomagnesemia-depletion",
        "electrolytes-first",
        "digoxin-toxicity",
        "qt-torsades",
        "ul-not-for-treatment",
        "supplement-forms",
        "ppi-hypomagnesemia",
        "diuretic-mg-loss",
        "loop-diuretic-mg-loss",
        "other-mg-wasting-drugs",
        "egfr-antibody-hypomagnesemia",
        "do-review-drugs",
        "do-address-risks",
        "do-no-supplement-renal",
        "do-food-first",
        "do-food-first-ckd",
        "do-consider-depletion",
        "do-recheck-mg-below-cutoff",
        "serum-not-total-body",
        "low-normal-latent-deficiency",
        "hypomagnesemia-definition",
        "lab-ranges-differ",
        "cramps-counter-evidence",
        "cramps-pregnancy",
        "do-stop-mg-products",
        "do-ask-mg-sources",
        "do-check-high-mg",
        "do-verify-flagged-result",
        "do-stop-and-monitor",
        "do-calcium-gluconate",
        "do-urgent-renal",
        "haemolysis",
        "toxicity-symptoms",
        "do-mgso4-monitor",
        "do-mgso4-antidote",
        "do-mgso4-subtherapeutic",
        "do-mgso4-stop",
        "do-mgso4-calcium",
        "mgso4-range",
        "do-check-unreadable",
        "do-order-panel",
        "do-order-panel-dialysis",
        "check-mg-on-ppi",
        "do-hungry-bone",
        "do-refeeding",
        "do-acute-limb-ischaemia",
        "do-heparin-ali",
        "do-assess-dvt",
        "do-refer-clti",
        "do-check-abi",
        "do-known-pad",
        "do-measure-ck",
        "do-check-iron",
        "do-examine-neuro",
        "do-examine-venous",
        "do-review-fluids",
        "do-check-tsh",
        "do-review-cirrhosis",
        "do-evaluate-persistent",
        "cramps-associations",
        "pad-risk-groups",
        "do-supplement-renal-stop",
        "do-supplement-renal-treating",
        "renal-caution",
        "do-space-antibiotic",
        "do-space-bisphosphonate",
        "do-space-levothyroxine",
        "do-space-integrase",
        "do-space-iron",
        "do-order-mg-high",
        "do-order-treating-renal",
        "do-order-severe-treating-renal",
        "do-order-iv-renal",
        "do-order-oral-renal",
        "do-order-renal-caution",
        "do-order-renal-unknown",
        "do-wasting-low-mg",
        "do-wasting-digoxin",
        "do-wasting-baseline",
    ]
)
# Why-line templates the engine names (cards.yaml facts).
REQUIRED_FACTS: frozenset[str] = frozenset(
    [
        "mg",
        "mg-obstetric",
        "mg-brief",
        "mg-flag",
        "mg-preliminary",
        "mg-last",
        "mg-last-low",
        "mg-none",
        "unreadable",
        "drug",
        "drug-stopped",
        "condition",
        "symptom",
        "age",
        "audit-c",
        "abi",
        "pregnancy-status",
        "potassium-low",
        "calcium-low",
        "egfr",
        "dialysis",
        "draft",
    ]
)
# Summary parts the engine names, per card kind.
REQUIRED_SUMMARY_PARTS: Mapping[str, frozenset[str]] = {
    "mg-low": frozenset(
        [
            "mg",
            "mg-critical",
            "preliminary",
            "digoxin",
            "qt",
            "symptomatic",
            "potassium-low",
            "calcium-low",
            "act-critical",
            "act-oral",
            "act-renal",
            "act-renal-unknown",
        ]
    ),
    "mg-low-normal": frozenset({"mg", "risk", "renal", "symptom", "mg-below-cutoff", "below-cutoff"}),
    "mg-normal-with-risk": frozenset({"mg", "stores"}),
    "mg-high": frozenset({"mg", "mg-critical", "mg-flag-conflict", "act-severe", "act-stop", "act-obstetric-stop"}),
    "mg-obstetric-monitoring": frozenset({"mg", "in-range", "below-range"}),
    "mg-unreadable": frozenset({"unreadable"}),
    "mg-not-measured": frozenset({"none", "urgent", "digoxin", "risk", "act"}),
    "leg-red-flag": frozenset({"ali", "dvt", "clti"}),
    "leg-differential": frozenset({"lead", "causes"}),
    "mg-supplement-safety": frozenset({"renal", "renal-treating", "chelation"}),
    "order-mg-wasting-drug": frozenset({"drafts", "low", "digoxin", "baseline"}),
    "order-mg-supplement": frozenset(
        [
            "drafts",
            "high",
            "renal-treating",
            "renal-severe",
            "renal-iv",
            "renal-oral",
            "renal-caution",
            "chelation",
            "renal-unknown",
        ]
    ),
}
# Placeholders statements, facts and summary parts may use (the engine fills them; missing ones are blank).
TEXT_PLACEHOLDERS: frozenset[str] = frozenset(
    [
        "mg",
        "mg_all",
        "mg_date",
        "mg_range",
        "band",
        "causes",
        "drugs",
        "mg_products",
        "obs_low",
        "obs_high",
        "lookback",
        "drafts",
        "name",
        "since",
        "ended",
        "date",
        "value",
        "unit",
        "problem",
        "flag",
        "age",
        "score",
        "answer",
        "ul",
        "tests",
        "k_value",
        "k_date",
        "products",
        "antibiotic",
        "bisphosphonate",
        "levothyroxine",
        "integrase",
        "iron",
        "egfr",
    ]
)


@dataclass(frozen=True, slots=True)
class Citation:
    """A source that card text and thresholds cite."""

    id: str
    label: str
    url: str | None
    evidence: str | None = None
    short: str | None = None  # the compact label of a card's Sources line
    on_cards: bool = True  # False: provenance only (patient-education seeds, our own design notes)

    @property
    def compact(self) -> str:
        return self.short or self.label


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
    """One card kind: its title, summary parts, what it rests on, links and override reasons.

    The engine decides which summary parts, actions (Do) and notes (Why) a card carries; their wording is
    here and in statements.yaml.
    """

    topic: str
    title: str
    summary: Mapping[str, str]  # part id → plain-text template
    source: str | None  # citation id of the card's source; None: the first source of its statements
    links: tuple[str, ...]
    override_reasons: tuple[Coding, ...]
    delete_suggestion: DeleteSuggestionDef | None = None


@dataclass(frozen=True, slots=True)
class LabTest:
    """A lab test a card can suggest ordering: a LOINC code from an orderable value set."""

    id: str
    code: str
    display: str
    short: str  # e.g. "Mg", for the suggestion label


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
    routes: Mapping[str, MatcherDef] = field(default_factory=dict)
    qualifiers: Mapping[str, MatcherDef] = field(default_factory=dict)
    facts: Mapping[str, str] = field(default_factory=dict)  # Why-line templates by fact key
    tests: Mapping[str, LabTest] = field(default_factory=dict)
    order_label: str = "Order {tests}"

    def threshold(self, name: str) -> float:
        return self.thresholds[name].value

    def constant(self, name: str) -> float:
        return self.constants[name].value

    def service(self, service_id: str) -> ServiceDef | None:
        return next((s for s in self.services if s.id == service_id), None)
