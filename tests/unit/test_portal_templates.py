"""The portal's templates say one thing once: a table that scrolls on a phone is `_tables.html`'s `scroll_table`."""

from __future__ import annotations

import jinja2

from services.portal.app import TEMPLATES


def test_a_scrolling_table_is_one_labelled_focusable_region() -> None:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    page = environment.from_string(
        '{% import "_tables.html" as tables %}'
        "{% call tables.scroll_table(label) %}<tbody><tr><td>{{ cell }}</td></tr></tbody>{% endcall %}"
    )
    html = page.render(label='Users "and" <staff>', cell="<b>")
    assert html == (
        '<div class="table-scroll" tabindex="0" role="region" aria-label="Users &#34;and&#34; &lt;staff&gt;">\n'
        "<table>\n<tbody><tr><td>&lt;b&gt;</td></tr></tbody>\n</table>\n</div>"
    )


def test_no_template_writes_the_scrolling_wrapper_again() -> None:
    writing = sorted(
        path.name
        for path in TEMPLATES.glob("*.html")
        if 'class="table-scroll"' in path.read_text() and path.name != "_tables.html"
    )
    assert writing == [], "use {% call tables.scroll_table(label) %} from _tables.html"


def test_a_checkbox_keeps_its_tick_and_says_its_error_beside_it() -> None:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    page = environment.from_string(
        '{% import "_forms.html" as forms with context %}'
        "{{ forms.checkbox('admin', 'Administrator', checked=values.get('admin') == 'yes') }}"
    )
    ticked = page.render(values={"admin": "yes"}, errors={"admin": "Say <why>"})
    assert '<input type="checkbox" id="f-admin" name="admin" value="yes" checked aria-invalid="true"' in ticked
    assert 'aria-describedby="e-admin"' in ticked and '<p class="error" id="e-admin">Say &lt;why&gt;</p>' in ticked
    assert '<label for="f-admin">Administrator</label>' in ticked
    plain = page.render(values={}, errors={})
    assert "checked" not in plain and "aria-" not in plain and 'class="field checkbox"' in plain
