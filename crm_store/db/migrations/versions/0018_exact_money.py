"""Exact money on SQLite: amounts become integers of ten-thousandths (issue 16).

SQLite has no exact decimal type: a NUMERIC(20, 4) column held REAL values and SUM added them as floats.
From this revision `Money` stores ten-thousandths as INTEGER on SQLite (1234.5 → 12345000), which SQLite
adds exactly; the declared type stays NUMERIC(20, 4). PostgreSQL's NUMERIC(20, 4) was exact already and
is unchanged.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = {
    'campaigns': ('budget_cost', 'actual_cost', 'expected_revenue'),
    'leads': ('annual_revenue',),
    'accounts': ('annual_revenue',),
    'opportunities': ('amount',),
    'stage_history': ('amount',),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table, columns in MONEY_COLUMNS.items():
        for column in columns:
            op.execute(f"update {table} set {column} = cast(round({column} * 10000) as integer) "
                       f"where {column} is not null")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table, columns in MONEY_COLUMNS.items():
        for column in columns:
            op.execute(f"update {table} set {column} = {column} / 10000.0 where {column} is not null")
