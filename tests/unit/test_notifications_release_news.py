"""Release news without I/O (UPD-3): who is told of which release, the e-mail in both languages, what's new as
plain text, the signed unsubscribe token, the RFC 8058 headers on the wire, the settings that refuse a bad setup."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiosmtplib.email import flatten_message
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.notifications.addresses import Unsendable
from services.notifications.app import NotificationsSettings
from services.notifications.delivery import OutgoingEmail, message_id
from services.notifications.mailer import Mailer, MailFigures, SmtpTransport
from services.notifications.releases import Owner, ReleaseLinks, announces, release_audience, release_email
from services.notifications.rendering import RenderedEmail, Renderer
from services.notifications.summary import ELLIPSIS, plain_summary, plain_text, shorten
from services.notifications.unsubscribe import BadToken, sign, verify
from shared.events.updates import ReleasePublished

SECRET = b"unit-test-unsubscribe-secret"
LINKS = ReleaseLinks(public_url="https://its.test", secret=SECRET)
PAGE = "https://its.test/releases/ACC/3.0.41.60"
UNSUBSCRIBE = "https://its.test/unsubscribe?token=u1.abc.def"
SETTINGS = "https://its.test/notifications"


def release(**changes: Any) -> ReleasePublished:
    values: dict[str, Any] = {
        "release_id": uuid.uuid4(),
        "kind": "configuration",
        "configuration": "ACC",
        "configuration_name": "Accounting <PROF> & Co",
        "version": "3.0.41.60",
        "release_date": date(2030, 3, 1),
        "its_issue": "ITS 2030/03",
        "whats_new": "- New VAT rates\n- Faster <posting>",
        "min_platform": "8.3.24",
    }
    return ReleasePublished(**{**values, **changes})


def platform_release(**changes: Any) -> ReleasePublished:
    return release(kind="platform", configuration=None, configuration_name=None, version="8.3.25.1345", **changes)


def owner(language: str = "en", **changes: Any) -> Owner:
    values: dict[str, Any] = {
        "account_id": uuid.uuid4(),
        "email": "olga@example.com",
        "login": "olga",
        "full_name": "Olga Owner",
        "language": language,
        "subscribers": [("Romashka & Co", "CL-1234567")],
    }
    return Owner(**{**values, **changes})


def render(event: ReleasePublished, to: Owner) -> RenderedEmail:
    request = release_email(event, to, page_url=PAGE, unsubscribe_url=UNSUBSCRIBE, settings_url=SETTINGS)
    return Renderer().render(request.template, request.language, request.context)


# ---- who hears of which release --------------------------------------------------------------------


def test_a_configuration_release_is_for_the_owners_of_that_configuration_a_platform_release_for_all() -> None:
    assert release_audience(release()) == "ACC"
    assert release_audience(platform_release()) is None


def test_a_configuration_release_that_names_no_configuration_can_never_be_sent() -> None:
    with pytest.raises(Unsendable, match="names no configuration"):
        release_audience(release(configuration=None))


def test_prereleases_are_not_announced() -> None:
    assert announces(release())
    assert not announces(release(prerelease=True))


def test_the_links_are_the_portals_pages_at_the_public_address() -> None:
    assert LINKS.page(release()) == "https://its.test/releases/ACC/3.0.41.60"
    assert LINKS.page(platform_release()) == "https://its.test/releases/platform/8.3.25.1345"
    assert LINKS.settings() == SETTINGS
    behind_a_prefix = ReleaseLinks(public_url="https://its.example/its", secret=SECRET)
    assert behind_a_prefix.page(release(configuration="A/B C", version="1.0 ?x")) == (
        "https://its.example/its/releases/A%2FB%20C/1.0%20%3Fx"
    )


def test_each_account_has_its_own_unsubscribe_link() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    link = LINKS.unsubscribe(first)
    assert link == f"https://its.test/unsubscribe?token={sign(SECRET, first)}"
    assert link != LINKS.unsubscribe(second)
    assert verify(SECRET, link.rpartition("token=")[2]) == first


# ---- the e-mail -------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_release_email_names_the_release_and_links_to_its_page_and_to_unsubscribe(language: str) -> None:
    mail = render(release(), owner(language))
    for part in (mail.text, mail.html):
        assert "3.0.41.60" in part
        assert "ITS 2030/03" in part
        assert "8.3.24" in part
        assert PAGE in part
        assert UNSUBSCRIBE in part
        assert "CL-1234567" in part
    assert {"en": "1 March 2030", "ru": "01.03.2030"}[language] in mail.text
    assert "- New VAT rates\n- Faster <posting>" in mail.text
    assert f'<html lang="{language}">' in mail.html


def test_the_release_email_in_each_language() -> None:
    english, russian = render(release(), owner("en")), render(release(), owner("ru"))
    assert english.subject == "Accounting <PROF> & Co 3.0.41.60 is released"
    assert english.text.startswith("Hello, Olga Owner!")
    assert russian.subject == "Вышел релиз 3.0.41.60 конфигурации «Accounting <PROF> & Co»"
    assert russian.text.startswith("Здравствуйте, Olga Owner!")
    assert "Требуется платформа: 8.3.24 или новее" in russian.text
    assert render(release(), owner("de")).subject == english.subject  # no templates yet: English


def test_names_operators_and_customers_typed_are_escaped_in_html_and_kept_in_text() -> None:
    mail = render(release(), owner(subscribers=[("<b>Romashka</b>", "CL-1")], full_name='<script>"x"</script>'))
    assert "Accounting &lt;PROF&gt; &amp; Co" in mail.html
    assert "Faster &lt;posting&gt;" in mail.html
    assert "&lt;b&gt;Romashka&lt;/b&gt;" in mail.html
    for raw in ("<PROF>", "<posting>", "<b>Romashka", "<script>"):
        assert raw not in mail.html
        assert raw in mail.text


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_platform_release_email_says_how_much_the_update_matters(language: str) -> None:
    mail = render(platform_release(grade="mandatory"), owner(language))
    assert (
        mail.subject == {"en": "Platform 8.3.25.1345 is released", "ru": "Вышла версия 8.3.25.1345 платформы"}[language]
    )
    assert {"en": "Update: mandatory", "ru": "Обновление: обязательное"}[language] in mail.text
    assert "8.3.24" not in mail.text  # a configuration's minimum platform: not for a platform release
    assert {"en": "which has registered software", "ru": "у которого зарегистрированы программы"}[language] in mail.text


def test_the_owner_of_several_subscribers_gets_one_email_naming_them_all() -> None:
    mail = render(release(), owner(subscribers=[("A", "CL-1"), ("B", "CL-2")]))
    assert 'the subscribers "A" (CL-1), "B" (CL-2), registered for this configuration' in mail.text


def test_without_a_configuration_name_the_code_is_shown_once() -> None:
    mail = render(release(configuration_name=None), owner())
    assert mail.subject == "ACC 3.0.41.60 is released"
    assert 'configuration "ACC" is released' in mail.text


def test_greets_by_login_without_a_full_name_and_leaves_out_what_the_release_has_not() -> None:
    mail = render(release(whats_new="", min_platform=None), owner(full_name=None))
    assert mail.text.startswith("Hello, olga!")
    assert "What's new" not in mail.text
    assert "Platform required" not in mail.text


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"email": "not an address"}, "not an e-mail address"), ({"email": "a@b.c\r\nBcc: x@y.z"}, "e-mail address")],
)
def test_an_owner_who_cannot_be_written_to_is_unsendable(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unsendable, match=reason):
        release_email(release(), owner(**changes), page_url=PAGE, unsubscribe_url=UNSUBSCRIBE, settings_url=SETTINGS)


def test_only_web_links_go_into_the_release_email() -> None:
    with pytest.raises(Unsendable):
        release_email(
            release(), owner(), page_url="javascript:alert(1)", unsubscribe_url=UNSUBSCRIBE, settings_url=SETTINGS
        )
    with pytest.raises(Unsendable):
        release_email(release(), owner(), page_url=PAGE, unsubscribe_url="mailto:x@y.z", settings_url=SETTINGS)


# ---- what's new, as plain text ------------------------------------------------------------------------


def test_whats_new_loses_its_markup_and_keeps_its_structure() -> None:
    markdown = (
        "# Changes\n\nSome *em* and **bold** and `code`.\nSame paragraph.\n\n"
        "- first\n- second\n  - nested\n\n1. one\n2. two\n\n> quoted\n\n```\nfenced\n```\n\n"
        "[the notes](https://docs.test/n?a=1) and [bad](javascript:alert(1)) and <b>raw</b>"
    )
    assert plain_text(markdown) == (
        "Changes\n\nSome em and bold and code. Same paragraph.\n\n"
        "- first\n- second\n  - nested\n\n1. one\n2. two\n\nquoted\n\nfenced\n\n"
        "the notes (https://docs.test/n?a=1) and [bad](javascript:alert(1)) and <b>raw</b>"
    )


def test_a_long_whats_new_is_cut_at_a_word_with_an_ellipsis() -> None:
    summary = plain_summary("word " * 1000, limit=100)
    assert len(summary) <= 100
    assert summary.endswith("word" + ELLIPSIS)
    assert shorten("x" * 200, 50) == "x" * 49 + ELLIPSIS
    assert shorten("  short  ", 50) == "short"
    assert plain_summary("") == ""


# ---- the unsubscribe token ----------------------------------------------------------------------------


def test_the_token_names_its_account_and_verifies() -> None:
    account_id = uuid.uuid4()
    token = sign(SECRET, account_id)
    assert token.startswith("u1.")
    assert verify(SECRET, token) == account_id
    assert sign(SECRET, account_id) == token  # stable: every e-mail to the account carries the same link


def _tampered() -> list[str]:
    account_id = uuid.uuid4()
    token = sign(SECRET, account_id)
    version, account, mac = token.split(".")
    other = sign(SECRET, uuid.uuid4()).split(".")[1]
    return [
        f"{version}.{account}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # the signature changed
        f"{version}.{other}.{mac}",  # another account under this signature
        f"{version}.{account}.{mac}=",  # another spelling of the same bytes
        f"{version}.{account}",
        f"u2.{account}.{mac}",
        f"{version}.{account[:-2]}.{mac}",  # not 16 bytes
        f"{version}.{account}.{mac}.extra",
        f"{version}.{account}.{mac}é",
        sign(b"another-secret-of-someone-else", account_id),
        "u1.!!.!!",
        "",
        "u1." + "A" * 200,
    ]


@pytest.mark.parametrize("token", _tampered())
def test_a_tampered_or_foreign_token_is_refused(token: str) -> None:
    with pytest.raises(BadToken):
        verify(SECRET, token)


# ---- on the wire: RFC 8058 -------------------------------------------------------------------------


class FixedClock:
    def now(self) -> datetime:
        return datetime(2030, 1, 10, 9, 30, tzinfo=UTC)


def mailer() -> Mailer:
    return Mailer(
        SmtpTransport("127.0.0.1", 1, "none", 1.0),
        FixedClock(),
        sender="ITS Portal <no-reply@its-portal.local>",
        max_attempts=3,
        figures=MailFigures.registered(CollectorRegistry()),
    )


def outgoing(**changes: Any) -> OutgoingEmail:
    values: dict[str, Any] = {
        "delivery_id": 1,
        "event_id": uuid.uuid4(),
        "template": "release_published",
        "recipient": "olga@example.com",
        "subject": "Вышел релиз 3.0.41.60 конфигурации «Бухгалтерия предприятия, редакция 3.0» для всех",
        "body_text": "Текст",
        "body_html": "<p>Текст</p>",
        "status": "pending",
        "attempts": 0,
    }
    return OutgoingEmail(**{**values, **changes})


def test_a_release_email_carries_one_click_unsubscribe_headers_on_one_line() -> None:
    link = "https://notifications.its-portal.example.com/v1/unsubscribe?token=" + sign(SECRET, uuid.uuid4())
    account_id = uuid.uuid4()
    email = outgoing(account_id=account_id, unsubscribe_url=link)
    wire = flatten_message(mailer().build_message(email)).decode()  # as aiosmtplib sends it
    assert f"\r\nList-Unsubscribe: <{link}>\r\n" in f"\r\n{wire}"
    assert "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in wire
    assert f"\r\nMessage-ID: <{email.event_id}.{account_id}@its-portal.local>\r\n" in wire
    assert "=?utf-8?" in wire  # the Russian subject is still encoded as usual


def test_other_emails_carry_no_unsubscribe_headers_and_keep_their_message_id() -> None:
    email = outgoing(template="email_verification")
    message = mailer().build_message(email)
    assert "List-Unsubscribe" not in message
    assert "List-Unsubscribe-Post" not in message
    assert message["Message-ID"] == f"<{email.event_id}@its-portal.local>"


def test_each_accounts_email_of_one_event_has_its_own_message_id() -> None:
    event_id, sender = uuid.uuid4(), "ITS Portal <no-reply@its-portal.local>"
    first, second = uuid.uuid4(), uuid.uuid4()
    assert message_id(event_id, sender, first) == message_id(event_id, sender, first)
    assert message_id(event_id, sender, first) != message_id(event_id, sender, second)
    assert message_id(event_id, sender) == f"<{event_id}@its-portal.local>"


# ---- settings ------------------------------------------------------------------------------------------


def test_production_refuses_the_development_unsubscribe_secret() -> None:
    with pytest.raises(ValidationError, match="ITS_UNSUBSCRIBE_SECRET"):
        NotificationsSettings(env="production")
    NotificationsSettings(env="production", unsubscribe_secret="a-long-random-production-secret-value")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"unsubscribe_secret": "short"}, "at least 16"),
        ({"public_url": "its.example.com"}, "web address"),
        ({"public_url": "ftp://mail.example"}, "web address"),
        ({"public_url": "https://its.example.com/?x=1"}, "web address"),
    ],
)
def test_settings_refuse_what_would_break_the_links(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NotificationsSettings(**changes)
