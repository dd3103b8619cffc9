"""The staff web app's store: indexes for the sorted, keyset-paginated lists of leads, accounts, contacts and
opportunities (each sort key with its tie-breaking id, alone and after the owner) and for My day; outbox rows
name the record they are about (record_module, record_id), for the record's timeline

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (index name, columns)
INDEXES: dict[str, tuple[tuple[str, list[str]], ...]] = {
    'leads': (
        ('ix_leads_created', ['created_at', 'id']),
        ('ix_leads_owner_created', ['owner_id', 'created_at', 'id']),
        ('ix_leads_last_name', ['last_name', 'id']),
        ('ix_leads_owner_last_name', ['owner_id', 'last_name', 'id']),
        ('ix_leads_company', ['company', 'id']),
        ('ix_leads_owner_assigned', ['owner_id', 'assigned_at']),
    ),
    'accounts': (
        ('ix_accounts_created', ['created_at', 'id']),
        ('ix_accounts_owner_created', ['owner_id', 'created_at', 'id']),
        ('ix_accounts_owner_name', ['owner_id', 'name', 'id']),
    ),
    'contacts': (
        ('ix_contacts_created', ['created_at', 'id']),
        ('ix_contacts_owner_created', ['owner_id', 'created_at', 'id']),
        ('ix_contacts_last_name', ['last_name', 'id']),
        ('ix_contacts_owner_last_name', ['owner_id', 'last_name', 'id']),
    ),
    'opportunities': (
        ('ix_opportunities_created', ['created_at', 'id']),
        ('ix_opportunities_owner_created', ['owner_id', 'created_at', 'id']),
        ('ix_opportunities_name', ['name', 'id']),
        ('ix_opportunities_owner_name', ['owner_id', 'name', 'id']),
        ('ix_opportunities_owner_close', ['owner_id', 'expected_close_date', 'id']),
    ),
    'activities': (
        ('ix_activities_owner_start', ['owner_id', 'start_at']),
    ),
}


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_module', sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column('record_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True)
        )
        batch_op.create_index('ix_outbox_record', ['record_module', 'record_id'], unique=False)
    for table, indexes in INDEXES.items():
        for name, columns in indexes:
            op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, indexes in INDEXES.items():
        for name, _columns in indexes:
            op.drop_index(name, table_name=table)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_record')
        batch_op.drop_column('record_id')
        batch_op.drop_column('record_module')
