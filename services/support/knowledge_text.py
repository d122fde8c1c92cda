"""SUP-2, the knowledge base's text, pure: what of a question or an article is searched (the words of its Markdown,
without the marks), the words a misspelling is corrected from, and a snippet made safe as HTML.

Snippets: PostgreSQL's `ts_headline` marks the matches with two control characters that never reach it from the
text (`plain` drops every control character), and the snippet is HTML-escaped afterwards; only then do the marks
become `<b>`/`</b>`. Whatever a body says (`<script>` included) comes out as text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import cache

from markdown_it import MarkdownIt

START, STOP = "\x02", "\x03"  # ts_headline's StartSel/StopSel
HEADLINE_OPTIONS = (
    f'StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "'
)
MAX_TEXT = 100_000  # characters of a question's thread kept for search: a tsvector stays far below its 1 MB
MIN_WORD, MAX_WORD = 3, 40  # the vocabulary of corrections: shorter words are not misspelled, longer ones not words

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD = re.compile(r"[^\W_]+")
_SPACES = re.compile(r"[ \t]+")


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def plain(markdown: str) -> str:
    """The words of Markdown as text: marks, link targets and markup dropped; code, and raw HTML (shown as text on
    the pages), kept as written."""
    blocks: list[str] = []
    for token in _parser().parse(markdown):
        if token.type == "inline":
            parts = [
                child.content if child.type not in ("softbreak", "hardbreak") else " "
                for child in token.children or []
                if child.type in ("text", "code_inline", "html_inline", "softbreak", "hardbreak")
            ]
            blocks.append("".join(parts))
        elif token.type in ("fence", "code_block", "html_block"):
            blocks.append(token.content)
    text = "\n".join(block.strip() for block in blocks if block.strip())
    return _SPACES.sub(" ", _CONTROL.sub(" ", text))[:MAX_TEXT]


def thread_text(body: str, messages: Iterable[str]) -> str:
    """A question's searchable body: the question's and every message's words, in order."""
    return "\n".join(plain(part) for part in (body, *messages))[:MAX_TEXT]


def words(*texts: str) -> set[str]:
    """The distinct words (lower case, 3 to 40 letters or digits) of the texts."""
    return {w.lower() for text in texts for w in _WORD.findall(text) if MIN_WORD <= len(w) <= MAX_WORD}


def query_words(query: str) -> list[str]:
    """The words of a search as typed, in order (for a correction)."""
    return _WORD.findall(query)


def safe_snippet(headline: str) -> str:
    """ts_headline's answer as HTML: the text escaped, then only its marks as <b>…</b>."""
    if headline.count(START) != headline.count(STOP):  # never from ts_headline; then no marks at all
        headline = headline.replace(START, "").replace(STOP, "")
    return html.escape(headline).replace(START, "<b>").replace(STOP, "</b>")
