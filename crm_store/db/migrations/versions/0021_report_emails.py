"""Analytics, part 2 (issue 19): the managers' report emails.

- `users.report_emails_enabled`: whether a manager gets the weekly pipeline and the monthly customer-value
  emails (on unless they opt out on their profile page).
- `users.last_pipeline_report_week` (the Monday of the week) and `users.last_customer_value_report_month` (the
  1st of the month): the report-emails flow claims each sending by a conditional UPDATE of these, as the daily
  digest claims `last_digest_on`.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN, not a batch "recreate": the users table is referenced by nearly every other
    # table, and SQLite cannot drop it under their foreign keys.
    op.add_column('users', sa.Column('report_emails_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column('users', sa.Column('last_pipeline_report_week', sa.Date(), nullable=True))
    op.add_column('users', sa.Column('last_customer_value_report_month', sa.Date(), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a plain column in place.
    op.drop_column('users', 'last_customer_value_report_month')
    op.drop_column('users', 'last_pipeline_report_week')
    op.drop_column('users', 'report_emails_enabled')
