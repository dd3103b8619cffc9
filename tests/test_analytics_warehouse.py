"""The warehouse: the store's business tables copied into DuckDB with the models' types, on both backends."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session

from analytics import warehouse
from analytics.warehouse import copied_tables, fields, open_warehouse, refresh, warehouse_path
from crm_store.db.engine import make_engine, session_factory
from crm_store.errors import CrmError
from crm_store.models import (
    Account,
    Currency,
    Opportunity,
    Product,
    SalesStage,
    StageHistory,
    Tax,
    User,
)
from crm_store.settings import company
from tests.conftest import _migrate_and_seed
from tests.pg_server import PostgresServer

UTC = dt.UTC
FIXED = dt.datetime(2026, 1, 1, tzinfo=UTC)


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return dict(rows)


def add_sample(session: Session) -> None:
    """A rep, an account, two deals (the first with NULL probability and close, the second with both), history."""
    company.set_value(session, "time_zone", "Asia/Taipei")
    rep = User(email="rep@leadline.test", name="Rep", password_hash="scrypt$secret", failed_sign_ins=2,
               created_at=dt.datetime(2026, 2, 1, 8, 0, tzinfo=UTC))
    session.add(rep)
    session.flush()
    account = Account(account_no="ACC1", name="Acme", name_key="acme", owner_id=rep.id,
                      annual_revenue=D("1234.5"), created_at=FIXED, updated_at=FIXED)
    session.add(account)
    usd = session.scalars(select(Currency).where(Currency.code == "USD")).one()
    jpy = session.scalars(select(Currency).where(Currency.code == "JPY")).one()
    stages = session.scalars(select(SalesStage).order_by(SalesStage.id)).all()
    session.flush()
    open_deal = Opportunity(
        opportunity_no="POT1", name="Open deal", account_id=account.id, owner_id=rep.id, amount=D("1234.5678"),
        currency_id=usd.id, conversion_rate=D("32.5"), expected_close_date=dt.date(2026, 6, 30),
        sales_process_id=stages[0].sales_process_id, stage_id=stages[0].id, probability=None, closed_at=None,
        created_at=dt.datetime(2026, 3, 1, 12, 34, 56, 123456, tzinfo=UTC), updated_at=FIXED)
    won_deal = Opportunity(
        opportunity_no="POT2", name="Won deal", account_id=account.id, owner_id=rep.id, amount=None,
        currency_id=jpy.id, conversion_rate=D("0.215"), expected_close_date=dt.date(2026, 4, 1),
        sales_process_id=stages[0].sales_process_id, stage_id=stages[1].id, probability=40,
        closed_at=dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC), created_at=FIXED, updated_at=FIXED)
    session.add_all([open_deal, won_deal])
    session.flush()
    session.add_all([
        StageHistory(opportunity_id=won_deal.id, stage_id=stages[0].id, amount=D("10"),
                     entered_at=FIXED, left_at=dt.datetime(2026, 2, 1, tzinfo=UTC)),
        StageHistory(opportunity_id=won_deal.id, stage_id=stages[1].id, amount=None,
                     entered_at=dt.datetime(2026, 2, 1, tzinfo=UTC)),
        Tax(name="Luxury", rate=D("12.5"), position=9),
        Product(product_no="PRO1", name="Widget", currency_id=usd.id, unit_price=D("99.9999"), qty_in_stock=D("1.5"),
                specifications={"colour": "red", "size": 3}, created_at=FIXED, updated_at=FIXED),
    ])
    session.commit()


@pytest.fixture
def built(database_url: str, session: Session, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The sample in the store, refreshed into a warehouse, opened read-only."""
    add_sample(session)
    refresh(database_url, tmp_path / "analytics.duckdb")
    con = open_warehouse(tmp_path / "analytics.duckdb")
    yield con
    con.close()


def test_types_come_from_the_models(built: duckdb.DuckDBPyConnection) -> None:
    opportunities = _column_types(built, "opportunities")
    assert opportunities["amount"] == "DECIMAL(20,4)"
    assert opportunities["conversion_rate"] == "DECIMAL(20,8)"
    assert opportunities["closed_at"] == "TIMESTAMP"
    assert opportunities["expected_close_date"] == "DATE"
    assert opportunities["probability"] == "BIGINT"
    assert opportunities["lost_reason"] == "VARCHAR"
    assert _column_types(built, "users")["active"] == "BOOLEAN"
    assert _column_types(built, "line_items")["quantity"] == "DECIMAL(20,3)"
    assert _column_types(built, "taxes")["rate"] == "DECIMAL(20,3)"
    # an empty table keeps its types too
    assert built.execute("SELECT count(*) FROM payments").fetchall() == [(0,)]
    assert _column_types(built, "payments")["amount"] == "DECIMAL(20,4)"
    assert _column_types(built, "payments")["paid_on"] == "DATE"


def test_values_are_the_real_ones(built: duckdb.DuckDBPyConnection) -> None:
    rows = built.execute(
        "SELECT opportunity_no, amount, conversion_rate, probability, closed_at, created_at, expected_close_date"
        " FROM opportunities ORDER BY opportunity_no").fetchall()
    assert rows == [
        ("POT1", D("1234.5678"), D("32.5"), None, None, dt.datetime(2026, 3, 1, 12, 34, 56, 123456),
         dt.date(2026, 6, 30)),
        ("POT2", None, D("0.215"), 40, dt.datetime(2026, 3, 31, 23, 30), dt.datetime(2026, 1, 1), dt.date(2026, 4, 1)),
    ]
    assert built.execute("SELECT annual_revenue FROM accounts").fetchall() == [(D("1234.5"),)]
    assert built.execute("SELECT rate FROM taxes WHERE name = 'Luxury'").fetchall() == [(D("12.5"),)]
    assert built.execute("SELECT unit_price, qty_in_stock FROM products").fetchall() == [(D("99.9999"), D("1.5"))]
    # amount × rate is company money: 1234.5678 USD at 32.5
    assert built.execute("SELECT amount * conversion_rate FROM opportunities WHERE opportunity_no = 'POT1'"
                         ).fetchall() == [(D("40123.453500000000"),)]
    assert built.execute("SELECT count(*), count(amount) FROM stage_history").fetchall() == [(2, 1)]


def test_settings_snapshot_and_zone_macros(built: duckdb.DuckDBPyConnection) -> None:
    settings = dict(built.execute("SELECT key, value FROM _settings").fetchall())
    assert settings["time_zone"] == "Asia/Taipei"
    assert settings["clv_years"] == "3"
    assert settings["lead_aging_days"] == "7"
    assert settings["default_currency"] == "TWD"
    assert set(settings) == {d.key for d in company.DEFINITIONS}
    [(taken_at, database)] = built.execute("SELECT taken_at, database FROM _snapshot").fetchall()
    assert abs(dt.datetime.now(UTC).replace(tzinfo=None) - taken_at) < dt.timedelta(minutes=10)
    assert "leadline.db" in database or database.startswith("postgresql")
    # 23:30 UTC on 31 March is 07:30 on 1 April in Taipei: the company's day
    assert built.execute("SELECT local_ts(closed_at), local_date(closed_at) FROM opportunities"
                         " WHERE opportunity_no = 'POT2'").fetchall() == [
        (dt.datetime(2026, 4, 1, 7, 30), dt.date(2026, 4, 1))]


def test_business_tables_only_and_no_secrets(built: duckdb.DuckDBPyConnection) -> None:
    names = {r[0] for r in built.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"leads", "opportunities", "stage_history", "invoices", "line_items", "users", "teams"} <= names
    assert not names & {"audit_log", "search_documents", "search_grams", "outbox", "sign_in_failures"}
    users = _column_types(built, "users")
    assert "email" in users and "password_hash" not in users and "locked_until" not in users
    assert "integration_key" not in _column_types(built, "web_forms")
    assert built.execute("SELECT email FROM users").fetchall() == [("rep@leadline.test",)]


def test_null_led_columns_survive_small_batches(database_url: str, session: Session, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # With one row per batch, the first batch of closed_at and probability is all NULL: the driver alone
    # would type those columns int64 and fail on the next batch's text and integers.
    monkeypatch.setattr(warehouse, "SQLITE_BATCH_ROWS", 1)
    add_sample(session)
    done = refresh(database_url, tmp_path / "a.duckdb")
    with open_warehouse(tmp_path / "a.duckdb") as con:
        assert con.execute("SELECT probability, closed_at FROM opportunities ORDER BY id").fetchall() == [
            (None, None), (40, dt.datetime(2026, 3, 31, 23, 30))]
        counts = sum(con.execute(f'SELECT count(*) FROM "{t.name}"').fetchall()[0][0] for t in copied_tables())
    assert done.rows == counts and done.tables == len(copied_tables())


def test_rename_into_place_and_a_failed_refresh_keeps_the_old_file(
        database_url: str, session: Session, tmp_path: Path) -> None:
    target = warehouse_path(tmp_path)
    assert target == tmp_path / "analytics.duckdb"
    refresh(database_url, target)
    reader = open_warehouse(target)  # a reader of the old file keeps reading it while a new one replaces it
    add_sample(session)
    seen: list[tuple[str, int]] = []
    refresh(database_url, target, progress=lambda table, rows: seen.append((table, rows)))
    assert reader.execute("SELECT count(*) FROM opportunities").fetchall() == [(0,)]
    reader.close()
    with open_warehouse(target) as con:
        assert con.execute("SELECT count(*) FROM opportunities").fetchall() == [(2,)]
    assert ("opportunities", 2) in seen and len(seen) == len(copied_tables())
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(Exception, match="no such table"):
        refresh(f"sqlite:///{empty}", target)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("analytics")) == ["analytics.duckdb"]
    with open_warehouse(target) as con:
        assert con.execute("SELECT count(*) FROM opportunities").fetchall() == [(2,)]


def test_one_snapshot_that_never_blocks_writers(database_url: str, session: Session, tmp_path: Path) -> None:
    # Between the first table copied and the users table, a writer adds a user and commits: it is not kept
    # waiting (the refresh only reads), and the warehouse shows the store as it was when the copy began.
    add_sample(session)
    written: list[str] = []

    def write_once(table: str, rows: int) -> None:
        if not written:
            session.add(User(email="late@leadline.test", name="Late"))
            session.commit()
            written.append(table)

    refresh(database_url, tmp_path / "a.duckdb", progress=write_once)
    assert written and copied_tables()[0].name == written[0] != "users"
    assert [t.name for t in copied_tables()].index("users") > 0
    assert session.scalar(select(User.id).where(User.email == "late@leadline.test")) is not None
    session.commit()
    with open_warehouse(tmp_path / "a.duckdb") as con:
        assert con.execute("SELECT email FROM users").fetchall() == [("rep@leadline.test",)]


def test_missing_warehouse_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(CrmError, match=r"nowhere\.duckdb.*crm analytics refresh"):
        open_warehouse(tmp_path / "nowhere.duckdb")


def test_every_model_column_has_a_warehouse_type() -> None:
    for table in copied_tables():
        assert fields(table), table.name  # raises TypeError for a column type the warehouse does not know


# -- the same data from SQLite and from PostgreSQL ------------------------------------------------------

def _fresh_store(url: str) -> None:
    """Migrate and seed, then pin the seeded rows' timestamps so that two stores can be compared."""
    _migrate_and_seed(url)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            for table in copied_tables():
                for f in fields(table):
                    if f.kind == "timestamp":
                        column = table.c[f.name]
                        session.execute(update(table).where(column.is_not(None)).values({f.name: FIXED}))
        with session_factory(engine)() as session:
            add_sample(session)
    finally:
        engine.dispose()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    name = f"w_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    try:
        yield pg_server.url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def test_sqlite_and_postgresql_give_identical_warehouses(pg_url: str, tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'leadline.db'}"
    for url in (sqlite_url, pg_url):
        _fresh_store(url)
    from_sqlite = refresh(sqlite_url, tmp_path / "from_sqlite.duckdb")
    from_pg = refresh(pg_url, tmp_path / "from_pg.duckdb")
    assert from_sqlite.rows == from_pg.rows > 0
    with open_warehouse(tmp_path / "from_sqlite.duckdb") as a, open_warehouse(tmp_path / "from_pg.duckdb") as b:
        for name in [t.name for t in copied_tables()] + ["_settings"]:
            assert _column_types(a, name) == _column_types(b, name), name
            query = f'SELECT * FROM "{name}" ORDER BY ALL'
            assert a.execute(query).fetchall() == b.execute(query).fetchall(), name
        assert a.execute("SELECT specifications FROM products").fetchall() == b.execute(
            "SELECT specifications FROM products").fetchall() != [(None,)]
        assert a.execute("SELECT sum(amount * conversion_rate) FROM opportunities").fetchall() == [
            (D("40123.453500000000"),)]
    assert os.path.exists(tmp_path / "from_pg.duckdb")
