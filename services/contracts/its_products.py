"""contracts' read models as the ITS rules see them: a registered number with the contracts listing it
(ITS-7, CMS-6, MON-1), a processed contract as the span of months it covers."""

from __future__ import annotations

from rules.coverage import its_required
from services.contracts import domain, read_models, store

# A number registered to another subscriber is as unknown as one never registered (ITS-4).
NOT_REGISTERED_TO_YOU = "no product with this registration number is registered to your subscriber"


def contract_span(c: store.Contract) -> domain.ContractSpan:
    return domain.ContractSpan(c.id, c.partner_id, c.period, frozenset(c.registration_numbers))


def its_product(number: read_models.Number, contracts: list[store.Contract]) -> domain.ItsProduct:
    """The registered number as the ITS rules see it (ITS-7, CMS-6, MON-1), with the contracts that list it."""
    return domain.ItsProduct.of(
        number.number,
        its_required=its_required(number.edition, number.its_required),
        purchase_date=number.purchase_date,
        contracts=[contract_span(c) for c in contracts],
    )
