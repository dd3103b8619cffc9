"""Staff accounts: add, list, deactivate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from crm_store.actor import SYSTEM, Actor
from crm_store.assignment import round_robin as assignment
from crm_store.errors import NotFound, ValidationError
from crm_store.mail import outbox
from crm_store.models import LANGUAGES, ROLES, Account, Activity, Contact, Lead, Opportunity, User, utcnow
from crm_store.pipeline.leads import open_lead_condition
from crm_store.records import audit, registry
from crm_store.records.contact_points import clean_email
from crm_store.settings import company
from crm_store.staff.tokens import sign_later

SET_PASSWORD_DAYS = 7


def add_user(
    session: Session,
    email: str,
    name: str,
    *,
    role: str = "rep",
    manager_email: str | None = None,
    language: str | None = None,
    time_zone: str | None = None,
    welcome: bool = True,
) -> User:
    """Add a member of staff (the email is the unique login) and queue their welcome message."""
    email = clean_email("email", email).lower()
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError("name", "must be 1 to 100 characters")
    if role not in ROLES:
        raise ValidationError("role", f"{role!r} is not one of {', '.join(ROLES)}")
    language = language or company.get(session, "default_language")
    if language not in LANGUAGES:
        raise ValidationError("language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
    if time_zone is not None:
        company.BY_KEY["time_zone"].parse("time_zone", time_zone)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationError("email", f"a user with email {email} already exists")
    manager = find_user(session, manager_email) if manager_email else None
    user = User(
        email=email, name=name, role=role, language=language, time_zone=time_zone,
        manager_id=manager.id if manager else None,
    )
    session.add(user)
    session.flush()
    if welcome:
        queue_welcome(session, user)
    return user


def queue_welcome(session: Session, user: User) -> None:
    """Queue the welcome message with a link to set a password, valid for a week (signed at delivery)."""
    expires = utcnow() + dt.timedelta(days=SET_PASSWORD_DAYS)
    token = sign_later("set_password", str(user.id), expires)
    outbox.enqueue(
        session, "welcome", user.email, key=f"welcome:{user.id}", language=user.language,
        recipient_name=user.name, to_staff=True,
        context={"recipient_name": user.name, "login_email": user.email, "token": token,
                 "expires_at": company.show_time(expires, company.zone_for(session, user))},
    )


def find_user(session: Session, email: str) -> User:
    """Return the user with this email; fail with a clear message."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email!r}")
    return user


def listing(include_inactive: bool = True) -> Select[User, str | None]:
    """Select users with their manager's email, admins first then by name."""
    manager = aliased(User)
    stmt = (
        select(User, manager.email).outerjoin(manager, manager.id == User.manager_id).order_by(User.role, User.name)
    )
    return stmt if include_inactive else stmt.where(User.active)


def deactivate_user(
    session: Session, email: str, *, reassign_to: str | None = None, actor: Actor = SYSTEM
) -> dict[str, int]:
    """Stop a user from logging in and receiving leads; hand their open records and activities on.

    Returns how many records of each kind moved. Refuses when the user still owns open work and
    nobody was named to take it: nothing may be left orphaned.
    """
    user = find_user(session, email)
    if not user.active:
        raise ValidationError("email", f"{user.email} is already inactive")
    heir = find_user(session, reassign_to) if reassign_to else None
    if heir is not None and (not heir.active or heir.id == user.id):
        raise ValidationError("reassign_to", f"{heir.email} must be another, active user")
    open_work = {name: list(session.scalars(stmt.where(model.owner_id == user.id)))
                 for name, (model, stmt) in _open_work().items()}
    if heir is None and any(open_work.values()):
        summary = ", ".join(f"{len(v)} {k}" for k, v in open_work.items() if v)
        raise ValidationError(
            "reassign_to", f"{user.email} still owns {summary}; name who takes them with --reassign-to"
        )
    moved = {name: len(rows) for name, rows in open_work.items()}
    if heir is not None:
        _hand_on(session, open_work, user.id, heir.id, actor)
    removed = assignment.remove_user(session, user.id, heir.id if heir is not None else None)
    moved.update({k: n for k, n in removed.items() if n})  # round-robin lists and forms, when any
    user.active = False
    user.deactivated_at = utcnow()
    session.flush()
    return moved


def _hand_on(session: Session, work: dict[str, list[Any]], from_id: int, to_id: int, actor: Actor) -> None:
    """Give a leaving user's open records and activities to another user; audit the records."""
    for name, rows in work.items():
        for row in rows:
            row.owner_id = to_id
        if name != "activities":
            number = registry.get(name).number_field
            changes = {"owner_id": [from_id, to_id]}
            audit.log_many(session, "assign", name, ((r.id, getattr(r, number), changes) for r in rows), actor)


def _open_work() -> dict[str, tuple[Any, Select[Any]]]:
    """What counts as a user's open work: open leads, open deals, accounts, contacts, open activities."""
    return {
        "leads": (Lead, select(Lead).where(open_lead_condition())),
        "opportunities": (Opportunity, select(Opportunity).where(Opportunity.closed_at.is_(None),
                                                                Opportunity.deleted_at.is_(None))),
        "accounts": (Account, select(Account).where(Account.deleted_at.is_(None))),
        "contacts": (Contact, select(Contact).where(Contact.deleted_at.is_(None))),
        "activities": (
            Activity, select(Activity).where(Activity.completed_at.is_(None), Activity.deleted_at.is_(None))
        ),
    }
