"""DAT-1: exchange rate files read into rates, pure (no I/O): the Bank of Russia's daily XML (every currency of one
day), its "dynamic" XML (one currency over a period, named by the bank's id) and our CSV (`date,currency,nominal,value`,
ISO dates, a decimal point). Both XML files are told apart by what their root holds, so one format, `xml`, reads both.

A file is taken whole or not at all: every problem found is reported naming its line (and the record), and a file
with any problem gives no rates. Dates run from 1991-01-01 to the vendor's today; currencies are those of
rates_currencies.py; nominal and value are positive, the value an exact decimal (never a float).

XML is read with expat with every DTD refused before it is read (no entity can be declared, so none can expand: the
"billion laughs" and external entities have nothing to work with); the encoding is the one the XML declaration names
(the bank writes windows-1251).
"""

from __future__ import annotations

import csv
import io
import re
import xml.parsers.expat
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from services.updates.rates_currencies import BANK_IDS, CURRENCIES

RatesFormat = Literal["xml", "csv"]
FORMATS: tuple[RatesFormat, ...] = ("xml", "csv")
FIRST_DAY = date(1991, 1, 1)
CSV_HEADER = ["date", "currency", "nominal", "value"]
# What one report lists: a file wrong on every line says so in its first problems, not in 13,000 of them.
MAX_PROBLEMS = 20
MAX_NOMINAL = 10**9
# Every currency the bank ever published on every day since 1991 is ~700,000 records; a file claiming more (or an XML
# of millions of empty elements) is refused before its records fill the memory.
MAX_RECORDS = 1_000_000
MAX_ELEMENTS = 8 * MAX_RECORDS
_VALUE = re.compile(r"[0-9]{1,12}(?:[.,][0-9]{1,8})?")
_NOMINAL = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class Rate:
    """The bank's rate: `nominal` units of `currency` cost `value` roubles on `day` (the day it is set for)."""

    day: date
    currency: str
    nominal: int
    value: Decimal
    name: str  # as the file names it, else as rates_currencies.py does


@dataclass(frozen=True)
class FileProblem:
    line: int  # 0: the file as a whole
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class RatesFileRefused(Exception):
    """The file's problems (at most MAX_PROBLEMS, `more` beyond): none of its rates may be stored."""

    def __init__(self, problems: list[FileProblem], more: int = 0) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems, self.more = problems, more


@dataclass
class _Check:
    """Collects a file's problems and its rates, one record at a time."""

    today: date
    problems: list[FileProblem] = field(default_factory=list)
    rates: list[Rate] = field(default_factory=list)
    seen: dict[tuple[str, date], int] = field(default_factory=dict)
    too_many: bool = False

    def problem(self, line: int, message: str) -> None:
        self.problems.append(FileProblem(line, message))

    def record(
        self, line: int, day_text: str, day_format: str, currency: str, nominal: str, value: str, name: str = ""
    ) -> None:
        """One record's fields as text; each wrong field is a problem of its line."""
        if len(self.rates) >= MAX_RECORDS:
            if not self.too_many:
                self.too_many = True
                self.problem(line, f"more than {MAX_RECORDS:,} records in one file: split it")
            return
        errors = len(self.problems)
        day = self.day(line, day_text, day_format)
        if currency not in CURRENCIES:
            self.problem(line, f"unknown currency code {currency!r} (not among the bank's, ISO 4217)")
        if not _NOMINAL.fullmatch(nominal) or not 0 < int(nominal) <= MAX_NOMINAL:
            self.problem(line, f"the nominal {nominal!r} is not a positive whole number")
        if not _VALUE.fullmatch(value) or not Decimal(value.replace(",", ".")):
            self.problem(line, f"the value {value!r} is not a positive decimal number")
        if day is None or len(self.problems) > errors:
            return
        if (earlier := self.seen.get((currency, day))) is not None:  # not by line: an XML file may be one line
            self.problem(line, f"{currency} on {day} is given already on line {earlier}")
            return
        self.seen[(currency, day)] = line
        known = CURRENCIES[currency]
        self.rates.append(Rate(day, currency, int(nominal), Decimal(value.replace(",", ".")), name or known.name))

    def day(self, line: int, text: str, day_format: str) -> date | None:
        try:
            day = datetime.strptime(text, day_format).date()
        except ValueError:
            self.problem(
                line, f"the date {text!r} is not a date ({'DD.MM.YYYY' if '%d.' in day_format else 'YYYY-MM-DD'})"
            )
            return None
        if day < FIRST_DAY:
            self.problem(line, f"the date {day} is before {FIRST_DAY}: rates are kept from 1991 on (DAT-1)")
        elif day > self.today:
            self.problem(line, f"the date {day} is in the future (today is {self.today} in the vendor's zone)")
        else:
            return day
        return None

    def result(self) -> list[Rate]:
        if self.problems:
            raise RatesFileRefused(self.problems[:MAX_PROBLEMS], max(0, len(self.problems) - MAX_PROBLEMS))
        if not self.rates:
            raise RatesFileRefused([FileProblem(0, "the file holds no rates")])
        return self.rates


def parse_rates(body: bytes, rates_format: RatesFormat, *, today: date) -> list[Rate]:
    """The file's rates, in file order; RatesFileRefused naming every problem (up to MAX_PROBLEMS)."""
    check = _Check(today)
    if rates_format == "csv":
        _read_csv(body, check)
    else:
        _read_xml(body, check)
    return check.result()


# ---- CSV ---------------------------------------------------------------------------------------------------------


def _read_csv(body: bytes, check: _Check) -> None:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        check.problem(0, f"the file is not UTF-8 text (byte {exc.start})")
        return
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in rows:
            line = rows.line_num
            if line == 1:
                if [c.strip().lower() for c in row] != CSV_HEADER:
                    check.problem(1, f"the first line must be the header {','.join(CSV_HEADER)}")
                    return
                continue
            if not row or row == [""]:
                continue
            if len(row) != len(CSV_HEADER):
                check.problem(line, f"{len(row)} fields where {len(CSV_HEADER)} are expected ({','.join(CSV_HEADER)})")
                continue
            day, currency, nominal, value = (c.strip() for c in row)
            if "," in value:
                check.problem(line, f"the value {value!r} must be written with a decimal point")
                continue
            check.record(line, day, "%Y-%m-%d", currency, nominal, value)
    except csv.Error as exc:
        check.problem(rows.line_num, f"not CSV: {exc}")


# ---- the bank's XML ----------------------------------------------------------------------------------------------


@dataclass
class _Element:
    name: str
    attributes: dict[str, str]
    line: int
    text: list[str] = field(default_factory=list)
    children: list[_Element] = field(default_factory=list)

    def child_text(self, name: str) -> str:
        found = next((c for c in self.children if c.name == name), None)
        return "".join(found.text).strip() if found else ""


class _Hostile(Exception):
    pass


def _parse_tree(body: bytes) -> _Element:
    parser = xml.parsers.expat.ParserCreate()
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Element] = [_Element("", {}, 0)]

    def refuse_dtd(*_: object) -> None:
        raise _Hostile("a document type declaration (DTD) is not accepted")

    count = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            raise _Hostile(f"more than {MAX_ELEMENTS:,} elements")
        element = _Element(name, attributes, parser.CurrentLineNumber)
        stack[-1].children.append(element)
        stack.append(element)

    def end(name: str) -> None:
        stack.pop()

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = lambda data: stack[-1].text.append(data)
    parser.Parse(body, True)
    return stack[0].children[0]


def _read_xml(body: bytes, check: _Check) -> None:
    try:
        root = _parse_tree(body)
    except _Hostile as exc:
        check.problem(0, f"not accepted as the bank's XML: {exc}")
        return
    except (xml.parsers.expat.ExpatError, LookupError, ValueError) as exc:  # LookupError: an unknown encoding
        line = getattr(exc, "lineno", 0)
        check.problem(
            line, f"not well-formed XML: {xml.parsers.expat.ErrorString(exc.code) if hasattr(exc, 'code') else exc}"
        )
        return
    if root.name != "ValCurs":
        check.problem(root.line, f"the root element is <{root.name}>, not the bank's <ValCurs>")
    elif "Date" in root.attributes:
        _read_daily(root, check)
    elif "DateRange1" in root.attributes or any(c.name == "Record" for c in root.children):
        _read_dynamic(root, check)
    else:
        check.problem(root.line, "<ValCurs> has neither Date (a daily file) nor DateRange1 (a dynamic file)")


def _read_daily(root: _Element, check: _Check) -> None:
    """`<ValCurs Date="02.03.2002"><Valute ID=".."><NumCode/><CharCode/><Nominal/><Name/><Value/></Valute>…`"""
    day = root.attributes["Date"]
    for valute in root.children:
        if valute.name != "Valute":
            continue
        code = valute.child_text("CharCode")
        num_code = valute.child_text("NumCode")
        known = CURRENCIES.get(code)
        if known is not None and num_code and num_code != known.num_code:
            check.problem(valute.line, f"{code}'s numeric code is {known.num_code}, not {num_code!r}")
            continue
        check.record(
            valute.line,
            day,
            "%d.%m.%Y",
            code,
            valute.child_text("Nominal"),
            valute.child_text("Value"),
            valute.child_text("Name"),
        )


def _read_dynamic(root: _Element, check: _Check) -> None:
    """`<ValCurs ID="R01235" DateRange1=".." DateRange2=".."><Record Date="10.01.2001" Id="R01235"><Value/>…`"""
    for record in root.children:
        if record.name != "Record":
            continue
        bank_id = record.attributes.get("Id") or root.attributes.get("ID", "")
        code = BANK_IDS.get(bank_id)
        if code is None:
            check.problem(
                record.line, f"unknown currency id {bank_id!r} of the bank (rates_currencies.py has none such)"
            )
            continue
        check.record(
            record.line,
            record.attributes.get("Date", ""),
            "%d.%m.%Y",
            code,
            record.child_text("Nominal"),
            record.child_text("Value"),
        )
