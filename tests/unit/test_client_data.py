"""its-client's exchange rates (DAT-1) without a server: the answer of `GET /v1/rates` read exactly (values as
Decimal, never float), the query for a period or "since the last day I have", and the rates as a person reads them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from its_client import ExchangeRate, ExchangeRates
from its_client.cli_text import exchange_rates
from its_client.data import rates_query

ANSWER = {
    "from": "2001-01-05",
    "to": "2001-01-06",
    "currencies": {"USD": {"name": "Доллар США"}, "JPY": {"name": "Японских иен"}},
    "columns": ["date", "currency", "nominal", "value"],
    "rates": [
        ["2001-01-05", "USD", 1, "28.1600"],
        ["2001-01-06", "USD", 1, "28.1600"],
        ["2001-01-05", "JPY", 100, "24.3300"],
        ["2001-01-06", "JPY", 100, "24.3300"],
    ],
}


def test_the_answer_is_read_exactly_with_the_etag_to_send_next_time() -> None:
    rates = ExchangeRates.from_json(ANSWER, '"abc"')
    assert (rates.start, rates.end, rates.etag) == (date(2001, 1, 5), date(2001, 1, 6), '"abc"')
    assert rates.names == {"USD": "Доллар США", "JPY": "Японских иен"}
    assert rates.of("JPY") == [
        ExchangeRate(date(2001, 1, 5), "JPY", 100, Decimal("24.3300")),
        ExchangeRate(date(2001, 1, 6), "JPY", 100, Decimal("24.3300")),
    ]
    assert rates.of("JPY")[0].per_unit == Decimal("0.2433")
    assert isinstance(rates.rows[0].value, Decimal) and str(rates.rows[0].value) == "28.1600"


def test_the_query_names_the_currencies_and_one_way_of_giving_the_period() -> None:
    assert rates_query(["USD", "EUR"], date(2026, 12, 1), None, None) == {
        "currencies": "USD,EUR",
        "since": "2026-12-01",
    }
    assert rates_query(["USD"], None, date(1991, 1, 1), date(1991, 12, 31)) == {
        "currencies": "USD",
        "from": "1991-01-01",
        "to": "1991-12-31",
    }
    with pytest.raises(ValueError, match="either since"):
        rates_query(["USD"], date(2026, 12, 1), date(2026, 11, 1), None)
    with pytest.raises(ValueError, match="either since"):
        rates_query(["USD"], None, None, None)


def test_a_person_reads_a_line_per_day_with_the_rate_of_one_unit_where_the_bank_quotes_more() -> None:
    lines = exchange_rates(ExchangeRates.from_json(ANSWER, None))
    period = "5 January 2001 to 6 January 2001"
    assert lines[0] == f"Exchange rates of the Bank of Russia, {period}: USD (Доллар США), JPY (Японских иен)"
    assert "  2001-01-05  1 USD = 28.1600 RUB" in lines
    assert "  2001-01-06  100 JPY = 24.3300 RUB  (1 JPY = 0.2433 RUB)" in lines
    empty = exchange_rates(ExchangeRates.from_json({**ANSWER, "rates": []}, None))
    assert empty[-1] == "  No rates in this period."
