"""Indexes for the staff app's part 2 (issue 14): the pipeline board reads a column's next open cards by close
date and its totals and recent closes from one index each; the activities and documents lists page newest first.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 17:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.create_index('ix_opportunities_stage_close', ['stage_id', 'expected_close_date', 'id'], unique=False)
        batch_op.create_index('ix_opportunities_stage_closed', ['stage_id', 'closed_at', 'id', 'currency_id', 'amount',
                                                                'probability', 'owner_id', 'deleted_at'], unique=False)
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_owner_created', ['owner_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_activities_created', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index('ix_documents_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_documents_owner_created', ['owner_id', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_owner_created')
        batch_op.drop_index('ix_documents_created')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_created')
        batch_op.drop_index('ix_activities_owner_created')
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_stage_closed')
        batch_op.drop_index('ix_opportunities_stage_close')
