"""What staff do to a record from its page: take a lead from the pool, change the owner, move a deal to another
stage, convert a lead. Each acts only on a record in the user's scope (else `NotFound`: the page answers 404)
and is audited under the user's name, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.automation import cadence
from crm_store.db.engine import affected
from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import Account, Lead, Opportunity, User, utcnow
from crm_store.pipeline import conversion, stages
from crm_store.records import audit
from crm_store.records import lifecycle as records
from crm_store.staff import scope as scoping


def visible_record(session: Session, user: User, module: str, record_id: int) -> Any:
    """Return a live record the user may see; `NotFound` otherwise (the same answer whether it exists or not)."""
    record = scoping.fetch(session, user, module, record_id)
    if record is None:
        raise NotFound(f"no {module} record {record_id}")
    return record


def take_lead(session: Session, user: User, lead_id: int, *, at: dt.datetime | None = None) -> Lead:
    """Claim an unowned lead of the pool for `user`: one conditional UPDATE, so of two takers one wins."""
    if not scoping.scope_of(session, user).sees_owner(None, "leads"):
        raise ValidationError("lead", N_("only members of the unassigned_pool team take leads from the pool"))
    at = at or utcnow()
    taken = session.execute(
        update(Lead)
        .where(Lead.id == lead_id, Lead.owner_id.is_(None), Lead.deleted_at.is_(None), Lead.converted_at.is_(None))
        .values(owner_id=user.id, assigned_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if affected(taken) != 1:
        raise ValidationError("lead", N_("is no longer in the pool: someone took it, or it was converted or deleted"))
    lead = session.get_one(Lead, lead_id, populate_existing=True)
    audit.log(session, "assign", "leads", lead.id, Actor.user(user.id), record_no=lead.lead_no,
              changes={"owner_id": [None, user.id]}, at=at)
    session.flush()
    cadence.start(session, [(lead.id, user.id, at)], cadence.calendar_for(session))
    return lead


def change_owner(session: Session, user: User, module: str, record_id: int, owner_id: int) -> Any:
    """Give a record the user may see to another active user (audited as an assignment)."""
    record = visible_record(session, user, module, record_id)
    owner = session.get(User, owner_id)
    if owner is None or not owner.active:
        raise ValidationError("owner_id", N_("user %(id)s is not an active user"), id=owner_id)
    before = record.owner_id
    changed = records.update(session, record, {"owner_id": owner.id}, Actor.user(user.id))
    if module == "leads" and before != owner.id:  # a new owner: the lead's cadence starts, unless it has
        cadence.start(session, [(changed.id, owner.id, changed.assigned_at)], cadence.calendar_for(session))
    return changed


def change_stage(
    session: Session, user: User, opportunity_id: int, stage: str | int, *, lost_reason: str | None = None,
    lost_reason_detail: str | None = None,
) -> Opportunity:
    """Move a deal the user may see to a stage; a lost stage needs a lost reason (from the lost_reason picklist).

    Leaving a lost stage for another clears the reason.
    """
    opp = visible_record(session, user, "opportunities", opportunity_id)
    target = stages.find_stage(session, opp.sales_process_id, stage)
    values: dict[str, Any] = {"stage": target.id}
    reason = (lost_reason or "").strip()
    if target.is_lost:
        if not reason:
            raise ValidationError("lost_reason", N_("is required to close a deal as lost"))
        values |= {"lost_reason": reason, "lost_reason_detail": (lost_reason_detail or "").strip() or None}
    elif opp.lost_reason is not None or opp.lost_reason_detail is not None:
        values |= {"lost_reason": None, "lost_reason_detail": None}
    updated: Opportunity = records.update(session, opp, values, Actor.user(user.id))
    return updated


# -- lead conversion --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountMatch:
    """An existing account a converted lead would join; `visible`: in the user's scope (else shown by name only)."""

    id: int
    number: str
    name: str
    owner_name: str | None
    visible: bool


@dataclass(frozen=True)
class ConversionPreview:
    """What the conversion page shows before converting: the account the lead would join or create."""

    lead: Lead
    account_name: str  # the name of the account conversion looks for, or creates
    matches: list[AccountMatch]  # live accounts of that name, the one used by default first
    opportunity_name: str  # a suggested name for the optional opportunity


def conversion_preview(session: Session, user: User, lead_id: int) -> ConversionPreview:
    """The account match of a lead the user may see, before it is converted."""
    lead = visible_record(session, user, "leads", lead_id)
    scope = scoping.scope_of(session, user)
    name = conversion.account_name(lead)
    matches = [
        AccountMatch(a.id, a.account_no, a.name, owner, scope.sees_owner(a.owner_id, "accounts"))
        for a, owner in session.execute(
            select(Account, User.name).outerjoin(User, User.id == Account.owner_id)
            .where(Account.id.in_([a.id for a in conversion.account_matches(session, name)]))
            .order_by(Account.id)
        )
    ]
    return ConversionPreview(lead, name, matches, name)


def convert(
    session: Session, user: User, lead_id: int, *, account: str | None = None, new_account: bool = False,
    opportunity: dict[str, Any] | None = None,
) -> conversion.Conversion:
    """Convert a lead the user may see: into the matched account (default), a chosen one (ACC number, in
    scope), or a new one (`new_account`, named `account` or after the lead); the opportunity is optional."""
    lead = visible_record(session, user, "leads", lead_id)
    if account and not new_account and conversion.is_account_number(account):
        chosen = conversion.find_account(session, account)
        if chosen is not None and not scoping.can_see(session, user, chosen):
            raise ValidationError("account", N_("no account %(account)s"), account=account)
    return conversion.convert_lead(session, lead, Actor.user(user.id), account=account, new_account=new_account,
                                   opportunity=opportunity)
