"""Personal data export and erase; users leaving with their work handed on; the lifecycle CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.mail import outbox
from crm_store.models import Activity, AuditEntry, Lead, Note, OutboxMessage, User
from crm_store.pipeline import activities
from crm_store.records import audit
from crm_store.records import lifecycle as records
from crm_store.records import privacy as person
from crm_store.staff.users import add_user, deactivate_user

T0 = dt.datetime(2026, 5, 4, 2, 0, tzinfo=dt.UTC)


def test_export_has_everything_about_the_person(session: Session) -> None:
    rep = add_user(session, "rep@example.com", "Rep")
    staff = Actor.user(rep.id)
    lead = records.create_lead(session, {"last_name": "林", "first_name": "小華", "email": "Hua@Example.com",
                                         "phone": "0912-000-111"}, staff)
    contact = records.create_contact(session, {"last_name": "林", "email": "hua@example.com"}, staff)
    activities.add_note(session, "喜歡早上聯絡", staff, lead_id=lead.id)
    activities.create_activity(
        session, {"type": "call", "subject": "Intro", "start_at": T0, "contact_id": contact.id}, staff
    )
    outbox.enqueue(session, "visitor_auto_reply", "hua@example.com", key="auto:1", context={"visitor_name": "林小華"})
    records.create_lead(session, {"last_name": "Other", "email": "other@example.com"})
    data = person.export_person(session, "HUA@example.com")
    json.dumps(data)  # JSON-ready
    assert [item["lead_no"] for item in data["leads"]] == [lead.lead_no]
    assert data["leads"][0]["phone_e164"] == "+886912000111"
    assert data["leads"][0]["notes"][0]["body"] == "喜歡早上聯絡"
    assert data["contacts"][0]["activities"][0]["subject"] == "Intro"
    assert data["emails"][0]["template"] == "visitor_auto_reply"


def test_erase_anonymises_but_keeps_the_counts(session: Session) -> None:
    rep = add_user(session, "rep@example.com", "Rep")
    staff = Actor.user(rep.id)
    lead = records.create_lead(session, {"last_name": "林", "first_name": "小華", "email": "hua@example.com",
                                         "mobile": "0912-000-111", "city": "台北市", "status": "Hot"}, staff)
    records.update(session, lead, {"first_name": "曉華"}, staff)
    activities.add_note(session, "住在信義區", staff, lead_id=lead.id)
    outbox.enqueue(session, "visitor_auto_reply", "hua@example.com", key="auto:1", context={"visitor_name": "林小華"})
    counts = person.erase_person(session, "hua@example.com", staff)
    session.commit()
    assert counts["leads"] == 1 and counts["emails"] == 1
    session.expire_all()
    erased = session.get(Lead, lead.id)
    assert erased.last_name == "[erased]" and erased.first_name is None and erased.email is None
    assert erased.mobile is None and erased.mobile_e164 is None and erased.city is None
    assert erased.status == "Hot" and erased.lead_no == lead.lead_no  # the record still counts
    assert session.scalar(select(Note.body)) == "[erased]"
    mail = session.scalar(select(OutboxMessage).where(OutboxMessage.template == "visitor_auto_reply"))
    assert mail.recipient == person.ERASED_ADDRESS and mail.context == {} and mail.status == "suppressed"
    text = json.dumps([e.changes for e in session.scalars(select(AuditEntry))], ensure_ascii=False)
    assert "小華" not in text and "曉華" not in text and "hua@example.com" not in text
    assert session.scalars(audit.history("leads", lead.id)).all()[-1].action == "erase"
    assert person.export_person(session, "hua@example.com")["leads"] == []


def test_deactivating_hands_open_work_on(session: Session) -> None:
    leaving = add_user(session, "leaving@example.com", "Leaving")
    heir = add_user(session, "heir@example.com", "Heir")
    staff = Actor.user(leaving.id)
    open_lead = records.create_lead(session, {"last_name": "Open", "owner_id": leaving.id})
    junk = records.create_lead(session, {"last_name": "Junk", "status": "Junk Lead", "owner_id": leaving.id})
    deal = records.create_opportunity(session, {"name": "Deal", "expected_close_date": "2026-12-01",
                                                "owner_id": leaving.id})
    task = activities.create_activity(session, {"type": "task", "subject": "Call back", "due_date": "2026-12-01",
                                                "lead_id": open_lead.id}, staff)
    with pytest.raises(ValidationError, match="still owns 1 leads, 1 opportunities"):
        deactivate_user(session, "leaving@example.com")
    with pytest.raises(ValidationError, match="another, active user"):
        deactivate_user(session, "leaving@example.com", reassign_to="leaving@example.com")
    open_work = session.scalar(select(func.count()).select_from(Activity).where(
        Activity.owner_id == leaving.id, Activity.completed_at.is_(None)))
    assert open_work is not None and open_work > 1  # the task, and the tasks of the deal's first stage's playbook
    moved = deactivate_user(session, "leaving@example.com", reassign_to="heir@example.com")
    assert moved == {"leads": 1, "opportunities": 1, "accounts": 0, "contacts": 0, "activities": open_work}
    assert open_lead.owner_id == heir.id and deal.owner_id == heir.id and task.owner_id == heir.id
    assert junk.owner_id == leaving.id  # closed work keeps its history
    assert session.get(User, leaving.id).active is False
    assigned = session.scalar(select(func.count()).where(AuditEntry.action == "assign"))
    assert assigned == 2


def test_lifecycle_commands_on_the_demo(crm, session: Session) -> None:  # noqa: ANN001
    crm("demo")
    lead = session.scalar(select(Lead).where(Lead.converted_at.is_(None), Lead.company.is_not(None)).limit(1))
    session.commit()
    out = crm("leads", "convert", lead.lead_no, "--opportunity", "Pilot order", "--amount", "120000",
              "--close-date", "2027-01-31").output
    assert out.startswith(f"Converted {lead.lead_no}: account ACC")
    again = crm("leads", "convert", lead.lead_no, ok=False)
    assert again.exit_code == 1 and "already converted" in again.stderr
    history = crm("history", lead.lead_no).output
    assert "create" in history and "convert" in history
    assert "group(s) of possible duplicates in accounts" in crm("duplicates", "accounts").output
    a = crm("merge", "ACC1", "ACC2", "--take", "website=ACC2").output
    audit_id = int(a.split("(audit ")[1].split(";")[0])
    assert "ACC2" in crm("bin", "list").output
    assert "Undid audit entry" in crm("undo", str(audit_id)).output
    assert "0 record(s) in the recycle bin" in crm("bin", "list").output
    exported = json.loads(crm("person", "export", lead.email).output)
    assert exported["leads"][0]["lead_no"] == lead.lead_no
    assert "Erased" in crm("person", "erase", lead.email, "--yes").output
    rep = session.scalar(select(User).where(User.email == "rep1@example.com"))
    session.commit()
    left = crm("users", "deactivate", "rep1@example.com", "--reassign-to", "rep2@example.com").output
    assert "Reassigned to rep2@example.com" in left
    assert session.scalar(select(func.count()).where(Activity.owner_id == rep.id, Activity.completed_at.is_(None))) == 0


def test_a_later_module_declares_how_its_records_are_tied_to_a_person(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invoice-like module (here: opportunities, pointing at the contact) keeps its amounts and loses the person."""
    from dataclasses import replace

    from crm_store.models import Opportunity
    from crm_store.records import registry

    deals = registry.get("opportunities")
    tied = registry.Personal(("description", "next_step"), ties=(registry.Tie("contacts", "contact_id", here=True),))
    monkeypatch.setitem(registry._MODULES, "opportunities", replace(deals, personal=tied))
    contact = records.create_contact(session, {"last_name": "林", "first_name": "小華", "email": "hua@example.com"})
    deal = records.create_opportunity(session, {
        "name": "林小華 order", "amount": "120000", "expected_close_date": "2027-01-31", "contact_id": contact.id,
        "description": "Ships to 台北市信義路 5 號", "next_step": "Call 0912-000-111"})
    other = records.create_opportunity(session, {"name": "Other order", "amount": "5", "next_step": "Call back",
                                                 "expected_close_date": "2027-01-31"})
    assert [d["name"] for d in person.export_person(session, "hua@example.com")["opportunities"]] == ["林小華 order"]
    counts = person.erase_person(session, "hua@example.com", Actor.system("test"))
    session.flush()
    session.expire_all()
    assert counts["opportunities"] == 1
    kept = session.get_one(Opportunity, deal.id)
    assert (kept.name, kept.amount, kept.description, kept.next_step) == ("[erased] order", 120000, None, None)
    assert session.get_one(Opportunity, other.id).next_step == "Call back"
    created = session.scalars(audit.history("opportunities", deal.id)).first()
    assert created is not None and "小華" not in json.dumps(created.changes, ensure_ascii=False)


def test_sqlite_built_without_secure_delete_is_vacuumed_after_an_erase(
    session: Session, engine: Engine, backend: str, crm, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    """Rows changed before the erase left copies in freed pages on such a build: VACUUM rewrites the file."""
    from crm_store.records import erasures

    if backend != "sqlite":
        assert erasures.wipe_freed(engine) is True  # PostgreSQL: the administrator's VACUUM (README)
        return
    monkeypatch.setattr(erasures, "zeroes_freed_space", lambda cursor: False)
    lead = records.create_lead(session, {"last_name": "林", "email": "hua@example.com"})
    staff = Actor.system("test")
    notes = [activities.add_note(session, f"{n} 住在信義區 " + "x" * 10000, staff, lead_id=lead.id) for n in range(30)]
    session.commit()
    session.execute(delete(Note).where(Note.id.in_([n.id for n in notes])))  # freed, not overwritten, on such a build
    session.commit()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA freelist_count").scalar_one() > 0
    crm("person", "erase", "hua@example.com", "--yes")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA freelist_count").scalar_one() == 0


def test_every_personal_declaration_names_real_columns() -> None:
    from crm_store.records import registry

    declared = {m.name: m.personal for m in registry.modules() if m.personal is not None}
    assert set(declared) == {"leads", "accounts", "contacts", "quotes", "sales_orders", "invoices"}
    for name, part in declared.items():
        module = registry.get(name)
        columns = module.model.__table__.columns
        assert part.title_key is None or part.title_key in columns, name
        assert any(f in columns for f in part.fields) or part.copied_addresses, name  # it holds something of theirs
        blocks = (*part.addresses, *part.copied_addresses)
        assert all(p + a in columns for p in blocks for a in registry.ADDRESS_PARTS), name
        assert all(f in columns for f in part.scrubbed), name
        for tie in part.ties:
            holder = module if tie.here else registry.get(tie.module)
            assert tie.column in holder.model.__table__.columns, (name, tie)
    accounts = registry.get("accounts").personal_data()
    assert accounts is not None and {"email", "phone", "bill_city", "description"} <= set(accounts.fields)
    invoices = registry.get("invoices").personal_data()  # kept by law: nothing blanked wholesale, the person taken off
    assert invoices is not None and invoices.fields == () and {t.column for t in invoices.ties} == {
        "contact_id", "account_id"}
