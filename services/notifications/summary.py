"""A release's "what's new" (Markdown source, UPD-1) as a short plain-text summary for an e-mail.

Plain text in both parts of the e-mail: the HTML part escapes it, so nothing an operator typed becomes markup
or a link there; the full notes are on the release page the e-mail links to.
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

SUMMARY_LENGTH = 700
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"

# Raw HTML in the source stays text: it is shown, escaped, never interpreted.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def plain_summary(markdown: str, limit: int = SUMMARY_LENGTH) -> str:
    """The text of `markdown` without its markup, cut at a word boundary to at most `limit` characters."""
    return shorten(plain_text(markdown), limit)


def plain_text(markdown: str) -> str:
    """Headings and paragraphs as paragraphs, list items as `- item` / `1. item`, code as it is, a link as
    `text (address)`; blocks separated by a blank line, the items of one list by a line break."""
    blocks: list[tuple[str, int | None]] = []  # (text, the outermost list it is in, numbered from 1)
    lists: list[str] = []  # the kinds of the open lists, innermost last
    outermost = 0
    pending_marker: str | None = None  # set by a list item until its first block takes it
    for token in _MARKDOWN.parse(markdown):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            outermost += not lists
            lists.append(token.type)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            indent = "  " * (len(lists) - 1)
            pending_marker = indent + (f"{token.info}. " if lists[-1] == "ordered_list_open" else "- ")
        elif token.type == "inline" or token.type in ("fence", "code_block"):
            text = _inline(token.children or []) if token.type == "inline" else token.content.rstrip("\n")
            if not text.strip():
                continue
            if pending_marker is not None:
                text, pending_marker = pending_marker + text, None
            elif lists:
                text = "  " * len(lists) + text  # a list item's second block, under its text
            blocks.append((text, outermost if lists else None))
    out: list[str] = []
    for i, (text, in_list) in enumerate(blocks):
        if i > 0:
            out.append("\n" if in_list is not None and blocks[i - 1][1] == in_list else "\n\n")
        out.append(text)
    return "".join(out)


def _inline(children: Sequence[Token]) -> str:
    parts: list[str] = []
    href: str | None = None
    link_text: list[str] = []
    for child in children:
        target = link_text if href is not None else parts
        if child.type in ("text", "code_inline"):
            target.append(child.content)
        elif child.type == "softbreak":
            target.append(" ")
        elif child.type == "hardbreak":
            target.append("\n")
        elif child.type == "image":
            target.append(child.content)  # its alt text
        elif child.type == "link_open":
            href, link_text = str(child.attrs.get("href", "")), []
        elif child.type == "link_close" and href is not None:
            text = "".join(link_text)
            web = href.lower().startswith(("https://", "http://"))
            parts.append(f"{text} ({href})" if web and text and text != href else text or href)
            href = None
    return "".join(parts).strip()


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else cut at the last space before it and marked with an
    ellipsis (the ellipsis counted in the limit)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS) + 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    head = cut[:space] if space > limit // 2 else cut[: limit - len(ELLIPSIS)]
    return head.rstrip(" \n,;:-") + ELLIPSIS
