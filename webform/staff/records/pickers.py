"""The choices of the records area's selects: users in scope, visible accounts, stages, picklists."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import Account, SalesStage, User
from crm_store.pipeline import stages
from crm_store.settings import picklists
from crm_store.staff import scope as scoping

from .fields import FORMS

Choices = list[tuple[str, str]]
ACCOUNT_LIMIT = 500  # the newest visible accounts offered in a form's select


def owners(session: Session, user: User, scope: scoping.Scope | None = None) -> Choices:
    """The active users whose records `user` sees (everyone for an admin), by name: (id, name)."""
    scope = scope or scoping.scope_of(session, user)
    stmt = select(User.id, User.name).where(User.active).order_by(User.name, User.id)
    if not scope.everything:
        stmt = stmt.where(User.id.in_(sorted(scope.owners | {user.id})))
    return [(str(user_id), name) for user_id, name in session.execute(stmt)]


def accounts(session: Session, user: User, keep: int | None = None) -> Choices:
    """The accounts `user` may see (newest first, at most ACCOUNT_LIMIT; `keep`: always this one): (id, name)."""
    visible = select(Account.id, Account.name, Account.account_no).where(
        Account.deleted_at.is_(None), scoping.visible(session, user, "accounts"))
    rows = list(session.execute(visible.order_by(Account.id.desc()).limit(ACCOUNT_LIMIT)))
    if keep is not None and keep not in {row.id for row in rows}:
        rows += list(session.execute(select(Account.id, Account.name, Account.account_no).where(Account.id == keep)))
    return [(str(row.id), f"{row.name} ({row.account_no})") for row in sorted(rows, key=lambda r: r.name.lower())]


def stage_rows(session: Session, process_id: int | None = None) -> list[SalesStage]:
    """The stages of a sales process (the default one), in order."""
    process = process_id or stages.default_process(session).id
    stmt = select(SalesStage).where(SalesStage.sales_process_id == process).order_by(SalesStage.position)
    return list(session.scalars(stmt))


def form_choices(session: Session, user: User, module: str, account_id: int | None = None) -> dict[str, Choices]:
    """Every choice a module's form needs: its picklists, owners, accounts and stages."""
    found: dict[str, Choices] = {"owner": owners(session, user)}
    for spec in FORMS[module]:
        if spec.picklist:
            found[spec.picklist] = [(v, v) for v in picklists.values(session, spec.picklist)]
        elif spec.kind == "account":
            found["account"] = accounts(session, user, account_id)
        elif spec.kind == "stage":
            found["stage"] = [(s.name, s.name) for s in stage_rows(session)]
    return found
