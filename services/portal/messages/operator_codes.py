# ruff: noqa: E501
"""The words of the operator cabinet's maintenance activation codes (keys "operator.codes.", "operator.nav.codes",
"operator.index.codes") and of the maintenance categories' names ("maintenance.category.")."""

EN: dict[str, str] = {
    "operator.nav.codes": "Activation codes",
    "operator.index.codes": "maintenance services' activation codes, shown once",
    "operator.codes.title": "Maintenance activation codes",
    "operator.codes.intro": "Codes for a maintenance category and a number of months, for partners' envelopes or online sale; at most {max} at a time. Subscribers' owners activate a maintenance service with one.",
    "operator.codes.category": "Maintenance category",
    "operator.codes.months": "Months of maintenance",
    "operator.codes.count": "How many codes",
    "operator.codes.submit": "Issue the codes",
    "operator.codes.issued": "{count} codes issued: {category}, {months} months",
    "operator.codes.copy_now": "Copy them now: they are shown only this once and kept nowhere (only their fingerprints are stored). Leaving or reloading this page loses them.",
    "operator.codes.error.category": "Choose a category from the list.",
    "operator.codes.error.months": "A whole number of months from 1 to {max}.",
    "operator.codes.error.count": "A whole number from 1 to {max}.",
    "maintenance.category.1": "First category",
    "maintenance.category.2": "Second category",
}

RU: dict[str, str] = {
    "operator.nav.codes": "Коды активации",
    "operator.index.codes": "коды активации сервисов сопровождения, показываются один раз",
    "operator.codes.title": "Коды активации сервисов сопровождения",
    "operator.codes.intro": "Коды на категорию сопровождения и число месяцев — для конвертов партнёров или продажи онлайн; не больше {max} за раз. Владелец абонента активирует по коду сервис сопровождения.",
    "operator.codes.category": "Категория сопровождения",
    "operator.codes.months": "Месяцев сопровождения",
    "operator.codes.count": "Сколько кодов",
    "operator.codes.submit": "Выпустить коды",
    "operator.codes.issued": "Выпущено кодов: {count}; {category}, месяцев: {months}",
    "operator.codes.copy_now": "Скопируйте их сейчас: они показываются только один раз и нигде не хранятся (хранятся лишь их отпечатки). Если уйти со страницы или обновить её, коды пропадут.",
    "operator.codes.error.category": "Выберите категорию из списка.",
    "operator.codes.error.months": "Целое число месяцев от 1 до {max}.",
    "operator.codes.error.count": "Целое число от 1 до {max}.",
    "maintenance.category.1": "Первая категория",
    "maintenance.category.2": "Вторая категория",
}
