"""The Automation page (admins only): each flow's schedule, last run and recent runs; mail delivery's health."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from crm_store import links
from crm_store.models import utcnow
from crm_store.settings import company

from ...state import state
from ..access import admin_required
from . import health

bp = Blueprint("automation", __name__, template_folder="templates")


@bp.get(links.ROUTES["automation"])
@admin_required
def automation() -> ResponseReturnValue:
    """What the flows did lately and whether mail goes out."""
    now = utcnow()
    with state().readers() as db:
        flows = health.flows(db)
        mail = health.mail(db, now)
        zone = str(company.zone(db))
    return render_template(
        "staff/automation/automation.html", flows=flows, mail=mail, zone=zone, now=now,
        describe_schedule=health.describe_schedule, count_labels=health.COUNT_LABELS,
        run_statuses=health.RUN_STATUSES, mail_statuses=health.MAIL_STATUSES,
        failing=[f.schedule.name for f in flows if f.last is not None and f.last.status == "failed"],
    )
