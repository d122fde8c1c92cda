# ruff: noqa: E501
"""The words of the partner list and of where the offers send the subscriber (keys "partners.", and the titles of
the sections of Software, Contracts and Help that name where to go)."""

EN: dict[str, str] = {
    "partners.nav": "Partners",
    "partners.title": "The vendor's partners",
    "partners.intro": "Any of these partners sells the products and concludes ITS contracts. Write to the partner of your choice.",
    "partners.none": "No partner is listed just now.",
    "partners.next_page": "Next partners",
    "partners.first_page": "Back to the first page",
    "partners.yours": "Your partner, who accompanies your ITS contract:",
    "partners.or_another": "Or choose another partner.",
    "partners.none_yours": "To buy a product or an ITS contract, turn to a partner of the vendor.",
    "partners.choose": "Choose a partner from the list.",
    "software.buy.title": "Buy a product or ITS",
    "contracts.extend.title": "Extend or buy ITS",
    "help.contact.partners": "The vendor's partners, with their contacts",
}

RU: dict[str, str] = {
    "partners.nav": "Партнёры",
    "partners.title": "Партнёры фирмы",
    "partners.intro": "Любой из этих партнёров продаёт продукты и заключает договоры ИТС. Напишите выбранному партнёру.",
    "partners.none": "Сейчас в списке нет ни одного партнёра.",
    "partners.next_page": "Следующие партнёры",
    "partners.first_page": "К первой странице",
    "partners.yours": "Ваш партнёр, который сопровождает ваш договор ИТС:",
    "partners.or_another": "Или выберите другого партнёра.",
    "partners.none_yours": "Чтобы купить продукт или договор ИТС, обратитесь к партнёру фирмы.",
    "partners.choose": "Выберите партнёра из списка.",
    "software.buy.title": "Купить продукт или ИТС",
    "contracts.extend.title": "Продлить или купить ИТС",
    "help.contact.partners": "Партнёры фирмы и их контакты",
}
