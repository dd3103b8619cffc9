"""The cleanup job: the store's part (`crm_store.automation.housekeeping.cleanup_store`), then Prefect's own runs.

It lives in `flows/` because it talks to Prefect. Prefect keeps every flow run (and its task runs and logs) in
its own database; with a Prefect server named by PREFECT_API_URL (as under `crm flows serve`, which starts one
when none is named), the runs of our flows that started more than `flow_run_days` before `as_of` and are
finished (completed, failed, cancelled or crashed) are deleted through the Prefect client, a page at a time,
counted `prefect_runs`. Runs of other flows on a shared server are not ours to delete. Without a server
(`crm flows run cleanup` with PREFECT_API_URL unset) there is nothing of Prefect's to clean: the run says so in
its log and counts no `prefect_runs`. A server named but not answering fails the run, after the store's part.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys

from sqlalchemy.orm import Session, sessionmaker

from crm_store.automation.housekeeping import cleanup_store
from crm_store.automation.runs import Outcome
from crm_store.settings import company
from flows import catalog

log = logging.getLogger("leadline.automation")
PAGE = 200  # flow runs read, then deleted, per request
FINISHED = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")  # Prefect's terminal state types


def cleanup(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """The cleanup job: old flow runs (ours and Prefect's), the expired recycle bin, old IP addresses."""
    cleanup_store(factory, as_of, outcome)
    with factory() as session:
        days = int(company.get(session, "flow_run_days"))
    api = prefect_api()
    if api is None:
        log.info("cleanup: no Prefect server (PREFECT_API_URL is unset): Prefect's runs left alone")
        return
    outcome.add("prefect_runs", forget_prefect_runs(as_of - dt.timedelta(days=days)))


def prefect_api() -> str | None:
    """The Prefect server's API: Prefect's setting once it is loaded (a flow run, a test), else PREFECT_API_URL.

    `crm flows run` does not import Prefect for nothing: without the variable there is no server to clean."""
    if "prefect" not in sys.modules:
        return os.environ.get("PREFECT_API_URL") or None
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def forget_prefect_runs(before: dt.datetime) -> int:
    """Delete the finished Prefect runs of our flows that started before `before`; return how many."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound

    runs = FlowRunFilter(
        start_time=FlowRunFilterStartTime.model_validate({"before_": before}),  # Prefect's DateTime from ours
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType(t) for t in FINISHED])),
    )
    ours = FlowFilter(name=FlowFilterName(any_=catalog.names()))
    deleted = 0
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_flow_runs(flow_filter=ours, flow_run_filter=runs, sort=FlowRunSort.START_TIME_ASC,
                                         limit=PAGE)
            gone = 0
            for run in page:
                try:
                    client.delete_flow_run(run.id)
                except ObjectNotFound:
                    continue  # another cleanup deleted it first
                gone += 1
            deleted += gone
            if len(page) < PAGE or gone == 0:
                return deleted
