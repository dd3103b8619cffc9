"""Flows, part 2 (issue 15): stage playbooks, the stage entries they fired for, the reminders' and the digest's
state.

- `stage_playbooks`: per sales stage, the tasks and the "what to do now" text (seeded by `crm init`).
- `stage_history.playbook_fired_at`: when the entry's playbook fired; the entries recorded before this
  revision are marked as fired at their entry, so the catch-up never fires a playbook for history.
- `users.digest_time`, `digest_enabled`, `last_digest_on`: each rep's morning digest.
- Partial indexes for what the reminders flow reads: events with a reminder not sent, memos not reminded.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_DUE = "reminder_minutes is not null and reminder_sent_at is null and start_at is not null"


def upgrade() -> None:
    op.create_table(
        'stage_playbooks',
        sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
        sa.Column('stage_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
        sa.Column('guidance', sa.JSON(), nullable=False),
        sa.Column('tasks', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['stage_id'], ['sales_stages.id'], name=op.f('fk_stage_playbooks_stage_id_sales_stages'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_playbooks')),
        sa.UniqueConstraint('stage_id', name=op.f('uq_stage_playbooks_stage_id')),
    )
    with op.batch_alter_table('stage_history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('playbook_fired_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("update stage_history set playbook_fired_at = entered_at")
    with op.batch_alter_table('stage_history', schema=None) as batch_op:
        batch_op.create_index('ix_stage_history_playbook', ['entered_at'], unique=False,
                              sqlite_where=sa.text('playbook_fired_at is null'),
                              postgresql_where=sa.text('playbook_fired_at is null'))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_time', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('digest_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('last_digest_on', sa.Date(), nullable=True))
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_reminder_due', ['start_at'], unique=False,
                              sqlite_where=sa.text(_EVENT_DUE), postgresql_where=sa.text(_EVENT_DUE))
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.create_index('ix_notes_remind_due', ['remind_at'], unique=False,
                              sqlite_where=sa.text('reminded_at is null'),
                              postgresql_where=sa.text('reminded_at is null'))


def downgrade() -> None:
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index('ix_notes_remind_due')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_reminder_due')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_digest_on')
        batch_op.drop_column('digest_enabled')
        batch_op.drop_column('digest_time')
    with op.batch_alter_table('stage_history', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_history_playbook')
        batch_op.drop_column('playbook_fired_at')
    op.drop_table('stage_playbooks')
