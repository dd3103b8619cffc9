"""The web forms as the admins' pages show them: submission counts (one GROUP BY for every form), who gets
each form's leads in words, and a form's definition in a few facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext, ngettext
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.languages import N_
from crm_store.models import Campaign, Team, User, WebForm, WebFormAssignee, WebSubmission
from crm_store.records import blocks

from ...state import page_language

# Outcomes of a submission that reached a lead or contact (a released one is stored as what it became).
ACCEPTED = ("new_lead", "added_to_lead", "added_to_contact", "released")
TEAM = N_("Team %(name)s")
UNASSIGNED = N_("Unassigned")


@dataclass(frozen=True)
class Counts:
    """A form's submissions: all it received, those that reached a lead or contact, those held, the latest."""

    total: int = 0
    accepted: int = 0
    held: int = 0
    last: dt.datetime | None = None


@dataclass(frozen=True)
class Assignment:
    """Who gets a form's leads, in words: one line, and the people behind it (a round robin's users)."""

    label: str
    people: tuple[str, ...] = ()


def counts_query() -> Select[Any]:
    """Select each form's id, total, held, accepted and latest submission (the store's counts, two columns more)."""
    accepted = func.count().filter(WebSubmission.outcome.in_(ACCEPTED))
    return webforms.submission_counts().add_columns(accepted, func.max(WebSubmission.received_at))


def counts(db: Session, form_id: int | None = None) -> dict[int, Counts]:
    """The counts of every form that received something (of one form: `form_id`)."""
    stmt = counts_query()
    if form_id is not None:
        stmt = stmt.where(WebSubmission.form_id == form_id)
    return {fid: Counts(total, accepted, held, last) for fid, total, held, accepted, last in db.execute(stmt)}


def assignments(db: Session, forms: Sequence[WebForm]) -> dict[int, Assignment]:
    """Who gets each form's leads, read in three queries for all the forms."""
    user_ids = {f.owner_user_id for f in forms if f.owner_kind == "user" and f.owner_user_id}
    team_ids = {f.owner_team_id for f in forms if f.owner_kind == "team" and f.owner_team_id}
    robin_ids = [f.id for f in forms if f.owner_kind == "round_robin"]
    rotations: dict[int, list[int]] = {}
    for form_id, user_id in db.execute(select(WebFormAssignee.form_id, WebFormAssignee.user_id)
                                       .where(WebFormAssignee.form_id.in_(robin_ids))
                                       .order_by(WebFormAssignee.form_id, WebFormAssignee.position)):
        rotations.setdefault(form_id, []).append(user_id)
        user_ids.add(user_id)
    names = dict(db.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())
    teams = dict(db.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all())
    out: dict[int, Assignment] = {}
    for form in forms:
        if form.owner_kind == "user" and form.owner_user_id in names:
            out[form.id] = Assignment(names[form.owner_user_id])
        elif form.owner_kind == "team" and form.owner_team_id in teams:
            out[form.id] = Assignment(gettext(TEAM, name=teams[form.owner_team_id]))
        elif form.owner_kind == "round_robin" and rotations.get(form.id):
            people = tuple(names[u] for u in rotations[form.id] if u in names)
            label = ngettext("Round robin of %(num)d user", "Round robin of %(num)d users", len(people))
            out[form.id] = Assignment(label, people)
        else:
            out[form.id] = Assignment(gettext(UNASSIGNED))
    return out


def fixed_values(db: Session, form: WebForm) -> list[tuple[str, Any]]:
    """The lead values every submission of the form gets, as (field label, value) in the page's language."""
    language = page_language()
    out = []
    for name, value in (form.hidden or {}).items():
        if name == "campaign_id":
            campaign = db.get(Campaign, value)
            value = f"{campaign.campaign_no} {campaign.name}" if campaign is not None else value
        out.append((blocks.label("leads", name, language), value))
    return out
