"""DAT-1: the bank's daily and dynamic XML and our CSV read into rates; a file with any wrong record is refused whole,
each problem naming its line; hostile XML is refused, not expanded. And the client's request and the rate of every
calendar day (weekends carry the rate set before them)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from rules.refusal import Refused
from services.updates.rates_currencies import CURRENCIES
from services.updates.rates_formats import RatesFileRefused, parse_rates
from services.updates.rates_query import MAX_CURRENCIES, EveryDay, every_day_of, rates_request
from services.updates.rates_store import StoredRate

TODAY = date(2026, 12, 5)

DAILY = """<?xml version="1.0" encoding="windows-1251"?>
<ValCurs Date="02.03.2002" name="Foreign Currency Market">
<Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal><Name>Доллар США</Name>
<Value>30,9436</Value></Valute>
<Valute ID="R01820"><NumCode>392</NumCode><CharCode>JPY</CharCode><Nominal>100</Nominal><Name>Японских иен</Name>
<Value>23,1170</Value></Valute>
</ValCurs>""".encode("cp1251")

DYNAMIC = b"""<?xml version="1.0" encoding="windows-1251"?>
<ValCurs ID="R01235" DateRange1="01.01.2001" DateRange2="31.12.2001" name="Foreign Currency Market Dynamic">
<Record Date="10.01.2001" Id="R01235"><Nominal>1</Nominal><Value>28,4200</Value></Record>
<Record Date="11.01.2001" Id="R01235"><Nominal>1</Nominal><Value>28,4300</Value></Record>
</ValCurs>"""


def problems(body: bytes, fmt: str = "xml") -> list[str]:
    with pytest.raises(RatesFileRefused) as refused:
        parse_rates(body, fmt, today=TODAY)  # type: ignore[arg-type]
    return [str(p) for p in refused.value.problems]


def test_dat1_the_daily_file_in_windows_1251() -> None:
    rates = parse_rates(DAILY, "xml", today=TODAY)
    assert [(r.day, r.currency, r.nominal, r.value, r.name) for r in rates] == [
        (date(2002, 3, 2), "USD", 1, Decimal("30.9436"), "Доллар США"),
        (date(2002, 3, 2), "JPY", 100, Decimal("23.1170"), "Японских иен"),
    ]


def test_dat1_the_dynamic_file_names_the_currency_by_the_banks_id() -> None:
    rates = parse_rates(DYNAMIC, "xml", today=TODAY)
    assert [(r.day, r.currency, str(r.value)) for r in rates] == [
        (date(2001, 1, 10), "USD", "28.4200"),
        (date(2001, 1, 11), "USD", "28.4300"),
    ]
    unknown = DYNAMIC.replace(
        b'Id="R01235"><Nominal>1</Nominal><Value>28,43', b'Id="R99999"><Nominal>1</Nominal><Value>28,43'
    )
    assert problems(unknown) == ["line 4: unknown currency id 'R99999' of the bank (rates_currencies.py has none such)"]


def test_dat1_csv() -> None:
    body = b"date,currency,nominal,value\n2001-01-10,USD,1,28.4200\n2001-01-10,JPY,100,24.5000\n\n"
    rates = parse_rates(body, "csv", today=TODAY)
    assert [(r.currency, r.nominal, r.value) for r in rates] == [
        ("USD", 1, Decimal("28.42")),
        ("JPY", 100, Decimal("24.5")),
    ]
    assert rates[0].name == "Доллар США"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1990-12-31,USD,1,1.0", "line 3: the date 1990-12-31 is before 1991-01-01"),
        ("2026-12-06,USD,1,1.0", "line 3: the date 2026-12-06 is in the future"),
        ("2001-02-30,USD,1,1.0", "line 3: the date '2001-02-30' is not a date"),
        ("2001-01-11,XXX,1,1.0", "line 3: unknown currency code 'XXX'"),
        ("2001-01-11,USD,0,1.0", "line 3: the nominal '0' is not a positive"),
        ("2001-01-11,USD,1,0.0", "line 3: the value '0.0' is not a positive"),
        ("2001-01-11,USD,1,-3", "line 3: the value '-3' is not a positive"),
        ("2001-01-11,USD,1,1e3", "line 3: the value '1e3' is not a positive"),
        ("2001-01-11,USD,1,NaN", "line 3: the value 'NaN' is not a positive"),
        ('2001-01-11,USD,1,"28,42"', "line 3: the value '28,42' must be written with a decimal point"),
        ("2001-01-11,USD,1", "line 3: 3 fields where 4 are expected"),
        ("2001-01-10,USD,1,28.4200", "line 3: USD on 2001-01-10 is given already on line 2"),
    ],
)
def test_dat1_a_wrong_record_refuses_the_whole_file_naming_its_line(line: str, expected: str) -> None:
    body = f"date,currency,nominal,value\n2001-01-10,USD,1,28.4200\n{line}\n".encode()
    found = problems(body, "csv")
    assert len(found) == 1 and found[0].startswith(expected), found


def test_dat1_every_problem_is_reported_and_a_file_of_nothing_is_refused() -> None:
    body = b"date,currency,nominal,value\n1980-01-01,USD,1,1\n2001-01-11,ABC,1,1\n"
    assert [p.split(":")[0] for p in problems(body, "csv")] == ["line 2", "line 3"]
    assert problems(b"date,currency,nominal,value\n", "csv") == ["the file holds no rates"]
    assert problems(b"day,code,value\n2001-01-10,USD,1\n", "csv")[0].startswith("line 1: the first line must be")
    assert problems(b"\xff\xfe\x00", "csv")[0].startswith("the file is not UTF-8")


@pytest.mark.parametrize(
    "body",
    [
        b"<ValCurs Date='02.03.2002'><Valute>",  # cut short
        b"not xml at all",
        b"",
        b'<?xml version="1.0" encoding="no-such-encoding"?><ValCurs Date="02.03.2002"/>',
        b"<Other/>",
        b"<ValCurs/>",
    ],
)
def test_dat1_malformed_xml_is_refused(body: bytes) -> None:
    assert problems(body)


def test_dat1_hostile_xml_is_refused_before_any_entity_expands() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
            for i in range(1, 10)
        )
        + b']><ValCurs Date="02.03.2002"><Valute><CharCode>&lol9;</CharCode></Valute></ValCurs>'
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<ValCurs Date="02.03.2002">&x;</ValCurs>'
    )
    for body in (laughs, external):
        assert problems(body) == ["not accepted as the bank's XML: a document type declaration (DTD) is not accepted"]


def test_dat1_a_daily_record_is_refused_naming_its_line() -> None:
    wrong = DAILY.replace(b"<Value>23,1170</Value>", b"<Value>-1</Value>")
    assert problems(wrong) == ["line 5: the value '-1' is not a positive decimal number"]
    wrong_code = DAILY.replace(b"<NumCode>392</NumCode>", b"<NumCode>999</NumCode>")
    assert problems(wrong_code) == ["line 5: JPY's numeric code is 392, not '999'"]


# ---- the client's request and every calendar day ----------------------------------------------------------------


def ask(**kw: str | None) -> list[tuple[str | None, str]]:
    params: dict[str, str | None] = {"currencies": "USD", "from_": None, "to": None, "since": None, **kw}
    try:
        rates_request(media="json", today=TODAY, **params)
    except Refused as refused:
        return [(r.field, r.message) for r in refused.refusals]
    return []


def test_dat1_a_request_names_the_parameter_it_gets_wrong() -> None:
    assert ask(from_="2001-01-01") == []
    assert ask(since="2026-12-05") == []  # nothing new yet: an empty period, not an error
    assert [f for f, _ in ask(currencies="USD,XYZ", from_="2001-01-01")] == ["currencies"]
    assert [f for f, _ in ask(currencies="", from_="2001-01-01")] == ["currencies"]
    many = ",".join(["USD", "EUR", "GBP", "JPY", "CNY", "CHF", "KZT", "BYN", "UAH"] * 5)
    assert ask(currencies=many, from_="2001-01-01") == []  # repeated codes count once
    assert [f for f, _ in ask(currencies=",".join(list(CURRENCIES)[: MAX_CURRENCIES + 1]), from_="2001-01-01")] == [
        "currencies"
    ]
    assert [f for f, _ in ask(from_="2001-13-01")] == ["from"]
    assert [f for f, _ in ask(from_="20010101")] == ["from"]
    assert [f for f, _ in ask(from_="1990-12-31")] == ["from"]
    assert [f for f, _ in ask(from_="2026-12-06")] == ["from"]
    assert [f for f, _ in ask(from_="2002-01-01", to="2001-01-01")] == ["from"]
    assert [f for f, _ in ask(from_="2002-01-01", since="2001-01-01")] == ["since"]
    assert [f for f, _ in ask()] == ["from"]


def rate(day: str, value: str) -> StoredRate:
    return StoredRate("USD", date.fromisoformat(day), 1, Decimal(value))


def test_dat1_every_calendar_day_carries_the_rate_last_set() -> None:
    """Friday 2001-01-12 and Tuesday 2001-01-16: the weekend and Monday carry Friday's rate."""
    days = EveryDay(rate("2001-01-11", "28.43"), date(2001, 1, 12), date(2001, 1, 17))
    rows = days.feed([rate("2001-01-12", "28.50")]) + days.feed([rate("2001-01-16", "28.60")]) + days.finish()
    assert [(d.isoformat(), str(r.value)) for d, r in rows] == [
        ("2001-01-12", "28.50"),
        ("2001-01-13", "28.50"),
        ("2001-01-14", "28.50"),
        ("2001-01-15", "28.50"),
        ("2001-01-16", "28.60"),
        ("2001-01-17", "28.60"),
    ]


def test_dat1_no_row_before_a_currencys_first_rate() -> None:
    days = EveryDay(None, date(1998, 12, 30), date(1999, 1, 3))
    rows = days.feed([rate("1999-01-01", "25.00")]) + days.finish()
    assert [d.isoformat() for d, _ in rows] == ["1999-01-01", "1999-01-02", "1999-01-03"]


def test_dat1_a_file_of_too_many_records_is_refused_before_it_fills_the_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.updates import rates_formats

    monkeypatch.setattr(rates_formats, "MAX_RECORDS", 2)
    monkeypatch.setattr(rates_formats, "MAX_ELEMENTS", 10)
    csv_lines = b"date,currency,nominal,value\n" + b"".join(
        f"2001-01-{day:02d},USD,1,28.0\n".encode() for day in range(10, 14)
    )
    assert problems(csv_lines, "csv") == ["line 4: more than 2 records in one file: split it"]
    many = b'<ValCurs Date="02.03.2002">' + b"<Valute/>" * 20 + b"</ValCurs>"
    assert problems(many) == ["not accepted as the bank's XML: more than 10 elements"]


def test_dat1_a_day_given_twice_on_one_line_is_refused() -> None:
    """The bank's files may come on one line: the same currency twice there is caught, not stored twice."""
    valute = "<Valute><CharCode>USD</CharCode><Nominal>1</Nominal><Value>30,1</Value></Valute>"
    body = f'<ValCurs Date="02.03.2002">{valute}{valute}</ValCurs>'.encode()
    assert problems(body) == ["line 1: USD on 2002-03-02 is given already on line 1"]


def test_dat1_several_currencies_read_at_once_each_carry_their_own_rate() -> None:
    """The short periods' one query: each currency's rate in force on the first day (set before it), then its own."""
    asked = rates_request(
        currencies="USD,EUR", from_="1999-01-01", to=None, since=None, media="json", today=date(1999, 1, 3)
    )
    stored = [rate("1998-12-30", "20.65"), StoredRate("EUR", date(1999, 1, 2), 1, Decimal("24.00"))]
    rows = every_day_of(stored, asked)
    assert [(d.isoformat(), r.currency, str(r.value)) for d, r in rows] == [
        ("1999-01-01", "USD", "20.65"),
        ("1999-01-02", "USD", "20.65"),
        ("1999-01-03", "USD", "20.65"),
        ("1999-01-02", "EUR", "24.00"),
        ("1999-01-03", "EUR", "24.00"),
    ]


def test_dat1_a_currency_the_bank_stopped_publishing_is_not_carried_for_ever() -> None:
    """The New Year pause (31 December to 11 January) is carried across; the Deutsche Mark after 2002 is not."""
    days = EveryDay(rate("2001-12-29", "33.00"), date(2001, 12, 30), date(2002, 1, 31))
    rows = days.feed([rate("2002-01-10", "33.20")]) + days.finish()
    carried = [d for d, r in rows if r.day == date(2001, 12, 29)]
    assert (carried[0], carried[-1]) == (date(2001, 12, 30), date(2002, 1, 9))
    assert rows[-1][0] == date(2002, 1, 25)  # 15 days past the last rate set, then nothing
    assert EveryDay(rate("2002-02-28", "1.0"), date(2020, 1, 1), date(2020, 1, 31)).finish() == []
