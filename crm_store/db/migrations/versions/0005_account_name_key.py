"""accounts.name_key: the normalised company name that duplicates and conversions match on

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_store.records.duplicates import company_key

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_accounts_name_key"), ["name_key"], unique=False)
    accounts = sa.table("accounts", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("name_key", sa.String))
    conn = op.get_bind()
    rows = conn.execute(sa.select(accounts.c.id, accounts.c.name)).all()
    updates = [{"row_id": i, "key": company_key(name)} for i, name in rows]
    stmt = accounts.update().where(accounts.c.id == sa.bindparam("row_id")).values(name_key=sa.bindparam("key"))
    for start in range(0, len(updates), 10_000):
        conn.execute(stmt, updates[start : start + 10_000])


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_name_key"))
        batch_op.drop_column("name_key")
