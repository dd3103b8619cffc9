"""Record numbers: unique, increasing, never reused, and safe when several processes create at once."""

from __future__ import annotations

import multiprocessing
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.db.engine import make_engine, session_factory
from crm_store.models import Lead
from crm_store.records import lifecycle as records
from crm_store.records import numbering

OPS = st.lists(
    st.one_of(
        st.just(("create", 0)),
        st.tuples(st.just("import"), st.integers(min_value=1, max_value=500)),
        st.just(("delete", 0)),
    ),
    min_size=1,
    max_size=25,
)


def _n(number: str) -> int:
    m = re.fullmatch(r"LEA(\d+)", number)
    assert m, number
    return int(m[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_numbers_are_unique_increasing_and_never_reused(session: Session, ops: list[tuple[str, int]]) -> None:
    outer = session.begin_nested()
    try:
        seen: list[str] = []
        live: list[Lead] = []
        for op, value in ops:
            if op == "create":
                lead = records.create_lead(session, {"last_name": "x"})
                assert all(_n(lead.lead_no) > _n(s) for s in seen)  # auto numbers only go up
            elif op == "import":
                number = f"LEA{value}"
                if number in {lead.lead_no for lead in session.scalars(select(Lead))}:
                    continue
                lead = records.create_lead(session, {"last_name": "x", "lead_no": number})
                assert lead.lead_no == number
            else:
                if not live:
                    continue
                records.delete(session, live.pop())
                continue
            assert lead.lead_no not in seen
            seen.append(lead.lead_no)
            live.append(lead)
        numbers = list(session.scalars(select(Lead.lead_no)))
        assert len(numbers) == len(set(numbers)) == len(seen)
    finally:
        outer.rollback()


def test_allocate_a_block(session: Session) -> None:
    assert numbering.allocate(session, "accounts", 3) == ["ACC1", "ACC2", "ACC3"]
    assert numbering.allocate(session, "accounts") == ["ACC4"]
    numbering.adopt(session, "accounts", ["ACC2"])  # lower than the counter: no change
    assert numbering.allocate(session, "accounts") == ["ACC5"]


def _create_leads(url: str, worker: int, count: int, start: Any) -> None:
    engine = make_engine(url)
    factory = session_factory(engine)
    with engine.connect():  # connected and imported before the start, so the processes overlap
        pass
    start.wait(60)
    for i in range(count):
        with factory.begin() as session:
            records.create_lead(session, {"last_name": f"w{worker}-{i}", "email": f"w{worker}.{i}@example.com"})
    engine.dispose()


def test_concurrent_processes_get_distinct_numbers_and_lose_nothing(database_url: str, session: Session) -> None:
    workers, each = 4, 40
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(workers)  # spawned processes start seconds apart: released together, they contend
    procs = [ctx.Process(target=_create_leads, args=(database_url, w, each, start)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    rows = session.execute(select(Lead.lead_no, Lead.last_name)).all()
    assert len(rows) == workers * each
    assert {name for _, name in rows} == {f"w{w}-{i}" for w in range(workers) for i in range(each)}
    assert sorted(_n(no) for no, _ in rows) == list(range(1, workers * each + 1))
