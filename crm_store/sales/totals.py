"""The totals of a quote, sales order or invoice, computed in `Decimal` in Vtiger's order (pure, no database).

The order (`../shared/reference/vtiger.md` §7), each amount rounded half-up to the currency's minor unit
as soon as it is computed:

1. line total = quantity × list price;
2. line discount = line total × percent / 100, or an amount (at most the line total);
3. individual tax mode: each of the line's taxes on the discounted line (the product's tax classes);
   the line's total is the discounted line plus its taxes (group mode: the discounted line);
4. subtotal = the lines' totals (in individual mode it includes the lines' taxes, as in Vtiger);
5. overall discount = subtotal × percent / 100, or an amount (at most the subtotal);
6. shipping & handling, and its taxes;
7. group tax mode: each of the document's taxes on subtotal − overall discount;
8. adjustment (signed);
9. grand total = subtotal − overall discount + shipping & handling + its taxes + group taxes + adjustment.

Tax-inclusive prices (`prices_include_tax`, usual in Taiwan): list prices and the shipping amount already
hold their taxes. A tax is then the part of the gross amount it makes up — gross × rate / (100 + the sum of
the rates applied) — and is not added again: a line of NT$105 at 5 % holds NT$5 of tax, and the grand total
is what the customer was quoted. In exclusive mode the taxes are added on top.

`pre_tax_total` is the amount before taxes: the discounted lines without their taxes − overall discount +
shipping (without its tax). `tax_total` is every tax: the lines' or the document's, and shipping's.
Bad input raises `ValidationError` naming the field (and the line, as its `row`, counted from 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from crm_store.errors import ValidationError
from crm_store.languages import N_

ZERO = Decimal(0)
_Rounder = Callable[[Decimal], Decimal]  # rounds half-up to the currency's minor unit
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class TaxRate:
    """A tax as applied: its id (None for one not in the taxes table), name and rate in percent."""

    tax_id: int | None
    name: str
    rate: Decimal


@dataclass(frozen=True)
class TaxAmount:
    """A tax applied to an amount: which, at what rate, on what base, how much."""

    tax_id: int | None
    name: str
    rate: Decimal
    base: Decimal
    amount: Decimal

    def as_dict(self) -> dict[str, object]:
        """As stored in a document's or a line's `taxes` (JSON: the decimals as strings)."""
        return {"tax_id": self.tax_id, "name": self.name, "rate": str(self.rate), "base": str(self.base),
                "amount": str(self.amount)}


@dataclass(frozen=True)
class Line:
    """A line as entered: quantity, list price, discount (kind "percent" or "amount", or None), its taxes."""

    quantity: Decimal
    list_price: Decimal
    discount_kind: str | None = None
    discount_value: Decimal | None = None
    taxes: Sequence[TaxRate] = ()


@dataclass(frozen=True)
class LineTotals:
    """A line's computed amounts."""

    line_total: Decimal
    discount: Decimal
    net: Decimal  # the discounted line without tax
    taxes: tuple[TaxAmount, ...]
    tax: Decimal
    total: Decimal  # what the line adds to the subtotal


@dataclass(frozen=True)
class Document:
    """A document's entries besides its lines."""

    lines: Sequence[Line]
    minor_unit: int = 2
    tax_mode: str = "individual"
    prices_include_tax: bool = False
    group_taxes: Sequence[TaxRate] = ()
    discount_percent: Decimal | None = None
    discount_amount: Decimal | None = None
    shipping_amount: Decimal = ZERO
    shipping_taxes: Sequence[TaxRate] = ()
    adjustment: Decimal = ZERO


@dataclass(frozen=True)
class Totals:
    """Everything the store writes on a document and its lines."""

    lines: tuple[LineTotals, ...]
    subtotal: Decimal
    overall_discount: Decimal
    shipping_amount: Decimal
    shipping_taxes: tuple[TaxAmount, ...]
    shipping_tax: Decimal
    taxes: tuple[TaxAmount, ...]  # group mode: the document's; individual mode: the lines' summed per tax
    pre_tax_total: Decimal
    tax_total: Decimal
    adjustment: Decimal
    grand_total: Decimal
    notes: list[str] = field(default_factory=list)


def compute(doc: Document) -> Totals:
    """The totals of a document; a ValidationError naming the field for what cannot be computed."""
    if doc.tax_mode not in ("individual", "group"):
        raise ValidationError("tax_mode", N_("must be individual or group"))
    if not 0 <= doc.minor_unit <= 4:
        raise ValidationError("currency", N_("has a minor unit outside 0 to 4"))
    unit = Decimal(1).scaleb(-doc.minor_unit)

    def money(value: Decimal) -> Decimal:
        return value.quantize(unit, rounding=ROUND_HALF_UP)

    inclusive = doc.prices_include_tax
    lines = tuple(_line(i, line, doc, money) for i, line in enumerate(doc.lines, 1))
    subtotal = sum((line.total for line in lines), ZERO)
    overall_discount = _discount(
        subtotal, doc.discount_percent, doc.discount_amount, money, "discount_percent", "discount_amount",
        N_("is more than the subtotal"))
    for name, value in (("shipping_amount", doc.shipping_amount),):
        if value < 0:
            raise ValidationError(name, N_("must not be negative"))
    shipping = money(doc.shipping_amount)
    shipping_taxes = _taxes(shipping, doc.shipping_taxes, inclusive, money, "shipping_taxes")
    shipping_tax = sum((t.amount for t in shipping_taxes), ZERO)
    if doc.tax_mode == "group":
        taxes = _taxes(subtotal - overall_discount, doc.group_taxes, inclusive, money, "taxes")
        group_tax = sum((t.amount for t in taxes), ZERO)
    else:
        taxes, group_tax = _summed(line.taxes for line in lines), ZERO
    line_taxes = sum((line.tax for line in lines), ZERO)
    adjustment = money(doc.adjustment)
    if inclusive:  # the taxes are inside the amounts already
        grand_total = subtotal - overall_discount + shipping + adjustment
        tax_total = (group_tax if doc.tax_mode == "group" else line_taxes) + shipping_tax
        pre_tax_total = subtotal - overall_discount + shipping - tax_total
    else:
        grand_total = subtotal - overall_discount + shipping + shipping_tax + group_tax + adjustment
        tax_total = group_tax + line_taxes + shipping_tax
        pre_tax_total = sum((line.net for line in lines), ZERO) - overall_discount + shipping
    if grand_total < 0:
        raise ValidationError("adjustment", N_("would make the grand total negative"))
    return Totals(lines, subtotal, overall_discount, shipping, shipping_taxes, shipping_tax, taxes, pre_tax_total,
                  tax_total, adjustment, grand_total)


def _line(row: int, line: Line, doc: Document, money: _Rounder) -> LineTotals:
    if line.quantity <= 0:
        raise ValidationError("quantity", N_("must be more than zero"), row=row)
    if line.list_price < 0:
        raise ValidationError("list_price", N_("must not be negative"), row=row)
    line_total = money(line.quantity * line.list_price)
    percent = line.discount_value if line.discount_kind == "percent" else None
    amount = line.discount_value if line.discount_kind == "amount" else None
    if line.discount_kind not in (None, "percent", "amount"):
        raise ValidationError("discount_kind", N_("must be percent or amount"), row=row)
    try:
        discount = _discount(line_total, percent, amount, money, "discount", "discount",
                             N_("is more than the line total"))
    except ValidationError as exc:
        raise exc.at_row(row) from None
    after = line_total - discount
    if doc.tax_mode == "group":
        return LineTotals(line_total, discount, after, (), ZERO, after)
    taxes = _taxes(after, line.taxes, doc.prices_include_tax, money, "taxes", row=row)
    tax = sum((t.amount for t in taxes), ZERO)
    if doc.prices_include_tax:
        return LineTotals(line_total, discount, after - tax, taxes, tax, after)
    return LineTotals(line_total, discount, after, taxes, tax, after + tax)


def _discount(
    base: Decimal, percent: Decimal | None, amount: Decimal | None, money: _Rounder, percent_field: str,
    amount_field: str, too_much: str,
) -> Decimal:
    """A discount given as a percent of `base` or as an amount (not both), rounded; at most `base`."""
    if percent is not None and amount is not None:
        raise ValidationError(amount_field, N_("give a discount as a percent or as an amount, not both"))
    if percent is not None:
        if not ZERO <= percent <= HUNDRED:
            raise ValidationError(percent_field, N_("must be a percent from 0 to 100"))
        return money(base * percent / HUNDRED)
    if amount is not None:
        if amount < 0:
            raise ValidationError(amount_field, N_("must not be negative"))
        if money(amount) > base:
            raise ValidationError(amount_field, too_much)
        return money(amount)
    return ZERO


def _taxes(
    base: Decimal, rates: Sequence[TaxRate], inclusive: bool, money: _Rounder, field_name: str, *,
    row: int | None = None,
) -> tuple[TaxAmount, ...]:
    """Each tax on `base`: on top of it, or (inclusive) the part of it the tax makes up."""
    for rate in rates:
        if not ZERO <= rate.rate <= HUNDRED:
            raise ValidationError(field_name, N_("%(name)s has a rate outside 0 to 100"), row=row, name=rate.name)
    combined = sum((r.rate for r in rates), ZERO)
    return tuple(
        TaxAmount(r.tax_id, r.name, r.rate, base,
                  money(base * r.rate / (HUNDRED + combined)) if inclusive else money(base * r.rate / HUNDRED))
        for r in rates
    )


def _summed(groups: Iterable[Sequence[TaxAmount]]) -> tuple[TaxAmount, ...]:
    """The lines' taxes summed per tax (by id and rate), in the order first met: the document's tax block."""
    found: dict[tuple[int | None, str, Decimal], list[Decimal]] = {}
    for taxes in groups:
        for t in taxes:
            key = (t.tax_id, t.name, t.rate)
            base, amount = found.setdefault(key, [ZERO, ZERO])
            found[key] = [base + t.base, amount + t.amount]
    return tuple(TaxAmount(tax_id, name, rate, base, amount) for (tax_id, name, rate), (base, amount) in found.items())
