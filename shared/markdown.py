"""Markdown that people write (operators' release notes and articles, UPD-1, UPD-2, UPD-6; support's questions and
answers, SUP-1) shown to others as HTML: the HTML must be safe whatever the source says.

CommonMark (markdown-it-py) plus tables and strikethrough, with:
- raw HTML off: `<script>`, `<img onerror=...>` and every other tag come out as text;
- links only to http, https and mailto (and `#fragments` within the page); anything else (javascript:,
  data:, vbscript:, file:, relative paths) stays text, not a link;
- links get `rel="nofollow noopener noreferrer"`: an operator's note should not lend the portal's
  reputation or the page's `window.opener` to another site;
- no images: a picture from another host tells that host who reads the page, and data: URIs are a
  classic way around filters; `![alt](url)` shows its alt text as a link instead.
Sources are length-limited by the API (MAX_* below) so one page never renders megabytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

# Source length limits (characters), used by the API's models.
MAX_SHORT = 20_000  # what's new, update procedure, migration notes, differences
MAX_LONG = 200_000  # a full change list, an article, a ReadMe
MAX_LINE = 1_000  # one item of a list (major changes)

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
LINK_REL = "nofollow noopener noreferrer"


def link_allowed(url: str) -> bool:
    """An http(s) or mailto URL, or a fragment of this page. Everything else is refused, including a
    relative path (its meaning depends on where the page is shown) and a protocol-relative `//host`."""
    url = url.strip()
    if url.startswith("#"):
        return True
    match = _SCHEME.match(url)
    if match is None:
        return False
    scheme = match.group(1).lower()
    if scheme not in ALLOWED_SCHEMES:
        return False
    return scheme == "mailto" or url[match.end() :].startswith("//")


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    href = tokens[idx].attrGet("href")
    if not isinstance(href, str) or not link_allowed(href):
        # markdown-it judges every target but an empty one (`[a]()`): an <a> with no href is plain text.
        tokens[idx].attrs.pop("href", None)
        result_text: str = self.renderToken(tokens, idx, options, env)
        return result_text
    tokens[idx].attrSet("rel", LINK_REL)
    result: str = self.renderToken(tokens, idx, options, env)
    return result


@cache
def _renderer() -> MarkdownIt:
    """One parser per process; MarkdownIt keeps no state between renders."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")
    # The links' targets are normalised (percent-encoded) before this check, so "java\tscript:" and
    # "JaVaScRiPt:" are judged as what a browser would see.
    md.validateLink = link_allowed  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    return md


def render(source: str) -> str:
    """Safe HTML of a Markdown source."""
    if not source:
        return ""
    html: str = _renderer().render(source)
    return html


def render_inline(source: str) -> str:
    """Safe HTML of one line (a list item, a title): inline Markdown only, no paragraph around it."""
    if not source:
        return ""
    html: str = _renderer().renderInline(source)
    return html
