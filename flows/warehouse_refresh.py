"""The refresh-analytics job: rebuild the analytics warehouse from the store, as a plain function (no Prefect).

It lives in `flows/` rather than in `crm_store/automation/` because the warehouse is the `analytics` package's
and the store never imports it; `flows/refresh_analytics.py` wraps it in a Prefect flow, `crm flows run
refresh-analytics` runs it directly. The warehouse shows the store as it is now whatever `as_of` says: a copy
cannot be taken in the past.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from crm_store.automation.runs import Outcome


def refresh_analytics_warehouse(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """Copy the store's business tables into $CRM_DATA_DIR/analytics.duckdb; count the tables and rows."""
    from analytics.warehouse import refresh, warehouse_path
    from crm_store.config import load_config

    config = load_config()
    done = refresh(config.database_url, warehouse_path(config.data_dir))
    outcome.add("tables", done.tables)
    outcome.add("rows", done.rows)
