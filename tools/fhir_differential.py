"""Differential check: the generated models (service/core/fhir_models.py) against fhir.resources.R4B.

    .venv/bin/python tools/fhir_differential.py          # summary table; exit 1 if the generated models
                                                         # accept anything fhir.resources rejects

Both sides run the service's own validation path (fhirdata._validate: projection to USED_ELEMENTS, unknown
elements dropped and retried once), over valid resources (Synthea, US Core, fhir_samples/) and systematic
mutations of them: wrong types, JSON strings for objects, nulls, bad and impossible dates, removed required
elements, extra and unknown elements (also inside extensions), conflicting choice alternatives. The
generated models must never accept what fhir.resources rejects; where they are stricter, it is listed.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.core.fhirdata import USED_ELEMENTS, VALIDATORS, Entry, _validate  # noqa: E402
from service.core.model import Finding  # noqa: E402

SHARED = ROOT.parent / "shared"
SOURCES = (SHARED / "data" / "synthea", SHARED / "data" / "us-core", ROOT / "fhir_samples")
# Distinct resource shapes (sets of element paths) mutated per resource type; all are checked unmutated.
SHAPES_PER_TYPE = 40

Json = Any


class AsDicts:
    """A pydantic model class (fhir.resources) as the extraction's Validator: validated resources as plain
    dicts of the elements given, keyed like the service's own validators (service/core/fhir_base.py)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def validate_python(self, data: Any) -> Any:
        return self.model.model_validate(data).model_dump(exclude_none=True)


def fhir_resources_models() -> dict[str, Any]:
    return {
        rtype: getattr(importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}"), rtype) for rtype in USED_ELEMENTS
    }


def fhir_resources_validators() -> dict[str, AsDicts]:
    return {rtype: AsDicts(model) for rtype, model in fhir_resources_models().items()}


def _resources(doc: Json) -> Iterator[dict[str, Any]]:
    """Every resource in a document: Bundles (entries), hook requests (prefetch values), contained ones."""
    if isinstance(doc, list):
        for item in doc:
            yield from _resources(item)
        return
    if not isinstance(doc, dict):
        return
    if isinstance(doc.get("resourceType"), str):
        yield doc
        for entry in doc.get("entry") or [] if doc["resourceType"] == "Bundle" else []:
            if isinstance(entry, dict):
                yield from _resources(entry.get("resource"))
        return
    for value in doc.values():
        if isinstance(value, dict | list):
            yield from _resources(value)


def corpus() -> list[dict[str, Any]]:
    """The valid resources of the used types found in the sources, deduplicated."""
    seen: set[str] = set()
    out = []
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            for resource in _resources(doc):
                if resource.get("resourceType") in USED_ELEMENTS:
                    key = json.dumps(resource, sort_keys=True)
                    if key not in seen:
                        seen.add(key)
                        out.append(resource)
    return out


def _paths(value: Json, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Json]]:
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _shape(resource: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        sorted({"/".join(str(p) if isinstance(p, str) else "#" for p in path) for path, _ in _paths(resource)})
    )


def _set(doc: Json, path: tuple[Any, ...], value: Json) -> Json:
    out = copy.deepcopy(doc)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def _delete(doc: Json, path: tuple[Any, ...]) -> Json:
    out = copy.deepcopy(doc)
    node = out
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return out


BAD_TEXT = ("", " ", "two  spaces", " lead", "x\n", "12.5", "2020-13-01", "true")
BAD_DATES = (
    "2026-02-30",
    "2026-13-01",
    "2026-1-5",
    "26-01-01",
    "2026-01-01T10:00:00",
    "2026-01-01T10:00Z",
    "2026-01-01 10:00:00Z",
    "2026-01-01T24:00:00Z",
    "2016-12-31T23:59:60Z",
    "2026-01-01T10:00:00+15:00",
    "2026-01-01T10:00:00.123456789Z",
    "2026-00",
    "2026-01-01Z",
    "0000",
)
DATE_HINTS = ("Date", "date", "issued", "authoredOn", "start", "end", "dateAsserted", "Instant", "DateTime")
EXTENSIONS = (
    [{"url": 5}],
    [{"valueString": "no url"}],
    [{"url": "http://example.org/x", "valueString": "a", "valueCode": "b"}],
    [{"url": "http://example.org/x", "valueDateTime": "2026-02-30"}],
    [{"url": "http://example.org/x", "valueQuantity": {"value": "1"}}],
    [{"url": "http://example.org/x", "extension": [{"url": "http://example.org/y", "valueBoolean": "yes"}]}],
    [{"url": "http://example.org/x", "valueCoding": {"code": "a", "resourceType": "Patient"}}],
    [{"url": "http://example.org/x", "unknownElement": 1}],
    [None],
)


def mutations(resource: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:  # noqa: PLR0912
    """(kind, mutated resource) for every node of the used elements of a resource."""
    used = USED_ELEMENTS[resource["resourceType"]]
    projected = {k: resource[k] for k in used if k in resource}
    for path, value in list(_paths(projected)):
        if not path or path == ("resourceType",):
            continue
        last = path[-1]
        name = str(last) if isinstance(last, str) else str(path[-2])
        replacement: Json
        for replacement in (None, 7, -1, 2**40, 1.5, True, "text", [], {}, [None], ["text"]):
            yield f"wrong type ({type(replacement).__name__})", _set(resource, path, replacement)
        if isinstance(value, dict):
            yield "JSON string for an object", _set(resource, path, json.dumps(value))
            yield "object in a list", _set(resource, path, [value])
            yield "unknown element", _set(resource, path, {**value, "unknownElement": "x"})
            yield "wrong nested resourceType", _set(resource, path, {**value, "resourceType": "Patient"})
            yield "null element", _set(resource, path, {**value, "id": None})
            yield "primitive extension", _set(resource, path, {**value, "_id": {"extension": "x"}})
            for ext in EXTENSIONS:
                yield "bad extension", _set(resource, path, {**value, "extension": ext})
            for key in value:
                yield "element removed", _set(resource, path, {k: v for k, v in value.items() if k != key})
            for key in list(value):
                extra = _choice_sibling(key)
                if extra is not None:
                    yield "two choice alternatives", _set(resource, path, {**value, extra[0]: extra[1]})
        elif isinstance(value, list):
            yield "list with null", _set(resource, path, [*value, None])
            yield "list as object", _set(resource, path, value[0] if value else {})
            yield "list of JSON strings", _set(resource, path, [json.dumps(v) for v in value])
        elif isinstance(value, str):
            yield "JSON number as text", _set(resource, path, value + "0" if value.isdigit() else "1.5")
            for bad in BAD_TEXT:
                yield "bad text", _set(resource, path, bad)
            if any(h in name for h in DATE_HINTS) or value[:4].isdigit():
                for bad in BAD_DATES:
                    yield "bad date", _set(resource, path, bad)
        elif isinstance(value, bool):
            yield "boolean as text", _set(resource, path, "true")
        elif isinstance(value, int | float):
            yield "number as text", _set(resource, path, str(value))
            yield "huge number", _set(resource, path, 10**40)
            yield "fractional integer", _set(resource, path, value + 0.5)
        if len(path) > 1:
            yield "element removed", _delete(resource, path)
    # Top-level choice conflicts and removals of each used element.
    for key in used:
        if key in resource and key != "resourceType":
            yield "element removed", _delete(resource, (key,))
            extra = _choice_sibling(key)
            if extra is not None:
                yield "two choice alternatives", {**resource, extra[0]: extra[1]}


_CHOICE_VALUES = {
    "String": "text",
    "Boolean": True,
    "DateTime": "2026-01-01",
    "Period": {"start": "2026-01-01"},
    "Quantity": {"value": 1},
    "Integer": 1,
    "Reference": {"reference": "Medication/1"},
    "CodeableConcept": {"text": "x"},
    "Age": {"value": 1},
    "Instant": "2026-01-01T00:00:00Z",
}


_CHOICE_STEMS = (
    "value",
    "effective",
    "onset",
    "abatement",
    "medication",
    "deceased",
    "bounds",
    "asNeeded",
    "dose",
    "rate",
)


def _choice_sibling(key: str) -> tuple[str, Json] | None:
    """Another alternative of the choice element `key` belongs to (e.g. valueQuantity → valueString)."""
    for suffix in _CHOICE_VALUES:
        stem = key[: -len(suffix)]
        if key.endswith(suffix) and stem in _CHOICE_STEMS:
            other = next(o for o in _CHOICE_VALUES if o != suffix)
            return stem + other, _CHOICE_VALUES[other]
    return None


def validate(model: Any, resource: dict[str, Any]) -> tuple[Any, str]:
    """(the validated model or None, the data-quality message) through the service's validation path."""
    issues: list[Finding] = []
    try:
        result = _validate(model, Entry(resource), issues)
    except Exception as exc:  # fhir.resources may crash on hostile input: that is a rejection
        return None, f"raised {type(exc).__name__}"
    return result, issues[0].display if issues else ""


def normalised(value: Any) -> Any:
    """A validated model as plain data, comparable across the two libraries (Decimal and float alike)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, dict):
        out = {k: normalised(v) for k, v in value.items() if k not in ("resourceType", "fhir_comments")}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return float(value)
    return value


@dataclass
class Outcome:
    cases: int = 0
    valid: int = 0
    looser: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # generated accepts, fhir not
    stricter: Counter[str] = field(default_factory=Counter)  # (kind) where generated rejects, fhir accepts
    stricter_examples: dict[str, str] = field(default_factory=dict)
    messages_without_location: list[str] = field(default_factory=list)
    both_reject: int = 0
    different_values: list[tuple[dict[str, Any], Any, Any]] = field(default_factory=list)  # accepted by both


def run(shapes_per_type: int = SHAPES_PER_TYPE) -> Outcome:
    fhir = fhir_resources_validators()
    generated = VALIDATORS  # what the service runs
    outcome = Outcome()
    picked: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {}
    cases: list[tuple[str, dict[str, Any]]] = []
    for resource in corpus():
        rtype = resource["resourceType"]
        cases.append(("valid resource", resource))
        shapes = picked.setdefault(rtype, {})
        if len(shapes) < shapes_per_type:
            shapes.setdefault(_shape(resource), resource)
    for shapes in picked.values():
        for resource in shapes.values():
            cases += list(mutations(resource))
    for kind, resource in cases:
        rtype = resource["resourceType"]
        outcome.cases += 1
        our_model, our_message = validate(generated[rtype], resource)
        their_model, their_message = validate(fhir[rtype], resource)
        ours, theirs = our_model is not None, their_model is not None
        if kind == "valid resource" and theirs:
            outcome.valid += 1
        if ours and not theirs:
            outcome.looser.append((kind, their_message, resource))
        elif theirs and not ours:
            outcome.stricter[kind] += 1
            outcome.stricter_examples.setdefault(kind, our_message)
        elif not ours:
            outcome.both_reject += 1
        elif (mine := normalised(our_model)) != (other := normalised(their_model)):
            outcome.different_values.append((resource, mine, other))
        if not ours and "(" not in our_message:
            outcome.messages_without_location.append(our_message)
    return outcome


def main() -> None:
    outcome = run()
    print(f"{outcome.cases} cases ({outcome.valid} valid resources accepted by fhir.resources)")
    print(
        f"rejected by both: {outcome.both_reject}; accepted by both with different values: "
        f"{len(outcome.different_values)}"
    )
    for resource, mine, other in outcome.different_values[:5]:
        print(f"  DIFFERENT {json.dumps(resource)[:200]}\n    generated {mine}\n    fhir.resources {other}")
    print(f"generated models accept what fhir.resources rejects: {len(outcome.looser)}")
    for kind, message, resource in outcome.looser[:20]:
        print(f"  LOOSER {kind}: fhir.resources said {message}\n    {json.dumps(resource)[:300]}")
    print(f"generated models are stricter in {sum(outcome.stricter.values())} cases:")
    for kind, count in outcome.stricter.most_common():
        print(f"  {count:6d}  {kind}: e.g. {outcome.stricter_examples[kind][:200]}")
    sys.exit(1 if outcome.looser or outcome.different_values else 0)


if __name__ == "__main__":
    main()
