"""Generate service/core/fhir_models.py from fhir.resources.R4B's own field definitions (`make models`).

    .venv/bin/python tools/gen_fhir_models.py           # (re)write service/core/fhir_models.py
    .venv/bin/python tools/gen_fhir_models.py --check   # exit 1 when the committed file is out of date

For each resource type in `service.core.fhirdata.USED_ELEMENTS` (read from the source, so a stale or
missing output never stops regeneration), a model with exactly the used elements; for every complex type
those elements reach, its whole subtree (all elements, recursively: Extension and its value[x] types,
primitive extensions `_x`, ...). Field names, aliases, cardinality, required flags and choice groups are
fhir.resources'; each primitive becomes a strict pydantic-core schema with fhir.resources' own regex and
bounds (service/core/fhir_base.py). The output is deterministic: re-running it on the same inputs gives
the same bytes (tests/test_fhir_models.py checks the committed file against it).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import json
import subprocess
import sys
import types
import typing
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FHIRDATA = ROOT / "service" / "core" / "fhirdata.py"
OUTPUT = ROOT / "service" / "core" / "fhir_models.py"
PACKAGE = "fhir.resources.R4B"


def used_elements(source: Path = FHIRDATA) -> dict[str, tuple[str, ...]]:
    """USED_ELEMENTS as written in fhirdata.py (a literal: evaluated without importing the service)."""
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        target: ast.expr | None = None
        if isinstance(node, ast.AnnAssign):
            target = node.target
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        named = isinstance(target, ast.Name) and target.id == "USED_ELEMENTS"
        if named and isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            value = ast.literal_eval(node.value)
            return {str(k): tuple(v) for k, v in value.items()}
    raise SystemExit(f"USED_ELEMENTS not found in {source}")


def digest(used: Mapping[str, tuple[str, ...]]) -> str:
    return hashlib.sha256(json.dumps(used, sort_keys=True).encode()).hexdigest()[:16]


# fhir_core marker class name → (alias in the output, base type) for the string and integer primitives,
# whose constraints are read from the marker itself; the others map to fhir_base's prebuilt schemas.
_CONSTRAINED = {
    "String": ("FhirString", "str"),
    "Code": ("FhirCode", "str"),
    "Id": ("FhirId", "str"),
    "Uri": ("FhirUri", "str"),
    "Canonical": ("FhirCanonical", "str"),
    "Markdown": ("FhirMarkdown", "str"),
    "Oid": ("FhirOid", "str"),
    "Xhtml": ("FhirXhtml", "str"),
    "Url": ("FhirUrl", "str"),
    "Integer": ("FhirInteger", "int"),
    "Integer64": ("FhirInteger64", "int"),
    "UnsignedInt": ("FhirUnsignedInt", "int"),
    "PositiveInt": ("FhirPositiveInt", "int"),
}
_PREBUILT = {
    "Decimal": "FhirDecimal",
    "Date": "FhirDate",
    "DateTime": "FhirDateTime",
    "Instant": "FhirInstant",
    "Time": "FhirTime",
    "Base64Binary": "FhirBase64",
    "UuidVersion": "FhirUuid",
}


def _constraints(marker: Any) -> str:
    """Field(...) arguments of a string/integer marker: its pattern, lengths and bounds, and strict=True."""
    args = ["strict=True"]
    for item in marker if isinstance(marker, typing.Iterable) else ():
        for attr in ("pattern", "min_length", "max_length", "ge", "le"):
            value = getattr(item, attr, None)
            if value is not None:
                args.append(f"{attr}={value!r}")
    return ", ".join(args)


class Generator:
    def __init__(self) -> None:
        self.primitives: dict[str, str] = {}  # alias → definition
        self.prebuilt: set[str] = set()
        self.queue: list[type] = []
        self.names: dict[type, str] = {}

    def model_name(self, klass: type) -> str:
        name = self.names.get(klass)
        if name is None:
            name = klass.__name__
            if name in self.names.values():
                raise SystemExit(f"two fhir.resources classes are named {name}")
            self.names[klass] = name
            self.queue.append(klass)
        return name

    def type_of(self, annotation: Any) -> str:  # noqa: PLR0911 (one return per kind of annotation)
        """The output type expression for a fhir.resources field annotation."""
        origin = typing.get_origin(annotation)
        if annotation is type(None):
            return "None"
        if origin in (typing.Union, types.UnionType):
            return " | ".join(self.type_of(arg) for arg in typing.get_args(annotation))
        if origin is list:
            (item,) = typing.get_args(annotation)
            return f"list[{self.type_of(item)}]"
        if origin is typing.Annotated:
            _, *markers = typing.get_args(annotation)
            marker = markers[-1]  # fhir_core's own marker comes last (Base64Bytes brings pydantic's first)
            kind = type(marker).__name__
            if kind in _CONSTRAINED:
                alias, py = _CONSTRAINED[kind]
                self.primitives[alias] = f"Annotated[{py}, Field({_constraints(marker)})]"
                return alias
            if kind in _PREBUILT:
                self.prebuilt.add(_PREBUILT[kind])
                return _PREBUILT[kind]
            raise SystemExit(f"unsupported FHIR primitive {kind} ({annotation})")
        if annotation is bool:
            self.primitives["FhirBoolean"] = "Annotated[bool, Field(strict=True)]"
            return "FhirBoolean"
        if annotation is str:
            self.primitives["FhirText"] = "Annotated[str, Field(strict=True)]"
            return "FhirText"
        model_klass = getattr(annotation, "_model_klass", None)
        if isinstance(model_klass, str):
            if annotation.__mro__[1].__name__ != "FhirBase":
                raise SystemExit(f"{annotation}: only concrete element types can be generated (not {model_klass})")
            module, _, name = model_klass.rpartition(".")
            return self.model_name(getattr(importlib.import_module(module), name))
        raise SystemExit(f"unsupported annotation {annotation!r}")

    def fields(
        self, klass: Any, only: tuple[str, ...] | None
    ) -> tuple[list[str], dict[str, list[str]], dict[str, bool]]:
        """Field lines, choice groups (JSON names) and whether each group is required, of one class."""
        lines: list[str] = []
        groups: dict[str, list[str]] = {}
        required_groups: dict[str, bool] = {}
        by_json = {(info.alias or name): (name, info) for name, info in klass.model_fields.items()}
        wanted = [k for k in only if k != "resourceType"] if only is not None else list(by_json)
        for json_name in wanted:
            if json_name not in by_json:
                # Listed in USED_ELEMENTS but not an element of this resource in R4B: an unknown element,
                # dropped by fhirdata._validate like any other (as it was with fhir.resources).
                lines.append(f"    # {json_name}: not an element of {klass.__name__} in {PACKAGE} (dropped as unknown)")
                continue
            name, info = by_json[json_name]
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            annotation = info.annotation
            required = info.is_required() or bool(extra.get("element_required"))
            if required and typing.get_origin(annotation) in (typing.Union, types.UnionType):
                kept = [a for a in typing.get_args(annotation) if a is not type(None)]
                annotation = kept[0] if len(kept) == 1 else typing.Union[tuple(kept)]  # noqa: UP007
            expr = self.type_of(annotation)
            if not required and not expr.endswith("| None"):
                expr += " | None"
            arguments = [] if required else ["default=None"]
            if json_name != name:
                arguments.append(f"alias={json_name!r}")
            default = f" = Field({', '.join(arguments)})" if json_name != name else ("" if required else " = None")
            lines.append(f"    {name}: {expr}{default}")
            prefix = extra.get("one_of_many")
            if isinstance(prefix, str):
                groups.setdefault(prefix, []).append(json_name)
                required_groups[prefix] = bool(extra.get("one_of_many_required"))
        return lines, groups, required_groups

    def model(self, klass: Any, only: tuple[str, ...] | None, resource_type: str | None) -> list[str]:
        lines, groups, required_groups = self.fields(klass, only)
        out = ["", "", f"class {self.names.get(klass, klass.__name__)}(FhirModel):"]
        out.append(f'    """{klass.__module__}.{klass.__name__}{" (used elements)" if only else ""}."""')
        out.append("")
        if resource_type is not None:
            out.append(f"    resourceType: Literal[{resource_type!r}] | None = None")
        else:
            # fhir.resources accepts (and checks) a resourceType on any element: refuse any other value.
            out.append(f"    resourceType: Literal[{klass.__resource_type__!r}] | None = None")
        out += lines
        if groups:
            mandatory = tuple(sorted(p for p, r in required_groups.items() if r))
            if mandatory:
                out.append(f"    __choice_required__: ClassVar[tuple[str, ...]] = {mandatory!r}")
            body = ", ".join(f"{p!r}: {tuple(g)!r}" for p, g in groups.items())
            out.append(f"    __choice_groups__: ClassVar[dict[str, tuple[str, ...]]] = {{{body}}}")
        return out


def generate(used: Mapping[str, tuple[str, ...]]) -> str:
    gen = Generator()
    body: list[str] = []
    resources = {}
    for rtype in sorted(used):
        klass = getattr(importlib.import_module(f"{PACKAGE}.{rtype.lower()}"), rtype)
        gen.names[klass] = rtype
        resources[rtype] = klass
        body += gen.model(klass, used[rtype], rtype)
    done: set[type] = set()
    while gen.queue:
        klass = gen.queue.pop(0)
        if klass in done or klass in resources.values():
            continue
        done.add(klass)
        body += gen.model(klass, None, None)
    header = [
        '"""FHIR R4 models for the elements the rules read: GENERATED by tools/gen_fhir_models.py (make models).',
        "",
        "Do not edit: derived from fhir.resources.R4B's field definitions for service.core.fhirdata.USED_ELEMENTS",
        "and the whole subtree of every complex type they reach; validated entirely by pydantic-core (see",
        'service/core/fhir_base.py and README "Validation path"). tests/test_fhir_models.py fails when this',
        "file differs from what the generator produces.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Annotated, ClassVar, Literal",
        "",
        "from pydantic import Field",
        "",
        f"from .fhir_base import {', '.join(sorted({'FhirModel', *gen.prebuilt}))}",
        "",
        f"FHIR_RESOURCES_VERSION = {metadata.version('fhir.resources')!r}",
        f"USED_ELEMENTS_DIGEST = {digest(used)!r}",
        "",
    ]
    header += [f"{alias} = {definition}" for alias, definition in sorted(gen.primitives.items())]
    footer = [
        "",
        "",
        "RESOURCE_MODELS: dict[str, type[FhirModel]] = {" + ", ".join(f"{r!r}: {r}" for r in sorted(resources)) + "}",
        "# Built now, once per process (the element models are built inside them: never validated alone).",
        "for _model in RESOURCE_MODELS.values():",
        "    _model.model_rebuild()",
        "",
    ]
    return "\n".join(header + body + footer)


def formatted(text: str) -> str:
    """The source as `ruff format` writes it (ruff is a development dependency, like this generator)."""
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(  # noqa: S603 (the project's own ruff on generated source)
        [str(ruff if ruff.exists() else "ruff"), "format", "--stdin-filename", str(OUTPUT), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(prog="gen_fhir_models", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed output is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    text = formatted(generate(used_elements()))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            sys.exit(f"{args.output} is out of date: run `make models`")
        return
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({text.count(chr(10) + 'class ')} models)")


if __name__ == "__main__":
    main()
