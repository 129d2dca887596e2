"""Load and validate rules/ at startup. A bad file stops the service with a message naming file and field.

Structure is checked with marshmallow schemas that reject unknown keys (a typo must fail the deploy);
value sets are checked as FHIR R4 ValueSets with fhir.resources; then cross-references are checked
(every cited source exists, every template placeholder is known, every required rule is present).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from fhir.resources.R4B.valueset import ValueSet as FhirValueSet
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from pydantic import ValidationError as PydanticValidationError

from .core.errors import RulesError
from .core.knowledge import (
    CONDITION_CLASSES,
    MEDICATION_CLASSES,
    NAME_ONLY_CLASSES,
    OBSERVATION_NAME_CLASSES,
    ORDERABLE_VALUESETS,
    QUALIFIER_CLASSES,
    REQUIRED_CARDS,
    REQUIRED_CONSTANTS,
    REQUIRED_FACTS,
    REQUIRED_STATEMENTS,
    REQUIRED_SUMMARY_PARTS,
    REQUIRED_TESTS,
    REQUIRED_THRESHOLDS,
    REQUIRED_VALUESETS,
    ROUTE_CLASSES,
    TEXT_PLACEHOLDERS,
    Band,
    CardKind,
    Citation,
    DeleteSuggestionDef,
    KnowledgeBase,
    LabTest,
    MatcherDef,
    ServiceDef,
    Statement,
    Threshold,
    ValueSet,
    normalise_code,
)
from .core.model import MAX_SUMMARY_CHARS, Coding
from .core.text import clip
from .core.text import fields as template_fields

DEFAULT_RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
VERIFICATION_EXT = "urn:magnesium-cds:extension:verification"
ACCEPTED_VERIFICATION = frozenset({"V1", "V2"})  # UNVERIFIED codes are never added as codes
# Widest value a placeholder can take in a summary (cards.SUMMARY_VALUE_MAX), to prove summaries fit.
SUMMARY_VALUE_MAX = 48
_ID = validate.Regexp(r"^[a-z0-9][a-z0-9-]*$", error="must be a lower-case id (a-z, 0-9, -)")
_FHIR_TYPES = ("Patient", "Observation", "MedicationStatement", "MedicationRequest", "Condition", "Procedure")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ManifestSchema(_Strict):
    version = fields.String(required=True, validate=validate.Regexp(r"^\d+\.\d+\.\d+$"))
    topic_system = fields.String(required=True, validate=validate.Length(min=1))


class CitationSchema(_Strict):
    label = fields.String(required=True, validate=validate.Length(min=1))
    short = fields.String(load_default=None, validate=validate.Length(min=1, max=60))
    url = fields.Url(load_default=None)
    evidence = fields.String(load_default=None)
    on_cards = fields.Boolean(load_default=True)


class CitationsSchema(_Strict):
    citations = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(CitationSchema), required=True)


class ThresholdSchema(_Strict):
    value = fields.Float(required=True, allow_nan=False)
    unit = fields.String(required=True)
    sources = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    note = fields.String(load_default=None)


class BandSchema(_Strict):
    below_mmol = fields.Float(load_default=None, allow_nan=False)
    label = fields.String(required=True, validate=validate.Length(min=1))
    sources = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class ThresholdsSchema(_Strict):
    constants = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(ThresholdSchema), required=True)
    thresholds = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(ThresholdSchema), required=True)
    serum_mg_bands = fields.List(fields.Nested(BandSchema), required=True, validate=validate.Length(min=1))


class StatementSchema(_Strict):
    ref = fields.String(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1))
    sources = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class StatementsSchema(_Strict):
    statements = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(StatementSchema), required=True)


class LabTestSchema(_Strict):
    code = fields.String(required=True)
    display = fields.String(required=True, validate=validate.Length(min=1))
    short = fields.String(required=True, validate=validate.Length(min=1, max=20))


class DeleteSuggestionSchema(_Strict):
    label = fields.String(required=True, validate=validate.Length(min=1))
    description = fields.String(required=True, validate=validate.Length(min=1))


class MatcherSchema(_Strict):
    display = fields.String(load_default=None)
    valueset = fields.String(load_default=None)
    names = fields.List(fields.String(validate=validate.Length(min=2)), load_default=list)
    patterns = fields.List(fields.String(), load_default=list)
    exclude_names = fields.List(fields.String(), load_default=list)
    not_if = fields.List(fields.String(), load_default=list)
    names_source = fields.String(required=True, validate=validate.Length(min=1))


class MatchersSchema(_Strict):
    medications = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(MatcherSchema), required=True)
    conditions = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(MatcherSchema), required=True)
    observation_names = fields.Dict(
        keys=fields.String(validate=_ID), values=fields.Nested(MatcherSchema), required=True
    )
    routes = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(MatcherSchema), required=True)
    qualifiers = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(MatcherSchema), required=True)


class CardKindSchema(_Strict):
    title = fields.String(required=True, validate=validate.Length(min=1))
    summary = fields.Dict(
        keys=fields.String(validate=_ID),
        values=fields.String(validate=validate.Length(min=1)),
        required=True,
        validate=validate.Length(min=1),
    )
    source = fields.String(load_default=None)
    links = fields.List(fields.String(), load_default=list, validate=validate.Length(max=2))
    override_reasons = fields.List(fields.String(), load_default=list)
    delete_suggestion = fields.Nested(DeleteSuggestionSchema, load_default=None)


class CardsSchema(_Strict):
    override_reason_system = fields.String(required=True, validate=validate.Length(min=1))
    override_reasons = fields.Dict(keys=fields.String(validate=_ID), values=fields.String(), required=True)
    order_label = fields.String(required=True, validate=validate.Length(min=1))
    tests = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(LabTestSchema), required=True)
    facts = fields.Dict(
        keys=fields.String(validate=_ID), values=fields.String(validate=validate.Length(min=1)), required=True
    )
    cards = fields.Dict(keys=fields.String(validate=_ID), values=fields.Nested(CardKindSchema), required=True)


class PrefetchSchema(_Strict):
    read = fields.String(validate=validate.OneOf(_FHIR_TYPES))
    search = fields.String(validate=validate.OneOf(_FHIR_TYPES))
    codes_from = fields.List(fields.String(), load_default=list)
    params = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class ServiceSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    hook = fields.String(required=True, validate=validate.Length(min=1))
    title = fields.String(required=True)
    description = fields.String(required=True, validate=validate.Length(min=1))
    usage_requirements = fields.String(load_default=None)
    prefetch = fields.Dict(keys=fields.String(), values=fields.Nested(PrefetchSchema), load_default=dict)


class ServicesSchema(_Strict):
    services = fields.List(fields.Nested(ServiceSchema), required=True)


def load_knowledge_base(rules_dir: Path | str | None = None) -> KnowledgeBase:
    """Load, validate and cross-check every rules file; raise RulesError naming the file and field."""
    root = Path(rules_dir) if rules_dir else DEFAULT_RULES_DIR
    manifest = _load(root / "manifest.yaml", ManifestSchema())
    citations_doc = _load(root / "citations.yaml", CitationsSchema())
    thresholds_doc = _load(root / "thresholds.yaml", ThresholdsSchema())
    statements_doc = _load(root / "statements.yaml", StatementsSchema())
    cards_doc = _load(root / "cards.yaml", CardsSchema())
    services_doc = _load(root / "services.yaml", ServicesSchema())
    matchers_doc = _load(root / "matchers.yaml", MatchersSchema())
    valuesets = _load_valuesets(root / "valuesets")

    citations = {
        cid: Citation(cid, c["label"], c["url"], c["evidence"], c["short"], c["on_cards"])
        for cid, c in citations_doc["citations"].items()
    }
    check = _Checker(citations)

    constants = _thresholds(thresholds_doc["constants"], "thresholds.yaml", "constants", check)
    thresholds = _thresholds(thresholds_doc["thresholds"], "thresholds.yaml", "thresholds", check)
    check.required(constants, REQUIRED_CONSTANTS, "thresholds.yaml", "constants")
    check.required(thresholds, REQUIRED_THRESHOLDS, "thresholds.yaml", "thresholds")
    bands = _bands(thresholds_doc["serum_mg_bands"], check)

    statements = {}
    for sid, s in statements_doc["statements"].items():
        check.sources(s["sources"], "statements.yaml", f"statements.{sid}.sources")
        _check_placeholders(s["text"], f"statements.yaml: statements.{sid}.text")
        statements[sid] = Statement(sid, " ".join(s["text"].split()), tuple(s["sources"]))
    check.required(statements, REQUIRED_STATEMENTS, "statements.yaml", "statements")

    check.required(valuesets, REQUIRED_VALUESETS, "valuesets/", "ValueSet.id")
    cards = _cards(cards_doc, valuesets, check)
    check.required(cards, REQUIRED_CARDS, "cards.yaml", "cards")
    facts = dict(cards_doc["facts"])
    for key, template in facts.items():
        _check_placeholders(template, f"cards.yaml: facts.{key}")
    check.required(facts, REQUIRED_FACTS, "cards.yaml", "facts")
    tests = _tests(cards_doc["tests"], valuesets)
    services = _services(services_doc["services"], valuesets)
    medications = _matchers(matchers_doc["medications"], "medications", MEDICATION_CLASSES, valuesets)
    conditions = _matchers(matchers_doc["conditions"], "conditions", CONDITION_CLASSES, valuesets)
    observation_names = _matchers(
        matchers_doc["observation_names"], "observation_names", OBSERVATION_NAME_CLASSES, valuesets
    )
    routes = _matchers(matchers_doc["routes"], "routes", ROUTE_CLASSES, valuesets)
    qualifiers = _matchers(matchers_doc["qualifiers"], "qualifiers", QUALIFIER_CLASSES, valuesets)

    return KnowledgeBase(
        version=manifest["version"],
        topic_system=manifest["topic_system"],
        citations=citations,
        constants=constants,
        thresholds=thresholds,
        serum_mg_bands=bands,
        statements=statements,
        cards=cards,
        valuesets=valuesets,
        services=services,
        medications=medications,
        conditions=conditions,
        observation_names=observation_names,
        routes=routes,
        qualifiers=qualifiers,
        facts=facts,
        tests=tests,
        order_label=cards_doc["order_label"],
    )


def _load(path: Path, schema: Schema) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"{path.name}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise RulesError(f"{path.name}: not valid YAML ({exc})") from exc
    try:
        loaded: dict[str, Any] = schema.load(raw if raw is not None else {})
    except ValidationError as exc:
        raise RulesError(f"{path.name}: {_flatten(exc.messages)}") from exc
    return loaded


def _flatten(messages: Any, prefix: str = "") -> str:
    """marshmallow's nested message dict as 'a.b: message; c: message'."""
    if isinstance(messages, Mapping):
        parts = []
        for k, v in messages.items():
            # fields.Dict nests a value's errors as {name: {"value": {...}}}: that "value" is not a field.
            step = "" if k == "_schema" or (k == "value" and isinstance(v, Mapping)) else f"{k}."
            parts.append(_flatten(v, prefix + step))
        return "; ".join(parts)
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return f"{prefix.rstrip('.') or '(document)'}: {' '.join(messages)}"
    if isinstance(messages, list):
        return "; ".join(_flatten(m, prefix) for m in messages)
    return f"{prefix.rstrip('.')}: {messages}"


class _Checker:
    """Cross-reference checks that name the file and field at fault."""

    def __init__(self, citations: Mapping[str, Citation]) -> None:
        self.citations = citations

    def sources(self, ids: list[str], file: str, field: str) -> None:
        missing = [i for i in ids if i not in self.citations]
        if missing:
            raise RulesError(f"{file}: {field}: unknown citation(s) {', '.join(missing)} (see citations.yaml)")

    @staticmethod
    def required(present: Mapping[str, Any], required: frozenset[str], file: str, field: str) -> None:
        missing = sorted(required - set(present))
        if missing:
            raise RulesError(f"{file}: {field}: missing required entries {', '.join(missing)}")


def _thresholds(doc: Mapping[str, Any], file: str, section: str, check: _Checker) -> dict[str, Threshold]:
    out = {}
    for name, t in doc.items():
        check.sources(t["sources"], file, f"{section}.{name}.sources")
        out[name] = Threshold(name, t["value"], t["unit"], tuple(t["sources"]), t["note"])
    return out


def _bands(doc: list[Mapping[str, Any]], check: _Checker) -> tuple[Band, ...]:
    bands = []
    previous = float("-inf")
    for i, b in enumerate(doc):
        check.sources(b["sources"], "thresholds.yaml", f"serum_mg_bands.{i}.sources")
        below = b["below_mmol"]
        last = i == len(doc) - 1
        if (below is None) != last:
            raise RulesError(f"thresholds.yaml: serum_mg_bands.{i}.below_mmol: only the last band is open-ended")
        if below is not None and below <= previous:
            raise RulesError(f"thresholds.yaml: serum_mg_bands.{i}.below_mmol: bands must increase")
        previous = below if below is not None else previous
        bands.append(Band(below, b["label"], tuple(b["sources"])))
    return tuple(bands)


def _cards(doc: Mapping[str, Any], valuesets: Mapping[str, ValueSet], check: _Checker) -> dict[str, CardKind]:
    reasons = doc["override_reasons"]
    system = doc["override_reason_system"]
    cards = {}
    for topic, c in doc["cards"].items():
        where = f"cards.yaml: cards.{topic}"
        check.sources(
            [*([c["source"]] if c["source"] else []), *c["links"]], "cards.yaml", f"cards.{topic}.source/links"
        )
        for rid in c["override_reasons"]:
            if rid not in reasons:
                raise RulesError(f"{where}.override_reasons: unknown reason {rid!r}")
        missing = sorted(REQUIRED_SUMMARY_PARTS.get(topic, frozenset()) - set(c["summary"]))
        if missing:
            raise RulesError(f"{where}.summary: missing part(s) {', '.join(missing)}")
        for part, template in c["summary"].items():
            _check_placeholders(template, f"{where}.summary.{part}")
            _check_summary_length(template, f"{where}.summary.{part}")
        delete = c["delete_suggestion"]
        cards[topic] = CardKind(
            topic=topic,
            title=c["title"],
            summary=dict(c["summary"]),
            source=c["source"],
            links=tuple(c["links"]),
            override_reasons=tuple(Coding(system, rid, reasons[rid]) for rid in c["override_reasons"]),
            delete_suggestion=DeleteSuggestionDef(delete["label"], delete["description"]) if delete else None,
        )
    return cards


def _tests(doc: Mapping[str, Any], valuesets: Mapping[str, ValueSet]) -> dict[str, LabTest]:
    missing = sorted(REQUIRED_TESTS - set(doc))
    if missing:
        raise RulesError(f"cards.yaml: tests: missing {', '.join(missing)}")
    out = {}
    for tid, t in doc.items():
        if not any(valuesets[v].match("http://loinc.org", t["code"]) == "code" for v in ORDERABLE_VALUESETS):
            orderable = ", ".join(ORDERABLE_VALUESETS)
            raise RulesError(
                f"cards.yaml: tests.{tid}.code: {t['code']} is not in an orderable value set ({orderable})"
            )
        out[tid] = LabTest(tid, t["code"], t["display"], t["short"])
    return out


def _check_placeholders(template: str, where: str) -> None:
    unknown = template_fields(template) - TEXT_PLACEHOLDERS
    if unknown:
        raise RulesError(f"{where}: unknown placeholder(s) {', '.join(sorted(unknown))}")


def _matchers(
    doc: Mapping[str, Any], section: str, required: frozenset[str], valuesets: Mapping[str, ValueSet]
) -> dict[str, MatcherDef]:
    missing = sorted(required - set(doc))
    if missing:
        raise RulesError(f"matchers.yaml: {section}: missing required entries {', '.join(missing)}")
    out = {}
    for cid, m in doc.items():
        where = f"matchers.yaml: {section}.{cid}"
        if m["valueset"] is not None and m["valueset"] not in valuesets:
            raise RulesError(f"{where}.valueset: unknown value set {m['valueset']!r}")
        if m["valueset"] is None and section in ("medications", "conditions") and cid not in NAME_ONLY_CLASSES:
            raise RulesError(f"{where}.valueset: required (only the name-only classes may match by name alone)")
        for i, pattern in enumerate(m["patterns"]):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise RulesError(f"{where}.patterns.{i}: not a valid regular expression ({exc})") from exc
        unknown = sorted(set(m["not_if"]) - set(doc))
        if unknown:
            raise RulesError(f"{where}.not_if: unknown class(es) {', '.join(unknown)}")
        out[cid] = MatcherDef(
            id=cid,
            display=m["display"] or cid,
            valueset=m["valueset"],
            names=tuple(m["names"]),
            patterns=tuple(m["patterns"]),
            exclude_names=tuple(m["exclude_names"]),
            not_if=tuple(m["not_if"]),
            names_source=m["names_source"],
        )
    return out


# Values with a known width (numbers, dates, units, flags); free text (drug names) is clipped at
# SUMMARY_VALUE_MAX by the composer. "< 9.99 mg/dL (< 9.99 mmol/L)" is the widest magnesium value.
_WIDEST = {
    "mg": 34,
    "flag": 5,
    "lookback": 10,
    "mg_date": 10,
    "date": 10,
    "k_value": 4,
    "k_date": 10,
    "obs_low": 4,
    "obs_high": 4,
    "ul": 3,
    "value": 10,
    "unit": 16,
    "score": 2,
    "age": 3,
}


def _check_summary_length(template: str, where: str) -> None:
    """Every summary part must fit on its own, filled with the widest value any placeholder can take."""
    widest = {name: "x" * _WIDEST.get(name, SUMMARY_VALUE_MAX) for name in TEXT_PLACEHOLDERS}
    filled = clip(template.format_map(widest), 10_000)
    if len(filled) >= MAX_SUMMARY_CHARS:
        raise RulesError(
            f"{where}: summary part can reach {len(filled)} characters; it must stay under {MAX_SUMMARY_CHARS}"
        )


def _load_valuesets(folder: Path) -> dict[str, ValueSet]:
    out: dict[str, ValueSet] = {}
    for path in sorted(folder.glob("*.json")):
        name = f"valuesets/{path.name}"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            vs = FhirValueSet.model_validate(raw)
        except (OSError, json.JSONDecodeError) as exc:
            raise RulesError(f"{name}: cannot read as JSON ({exc})") from exc
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            raise RulesError(f"{name}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
        if not vs.id or not vs.url or not vs.version:
            raise RulesError(f"{name}: ValueSet.id, url and version are required")
        if vs.id in out:
            raise RulesError(f"{name}: duplicate ValueSet.id {vs.id!r}")
        codes, prefixes = _codes(vs, name)
        out[vs.id] = ValueSet(vs.id, vs.url, vs.version, vs.title or vs.id, codes, prefixes)
    return out


def _codes(vs: Any, name: str) -> tuple[frozenset[tuple[str, str]], dict[str, tuple[str, ...]]]:
    codes: set[tuple[str, str]] = set()
    prefixes: dict[str, list[str]] = {}
    includes = vs.compose.include if vs.compose else []
    for i, include in enumerate(includes):
        for j, concept in enumerate(include.concept or []):
            _check_mark(concept.extension, f"{name}: compose.include[{i}].concept[{j}] ({concept.code})")
            codes.add((include.system, concept.code))
        for j, flt in enumerate(include.filter or []):
            where = f"{name}: compose.include[{i}].filter[{j}] ({flt.value})"
            if flt.op != "is-a" or flt.property != "concept":
                raise RulesError(f"{where}: only 'concept is-a' filters are supported")
            _check_mark(flt.extension, where)
            prefixes.setdefault(include.system, []).append(normalise_code(include.system, flt.value))
    if not codes and not prefixes:
        raise RulesError(f"{name}: compose.include holds no concepts or filters")
    return frozenset(codes), {system: tuple(sorted(p)) for system, p in prefixes.items()}


def _check_mark(extensions: Any, where: str) -> None:
    marks = {e.valueCode for e in extensions or [] if e.url == VERIFICATION_EXT}
    if not marks or not marks <= ACCEPTED_VERIFICATION:
        raise RulesError(f"{where}: needs a verification mark V1 or V2 (UNVERIFIED codes are not added as codes)")


def _services(doc: list[Mapping[str, Any]], valuesets: Mapping[str, ValueSet]) -> tuple[ServiceDef, ...]:
    out = []
    seen: set[tuple[str, str]] = set()
    for i, s in enumerate(doc):
        if (s["id"], s["hook"]) in seen:
            raise RulesError(f"services.yaml: services.{i}: duplicate (id, hook) {s['id']}/{s['hook']}")
        seen.add((s["id"], s["hook"]))
        prefetch = {key: _template(p, valuesets, f"services.{i}.prefetch.{key}") for key, p in s["prefetch"].items()}
        out.append(
            ServiceDef(
                s["id"], s["hook"], s["title"], " ".join(s["description"].split()), prefetch, s["usage_requirements"]
            )
        )
    return tuple(out)


def _template(p: Mapping[str, Any], valuesets: Mapping[str, ValueSet], where: str) -> str:
    """Build a CDS Hooks prefetch template (a FHIR read or search with {{context.patientId}})."""
    if bool(p.get("read")) == bool(p.get("search")):
        raise RulesError(f"services.yaml: {where}: give exactly one of read or search")
    if p.get("read"):
        return f"{p['read']}/{{{{context.patientId}}}}"
    query = ["patient={{context.patientId}}"]
    codes = []
    for vs_id in p["codes_from"]:
        if vs_id not in valuesets:
            raise RulesError(f"services.yaml: {where}.codes_from: unknown value set {vs_id!r}")
        codes += [f"{system}|{code}" for system, code in sorted(valuesets[vs_id].codes)]
    if codes:
        query.append("code=" + ",".join(quote(c, safe="/:.-|") for c in codes))
    query += [f"{k}={v}" for k, v in sorted(p["params"].items())]
    return f"{p['search']}?{'&'.join(query)}"
