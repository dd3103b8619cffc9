"""The automation (flows, part 1): flow_runs, assignment_rules, cadences; on leads the assignment reason, the
cadence's progress, the speed-to-lead steps and first response, idle days and aging state; on opportunities idle
days and rotting; on activities the cadence step of a follow-up task. Columns are added, never a table rebuilt.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:20:12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm_store.models.base

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cadences',
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('offsets', sa.JSON(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadences')),
    sa.UniqueConstraint('name', name=op.f('uq_cadences_name'))
    )
    op.create_table('flow_runs',
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('flow', sa.String(length=50), nullable=False),
    sa.Column('as_of', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('errors', sa.Text(), nullable=True),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.CheckConstraint("status in ('running','completed','failed')", name=op.f('ck_flow_runs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_runs'))
    )
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.create_index('ix_flow_runs_flow_started', ['flow', 'started_at'], unique=False)

    op.create_table('assignment_rules',
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('user_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('team_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(user_id is null) <> (team_id is null)', name=op.f('ck_assignment_rules_one_target')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_assignment_rules_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_assignment_rules_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment_rules')),
    sa.UniqueConstraint('name', name=op.f('uq_assignment_rules_name'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cadence_step', sa.Integer(), nullable=True))

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignment_reason', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('cadence_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('cadence_step', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_response_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sla_step', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('idle_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('aging_state', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('stale_notified_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_leads_owner_aging', ['owner_id', 'aging_state'], unique=False)
        batch_op.create_index('ix_leads_sla', ['first_response_at', 'sla_step', 'assigned_at'], unique=False)

    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idle_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rotting_since', crm_store.models.base.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_column('rotting_since')
        batch_op.drop_column('idle_days')

    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_sla')
        batch_op.drop_index('ix_leads_owner_aging')
        batch_op.drop_column('stale_notified_at')
        batch_op.drop_column('aging_state')
        batch_op.drop_column('idle_days')
        batch_op.drop_column('sla_step')
        batch_op.drop_column('first_response_minutes')
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('cadence_step')
        batch_op.drop_column('cadence_id')
        batch_op.drop_column('assignment_reason')

    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('cadence_step')

    op.drop_table('assignment_rules')
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_runs_flow_started')

    op.drop_table('flow_runs')
    op.drop_table('cadences')
