"""Migrations: `crm init` twice is a no-op and the migrations match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from crm_store.db.schema import current_revision, head_revision, upgrade
from crm_store.models import Base, PicklistValue
from crm_store.settings.seed import seed_all


def test_models_and_migrations_do_not_differ(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_upgrade_twice_is_a_no_op(engine: Engine, session: Session) -> None:
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    before = session.scalar(select(func.count()).select_from(PicklistValue))
    session.commit()
    assert upgrade(engine) == (head_revision(), head_revision())
    report = seed_all(session)
    session.commit()
    assert report.total() == 0
    assert set(inspect(engine).get_table_names()) == tables
    assert session.scalar(select(func.count()).select_from(PicklistValue)) == before


def test_every_model_table_exists(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    for name in (
        "users", "teams", "team_members", "currencies", "campaigns", "campaign_members", "leads", "accounts",
        "contacts", "opportunities", "sales_processes", "sales_stages", "stage_history", "activities", "notes",
        "record_counters", "batches", "picklist_values", "company_settings",
    ):
        assert name in tables


def test_upgrade_backfills_account_name_keys(tmp_path) -> None:  # noqa: ANN001
    from alembic import command
    from sqlalchemy import text

    from crm_store.db.engine import make_engine
    from crm_store.db.schema import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
        conn.execute(text(
            "insert into accounts (account_no, name, source, created_at, updated_at, email_opt_out, notify_owner)"
            " values ('ACC1', '台灣精密股份有限公司', 'CRM', '2026-01-01', '2026-01-01', 0, 0)"
        ))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("select name_key from accounts")).scalar() == "台灣精密"
    engine.dispose()
