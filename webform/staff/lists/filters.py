"""The filters of the campaigns, activities and documents lists: read from the query string (a value that is not
one of the choices is dropped, a sort that is not the list's is the newest first), and the choices of their selects."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.languages import N_
from crm_store.models import User
from crm_store.records.listing import DUE, SORTS, ListFilter
from crm_store.settings import picklists
from crm_store.staff import bulk_actions
from crm_store.staff import scope as scoping

from ..page import choice
from ..records import pickers

FILTER_KEYS = ("q", "owner", "status", "type", "due")  # what makes a list filtered
ACTIVITY_TYPES = {"task": N_("Task"), "call": N_("Call"), "meeting": N_("Meeting"), "email": N_("Email")}
TYPE_WORDS = (N_("task"), N_("call"), N_("meeting"), N_("email"))  # an activity's type in an export (a choice)
DUE_LABELS = {"overdue": N_("Overdue"), "today": N_("Today"), "week": N_("Next 7 days")}


def choices(db: Session, user: User, module: str, scope: scoping.Scope) -> dict[str, Any]:
    """The selects' choices of a list, (value, words) each: owners, statuses, types and (activities) days due."""
    statuses = [v for name in bulk_actions.status_picklists(module) for v in picklists.values(db, name)]
    kinds: list[tuple[str, str]] = []
    if module == "campaigns":
        kinds = [(v, choice(v)) for v in picklists.values(db, "campaign_type")]
    elif module == "activities":
        kinds = [(key, gettext(label)) for key, label in ACTIVITY_TYPES.items()]
    return {
        "owners": _everyone(db) if module in scoping.EVERYONE else pickers.owners(db, user, scope),
        "statuses": [(v, choice(v)) for v in dict.fromkeys(statuses)],
        "kinds": kinds,
        "dues": [(key, gettext(label)) for key, label in DUE_LABELS.items()] if module == "activities" else [],
    }


def list_query(module: str, args: Any, user: User, offered: dict[str, Any]) -> tuple[ListFilter, str, bool]:
    """A list's filter, sort and direction from its query (the page, its export and saved filters read it alike)."""
    sort = args.get("sort", "created") if args.get("sort") in SORTS[module] else "created"
    return list_filter(module, args, user, offered), sort, args.get("order", "desc") != "asc"


def list_filter(module: str, args: Any, user: User, offered: dict[str, Any]) -> ListFilter:
    """The list's filter from the query string; values that are not offered are left out."""
    owner, status, kind, due = (args.get(key, "") for key in ("owner", "status", "type", "due"))
    return ListFilter(
        owner_id=user.id if owner == "me" else int(owner) if owner.isdigit() else None,
        status=status if status in {key for key, _ in offered["statuses"]} else None,
        kind=kind if kind in {key for key, _ in offered["kinds"]} else None,
        due=due if module == "activities" and due in DUE else None,
        prefix=(args.get("q") or "").strip()[:100] or None,
    )


def is_filtered(args: Any) -> bool:
    """Whether any filter is set (the empty state then says that nothing matches)."""
    return any(args.get(key) for key in FILTER_KEYS)


def _everyone(db: Session) -> pickers.Choices:
    """Every active user, by name (campaigns are everyone's: any owner may be picked)."""
    stmt = select(User.id, User.name).where(User.active).order_by(User.name, User.id)
    return [(str(user_id), name) for user_id, name in db.execute(stmt)]
