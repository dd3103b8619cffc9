"""The web app's writer under contention: every caller gets its own answer, a result or DatabaseBusy."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm_store.db.engine import make_engine, session_factory
from webform.writer import DatabaseBusy, Writer


def test_callers_that_give_up_as_a_leader_takes_them_get_an_answer_not_an_error(tmp_path: Path) -> None:
    """A caller whose wait ends just as a leader takes it into a group gets that group's answer.

    Deadlines of a few milliseconds against 2 ms transactions make waits end while groups are formed:
    before the fix, such a caller tried to leave a queue it was no longer in (ValueError, a 500). One
    unit of work in eight takes 12 ms, longer than the 4 ms wait, so on a fast machine too some waits end.
    """
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("create table t (n integer)"))
    writer = Writer(session_factory(engine), lock_path=str(tmp_path / "w.db.writers"), wait=0.004)
    outcomes: list[Any] = []
    lock = threading.Lock()
    calls = iter(range(1_000_000))

    def work(session: Session) -> int:
        session.execute(text("insert into t values (1)"))
        time.sleep(0.012 if next(calls) % 8 == 0 else 0.002)
        return 1

    def caller() -> None:
        for _ in range(150):
            try:
                got: Any = writer.run(work)
            except DatabaseBusy:
                got = "busy"
            except Exception as exc:  # noqa: BLE001 - what the test looks for
                got = exc
            with lock:
                outcomes.append(got)

    threads = [threading.Thread(target=caller) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert not errors, errors[:3]
    with engine.connect() as conn:
        stored = conn.execute(text("select count(*) from t")).scalar_one()
    assert stored == outcomes.count(1) and outcomes.count("busy") > 0  # every 1 was written, waits did end
    assert writer._pending == [] and not writer._leading
    engine.dispose()
