"""A list page's one GET form (a search box, filter selects, a sort select) and its pages ("Next page", "First page").

What the person typed or chose is shown back as it was and becomes the service's query; a select's value that is
none of its options counts as its default. The service pages by keyset: the next page's link carries its
`next_cursor`, with the same search, filters and sort. Works without JavaScript: it is a plain form and links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from services.portal import i18n
from services.portal.clients.transport import ServiceError
from services.portal.pages.base import language_of, t

PAGE_SIZE = 50  # rows a page shows
LIST_PARAMETERS = ("q", "state", "right", "sort", "cursor")  # what a list page's address may carry


@dataclass(frozen=True)
class Choice:
    """A select of the form: its parameter, the message key of its label, and its options' values (the first is the
    default and means "any"; each option's label is the message `<label>.<value>`). Options that are the vendor's
    data (configurations from the catalogue) are labelled by `authored` instead: value → its name, shown as written
    (marked `data-authored`)."""

    name: str
    label: str
    options: Sequence[str]
    authored: Mapping[str, str] | None = None

    def option_label(self, request: web.Request, value: str) -> str:
        if self.authored is not None and value in self.authored:
            return self.authored[value]
        return t(request, f"{self.label}.{value or 'any'}")


@dataclass(frozen=True)
class ListForm:
    path: str
    choices: Sequence[Choice]
    values: Mapping[str, str]  # q and each choice, as the form shows them
    cursor: str

    @classmethod
    def read(cls, request: web.Request, path: str, choices: Sequence[Choice]) -> ListForm:
        values = {"q": request.query.get("q", "").strip()}
        for choice in choices:
            chosen = request.query.get(choice.name, "")
            values[choice.name] = chosen if chosen in choice.options else choice.options[0]
        return cls(path, choices, values, request.query.get("cursor", ""))

    def chosen(self) -> dict[str, str]:
        """The search and the choices that are not their defaults: the page's own query, without the cursor."""
        defaults = {choice.name: choice.options[0] for choice in self.choices}
        return {name: value for name, value in self.values.items() if value and value != defaults.get(name)}

    def query(self) -> dict[str, str]:
        """The service's query: the form's values that are not "any" (an empty option), the page size, the cursor."""
        query = {name: value for name, value in self.values.items() if value}
        query["limit"] = str(PAGE_SIZE)
        if self.cursor:
            query["cursor"] = self.cursor
        return query

    @property
    def searching(self) -> bool:
        """Whether the list shows only some rows: "No … match" rather than "none yet" when it is empty."""
        return any(name != "sort" for name in self.chosen())

    def link(self, cursor: str | None = None) -> str:
        query = self.chosen() | ({"cursor": cursor} if cursor else {})
        return self.path + ("?" + urlencode(query) if query else "")

    def context(self, request: web.Request, next_cursor: str | None) -> dict[str, object]:
        """What _lists.html needs: the form's selects with their labels, the values, the page links."""
        selects = [
            (c.name, t(request, c.label), [(o, c.option_label(request, o)) for o in c.options], c.authored is not None)
            for c in self.choices
        ]
        return {
            "list_path": self.path,
            "list_selects": selects,
            "list_values": self.values,
            "searching": self.searching,
            "next_page": self.link(next_cursor) if next_cursor else None,
            "first_page": self.link() if self.cursor else None,
            "list_back": self.back(),
        }

    def refused(self, request: web.Request, exc: ServiceError) -> dict[str, str] | None:
        """The service refused the form's query (422): the errors by field, and under "_list" what concerns the
        list as a whole (a page link we did not hand out, or one too old); None for any other refusal."""
        if exc.status != 422:
            return None
        fields = {"q": "q", **{c.name: c.name for c in self.choices}}
        errors = i18n.form_errors(language_of(request), exc, fields)
        if "_form" in errors:
            errors["_list"] = errors.pop("_form")
        if any(item.field.split(".")[-1] == "cursor" for item in exc.field_errors):
            errors["_list"] = t(request, "lists.bad_cursor")
        return errors

    def back(self) -> str:
        """The list's own query (search, choices, cursor), for a form on the page to come back to the same page."""
        return urlencode(self.chosen() | ({"cursor": self.cursor} if self.cursor else {}))

    @staticmethod
    def back_to(path: str, back: str, **extra: str) -> str:
        """`path` with the list query a form brought back (`back`), only the list's own parameters kept."""
        kept = {key: value for key, value in parse_qsl(back) if key in LIST_PARAMETERS}
        query = kept | extra
        return path + ("?" + urlencode(query) if query else "")
