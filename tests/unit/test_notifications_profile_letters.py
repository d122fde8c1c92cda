"""ACC-4's letters without I/O: the link to the new address, and the word to the old one, in both languages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.notifications.letters import email_change_email, email_changed_email
from services.notifications.rendering import RenderedEmail, Renderer
from services.notifications.wording import masked_address
from shared.events.identity import EmailChanged, EmailChangeRequested, Language

MOSCOW = ZoneInfo("Europe/Moscow")
MOMENT = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
SHOWN = {"en": "15 January 2030, 15:00 (UTC+03:00)", "ru": "15.01.2030, 15:00 (UTC+03:00)"}
LINK = "https://portal.example/confirm-email?token=AbC_123&x=1"


def requested(language: Language = "en", full_name: str | None = "Ivan Petrov") -> EmailChangeRequested:
    return EmailChangeRequested(
        account_id=uuid.uuid4(),
        login="ivanp",
        full_name=full_name,
        language=language,
        new_email="nina.new@example.org",
        confirmation_url=LINK,
        expires_at=MOMENT,
    )


def changed(language: Language = "en", *, verified: bool = True) -> EmailChanged:
    return EmailChanged(
        account_id=uuid.uuid4(),
        login="ivanp",
        full_name='Ivan <b>"Petrov"</b>',
        language=language,
        old_email="ivan@example.com",
        old_email_verified=verified,
        new_email="nina.new@example.org",
        changed_at=MOMENT,
    )


def render(template: str, language: str, context: dict[str, object]) -> RenderedEmail:
    return Renderer().render(template, language, context)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_link_goes_to_the_new_address_with_how_long_it_works(language: Language) -> None:
    request = email_change_email(requested(language), MOSCOW)
    assert (request.recipient, request.language) == ("nina.new@example.org", language)
    mail = render(request.template, request.language, request.context)
    for part in (mail.text, mail.html):
        assert "nina.new@example.org" in part and "ivanp" in part and SHOWN[language] in part
    assert LINK in mail.text
    assert f'href="{LINK.replace("&", "&amp;")}"' in mail.html
    assert "ivan@example.com" not in mail.text  # the old address is not shown to the new one


def test_the_link_letter_in_each_language() -> None:
    english = email_change_email(requested("en"), MOSCOW)
    mail = render(english.template, "en", english.context)
    assert mail.subject == "Confirm your new e-mail address for ITS Portal"
    assert mail.text.startswith("Hello, Ivan Petrov!") and "Your address changes when you open it." in mail.text
    russian = email_change_email(requested("ru", full_name=None), MOSCOW)
    mail = render(russian.template, "ru", russian.context)
    assert mail.subject == "Подтвердите новый адрес электронной почты на портале ИТС"
    assert mail.text.startswith("Здравствуйте, ivanp!") and "Адрес сменится, когда вы откроете ссылку." in mail.text


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_old_address_is_told_to_which_address_masked_and_when(language: Language) -> None:
    request = email_changed_email(changed(language), MOSCOW)
    assert request is not None
    assert (request.recipient, request.language) == ("ivan@example.com", language)
    mail = render(request.template, request.language, request.context)
    for part in (mail.text, mail.html):
        assert "n***@example.org" in part and "nina.new" not in part
        assert SHOWN[language] in part and "ivanp" in part
    assert 'Ivan <b>"Petrov"</b>' in mail.text and "&lt;b&gt;" in mail.html and "<b>" not in mail.html
    expected = {
        "en": ("The e-mail address of your ITS Portal account was changed", "If it was not you"),
        "ru": ("Адрес электронной почты вашей учётной записи на портале ИТС изменён", "Если это сделали не вы"),
    }
    subject, warning = expected[language]
    assert mail.subject == subject and warning in mail.text and warning in mail.html


def test_an_old_address_never_verified_is_not_written_to() -> None:
    """It may be a stranger's, mistyped at sign-up."""
    assert email_changed_email(changed(verified=False), MOSCOW) is None


@pytest.mark.parametrize(
    ("address", "masked"),
    [("nina@example.org", "n***@example.org"), ("x@y.z", "x***@y.z"), ("a@b@c.d", "a***@c.d"), ("odd", "odd")],
)
def test_masked_addresses_keep_the_first_letter_and_the_domain(address: str, masked: str) -> None:
    assert masked_address(address) == masked
