"""users.failed_sign_ins, last_failed_sign_in_at, locked_until; sign_in_failures (per network address): the
growing delay and the lockout after repeated failed sign-ins to the staff web app

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm_store.models.base

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_sign_ins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column(
            'last_failed_sign_in_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('locked_until', crm_store.models.base.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        'sign_in_failures',
        sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failed_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('locked_until', crm_store.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failures')),
        sa.UniqueConstraint('address', name=op.f('uq_sign_in_failures_address')),
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failures_last_failed_at'), ['last_failed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_last_failed_at'))
    op.drop_table('sign_in_failures')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('last_failed_sign_in_at')
        batch_op.drop_column('failed_sign_ins')
