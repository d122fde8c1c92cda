"""DAT-1: the currencies whose exchange rates the Bank of Russia publishes (and published since 1991), by ISO 4217
character code: the numeric code, the name as the bank writes it, and the bank's own id (`R01235`), which its
"dynamic" files name a currency by.

A fixed list, not whatever a file brings: a code outside it is a typo or a file that is not the bank's, and is
refused (nothing of that file is stored). The bank's ids are given for the currencies we have checked against its
directory (`XML_valFull.asp`); a dynamic file of a currency without one is refused naming the id, so that a new one
is added here on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Currency:
    char_code: str
    num_code: str
    name: str
    bank_id: str | None = None


CURRENCIES: dict[str, Currency] = {
    c.char_code: c
    for c in (
        Currency("AUD", "036", "Австралийский доллар", "R01010"),
        Currency("AZN", "944", "Азербайджанский манат"),
        Currency("AMD", "051", "Армянских драмов"),
        Currency("BYN", "933", "Белорусский рубль", "R01090B"),
        Currency("BYR", "974", "Белорусских рублей"),
        Currency("BGN", "975", "Болгарский лев"),
        Currency("BRL", "986", "Бразильский реал"),
        Currency("HUF", "348", "Форинтов"),
        Currency("VND", "704", "Донгов"),
        Currency("HKD", "344", "Гонконгский доллар"),
        Currency("GEL", "981", "Лари"),
        Currency("DKK", "208", "Датская крона", "R01215"),
        Currency("AED", "784", "Дирхам ОАЭ"),
        Currency("USD", "840", "Доллар США", "R01235"),
        Currency("EUR", "978", "Евро", "R01239"),
        Currency("EGP", "818", "Египетских фунтов"),
        Currency("INR", "356", "Индийских рупий"),
        Currency("IDR", "360", "Рупий"),
        Currency("KZT", "398", "Тенге", "R01335"),
        Currency("CAD", "124", "Канадский доллар", "R01350"),
        Currency("QAR", "634", "Катарский риал"),
        Currency("KGS", "417", "Сомов"),
        Currency("CNY", "156", "Юань", "R01375"),
        Currency("MDL", "498", "Молдавских леев"),
        Currency("NZD", "554", "Новозеландский доллар"),
        Currency("NOK", "578", "Норвежских крон", "R01535"),
        Currency("PLN", "985", "Злотый", "R01565"),
        Currency("RON", "946", "Румынский лей"),
        Currency("XDR", "960", "СДР (специальные права заимствования)", "R01589"),
        Currency("SGD", "702", "Сингапурский доллар", "R01625"),
        Currency("TJS", "972", "Сомони"),
        Currency("THB", "764", "Батов"),
        Currency("TRY", "949", "Турецких лир"),
        Currency("TMT", "934", "Новый туркменский манат"),
        Currency("UZS", "860", "Узбекских сумов"),
        Currency("UAH", "980", "Гривен", "R01720"),
        Currency("CZK", "203", "Чешских крон", "R01760"),
        Currency("SEK", "752", "Шведских крон", "R01770"),
        Currency("CHF", "756", "Швейцарский франк", "R01775"),
        Currency("RSD", "941", "Сербских динаров"),
        Currency("ZAR", "710", "Рэндов"),
        Currency("KRW", "410", "Вон"),
        Currency("JPY", "392", "Японских иен", "R01820"),
        Currency("GBP", "826", "Фунт стерлингов Соединенного королевства", "R01035"),
        # Added to the bank's daily list from 2024 (a daily file naming one not listed here would be refused whole).
        Currency("BHD", "048", "Бахрейнский динар"),
        Currency("BOB", "068", "Боливиано"),
        Currency("DZD", "012", "Алжирских динаров"),
        Currency("IRR", "364", "Иранских риалов"),
        Currency("CUP", "192", "Кубинских песо"),
        Currency("MNT", "496", "Тугриков"),
        Currency("NGN", "566", "Найр"),
        Currency("OMR", "512", "Оманский риал"),
        Currency("SAR", "682", "Саудовский риял"),
        Currency("ETB", "230", "Эфиопских быр"),
        Currency("MMK", "104", "Кьятов"),
        Currency("BDT", "050", "Так"),
        # Published in the 1990s, before the euro replaced them (1999-2002).
        Currency("DEM", "276", "Немецкая марка", "R01510"),
        Currency("FRF", "250", "Французских франков"),
        Currency("ITL", "380", "Итальянских лир"),
        Currency("NLG", "528", "Нидерландский гульден"),
        Currency("FIM", "246", "Финляндских марок"),
        Currency("XEU", "954", "ЭКЮ"),
    )
}

BANK_IDS: dict[str, str] = {c.bank_id: c.char_code for c in CURRENCIES.values() if c.bank_id}
