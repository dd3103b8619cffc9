"""Document totals in Vtiger's order: worked examples written out by hand, both tax modes, both price settings."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from crm_store.errors import ValidationError
from crm_store.sales.totals import Document, Line, TaxRate, compute

VAT = TaxRate(1, "VAT 營業稅", D("5"))
LOCAL = TaxRate(2, "Local", D("2.5"))


def test_exclusive_prices_individual_taxes_in_a_currency_without_cents() -> None:
    doc = Document(
        lines=[
            # 3 × 1,250 = 3,750; 10 % off = 375 → 3,375; 5 % tax = 168.75 → 169; line 3,544
            Line(D("3"), D("1250"), "percent", D("10"), [VAT]),
            # 2 × 333 = 666; 66 off → 600; 5 % tax = 30; line 630
            Line(D("2"), D("333"), "amount", D("66"), [VAT]),
        ],
        minor_unit=0, discount_percent=D("5"),  # 5 % of 4,174 = 208.7 → 209
        shipping_amount=D("150"), shipping_taxes=[VAT],  # 7.5 → 8
        adjustment=D("-3"),
    )
    t = compute(doc)
    assert [(x.line_total, x.discount, x.net, x.tax, x.total) for x in t.lines] == [
        (D("3750"), D("375"), D("3375"), D("169"), D("3544")), (D("666"), D("66"), D("600"), D("30"), D("630"))]
    assert t.subtotal == D("4174")
    assert t.overall_discount == D("209")
    assert (t.shipping_amount, t.shipping_tax) == (D("150"), D("8"))
    assert t.grand_total == D("4120")  # 4,174 − 209 + 150 + 8 − 3
    assert t.pre_tax_total == D("3916")  # 3,375 + 600 − 209 + 150
    assert t.tax_total == D("207")  # 169 + 30 + 8
    assert [(x.name, x.base, x.amount) for x in t.taxes] == [("VAT 營業稅", D("3975"), D("199"))]


def test_exclusive_prices_group_taxes_in_cents() -> None:
    doc = Document(
        lines=[
            Line(D("1.5"), D("19.99")),  # 29.985 → 29.99
            Line(D("4"), D("0.10"), "percent", D("12.5")),  # 0.40; 12.5 % = 0.05 → 0.35
        ],
        minor_unit=2, tax_mode="group", group_taxes=[VAT, LOCAL],
        discount_amount=D("0.34"),  # subtotal 30.34 → 30.00
        shipping_amount=D("10"), adjustment=D("0.01"),
    )
    t = compute(doc)
    assert [x.total for x in t.lines] == [D("29.99"), D("0.35")]
    assert all(x.tax == 0 and x.taxes == () for x in t.lines)
    assert t.subtotal == D("30.34")
    assert [(x.name, x.base, x.amount) for x in t.taxes] == [("VAT 營業稅", D("30.00"), D("1.50")),
                                                             ("Local", D("30.00"), D("0.75"))]
    assert t.grand_total == D("42.26")  # 30.34 − 0.34 + 10.00 + 1.50 + 0.75 + 0.01
    assert t.pre_tax_total == D("40.00")
    assert t.tax_total == D("2.25")


def test_tax_inclusive_prices_individual_taxes() -> None:
    doc = Document(
        lines=[
            Line(D("2"), D("105"), taxes=[VAT]),  # 210 holds 210 × 5/105 = 10 of tax: net 200
            Line(D("1"), D("99"), "amount", D("9"), [VAT]),  # 90 holds 4.29 → 4: net 86
        ],
        minor_unit=0, prices_include_tax=True,
    )
    t = compute(doc)
    assert [(x.net, x.tax, x.total) for x in t.lines] == [(D("200"), D("10"), D("210")), (D("86"), D("4"), D("90"))]
    assert t.subtotal == D("300")
    assert t.grand_total == D("300")  # what the customer was quoted: the taxes are inside
    assert t.tax_total == D("14")
    assert t.pre_tax_total == D("286")


def test_tax_inclusive_prices_group_taxes_and_inclusive_shipping() -> None:
    doc = Document(
        lines=[Line(D("3"), D("350")), Line(D("1"), D("525"))],  # 1,050 + 525 = 1,575
        minor_unit=0, prices_include_tax=True, tax_mode="group", group_taxes=[VAT],
        discount_percent=D("10"),  # 157.5 → 158: 1,417 left, holding 1,417 × 5/105 = 67.48 → 67 of tax
        shipping_amount=D("105"), shipping_taxes=[VAT],  # holds 5
    )
    t = compute(doc)
    assert t.subtotal == D("1575")
    assert t.overall_discount == D("158")
    assert [x.amount for x in t.taxes] == [D("67")]
    assert t.shipping_tax == D("5")
    assert t.grand_total == D("1522")  # 1,575 − 158 + 105
    assert t.tax_total == D("72")
    assert t.pre_tax_total == D("1450")  # 1,522 − 72


def test_rounding_is_half_up_at_each_step() -> None:
    t = compute(Document([Line(D("1"), D("0.125"), taxes=[TaxRate(None, "T", D("10"))])], minor_unit=2))
    assert t.lines[0].line_total == D("0.13")  # 0.125 → 0.13 (half-up, not banker's 0.12)
    assert t.lines[0].tax == D("0.01")  # 0.013 → 0.01


@pytest.mark.parametrize(("doc", "field", "row"), [
    (Document([Line(D("1"), D("5")), Line(D("0"), D("5"))]), "quantity", 2),
    (Document([Line(D("-1"), D("5"))]), "quantity", 1),
    (Document([Line(D("1"), D("-5"))]), "list_price", 1),
    (Document([Line(D("1"), D("5"), "percent", D("120"))]), "discount", 1),
    (Document([Line(D("1"), D("5"), "amount", D("6"))]), "discount", 1),
    (Document([Line(D("1"), D("5"), "amount", D("-1"))]), "discount", 1),
    (Document([Line(D("1"), D("5"), "bogus", D("1"))]), "discount_kind", 1),
    (Document([Line(D("1"), D("5"))], discount_amount=D("6")), "discount_amount", None),
    (Document([Line(D("1"), D("5"))], discount_percent=D("1"), discount_amount=D("1")), "discount_amount", None),
    (Document([Line(D("1"), D("5"))], discount_percent=D("101")), "discount_percent", None),
    (Document([Line(D("1"), D("5"))], adjustment=D("-6")), "adjustment", None),
    (Document([Line(D("1"), D("5"))], shipping_amount=D("-1")), "shipping_amount", None),
    (Document([Line(D("1"), D("5"))], tax_mode="mixed"), "tax_mode", None),
    (Document([Line(D("1"), D("5"), taxes=[TaxRate(None, "X", D("150"))])]), "taxes", 1),
])
def test_bad_input_names_the_field_and_line(doc: Document, field: str, row: int | None) -> None:
    with pytest.raises(ValidationError) as err:
        compute(doc)
    assert (err.value.field, err.value.row) == (field, row)
