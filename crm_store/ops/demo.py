"""Load the demo: users, a sales team, records and 18 months of sales (bulk path), the search index, two web forms."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.models import Batch, SalesStage, Team, TeamMember, User
from crm_store.ops.demo_rows import DEMO_DOMAIN, SIZES, DemoGenerator, DemoSize
from crm_store.ops.demo_sales import load_sales, tax_ids
from crm_store.records import bulk
from crm_store.search import index as search_index
from crm_store.settings import company
from crm_store.staff.passwords import hash_password
from crm_store.staff.users import add_user


@dataclass
class DemoUsers:
    """The staff the demo made."""

    admin: User
    manager: User
    reps: list[User]


def demo_password() -> str:
    """A fresh password for the demo users (printed by `crm demo`): twelve letters and digits in three groups."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (l/1, o/0)
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def make_users(session: Session, size: DemoSize, password: str | None = None) -> DemoUsers:
    """Add an admin, a manager and the reps, and a round-robin sales team; all sign in with `password` if given."""
    welcome = password is None  # a welcome link works only while the user has no password
    admin = add_user(session, f"admin@{DEMO_DOMAIN}", "Admin 系統管理員", role="admin", welcome=welcome)
    manager = add_user(
        session, f"manager@{DEMO_DOMAIN}", "王經理 Wang", role="manager", language="zh_Hant", welcome=welcome
    )
    gen = Faker("zh_TW")
    gen.seed_instance(7)
    reps = [
        add_user(
            session, f"rep{i}@{DEMO_DOMAIN}", gen.name(), role="rep", manager_email=manager.email,
            language="zh_Hant" if i % 3 else "en", welcome=welcome,
        )
        for i in range(1, size.reps + 1)
    ]
    team = Team(name="Sales 業務部", manager_id=manager.id, assignment_strategy="round_robin")
    team.members = [TeamMember(user_id=u.id, weight=1, open_lead_cap=None) for u in reps]
    session.add(team)
    if password is not None:
        stored = hash_password(password)  # once: the demo users share it (and a hash takes a third of a second)
        for user in (admin, manager, *reps):
            user.password_hash = stored
    session.flush()
    return DemoUsers(admin, manager, reps)


def load_demo(
    session: Session,
    size_name: str,
    *,
    seed: int = 2026,
    progress: Callable[[str, int], None] | None = None,
    password: str | None = None,
) -> dict[str, int]:
    """Create users and demo records through the bulk path; return counts per table.

    With a `password`, every demo user signs in to the web app with it (see `demo_password`).
    """
    size = SIZES[size_name]
    existing = session.scalar(select(Batch).where(Batch.kind == "demo"))
    if existing is not None:
        raise DemoAlreadyLoaded(existing.name)
    tick = progress or (lambda _stage, _n: None)
    people = make_users(session, size, password)
    batch = bulk.new_batch(session, "demo", f"demo {size_name}", people.admin.id)
    ctx = bulk.BulkContext.load(session)
    gen = DemoGenerator(size, seed=seed)
    rep_ids = [u.id for u in people.reps]
    campaign_ids = bulk.insert_records(
        session, "campaigns", gen.campaigns([people.manager.id]), ctx, batch=batch
    )
    conversions = gen.conversions()
    account_rows = list(gen.accounts(conversions, rep_ids))
    tax_ids(account_rows, seed)
    account_ids = bulk.insert_records(
        session, "accounts", account_rows, ctx, batch=batch, progress=lambda n: tick("accounts", n)
    )
    account_times = [row["created_at"] for row in account_rows]
    contact_rows = list(gen.contacts(conversions, account_ids, account_times, rep_ids))
    contact_ids = bulk.insert_records(
        session, "contacts", contact_rows, ctx, batch=batch, progress=lambda n: tick("contacts", n)
    )
    _load_leads(session, gen, ctx, batch, conversions, account_ids, contact_ids, rep_ids, campaign_ids, tick)
    contact_of = _first_contacts(contact_rows, contact_ids)
    _load_opportunities(session, gen, ctx, batch, account_ids, account_times, contact_of, rep_ids, campaign_ids, tick)
    load_sales(session, size_name, ctx, batch, seed=seed, now=gen.now, accounts=account_rows, account_ids=account_ids,
               contact_of=contact_of, tick=tick)
    session.flush()
    tick("search index", 0)
    search_index.rebuild_index(session)
    add_demo_forms(session, people, campaign_ids[0] if campaign_ids else None)
    set_demo_company(session)
    return {"users": 2 + len(people.reps), **ctx.counts}


DEMO_FORM_NAME = "Website inquiry"
DEMO_SITE_ORIGINS = ["http://localhost:8080", "http://127.0.0.1:8080"]


def add_demo_forms(session: Session, people: DemoUsers, campaign_id: int | None) -> list[Any]:
    """Two web forms: an English one shared round-robin by four reps, a Chinese one owned by the team."""
    english = webforms.add_form(session, {
        "name": DEMO_FORM_NAME,
        "fields": ["first_name", {"name": "last_name", "required": True}, "email", "phone", "company", "message"],
        "hidden": {"lead_source": "Web Site"},
        "round_robin": [u.email for u in people.reps[:4]],
        "allowed_origins": DEMO_SITE_ORIGINS,
        "consent_text": "I agree that my details are stored to answer my inquiry.",
        "auto_reply": True,
    })
    chinese = webforms.add_form(session, {
        "name": "網站詢價表單",
        "language": "zh_Hant",
        "fields": ["last_name", "first_name", "email", "mobile", "company", "message"],
        "hidden": {"lead_source": "Web Site", **({"campaign_id": campaign_id} if campaign_id else {})},
        "team": "Sales 業務部",
        "allowed_origins": DEMO_SITE_ORIGINS,
        "consent_text": "我同意貴公司保存我的資料以回覆此詢問。",
        "thank_you": "感謝您的詢價，業務人員將於一個工作天內與您聯繫。",
    })
    return [english, chinese]


# How the demo company signs its mail and sales documents: a Taipei trading company (the tax ID's check digit holds).
DEMO_COMPANY = {
    "company_email": f"service@{DEMO_DOMAIN}",
    "company_phone": "(02) 2345-6789",
    "company_address": "106 臺北市大安區敦化南路二段 99 號 8 樓",
    "company_tax_id": "53619024",
}


def set_demo_company(session: Session) -> None:
    """Give the demo company an email address, a phone number, an address and a tax ID."""
    for key, value in DEMO_COMPANY.items():
        company.set_value(session, key, value)


class DemoAlreadyLoaded(Exception):
    """The database already holds demo data."""


def _load_leads(
    session: Session, gen: DemoGenerator, ctx: bulk.BulkContext, batch: Batch, conversions: list[dict[str, Any]],
    account_ids: list[int], contact_ids: list[int], rep_ids: list[int], campaign_ids: list[int],
    tick: Callable[[str, int], None],
) -> None:
    block = 20_000
    for first in range(0, gen.size.leads, block):
        leads, work = [], []
        for i in range(first, min(first + block, gen.size.leads)):
            conversion = conversions[i] if i < len(conversions) else None
            lead = gen.lead(conversion, rep_ids, campaign_ids)
            if conversion is not None:
                lead["converted_account_id"], lead["converted_contact_id"] = account_ids[i], contact_ids[i]
            work.append(gen.lead_work(lead))
            leads.append(lead)
        ids = bulk.insert_records(session, "leads", leads, ctx, batch=batch)
        acts = [{**a, "lead_id": lead_id} for lead_id, (la, _) in zip(ids, work, strict=True) for a in la]
        notes = [{**n, "lead_id": lead_id} for lead_id, (_, ln) in zip(ids, work, strict=True) for n in ln]
        bulk.insert_activities(session, acts, ctx, batch=batch)
        bulk.insert_notes(session, notes, ctx, batch=batch)
        tick("leads", len(leads))


def _first_contacts(contact_rows: list[dict[str, Any]], contact_ids: list[int]) -> dict[int, int]:
    """Each account's first contact: the one its deals and documents name."""
    contact_of: dict[int, int] = {}
    for row, cid in zip(contact_rows, contact_ids, strict=True):
        contact_of.setdefault(row["account_id"], cid)
    return contact_of


def _load_opportunities(
    session: Session, gen: DemoGenerator, ctx: bulk.BulkContext, batch: Batch, account_ids: list[int],
    account_times: list[dt.datetime], contact_of: dict[int, int], rep_ids: list[int], campaign_ids: list[int],
    tick: Callable[[str, int], None],
) -> None:
    stages_of: dict[str, list[SalesStage]] = {}
    for stage in sorted(ctx.stages_by_id.values(), key=lambda s: s.position):
        stages_of.setdefault(stage.process.name, []).append(stage)
    block = 20_000
    for first in range(0, gen.size.opportunities, block):
        opps, acts = [], []
        for _ in range(first, min(first + block, gen.size.opportunities)):
            a = gen.rng.randrange(len(account_ids))
            opp = gen.opportunity(account_ids[a], account_times[a], contact_of.get(account_ids[a]), rep_ids,
                                  stages_of, campaign_ids)
            opps.append(opp)
            opp_acts = [gen.activity(opp["owner_id"], at, gen.now) for _, at, _ in opp["history"][1:2]]
            done = [a["completed_at"] for a in opp_acts if a["completed_at"]]
            if done and (opp["last_touch_at"] is None or max(done) > opp["last_touch_at"]):
                opp["last_touch_at"] = opp["updated_at"] = max(done)
            acts.append(opp_acts)
        ids = bulk.insert_records(session, "opportunities", opps, ctx, batch=batch)
        rows = [{**a, "opportunity_id": oid} for oid, la in zip(ids, acts, strict=True) for a in la]
        bulk.insert_activities(session, rows, ctx, batch=batch)
        tick("opportunities", len(opps))
