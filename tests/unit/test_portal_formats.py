"""Issue 17: the portal's formats in each language (dates, months, moments, sizes, numbers), the e-mails' formats
the same as the pages' (services.notifications.wording), and no service's own words in a refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.notifications import wording
from services.portal import i18n
from services.portal.clients.transport import ServiceError
from shared import formats

MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        ("2026-12-28", "en", "28 December 2026"),
        ("2026-12-28", "ru", "28.12.2026"),
        ("2030-03-01", "ru", "01.03.2030"),
        (date(2030, 3, 1), "en", "1 March 2030"),
        ("2026-12-28T21:30:00+00:00", "ru", "28.12.2026"),
        ("not a date", "ru", "not a date"),
        (None, "en", ""),
    ],
)
def test_dates(value: date | str | None, language: str, expected: str) -> None:
    assert formats.format_date(value, language) == expected


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        ("2026-12", "en", "December 2026"),
        ("2026-12", "ru", "декабрь 2026"),  # nominative: a month on its own
        ("2027-05", "ru", "май 2027"),
        ("2027-13", "ru", "2027-13"),
        ("", "ru", ""),
        (None, "en", ""),
    ],
)
def test_months(value: str | None, language: str, expected: str) -> None:
    assert formats.format_month(value, language) == expected


def test_periods() -> None:
    assert formats.format_period("2026-11", "2027-10", "ru") == "ноябрь 2026 \N{EN DASH} октябрь 2027"
    assert formats.format_period("2026-11", "2027-10", "en") == "November 2026 \N{EN DASH} October 2027"
    assert formats.format_period("2027-01", "2027-01", "ru") == "январь 2027"


@pytest.mark.parametrize(
    ("size", "language", "expected"),
    [
        (40_038, "en", "39.1 KB"),
        (40_038, "ru", "39,1 КБ"),
        (512, "en", "512 B"),
        (512, "ru", "512 Б"),
        (3 * 1024 * 1024, "ru", "3,0 МБ"),
        (5 * 1024**4, "en", "5120.0 GB"),
        ("?", "en", "0 B"),
    ],
)
def test_sizes(size: object, language: str, expected: str) -> None:
    assert formats.format_size(size, language) == expected


def test_numbers_have_a_decimal_comma_in_russian() -> None:
    assert (formats.format_number(2.5, "ru"), formats.format_number(2.5, "en")) == ("2,5", "2.5")


def test_moments_are_in_the_vendors_zone() -> None:
    instant = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
    assert formats.format_time(instant, "ru", MOSCOW) == "15.01.2030, 15:00"
    assert formats.format_time(instant, "en", MOSCOW) == "15 January 2030, 15:00"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_e_mails_write_moments_as_the_pages_do_with_the_utc_offset(language: str) -> None:
    instant = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
    page = formats.format_time(instant, language, MOSCOW)
    assert wording.format_moment(instant, language, MOSCOW) == f"{page} (UTC+03:00)"  # type: ignore[arg-type]


def refusal(status: int, slug: str, detail: str) -> ServiceError:
    body = {"type": f"https://its.example/problems/{slug}", "title": "Refused", "status": status, "detail": detail}
    return ServiceError("registration", status, body)


@pytest.mark.parametrize("status", [400, 402, 403, 404, 409, 410, 422, 500])
@pytest.mark.parametrize("language", ["en", "ru"])
def test_an_unknown_refusal_is_a_sentence_in_the_users_language_never_the_services_words(
    status: int, language: str
) -> None:
    detail = "configuration ACC is not registered to subscriber (REG-6)"
    message = i18n.problem_message(language, refusal(status, "something-new", detail))
    assert detail not in message and "REG-6" not in message
    assert message[0].isupper() and message.endswith("."), message
    if language == "ru":
        assert any("а" <= letter <= "я" for letter in message.lower()), message
