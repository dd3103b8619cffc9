"""The sales modules: campaigns, leads, accounts, contacts and opportunities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Money, Rate, Record, Touchable, str20, str100, str255

OPEN_LEAD_EXCLUDED_STATUSES = ("Junk Lead", "Lost Lead", "Cold")


class Campaign(Record, Base):
    """A marketing campaign that leads, contacts and opportunities come from."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("budget_cost >= 0 and actual_cost >= 0 and expected_revenue >= 0", name="amounts"),
    )

    campaign_no: Mapped[str20] = mapped_column(unique=True)
    name: Mapped[str255]
    campaign_type: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(100))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    expected_close_date: Mapped[dt.date | None] = mapped_column(Date)
    target_audience: Mapped[str | None] = mapped_column(String(100))
    sponsor: Mapped[str | None] = mapped_column(String(100))
    target_size: Mapped[int | None] = mapped_column(Integer)
    num_sent: Mapped[int | None] = mapped_column(Integer)
    budget_cost: Mapped[Decimal | None] = mapped_column(Money)
    actual_cost: Mapped[Decimal | None] = mapped_column(Money)
    expected_revenue: Mapped[Decimal | None] = mapped_column(Money)
    expected_response: Mapped[str | None] = mapped_column(String(100))


class Lead(Record, Touchable, Base):
    """A person or company that showed interest and is not yet a customer."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_owner_open", "owner_id", "converted_at", "status"),
        Index("ix_leads_email", "email"),
        Index("ix_leads_phone_e164", "phone_e164"),
        # The staff lists: each sort key with the id that breaks its ties, alone and after the owner.
        Index("ix_leads_created", "created_at", "id"),
        Index("ix_leads_owner_created", "owner_id", "created_at", "id"),
        Index("ix_leads_last_name", "last_name", "id"),
        Index("ix_leads_owner_last_name", "owner_id", "last_name", "id"),
        Index("ix_leads_company", "company", "id"),
        Index("ix_leads_owner_assigned", "owner_id", "assigned_at"),  # My day: assigned to me since yesterday
        Index("ix_leads_sla", "first_response_at", "sla_step", "assigned_at"),  # sla-escalation's candidates
        # My day: my aging and stale leads, the longest idle first, counted and ordered from the index alone
        Index("ix_leads_owner_aging", "owner_id", "aging_state", "idle_days", "deleted_at", "converted_at"),
        Index("ix_leads_assigned_at", "assigned_at"),  # the cadence catch-up's window
    )

    lead_no: Mapped[str20] = mapped_column(unique=True)
    salutation: Mapped[str | None] = mapped_column(String(20))
    first_name: Mapped[str | None] = mapped_column(String(40))
    last_name: Mapped[str100]
    company: Mapped[str | None] = mapped_column(String(100))
    designation: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    # The address in lower case: what web-form dedupe and person requests match on (kept by `validation`
    # and by the attribute event below).
    email_key: Mapped[str | None] = mapped_column(String(254), index=True)
    secondary_email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    mobile: Mapped[str | None] = mapped_column(String(50))
    mobile_e164: Mapped[str | None] = mapped_column(String(20))
    fax: Mapped[str | None] = mapped_column(String(50))
    website: Mapped[str | None] = mapped_column(String(255))
    lead_source: Mapped[str | None] = mapped_column(String(100))
    industry: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(100), index=True)
    rating: Mapped[str | None] = mapped_column(String(100))
    annual_revenue: Mapped[Decimal | None] = mapped_column(Money)
    employees: Mapped[int | None] = mapped_column(Integer)
    email_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    street: Mapped[str | None] = mapped_column(String(250))
    postal_code: Mapped[str | None] = mapped_column(String(30))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(100))
    po_box: Mapped[str | None] = mapped_column(String(30))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    assigned_at: Mapped[dt.datetime | None]
    converted_at: Mapped[dt.datetime | None]
    converted_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    converted_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    converted_opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"))
    # Web-to-lead: the form it came from, first-touch attribution and the consent the visitor gave.
    web_form_id: Mapped[int | None] = mapped_column(ForeignKey("web_forms.id"), index=True)
    utm_source: Mapped[str | None] = mapped_column(String(255))
    utm_medium: Mapped[str | None] = mapped_column(String(255))
    utm_campaign: Mapped[str | None] = mapped_column(String(255))
    utm_term: Mapped[str | None] = mapped_column(String(255))
    utm_content: Mapped[str | None] = mapped_column(String(255))
    gclid: Mapped[str | None] = mapped_column(String(255))
    fbclid: Mapped[str | None] = mapped_column(String(255))
    referrer: Mapped[str | None] = mapped_column(String(1000))
    landing_page: Mapped[str | None] = mapped_column(String(1000))
    consent_text: Mapped[str | None] = mapped_column(Text)
    consent_at: Mapped[dt.datetime | None]
    # The automation's state (`crm_store.automation`): why it has its owner, how far its follow-up
    # cadence got, the speed-to-lead steps taken, and how long it has gone without staff action.
    assignment_reason: Mapped[str | None] = mapped_column(String(255))
    cadence_id: Mapped[int | None] = mapped_column(
        Integer().with_variant(BigInteger, "postgresql"))  # cadences.id (no foreign key: added to a big table)
    cadence_step: Mapped[int | None] = mapped_column(Integer)  # touches created so far
    first_response_at: Mapped[dt.datetime | None]
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)  # working minutes from assigned_at
    sla_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 1 reminded, 2 manager, 3 reassigned
    idle_days: Mapped[int | None] = mapped_column(Integer)
    aging_state: Mapped[str | None] = mapped_column(String(10))  # aging, stale, cold (None: fresh)
    stale_notified_at: Mapped[dt.datetime | None]


class Account(Record, Touchable, Base):
    """An organisation: a customer, prospect, partner or competitor."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("annual_revenue >= 0", name="annual_revenue"),
        Index("ix_accounts_name", "name"),
        Index("ix_accounts_created", "created_at", "id"),
        Index("ix_accounts_owner_created", "owner_id", "created_at", "id"),
        Index("ix_accounts_owner_name", "owner_id", "name", "id"),
    )

    account_no: Mapped[str20] = mapped_column(unique=True)
    name: Mapped[str255]
    # The name without case, width, punctuation or legal form: how duplicates and conversions match.
    name_key: Mapped[str | None] = mapped_column(String(255), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    website: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))
    phone_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    other_phone: Mapped[str | None] = mapped_column(String(50))
    fax: Mapped[str | None] = mapped_column(String(50))
    ticker_symbol: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    secondary_email: Mapped[str | None] = mapped_column(String(254))
    employees: Mapped[int | None] = mapped_column(Integer)
    ownership: Mapped[str | None] = mapped_column(String(50))
    sic_code: Mapped[str | None] = mapped_column(String(50))
    rating: Mapped[str | None] = mapped_column(String(100))
    industry: Mapped[str | None] = mapped_column(String(100))
    account_type: Mapped[str | None] = mapped_column(String(100))
    annual_revenue: Mapped[Decimal | None] = mapped_column(Money)
    tax_id: Mapped[str | None] = mapped_column(String(30))  # a 統一編號: printed on sales documents
    email_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    bill_street: Mapped[str | None] = mapped_column(String(250))
    bill_city: Mapped[str | None] = mapped_column(String(100))
    bill_state: Mapped[str | None] = mapped_column(String(100))
    bill_postal_code: Mapped[str | None] = mapped_column(String(30))
    bill_country: Mapped[str | None] = mapped_column(String(100))
    bill_po_box: Mapped[str | None] = mapped_column(String(30))
    ship_street: Mapped[str | None] = mapped_column(String(250))
    ship_city: Mapped[str | None] = mapped_column(String(100))
    ship_state: Mapped[str | None] = mapped_column(String(100))
    ship_postal_code: Mapped[str | None] = mapped_column(String(30))
    ship_country: Mapped[str | None] = mapped_column(String(100))
    ship_po_box: Mapped[str | None] = mapped_column(String(30))


class Contact(Record, Touchable, Base):
    """A person, usually at an account."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_email", "email"),
        Index("ix_contacts_created", "created_at", "id"),
        Index("ix_contacts_owner_created", "owner_id", "created_at", "id"),
        Index("ix_contacts_last_name", "last_name", "id"),
        Index("ix_contacts_owner_last_name", "owner_id", "last_name", "id"),
    )

    contact_no: Mapped[str20] = mapped_column(unique=True)
    salutation: Mapped[str | None] = mapped_column(String(20))
    first_name: Mapped[str | None] = mapped_column(String(40))
    last_name: Mapped[str100]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    email_key: Mapped[str | None] = mapped_column(String(254), index=True)
    secondary_email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    phone_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    mobile: Mapped[str | None] = mapped_column(String(50))
    mobile_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    home_phone: Mapped[str | None] = mapped_column(String(50))
    other_phone: Mapped[str | None] = mapped_column(String(50))
    fax: Mapped[str | None] = mapped_column(String(50))
    assistant: Mapped[str | None] = mapped_column(String(100))
    assistant_phone: Mapped[str | None] = mapped_column(String(50))
    lead_source: Mapped[str | None] = mapped_column(String(100))
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    reports_to_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    email_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    mailing_street: Mapped[str | None] = mapped_column(String(250))
    mailing_city: Mapped[str | None] = mapped_column(String(100))
    mailing_state: Mapped[str | None] = mapped_column(String(100))
    mailing_postal_code: Mapped[str | None] = mapped_column(String(30))
    mailing_country: Mapped[str | None] = mapped_column(String(100))
    mailing_po_box: Mapped[str | None] = mapped_column(String(30))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)


class Opportunity(Record, Touchable, Base):
    """A deal in progress: an amount, a stage of a sales process, an expected close date."""

    __tablename__ = "opportunities"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("probability between 0 and 100", name="probability"),
        Index("ix_opportunities_owner_closed", "owner_id", "closed_at"),
        Index("ix_opportunities_created", "created_at", "id"),
        Index("ix_opportunities_owner_created", "owner_id", "created_at", "id"),
        Index("ix_opportunities_name", "name", "id"),
        Index("ix_opportunities_owner_name", "owner_id", "name", "id"),
        Index("ix_opportunities_owner_close", "owner_id", "expected_close_date", "id"),
        # My day: my rotting deals, counted and ordered from the index alone
        Index("ix_opportunities_owner_rotting", "owner_id", "rotting_since", "closed_at", "deleted_at"),
        # the pipeline board: a column's next open cards by close date, and its totals and recent closes
        Index("ix_opportunities_stage_close", "stage_id", "expected_close_date", "id"),
        Index("ix_opportunities_stage_closed", "stage_id", "closed_at", "id", "currency_id", "amount", "probability",
              "owner_id", "deleted_at"),
    )

    opportunity_no: Mapped[str20] = mapped_column(unique=True)
    name: Mapped[str255]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency_id: Mapped[int] = mapped_column(ForeignKey("currencies.id"))
    conversion_rate: Mapped[Decimal] = mapped_column(Rate, server_default=text("1"))
    expected_close_date: Mapped[dt.date] = mapped_column(Date, index=True)
    closed_at: Mapped[dt.datetime | None]
    sales_process_id: Mapped[int] = mapped_column(ForeignKey("sales_processes.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("sales_stages.id"), index=True)
    stage_entered_at: Mapped[dt.datetime | None]
    probability: Mapped[int | None] = mapped_column(Integer)
    opportunity_type: Mapped[str | None] = mapped_column(String(100))
    lead_source: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    next_step: Mapped[str | None] = mapped_column(String(100))
    lost_reason: Mapped[str | None] = mapped_column(String(100))
    lost_reason_detail: Mapped[str | None] = mapped_column(Text)
    # lead-aging's view of it: idle days, and since when it has been rotting (idle beyond its stage's days).
    idle_days: Mapped[int | None] = mapped_column(Integer)
    rotting_since: Mapped[dt.datetime | None]


class CampaignMember(Base):
    """A lead, contact or account targeted by a campaign, with Vtiger's relation status."""

    __tablename__ = "campaign_members"
    __table_args__ = (
        CheckConstraint(
            "(case when lead_id is null then 0 else 1 end) + (case when contact_id is null then 0 else 1 end)"
            " + (case when account_id is null then 0 else 1 end) = 1",
            name="one_target",
        ),
        Index("ix_campaign_members_lead", "lead_id"),
        Index("ix_campaign_members_contact", "contact_id"),
        Index("ix_campaign_members_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str | None] = mapped_column(String(100))


__all__ = [
    "Account",
    "Campaign",
    "CampaignMember",
    "Contact",
    "Lead",
    "Opportunity",
]


def _keep_email_key(target: Lead | Contact, value: str | None, _old: object, _initiator: object) -> None:
    """Any change of `email` through the ORM (merge, erase, undo…) moves `email_key` with it."""
    target.email_key = value.lower() if value else None


for _model in (Lead, Contact):
    event.listen(_model.email, "set", _keep_email_key)
