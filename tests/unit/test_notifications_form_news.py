"""Reporting form news without I/O (DAT-2): one e-mail per owner over the form's configurations, in both languages,
with the forms page and release news' unsubscribe link."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from services.notifications.form_news import FormOwner, form_email, forms_page, merged_owners
from services.notifications.releases import Owner, ReleaseLinks
from services.notifications.rendering import RenderedEmail, Renderer
from shared.events.updates import ReportingFormPublished

LINKS = ReleaseLinks(public_url="https://its.test", secret=b"unit-test-unsubscribe-secret")
UNSUBSCRIBE = "https://its.test/unsubscribe?token=u1.abc.def"
SETTINGS = "https://its.test/notifications"


def form(**changes: Any) -> ReportingFormPublished:
    values: dict[str, Any] = {
        "form_id": uuid.uuid4(),
        "code": "1151001",
        "version": "5.01",
        "name": "VAT return <new> & Co",
        "applies_from": date(2027, 1, 1),
        "configurations": ["ACC", "TRADE"],
        "basis_number": "ED-7-3/1093@",
        "basis_date": date(2026, 10, 5),
        "changes": "- Section **3.1** for agents",
    }
    return ReportingFormPublished(**{**values, **changes})


def owner(account_id: uuid.UUID | None = None, language: str = "en", **changes: Any) -> Owner:
    values: dict[str, Any] = {
        "account_id": account_id or uuid.uuid4(),
        "email": "olga@example.com",
        "login": "olga",
        "full_name": "Olga Owner",
        "language": language,
        "subscribers": [("Romashka & Co", "CL-1234567")],
    }
    return Owner(**{**values, **changes})


def render(to: FormOwner) -> RenderedEmail:
    request = form_email(
        form(), to, page_url=forms_page(LINKS, to.configurations[0]), unsubscribe_url=UNSUBSCRIBE, settings_url=SETTINGS
    )
    return Renderer().render(request.template, request.language, request.context)


def test_dat2_an_owner_holding_two_of_the_configurations_gets_one_email_naming_both_subscribers() -> None:
    olga = uuid.uuid4()
    both = merged_owners(
        {
            "TRADE": [owner(olga, subscribers=[("Lily", "CL-7654321")])],
            "ACC": [owner(olga), owner(email="ivan@example.com")],
        }
    )
    assert len(both) == 2
    [merged] = [o for o in both if o.owner.account_id == olga]
    assert merged.configurations == ["ACC", "TRADE"]
    assert merged.owner.subscribers == [("Lily", "CL-7654321"), ("Romashka & Co", "CL-1234567")]


@pytest.mark.parametrize(
    ("language", "subject", "words"),
    [
        ("en", 'Form 1151001 "VAT return <new> & Co": version 5.01 is released', ["Applies from: 1 January 2027"]),
        ("ru", "Вышла версия 5.01 формы 1151001 «VAT return <new> & Co»", ["Применяется с: 01.01.2027"]),
    ],
)
def test_dat2_the_form_email_in_the_owners_language(language: str, subject: str, words: list[str]) -> None:
    mail = render(FormOwner(owner(language=language), ["ACC"]))
    assert mail.subject == subject
    for word in [*words, "https://its.test/releases/ACC/forms", UNSUBSCRIBE, "ED-7-3/1093@", "Section 3.1 for agents"]:
        assert word in mail.text, (word, mail.text)
    assert "VAT return &lt;new&gt; &amp; Co" in mail.html and "<new>" not in mail.html
    assert "https://its.test/releases/ACC/forms" in mail.html
