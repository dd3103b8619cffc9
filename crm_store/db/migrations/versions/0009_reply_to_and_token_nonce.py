"""outbox.reply_to (the owner answers the visitor's auto-reply); web_submissions.token_nonce (a render token is
good for one accepted submission)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to', sa.String(length=254), nullable=True))
    with op.batch_alter_table('web_submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_nonce', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint('uq_web_submissions_token_nonce', ['token_nonce'])


def downgrade() -> None:
    with op.batch_alter_table('web_submissions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_web_submissions_token_nonce', type_='unique')
        batch_op.drop_column('token_nonce')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('reply_to')
