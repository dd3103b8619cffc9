"""Who gets a new lead: the one assignment module every path uses (web forms, the assignment rules).

A round-robin rotation keeps a pointer to the last turn served. The pointer is read under a row
lock (`SELECT … FOR UPDATE` on PostgreSQL; SQLite transactions here begin IMMEDIATE, which
serialises writers), so concurrent submissions never give two reps the same turn or skip one.
Users who are inactive or out of the office are passed over without losing their place.

A team (`TeamRotation`) shares leads by its strategy. `round_robin` (and `weighted`, the same) goes
round its members in the order they joined; a member of weight w has w turns a round, spread out: the
first round serves every member, the second those of weight 2 or more, and so on. `least_loaded` gives
the lead to the member with the fewest open leads, ties going round in turn. Either way a member at
their cap of open leads (`TeamMember.open_lead_cap`) is passed over like an absent one. The team's
pointer is the last turn served, kept in `Team.round_robin_pointer` across runs and paths.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from crm_store.db.engine import affected
from crm_store.errors import ValidationError
from crm_store.models import Lead, Team, TeamMember, User, WebForm, WebFormAssignee, utcnow
from crm_store.pipeline.leads import open_lead_condition


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
_TEAM = (
    select(Team.id, Team.name, Team.assignment_strategy, Team.manager_id, Team.round_robin_pointer)
    .where(Team.id == bindparam("owner")).with_for_update(key_share=True)
)
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
    select(TeamMember.id.label("position"), TeamMember.weight, TeamMember.open_lead_cap, User.manager_id,
           *_CANDIDATE).join(User, User.id == TeamMember.user_id)
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


def form_round_robin(session: Session, form_id: int, at: dt.datetime | None = None) -> Any:
    """Take the next turn of a form's round-robin list; None (lead left unassigned) if nobody is available.

    Returns the user's row: id, email, name, language, active, out-of-office dates.
    """
    return _take_turns(session, form_id, _FORM_POINTER, _FORM_LIST, _MOVE_FORM, [at or utcnow()])[0]


def team_round_robin(session: Session, team_id: int, at: dt.datetime | None = None) -> Any:
    """Take the next turn among a team's members, by the team's strategy (None: nobody can take it)."""
    return team_turns(session, team_id, [at or utcnow()])[0]


def team_turns(session: Session, team_id: int, at: Sequence[dt.datetime]) -> list[Any]:
    """Take one turn of a team per moment in `at`, in order, with one read and one write of the rotation."""
    rotation = TeamRotation.load(session, team_id)
    if rotation is None:
        return [None] * len(at)
    chosen = [rotation.take(moment) for moment in at]
    rotation.save(session)
    return chosen


# -- teams: strategies, weights and caps ----------------------------------------------------------------

MAX_WEIGHT = 100  # turns a round at most, whatever the stored weight
# The pointer packs (round, member id) into one 32-bit integer: a first-round turn is the member id itself
# (what a pointer has always held), a later one -(round × 2^24 + member id).
_ROUND = 1 << 24


def pack_turn(round_no: int, position: int) -> int:
    """The pointer value of a turn: round `round_no` (0 first) of the member at `position`."""
    return position if round_no == 0 else -(round_no * _ROUND + position)


def unpack_turn(pointer: int) -> tuple[int, int]:
    """The (round, member position) a pointer value names."""
    if pointer >= 0:
        return 0, pointer
    round_no, position = divmod(-pointer, _ROUND)
    return round_no, position


@dataclass
class Seat:
    """A member in a team's rotation: their user row, weight, cap, and open leads (counted as turns go)."""

    position: int  # TeamMember.id: the order members joined
    user: Any
    weight: int
    cap: int | None
    load: int = 0

    def has_room(self) -> bool:
        """Whether the member is below their cap of open leads."""
        return self.cap is None or self.load < self.cap


@dataclass
class TeamRotation:
    """A team's members and pointer, read once (the pointer under a row lock); turns are taken in memory."""

    id: int
    name: str
    strategy: str
    manager_id: int | None
    pointer: int
    seats: list[Seat]
    _start: int = field(init=False, default=0)
    _slots: list[tuple[tuple[int, int], Seat]] = field(init=False, default_factory=list)
    _keys: list[tuple[int, int]] = field(init=False, default_factory=list)
    _absent: dict[int, bool] = field(init=False, default_factory=dict)
    _absent_at: dt.datetime | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._start = self.pointer
        rounds = ((n, seat) for seat in self.seats for n in range(min(max(seat.weight, 1), MAX_WEIGHT)))
        self._slots = sorted((((n, seat.position), seat) for n, seat in rounds), key=lambda slot: slot[0])
        self._keys = [key for key, _ in self._slots]

    @classmethod
    def load(cls, session: Session, team_id: int) -> TeamRotation | None:
        """Read a team's rotation, locking its pointer until the transaction ends; None if there is no team."""
        team = session.execute(_TEAM, {"owner": team_id}).first()
        if team is None:
            return None
        rows = list(session.execute(_TEAM_LIST, {"owner": team_id}))
        seats = [Seat(r.position, r, r.weight or 1, r.open_lead_cap) for r in rows]
        rotation = cls(team.id, team.name, team.assignment_strategy, team.manager_id, team.round_robin_pointer, seats)
        if team.assignment_strategy == "least_loaded" or any(seat.cap is not None for seat in seats):
            loads = open_leads_of(session, [seat.user.id for seat in seats])
            for seat in seats:
                seat.load = loads.get(seat.user.id, 0)
        return rotation

    def take(self, at: dt.datetime, exclude: int | None = None) -> Any:
        """Give the next lead to a member by the team's strategy; their user row, or None if nobody can take it.

        `exclude` is a user who may not have it (the owner a lead is taken from).
        """
        if self._absent_at != at:
            self._absent, self._absent_at = {}, at
        slots, count = self._slots, len(self._slots)
        after = bisect_right(self._keys, unpack_turn(self.pointer))
        chosen: tuple[tuple[int, int], Seat] | None = None
        for i in range(count):
            key, seat = slots[(after + i) % count]
            if self.strategy == "least_loaded":
                if key[0] == 0 and (chosen is None or seat.load < chosen[1].load) and self._can_take(seat, at, exclude):
                    chosen = key, seat
            elif self._can_take(seat, at, exclude):
                chosen = key, seat
                break
        if chosen is None:
            return None
        self.pointer = pack_turn(*chosen[0])
        chosen[1].load += 1
        return chosen[1].user

    def _can_take(self, seat: Seat, at: dt.datetime, exclude: int | None) -> bool:
        if seat.user.id == exclude or not seat.has_room():
            return False
        absent = self._absent.get(seat.position)
        if absent is None:
            absent = self._absent[seat.position] = not is_available(seat.user, at)
        return not absent

    def save(self, session: Session) -> None:
        """Write the pointer back if turns moved it (in the caller's transaction, which holds its lock)."""
        if self.pointer != self._start:
            session.execute(_MOVE_TEAM, {"owner": self.id, "turn": self.pointer})
            self._start = self.pointer


def open_leads_of(session: Session, user_ids: Collection[int]) -> dict[int, int]:
    """How many open leads each of these users owns (absent: none)."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(Lead.owner_id, func.count()).where(Lead.owner_id.in_(list(user_ids)), open_lead_condition())
        .group_by(Lead.owner_id)
    )
    return {owner: count for owner, count in rows if owner is not None}


def load_teams(session: Session, team_ids: Iterable[int]) -> dict[int, TeamRotation]:
    """Read several teams' rotations, locking their pointers in id order (so two writers never deadlock)."""
    found = {}
    for team_id in sorted(set(team_ids)):
        rotation = TeamRotation.load(session, team_id)
        if rotation is not None:
            found[team_id] = rotation
    return found


def owners_for_form(session: Session, form: WebForm, at: Sequence[dt.datetime]) -> list[Any]:
    """The owners of several new leads from one form, one per moment in `at`, turns taken in that order.

    What `owner_for_form` gives one lead at a time, with one read and one write of the rotation.
    """
    if form.owner_kind == "round_robin":
        return _take_turns(session, form.id, _FORM_POINTER, _FORM_LIST, _MOVE_FORM, at)
    if form.owner_kind == "team" and form.owner_team_id is not None:
        return team_turns(session, form.owner_team_id, at)
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
