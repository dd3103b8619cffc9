"""The database: engines and sessions, schema creation and upgrades (Alembic migrations), fast inserts."""
