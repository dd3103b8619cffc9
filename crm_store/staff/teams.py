"""Sales teams: add one, list them, add and remove members with a weight and a cap of open leads.

A team's rotation follows the order members joined (`crm_store.assignment.round_robin`): a new
member goes to the end; changing a member's weight or cap keeps their place.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import ASSIGNMENT_STRATEGIES, Team, TeamMember, User
from crm_store.staff.users import find_user

NO_SUCH_USER = N_("no user with email %(email)s")


def add_team(session: Session, name: str, manager_email: str, *, strategy: str = "round_robin") -> Team:
    """Add a team (the name is unique) led by an active user."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError("name", N_("must be 1 to 100 characters"))
    if strategy not in ASSIGNMENT_STRATEGIES:
        raise ValidationError("strategy", N_("%(value)s is not one of %(choices)s"), value=repr(strategy),
                              choices=", ".join(ASSIGNMENT_STRATEGIES))
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise ValidationError("name", N_("a team named %(name)s already exists"), name=repr(name))
    manager = _active_user(session, "manager", manager_email)
    team = Team(name=name, manager_id=manager.id, assignment_strategy=strategy, round_robin_pointer=0)
    session.add(team)
    session.flush()
    return team


def find_team(session: Session, name: str) -> Team:
    """Return the team with this name; fail with a clear message."""
    team = session.scalar(select(Team).where(Team.name == name.strip()))
    if team is None:
        raise NotFound(f"no team named {name!r}")
    return team


def add_member(session: Session, team: Team, email: str, *, weight: int = 1, cap: int | None = None) -> TeamMember:
    """Put an active user in a team at the end of its rotation, or set the weight and cap of one already in it."""
    if weight < 1:
        raise ValidationError("weight", N_("must be 1 or more (got %(value)s)"), value=weight)
    if cap is not None and cap < 1:
        raise ValidationError("cap", N_("must be 1 or more, or none (got %(value)s)"), value=cap)
    user = _active_user(session, "member", email)
    member = _membership(session, team, user)
    if member is None:
        member = TeamMember(team_id=team.id, user_id=user.id)
        session.add(member)
    member.weight, member.open_lead_cap = weight, cap
    session.flush()
    return member


def remove_member(session: Session, team: Team, email: str) -> None:
    """Take a user out of a team; the rotation carries on with the others."""
    try:
        user = find_user(session, email)
    except NotFound:
        raise ValidationError("member", NO_SUCH_USER, email=repr(email)) from None
    member = _membership(session, team, user)
    if member is None:
        raise ValidationError("member", N_("%(email)s is not a member of %(team)s"), email=user.email, team=team.name)
    session.delete(member)
    session.flush()


def listing() -> Select[Team, str | None]:
    """Select teams with their manager's email, by name."""
    manager = aliased(User)
    return select(Team, manager.email).outerjoin(manager, manager.id == Team.manager_id).order_by(Team.name)


def members(team_id: int | None = None) -> Select[TeamMember, User]:
    """Select members with their users, team by team in rotation order (the order they joined)."""
    stmt = select(TeamMember, User).join(User, User.id == TeamMember.user_id).order_by(
        TeamMember.team_id, TeamMember.id
    )
    return stmt if team_id is None else stmt.where(TeamMember.team_id == team_id)


def _active_user(session: Session, field: str, email: str) -> User:
    try:
        user = find_user(session, email)
    except NotFound:
        raise ValidationError(field, NO_SUCH_USER, email=repr(email)) from None
    if not user.active:
        raise ValidationError(field, N_("%(email)s is inactive"), email=user.email)
    return user


def _membership(session: Session, team: Team, user: User) -> TeamMember | None:
    return session.scalar(select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id))
