"""Record lifecycle: audit trail, recycle bin, conversion, duplicates, merge and undo."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import (
    Account,
    Activity,
    AuditEntry,
    Campaign,
    CampaignMember,
    Contact,
    Lead,
    Note,
    Opportunity,
    StageHistory,
    User,
)
from crm_store.pipeline import activities, conversion, stages
from crm_store.records import audit, duplicates, merge, recycle_bin
from crm_store.records import lifecycle as records
from crm_store.staff.users import add_user

T0 = dt.datetime(2026, 5, 4, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def rep(session: Session) -> User:
    return add_user(session, "rep@example.com", "Rep")


def entries(session: Session, module: str, record_id: int) -> list[AuditEntry]:
    return list(session.scalars(audit.history(module, record_id)))


def test_every_change_is_audited_with_who_and_old_and_new(session: Session, rep: User) -> None:
    staff = Actor.user(rep.id)
    lead = records.create_lead(session, {"last_name": "Lee", "status": "Not Contacted"}, staff)
    records.update(session, lead, {"status": "Contacted", "company": "Acme"}, staff)
    records.update(session, lead, {"owner_id": rep.id}, Actor.system("assignment", "run-9"))
    records.delete(session, lead, staff)
    records.restore(session, lead, staff)
    rows = entries(session, "leads", lead.id)
    assert [e.action for e in rows] == ["create", "update", "assign", "delete", "restore"]
    assert rows[0].changes["last_name"] == [None, "Lee"] and rows[0].user_id == rep.id
    assert rows[1].changes == {"status": ["Not Contacted", "Contacted"], "company": [None, "Acme"]}
    assert rows[2].changes == {"owner_id": [None, rep.id]} and rows[2].automation == "assignment:run-9"
    assert all(e.record_no == lead.lead_no for e in rows)


def test_stage_changes_and_bulk_loads_are_audited(session: Session) -> None:
    from crm_store.records import bulk

    opp = records.create_opportunity(session, {"name": "Deal", "expected_close_date": "2026-09-30"}, at=T0)
    stages.change_stage(session, opp, "Qualification", Actor.system("t"), at=T0 + dt.timedelta(days=1))
    assert entries(session, "opportunities", opp.id)[-1].changes["stage"] == ["Prospecting", "Qualification"]
    ctx = bulk.BulkContext.load(session)
    batch = bulk.new_batch(session, "import", "leads.csv")
    ids = bulk.insert_records(session, "leads", [{"last_name": f"L{i}"} for i in range(50)], ctx, batch=batch)
    audited = session.scalar(select(func.count()).where(AuditEntry.module == "leads", AuditEntry.record_id.in_(ids),
                                                        AuditEntry.action == "create"))
    assert audited == 50


def test_undo_an_update(session: Session, rep: User) -> None:
    account = records.create_account(session, {"name": "Acme", "industry": "Retail"})
    records.update(session, account, {"industry": "Banking", "employees": 40}, Actor.user(rep.id))
    entry = entries(session, "accounts", account.id)[-1]
    merge.undo(session, entry.id, Actor.user(rep.id))
    assert (account.industry, account.employees) == ("Retail", None)
    with pytest.raises(ValidationError, match="already undone"):
        merge.undo(session, entry.id, Actor.user(rep.id))


def test_restore_runs_the_duplicate_check(session: Session) -> None:
    first = records.create_lead(session, {"last_name": "Wang", "email": "wang@example.com"})
    records.delete(session, first)
    records.create_lead(session, {"last_name": "Wang", "email": "WANG@example.com"})
    with pytest.raises(ValidationError, match="duplicate LEA2"):
        records.restore(session, first)
    records.restore(session, first, force=True)
    assert first.deleted_at is None


def test_purge_removes_old_bin_records_and_what_hangs_on_them_only(session: Session, rep: User) -> None:
    staff = Actor.user(rep.id)
    account = records.create_account(session, {"name": "Acme"})
    contact = records.create_contact(session, {"last_name": "Lin", "account_id": account.id})
    lead = records.create_lead(session, {"last_name": "Gone"})
    activities.add_note(session, "only about the lead", staff, lead_id=lead.id)
    activities.add_note(session, "about lead and contact", staff, lead_id=lead.id, contact_id=contact.id)
    records.delete(session, lead)
    records.delete(session, account)
    lead.deleted_at = account.deleted_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    fresh = records.create_lead(session, {"last_name": "Recent"})
    records.delete(session, fresh)
    assert {e.number for e in recycle_bin.entries(session)} == {lead.lead_no, account.account_no, fresh.lead_no}
    purged = recycle_bin.purge(session, staff)
    assert purged == {"leads": 1, "accounts": 1}
    session.expire_all()
    assert session.get(Lead, lead.id) is None and session.get(Lead, fresh.id) is not None
    assert session.get(Contact, contact.id).account_id is None  # the contact stays, unlinked
    notes = session.scalars(select(Note)).all()
    assert [n.body for n in notes] == ["about lead and contact"] and notes[0].lead_id is None
    assert [e.action for e in entries(session, "leads", lead.id)][-1] == "purge"


def test_conversion_maps_fields_matches_the_account_and_carries_related(session: Session, rep: User) -> None:
    staff = Actor.user(rep.id)
    existing = records.create_account(session, {"name": "台灣精密股份有限公司"})
    campaign = records.create_campaign(session, {"name": "Computex"})
    lead = records.create_lead(session, {
        "last_name": "陳", "first_name": "美玲", "company": "台灣精密 有限公司", "email": "meiling@example.com",
        "phone": "02-2345-6789", "postal_code": "114", "city": "台北市", "designation": "採購經理",
        "lead_source": "Trade Show", "owner_id": rep.id, "campaign_id": campaign.id,
    }, staff)
    session.add(CampaignMember(campaign_id=campaign.id, lead_id=lead.id, status="Contacted - Successful"))
    call = activities.create_activity(session, {"type": "call", "subject": "Intro", "start_at": T0,
                                                "lead_id": lead.id}, staff)
    done = conversion.convert_lead(session, lead, staff, opportunity={
        "name": "Spindle order", "amount": "250000", "expected_close_date": "2026-12-31"})
    assert done.account.id == existing.id and not done.account_created
    c = done.contact
    assert (c.last_name, c.first_name, c.email, c.title) == ("陳", "美玲", "meiling@example.com", "採購經理")
    assert c.mailing_postal_code == "114" and c.mailing_city == "台北市"  # no Vtiger mailingcode bug
    assert c.phone_e164 == "+886223456789" and c.owner_id == rep.id and c.account_id == existing.id
    opp = done.opportunity
    assert opp.contact_id == c.id and opp.lead_source == "Trade Show" and opp.campaign_id == campaign.id
    assert "????" not in (opp.name + c.last_name + done.account.name)
    assert lead.converted_at is not None and lead.converted_contact_id == c.id and lead.deleted_at is None
    moved_call = session.get(Activity, call.id)
    assert moved_call.contact_id == c.id and moved_call.account_id == existing.id
    assert session.scalar(select(func.count()).where(CampaignMember.contact_id == c.id)) == 1
    assert entries(session, "leads", lead.id)[-1].action == "convert"
    with pytest.raises(ValidationError, match="already converted"):
        conversion.convert_lead(session, lead, staff)


def test_conversion_is_one_transaction(session: Session) -> None:
    lead = records.create_lead(session, {"last_name": "Ho", "company": "New Co"})
    session.commit()
    with pytest.raises(ValidationError, match="expected_close_date"):
        conversion.convert_lead(session, lead, Actor.system("t"), opportunity={"name": "No date"})
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Account)) == 0
    assert session.scalar(select(func.count()).select_from(Contact)) == 0
    assert session.get(Lead, lead.id).converted_at is None


def test_company_names_are_normalised() -> None:
    key = duplicates.company_key
    assert key("台灣精密股份有限公司") == key("台灣精密 有限公司") == key("台灣精密")
    assert key("Acme, Inc.") == key("ACME Inc") == key("acme")
    assert key("Ａｃｍｅ Ltd") == "acme"
    assert key("Incorporated") == "incorporated"  # a name that is only a legal form stays
    assert key("Cobalt") == "cobalt"  # 'co' is only stripped as a word


def test_duplicate_groups_on_email_phone_and_company(session: Session) -> None:
    records.create_lead(session, {"last_name": "A", "email": "amy@example.com"})
    records.create_lead(session, {"last_name": "B", "email": "AMY@example.com"})
    records.create_lead(session, {"last_name": "C", "mobile": "0912-345-678"})
    records.create_lead(session, {"last_name": "D", "phone": "+886 912 345 678"})
    records.create_lead(session, {"last_name": "E", "email": "e@example.com"})
    records.create_account(session, {"name": "Acme Inc."})
    records.create_account(session, {"name": "ACME"})
    lead_groups = [{c.number for c in g} for g in duplicates.groups(session, "leads")]
    assert lead_groups == [{"LEA1", "LEA2"}, {"LEA3", "LEA4"}]
    assert [{c.number for c in g} for g in duplicates.groups(session, "accounts")] == [{"ACC1", "ACC2"}]


def test_merge_moves_related_records_and_undo_puts_everything_back(session: Session, rep: User) -> None:
    staff = Actor.user(rep.id)
    keep = records.create_account(session, {"name": "Acme", "phone": "02-1111-2222"})
    other = records.create_account(session, {"name": "ACME Inc.", "website": "https://acme.example.com"})
    contact = records.create_contact(session, {"last_name": "Lin", "account_id": other.id})
    opp = records.create_opportunity(session, {"name": "Deal", "expected_close_date": "2026-09-30",
                                               "account_id": other.id})
    note = activities.add_note(session, "met at the fair", staff, account_id=other.id)
    entry = merge.merge(session, keep, [other], staff, {"website": other})
    assert keep.website == "https://acme.example.com" and keep.phone == "02-1111-2222"
    assert (contact.account_id, opp.account_id, note.account_id) == (keep.id, keep.id, keep.id)
    assert other.deleted_at is not None
    assert session.scalar(select(func.count()).select_from(StageHistory)) == 1
    merge.undo(session, entry.id, staff)
    session.expire_all()
    assert session.get(Account, other.id).deleted_at is None
    assert session.get(Account, keep.id).website is None
    assert session.get(Contact, contact.id).account_id == other.id
    assert session.get(Opportunity, opp.id).account_id == other.id
    assert session.get(Note, note.id).account_id == other.id
    assert [e.action for e in entries(session, "accounts", keep.id)][-2:] == ["merge", "undo"]


@pytest.mark.parametrize("count", [0, 3])
def test_merge_takes_two_or_three_records(session: Session, count: int) -> None:
    leads = [records.create_lead(session, {"last_name": f"L{i}"}) for i in range(4)]
    with pytest.raises(ValidationError, match="2 or 3"):
        merge.merge(session, leads[0], leads[1 : 1 + count], Actor.system("t"))


def test_campaigns_cannot_be_merged(session: Session) -> None:
    a, b = (records.create_campaign(session, {"name": n}) for n in ("A", "B"))
    with pytest.raises(ValidationError, match="cannot be merged"):
        merge.merge(session, a, [b], Actor.system("t"))
    assert isinstance(a, Campaign)


def test_search_follows_the_lifecycle(session: Session) -> None:
    from crm_store.search import query

    def numbers(term: str) -> list[str]:
        return [r.number for r in query.search(session, term)]

    keep = records.create_lead(session, {"last_name": "王", "first_name": "小明", "email": "ming@example.com"})
    twin = records.create_lead(session, {"last_name": "王", "first_name": "小銘", "email": "MING@example.com"})
    assert set(numbers("王小")) == {keep.lead_no, twin.lead_no}
    entry = merge.merge(session, keep, [twin], Actor.system("t"))
    assert numbers("王小") == [keep.lead_no]  # the merged-away lead is in the bin, not in results
    merge.undo(session, entry.id, Actor.system("t"))
    assert set(numbers("王小")) == {keep.lead_no, twin.lead_no}
    done = conversion.convert_lead(session, keep, Actor.system("t"))
    assert numbers("小明")[0] == done.contact.contact_no  # the open contact ranks before the converted lead
    opp = records.create_opportunity(session, {"name": "Formosa deal", "expected_close_date": "2026-12-01"})
    stages.change_stage(session, opp, "Closed Won", Actor.system("t"))
    assert query.search(session, "formosa")[0].is_open is False
