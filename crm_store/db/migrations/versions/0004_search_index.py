"""search index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00.000000

Creates the tables empty: `crm search --rebuild` (or the demo loader) fills them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ordered(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation='C'), 'postgresql')


def upgrade() -> None:
    op.create_table('search_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('module', sa.String(length=20), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('number', _ordered(20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('phones', sa.String(length=100), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_documents')),
    sa.UniqueConstraint('module', 'record_id', name='uq_search_documents_record')
    )
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index('ix_search_documents_number', ['number'], unique=False)

    op.create_table('search_grams',
    sa.Column('gram', _ordered(3), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('gram', 'document_id', name=op.f('pk_search_grams')),
    sqlite_with_rowid=False
    )
    op.create_table('search_gram_stats',
    sa.Column('gram', _ordered(3), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('gram', name=op.f('pk_search_gram_stats'))
    )
    op.create_table('search_phone_grams',
    sa.Column('gram', sa.SmallInteger(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('gram', 'document_id', name=op.f('pk_search_phone_grams')),
    sqlite_with_rowid=False
    )


def downgrade() -> None:
    op.drop_table('search_phone_grams')
    op.drop_table('search_gram_stats')
    op.drop_table('search_grams')
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_search_documents_number')

    op.drop_table('search_documents')
