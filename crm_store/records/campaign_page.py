"""What a campaign's page shows: its fields in blocks, and its leads, contacts and opportunities.

Campaigns are everyone's (`scope.EVERYONE`); what came of them is not: each related list holds only the records
the viewer may see, counted in full, the newest `RELATED_LIMIT` shown — the same rows as the module's list
filtered by the campaign (`ListFilter(campaign_id=…)`: the leads and contacts that came from it or are its
members, the opportunities that came from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.languages import N_, translate
from crm_store.models import User
from crm_store.records.blocks import DESCRIPTION, NUMBER, OWNER, SYSTEM, Field
from crm_store.records.blocks import Block as Layout
from crm_store.records.listing import ListFilter, count_records, list_records
from crm_store.records.record_page import RELATED_LIMIT, Block, FieldValue
from crm_store.staff import scope as scoping

RELATED = ("leads", "contacts", "opportunities")
LAYOUT = (
    Layout(N_("Campaign Details"), (
        Field("name", N_("Campaign name")), Field("campaign_no", NUMBER),
        Field("campaign_type", N_("Campaign type"), "picklist"), Field("status", N_("Campaign status"), "picklist"),
        Field("start_date", N_("Start date"), "date"), Field("expected_close_date", N_("Expected close date"), "date"),
        Field("target_audience", N_("Target audience")), Field("sponsor", N_("Sponsor")),
        Field("target_size", N_("Target size"), "number"), Field("num_sent", N_("Number sent"), "number"),
        OWNER, *SYSTEM,
    )),
    Layout(N_("Expectations and Actuals"), (
        Field("budget_cost", N_("Budget cost"), "money"), Field("actual_cost", N_("Actual cost"), "money"),
        Field("expected_revenue", N_("Expected revenue"), "money"),
        Field("expected_response", N_("Expected response"), "picklist"),
    )),
    DESCRIPTION,
)


@dataclass(frozen=True)
class Related:
    """One related list: the rows shown (list rows, newest first) and how many the viewer may see in all."""

    module: str
    rows: list[Any]
    total: int


@dataclass(frozen=True)
class CampaignPage:
    """A campaign, its fields in blocks, and its related lists within the viewer's scope."""

    id: int
    number: str
    title: str
    owner_name: str | None
    record: Any
    blocks: list[Block]
    related: list[Related]


def campaign_page(
    session: Session, user: User, number: str, *, language: str = "en", scope: scoping.Scope | None = None,
) -> CampaignPage | None:
    """The page of the live campaign numbered `number` (CAM3); None when there is none the user may see."""
    scope = scope or scoping.scope_of(session, user)
    campaign = scoping.fetch_by_number(session, user, "campaigns", number, scope=scope)
    if campaign is None:
        return None
    owner = session.scalar(select(User.name).where(User.id == campaign.owner_id)) if campaign.owner_id else None
    shown = {"owner_id": owner}
    blocks = [
        Block(translate(language, layout.title), [
            FieldValue(f.name, translate(language, f.label), f.kind, getattr(campaign, f.name), shown.get(f.name))
            for f in layout.fields
        ])
        for layout in LAYOUT
    ]
    related = [_related(session, user, scope, module, campaign.id) for module in RELATED]
    return CampaignPage(campaign.id, campaign.campaign_no, campaign.name, owner, campaign, blocks, related)


def _related(session: Session, user: User, scope: scoping.Scope, module: str, campaign_id: int) -> Related:
    filters = ListFilter(campaign_id=campaign_id)
    page = list_records(session, user, module, filters, size=RELATED_LIMIT, scope=scope)
    total = len(page.rows) if page.next_cursor is None else count_records(session, user, module, filters, scope=scope)
    return Related(module, page.rows, total)
