"""Plain text and Markdown are different types: text becomes Markdown only through `escape`.

CDS Hooks 2.0 §Card: `summary` is plain text (shown as is, so a backslash or an entity would show
literally); `detail` is GitHub-flavoured Markdown. EHR-derived text (drug and problem names) and our own
sentences are plain text; only the card detail is Markdown, so escaping happens in exactly one place.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import NewType

PlainText = NewType("PlainText", str)
Markdown = NewType("Markdown", str)

_FORMATTER = string.Formatter()
# Characters that start Markdown constructs inside a line: emphasis, code, links/images, HTML, tables,
# strikethrough. Others ({ } ( ) # + - ! .) are inert mid-line, and escaping them shows backslashes in
# renderers that do not implement every CommonMark escape.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def fill(template: str, values: Mapping[str, str]) -> PlainText:
    """Fill a rules template (placeholders were checked against the vocabulary at load time)."""
    return PlainText(" ".join(_FORMATTER.vformat(template, (), values).split()))


def escape(text: PlainText) -> Markdown:
    """Plain text as Markdown that renders to the same text: no links, HTML or formatting can slip in."""
    return Markdown(_MD_SPECIAL.sub(r"\\\1", text.translate(_HTML)))


def bold(text: PlainText) -> Markdown:
    return Markdown(f"**{escape(text)}**")


def link(label: PlainText, url: str) -> Markdown:
    safe = url.replace(")", "%29").replace(" ", "%20")
    return Markdown(f"[{escape(label)}]({safe})")


def clip(text: str, limit: int) -> PlainText:
    """At most `limit` characters, cut at a word boundary with an ellipsis (never mid-word)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return PlainText(text)
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 3:
        cut = cut[:space]
    return PlainText(cut.rstrip(" ,;:") + "…")


def fields(template: str) -> set[str]:
    """The placeholder names in a template (used by the loader to check them)."""
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name is not None}


def words(text: str) -> int:
    """Words as a reader counts them (Markdown punctuation is not a word)."""
    return len(re.findall(r"[^\s*#>\-|]+", text))
