"""A document's lines: the products found, priced (given, the price book's, else the unit price) and taxed.

A line is entered as a mapping: `product` (an id, a number such as PRO12, or a product code), `quantity`,
and optionally `list_price`, `discount_kind` ("percent" or "amount") with `discount_value`, `comment` and
`description` (the product's name by default). Bad input raises `ValidationError` naming the field and the
line (its `row`, counted from 1); nothing is read twice, so a hundred lines cost a handful of queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Text, func, select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Currency, LineItem, PriceBookPrice, Product, ProductTax, Tax
from crm_store.models.base import Money
from crm_store.records import registry
from crm_store.records.validation import coerce
from crm_store.sales.totals import Line, TaxRate

LINE_FIELDS = frozenset({"product", "quantity", "list_price", "discount_kind", "discount_value", "comment",
                         "description"})
MAX_LINES = 1000
PLACES = {"quantity": 3, "list_price": 4, "discount_value": 4}  # what the columns keep exactly
_MONEY_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Entry:
    """A line ready to compute and store: its product, what is printed, and the line as the totals take it."""

    product_id: int
    stocked: bool  # a product (not a service): invoices move its stock
    description: str | None
    comment: str | None
    line: Line


def priced(
    session: Session, raw_lines: Any, *, currency_id: int, price_book_id: int | None, tax_mode: str,
) -> list[Entry]:
    """Check entered lines and price and tax them for a document in `currency_id`."""
    rows = _rows(raw_lines)
    products = _products(session, [row["product"] for row in rows])
    book = _book_prices(session, price_book_id, [p.id for p in products])
    rates = {c.id: c.exchange_rate for c in session.scalars(select(Currency))}
    taxes = product_taxes(session, [p.id for p in products]) if tax_mode == "individual" else {}
    entries = []
    for i, (row, product) in enumerate(zip(rows, products, strict=True), 1):
        price = row["list_price"]
        if price is None:
            price = book.get(product.id)
        if price is None:
            price = _unit_price(product, currency_id, rates, i)
        line = Line(row["quantity"], price, row["discount_kind"], row["discount_value"],
                    tuple(taxes.get(product.id, ())))
        entries.append(Entry(product.id, product.product_type == "product", row["description"] or product.name,
                             row["comment"], line))
    return entries


def stored(session: Session, column: str, document_id: int, *, product_taxes_now: bool = False) -> list[Entry]:
    """A stored document's lines as entries, with the tax rates copied when it was saved (or the products' now)."""
    link = getattr(LineItem, column)
    found = session.execute(
        select(LineItem, Product.product_type).join(Product, Product.id == LineItem.product_id)
        .where(link == document_id).order_by(LineItem.position)
    ).all()
    now = product_taxes(session, [item.product_id for item, _t in found]) if product_taxes_now else {}
    entries = []
    for item, product_type in found:
        rates = tuple(now.get(item.product_id, ())) if product_taxes_now else rates_of(item.taxes)
        line = Line(item.quantity, item.list_price, item.discount_kind, item.discount_value, rates)
        entries.append(Entry(item.product_id, product_type == "product", item.description, item.comment, line))
    return entries


def rates_of(applied: Sequence[Mapping[str, Any]]) -> tuple[TaxRate, ...]:
    """The rates of taxes as stored on a document or line (`TaxAmount.as_dict`), to apply them again."""
    return tuple(TaxRate(t.get("tax_id"), str(t["name"]), Decimal(str(t["rate"]))) for t in applied)


def product_taxes(session: Session, product_ids: Sequence[int]) -> dict[int, list[TaxRate]]:
    """Each product's active tax classes, in the taxes' order."""
    found: dict[int, list[TaxRate]] = {}
    if not product_ids:
        return found
    stmt = (select(ProductTax.product_id, Tax.id, Tax.name, Tax.rate).join(Tax, Tax.id == ProductTax.tax_id)
            .where(ProductTax.product_id.in_(set(product_ids)), Tax.active).order_by(Tax.position, Tax.id))
    for product_id, tax_id, name, rate in session.execute(stmt):
        found.setdefault(product_id, []).append(TaxRate(tax_id, name, rate))
    return found


def _rows(raw_lines: Any) -> list[dict[str, Any]]:
    """Each entered line checked and coerced; the first mistake raised naming its field and line."""
    if isinstance(raw_lines, (str, bytes)) or not isinstance(raw_lines, Sequence):
        raise ValidationError("lines", N_("must be a list of lines"))
    if not raw_lines:
        raise ValidationError("lines", N_("a document needs at least one line"))
    if len(raw_lines) > MAX_LINES:
        raise ValidationError("lines", N_("at most %(limit)s lines"), limit=MAX_LINES)
    return [_row(i, raw) for i, raw in enumerate(raw_lines, 1)]


def _row(i: int, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationError("lines", N_("each line must be a mapping of product, quantity, …"), row=i)
    unknown = sorted(set(raw) - LINE_FIELDS)
    if unknown:
        raise ValidationError(str(unknown[0]), N_("is not a field of a line"), row=i)
    product = raw.get("product")
    if product is None or (isinstance(product, str) and not product.strip()):
        raise ValidationError("product", N_("is required"), row=i)
    try:
        row: dict[str, Any] = {name: decimal_value(name, raw.get(name), places) for name, places in PLACES.items()}
        row["comment"] = coerce("comment", Text(), raw.get("comment"))
        row["description"] = coerce("description", Text(), raw.get("description"))
    except ValidationError as exc:
        raise exc.at_row(i) from None
    if row["quantity"] is None:
        raise ValidationError("quantity", N_("is required"), row=i)
    if row["quantity"] <= 0:
        raise ValidationError("quantity", N_("must be more than zero"), row=i)
    if row["list_price"] is not None and row["list_price"] < 0:
        raise ValidationError("list_price", N_("must not be negative"), row=i)
    row["discount_kind"] = _discount_kind(i, raw.get("discount_kind"), row["discount_value"])
    row["product"] = product.strip() if isinstance(product, str) else product
    return row


def decimal_value(name: str, raw: Any, places: int) -> Decimal | None:
    """A decimal with at most `places` decimals (a quantity of 1.2345 would be stored as 1.235); None for nothing."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise ValidationError(name, N_("%(value)s is not a number"), value=repr(raw))
    value: Decimal = coerce(name, Money(), raw)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValidationError(name, N_("has more than %(places)s decimals"), places=places)
    return value


def _discount_kind(i: int, raw: Any, value: Decimal | None) -> str | None:
    kind = str(raw).strip().lower() if raw is not None and str(raw).strip() else None
    if kind not in (None, "percent", "amount"):
        raise ValidationError("discount_kind", N_("must be percent or amount"), row=i)
    if kind is None and value is not None:
        raise ValidationError("discount_kind", N_("say whether the discount is a percent or an amount"), row=i)
    return kind if value is not None else None


def _products(session: Session, refs: list[Any]) -> list[Product]:
    """The live product each line names by id, number or code, in the lines' order."""
    if any(isinstance(r, bool) or not isinstance(r, (int, str)) for r in refs):
        row = next(i for i, r in enumerate(refs, 1) if isinstance(r, bool) or not isinstance(r, (int, str)))
        raise ValidationError("product", N_("must be a product's id, number or code"), row=row)
    ids = {r for r in refs if isinstance(r, int)}
    texts = {str(r) for r in refs if not isinstance(r, int)}
    numbers = {t.upper() for t in texts if _is_product_number(t)}
    live = select(Product).where(Product.deleted_at.is_(None))
    found = list(session.scalars(live.where(Product.id.in_(ids)))) if ids else []
    if numbers:
        found += session.scalars(live.where(Product.product_no.in_(numbers)))
    if texts:
        found += session.scalars(live.where(Product.product_code.in_(texts)))
    by_id = {p.id: p for p in found}
    by_number = {p.product_no: p for p in found}
    by_code = {p.product_code: p for p in found if p.product_code}
    missing = {t for t in texts if t not in by_code and t.upper() not in by_number}
    if missing:  # codes are kept as typed; a code typed in another case still finds its product
        lowered = {t.lower() for t in missing}
        for p in session.scalars(live.where(func.lower(Product.product_code).in_(lowered))):
            by_code.setdefault(str(p.product_code).lower(), p)
    out = []
    for i, ref in enumerate(refs, 1):
        product = by_id.get(ref) if isinstance(ref, int) else (
            by_number.get(str(ref).upper()) if _is_product_number(str(ref)) else None
        ) or by_code.get(str(ref)) or by_code.get(str(ref).lower())
        if product is None:
            raise ValidationError("product", N_("no product %(product)s"), row=i, product=repr(ref))
        if not product.active:
            raise ValidationError("product", N_("%(product)s is not active"), row=i, product=product.product_no)
        out.append(product)
    return out


def _is_product_number(text: str) -> bool:
    spec = registry.by_number(text)
    return spec is not None and spec.name == "products"


def _book_prices(session: Session, price_book_id: int | None, product_ids: list[int]) -> dict[int, Decimal]:
    if price_book_id is None or not product_ids:
        return {}
    stmt = select(PriceBookPrice.product_id, PriceBookPrice.list_price).where(
        PriceBookPrice.price_book_id == price_book_id, PriceBookPrice.product_id.in_(set(product_ids)))
    return {product_id: price for product_id, price in session.execute(stmt)}


def _unit_price(product: Product, currency_id: int, rates: dict[int, Decimal], row: int) -> Decimal:
    """The product's unit price in the document's currency (through the company currency when they differ)."""
    if product.unit_price is None:
        raise ValidationError("list_price", N_("%(product)s has no unit price: give the line a price"), row=row,
                              product=product.product_no)
    if product.currency_id == currency_id:
        return product.unit_price
    converted = product.unit_price * rates[product.currency_id] / rates[currency_id]
    return converted.quantize(_MONEY_PLACES, rounding=ROUND_HALF_UP)
