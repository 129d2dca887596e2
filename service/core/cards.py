"""Card composition: from an Evaluation to CDS Hooks cards, worded entirely from the knowledge base."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any

from .engine import Evaluation, MgStatus
from .fhirdata import LabResult
from .knowledge import CardKind, KnowledgeBase
from .model import URGENCY, Card, Coding, Indicator, Link, Source, as_utc_date

# Which Mg state raises which card kind (the topic codes are part of the public contract).
_MG_STATE_TOPIC = {"low": "mg-low", "low-normal": "mg-low-normal", "high": "mg-high"}
_FORMATTER = string.Formatter()


def compose(evaluation: Evaluation, kb: KnowledgeBase, new_uuid: Callable[[], str]) -> list[Card]:
    """The cards for an evaluation, most urgent first, then by topic."""
    cards: list[Card] = []
    status = evaluation.mg
    if status is not None and status.indicator is not None and status.state in _MG_STATE_TOPIC:
        cards.append(_mg_card(status, kb.cards[_MG_STATE_TOPIC[status.state]], status.indicator, kb, new_uuid))
    return sorted(cards, key=lambda c: (URGENCY[c.indicator], c.topic))


def _mg_card(
    status: MgStatus, kind: CardKind, indicator: Indicator, kb: KnowledgeBase, new_uuid: Callable[[], str]
) -> Card:
    values = mg_placeholders(status)
    summary_template = kind.summaries.get(indicator) or kind.summaries["default"]
    detail = render(kind.detail, values) + "\n\n" + statements_markdown(kind, kb)
    return Card(
        uuid=new_uuid(),
        summary=render(summary_template, values),
        indicator=indicator,
        source=card_source(kind, kb),
        detail=detail,
        links=card_links(kind, kb),
        override_reasons=kind.override_reasons if indicator in ("warning", "critical") else (),
    )


def mg_placeholders(status: MgStatus) -> dict[str, str]:
    """Values a magnesium card template may use (see knowledge.CARD_PLACEHOLDERS)."""
    r = status.result
    return {
        "mmol": f"{status.mmol:.2f}",
        "mgdl": f"{status.mgdl:.2f}",
        "meq": f"{status.meq:.2f}",
        "date": as_utc_date(r.effective),
        "lab_range": lab_range_text(r),
        "band": status.band.label,
        "loinc": r.code,
        "status_phrase": "; ".join(status.reasons) or "within the evidence-based range",
    }


def lab_range_text(r: LabResult) -> str:
    if r.range_low is not None and r.range_high is not None:
        return f"{r.range_low:g}–{r.range_high:g} {r.unit}"
    if r.range_low is not None:
        return f"≥ {r.range_low:g} {r.unit}"
    if r.range_high is not None:
        return f"≤ {r.range_high:g} {r.unit}"
    return r.range_text or "not reported by the lab"


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill a rules template; placeholders were checked against the vocabulary at load time."""
    return _FORMATTER.vformat(template, (), values).strip()


def statements_markdown(kind: CardKind, kb: KnowledgeBase) -> str:
    """The card's cited statements as a Markdown list, each followed by its sources as links."""
    lines = []
    for sid in kind.statements:
        statement = kb.statements[sid]
        cites = "; ".join(_cite(kb, c) for c in statement.sources)
        lines.append(f"- {statement.text} ({cites})")
    return "\n".join(lines)


def _cite(kb: KnowledgeBase, citation_id: str) -> str:
    citation = kb.citations[citation_id]
    return f"[{citation.label}]({citation.url})" if citation.url else citation.label


def card_source(kind: CardKind, kb: KnowledgeBase) -> Source:
    citation = kb.citations[kind.source]
    return Source(label=citation.label, url=citation.url, topic=Coding(kb.topic_system, kind.topic, kind.title))


def card_links(kind: CardKind, kb: KnowledgeBase) -> tuple[Link, ...]:
    links = []
    for cid in kind.links:
        citation = kb.citations[cid]
        if citation.url:
            links.append(Link(label=citation.label, url=citation.url))
    return tuple(links)


def template_fields(template: str) -> set[str]:
    """The placeholder names in a template (used by the loader to check them)."""
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name is not None}
