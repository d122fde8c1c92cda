"""its-client's exchange rates (DAT-1) without a server: the answer of `GET /v1/rates` read exactly (values as
Decimal, never float), the query for a period or "since the last day I have", and the rates as a person reads them;
the reporting forms to receive (DAT-2), each file a kit to download and check."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from its_client import ExchangeRate, ExchangeRates, Kit
from its_client.cli_text import exchange_rates, form_updates
from its_client.data import FormUpdates, rates_query

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


FORMS = {
    "configuration": "Accounting",
    "link_expires_at": "2026-12-05T10:10:00Z",
    "forms": [
        {
            "code": "1151001",
            "version": "5.02",
            "name": "VAT return",
            "applies_from": "2027-01-01",
            "basis_number": "ЕД-7-3/123@",
            "basis_date": "2026-11-02",
            "changes": "- new section 3.1",
            "published_at": "2026-12-01T09:00:00Z",
            "file": {
                "name": "vat_5_02.zip",
                "size": 2048,
                "sha256": "AB" * 32,
                "url": "https://its/dl/ab/vat_5_02.zip",
            },
        }
    ],
}


def test_a_form_to_receive_is_read_with_its_file_as_a_kit_to_download() -> None:
    found = FormUpdates.from_json(FORMS)
    [form] = found.forms
    assert (form.code, form.version, form.applies_from, form.basis_date) == (
        "1151001",
        "5.02",
        date(2027, 1, 1),
        date(2026, 11, 2),
    )
    assert form.kit == Kit(
        id="1151001/5.02",
        name="vat_5_02.zip",
        kind="form",
        size=2048,
        sha256="ab" * 32,
        url="https://its/dl/ab/vat_5_02.zip",
    )


def test_a_person_reads_which_forms_to_receive_and_that_the_rest_are_current() -> None:
    lines = form_updates(FormUpdates.from_json(FORMS))
    assert lines[0] == "Accounting: 1 reporting form to receive:"
    assert lines[1] == (
        "  1151001 5.02  VAT return, applies from 1 January 2027 (order ЕД-7-3/123@ of 2 November 2026), 2.0 kB"
    )
    current = form_updates(FormUpdates.from_json({**FORMS, "forms": []}))
    assert current == ["Every reporting form of Accounting you hold is current: nothing to receive."]
