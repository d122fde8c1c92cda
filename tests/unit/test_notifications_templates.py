"""notifications without I/O: templates in both languages, the rules in domain.py, the message built
for SMTP, the cursor of the delivery log."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from email import parser as email_parser
from email import policy as email_policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosmtplib
import jinja2
import pytest
from aiosmtplib.email import flatten_message
from prometheus_client import CollectorRegistry

from services.notifications.addresses import Unsendable, check_link, check_recipient
from services.notifications.api import PAGE_CURSOR, before_id
from services.notifications.delivery import OutgoingEmail, failure_reason, message_id, status_after_failure
from services.notifications.languages import LANGUAGES, pick_language
from services.notifications.letters import (
    EmailRequest,
    contract_activated_email,
    invitation_accepted_email,
    invitation_email,
    maintenance_activated_email,
    organisation_error_email,
    password_reset_email,
    products_authorised_email,
    verification_email,
)
from services.notifications.mailer import Mailer, MailFigures, SmtpTransport, is_permanent
from services.notifications.rendering import TEMPLATES, RenderedEmail, Renderer, line_breaks
from shared.events.contracts import ContractActivated, MaintenanceActivated, Organisation, OrganisationErrorReported
from shared.events.identity import (
    EmailVerificationRequested,
    InvitationAccepted,
    InvitationSent,
    Language,
    PasswordResetRequested,
)
from shared.events.registration import PartnerAuthorisedProducts
from shared.formats import format_period
from shared.pages import encode_cursor
from tests.notifications_samples import authorised_products

MOSCOW = ZoneInfo("Europe/Moscow")
EXPIRES = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
VALID_UNTIL = {
    "en": "15 January 2030, 15:00 (UTC+03:00)",
    "ru": "15.01.2030, 15:00 (UTC+03:00)",
}
LINK = "https://portal.example/v1/email-verifications/AbC_123?x=1&y=2"


def verification(language: Language = "en", full_name: str | None = "Ivan Petrov") -> EmailVerificationRequested:
    return EmailVerificationRequested(
        account_id=uuid.uuid4(),
        login="ivanp",
        email="ivan@example.com",
        full_name=full_name,
        language=language,
        verification_url=LINK,
        expires_at=EXPIRES,
    )


def render(request: EmailRequest) -> RenderedEmail:
    return Renderer().render(request.template, request.language, request.context)


# ---- ACC-2: the verification e-mail -------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ru"])
def test_verification_email_carries_the_link_and_how_long_it_is_valid(language: Language) -> None:
    mail = render(verification_email(verification(language), MOSCOW))
    assert LINK in mail.text
    assert VALID_UNTIL[language] in mail.text
    assert 'href="https://portal.example/v1/email-verifications/AbC_123?x=1&amp;y=2"' in mail.html
    assert VALID_UNTIL[language] in mail.html
    assert "Ivan Petrov" in mail.text
    assert "Ivan Petrov" in mail.html
    assert f'<html lang="{language}">' in mail.html


def test_verification_email_in_russian_is_written_in_russian() -> None:
    mail = render(verification_email(verification("ru"), MOSCOW))
    assert mail.subject == "Подтвердите адрес электронной почты на портале ИТС"
    assert mail.text.startswith("Здравствуйте, Ivan Petrov!")
    assert "ваш адрес электронной почты" in mail.text
    assert "Подтвердить адрес" in mail.html


def test_verification_email_in_english() -> None:
    mail = render(verification_email(verification("en"), MOSCOW))
    assert mail.subject == "Confirm your e-mail address for ITS Portal"
    assert mail.text.startswith("Hello, Ivan Petrov!")


@pytest.mark.parametrize("full_name", [None, "", "   "])
def test_greets_by_login_without_a_full_name(full_name: str | None) -> None:
    mail = render(verification_email(verification("en", full_name=full_name), MOSCOW))
    assert mail.text.startswith("Hello, ivanp!")


def test_html_part_escapes_what_people_typed_and_text_part_keeps_it() -> None:
    mail = render(verification_email(verification("en", full_name='<script>alert("x")</script>'), MOSCOW))
    assert "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert '<script>alert("x")</script>' in mail.text


@pytest.mark.parametrize("language", ["en", "ru"])
def test_password_reset_email_carries_the_link_and_validity(language: Language) -> None:
    event = PasswordResetRequested(
        account_id=uuid.uuid4(),
        login="ivanp",
        email="ivan@example.com",
        full_name=None,
        language=language,
        reset_url="https://portal.example/reset?t=Zz9",
        expires_at=EXPIRES,
    )
    mail = render(password_reset_email(event, MOSCOW))
    assert "https://portal.example/reset?t=Zz9" in mail.text
    assert 'href="https://portal.example/reset?t=Zz9"' in mail.html
    assert VALID_UNTIL[language] in mail.text
    assert "ivanp" in mail.text


# ---- INV-2, INV-3: the invitation; INV-5: the owner told it was accepted --------------------------

INVITATION_LINK = "https://portal.example/invitations/Tk_9-x?lang=ru&from=mail"
INVITATION_TEXT = {
    "en": 'Hello, Ivan Petrov!\n\nOlga Owner invites you to become a user of "Romashka".\n',
    "ru": "Здравствуйте, Ivan Petrov!\n\nOlga Owner приглашает вас стать пользователем абонента «Romashka».\n",
}


def invitation(language: Language = "en", **changes: object) -> InvitationSent:
    fields: dict[str, object] = {
        "invitation_id": uuid.uuid4(),
        "subscriber_id": uuid.uuid4(),
        "subscriber_name": "Romashka",
        "email": "ivan@example.com",
        "full_name": "Ivan Petrov",
        "its_access": True,
        "text": INVITATION_TEXT[language],
        "invitation_url": INVITATION_LINK,
        "valid_until": EXPIRES,
        "owner_name": "Olga Owner",
        "owner_email": "olga@example.com",
        "language": language,
    }
    return InvitationSent.model_validate({**fields, **changes})


def accepted(language: Language = "en", full_name: str | None = "Ivan Petrov", **changes: object) -> InvitationAccepted:
    fields: dict[str, object] = {
        "invitation_id": uuid.uuid4(),
        "subscriber_id": uuid.uuid4(),
        "subscriber_name": "Romashka",
        "account_id": uuid.uuid4(),
        "full_name": full_name,
        "email": "ivan@example.com",
        "owner_name": "Olga Owner",
        "owner_email": "olga@example.com",
        "owner_language": language,
    }
    return InvitationAccepted.model_validate({**fields, **changes})


@pytest.mark.parametrize("language", ["en", "ru"])
def test_invitation_email_carries_the_text_the_link_the_date_and_who_invites(language: Language) -> None:
    request = invitation_email(invitation(language), MOSCOW)
    assert (request.template, request.language, request.recipient) == ("invitation", language, "ivan@example.com")
    mail = render(request)
    assert INVITATION_TEXT[language] in mail.text  # INV-2: exactly what the owner read
    assert INVITATION_LINK in mail.text
    assert 'href="https://portal.example/invitations/Tk_9-x?lang=ru&amp;from=mail"' in mail.html
    assert VALID_UNTIL[language] in mail.text  # INV-3
    assert VALID_UNTIL[language] in mail.html
    for part in (mail.text, mail.html):
        assert "Olga Owner (olga@example.com)" in part
        assert "Romashka" in part
    assert f'<html lang="{language}">' in mail.html


def test_invitation_email_in_english() -> None:
    mail = render(invitation_email(invitation("en"), MOSCOW))
    assert mail.subject == 'Invitation to become a user of "Romashka" on ITS Portal'
    assert mail.text.startswith(INVITATION_TEXT["en"])  # INV-2: the owner's text is the message
    assert "Accept the invitation" in mail.html


def test_invitation_email_in_russian_is_written_in_russian() -> None:
    mail = render(invitation_email(invitation("ru"), MOSCOW))
    assert mail.subject == "Приглашение стать пользователем абонента «Romashka» на портале ИТС"
    assert mail.text.startswith(INVITATION_TEXT["ru"])
    assert "Приглашение действительно до 15.01.2030, 15:00 (UTC+03:00)" in mail.text
    assert "Принять приглашение" in mail.html
    assert "valid until" not in mail.text


@pytest.mark.parametrize("language", ["en", "ru"])
def test_invitation_text_is_kept_verbatim_in_plain_text_and_escaped_in_html(language: Language) -> None:
    text = 'Dear <b>Ivan</b> & co,\r\n\r\n  "Join us": <script>alert(1)</script>\nOlga'
    mail = render(invitation_email(invitation(language, text=text, subscriber_name="A&B <Ltd>"), MOSCOW))
    assert text in mail.text
    assert "<script>" not in mail.html
    assert "<b>Ivan</b>" not in mail.html
    assert "A&B <Ltd>" not in mail.html
    assert "A&amp;B &lt;Ltd&gt;" in mail.html
    escaped = "Dear &lt;b&gt;Ivan&lt;/b&gt; &amp; co,<br><br>  &#34;Join us&#34;: &lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"{escaped}<br>Olga</div>" in mail.html  # every line break kept


def test_line_breaks_escape_and_keep_every_kind_of_line_break() -> None:
    assert line_breaks("a\r\nb\rc\nd\n") == "a<br>b<br>c<br>d"
    assert line_breaks("<i>&</i>") == "&lt;i&gt;&amp;&lt;/i&gt;"
    assert line_breaks("") == ""


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"invitation_url": "javascript:alert(1)"}, "not a web link"),
        ({"invitation_url": "https://portal.example/a b"}, "not a web link"),
        ({"email": "Ivan <ivan@example.com>"}, "not an e-mail address"),
        ({"email": "ivan@example.com\r\nBcc: all@example.com"}, "not an e-mail address"),
    ],
)
def test_an_invitation_that_cannot_be_sent_is_unsendable(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(Unsendable, match=reason):
        invitation_email(invitation("en", **changes), MOSCOW)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_owner_is_told_who_accepted_the_invitation(language: Language) -> None:
    email = invitation_accepted_email(accepted(language))
    assert (email.template, email.language, email.recipient) == ("invitation_accepted", language, "olga@example.com")
    mail = render(email)
    for part in (mail.text, mail.html):
        assert "Ivan Petrov (ivan@example.com)" in part
        assert "Romashka" in part
    assert "Ivan Petrov" in mail.subject
    assert "Romashka" in mail.subject
    assert f'<html lang="{language}">' in mail.html
    greeting = {"en": "Hello, Olga Owner!", "ru": "Здравствуйте, Olga Owner!"}[language]
    assert mail.text.startswith(greeting)


def test_invitation_accepted_in_each_language() -> None:
    en = render(invitation_accepted_email(accepted("en")))
    ru = render(invitation_accepted_email(accepted("ru")))
    assert en.subject == 'Ivan Petrov accepted your invitation to "Romashka"'
    assert ru.subject == "Приглашение принято: Ivan Petrov, абонент «Romashka»"
    assert "Ваше приглашение принято: Ivan Petrov (ivan@example.com) теперь пользователь абонента «Romashka»" in ru.text


@pytest.mark.parametrize("full_name", [None, "", "  "])
def test_invitation_accepted_names_the_address_without_a_full_name(full_name: str | None) -> None:
    mail = render(invitation_accepted_email(accepted("en", full_name=full_name)))
    assert mail.subject == 'ivan@example.com accepted your invitation to "Romashka"'
    assert "ivan@example.com is now a user" in mail.text
    assert "()" not in mail.text


def test_invitation_accepted_to_an_owner_address_that_cannot_be_sent_to_is_unsendable() -> None:
    with pytest.raises(Unsendable, match="not an e-mail address"):
        invitation_accepted_email(accepted("en", owner_email="olga at example.com"))


# ---- REG-5: the partner's letter to the subscriber's owner; ITS-7: the free support period ------------

PRODUCTS = authorised_products()
PURCHASE_DATE = {"en": "1 March 2030", "ru": "01.03.2030"}
FREE_SUPPORT = {
    "en": "6 months of free ITS support from the purchase date",
    "ru": "6 месяцев бесплатной поддержки ИТС с даты покупки",
}


def authorised(language: Language = "en", **changes: object) -> PartnerAuthorisedProducts:
    fields: dict[str, object] = {
        "subscriber_id": uuid.uuid4(),
        "subscriber_code": "100-200-300",
        "subscriber_name": "Romashka",
        "partner_id": uuid.uuid4(),
        "partner_name": "SoftPartner",
        "purchase_date": date(2030, 3, 1),
        "products": PRODUCTS,
        "owner_email": "olga@example.com",
        "owner_name": "Olga Owner",
        "owner_language": language,
    }
    return PartnerAuthorisedProducts.model_validate({**fields, **changes})


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_partners_letter_lists_every_product_to_the_owner(language: Language) -> None:
    email = products_authorised_email(authorised(language))
    assert (email.template, email.language, email.recipient) == ("products_authorised", language, "olga@example.com")
    mail = render(email)
    for part in (mail.text, mail.html):
        for product in PRODUCTS:
            assert product.registration_number in part
            assert product.product_name in part
            assert product.edition in part
        assert "Accounting, Payroll" in part
        assert "SoftPartner" in part
        assert "Romashka" in part
        assert "100-200-300" in part
        assert PURCHASE_DATE[language] in part
        assert FREE_SUPPORT[language] in part  # ITS-7: a PROF product is listed
    assert f'<html lang="{language}">' in mail.html
    greeting = {"en": "Hello, Olga Owner!", "ru": "Здравствуйте, Olga Owner!"}[language]
    assert mail.text.startswith(greeting)


def test_the_partners_letter_in_each_language() -> None:
    en = render(products_authorised_email(authorised("en")))
    ru = render(products_authorised_email(authorised("ru")))
    assert en.subject == 'SoftPartner registered software for "Romashka" (100-200-300)'
    assert ru.subject == "Партнёр «SoftPartner» зарегистрировал программы для абонента «Romashka» (100-200-300)"
    assert "available now in the subscriber's personal account" in en.text
    assert "уже доступны в личном кабинете абонента" in ru.text
    assert "1. 1C:Accounting PROF\n   Registration number: 12345678903\n   Edition: PROF\n" in en.text
    assert "2. 1C:Trade BASIC\n   Регистрационный номер: 98765432106\n   Редакция: BASIC\n" in ru.text
    assert "Purchase date" not in ru.text


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_partners_letter_promises_no_free_support_for_basic_editions_only(language: Language) -> None:
    """ITS-7: BASIC editions have no free ITS period (they get updates without a contract)."""
    mail = render(products_authorised_email(authorised(language, products=PRODUCTS[1:])))
    assert PURCHASE_DATE[language] in mail.text
    assert FREE_SUPPORT[language] not in mail.text
    assert FREE_SUPPORT[language] not in mail.html


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_partners_letter_escapes_hostile_names_in_html_and_keeps_them_in_text(language: Language) -> None:
    hostile = '<script>alert("x")</script> & <b>Co</b>'
    product = PRODUCTS[0].model_copy(update={"product_name": hostile, "configurations": ["<i>Acc</i>", "A&B"]})
    mail = render(
        products_authorised_email(authorised(language, products=[product], partner_name="<img src=x onerror=1>"))
    )
    assert "<script>" not in mail.html
    assert "<b>Co</b>" not in mail.html
    assert "<img" not in mail.html
    assert "<i>Acc</i>" not in mail.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;" in mail.html
    assert "&lt;i&gt;Acc&lt;/i&gt;, A&amp;B" in mail.html
    assert "&lt;img src=x onerror=1&gt;" in mail.html
    assert hostile in mail.text
    assert "<i>Acc</i>, A&B" in mail.text


def test_the_partners_letter_without_products_or_to_a_bad_owner_address_is_unsendable() -> None:
    with pytest.raises(Unsendable, match="no products"):
        products_authorised_email(authorised("en", products=[]))
    with pytest.raises(Unsendable, match="not an e-mail address"):
        products_authorised_email(authorised("en", owner_email="olga at example.com"))


# ---- contracts' letters to partners: ITS-2 (contract active), ITS-6 (organisation error), CMS-7 (maintenance) ----

ORGANISATION = Organisation(name="Romashka LLC", tin="7701234567", kpp="770101001")
PERIOD = {"en": "November 2026 \N{EN DASH} October 2027", "ru": "ноябрь 2026 \N{EN DASH} октябрь 2027"}
ACTIVATED_AT = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # 09:00 in Moscow
ACTIVATED = {
    "en": "2 November 2026, 09:00 (UTC+03:00)",
    "ru": "02.11.2026, 09:00 (UTC+03:00)",
}
HOSTILE = '<script>alert("x")</script> & <b>Co</b>'
HOSTILE_HTML = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;"


# Who the partner letters name: the partner they go to, the subscriber they concern.
THE_PARTNER = {"partner_name": "SoftPartner", "partner_email": "partner@example.com"}
THE_SUBSCRIBER = {"subscriber_code": "100-200-300", "subscriber_name": "Romashka"}


def contract_activated(**changes: object) -> ContractActivated:
    fields: dict[str, object] = {
        "contract_id": uuid.uuid4(),
        "number": "ITS-2026/17",
        "partner_id": uuid.uuid4(),
        "subscriber_code": "100-200-300",
        "organisation": ORGANISATION,
        "main_registration_number": "12345678903",
        "additional_registration_numbers": ["98765432106", "55555555550"],
        "period_from": "2026-11",
        "period_to": "2027-10",
        "kind": "PROF",
        **THE_PARTNER,
        "activated_at": ACTIVATED_AT,
    }
    return ContractActivated.model_validate({**fields, **changes})


def organisation_error(**changes: object) -> OrganisationErrorReported:
    fields: dict[str, object] = {
        "report_id": uuid.uuid4(),
        "contract_id": uuid.uuid4(),
        "number": "ITS-2026/17",
        "organisation": ORGANISATION,
        "partner_id": uuid.uuid4(),
        **THE_PARTNER,
        **THE_SUBSCRIBER,
        "message": "The TIN is 7701234568, not 7701234567.\nThank you!",
        "reported_at": ACTIVATED_AT,
    }
    return OrganisationErrorReported.model_validate({**fields, **changes})


def maintenance(**changes: object) -> MaintenanceActivated:
    fields: dict[str, object] = {
        "activation_id": uuid.uuid4(),
        "subscriber_id": uuid.uuid4(),
        **THE_SUBSCRIBER,
        "configuration": "Accounting",
        "category": 2,
        "period_from": "2026-11",
        "period_to": "2027-10",
        "registration_numbers": ["12345678903", "98765432106"],
        "warning": "No valid ITS contract covers the whole period.",
        "partner_id": uuid.uuid4(),
        **THE_PARTNER,
    }
    return MaintenanceActivated.model_validate({**fields, **changes})


def test_partners_letters_are_in_english_by_default() -> None:
    """The events carry no language and notifications knows none for partners."""
    assert contract_activated_email(contract_activated(), MOSCOW).language == "en"
    assert organisation_error_email(organisation_error(), MOSCOW).language == "en"
    request = maintenance_activated_email(maintenance())
    assert request is not None
    assert request.language == "en"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_partner_learns_its_contract_is_active(language: Language) -> None:
    """ITS-2: the outcome of the contract the partner's system posted."""
    email = contract_activated_email(contract_activated(), MOSCOW, language)
    assert (email.template, email.language, email.recipient) == ("contract_activated", language, "partner@example.com")
    mail = render(email)
    subject = {"en": "Contract ITS-2026/17 is active", "ru": "Договор ITS-2026/17 вступил в действие"}
    assert mail.subject == subject[language]
    for part in (mail.text, mail.html):
        for value in ("ITS-2026/17", "Romashka LLC", "7701234567", "770101001", "12345678903", "PROF"):
            assert value in part
        assert "98765432106, 55555555550" in part
        assert PERIOD[language] in part
        assert ACTIVATED[language] in part  # in the mail time zone
    assert f'<html lang="{language}">' in mail.html
    assert mail.text.startswith({"en": "Hello, SoftPartner!", "ru": "Здравствуйте, SoftPartner!"}[language])
    labels = {
        "en": ("Main registration number: 12345678903", "TIN: 7701234567", "KPP: 770101001"),
        "ru": ("Основной регистрационный номер: 12345678903", "ИНН: 7701234567", "КПП: 770101001"),
    }[language]
    for label in labels:
        assert label in mail.text


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_contract_letter_leaves_out_what_the_contract_has_not(language: Language) -> None:
    event = contract_activated(
        organisation=Organisation(name="IP Ivanov", tin="770123456789"),
        additional_registration_numbers=[],
        period_to="2026-11",
    )
    mail = render(contract_activated_email(event, MOSCOW, language))
    for part in (mail.text, mail.html):
        assert {"en": "KPP", "ru": "КПП"}[language] not in part
        assert {"en": "Additional", "ru": "Дополнительные"}[language] not in part
        assert {"en": "November 2026", "ru": "ноябрь 2026"}[language] in part
        assert "\N{EN DASH}" not in part


def test_a_contract_letter_without_the_partners_address_is_unsendable() -> None:
    with pytest.raises(Unsendable, match="contracts had not learnt the partner"):
        contract_activated_email(contract_activated(partner_email=""), MOSCOW)
    with pytest.raises(Unsendable, match="not an e-mail address"):
        contract_activated_email(contract_activated(partner_email="partner at example.com"), MOSCOW)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_partner_learns_of_an_organisation_error_and_what_to_do(language: Language) -> None:
    """ITS-6: who reports, on which contract, the data now, the message, and how to correct it."""
    email = organisation_error_email(organisation_error(), MOSCOW, language)
    assert (email.template, email.language, email.recipient) == ("organisation_error", language, "partner@example.com")
    mail = render(email)
    subject = {
        "en": 'Subscriber "Romashka" (100-200-300) reports wrong organisation data in contract ITS-2026/17',
        "ru": "Абонент «Romashka» (100-200-300) сообщает об ошибке в данных организации по договору ITS-2026/17",  # noqa: RUF001
    }
    assert mail.subject == subject[language]
    for part in (mail.text, mail.html):
        for value in ("Romashka", "100-200-300", "ITS-2026/17", "Romashka LLC", "7701234567", "770101001", "PATCH"):
            assert value in part
        assert ACTIVATED[language] in part
        assert {"en": "partner cabinet", "ru": "кабинете партнёра"}[language] in part
    assert "The TIN is 7701234568, not 7701234567.\nThank you!" in mail.text
    assert "The TIN is 7701234568, not 7701234567.<br>Thank you!</div>" in mail.html
    assert f'<html lang="{language}">' in mail.html


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_subscribers_message_and_names_are_escaped_in_html_and_kept_in_text(language: Language) -> None:
    message = 'Wrong name!\r\n  <a href="x">click</a> & <script>alert(1)</script>\n'
    event = organisation_error(
        message=message, subscriber_name=HOSTILE, organisation=Organisation(name=HOSTILE, tin="7701234567")
    )
    mail = render(organisation_error_email(event, MOSCOW, language))
    assert message.rstrip("\r\n") in mail.text
    assert HOSTILE in mail.text
    for raw in ("<script>", "<b>Co</b>", '<a href="x">'):
        assert raw not in mail.html
    assert HOSTILE_HTML in mail.html
    escaped = "Wrong name!<br>  &lt;a href=&#34;x&#34;&gt;click&lt;/a&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"{escaped}</div>" in mail.html  # every line break kept, the trailing one dropped


def test_an_organisation_error_without_the_partners_address_is_unsendable() -> None:
    with pytest.raises(Unsendable, match="contracts had not learnt the partner"):
        organisation_error_email(organisation_error(partner_email=""), MOSCOW)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_chosen_partner_learns_of_a_maintenance_service_with_its_warning(language: Language) -> None:
    """CMS-7: the chosen partner is told; CMS-6: with the warning."""
    email = maintenance_activated_email(maintenance(), language)
    assert email is not None
    assert (email.template, email.language, email.recipient) == (
        "maintenance_activated",
        language,
        "partner@example.com",
    )
    mail = render(email)
    subject = {
        "en": 'Maintenance of Accounting activated for "Romashka" (100-200-300)',
        "ru": "Сопровождение конфигурации Accounting активировано для абонента «Romashka» (100-200-300)",
    }
    assert mail.subject == subject[language]
    for part in (mail.text, mail.html):
        for value in ("Romashka", "100-200-300", "Accounting", "12345678903, 98765432106"):
            assert value in part
        assert PERIOD[language] in part
        assert "No valid ITS contract covers the whole period." in part
    assert {"en": "Category: 2", "ru": "Категория: 2"}[language] in mail.text
    assert {"en": "Warning: No valid", "ru": "Внимание: No valid"}[language] in mail.text
    assert f'<html lang="{language}">' in mail.html


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_maintenance_letter_without_a_warning_has_none(language: Language) -> None:
    email = maintenance_activated_email(maintenance(warning=None, partner_name=None), language)
    assert email is not None
    mail = render(email)
    for part in (mail.text, mail.html):
        assert {"en": "Warning", "ru": "Внимание"}[language] not in part
    greeting = {"en": "Hello, partner@example.com!", "ru": "Здравствуйте, partner@example.com!"}[language]
    assert mail.text.startswith(greeting)  # no partner name: the address


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_maintenance_letter_escapes_hostile_names_in_html_and_keeps_them_in_text(language: Language) -> None:
    event = maintenance(subscriber_name=HOSTILE, configuration="<i>Acc</i>", warning="<b>no</b> contract")
    email = maintenance_activated_email(event, language)
    assert email is not None
    mail = render(email)
    for raw in ("<script>", "<b>Co</b>", "<i>Acc</i>", "<b>no</b>"):
        assert raw not in mail.html
    assert HOSTILE_HTML in mail.html
    assert "&lt;b&gt;no&lt;/b&gt; contract" in mail.html
    assert HOSTILE in mail.text
    assert "<i>Acc</i>" in mail.text


def test_no_maintenance_letter_without_a_partner() -> None:
    """CMS-7: no partner chosen yet: no one to tell, nothing to park."""
    assert maintenance_activated_email(maintenance(partner_id=None, partner_name=None, partner_email=None)) is None


def test_a_maintenance_letter_to_a_chosen_partner_without_an_address_is_unsendable() -> None:
    with pytest.raises(Unsendable, match="contracts had not learnt the partner"):
        maintenance_activated_email(maintenance(partner_email=None))
    with pytest.raises(Unsendable, match="not an e-mail address"):
        maintenance_activated_email(maintenance(partner_email="partner at example.com"))


@pytest.mark.parametrize(
    ("start", "end", "language", "shown"),
    [
        ("2026-11", "2027-10", "en", "November 2026 \N{EN DASH} October 2027"),
        ("2026-11", "2027-10", "ru", "ноябрь 2026 \N{EN DASH} октябрь 2027"),
        ("2027-01", "2027-01", "en", "January 2027"),
        ("2027-01", "2027-12", "ru", "январь 2027 \N{EN DASH} декабрь 2027"),
    ],
)
def test_a_period_is_shown_as_months(start: str, end: str, language: Language, shown: str) -> None:
    assert format_period(start, end, language) == shown


def test_every_template_has_subject_text_and_html_in_every_language() -> None:
    templates = sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert templates == [
        "contract_activated",
        "email_change",
        "email_changed",
        "email_verification",
        "form_published",
        "invitation",
        "invitation_accepted",
        "maintenance_activated",
        "organisation_error",
        "password_reset",
        "products_authorised",
        "release_published",
        "support_question_answered",
        "support_question_asked",
        "support_question_overdue",
    ]
    for template in templates:
        for language in LANGUAGES:
            parts = sorted(p.name for p in (TEMPLATES / template / language).iterdir())
            assert parts == ["body.html.j2", "body.txt.j2", "subject.txt.j2"], (template, language)


def test_subject_is_one_line_whatever_the_template_holds(tmp_path: Path) -> None:
    folder = tmp_path / "t" / "en"
    folder.mkdir(parents=True)
    (folder / "subject.txt.j2").write_text("Hello\r\n  {{ name }}\n")
    (folder / "body.txt.j2").write_text("{{ name }}")
    (folder / "body.html.j2").write_text("<p>{{ name }}</p>")
    mail = Renderer(tmp_path).render("t", "en", {"name": "Ivan"})
    assert mail.subject == "Hello Ivan"


def test_a_value_missing_from_the_context_is_an_error_not_a_blank() -> None:
    with pytest.raises(jinja2.UndefinedError):
        Renderer().render("email_verification", "en", {"name": "Ivan"})


# ---- rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "used"), [("ru", "ru"), ("en", "en"), ("de", "en"), (None, "en"), (7, "en")])
def test_the_accounts_language_or_english(given: object, used: str) -> None:
    assert pick_language(given) == used


@pytest.mark.parametrize(
    "address",
    [
        "",
        "no-at-sign",
        "a@b.c\r\nBcc: all@example.com",
        "Ivan <i@example.com>",
        " i@example.com",
        "two words@example.com",
    ],
)
def test_an_address_that_cannot_be_sent_to_is_unsendable(address: str) -> None:
    with pytest.raises(Unsendable):
        check_recipient(address)


def test_a_normal_address_is_kept_as_given() -> None:
    assert check_recipient("Ivan.Petrov+its@Example.COM") == "Ivan.Petrov+its@Example.COM"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "ftp://x", "https://x/a b", ""])
def test_only_web_links_go_into_an_email(url: str) -> None:
    with pytest.raises(Unsendable):
        check_link(url)


def test_message_id_is_the_same_for_every_send_of_one_event() -> None:
    event_id = uuid.uuid4()
    sender = "ITS Portal <no-reply@its-portal.local>"
    assert message_id(event_id, sender) == f"<{event_id}@its-portal.local>"
    assert message_id(event_id, sender) == message_id(event_id, sender)
    assert message_id(uuid.uuid4(), sender) != message_id(event_id, sender)


def test_a_failed_send_is_retried_until_the_last_attempt_or_a_permanent_refusal() -> None:
    assert status_after_failure(1, 12, permanent=False) == "retrying"
    assert status_after_failure(11, 12, permanent=False) == "retrying"
    assert status_after_failure(12, 12, permanent=False) == "failed"
    assert status_after_failure(1, 12, permanent=True) == "failed"


def test_only_a_5xx_refusal_of_every_recipient_is_permanent() -> None:
    refused = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@b.c")])
    busy = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", "a@b.c")])
    assert is_permanent(refused)
    assert not is_permanent(busy)
    assert not is_permanent(aiosmtplib.SMTPConnectError("connection refused"))
    assert not is_permanent(aiosmtplib.SMTPAuthenticationError(535, "bad credentials"))


# ---- the message on the wire --------------------------------------------------------------------


class FixedClock:
    def now(self) -> datetime:
        return datetime(2030, 1, 10, 9, 30, tzinfo=UTC)


def test_each_email_is_multipart_text_and_html_with_a_stable_message_id() -> None:
    registry = CollectorRegistry()
    mailer = Mailer(
        SmtpTransport("127.0.0.1", 1, "none", 1.0),
        FixedClock(),
        sender="ITS Portal <no-reply@its-portal.local>",
        max_attempts=3,
        figures=MailFigures.registered(registry),
    )
    event_id = uuid.uuid4()
    message = mailer.build_message(
        OutgoingEmail(
            delivery_id=1,
            event_id=event_id,
            template="email_verification",
            recipient="ivan@example.com",
            subject="Подтвердите адрес",
            body_text="Текст",
            body_html="<p>Текст</p>",
            status="pending",
            attempts=0,
        )
    )
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == f"<{event_id}@its-portal.local>"
    assert message["To"] == "ivan@example.com"
    assert message["Subject"] == "Подтвердите адрес"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] == "Thu, 10 Jan 2030 09:30:00 +0000"


@pytest.mark.parametrize("utf8", [False, True], ids=["7bit", "smtputf8"])
@pytest.mark.parametrize(
    "subject",
    [
        "You are invited: Марина Соколова, ООО Ромашка",
        'Марина Соколова accepted your invitation to "ООО «Ромашка и партнёры северо-запад»" on ITS Portal',
        "Приглашение стать пользователем абонента «ООО-Ромашка-Трейдинг-и-партнёры-северо-запад» на портале ИТС",
        "Contract ITS-2026/0001 is active",
    ],
)
def test_a_subject_reads_back_exactly_as_written_whatever_the_language(subject: str, utf8: bool) -> None:
    """Decoders drop the space between two RFC 2047 encoded words: the standard folder sent "Марина Соколова,
    ООО" as two words with the space between them, read back as "Соколова,ООО"."""
    registry = CollectorRegistry()
    mailer = Mailer(
        SmtpTransport("127.0.0.1", 1, "none", 1.0),
        FixedClock(),
        sender="ITS Portal <no-reply@its-portal.local>",
        max_attempts=3,
        figures=MailFigures.registered(registry),
    )
    email = OutgoingEmail(
        delivery_id=1,
        event_id=uuid.uuid4(),
        template="invitation",
        recipient="ivan@example.com",
        subject=subject,
        body_text="Текст",
        body_html="<p>Текст</p>",
        status="pending",
        attempts=0,
    )
    wire = flatten_message(mailer.build_message(email), utf8=utf8)  # as aiosmtplib sends it
    header_block = wire.split(b"\r\n\r\n")[0].decode()
    subject_lines = header_block.split("\r\nSubject: ")[1].split("\r\n")
    folded = [subject_lines[0]] + [line for line in subject_lines[1:] if line.startswith(" ")]
    assert folded[0].strip(), "the subject starts on its own line, not after an empty one"
    assert all(len(line) <= 78 + len("Subject: ") for line in folded)
    parsed = email_parser.BytesParser(policy=email_policy.default).parsebytes(wire)
    assert parsed["Subject"] == subject
    if not utf8:  # the older decoder too (it reads only encoded words, not raw UTF-8)
        raw = email_parser.BytesParser(policy=email_policy.compat32).parsebytes(wire)["Subject"]
        assert str(make_header(decode_header(raw))) == subject


# ---- the delivery log's cursor -------------------------------------------------------------------


def test_cursor_round_trips_and_is_opaque() -> None:
    cursor = encode_cursor(PAGE_CURSOR, str(12345))
    assert "12345" not in cursor
    assert before_id(cursor) == 12345


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "abc",
        encode_cursor(PAGE_CURSOR, str(1))[:-1] + "$",
        "ZDE6LTE",
        "ZDE6MA",
        "eDE6MTI",
        encode_cursor(PAGE_CURSOR, str(2**63)),
        encode_cursor(PAGE_CURSOR, str(0)),
        "A" * 41,
    ],
)
def test_a_cursor_we_did_not_hand_out_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        before_id(cursor)


@pytest.mark.parametrize(
    ("last_error", "reason"),
    [
        (None, None),
        ("", None),
        ("SMTPRecipientsRefused: {'x@example.com': (550, b'5.1.1 No such user')}", "address-refused"),
        ("SMTPSenderRefused: (553, b'sender rejected', 'its@vendor.example')", "sender-refused"),
        ("SMTPDataError: (554, b'5.7.1 spam')", "message-refused"),
        ("SMTPAuthenticationError: (535, b'bad login')", "login-refused"),
        (
            "SMTPConnectError: Error connecting to 127.0.0.1 on port 1: [Errno 111] Connect call failed",
            "server-unreachable",
        ),
        ("SMTPServerDisconnected: Unexpected EOF received", "server-unreachable"),
        ("TimeoutError: ", "server-unreachable"),
        ("SMTPNotSupported: STARTTLS extension not supported by server.", "other"),
        ("something nobody expected", "other"),
    ],
)
def test_a_failure_is_told_by_what_it_means(last_error: str | None, reason: str | None) -> None:
    """The delivery log says why a send failed in terms a reader acts on; the raw text is kept beside it."""
    assert failure_reason(last_error) == reason
