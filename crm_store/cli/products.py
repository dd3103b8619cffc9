"""`crm products add|list|show|low-stock|adjust-stock` and `crm pricebooks add|list|set-price`: what the company sells.

Products and services are named by their number (PRO12) or their code (WID-1); price books by their number
(PB3) or their name. Prices print in their currency, with more decimals only when a unit price has them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crm_store.cli.output import Column, echo_table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crm_store.models import Product

LABEL = 14  # the width of a label in `show`: "Reorder level:"


@click.group("products")
def products() -> None:
    """Products and services: add and list them, show one, keep their stock.

    \b
    Examples:
      crm products add --name "Widget 小工具" --code WID-1 --price 1250 --stock 100 --reorder-level 5
      crm products add --name "Installation" --code SVC-1 --service --price 2000 --unit Hours
      crm products list --category Hardware --search widget
      crm products adjust-stock WID-1 --by 24 --reason "received from supplier"
    """


@products.command("add")
@click.option("--name", required=True, help="The product's name (Chinese is fine).")
@click.option("--code", help="Its part number or SKU, unique whatever the case; lines name products by it.")
@click.option("--service", is_flag=True, help="A service (installation, support…): it has no stock.")
@click.option("--category", help="A value of the product_category picklist (Hardware, Software, …).")
@click.option("--manufacturer", help="A value of the manufacturer picklist.")
@click.option("--price", metavar="AMOUNT", help="Unit price, in --currency (at most 4 decimals).")
@click.option("--currency", metavar="CODE", help="Currency of the unit price (default: the company's).")
@click.option("--unit", "usage_unit", help="A value of the usage_unit picklist (Each, Box, Hours, …).")
@click.option("--stock", metavar="QTY", help="Quantity in stock now (products only; later changes: adjust-stock).")
@click.option("--reorder-level", metavar="QTY", help="Below this quantity the product shows in low-stock.")
@click.option("--tax", "taxes", multiple=True, metavar="NAME",
              help="A tax its lines pay (repeatable; default: every active tax).")
@click.option("--no-tax", is_flag=True, help="No tax at all (tax-exempt goods).")
@click.option("--inactive", is_flag=True, help="Add it inactive: documents cannot use it yet.")
@click.option("--description", help="A longer description.")
@click.option("--spec", "specs", multiple=True, metavar="NAME=VALUE",
              help="A specification, such as Voltage=220 V (repeatable, kept in order).")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A picture (PNG, JPEG, GIF or WebP), stored like documents.")
def products_add(image: Path | None, **options: Any) -> None:
    """Add a product or (with --service) a service, with its taxes, specifications and picture."""
    from crm_store.cli.work import acting_user, actor, transaction
    from crm_store.config import load_config
    from crm_store.sales import products as store

    config = load_config()
    with transaction(config) as session:
        values = _product_values(session, options)
        user = acting_user(session)
        if user is not None:
            values["owner_id"] = user.id
        who = actor(session)
        product = store.create(session, values, who)
        if image is not None:
            store.set_image(session, config.data_dir, product, image, filename=image.name, actor=who)
        summary = _summary(session, product)
    click.echo(f"Added {summary}.")


def _product_values(session: Session, options: dict[str, Any]) -> dict[str, Any]:
    """The store's values from the options of `products add`."""
    from crm_store.errors import ValidationError
    from crm_store.sales import taxes

    if options["no_tax"] and options["taxes"]:
        raise ValidationError("taxes", "give --tax or --no-tax, not both")
    chosen: list[Any] = list(options["taxes"])
    if not chosen and not options["no_tax"]:
        chosen = [tax.id for tax in session.scalars(taxes.listed(active=True))]
    fields = {"name": "name", "code": "product_code", "category": "category", "manufacturer": "manufacturer",
              "price": "unit_price", "currency": "currency", "usage_unit": "usage_unit", "stock": "qty_in_stock",
              "reorder_level": "reorder_level", "description": "description"}
    values = {field: options[option] for option, field in fields.items() if options[option] is not None}
    return values | {"product_type": "service" if options["service"] else "product", "taxes": chosen,
                     "active": not options["inactive"], "specifications": _specs(options["specs"])}


def _specs(texts: tuple[str, ...]) -> list[tuple[str, str]]:
    """Specifications typed as NAME=VALUE."""
    from crm_store.errors import ValidationError

    pairs = []
    for text in texts:
        name, equals, value = text.partition("=")
        if not equals or not name.strip():
            raise ValidationError("spec", f"{text!r} is not NAME=VALUE")
        pairs.append((name.strip(), value.strip()))
    return pairs


@products.command("list")
@click.option("--category", help="Only this category.")
@click.option("--active/--inactive", default=None, help="Only active (or only inactive) ones; default both.")
@click.option("--type", "product_type", type=click.Choice(["product", "service"]), help="Only products or services.")
@click.option("--search", metavar="TEXT", help="Only those whose name, code or number holds TEXT.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="At most this many.")
def products_list(category: str | None, active: bool | None, product_type: str | None, search: str | None,
                  limit: int) -> None:
    """List products and services by name, with their price and stock."""
    from crm_store.db.engine import session_scope
    from crm_store.sales import products as store

    with session_scope() as session:
        found = session.scalars(store.listed(category=category, active=active, search=search,
                                             product_type=product_type, limit=limit)).all()
        prices = _Prices(session)
        rows = [(p.product_no, p.product_code, p.name, p.category, prices(p.unit_price, p.currency_id),
                 _stock(p), "" if p.active else "inactive") for p in found]
    if rows:
        echo_table((Column("NUMBER"), Column("CODE", 20), Column("NAME", 30), Column("CATEGORY", 16),
                    Column("PRICE", right=True), Column("STOCK", right=True), Column("")), rows)
    click.echo(f"{len(rows)} product(s).")


@products.command("show")
@click.argument("product")
def products_show(product: str) -> None:
    """Show PRODUCT (PRO12 or its code): every field, taxes, specifications, price-book prices and stock."""
    from crm_store.db.engine import session_scope
    from crm_store.models import Currency, Document, User
    from crm_store.sales import price_books
    from crm_store.sales import products as store

    with session_scope() as session:
        found = store.find(session, product)
        prices = _Prices(session)
        currency = session.get_one(Currency, found.currency_id)
        image = session.get(Document, found.image_document_id) if found.image_document_id else None
        owner = session.get(User, found.owner_id) if found.owner_id else None
        taxes = ", ".join(f"{t.name} {_quantity(t.rate)} %" + ("" if t.active else " (inactive)")
                          for t in store.tax_classes(session, found))
        click.echo(f"{found.product_type.capitalize()} {found.product_no}  {found.name}")
        click.echo()
        for label, value in (
            ("Code", found.product_code), ("Category", found.category), ("Manufacturer", found.manufacturer),
            ("Unit price", f"{prices(found.unit_price, found.currency_id)} ({currency.code})"
             if found.unit_price is not None else ""),
            ("Usage unit", found.usage_unit), ("Stock", _stock(found) or "none (a service)"),
            ("Reorder level", _quantity(found.reorder_level)), ("Active", "yes" if found.active else "no"),
            ("Taxes", taxes or "none"),
            ("Image", f"{image.document_no} {image.filename} ({image.content_type})" if image else ""),
            ("Owner", f"{owner.name} <{owner.email}>" if owner else ""), ("Description", found.description),
        ):
            if value:
                click.echo(f"{label + ':':<{LABEL}} {value}")
        if found.specifications:
            click.echo()
            click.echo("Specifications")
            for spec in found.specifications:
                click.echo(f"  {spec['name']}: {spec['value']}")
        listed = [(book.price_book_no, book.name, cur.code, prices(price, cur.id), "" if book.active else "inactive")
                  for book, price, cur in session.execute(price_books.prices_of_product(found))]
    if listed:
        click.echo()
        click.echo("Price books")
        echo_table((Column("NUMBER"), Column("NAME", 30), Column("CURRENCY"), Column("PRICE", right=True),
                    Column("")), listed)


@products.command("low-stock")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="At most this many.")
def products_low_stock(limit: int) -> None:
    """List products below their reorder level, the furthest below first (services have no stock)."""
    from crm_store.db.engine import session_scope
    from crm_store.sales import stock

    with session_scope() as session:
        rows = [(p.product_no, p.product_code, p.name, _stock(p), _quantity(p.reorder_level),
                 _quantity(p.reorder_level - (p.qty_in_stock or 0)))
                for p in session.scalars(stock.low_stock().limit(limit))]
    if rows:
        echo_table((Column("NUMBER"), Column("CODE", 20), Column("NAME", 30), Column("STOCK", right=True),
                    Column("REORDER AT", right=True), Column("SHORT BY", right=True)), rows)
    click.echo(f"{len(rows)} product(s) below their reorder level.")


@products.command("adjust-stock")
@click.argument("product")
@click.option("--by", required=True, metavar="QTY", help="Quantity to add (received) or, negative, to take off.")
@click.option("--reason", required=True, help="Why, for the audit trail: received PO 12, counted, broken…")
def products_adjust_stock(product: str, by: str, reason: str) -> None:
    """Add stock received or correct it after a count (negative --by takes off); audited with the reason.

    Stock may go below zero unless the company setting allow_negative_stock is off; a warning says so.
    """
    from crm_store.cli.work import actor, transaction
    from crm_store.sales import products as store
    from crm_store.sales import stock

    with transaction() as session:
        found = store.find(session, product)
        before = found.qty_in_stock or Decimal(0)
        planned = stock.adjust_stock(session, found, by, reason, actor(session))
        text = f"Stock of {found.product_no} {found.name}: {_quantity(before)} → {_stock(found)}."
    click.echo(text)
    for warning in planned.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.group("pricebooks")
def pricebooks() -> None:
    """Price books: named lists of prices in one currency, which documents take their lines' prices from.

    \b
    Examples:
      crm pricebooks add --name Dealers --currency TWD
      crm pricebooks set-price PB1 WID-1 --price 1000
      crm quotes add --account ACC12 --subject Offer --price-book Dealers --line WID-1:10
    """


@pricebooks.command("add")
@click.option("--name", required=True, help="The price book's name, unique among price books.")
@click.option("--currency", metavar="CODE", help="Currency of its prices (default: the company's).")
@click.option("--inactive", is_flag=True, help="Add it inactive: documents cannot use it yet.")
@click.option("--description", help="What it is for.")
def pricebooks_add(name: str, currency: str | None, inactive: bool, description: str | None) -> None:
    """Add a price book; then set its prices with set-price."""
    from crm_store.cli.work import acting_user, actor, transaction
    from crm_store.models import Currency
    from crm_store.sales import price_books

    with transaction() as session:
        values: dict[str, Any] = {"name": name, "currency": currency, "active": not inactive,
                                  "description": description}
        user = acting_user(session)
        if user is not None:
            values["owner_id"] = user.id
        book = price_books.create(session, values, actor(session))
        code = session.get_one(Currency, book.currency_id).code
        text = f"Added price book {book.price_book_no} {book.name} ({code})."
    click.echo(text)


@pricebooks.command("list")
@click.option("--active/--inactive", default=None, help="Only active (or only inactive) ones; default both.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="At most this many.")
def pricebooks_list(active: bool | None, limit: int) -> None:
    """List price books by name, with their currency and how many prices each holds."""
    from crm_store.db.engine import session_scope
    from crm_store.sales import price_books

    with session_scope() as session:
        rows = [(book.price_book_no, book.name, code, count, "" if book.active else "inactive")
                for book, code, count in session.execute(price_books.listed(active=active, limit=limit))]
    if rows:
        echo_table((Column("NUMBER"), Column("NAME", 30), Column("CURRENCY"), Column("PRICES", right=True),
                    Column("")), rows)
    click.echo(f"{len(rows)} price book(s).")


@pricebooks.command("set-price")
@click.argument("price_book")
@click.argument("product")
@click.option("--price", required=True, metavar="AMOUNT", help="The list price, in the price book's currency.")
def pricebooks_set_price(price_book: str, product: str, price: str) -> None:
    """Set (or replace) PRODUCT's list price in PRICE_BOOK (PB3 or its name; PRO12 or the product's code)."""
    from crm_store.cli.sales_input import find_record
    from crm_store.cli.work import actor, transaction
    from crm_store.sales import price_books
    from crm_store.sales import products as store

    with transaction() as session:
        book = find_record(session, "price_books", "price_book", price_book)
        found = store.find(session, product)
        done = price_books.set_price(session, book, found, price, actor(session))
        prices = _Prices(session)
        now = prices(done.price.list_price, book.currency_id)
        was = "" if done.before is None else f" (was {prices(done.before, book.currency_id)})"
        if not done.changed:
            was = " (unchanged)"
        text = f"{book.price_book_no} {book.name}: {found.product_no} {found.name} at {now}{was}."
    click.echo(text)


class _Prices:
    """Prices as people read them, in their currency (a unit price keeps decimals its currency lacks)."""

    def __init__(self, session: Session) -> None:
        from sqlalchemy import select

        from crm_store.models import Currency

        self.currencies = {c.id: (c.code, c.minor_unit) for c in session.scalars(select(Currency))}

    def __call__(self, amount: Decimal | None, currency_id: int) -> str:
        from crm_store.cli.sales_output import Amounts

        if amount is None:
            return ""
        code, minor_unit = self.currencies[currency_id]
        places = -int(amount.normalize().as_tuple().exponent)
        return Amounts(code, minor_unit if places <= minor_unit else max(places, 2))(amount)


def _stock(product: Product) -> str:
    """A product's stock (0 when never counted); nothing for a service."""
    if product.product_type == "service":
        return ""
    return _quantity(product.qty_in_stock or Decimal(0))


def _quantity(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def _summary(session: Session, product: Product) -> str:
    prices = _Prices(session)
    price = prices(product.unit_price, product.currency_id)
    parts = [f"{product.product_type} {product.product_no}"]
    if product.product_code:
        parts.append(product.product_code)
    parts.append(product.name)
    text = " ".join(parts)
    details = [p for p in (price, f"{_stock(product)} in stock" if _stock(product) else "") if p]
    return f"{text}: {', '.join(details)}" if details else text
