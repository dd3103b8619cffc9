"""Price books are searched (the catalogue is found by every user from the header's search): a price book's new
owner reaches its search document by the database, as 0014 and 0019 do for the other searched tables, and the
price books already there get their search documents.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 06:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = 'price_books'


def upgrade() -> None:
    if op.get_context().dialect.name == 'postgresql':
        op.execute(f"CREATE TRIGGER trg_{TABLE}_search_owner AFTER UPDATE OF owner_id ON {TABLE} FOR EACH ROW "
                   f"WHEN (NEW.owner_id IS DISTINCT FROM OLD.owner_id) "
                   f"EXECUTE FUNCTION search_document_owner('{TABLE}')")
    else:
        op.execute(f"CREATE TRIGGER trg_{TABLE}_search_owner AFTER UPDATE OF owner_id ON {TABLE} FOR EACH ROW "
                   f"WHEN NEW.owner_id IS NOT OLD.owner_id BEGIN "
                   f"UPDATE search_documents SET owner_id = NEW.owner_id "
                   f"WHERE module = '{TABLE}' AND record_id = NEW.id; END")
    books = sa.table(TABLE, sa.column('id', sa.Integer), sa.column('deleted_at', sa.DateTime))
    connection = op.get_bind()
    ids = list(connection.scalars(sa.select(books.c.id).where(books.c.deleted_at.is_(None)).order_by(books.c.id)))
    if ids:  # a handful: the store's own indexing (the grams as a rebuild writes them)
        from crm_store.search import index

        session = Session(bind=connection)
        index.index_records(session, TABLE, ids)
        session.flush()


def downgrade() -> None:
    op.execute(f"DROP TRIGGER IF EXISTS trg_{TABLE}_search_owner" +
               (f" ON {TABLE}" if op.get_context().dialect.name == 'postgresql' else ""))
    for postings in ('search_grams', 'search_phone_grams'):
        op.execute(f"DELETE FROM {postings} WHERE document_id IN "
                   f"(SELECT id FROM search_documents WHERE module = '{TABLE}')")
    op.execute(f"DELETE FROM search_documents WHERE module = '{TABLE}'")
