"""Stage changes of opportunities: the only writer of the stage history, and where stage playbooks fire.

A stage change is a compare-and-set on the opportunity's stage (`stage_id` still the one it was read with), so
of two writers moving the same deal at once one moves it: the other finds it already where it wanted it (a
no-op) or elsewhere (an error asking to reload). Each stage entered fires its playbook in the same transaction
(`crm_store.pipeline.playbooks.fire`), once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.db.engine import affected
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Opportunity, SalesProcess, SalesStage, StageHistory, utcnow
from crm_store.pipeline import playbooks
from crm_store.records import audit
from crm_store.search import index as search_index


def default_process(session: Session) -> SalesProcess:
    """Return the sales process marked default."""
    process = session.scalar(select(SalesProcess).where(SalesProcess.is_default))
    if process is None:
        raise NotFound("no default sales process; run `crm init`")
    return process


def find_stage(session: Session, process_id: int, stage: str | int) -> SalesStage:
    """Return a stage of a process by name or id; fail naming the field."""
    stmt = select(SalesStage).where(SalesStage.sales_process_id == process_id)
    stmt = stmt.where(SalesStage.id == stage) if isinstance(stage, int) else stmt.where(SalesStage.name == stage)
    found = session.scalar(stmt)
    if found is None:
        raise ValidationError("stage", f"{stage!r} is not a stage of this opportunity's sales process")
    return found


@dataclass(frozen=True)
class StageStep:
    """One stage entered, as plain values: what the bulk path and the ORM path both write."""

    stage_id: int
    probability: int
    amount: Any
    expected_close_date: dt.date | None
    entered_at: dt.datetime
    changed_by_id: int | None = None
    changed_by_automation: str | None = None


def history_rows(opportunity_id: int, steps: Sequence[StageStep], *, history: bool = False) -> list[dict[str, Any]]:
    """Return stage-history rows for consecutive steps: each row's left_at is the next entered_at.

    `history`: the stages of an import or of the demo, whose playbooks never fire (marked fired as entered).
    """
    rows = []
    for i, step in enumerate(steps):
        left_at = steps[i + 1].entered_at if i + 1 < len(steps) else None
        if left_at is not None and left_at < step.entered_at:
            raise ValidationError("entered_at", "stage changes must be in time order")
        rows.append(
            {
                "opportunity_id": opportunity_id,
                "stage_id": step.stage_id,
                "amount": step.amount,
                "probability": step.probability,
                "expected_close_date": step.expected_close_date,
                "entered_at": step.entered_at,
                "left_at": left_at,
                "changed_by_id": step.changed_by_id,
                "changed_by_automation": step.changed_by_automation,
                "playbook_fired_at": step.entered_at if history else None,
            }
        )
    return rows


def enter_first_stage(
    session: Session, opp: Opportunity, stage: SalesStage, actor: Actor, at: dt.datetime
) -> StageHistory:
    """Record the stage a new opportunity starts in, and fire its playbook."""
    _apply(opp, stage, at)
    row = StageHistory(**history_rows(opp.id, [_step(opp, stage, actor, at)])[0])
    session.add(row)
    session.flush()
    playbooks.fire(session, opp, row, actor, at)
    return row


def change_stage(
    session: Session,
    opp: Opportunity,
    stage: str | int,
    actor: Actor,
    *,
    at: dt.datetime | None = None,
    probability: int | None = None,
) -> StageHistory | None:
    """Move an opportunity to a stage, closing the current history row and firing the new stage's playbook.

    A no-op (None) for the stage it is in — also when another writer moved it there meanwhile; a
    `ValidationError` on "stage" when another writer moved it elsewhere since it was read.
    """
    target = find_stage(session, opp.sales_process_id, stage)
    current_id = opp.stage_id
    if target.id == current_id:
        return None
    at = at or utcnow()
    if at.tzinfo is None:
        raise ValidationError("at", "needs a time zone")
    if opp.stage_entered_at is not None and at < opp.stage_entered_at:
        raise ValidationError("at", "is before the current stage was entered")
    if not _moved(session, opp.id, current_id, target.id):
        session.refresh(opp)
        if opp.stage_id == target.id:
            return None
        raise ValidationError("stage", N_("was changed by someone else meanwhile; reload"))
    session.execute(
        update(StageHistory)
        .where(StageHistory.opportunity_id == opp.id, StageHistory.left_at.is_(None))
        .values(left_at=at)
        .execution_options(synchronize_session="fetch")  # not "evaluate": that scans the whole session
    )
    current = session.get(SalesStage, opp.stage_id) if opp.stage_id else None
    previous = current.name if current is not None else None
    old_probability = opp.probability
    _apply(opp, target, at, probability)
    if actor.is_staff:
        opp.last_touch_at = at
    row = StageHistory(**history_rows(opp.id, [_step(opp, target, actor, at)])[0])
    session.add(row)
    audit.log(session, "update", "opportunities", opp.id, actor, record_no=opp.opportunity_no,
              changes={"stage": [previous, target.name], "probability": [old_probability, opp.probability]}, at=at)
    session.flush()
    playbooks.fire(session, opp, row, actor, at)
    search_index.index_records(session, "opportunities", [opp.id])
    return row


def _moved(session: Session, opportunity_id: int, current_id: int | None, target_id: int) -> bool:
    """Set the stage if it is still `current_id` (compare-and-set); whether this call moved it."""
    same = Opportunity.stage_id.is_(None) if current_id is None else Opportunity.stage_id == current_id
    moved = session.execute(
        update(Opportunity).where(Opportunity.id == opportunity_id, same).values(stage_id=target_id)
        .execution_options(synchronize_session=False)
    )
    return affected(moved) == 1


def _apply(opp: Opportunity, stage: SalesStage, at: dt.datetime, probability: int | None = None) -> None:
    opp.stage_id = stage.id
    opp.stage_entered_at = at
    opp.probability = stage.probability if probability is None else probability
    opp.closed_at = at if stage.is_closed else None


def _step(opp: Opportunity, stage: SalesStage, actor: Actor, at: dt.datetime) -> StageStep:
    return StageStep(
        stage_id=stage.id,
        probability=opp.probability if opp.probability is not None else stage.probability,
        amount=opp.amount,
        expected_close_date=opp.expected_close_date,
        entered_at=at,
        changed_by_id=actor.user_id,
        changed_by_automation=actor.automation,
    )
