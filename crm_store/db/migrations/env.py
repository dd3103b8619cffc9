"""Alembic environment: runs on the connection handed over by `crm_store.db.schema`."""

from alembic import context

from crm_store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `crm init` (crm_store.db.schema.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
