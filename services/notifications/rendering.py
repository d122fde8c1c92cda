"""E-mail templates (Jinja2): `templates/<template>/<language>/{subject.txt,body.txt,body.html}.j2` (the pages people
open from the e-mails are the portal's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).parent / "templates"


def line_breaks(text: str) -> Markup:
    """Plain text for an HTML part: escaped, every line break kept as `<br>`.

    No newline after the `<br>`: the text's block keeps its spaces with `white-space:pre-wrap`, and a newline
    there would show as a second line break.
    """
    return Markup("<br>").join(escape(line) for line in text.splitlines())


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class Renderer:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            # HTML parts escape every value (a full name is user input); text parts are sent as they are.
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            # A value missing from the context is a bug to see, not an empty space in someone's mail.
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self.env.filters["line_breaks"] = line_breaks

    def render(self, template: str, language: str, context: Mapping[str, Any]) -> RenderedEmail:
        values = {**context, "language": language}
        folder = f"{template}/{language}"
        subject = self.env.get_template(f"{folder}/subject.txt.j2").render(values)
        return RenderedEmail(
            # One line whatever the template holds: a header cannot span lines.
            subject=" ".join(subject.split()),
            text=self.env.get_template(f"{folder}/body.txt.j2").render(values),
            html=self.env.get_template(f"{folder}/body.html.j2").render(values),
        )
