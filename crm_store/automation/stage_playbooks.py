"""stage-playbooks: the catch-up of stage playbooks — live stage entries left unfired get their tasks and email.

The store's stage change fires each entry's playbook in its own transaction (`crm_store.pipeline.playbooks`);
this job finds the live entries still without `playbook_fired_at` — the deal still in that stage, not deleted —
entered in the `CATCH_UP` window before `as_of` (through the partial index ix_stage_history_playbook, so a run
reads only what is left to do), and fires them as the stage change would, in bulk: in (entered_at, id) order,
`CHUNK` entries a transaction. Per chunk: the entries with their opportunities' facts and previous stage in one
read, their owners, their last three activities; the claim (a conditional UPDATE … RETURNING: an entry fired
meanwhile, by a stage change or another run, is not this run's); the tasks checked as `create_activity` checks
one (`activities.clean_activity`, once per stage and language: the rest differ only in their deal and days) and
inserted with one executemany; the emails queued with one statement, keyed by entry. Older entries are left
alone: a playbook days late would only mislead.

Counted: `fired` (entries whose playbook made tasks and an email), `tasks`, `emails`. A second run for the same
`as_of` finds nothing to do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from crm_store.automation.runs import CHUNK, Outcome
from crm_store.db.fast_insert import insert_rows
from crm_store.mail import outbox
from crm_store.models import Account, Activity, Contact, Opportunity, StageHistory
from crm_store.pipeline import activities
from crm_store.pipeline.playbooks import AUTOMATION, Entry, Plan, claim, owners, recent_activities

CATCH_UP = dt.timedelta(days=2)  # how long after a stage was entered its playbook is still fired


def stage_playbooks(factory: sessionmaker[Session], as_of: dt.datetime, outcome: Outcome) -> None:
    """The stage-playbooks job: fire the playbooks of live stage entries that have not had theirs."""
    for name in ("fired", "tasks", "emails"):
        outcome.add(name, 0)
    with factory() as session:
        plan = Plan.load(session)
    after: tuple[dt.datetime, int] | None = None
    while True:
        with factory.begin() as session:
            rows = session.execute(candidates(as_of - CATCH_UP, as_of, after, CHUNK)).all()
            if rows:
                fire_entries(session, plan, [Entry(**row._asdict()) for row in rows], as_of, outcome)
        if len(rows) < CHUNK:
            break
        after = (rows[-1].entered_at, rows[-1].history_id)


def candidates(
    since: dt.datetime, until: dt.datetime, after: tuple[dt.datetime, int] | None, limit: int
) -> Select[Any]:
    """The first `limit` live, unfired entries of live opportunities entered from `since` to `until`, in
    (entered_at, id) order after `after`, with what firing needs (the columns of `Entry`)."""
    h, earlier = StageHistory, aliased(StageHistory)
    previous = (
        select(earlier.stage_id)
        .where(earlier.opportunity_id == h.opportunity_id, earlier.id != h.id, earlier.entered_at <= h.entered_at)
        .order_by(earlier.entered_at.desc(), earlier.id.desc()).limit(1).correlate(h).scalar_subquery()
    )
    o = Opportunity
    stmt = (
        select(h.id.label("history_id"), h.entered_at, h.stage_id, previous.label("previous_stage_id"),
               o.id.label("opportunity_id"), o.opportunity_no.label("number"), o.name,
               Account.name.label("account_name"), Contact.contact_no.label("contact_number"),
               Contact.first_name.label("contact_first_name"), Contact.last_name.label("contact_last_name"),
               o.amount, o.currency_id, o.expected_close_date.label("close_date"), o.probability, o.owner_id)
        .join(o, o.id == h.opportunity_id).outerjoin(Account, Account.id == o.account_id)
        .outerjoin(Contact, Contact.id == o.contact_id)
        .where(h.playbook_fired_at.is_(None), h.entered_at >= since, h.entered_at <= until, h.left_at.is_(None),
               o.deleted_at.is_(None))
        .order_by(h.entered_at, h.id).limit(limit)
    )
    if after is not None:
        stmt = stmt.where(or_(h.entered_at > after[0], and_(h.entered_at == after[0], h.id > after[1])))
    return stmt


def fire_entries(session: Session, plan: Plan, entries: Sequence[Entry], at: dt.datetime, outcome: Outcome) -> None:
    """Fire a chunk of entries at `at`: claim them, then create the tasks and queue the emails of those claimed."""
    wanted = [e for e in entries if plan.applies(e)]
    people = owners(session, (e.owner_id for e in wanted))
    recent = recent_activities(session, (e.opportunity_id for e in wanted), at)
    firings = {e.history_id: plan.firing(e, people.get(e.owner_id or 0), recent.get(e.opportunity_id, []), at)
               for e in wanted}
    claimed = claim(session, [e.history_id for e in entries], at)
    stage_of = {e.history_id: e.stage_id for e in entries}
    checked: set[tuple[int, str]] = set()
    tasks: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for history_id in sorted(claimed):
        firing = firings.get(history_id)
        if firing is None:
            continue
        # One stage's playbook in one language makes the same tasks but for their deal and days: checking its
        # first firing as `create_activity` would (`clean_activity`) checks them all.
        shape = (stage_of[history_id], str(firing.message["language"]))
        if shape not in checked:
            for values in firing.tasks:
                activities.clean_activity(values, plan.allowed)
            checked.add(shape)
        tasks += [{**values, "created_by_automation": AUTOMATION} for values in firing.tasks]
        messages.append(firing.message)
    insert_rows(session, Activity.__table__, tasks)
    outbox.enqueue_many(session, messages)
    outcome.add("fired", len(messages))
    outcome.add("tasks", len(tasks))
    outcome.add("emails", len(messages))
