"""Card composition: render the engine's decisions as CDS Hooks cards, worded entirely from rules/.

A card reads in ten seconds: a plain-text summary composed from short parts (the decisive value or danger
first, then the action; low-priority parts dropped whole to fit), then a Markdown detail in three blocks —
Do (1-3 actions, most urgent first), Why (this patient's facts and the evidence they rest on), and one
Sources line. No sentence repeats across the cards of one response; empty blocks are not printed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .engine import Decision, Evaluation, Fact
from .knowledge import CardKind, KnowledgeBase
from .model import MAX_SUMMARY_CHARS, URGENCY, Action, Card, Coding, Link, Source, Suggestion
from .text import Markdown, PlainText, clip, escape, fill, link, words

SEPARATOR = "; "
# Longest value a placeholder may put into a summary (drug and condition names come from the EHR).
SUMMARY_VALUE_MAX = 48
MAX_LINKS = 2
MAX_SOURCES = 5
# Words before the Sources line (README "Card style guide").
WORD_BUDGET = {"info": 110, "warning": 160, "critical": 160}


def compose(
    evaluation: Evaluation, kb: KnowledgeBase, new_uuid: Callable[[], str], patient_id: str | None = None
) -> list[Card]:
    """The cards for an evaluation: most urgent first, then by topic, at most `max-cards` of them."""
    decisions = sorted(evaluation.decisions, key=lambda d: (URGENCY[d.indicator], d.topic))
    decisions = decisions[: int(kb.threshold("max-cards"))]
    subject = f"Patient/{patient_id}" if patient_id else evaluation.patient_reference
    seen: set[str] = set()
    return [_Composer(kb, new_uuid, subject, seen).card(d) for d in decisions]


class _Composer:
    def __init__(self, kb: KnowledgeBase, new_uuid: Callable[[], str], subject: str | None, seen: set[str]) -> None:
        self.kb = kb
        self.new_uuid = new_uuid
        self.subject = subject
        self.seen = seen  # sentences already on an earlier card of this response

    def card(self, d: Decision) -> Card:
        kind = self.kb.cards[d.topic]
        suggestions = self.suggestions(d, kind)
        return Card(
            uuid=self.new_uuid(),
            summary=summary(kind, d),
            indicator=d.indicator,
            source=self.source(kind, d),
            detail=self.detail(d),
            links=self.links(kind),
            override_reasons=kind.override_reasons if d.indicator in ("warning", "critical") else (),
            suggestions=suggestions,
            selection_behavior="at-most-one" if suggestions else None,
        )

    # -- detail ----------------------------------------------------------------------------------------
    def detail(self, d: Decision) -> Markdown:
        actions = self._fresh([(a, self.statement(a, d.values)) for a in d.actions], keep_one=True)
        facts = self._fresh([("", self.fact(f)) for f in d.facts])
        notes = self._fresh([(n, self.statement(n, d.values)) for n in d.notes])
        # A card is read in ten seconds: over the word budget, the lowest-priority notes go first, then
        # the last facts (the first two, the decisive values, always stay).
        budget = WORD_BUDGET[d.indicator]
        while words(" ".join(t for _, t in (*actions, *facts, *notes))) > budget and (notes or len(facts) > 2):
            (notes or facts).pop()
        self.seen.update(t for _, t in (*actions, *facts, *notes))
        blocks: list[str] = []
        if actions:
            blocks.append("**Do**\n" + "\n".join(f"{i}. {escape(t)}" for i, (_, t) in enumerate(actions, 1)))
        why = [t for _, t in (*facts, *notes)]
        if why:
            blocks.append("**Why**\n" + "\n".join(f"- {escape(w)}" for w in why))
        sources = self.citations([sid for sid, _ in (*actions, *notes)])
        if sources:
            blocks.append("*Sources:* " + "; ".join(sources))
        return Markdown("\n\n".join(blocks))

    def _fresh(self, items: list[tuple[str, PlainText]], *, keep_one: bool = False) -> list[tuple[str, PlainText]]:
        """Items whose sentence is not already on an earlier card of this response (nor twice here)."""
        out: list[tuple[str, PlainText]] = []
        texts: set[str] = set()
        for sid, text in items:
            if text and text not in self.seen and text not in texts:
                out.append((sid, text))
                texts.add(text)
        if keep_one and not out and items:
            out = [items[0]]
        return out

    def statement(self, sid: str, values: Mapping[str, str]) -> PlainText:
        return fill(self.kb.statements[sid].text, _defaults(values))

    def fact(self, f: Fact) -> PlainText:
        return fill(self.kb.facts[f.key], _defaults(f.values))

    def citations(self, statement_ids: list[str]) -> list[Markdown]:
        """The primary source of each statement shown on the card, in order, once each."""
        ids: list[str] = []
        for sid in statement_ids:
            primary = next((c for c in self.kb.statements[sid].sources if self.kb.citations[c].on_cards), None)
            if primary is not None:
                ids.append(primary)
        out: list[Markdown] = []
        for cid in dict.fromkeys(ids):
            c = self.kb.citations[cid]
            label = PlainText(c.compact)
            out.append(link(label, c.url) if c.url else escape(label))
        return out[:MAX_SOURCES]

    # -- source, links, suggestions --------------------------------------------------------------------
    def source(self, kind: CardKind, d: Decision) -> Source:
        cid = kind.source or next(
            (
                c
                for sid in (*d.notes, *d.actions)
                for c in self.kb.statements[sid].sources
                if self.kb.citations[c].on_cards
            ),
            None,
        )
        if cid is None:
            raise ValueError(f"card {kind.topic} has no source")
        c = self.kb.citations[cid]
        return Source(label=c.label, url=c.url, topic=Coding(self.kb.topic_system, kind.topic, kind.title))

    def links(self, kind: CardKind) -> tuple[Link, ...]:
        out = []
        for cid in kind.links:
            c = self.kb.citations[cid]
            if c.url:
                out.append(Link(label=c.compact, url=c.url))
        return tuple(out[:MAX_LINKS])

    def suggestions(self, d: Decision, kind: CardKind) -> tuple[Suggestion, ...]:
        out: list[Suggestion] = []
        recommend_delete = bool(d.delete) and d.recommend_delete
        if d.tests and self.subject:
            out.append(self.order_suggestion(d.tests, recommended=d.recommend_tests and not recommend_delete))
        if d.delete and kind.delete_suggestion is not None:
            actions = tuple(
                Action(
                    "delete",
                    f"{kind.delete_suggestion.description}: {o.display or o.reference}",
                    resource_id=o.reference,
                )
                for o in d.delete
            )
            out.append(
                Suggestion(
                    self.new_uuid(), kind.delete_suggestion.label, actions, is_recommended=recommend_delete or None
                )
            )
        return tuple(out)

    def order_suggestion(self, tests: tuple[str, ...], *, recommended: bool) -> Suggestion:
        """One suggestion that creates a complete draft R4 ServiceRequest per LOINC-coded test."""
        subject = self.subject or ""
        chosen = [self.kb.tests[t] for t in tests]
        actions = []
        for t in chosen:
            resource: dict[str, Any] = {
                "resourceType": "ServiceRequest",
                "id": self.new_uuid(),
                "status": "draft",
                "intent": "order",
                "code": {
                    "coding": [{"system": "http://loinc.org", "code": t.code, "display": t.display}],
                    "text": t.display,
                },
                "subject": {"reference": subject},
            }
            actions.append(Action("create", f"Draft order: {t.display} (LOINC {t.code})", resource=resource))
        label = self.kb.order_label.format(tests=", ".join(t.short for t in chosen))
        return Suggestion(uuid=self.new_uuid(), label=label, actions=tuple(actions), is_recommended=recommended or None)


def summary(kind: CardKind, d: Decision) -> PlainText:
    """Summary parts in priority order, joined; a part that does not fit is dropped whole."""
    values = {k: clip(v, SUMMARY_VALUE_MAX) for k, v in _defaults(d.values).items()}
    parts = [fill(kind.summary[p], values) for p in d.summary]
    parts = [p for p in parts if p]
    text = clip(parts[0], MAX_SUMMARY_CHARS - 1) if parts else PlainText(kind.title)
    for part in parts[1:]:
        candidate = f"{text}{SEPARATOR}{part}"
        if len(candidate) < MAX_SUMMARY_CHARS:
            text = PlainText(candidate)
    return text


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _defaults(values: Mapping[str, str]) -> Mapping[str, str]:
    return _Blank(values)
