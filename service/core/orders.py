"""Draft orders for order-select and order-sign: which drafts are judged, and what drugs they are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest, Problem
from .fhirdata import Entry, Extractor, entries_from_bundle, medication_index, supply_days
from .model import Evidence

ORDER_HOOKS = frozenset({"order-select", "order-sign"})


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """A draft MedicationRequest and the medication classes it matched (empty: nothing to judge)."""

    reference: str  # "MedicationRequest/{id}", or a fullUrl when the draft has no id
    display: str
    classes: Mapping[str, str]
    has_id: bool
    route: str | None = None  # route class from the dosage route or the product name
    supply_days: float | None = None
    indications: frozenset[str] = frozenset()  # condition classes of reasonCode

    def evidence(self) -> Evidence:
        return Evidence(self.reference, self.display or None)


def classify_drafts(entries: Sequence[Entry], extractor: Extractor) -> list[DraftOrder]:
    """Every MedicationRequest among the entries, classified; drafts without a drug match no class.

    The CDS Hooks sandbox sends a draft with no medication and no intent before a drug is chosen: such a
    draft is not valid FHIR yet, so drafts are classified from their raw JSON and never rejected.
    """
    index = medication_index(entries)
    drafts = []
    for entry in entries:
        raw = entry.resource
        if raw.get("resourceType") != "MedicationRequest":
            continue
        found = extractor.classify_medication(raw, index)
        classes, name = found if found else ({}, "")
        rid = raw.get("id")
        has_id = isinstance(rid, str) and bool(rid)
        reference = f"MedicationRequest/{rid}" if has_id else (entry.full_url or "MedicationRequest/(no id)")
        drafts.append(
            DraftOrder(
                reference,
                name,
                classes,
                has_id,
                route=extractor.route_of(raw, name) if classes else None,
                supply_days=supply_days(raw) if classes else None,
                indications=extractor.indications_of(raw) if classes else frozenset(),
            )
        )
    return drafts


def drafts_from_context(
    context: Mapping[str, Any], hook: str, extractor: Extractor
) -> tuple[list[DraftOrder], list[DraftOrder]]:
    """(judged drafts, all drafts): order-select judges only the selected orders, order-sign all of them."""
    entries = entries_from_bundle(context["draftOrders"])
    drafts = classify_drafts(entries, extractor)
    if hook != "order-select":
        return drafts, drafts
    present = {f"{e.resource.get('resourceType')}/{e.resource.get('id')}" for e in entries if e.resource.get("id")}
    problems = [
        Problem(f"context.selections.{i}", f"{ref!r} is not in context.draftOrders")
        for i, ref in enumerate(context["selections"])
        if ref not in present
    ]
    if problems:
        raise InvalidRequest("Every selection must be an order in draftOrders.", tuple(problems))
    selected = set(context["selections"])
    return [d for d in drafts if d.reference in selected], drafts


def drafts_from_bundle(entries: Sequence[Entry], extractor: Extractor) -> list[DraftOrder]:
    """For POST /evaluate?hook=order-sign: the Bundle's MedicationRequests with status draft."""
    draft_entries = [
        e
        for e in entries
        if e.resource.get("resourceType") == "MedicationRequest" and e.resource.get("status") == "draft"
    ]
    return classify_drafts(draft_entries, extractor)
