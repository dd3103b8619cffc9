"""Who sees what: the one rule every list, record page, search, export and download applies.

- An admin sees everything.
- A manager sees their own records and those of the users whose `manager_id` is them.
- A rep sees their own records.
- Under the company setting `record_sharing = team`, the members of a team also see each other's records.
- Whoever belongs to the team that the setting `unassigned_pool` names also sees the unowned leads (the pool),
  and may take one (`crm_store.staff.actions.take_lead`).
- An inactive user sees nothing.

Teams decide assignment; `record_sharing` decides visibility. Campaigns and the catalogue (products, price books)
are the company's, seen by every user — in lists, pages and the header's search; a document is seen when its
owner's records are, or when it is attached to a record that is.

`Scope` is worked out once per request (two small queries) and turned into a SQL condition on a model's
`owner_id`: `owner_id IN (…)`, with `OR owner_id IS NULL` for the pool. Lists that must stay fast with a
million rows use `Scope.owners` directly, one index range per owner (`crm_store.records.listing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session, aliased

from crm_store.models import Document, DocumentLink, Lead, Team, TeamMember, User
from crm_store.records import registry
from crm_store.settings import company

OWNED = ("leads", "accounts", "contacts", "opportunities")  # the modules whose records are seen by their owner
EVERYONE = ("campaigns", "products", "price_books")  # the modules every user sees


@dataclass(frozen=True)
class Scope:
    """What one user sees: everything, or the records of some owners (and, for leads, the unowned pool)."""

    user_id: int
    everything: bool = False
    owners: frozenset[int] = frozenset()
    pool: bool = False  # sees the unowned leads

    def sees_owner(self, owner_id: int | None, module: str) -> bool:
        """Whether a record of `module` with this owner is in the scope."""
        if self.everything or module in EVERYONE:
            return True
        if owner_id is None:
            return self.pool and module == "leads"
        return owner_id in self.owners


def scope_of(session: Session, user: User) -> Scope:
    """Work out a user's scope: their role, their reports, their teams under `record_sharing`, the pool."""
    if not user.active:
        return Scope(user.id)
    if user.role == "admin":
        return Scope(user.id, everything=True)
    settings = _settings(session)
    owners = {user.id}
    if user.role == "manager":
        owners |= set(session.scalars(select(User.id).where(User.manager_id == user.id)))
    if settings["record_sharing"] == "team":
        owners |= set(session.scalars(teammates(user.id)))
    return Scope(user.id, owners=frozenset(owners), pool=in_pool(session, user.id, settings["unassigned_pool"]))


def teammates(user_id: int) -> Any:
    """Select the ids of the users who share a team with this one (themselves included)."""
    mine, theirs = aliased(TeamMember), aliased(TeamMember)
    return (
        select(theirs.user_id).distinct()
        .join(mine, mine.team_id == theirs.team_id)
        .where(mine.user_id == user_id)
    )


def pool_team_id(session: Session, pool: str | None = None) -> int | None:
    """The id of the team `unassigned_pool` names, or None (empty, or a user's email: no pool to take from)."""
    name = (company.get(session, "unassigned_pool") if pool is None else pool).strip()
    if not name:
        return None
    return session.scalar(select(Team.id).where(Team.name == name))


def in_pool(session: Session, user_id: int, pool: str | None = None) -> bool:
    """Whether a user belongs to the pool team, and so sees and may take unowned leads."""
    team_id = pool_team_id(session, pool)
    if team_id is None:
        return False
    member = select(TeamMember.id).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    return session.scalar(member) is not None


def condition(scope: Scope, module: str) -> ColumnElement[bool]:
    """The SQL condition on `module`'s model for the records in the scope (deleted ones are the caller's choice)."""
    if scope.everything or module in EVERYONE:
        return true()
    if module == "documents":
        return _document_condition(scope)
    model = registry.get(module).model
    mine = model.owner_id.in_(sorted(scope.owners)) if scope.owners else false()
    if scope.pool and module == "leads":
        return or_(mine, Lead.owner_id.is_(None))
    return mine


def visible(session: Session, user: User, module: str) -> ColumnElement[bool]:
    """The SQL condition on `module`'s model for the records `user` may see: `select(Lead).where(visible(…))`."""
    return condition(scope_of(session, user), module)


def can_see(session: Session, user: User, record: Any, scope: Scope | None = None) -> bool:
    """Whether `user` may see this record (a lead, account, contact, opportunity, campaign or document)."""
    scope = scope or scope_of(session, user)
    module = registry.of_record(record).name
    if scope.sees_owner(record.owner_id, module):
        return True
    if module == "documents":
        linked = _linked_to_visible(scope).where(DocumentLink.document_id == record.id)
        return bool(session.scalar(select(linked.exists())))
    return False


def fetch(
    session: Session, user: User, module: str, record_id: int, *, deleted: bool = False, scope: Scope | None = None
) -> Any | None:
    """Return the record if `user` may see it, else None (the page answers 404); deleted ones only if asked."""
    model = registry.get(module).model
    found = session.get(model, record_id)
    if found is None or (found.deleted_at is not None and not deleted):
        return None
    return found if can_see(session, user, found, scope) else None


def fetch_by_number(
    session: Session, user: User, module: str, number: str, *, deleted: bool = False, scope: Scope | None = None
) -> Any | None:
    """Return the record numbered `number` (LEA12, as record URLs name it) if `user` may see it, else None."""
    spec = registry.get(module)
    column = getattr(spec.model, spec.number_field)
    record_id = session.scalar(select(spec.model.id).where(column == number.strip().upper()))
    if record_id is None:
        return None
    return fetch(session, user, module, record_id, deleted=deleted, scope=scope)


def search_condition(
    session: Session, user: User, module_column: Any, record_id_column: Any, seen: Scope | None = None
) -> ColumnElement[bool] | None:
    """The scope as a condition on search documents (their module and record id columns); None: no limit.

    For a search's candidate query, inside it, before any limit: each document is checked against its
    record (by primary key) — `exists(select(Lead.id).where(Lead.id == record_id, <scope>))` per module.
    `seen`: the user's scope when the caller has already worked it out.
    """
    scope = seen if seen is not None else scope_of(session, user)
    if scope.everything:
        return None
    per_module = []
    for module in registry.names(searchable=True):
        model = registry.get(module).model
        if module in EVERYONE:
            per_module.append(module_column == module)
            continue
        owned = exists(select(model.id).where(model.id == record_id_column, condition(scope, module)))
        per_module.append(and_(module_column == module, owned))
    return or_(*per_module) if per_module else false()


def _document_condition(scope: Scope) -> ColumnElement[bool]:
    """A document is seen when its owner's records are, or when it is attached to a record in the scope."""
    mine = Document.owner_id.in_(sorted(scope.owners)) if scope.owners else false()
    return or_(mine, _linked_to_visible(scope).where(DocumentLink.document_id == Document.id).exists())


def _linked_to_visible(scope: Scope) -> Any:
    """Select document links to a record in the scope (correlate it to a document)."""
    links = []
    for module in OWNED:
        spec = registry.get(module)
        column = getattr(DocumentLink, spec.link_column or "")
        links.append(exists(select(spec.model.id).where(spec.model.id == column, condition(scope, module))))
    return select(DocumentLink.id).where(or_(*links))


def _settings(session: Session) -> dict[str, Any]:
    return {key: company.get(session, key) for key in ("record_sharing", "unassigned_pool")}
