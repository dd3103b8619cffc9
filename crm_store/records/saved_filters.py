"""A user's saved filters of a list: save the filter and sort in view under a name, rename, delete, list.

A filter is kept as the list's query parameters (`FILTER_KEYS`: `q`, `owner`, `status`, `stage`, … `sort`, `order`)
of any list (`listing.LISTS`: the records', and the campaigns, activities and documents lists):
only those keys, each checked — so a saved filter is always a query the list can read back, never whatever a
request carried. Names are one line, unique per user and module (compared regardless of case). A user
reaches only their own filters: another user's is `NotFound`, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import SavedFilter, User, utcnow
from crm_store.records import registry
from crm_store.records.lines import one_line
from crm_store.records.listing import LISTS, SORTS

# The query keys of the lists that a filter keeps (the records lists', the type and due day of the campaigns
# and activities lists, and the campaign a campaign's page links its leads, contacts and opportunities with; the
# products list's category and whether active); a list with filters of its own adds their keys here.
FILTER_KEYS = ("q", "owner", "status", "stage", "source", "type", "due", "campaign", "category", "active", "sort",
               "order")
NAME_LENGTH = 100
VALUE_LENGTH = 100
MOST_PER_LIST = 50  # saved filters per user and module: a picker, not an archive


def for_user(session: Session, user: User, module: str) -> list[SavedFilter]:
    """A user's saved filters of a module's list, by name."""
    _check_module(module)
    stmt = (select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.module == module)
            .order_by(func.lower(SavedFilter.name), SavedFilter.id))
    return list(session.scalars(stmt))


def get(session: Session, user: User, filter_id: int, module: str | None = None) -> SavedFilter:
    """One of the user's saved filters (of `module`, when given); `NotFound` for anyone else's or none."""
    found = session.get(SavedFilter, filter_id)
    if found is None or found.user_id != user.id or (module is not None and found.module != module):
        raise NotFound(f"no saved filter {filter_id}")
    return found


def save(session: Session, user: User, module: str, name: str, params: Mapping[str, Any]) -> SavedFilter:
    """Keep a list's filter under a new name; the parameters are checked and only the known keys kept."""
    _check_module(module)
    clean_name = _name(session, user, module, name)
    clean = clean_params(module, params)
    count = session.scalar(select(func.count()).select_from(SavedFilter).where(
        SavedFilter.user_id == user.id, SavedFilter.module == module))
    if (count or 0) >= MOST_PER_LIST:
        raise ValidationError("name", N_("you have %(most)s saved filters here already; delete one first"),
                              most=MOST_PER_LIST)
    found = SavedFilter(user_id=user.id, module=module, name=clean_name, params=clean)
    session.add(found)
    session.flush()
    return found


def rename(session: Session, user: User, filter_id: int, name: str) -> SavedFilter:
    """Give one of the user's saved filters another name (unique among their filters of that list)."""
    found = get(session, user, filter_id)
    found.name = _name(session, user, found.module, name, keep=found.id)
    found.updated_at = utcnow()
    session.flush()
    return found


def delete(session: Session, user: User, filter_id: int) -> str:
    """Delete one of the user's saved filters; return its name."""
    found = get(session, user, filter_id)
    name = found.name
    session.delete(found)
    session.flush()
    return name


def clean_params(module: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The known filter and sort keys of `params`, each checked; empty values dropped; fail naming the key."""
    clean: dict[str, str] = {}
    for key, raw in params.items():
        if key not in FILTER_KEYS:
            raise ValidationError(key, N_("is not a filter of a list (one of %(choices)s)"),
                                  choices=", ".join(FILTER_KEYS))
        if raw is None:
            continue
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            raise ValidationError(key, N_("must be text"))
        value = one_line(key, str(raw).strip())
        if not value:
            continue
        if len(value) > VALUE_LENGTH:
            raise ValidationError(key, N_("use at most %(most)s characters"), most=VALUE_LENGTH)
        _check_value(module, key, value)
        clean[key] = value
    if not clean.keys() - {"sort", "order"}:
        raise ValidationError("params", N_("there is no filter to save: choose one first"))
    return clean


def _check_value(module: str, key: str, value: str) -> None:
    if key == "owner" and value not in ("me", "pool") and not value.isdigit():
        raise ValidationError(key, N_("%(value)s is not me, pool or a user's number"), value=repr(value))
    if key == "stage" and not value.isdigit():
        raise ValidationError(key, N_("%(value)s is not a stage's number"), value=repr(value))
    if key == "campaign" and not value.isdigit():
        raise ValidationError(key, N_("%(value)s is not a campaign's number"), value=repr(value))
    if key == "active" and value not in ("yes", "no"):
        raise ValidationError(key, N_("%(value)s is not yes or no"), value=repr(value))
    if key == "order" and value not in ("asc", "desc"):
        raise ValidationError(key, N_("%(value)s is not asc or desc"), value=repr(value))
    if key == "sort" and module in SORTS and value not in SORTS[module]:
        raise ValidationError(key, N_("%(value)s is not one of %(choices)s"), value=repr(value),
                              choices=", ".join(SORTS[module]))


def _name(session: Session, user: User, module: str, name: str, keep: int | None = None) -> str:
    """A checked name no other filter of this user and list has (regardless of case)."""
    clean = one_line("name", (name or "").strip())
    if not clean:
        raise ValidationError("name", N_("give the filter a name"))
    if len(clean) > NAME_LENGTH:
        raise ValidationError("name", N_("use at most %(most)s characters"), most=NAME_LENGTH)
    others = session.execute(select(SavedFilter.id, SavedFilter.name).where(
        SavedFilter.user_id == user.id, SavedFilter.module == module))  # at most MOST_PER_LIST
    if any(row.name.casefold() == clean.casefold() and row.id != keep for row in others):
        raise ValidationError("name", N_("you already have a saved filter named %(name)s"), name=clean)
    return clean


def _check_module(module: str) -> None:
    if module not in LISTS and module not in registry.names():
        raise ValidationError("module", N_("%(module)s has no list; one of %(choices)s"), module=repr(module),
                              choices=", ".join(LISTS))
