"""Staff accounts: add, list, deactivate."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from . import company
from .contact_points import clean_email
from .errors import NotFound, ValidationError
from .models import LANGUAGES, ROLES, User, utcnow


def add_user(
    session: Session,
    email: str,
    name: str,
    *,
    role: str = "rep",
    manager_email: str | None = None,
    language: str | None = None,
    time_zone: str | None = None,
) -> User:
    """Add a member of staff; the email is the unique login."""
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
    return user


def find_user(session: Session, email: str) -> User:
    """Return the user with this email; fail with a clear message."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email!r}")
    return user


def list_users(include_inactive: bool = True) -> Select[tuple[User]]:
    """Return a query for users, admins first then by name."""
    stmt = select(User).order_by(User.role, User.name)
    return stmt if include_inactive else stmt.where(User.active)


def deactivate_user(session: Session, email: str) -> User:
    """Stop a user from logging in and from receiving new leads; their records stay theirs."""
    user = find_user(session, email)
    if not user.active:
        raise ValidationError("email", f"{user.email} is already inactive")
    user.active = False
    user.deactivated_at = utcnow()
    session.flush()
    return user
