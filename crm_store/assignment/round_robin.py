"""Who gets a new lead: the one assignment module every path uses (web forms now, flows later).

A round-robin rotation keeps a pointer to the last user served. The pointer is read under a row
lock (`SELECT … FOR UPDATE` on PostgreSQL; SQLite transactions here begin IMMEDIATE, which
serialises writers), so concurrent submissions never give two reps the same turn or skip one.
Users who are inactive or out of the office are passed over without losing their place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from crm_store.db.engine import affected
from crm_store.errors import ValidationError
from crm_store.models import Team, TeamMember, User, WebForm, WebFormAssignee, utcnow


def is_available(user: Any, at: dt.datetime) -> bool:
    """Whether a user can take a new lead now: active and not out of the office."""
    if not user.active:
        return False
    start, end = user.out_of_office_from, user.out_of_office_to
    if start is not None and start <= at and (end is None or at < end):
        return False
    return not (start is None and end is not None and at < end)


def next_in_rotation(positions: Sequence[tuple[int, Any]], pointer: int, at: dt.datetime) -> tuple[int, Any] | None:
    """The first available user after `pointer` in position order, wrapping around; None if nobody is."""
    ordered = sorted(positions, key=lambda p: p[0])
    after = [p for p in ordered if p[0] > pointer] + [p for p in ordered if p[0] <= pointer]
    for position, user in after:
        if is_available(user, at):
            return position, user
    return None


# Built once: statement construction costs more than running these.
# FOR NO KEY UPDATE: a web submission's foreign key holds a KEY SHARE lock on its form's row, which a
# plain FOR UPDATE would wait on (and deadlock with the other submissions doing the same).
_FORM_POINTER = (
    select(WebForm.round_robin_pointer).where(WebForm.id == bindparam("owner")).with_for_update(key_share=True)
)
_TEAM_POINTER = select(Team.round_robin_pointer).where(Team.id == bindparam("owner")).with_for_update(key_share=True)
# A row's `id` is the user's: the place in the list is labelled `position` (a TeamMember's own id
# would otherwise come first and be taken for the owner).
_CANDIDATE = (
    User.id, User.email, User.name, User.language, User.time_zone, User.active, User.out_of_office_from,
    User.out_of_office_to,
)
_FORM_LIST = (
    select(WebFormAssignee.position.label("position"), *_CANDIDATE).join(User, User.id == WebFormAssignee.user_id)
    .where(WebFormAssignee.form_id == bindparam("owner"))
)
_TEAM_LIST = (
    select(TeamMember.id.label("position"), *_CANDIDATE).join(User, User.id == TeamMember.user_id)
    .where(TeamMember.team_id == bindparam("owner"))
)
_MOVE_FORM = (
    update(WebForm).where(WebForm.id == bindparam("owner"))
    .values(round_robin_pointer=bindparam("turn"), updated_at=WebForm.updated_at)  # a turn is not an edit
    .execution_options(synchronize_session=False)
)
_MOVE_TEAM = (
    update(Team).where(Team.id == bindparam("owner")).values(round_robin_pointer=bindparam("turn"))
    .execution_options(synchronize_session=False)
)


def _take_turns(session: Session, owner_id: int, pointer_stmt: Any, list_stmt: Any, move_stmt: Any,
                at: Sequence[dt.datetime]) -> list[Any]:
    """Take one turn per moment in `at`, in order, with one read and one write of the rotation."""
    pointer = start = session.execute(pointer_stmt, {"owner": owner_id}).scalar_one()
    positions = [(row.position, row) for row in session.execute(list_stmt, {"owner": owner_id})]
    chosen = []
    for moment in at:
        turn = next_in_rotation(positions, pointer, moment)
        if turn is not None:
            pointer = turn[0]
        chosen.append(turn[1] if turn is not None else None)
    if pointer != start:
        session.execute(move_stmt, {"owner": owner_id, "turn": pointer})
    return chosen


def _take_turn(session: Session, owner_id: int, pointer_stmt: Any, list_stmt: Any, move_stmt: Any,
               at: dt.datetime) -> Any:
    return _take_turns(session, owner_id, pointer_stmt, list_stmt, move_stmt, [at])[0]


def form_round_robin(session: Session, form_id: int, at: dt.datetime | None = None) -> Any:
    """Take the next turn of a form's round-robin list; None (lead left unassigned) if nobody is available.

    Returns the user's row: id, email, name, language, active, out-of-office dates.
    """
    return _take_turn(session, form_id, _FORM_POINTER, _FORM_LIST, _MOVE_FORM, at or utcnow())


def team_round_robin(session: Session, team_id: int, at: dt.datetime | None = None) -> Any:
    """Take the next turn among a team's members (in the order they joined)."""
    return _take_turn(session, team_id, _TEAM_POINTER, _TEAM_LIST, _MOVE_TEAM, at or utcnow())


def owners_for_form(session: Session, form: WebForm, at: Sequence[dt.datetime]) -> list[Any]:
    """The owners of several new leads from one form, one per moment in `at`, turns taken in that order.

    What `owner_for_form` gives one lead at a time, with one read and one write of the rotation.
    """
    if form.owner_kind == "round_robin":
        return _take_turns(session, form.id, _FORM_POINTER, _FORM_LIST, _MOVE_FORM, at)
    if form.owner_kind == "team" and form.owner_team_id is not None:
        return _take_turns(session, form.owner_team_id, _TEAM_POINTER, _TEAM_LIST, _MOVE_TEAM, at)
    owner = owner_for_form(session, form, at[0]) if at else None
    return [owner] * len(at)


def owner_for_form(session: Session, form: WebForm, at: dt.datetime | None = None) -> Any:
    """The user (object or row with id, email, name, language) a new lead from this form goes to.

    None leaves the lead unassigned for the assignment flow.
    """
    at = at or utcnow()
    if form.owner_kind == "round_robin":
        return form_round_robin(session, form.id, at)
    if form.owner_kind == "team" and form.owner_team_id is not None:
        return team_round_robin(session, form.owner_team_id, at)
    if form.owner_kind == "user" and form.owner_user_id is not None:
        user = session.get(User, form.owner_user_id)
        return user if user is not None and user.active else None
    return None


def set_round_robin(session: Session, form: WebForm, user_ids: Sequence[int]) -> None:
    """Replace a form's round-robin list; the rotation starts again from the first user."""
    if len(set(user_ids)) != len(user_ids):
        raise ValidationError("round_robin", "lists a user twice")
    session.execute(delete(WebFormAssignee).where(WebFormAssignee.form_id == form.id))
    session.flush()
    session.add_all(WebFormAssignee(form_id=form.id, user_id=uid, position=i) for i, uid in enumerate(user_ids))
    form.round_robin_pointer = -1
    session.flush()
    session.expire(form, ["assignees"])


def remove_user(session: Session, user_id: int, heir_id: int | None = None) -> dict[str, int]:
    """Take a departing user out of every rotation; forms they owned go to the heir, or to nobody."""
    removed = affected(session.execute(delete(WebFormAssignee).where(WebFormAssignee.user_id == user_id)))
    owned = list(session.scalars(select(WebForm).where(WebForm.owner_kind == "user", WebForm.owner_user_id == user_id)))
    for form in owned:
        if heir_id is not None:
            form.owner_user_id = heir_id
        else:
            form.owner_kind, form.owner_user_id = "none", None
    session.flush()
    return {"round_robin_lists": removed, "forms": len(owned)}
