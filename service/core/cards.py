"""Card composition: from an Evaluation to CDS Hooks cards, worded entirely from the knowledge base.

Data-derived text (medication names, condition names from the EHR) is escaped before it enters the
Markdown detail, so a display string can never inject links, HTML or formatting into a card.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .engine import DIFFERENTIAL, LEG_SYMPTOM, RISK_FACTOR, SAFETY, Evaluation, MgStatus
from .fhirdata import LabResult
from .knowledge import CardKind, KnowledgeBase
from .model import URGENCY, Action, Card, Coding, Evidence, Finding, Indicator, Link, Source, Suggestion, as_utc_date

_FORMATTER = string.Formatter()
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_HTML_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SIGNALS_SHORT_MAX = 60
_REASON_SHORT_MAX = 80
_DRAFTS_SHORT_MAX = 40
# Indicator of each card kind that does not depend on the magnesium value.
_FIXED_INDICATOR: Mapping[str, Indicator] = {
    "mg-low-normal": "info",
    "mg-normal-with-risk": "info",
    "mg-not-measured": "info",
    "leg-differential": "info",
    "mg-supplement-safety": "warning",
}


def compose(
    evaluation: Evaluation, kb: KnowledgeBase, new_uuid: Callable[[], str], patient_id: str | None = None
) -> list[Card]:
    """The cards for an evaluation: most urgent first, then by topic, at most `max-cards` of them."""
    composer = _Composer(evaluation, kb, new_uuid, patient_id)
    cards = [composer.card(topic) for topic in evaluation.topics]
    cards.sort(key=lambda c: (URGENCY[c.indicator], c.topic))
    return cards[: int(kb.threshold("max-cards"))]


class _Composer:
    def __init__(
        self, evaluation: Evaluation, kb: KnowledgeBase, new_uuid: Callable[[], str], patient_id: str | None
    ) -> None:
        self.ev = evaluation
        self.kb = kb
        self.new_uuid = new_uuid
        self.subject = f"Patient/{patient_id}" if patient_id else evaluation.patient_reference

    def card(self, topic: str) -> Card:
        kind = self.kb.cards[topic]
        status = self.ev.mg
        indicator: Indicator = (
            self.ev.indicators.get(topic)
            or _FIXED_INDICATOR.get(topic)
            or (status.indicator if status and status.indicator else "info")
        )
        values = self.placeholders(topic)
        template = kind.summaries.get(indicator) or kind.summaries["default"]
        detail = render(kind.detail, values) + "\n\n" + statements_markdown(kind, self.kb, self.ev.codes())
        suggestions = self.suggestions(topic, kind)
        return Card(
            uuid=self.new_uuid(),
            summary=render(template, values),
            indicator=indicator,
            source=card_source(kind, self.kb),
            detail=detail,
            links=card_links(kind, self.kb),
            override_reasons=kind.override_reasons if indicator in ("warning", "critical") else (),
            suggestions=suggestions,
            selection_behavior="at-most-one" if suggestions else None,
        )

    def placeholders(self, topic: str) -> dict[str, str]:
        kind = self.kb.cards[topic]
        values: dict[str, str] = {
            "lookback": months(self.kb.threshold("serum-mg-lookback-days")),
            "risk_factors": finding_lines(self.ev.of(RISK_FACTOR)),
            "leg_symptoms": finding_lines(self.ev.of(LEG_SYMPTOM)),
            "signals": finding_lines(self.ev.of(DIFFERENTIAL)),
            "supplements": finding_lines([f for f in self.ev.of(SAFETY) if f.code == "mg-supplement"]),
        }
        if self.ev.mg is not None:
            values.update(mg_placeholders(self.ev.mg))
        signal_names = [kind.phrases.get(f.code, f.display) for f in self.ev.of(DIFFERENTIAL)]
        values["signals_short"] = _cap(", ".join(signal_names), _SIGNALS_SHORT_MAX)
        reasons = [self.reason_phrase(kind, r) for r in self.ev.reasons.get(topic, ()) if r in kind.phrases]
        values["reasons"] = "\n".join(f"- {_sentence(r)}" for r in reasons) or "- none"
        values["reason_short"] = _cap(reasons[0], _REASON_SHORT_MAX) if reasons else ""
        drafts = self.ev.drafts.get(topic, ())
        values["drafts"] = "\n".join(f"- {evidence_text(d.evidence())}" for d in drafts) or "- none"
        values["drafts_short"] = _cap(", ".join(_md(d.display or "medication") for d in drafts), _DRAFTS_SHORT_MAX)
        return values

    def reason_phrase(self, kind: CardKind, reason: str) -> str:
        """A reason phrase, filled with the lab it is about (eGFR or serum Mg) and the limits it uses."""
        egfr, status = self.ev.egfr, self.ev.mg
        value = unit = date = ""
        if reason.startswith("egfr") and egfr is not None:
            value, unit, date = f"{egfr.value:g}", _md(egfr.unit), as_utc_date(egfr.effective)
        elif reason.startswith("mg") and status is not None:
            value, unit, date = f"{status.mmol:.2f}", "mmol/L", as_utc_date(status.result.effective)
        threshold = "egfr-contraindication" if reason == "egfr-contraindication" else "egfr-caution"
        interacting = [f for f in self.ev.findings if f.code in ("interacting-drug", "draft-interacting-drug")]
        drugs = ", ".join(dict.fromkeys(_md(e.display or e.reference) for f in interacting for e in f.evidence))
        lookback = "lab-lookback-days" if reason.startswith("egfr") else "serum-mg-lookback-days"
        return render(
            kind.phrases[reason],
            {
                "value": value,
                "unit": unit,
                "date": date,
                "threshold": f"{self.kb.threshold(threshold):g}",
                "drugs": drugs,
                "lookback": months(self.kb.threshold(lookback)),
            },
        )

    def suggestions(self, topic: str, kind: CardKind) -> tuple[Suggestion, ...]:
        """Order the missing test; for a contraindicated supplement, remove the draft orders instead."""
        reasons = set(self.ev.reasons.get(topic, ()))
        out: list[Suggestion] = []
        wants_test = topic == "mg-not-measured" or bool(reasons & {"mg-unknown", "egfr-unknown"})
        if kind.suggestion is not None and self.subject and wants_test:
            out.append(self.order_suggestion(kind))
        deletable = [d for d in self.ev.drafts.get(topic, ()) if d.has_id]
        if kind.delete_suggestion is not None and "egfr-contraindication" in reasons and deletable:
            actions = tuple(
                Action(
                    "delete",
                    f"{kind.delete_suggestion.description}: {d.display or d.reference}",
                    resource_id=d.reference,
                )
                for d in deletable
            )
            out.append(Suggestion(self.new_uuid(), kind.delete_suggestion.label, actions, is_recommended=True))
        return tuple(out)

    def order_suggestion(self, kind: CardKind) -> Suggestion:
        """A recommended suggestion that creates a complete draft R4 ServiceRequest for the LOINC test."""
        sg = kind.suggestion
        if sg is None or self.subject is None:
            raise ValueError(f"card kind {kind.topic} has no order suggestion or no subject")
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": self.new_uuid(),
            "status": "draft",
            "intent": "order",
            "code": {"coding": [{"system": sg.system, "code": sg.code, "display": sg.display}], "text": sg.display},
            "subject": {"reference": self.subject},
        }
        action = Action("create", f"{sg.description} ({sg.display}, LOINC {sg.code})", resource=resource)
        return Suggestion(uuid=self.new_uuid(), label=sg.label, actions=(action,), is_recommended=True)


def mg_placeholders(status: MgStatus) -> dict[str, str]:
    """Values a magnesium card template may use (see knowledge.INLINE_PLACEHOLDERS)."""
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
    return _md(r.range_text) if r.range_text else "not reported by the lab"


def finding_lines(findings: Sequence[Finding]) -> str:
    """Findings as a Markdown list, each with its evidence (resource, name, date) and since when."""
    if not findings:
        return "- none found in the record"
    lines = []
    for f in findings:
        label = f"**{_md(f.display)}**"
        if f.values.get("strength"):
            label += f" ({f.values['strength']})"
        if f.since:
            label += f", since {f.since.isoformat()}"
        if "name" in f.values.get("matchedBy", ()):
            label += " (matched by name)"
        lines.append(f"- {label}: " + "; ".join(evidence_text(e) for e in f.evidence))
    return "\n".join(lines)


def evidence_text(e: Evidence) -> str:
    where = _md(e.reference) + (f", {e.date}" if e.date else "")
    return f"{_md(e.display)} ({where})" if e.display else where


def months(days: float) -> str:
    return f"{round(days / 30.4375)} months"


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill a rules template; placeholders were checked against the vocabulary at load time."""
    return _FORMATTER.vformat(template, (), values).strip()


def statements_markdown(kind: CardKind, kb: KnowledgeBase, present: frozenset[str] = frozenset()) -> str:
    """The card's cited statements (fixed, then those whose finding is present) as a Markdown list."""
    ids = list(kind.statements)
    for code, sids in kind.statements_when.items():
        if code in present:
            ids += [sid for sid in sids if sid not in ids]
    lines = []
    for sid in ids:
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


def _md(text: str) -> str:
    """Escape text that came from the EHR: HTML characters as entities, Markdown punctuation with a backslash."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()).translate(_HTML_ENTITIES))


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ,") + "…"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
