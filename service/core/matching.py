"""Compiled matchers: a coding or a name to the clinical classes of the knowledge base.

Built once per knowledge base: value sets are frozensets and prefix tuples, names are one compiled
regular expression per class, so matching a record is a handful of set lookups per coding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .knowledge import MatcherDef, ValueSet

# How a class was matched, strongest first (reported on findings as matchedBy).
MATCHED_BY_ORDER = ("code", "category", "name")


@dataclass(frozen=True, slots=True)
class CodingText:
    """A coding as seen in the data (any part may be missing)."""

    system: str | None
    code: str | None
    display: str | None


def _word_alternation(names: Iterable[str]) -> str:
    # Longest first so "esomeprazole" wins over "omeprazole" inside one alternation.
    escaped = [re.escape(n).replace(r"\ ", r"[\s-]+") for n in sorted(set(names), key=len, reverse=True)]
    return r"(?<![\w-])(?:" + "|".join(escaped) + r")(?![\w-])"


class ClassMatcher:
    """Matches one clinical class by code, by category (is-a), then by name."""

    def __init__(self, definition: MatcherDef, valueset: ValueSet | None) -> None:
        self.id = definition.id
        self.display = definition.display
        self.not_if = definition.not_if
        self._valueset = valueset
        parts = []
        if definition.names:
            parts.append(_word_alternation(definition.names))
        parts.extend(f"(?:{p})" for p in definition.patterns)
        self._names = re.compile("|".join(parts), re.IGNORECASE) if parts else None
        self._exclude = (
            re.compile(_word_alternation(definition.exclude_names), re.IGNORECASE) if definition.exclude_names else None
        )

    def by_code(self, coding: CodingText) -> str | None:
        return self._valueset.match(coding.system, coding.code) if self._valueset else None

    def by_name(self, text: str) -> bool:
        if self._names is None or not text:
            return False
        if self._exclude is not None and self._exclude.search(text):
            return False
        return self._names.search(text) is not None


class Vocabulary:
    """A family of class matchers (medications, conditions or observation names)."""

    def __init__(self, definitions: Mapping[str, MatcherDef], valuesets: Mapping[str, ValueSet]) -> None:
        self.matchers = {
            cid: ClassMatcher(d, valuesets[d.valueset] if d.valueset else None) for cid, d in definitions.items()
        }

    def display(self, class_id: str) -> str:
        return self.matchers[class_id].display

    def classify(self, codings: Iterable[CodingText], texts: Iterable[str]) -> dict[str, str]:
        """class id → how it matched ('code', 'category' or 'name'), after vetoes (not_if)."""
        codings = list(codings)
        found: dict[str, str] = {}
        for cid, matcher in self.matchers.items():
            how = None
            for coding in codings:
                how = matcher.by_code(coding)
                if how == "code":
                    break
            if how is None:
                words = [c.display for c in codings if c.display] + [t for t in texts if t]
                if any(matcher.by_name(w) for w in words):
                    how = "name"
            if how is not None:
                found[cid] = how
        for cid in list(found):
            if any(veto in found for veto in self.matchers[cid].not_if):
                del found[cid]
        return found
