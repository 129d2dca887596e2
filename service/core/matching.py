"""Compiled matchers: a coding or a name to the clinical classes of the knowledge base.

Built once per knowledge base. Codes are dictionary lookups ((system, code) → classes), ATC and
ICD-10-CM categories are lookups of each prefix of the normalised code, and all the names of a vocabulary
are one compiled regular expression, so matching a record costs a few lookups per coding and one regex
search per text, whatever the number of classes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple

from .knowledge import MatcherDef, ValueSet, normalise_code

# How a class was matched, strongest first (reported on findings as matchedBy).
MATCHED_BY_ORDER = ("code", "category", "name")
# Distinct texts remembered per vocabulary. EHR displays repeat endlessly (the same drug and problem names
# on every chart), so name matching is memoised: a pure function of the text and the compiled vocabulary.
NAME_CACHE_SIZE = 8192
# Distinct codings + texts whose classification is remembered per vocabulary (same reasoning: the same
# concepts on every chart); the whole classify() is then one dictionary lookup.
CLASSIFY_CACHE_SIZE = 8192
# Memo keys are bounded: a text (or a concept's texts together) longer than this is matched without being
# remembered, so hostile or pasted-in notes (60 unique 1 MB condition texts) never accumulate in memory.
# Real problem and drug names are far shorter (the longest in the Synthea and US Core data: ~120 chars).
MEMO_MAX_TEXT = 512
# Nor on many codings: a concept of thousands of empty codings is matched without being remembered (real
# concepts carry a handful: the Synthea and US Core data have at most 3).
MEMO_MAX_CODINGS = 16


class CodingText(NamedTuple):
    """A coding as seen in the data (any part may be missing). A named tuple: built for every raw coding
    of every resource, so it must be cheap to create, hash and compare (it is part of the memo key)."""

    system: str | None
    code: str | None
    display: str | None


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def _words(text: str) -> list[str]:
    """Lower-case words; hyphens and spaces separate words alike ("end-stage" = "end stage")."""
    return _WORD.findall(text.lower())


def _ngrams(words: list[str], starts: Mapping[str, int]) -> Iterable[str]:
    """The n-grams of the text that could be a name: they begin with a name's first word."""
    for start, word in enumerate(words):
        longest = starts.get(word)
        if longest:
            for end in range(start + 1, min(len(words), start + longest) + 1):
                yield " ".join(words[start:end])


def _starts(names: Iterable[str]) -> dict[str, int]:
    """First word of each name → the most words a name beginning with it has."""
    starts: dict[str, int] = {}
    for name in names:
        words = name.split()
        starts[words[0]] = max(starts.get(words[0], 0), len(words))
    return starts


class Vocabulary:
    """A family of clinical classes (medications, conditions or observation names), compiled for speed."""

    def __init__(self, definitions: Mapping[str, MatcherDef], valuesets: Mapping[str, ValueSet]) -> None:
        self.definitions = dict(definitions)
        self._codes: dict[tuple[str, str], list[str]] = {}
        self._prefixes: dict[str, dict[str, list[str]]] = {}
        self._longest_prefix: dict[str, int] = {}
        by_name: dict[str, list[str]] = {}
        patterns: list[tuple[re.Pattern[str], str]] = []
        self._excludes: dict[str, frozenset[str]] = {}
        for cid, d in definitions.items():
            if d.valueset:
                vs = valuesets[d.valueset]
                for key in vs.codes:
                    self._codes.setdefault(key, []).append(cid)
                for system, prefixes in vs.prefixes.items():
                    table = self._prefixes.setdefault(system, {})
                    for prefix in prefixes:
                        table.setdefault(prefix, []).append(cid)
                        self._longest_prefix[system] = max(self._longest_prefix.get(system, 0), len(prefix))
            for name in d.names:
                by_name.setdefault(" ".join(_words(name)), []).append(cid)
            patterns += [(re.compile(p, re.IGNORECASE), cid) for p in d.patterns]
            if d.exclude_names:
                self._excludes[cid] = frozenset(" ".join(_words(n)) for n in d.exclude_names)
        # Names are matched as whole-word n-grams in a dictionary: every n-gram of the text is looked up, so
        # overlapping names of different classes are all found ("neuropathy due to type 2 diabetes mellitus"
        # is neuropathy and type 2 diabetes) at a few dictionary lookups per word.
        self._by_name = by_name
        self._starts = _starts(by_name)
        self._exclude_starts = _starts(n for ex in self._excludes.values() for n in ex)
        self._patterns = patterns
        self._by_name_memo: Callable[[str], frozenset[str]] = lru_cache(maxsize=NAME_CACHE_SIZE)(self._match_name)
        self._classified: dict[tuple[tuple[str, ...], tuple[CodingText, ...]], dict[str, str]] = {}

    def display(self, class_id: str) -> str:
        return self.definitions[class_id].display

    def by_code(self, system: str | None, code: str | None) -> dict[str, str]:
        """Classes of one coding: 'code' for a listed concept, 'category' for an is-a prefix."""
        found: dict[str, str] = {}
        if system is None or code is None:
            return found
        for cid in self._codes.get((system, code), ()):
            found[cid] = "code"
        table = self._prefixes.get(system)
        if table:
            normal = normalise_code(system, code)
            for end in range(1, min(len(normal), self._longest_prefix[system]) + 1):
                for cid in table.get(normal[:end], ()):
                    found.setdefault(cid, "category")
        return found

    def _match_name(self, text: str) -> frozenset[str]:
        """Classes whose names (or patterns) occur in the text, without the ones the text excludes."""
        found: set[str] = set()
        if not text:
            return frozenset()
        words = _words(text)
        for gram in _ngrams(words, self._starts):
            found.update(self._by_name.get(gram, ()))
        found.update(cid for pattern, cid in self._patterns if pattern.search(text))
        if found & self._excludes.keys():
            grams = set(_ngrams(words, self._exclude_starts))
            found = {cid for cid in found if not self._excludes.get(cid, frozenset()) & grams}
        return frozenset(found)

    def by_name(self, text: str) -> frozenset[str]:
        """Classes named in the text (memoised for texts up to MEMO_MAX_TEXT characters)."""
        return self._by_name_memo(text) if len(text) <= MEMO_MAX_TEXT else self._match_name(text)

    def might_name(self, text: str) -> bool:
        """A cheap yes/no: could this text match any class by name?"""
        return bool(text) and bool(self.by_name(text))

    def classify(self, codings: Iterable[CodingText], texts: Iterable[str]) -> dict[str, str]:
        """class id → how it matched ('code', 'category' or 'name'), after vetoes (not_if); memoised."""
        key = (tuple(texts), tuple(codings))
        size = sum(map(len, key[0])) + sum(len(part) for coding in key[1] for part in coding if part)
        if size > MEMO_MAX_TEXT or len(key[1]) > MEMO_MAX_CODINGS:
            return self._classify(key[1], key[0])  # too long to remember: never kept
        found = self._classified.get(key)
        if found is None:
            found = self._classify(key[1], key[0])
            if len(self._classified) >= CLASSIFY_CACHE_SIZE:
                self._classified.pop(next(iter(self._classified), ((), ())), None)  # oldest first: bounded
            self._classified[key] = found
        return dict(found)

    def _classify(self, codings: tuple[CodingText, ...], texts: tuple[str, ...]) -> dict[str, str]:
        found: dict[str, str] = {}
        for coding in codings:
            for cid, how in self.by_code(coding.system, coding.code).items():
                if found.get(cid) != "code":
                    found[cid] = how
        # The same name often appears as a coding's display and as the text: match it once.
        names = dict.fromkeys([c.display for c in codings if c.display] + [t for t in texts if t])
        for name in names:
            for cid in self.by_name(name):
                found.setdefault(cid, "name")
        for cid in list(found):
            if any(veto in found for veto in self.definitions[cid].not_if):
                del found[cid]
        return found
