"""Scoped search and My day at scale: search documents carry their record's owner, kept current by a trigger on
each searched table's `owner_id` (so every bulk reassignment keeps it too), with an (owner, module, body)
index a rep's search reads as one range; indexes for My day's rotting deals and memo reminders, and for the
cadence catch-up's window of recent assignments. Columns are added, never a table rebuilt — a later migration
that rebuilds a searched table (SQLite's batch "move and copy") must call `create_owner_triggers` again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 16:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHED = ('leads', 'accounts', 'contacts', 'opportunities')  # the searched modules: their tables' names


def upgrade() -> None:
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
    for table in SEARCHED:
        op.execute(f"UPDATE search_documents SET owner_id = (SELECT {table}.owner_id FROM {table} "
                   f"WHERE {table}.id = search_documents.record_id) WHERE module = '{table}'")
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index('ix_search_documents_owner', ['owner_id', 'module', 'body'], unique=False)
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.create_index('ix_opportunities_owner_rotting', ['owner_id', 'rotting_since', 'closed_at', 'deleted_at'],
                              unique=False)
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.create_index('ix_notes_author_remind', ['author_id', 'remind_at'], unique=False)
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_assigned_at', ['assigned_at'], unique=False)
        # My day's aging leads are counted and ordered from the index alone (0013 indexed the state only)
        batch_op.drop_index('ix_leads_owner_aging')
        batch_op.create_index('ix_leads_owner_aging',
                              ['owner_id', 'aging_state', 'idle_days', 'deleted_at', 'converted_at'], unique=False)
    create_owner_triggers()


def create_owner_triggers() -> None:
    """A record's new owner is written to its search document by the database, whoever updates it."""
    if op.get_context().dialect.name == 'postgresql':
        op.execute("""
            CREATE FUNCTION search_document_owner() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE search_documents SET owner_id = NEW.owner_id WHERE module = TG_ARGV[0] AND record_id = NEW.id;
                RETURN NULL;
            END $$""")
        for table in SEARCHED:
            op.execute(f"CREATE TRIGGER trg_{table}_search_owner AFTER UPDATE OF owner_id ON {table} FOR EACH ROW "
                       f"WHEN (NEW.owner_id IS DISTINCT FROM OLD.owner_id) "
                       f"EXECUTE FUNCTION search_document_owner('{table}')")
        return
    for table in SEARCHED:
        op.execute(f"CREATE TRIGGER trg_{table}_search_owner AFTER UPDATE OF owner_id ON {table} FOR EACH ROW "
                   f"WHEN NEW.owner_id IS NOT OLD.owner_id BEGIN "
                   f"UPDATE search_documents SET owner_id = NEW.owner_id "
                   f"WHERE module = '{table}' AND record_id = NEW.id; END")


def downgrade() -> None:
    for table in SEARCHED:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_search_owner" +
                   (f" ON {table}" if op.get_context().dialect.name == 'postgresql' else ""))
    if op.get_context().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS search_document_owner()")
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_owner_aging')
        batch_op.create_index('ix_leads_owner_aging', ['owner_id', 'aging_state'], unique=False)
        batch_op.drop_index('ix_leads_assigned_at')
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index('ix_notes_author_remind')
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_owner_rotting')
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_search_documents_owner')
        batch_op.drop_column('owner_id')
