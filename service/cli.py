"""Command line: evaluate a Bundle or CDS Hooks request file, or check the rules.

    python -m service evaluate PATH [--hook patient-view|order-sign] [--format text|json] [--now ISO]
    python -m service check-rules [--rules-dir DIR]

`evaluate` runs the same pure core as the HTTP service. It makes no network calls: a hook request must
carry its prefetch. Exit codes: 0 done, 1 rules invalid, 2 bad input.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import textwrap
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
from marshmallow import ValidationError

from .config import ConfigError, parse_instant
from .core.errors import CallerError, RulesError
from .core.fhirdata import Extractor, entries_from_bundle
from .core.knowledge import KnowledgeBase
from .core.orders import ORDER_HOOKS, drafts_from_bundle, drafts_from_context
from .core.pipeline import Outcome, run, run_orders
from .core.prefetch import require_complete, split_prefetch
from .jsonio import parse_json
from .rules_loader import load_knowledge_base
from .schemas import CONTEXT_SCHEMAS, flatten_errors, hook_request_schema
from .version import __version__

_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
_ESCAPE = re.compile(r"\\(.)")
_WIDTH = 100


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description="magnesium-cds command line")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="print the cards for a FHIR Bundle or a CDS Hooks request file")
    ev.add_argument("path", type=Path)
    ev.add_argument(
        "--hook",
        choices=["patient-view", "order-sign"],
        default="patient-view",
        help="for a Bundle: patient-view (default) or order-sign (its draft MedicationRequests)",
    )
    ev.add_argument("--format", choices=["text", "json"], default="text")
    ev.add_argument("--now", help="evaluate at this ISO 8601 instant (default: now)")
    ev.add_argument("--rules-dir", type=Path)
    check = sub.add_parser("check-rules", help="validate rules/ and exit non-zero with the problem")
    check.add_argument("--rules-dir", type=Path)
    args = parser.parse_args(argv)

    try:
        kb = load_knowledge_base(args.rules_dir)
    except RulesError as exc:
        print(f"rules invalid: {exc}", file=err)
        return 1
    if args.command == "check-rules":
        print(
            f"rules OK: knowledge base {kb.version}, {len(kb.cards)} card kinds, {len(kb.valuesets)} value sets, "
            f"{len(kb.thresholds) + len(kb.constants)} thresholds, {len(kb.statements)} statements, "
            f"{len(kb.services)} services",
            file=out,
        )
        return 0
    try:
        now = parse_instant(args.now) if args.now else datetime.now(UTC)
        outcome = evaluate_file(args.path, args.hook, kb, now)
    except (OSError, ConfigError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    except CallerError as exc:
        details = "; ".join(f"{p.location}: {p.message}" if p.location else p.message for p in exc.problems)
        print(f"invalid input: {details}", file=err)
        return 2
    if args.format == "json":
        body = {
            "cards": [c.to_json() for c in outcome.cards],
            "findings": [f.to_json() for f in outcome.evaluation.findings],
        }
        out.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.write(render_text(outcome, kb, now))
    return 0


def evaluate_file(path: Path, hook: str, kb: KnowledgeBase, now: datetime) -> Outcome:
    """Evaluate a Bundle, or a CDS Hooks request with its prefetch, exactly as the service would."""
    doc = parse_json(path.read_bytes())
    extractor = Extractor(kb)
    core = {"kb": kb, "extractor": extractor, "now": now, "new_uuid": lambda: str(uuid.uuid4())}
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        entries = entries_from_bundle(doc)
        if hook == "order-sign":
            drafts = drafts_from_bundle(entries, extractor)
            return run_orders(entries, None, drafts, drafts, **core)  # type: ignore[arg-type]
        return run(entries, None, **core)  # type: ignore[arg-type]
    if isinstance(doc, dict) and "hook" in doc:
        envelope = _load(hook_request_schema, doc)
        service = next((s for s in kb.services if s.hook == envelope["hook"]), None)
        if service is None:
            raise CallerError(f"no service for hook {envelope['hook']!r}")
        context = _load(CONTEXT_SCHEMAS[service.hook], envelope["context"])
        prefetched = split_prefetch(service, envelope.get("prefetch"))
        if service.hook in ORDER_HOOKS:
            judged, all_drafts = drafts_from_context(context, service.hook, extractor)
            require_complete(service, prefetched)
            return run_orders(prefetched.entries, context["patientId"], judged, all_drafts, **core)  # type: ignore[arg-type]
        require_complete(service, prefetched)
        return run(prefetched.entries, context["patientId"], **core)  # type: ignore[arg-type]
    raise CallerError("expected a FHIR Bundle or a CDS Hooks request (an object with 'hook')")


def _load(schema: Any, data: Any) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        problems = "; ".join(f"{loc}: {msg}" for loc, msg in flatten_errors(exc.messages))
        raise CallerError(problems) from None
    return loaded


def render_text(outcome: Outcome, kb: KnowledgeBase, now: datetime) -> str:
    """Cards for a terminal: indicator, summary, detail as plain text, suggestions, links."""
    lines = [f"magnesium-cds {__version__} (knowledge base {kb.version}), evaluated at {now.isoformat()}", ""]
    if not outcome.cards:
        lines.append("No cards: nothing to say for this record.")
    for card in outcome.cards:
        lines.append(f"[{card.indicator.upper()}] {card.summary}")
        lines.append(f"  topic: {card.topic}   source: {card.source.label}")
        for paragraph in markdown_to_text(card.detail or "").split("\n"):
            lines.extend(_wrap(paragraph, "  "))
        if card.suggestions:
            lines.append("  Suggestions:")
            for s in card.suggestions:
                mark = " (recommended)" if s.is_recommended else ""
                lines.append(f"    * {s.label}{mark}")
                for a in s.actions:
                    target = a.resource_id or (a.resource or {}).get("resourceType", "")
                    lines.extend(_wrap(f"{a.type} {target}: {a.description}", "        "))
        for link in card.links:
            lines.append(f"  Link: {link.label} <{link.url}>")
        if card.override_reasons:
            lines.append("  Override reasons: " + "; ".join(r.display or r.code for r in card.override_reasons))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def markdown_to_text(markdown: str) -> str:
    text = _LINK.sub(r"\1 <\2>", markdown).replace("**", "")
    return html.unescape(_ESCAPE.sub(r"\1", text))


def _wrap(paragraph: str, indent: str) -> list[str]:
    if not paragraph.strip():
        return [""]
    bullet = paragraph.startswith("- ")
    return textwrap.wrap(
        paragraph,
        _WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + ("  " if bullet else ""),
        break_on_hyphens=False,
        break_long_words=False,
    )
