"""Small datasets built in the store for the report tests, and the reports run on their warehouse.

Records are made through the store's own functions (accounts, invoices with their lines, opportunities
moved through their stages with back-dated times), so the warehouse sees what the CRM really writes.
The company's zone is Asia/Taipei (UTC+8, no daylight saving): times are given in it with `taipei(...)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from analytics.reports import ReportParams, run_report
from analytics.warehouse import open_warehouse, refresh
from crm_store.actor import Actor
from crm_store.models import Account, Currency, Invoice, Opportunity, Product, SalesProcess, User
from crm_store.pipeline import stages
from crm_store.records import lifecycle, numbering
from crm_store.sales import documents
from crm_store.settings import company
from crm_store.staff import teams, users

ACTOR = Actor.system("test")
TAIPEI = ZoneInfo("Asia/Taipei")


@dataclass
class Staff:
    """Three reps in two teams, and their manager (in neither team)."""

    ann: User  # team North
    bob: User  # team South
    cho: User  # team North
    mia: User  # manager of both teams


def taipei(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """A moment on the company's clock (Asia/Taipei, UTC+8)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=TAIPEI)


def make_staff(session: Session, *, time_zone: str = "Asia/Taipei", clv_years: int | None = None) -> Staff:
    """The company's zone (and `clv_years` when given), the reps Ann, Bob and Cho, teams North and South."""
    company.set_value(session, "time_zone", time_zone)
    if clv_years is not None:
        company.set_value(session, "clv_years", clv_years)
    mia = users.add_user(session, "mia@leadline.test", "Mia", role="manager", welcome=False)
    ann, bob, cho = (users.add_user(session, f"{n.lower()}@leadline.test", n, welcome=False)
                     for n in ("Ann", "Bob", "Cho"))
    north, south = teams.add_team(session, "North", mia.email), teams.add_team(session, "South", mia.email)
    teams.add_member(session, north, ann.email)
    teams.add_member(session, north, cho.email)
    teams.add_member(session, south, bob.email)
    session.flush()
    return Staff(ann, bob, cho, mia)


# -- customers: accounts, products, invoices -------------------------------------------------------------------


def add_account(session: Session, name: str, owner: User) -> Account:
    """An account owned by `owner`."""
    return lifecycle.create_account(session, {"name": name, "owner_id": owner.id}, ACTOR)


def add_service(session: Session, code: str, name: str) -> Product:
    """A service without taxes or stock, so that an invoice's grand total is the sum of its lines."""
    product = Product(product_no=numbering.allocate(session, "products")[0], product_code=code, name=name,
                      unit_price=D(0), currency_id=company_currency_id(session), product_type="service")
    session.add(product)
    session.flush()
    return product


def company_currency_id(session: Session) -> int:
    code = company.get(session, "default_currency")
    return session.scalars(select(Currency.id).where(Currency.code == code)).one()


Line = tuple[Product, str, str]  # product, quantity, unit price (in the invoice's currency)


def add_invoice(session: Session, account: Account, day: dt.date, lines: Sequence[Line], *, currency: str = "TWD",
                status: str = "Created") -> Invoice:
    """An invoice dated `day` with lines at the given prices (no discount, no tax)."""
    header = {"subject": f"{account.name} {day.isoformat()}", "account_id": account.id, "invoice_date": day,
              "currency": currency, "status": status, "owner_id": account.owner_id}
    rows = [{"product": p.product_no, "quantity": q, "list_price": price} for p, q, price in lines]
    return documents.create(session, "invoices", header, rows, ACTOR).document


# -- deals: opportunities and their stages ----------------------------------------------------------------------


def process_id(session: Session, name: str) -> int:
    return session.scalars(select(SalesProcess.id).where(SalesProcess.name == name)).one()


def add_deal(
    session: Session,
    name: str,
    owner: User,
    created: dt.datetime,
    moves: Sequence[tuple[str, dt.datetime]] = (),
    *,
    amount: str | None = "0",
    currency: str = "TWD",
    expected: dt.date = dt.date(2026, 9, 30),
    first: str | None = None,
    process: str | None = None,
    probability: int | None = None,
) -> Opportunity:
    """An opportunity created at `created` (in `first` stage, else the process's first), then moved through `moves`.

    `probability` is given with the last move (the stage's own otherwise).
    """
    values: dict[str, Any] = {"name": name, "owner_id": owner.id, "expected_close_date": expected,
                              "currency": currency}
    if amount is not None:
        values["amount"] = amount
    if first is not None:
        values["stage"] = first
    if process is not None:
        values["sales_process_id"] = process_id(session, process)
    opp = lifecycle.create_opportunity(session, values, ACTOR, at=created)
    for i, (stage, at) in enumerate(moves, 1):
        stages.change_stage(session, opp, stage, ACTOR, at=at,
                            probability=probability if i == len(moves) else None)
    session.flush()
    return opp


def blank_probability(session: Session, opp: Opportunity) -> None:
    """Empty an opportunity's probability (as an import may leave it): reports fall back to its stage's."""
    session.execute(update(Opportunity).where(Opportunity.id == opp.id).values(probability=None)
                    .execution_options(synchronize_session=False))


def delete(session: Session, record: Any) -> None:
    """Move a record to the recycle bin."""
    lifecycle.delete(session, record, ACTOR)


# -- the warehouse and its reports ------------------------------------------------------------------------------


def warehouse(database_url: str, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """Refresh a warehouse from the store at `database_url` and open it read-only."""
    target = tmp_path / "analytics.duckdb"
    refresh(database_url, target)
    return open_warehouse(target)


def run(con: duckdb.DuckDBPyConnection, name: str, as_of: dt.date, **params: Any) -> list[dict[str, Any]]:
    """A report's rows as dicts; parameters not given are left to the runner's defaults."""
    known = {f.name for f in fields(ReportParams)}
    values = {"as_of": as_of, **params}
    unknown = set(values) - known
    assert not unknown, f"not report parameters: {unknown}"
    result = run_report(con, name, ReportParams(**{k: values.get(k) for k in known}))
    return result.as_dicts()


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """Rows by their grain key, checking that it is unique and never null."""
    keys = [row[key] for row in rows]
    assert None not in keys, f"null {key}"
    assert len(set(keys)) == len(keys), f"{key} repeats: {keys}"
    return {row[key]: row for row in rows}



def money(value: Any) -> D:
    """A money value as a Decimal (the report's DECIMAL), compared exactly."""
    assert isinstance(value, D), f"{value!r} is not a Decimal"
    return value
