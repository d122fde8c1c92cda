"""Operators' Markdown shown to subscribers (UPD-1, UPD-2, UPD-6): whatever the source, the HTML carries no
script, no event handler, no raw tag and no link other than http, https, mailto or a fragment."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.markdown import LINK_REL, link_allowed, render, render_inline

# What the renderer may produce: CommonMark's own tags, tables and strikethrough; no <img>, no raw HTML.
ALLOWED_TAGS = {
    "p", "em", "strong", "s", "code", "pre", "blockquote", "ul", "ol", "li", "hr", "br", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    ("a", "href"),
    ("a", "rel"),
    ("a", "title"),
    ("ol", "start"),
    ("code", "class"),
    ("th", "style"),
    ("td", "style"),
}


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser.tags


def assert_safe(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, f"<{tag}> in {html!r}"
        for name, value in attrs:
            assert (tag, name) in ALLOWED_ATTRIBUTES, f"{name}= on <{tag}> in {html!r}"
            if name == "href":
                assert value is not None and link_allowed(value), f"href={value!r} in {html!r}"
            if name == "style":
                assert value in ("text-align:left", "text-align:right", "text-align:center"), value
            if name == "rel":
                assert value == LINK_REL
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<iframe" not in lowered


HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "<iframe src=https://evil.example></iframe>",
    "<svg onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<!-- <script>x</script> -->",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;avascript&#58;alert(1))",
    "[click](%6Aavascript:alert(1))",
    "[click]( javascript:alert(1) )",
    "[click](vbscript:msgbox(1))",
    "[click](file:///etc/passwd)",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    "![x](https://tracker.example/pixel.gif)",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    '[x](https://ok.example/"onmouseover="alert(1))',
    "[x](https://ok.example/ 'title\" onmouseover=\"alert(1)')",
    '```js" onclick="alert(1)\ncode\n```',
    "| a | b |\n|---|---|\n| <script>x</script> | [y](javascript:z) |",
    "> " * 500 + "deep",
    "* " * 500 + "deep",
    "[" * 10_000 + "x" + "]" * 10_000,
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_renders_as_harmless_html(source: str) -> None:
    html = render(source)
    assert_safe(html)
    assert "javascript:" not in html.lower() or "&lt;" in html or "[" in html  # only ever as text


def test_raw_html_is_shown_as_text_not_interpreted() -> None:
    assert render("<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    assert render("<img src=x onerror=alert(1)>") == "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n"
    assert "onerror" not in "".join(name for _, attrs in elements(render("<img onerror=x>")) for name, _ in attrs)


def test_javascript_and_data_links_stay_text() -> None:
    for source in ("[x](javascript:alert(1))", "[x](data:text/html,hi)", "[x](&#106;avascript:alert(1))"):
        html = render(source)
        assert "<a" not in html, html
        assert html.startswith("<p>[x](")


def test_web_and_mail_links_are_links_with_rel() -> None:
    html = render("See [the notes](https://its.example/notes?a=1&b=2) or [mail us](mailto:support@its.example).")
    assert '<a href="https://its.example/notes?a=1&amp;b=2" rel="nofollow noopener noreferrer">the notes</a>' in html
    assert '<a href="mailto:support@its.example" rel="nofollow noopener noreferrer">mail us</a>' in html
    assert '<a href="#step-2"' in render("[step 2](#step-2)")
    assert '<a href="http://its.example/"' in render("<http://its.example/>")


def test_relative_and_protocol_relative_links_are_refused() -> None:
    assert "<a" not in render("[x](/v1/kits)")
    assert "<a" not in render("[x](//evil.example/)")
    assert "<a" not in render("[x](https:evil.example)")


def test_quotes_in_a_link_cannot_open_an_attribute() -> None:
    html = render('[x](https://ok.example/"onmouseover="alert(1))')
    [attrs] = [attrs for tag, attrs in elements(html) if tag == "a"]
    assert {name for name, _ in attrs} == {"href", "rel"}
    html = render("[x](https://ok.example/ 'title\" onmouseover=\"alert(1)')")
    [attrs] = [attrs for tag, attrs in elements(html) if tag == "a"]
    assert {name for name, _ in attrs} == {"href", "title", "rel"}  # the quote stays inside the title


def test_images_are_not_rendered() -> None:
    html = render("![chart](https://tracker.example/pixel.gif)")
    assert "<img" not in html and "tracker.example" in html  # alt text, as a link the reader may follow


def test_ordinary_release_notes_render() -> None:
    html = render("# What's new\n\n* **VAT** return 2026\n* ~~old~~ form\n\n| Form | Status |\n|---|---|\n| 1 | ok |")
    assert "<h1>What's new</h1>" in html
    assert "<strong>VAT</strong>" in html and "<s>old</s>" in html
    assert "<table>" in html and "<td>ok</td>" in html
    assert render("") == ""


def test_inline_rendering_has_no_paragraph_and_no_raw_html() -> None:
    assert render_inline("**Bold** <b>raw</b>") == "<strong>Bold</strong> &lt;b&gt;raw&lt;/b&gt;"
    assert render_inline("") == ""
    assert "<a" not in render_inline("[x](javascript:alert(1))")


# Pieces of hostile Markdown, shuffled together by hypothesis.
# fmt: off
PIECES = [
    "<", ">", "[", "]", "(", ")", "!", "`", '"', "'", "&", "#", ";", ":", "\n", " ", "\t", "|", "-", "*",
    "javascript", "data", "script", "img", "onerror=", "href=", "http://x.example", "mailto:", "&#106;",
    "%0a", "\\", "a", "1",
]
# fmt: on


def test_an_empty_link_target_is_no_link() -> None:
    """markdown-it does not ask validateLink about an empty target (hypothesis found `[a]()`)."""
    for source in ("[a]()", "[a]( )", "[a](<>)"):
        html = render(source)
        assert_safe(html)
        assert "href" not in html


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
def test_any_mix_of_hostile_pieces_renders_safely(source: str) -> None:
    assert_safe(render(source))
    assert_safe(render_inline(source))
