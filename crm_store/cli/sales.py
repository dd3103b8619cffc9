"""`crm quotes|orders|invoices add|list|show`, `crm convert`, `crm payments add`: sales documents.

The three document groups share their commands; each adds its own dates. Lines are typed with repeated
`--line CODE:QTY[:PRICE[:DISCOUNT]]` or listed in a YAML or JSON file (`--lines FILE`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from crm_store.cli.output import Column, echo_table

GROUPS = {"quotes": ("quotes", "quote"), "orders": ("sales_orders", "sales order"), "invoices": ("invoices", "invoice")}
DATES = {
    "quotes": (("--valid-till", "valid_till", "Valid till this date, YYYY-MM-DD."),),
    "sales_orders": (("--due-date", "due_date", "Due date, YYYY-MM-DD."),),
    "invoices": (("--invoice-date", "invoice_date", "Invoice date, YYYY-MM-DD (default: today)."),
                 ("--due-date", "due_date", "Payment due date, YYYY-MM-DD.")),
}
TARGETS = {"order": "sales_orders", "invoice": "invoices"}


def _document_group(name: str) -> click.Group:
    module, label = GROUPS[name]

    @click.group(name, help=f"Work with {label}s: add one with its lines, list them, show one like a printed "
                            f"{label}.")
    def group() -> None:
        pass

    _add_command(group, module, label)
    _list_command(group, module, label)
    _show_command(group, module, label)
    return group


def _add_command(group: click.Group, module: str, label: str) -> None:
    def add(**options: Any) -> None:
        from crm_store.cli.sales_input import lines_named
        from crm_store.cli.work import acting_user, actor, transaction
        from crm_store.languages import format_money
        from crm_store.models import Currency
        from crm_store.records import registry
        from crm_store.sales import documents

        with transaction() as session:
            values, lines = _values(session, module, options)
            user = acting_user(session)
            if user is not None:
                values.setdefault("owner_id", user.id)
            with lines_named():
                saved = documents.create(session, module, values, lines, actor(session))
            doc = saved.document
            currency = session.get_one(Currency, doc.currency_id)
            total = format_money(doc.grand_total, currency.code, currency.minor_unit, "en")
            number = getattr(doc, registry.get(module).number_field)
            click.echo(f"Added {label} {number} for {options['account']}: {len(lines)} line(s), grand total {total}.")
        for warning in saved.warnings:
            click.echo(f"warning: {warning}", err=True)

    article = "an" if label[0] in "aeiou" else "a"
    add.__doc__ = (f"Add {article} {label} with its lines (--line CODE:QTY[:PRICE[:DISCOUNT]], repeatable, or "
                   "--lines FILE).")
    dates = [click.option(flag, field, metavar="DATE", help=text) for flag, field, text in DATES[module]]
    for option in reversed([*_ADD_OPTIONS, *dates]):  # as stacked decorators: the first listed shows first
        add = option(add)
    group.add_command(click.command("add")(add))


_ADD_OPTIONS = (
    click.option("--account", required=True, help="The account: its number (ACC12) or its name."),
    click.option("--subject", required=True, help="What the document is about."),
    click.option("--line", "line_texts", multiple=True, metavar="CODE:QTY[:PRICE[:DISCOUNT]]",
                 help="A line: a product (code or PRO number), a quantity, optionally a price (default: the price "
                      "book's, else the product's) and a discount (10% or 50). Repeatable."),
    click.option("--lines", "lines_file", type=click.Path(dir_okay=False, path_type=Path),
                 help="A YAML or JSON file listing the lines (product, quantity, list_price, discount, comment)."),
    click.option("--contact", help="The contact: their number (CON12)."),
    click.option("--status", help="A value of the document's status picklist (default: Created)."),
    click.option("--currency", metavar="CODE", help="Currency code (default: the price book's, else the company's)."),
    click.option("--price-book", metavar="PB12", help="Price book (number or name) the lines take their prices from."),
    click.option("--tax-mode", type=click.Choice(["individual", "group"]),
                 help="individual: each product's taxes per line (default); group: taxes on the whole document."),
    click.option("--tax", "taxes", multiple=True, metavar="NAME",
                 help="A tax on the whole document in group mode (repeatable; default: every active tax)."),
    click.option("--discount", metavar="10%|50", help="An overall discount: a percent (10%) or an amount (50)."),
    click.option("--shipping", metavar="AMOUNT", help="Shipping and handling."),
    click.option("--adjustment", metavar="AMOUNT", help="Added to the grand total (negative: taken off)."),
    click.option("--terms", help="Terms and conditions."),
)


def _values(session: Any, module: str, options: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header values and lines the options give."""
    from crm_store.cli.sales_input import discount, file_lines, find_account, find_record, lines_named, typed_lines
    from crm_store.errors import ValidationError

    if options["line_texts"] and options["lines_file"]:
        raise ValidationError("lines", "give lines with --line or with --lines FILE, not both")
    with lines_named():
        lines = file_lines(options["lines_file"]) if options["lines_file"] else typed_lines(options["line_texts"])
    if not lines:
        raise ValidationError("lines", "a document needs at least one line: --line CODE:QTY or --lines FILE")
    values: dict[str, Any] = {"subject": options["subject"], "account_id": find_account(session, options["account"]).id}
    if options["contact"]:
        values["contact_id"] = find_record(session, "contacts", "contact", options["contact"]).id
    if options["price_book"]:
        values["price_book_id"] = find_record(session, "price_books", "price_book", options["price_book"]).id
    if options["discount"]:
        overall = discount(options["discount"], None)
        key = "discount_percent" if overall["discount_kind"] == "percent" else "discount_amount"
        values[key] = overall["discount_value"]
    if options["taxes"]:
        values["taxes"] = list(options["taxes"])
    plain = {"status": "status", "currency": "currency", "tax_mode": "tax_mode", "shipping": "shipping_amount",
             "adjustment": "adjustment", "terms": "terms", **{field: field for _f, field, _h in DATES[module]}}
    values |= {field: options[option] for option, field in plain.items() if options.get(option) is not None}
    return values, lines


def _list_command(group: click.Group, module: str, label: str) -> None:
    @group.command("list", help=f"List {label}s, newest first.")
    @click.option("--account", help="Only this account's (number or name).")
    @click.option("--status", help="Only those with this status.")
    @click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="At most this many.")
    def list_documents(account: str | None, status: str | None, limit: int) -> None:
        from sqlalchemy import select

        from crm_store.cli.sales_input import find_account
        from crm_store.cli.sales_output import Amounts
        from crm_store.db.engine import session_scope
        from crm_store.models import Account
        from crm_store.records import registry
        from crm_store.sales import documents

        model, number = documents.model_of(module), registry.get(module).number_field
        with session_scope() as session:
            stmt = (select(model, Account.name).join(Account, Account.id == model.account_id)
                    .where(model.deleted_at.is_(None)).order_by(model.created_at.desc(), model.id.desc()).limit(limit))
            if account:
                stmt = stmt.where(model.account_id == find_account(session, account).id)
            if status:
                stmt = stmt.where(model.status == status)
            rows = []
            for doc, account_name in session.execute(stmt):
                money = Amounts.of(session, doc.currency_id)
                day = doc.invoice_date if module == "invoices" else doc.created_at.date()
                extra = (money(doc.balance),) if module == "invoices" else ()
                rows.append((getattr(doc, number), day, doc.subject, account_name, doc.status,
                             money(doc.grand_total), *extra))
        columns = [Column("NUMBER"), Column("DATE"), Column("SUBJECT", 30), Column("ACCOUNT", 30), Column("STATUS"),
                   Column("TOTAL", right=True)]
        if module == "invoices":
            columns.append(Column("BALANCE", right=True))
        if rows:
            echo_table(columns, rows)
        click.echo(f"{len(rows)} {label}(s).")


def _show_command(group: click.Group, module: str, label: str) -> None:
    @group.command("show", help=f"Show a {label} like a printed one: its parties, lines and totals.")
    @click.argument("number")
    def show(number: str) -> None:
        from crm_store.cli.sales_output import echo_document
        from crm_store.db.engine import session_scope
        from crm_store.sales import documents

        with session_scope() as session:
            echo_document(session, module, documents.find(session, number, module))


quotes = _document_group("quotes")
orders = _document_group("orders")
invoices = _document_group("invoices")


@click.command("convert")
@click.argument("number")
@click.option("--to", "target", type=click.Choice(sorted(TARGETS)), required=True,
              help="order: a sales order (from a quote); invoice: an invoice (from a quote or a sales order).")
def convert(number: str, target: str) -> None:
    """Convert a quote (QUO12) or a sales order (SO12) into a sales order or an invoice, lines and totals kept."""
    from crm_store.cli.sales_output import Amounts
    from crm_store.cli.work import actor, transaction
    from crm_store.records import registry
    from crm_store.sales import conversions, documents

    with transaction() as session:
        source = documents.find(session, number)
        saved = conversions.convert(session, source, TARGETS[target], actor(session))
        doc = saved.document
        made = getattr(doc, registry.get(TARGETS[target]).number_field)
        accepted = f"; {number.upper()} is Accepted" if registry.of_record(source).name == "quotes" else ""
        total = Amounts.of(session, doc.currency_id)(doc.grand_total)
        click.echo(f"Converted {number.upper()} into {made} (grand total {total}){accepted}.")
    for warning in saved.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.group("payments")
def payments() -> None:
    """Payments received against invoices."""


@payments.command("add")
@click.argument("invoice_no")
@click.option("--amount", required=True, help="The amount paid, in the invoice's currency.")
@click.option("--date", "paid_on", required=True, metavar="DATE", help="When it was paid, YYYY-MM-DD.")
@click.option("--method", help="A value of the payment_method picklist (Bank Transfer, Cash, …).")
@click.option("--reference", help="The bank's or the customer's reference.")
def payments_add(invoice_no: str, amount: str, paid_on: str, method: str | None, reference: str | None) -> None:
    """Record a payment on INVOICE_NO; an invoice paid in full becomes Paid."""
    from crm_store.cli.sales_output import Amounts
    from crm_store.cli.work import actor, transaction
    from crm_store.sales import documents
    from crm_store.sales.payments import add_payment

    with transaction() as session:
        invoice = documents.find(session, invoice_no, "invoices")
        payment = add_payment(session, invoice, {"paid_on": paid_on, "amount": amount, "method": method,
                                                 "reference": reference}, actor(session))
        money = Amounts.of(session, invoice.currency_id)
        click.echo(f"Recorded {money(payment.amount)} on {invoice.invoice_no}: received {money(invoice.received)}, "
                   f"balance {money(invoice.balance)} ({invoice.status}).")
