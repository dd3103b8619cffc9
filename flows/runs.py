"""Running a job inside a Prefect flow: the store from the deployment settings, the run row, the logged summary.

Each flow file is one call to `run_flow`. The run is recorded in `flow_runs` (trigger "prefect") like a
run from `crm flows run`; a failed run raises `FlowRunFailed`, so Prefect marks the flow run failed too.
"""

from __future__ import annotations

from typing import Any

from prefect.logging import get_run_logger

from crm_store.automation import runs
from crm_store.config import load_config
from crm_store.db.engine import make_engine, session_factory
from flows import catalog


class FlowRunFailed(RuntimeError):
    """The job of a flow failed; its run row says why."""


def run_flow(name: str, as_of: str | None) -> dict[str, Any]:
    """Run the job of flow `name` for `as_of` (ISO; naive is company time; default now) and log its summary."""
    logger = get_run_logger()
    engine = make_engine(load_config().database_url)
    try:
        factory = session_factory(engine)
        with factory() as session:
            moment = runs.parse_as_of(session, as_of)
        report = runs.run(factory, name, catalog.job(name), moment, trigger="prefect")
    finally:
        engine.dispose()
    summary = runs.Outcome(report.counts, report.errors).summary()
    logger.info("%s %s for %s in %.1f s (run %d): %s", name, report.status,
                report.as_of.isoformat(timespec="seconds"), report.seconds, report.id, summary)
    if report.status == "failed":
        logger.error("%s failed: %s", name, "; ".join(report.errors))
        raise FlowRunFailed(f"{name} failed (run {report.id}): {'; '.join(report.errors)}")
    return {"run": report.id, "as_of": report.as_of.isoformat(), "counts": report.counts}
