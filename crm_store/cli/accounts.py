"""`crm accounts`: what an account did with the company (its transactions)."""

from __future__ import annotations

import click

from crm_store.cli.output import Column, echo_table

KIND_WORDS = {"quote": "quote", "sales_order": "order", "invoice": "invoice", "payment": "payment"}


@click.group("accounts")
def accounts() -> None:
    """Work with accounts."""


@accounts.command("transactions")
@click.argument("account")
def transactions(account: str) -> None:
    """List ACCOUNT's quotes, orders, invoices and payments, newest first (ACCOUNT: ACC12 or a name)."""
    from crm_store.cli.sales_input import find_account
    from crm_store.cli.sales_output import Amounts, quantity
    from crm_store.db.engine import session_scope
    from crm_store.sales.transactions import account_transactions

    with session_scope() as session:
        found = find_account(session, account)
        rows = []
        for t in account_transactions(session, found):
            money = Amounts(t.currency, t.minor_unit)
            status = t.method if t.kind == "payment" else t.status
            products = "; ".join(f"{b.product_no} {b.name} × {quantity(b.quantity)}" for b in t.products)
            due = money(t.balance) if t.balance else ""
            rows.append((t.on, KIND_WORDS[t.kind], t.number, status, money(t.amount), due, products))
        title = f"{found.account_no} {found.name}"
    if rows:
        echo_table((Column("DATE"), Column("KIND"), Column("NUMBER"), Column("STATUS"), Column("AMOUNT", right=True),
                    Column("DUE", right=True), Column("PRODUCTS")), rows)
    click.echo(f"{len(rows)} transaction(s) of {title}.")
