"""A command's unit of work: who is acting (`crm --as EMAIL`, CRM_USER), and its transaction.

The transaction also remembers what a closed output pipe did to it (`crm forms add … | head`): the
entry point then says whether the change was saved.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crm_store.actor import Actor
    from crm_store.config import Config
    from crm_store.models import User

AS = "leadline.as"  # the key of `crm --as EMAIL` in the context's meta, which every sub-command shares
CLI = "cli"  # who made a change from the command line when nobody is named


@dataclass
class Outcome:
    """What happened to the current command's transactions."""

    saved: bool = False  # one committed
    undone_by_pipe: bool = False  # a closed output pipe rolled one back

    def reset(self) -> None:
        """Forget the previous command (tests run many in one process)."""
        self.saved = self.undone_by_pipe = False


OUTCOME = Outcome()


@contextmanager
def transaction(config: Config | None = None) -> Iterator[Session]:
    """Open the command's session: commit on success, roll back on error (a closed output pipe included)."""
    from crm_store.db.engine import session_scope

    try:
        with session_scope(config) as session:
            yield session
    except BrokenPipeError:
        OUTCOME.undone_by_pipe = True
        raise
    OUTCOME.saved = True


def acting_email() -> str | None:
    """The email named by `crm --as` or else CRM_USER; None when neither is set."""
    ctx = click.get_current_context(silent=True)
    named = ctx.meta.get(AS) if ctx is not None else None
    if named:
        return str(named).strip().lower()
    from crm_store.config import load_config

    return load_config().acting_user


def acting_user(session: Session) -> User | None:
    """The active user the command acts as; None without --as/CRM_USER; fail in one line for anyone else."""
    from sqlalchemy import select

    from crm_store.errors import ValidationError
    from crm_store.models import User

    email = acting_email()
    if email is None:
        return None
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        raise ValidationError("--as/CRM_USER", f"no user with email {email!r}")
    if not user.active:
        raise ValidationError("--as/CRM_USER", f"{user.email} is inactive")
    return user


def actor(session: Session) -> Actor:
    """Who the command's changes are audited as: the acting user, else the command line (`cli`)."""
    from crm_store.actor import Actor

    user = acting_user(session)
    return Actor.user(user.id) if user is not None else Actor.system(CLI)
