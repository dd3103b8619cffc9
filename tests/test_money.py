"""Money is exact on both backends: stored exactly, summed exactly in SQL, rounded half-up to four places."""

from __future__ import annotations

import itertools
from decimal import Decimal

from sqlalchemy import Engine, func, insert, select, text, type_coerce
from sqlalchemy.orm import Session

from crm_store.models import Campaign
from crm_store.models.base import Money

# 0.1 + 0.2-style amounts (no exact binary fraction) beside large ones: floats drift on either kind.
AMOUNTS = [Decimal("0.10"), Decimal("0.20"), Decimal("0.30"), Decimal("9876543.2109"), Decimal("0.0001"),
           Decimal("1234.5678")]


def _campaigns(session: Session, n: int) -> Decimal:
    """Insert n campaigns whose budget cycles through AMOUNTS; return the exact total."""
    values = [{"campaign_no": f"CAM{i}", "name": f"c{i}", "budget_cost": amount, "source": "CRM"}
              for i, amount in zip(range(1, n + 1), itertools.cycle(AMOUNTS), strict=False)]
    session.execute(insert(Campaign), values)
    session.commit()
    return sum((v["budget_cost"] for v in values), Decimal(0))


def test_ten_thousand_amounts_sum_exactly_in_sql(session: Session, backend: str) -> None:
    expected = _campaigns(session, 10_000)
    assert session.scalar(select(func.sum(Campaign.budget_cost))) == expected
    raw = session.execute(text("select sum(budget_cost) from campaigns")).scalar()
    if backend == "sqlite":  # SQLite adds integers of ten-thousandths, never REALs
        assert session.execute(text("select typeof(sum(budget_cost)) from campaigns")).scalar() == "integer"
        assert raw == int(expected * 10_000)
    else:
        assert Decimal(raw) == expected
    # and grouped sums, averages, comparisons and ordering over stored amounts
    assert session.scalar(select(func.count()).where(Campaign.budget_cost == Decimal("0.3"))) == 10_000 // 6 + (
        1 if 10_000 % 6 > 2 else 0)
    assert session.scalar(select(func.max(Campaign.budget_cost))) == Decimal("9876543.2109")
    assert session.scalar(select(Campaign.budget_cost).order_by(Campaign.budget_cost).limit(1)) == Decimal("0.0001")
    average = type_coerce(func.avg(Campaign.budget_cost), Money())  # AVG is untyped: say what it averages
    assert session.scalar(select(average)) == (expected / 10_000).quantize(Decimal("0.0001"))


def test_values_come_back_with_four_places_rounded_half_up(session: Session) -> None:
    typed = [Decimal("0.1"), 0.1, 3, Decimal("2.00005"), Decimal("2.00004999"), Decimal("0.00005")]
    rows = [{"campaign_no": f"CAM{i}", "name": "c", "expected_revenue": v, "source": "CRM"}
            for i, v in enumerate(typed, 1)]
    session.execute(insert(Campaign), rows)
    session.commit()
    got = list(session.scalars(select(Campaign.expected_revenue).order_by(Campaign.id)))
    assert got == [Decimal("0.1000"), Decimal("0.1000"), Decimal("3.0000"), Decimal("2.0001"), Decimal("2.0000"),
                   Decimal("0.0001")]
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -4 for v in got)


def test_the_upgrade_turns_sqlite_reals_into_exact_amounts(tmp_path) -> None:  # noqa: ANN001
    from alembic import command

    from crm_store.db.engine import make_engine
    from crm_store.db.schema import alembic_config, upgrade

    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0017")
        conn.execute(text("insert into campaigns (campaign_no, name, source, created_at, updated_at, budget_cost,"
                          " actual_cost) values ('CAM1', 'c', 'CRM', '2026-01-01', '2026-01-01', 0.30000000000000004,"
                          " 1234567.89), ('CAM2', 'd', 'CRM', '2026-01-01', '2026-01-01', 0.1, null)"))
    upgrade(engine)
    with Session(engine) as session:
        rows = session.execute(select(Campaign.budget_cost, Campaign.actual_cost).order_by(Campaign.id)).all()
        assert [tuple(r) for r in rows] == [(Decimal("0.3000"), Decimal("1234567.8900")), (Decimal("0.1000"), None)]
        assert session.scalar(select(func.sum(Campaign.budget_cost))) == Decimal("0.4")
    engine.dispose()
