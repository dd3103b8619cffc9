"""A record's page and timeline: a lead from the web form that got a call, a note, an owner change and a status
change reads newest first with who did what; inquiries, mail about it, stage changes; fields in Vtiger's blocks
and related lists within scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.capture import intake
from crm_store.capture import submissions as capture
from crm_store.models import Lead, OutboxMessage, User, utcnow
from crm_store.pipeline import activities, stages
from crm_store.records import lifecycle as records
from crm_store.records.record_page import record_page
from crm_store.records.timeline import record_timeline, timeline
from crm_store.staff import actions, follow_ups
from crm_store.staff.users import add_user

T0 = dt.datetime(2026, 5, 4, 1, 0, tzinfo=dt.UTC)
LATER = dt.timedelta(days=1)


def submit(session: Session, form: Any, key: str, **values: Any) -> Lead:
    """A visitor's submission, accepted then processed by the intake; the lead it made or reached."""
    typed = {"first_name": "Amy", "last_name": "Chen", "email": "amy@example.com", "phone": "0912345678",
             "message": "Please call me about pricing.\nWe need 40 seats.", **values}
    capture.accept(session, capture.Inbound(form=form, client_key=key, raw={}, values=typed))
    intake.process_pending(session)
    session.commit()
    return session.scalars(select(Lead).where(Lead.email_key == typed["email"])).one()


def kinds(items: list[Any]) -> list[str]:
    return [item.kind for item in items]


def test_a_web_lead_s_timeline_reads_newest_first(session: Session, web_form: Any, reps: list[User]) -> None:
    lead = submit(session, web_form, "k1")
    rep1, rep2 = session.get_one(User, lead.owner_id), next(r for r in reps if r.id != lead.owner_id)
    follow_ups.log_call(session, rep1, "leads", lead.id, outcome="Wants a quote for 40 seats")
    activities.add_note(session, "Sent the brochure\n\nPrice list attached", Actor.user(rep1.id), lead_id=lead.id)
    actions.change_owner(session, rep1, "leads", lead.id, rep2.id)
    records.update(session, lead, {"status": "Contacted"}, Actor.user(rep2.id))
    session.commit()

    items = timeline(session, "leads", lead.id, now=utcnow() + LATER)
    assert kinds(items) == ["status_change", "owner_change", "note", "call", "mail", "mail", "created", "web_inquiry"]
    assert [item.at for item in items] == sorted((item.at for item in items), reverse=True)
    status, owner, note, call, *mail, created, inquiry = items
    assert (status.summary, status.who) == ("Not Contacted → Contacted", rep2.name)
    assert (owner.summary, owner.who) == (f"{rep1.name} → {rep2.name}", rep1.name)
    assert (note.summary, note.details, note.who) == ("Sent the brochure", ("Price list attached",), rep1.name)
    assert (call.summary, call.details, call.who) == ("Call with Amy Chen", ("Held", "Wants a quote for 40 seats"),
                                                      rep1.name)
    assert {m.summary for m in mail} == {"New web lead notice", "Auto-reply to the visitor"}
    notice = next(m for m in mail if m.summary == "New web lead notice")
    assert notice.details == (f"To: {rep1.name} <{rep1.email}>", "Status: queued")
    assert created.summary == "Record created" and created.who == f"web form {web_form.public_id[:12]} (system)"
    assert inquiry.who == "Amy Chen" and inquiry.summary == "Web form “Website inquiry”"
    assert inquiry.details[:2] == ("Please call me about pricing.", "We need 40 seats.")
    assert "email: amy@example.com" in inquiry.details

    chinese = timeline(session, "leads", lead.id, language="zh_Hant", now=utcnow() + LATER)
    assert [i.summary for i in chinese][-2:] == ["已建立記錄", "網頁表單「Website inquiry」"]
    assert record_timeline(session, rep1, "leads", lead.id) is None  # handed on: no longer in rep1's scope
    assert record_timeline(session, rep2, "leads", lead.id) is not None


def test_the_outbox_rows_name_the_lead_they_are_about(session: Session, web_form: Any) -> None:
    lead = submit(session, web_form, "k1")
    submit(session, web_form, "k2", message="Any news?")  # an inquiry on the same lead: notice and reply again
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.template for r in rows] == ["new_web_lead", "visitor_auto_reply", "new_inquiry", "visitor_auto_reply"]
    assert {(r.record_module, r.record_id) for r in rows} == {("leads", lead.id)}

    items = timeline(session, "leads", lead.id)
    assert kinds(items).count("web_inquiry") == 2 and kinds(items).count("mail") == 4
    assert "note" not in kinds(items)  # the intake's note of the inquiry is the inquiry itself
    assert "task" not in kinds(items)  # the reply task is still open: it is on the activities list, not history


def test_a_deal_s_stage_changes_come_from_its_history(session: Session) -> None:
    rep = add_user(session, "rep@example.com", "Rep", welcome=False)
    deal = records.create_opportunity(session, {"name": "Lathes", "expected_close_date": "2026-09-30",
                                                "owner_id": rep.id}, Actor.user(rep.id), at=T0)
    stages.change_stage(session, deal, "Qualification", Actor.user(rep.id), at=T0 + dt.timedelta(days=3))
    actions.change_stage(session, rep, deal.id, "Closed Lost", lost_reason="Price")
    session.commit()
    items = timeline(session, "opportunities", deal.id)
    assert kinds(items)[-2:] == ["stage_change", "created"]
    moves = [i.summary for i in items if i.kind == "stage_change"]
    assert moves == ["Qualification → Closed Lost", "Prospecting → Qualification"]
    changed = [i for i in items if i.kind == "field_change"]
    assert [c.details for c in changed] == [("Lost reason: — → Price",)]  # the stage itself: told once, above

    lost_at = deal.closed_at
    assert lost_at is not None
    page = record_page(session, rep, "opportunities", deal.id, now=lost_at + dt.timedelta(days=2, hours=1))
    assert page is not None
    assert [(s.stage, s.days) for s in page.stage_history] == [
        ("Prospecting", 3), ("Qualification", (lost_at - T0 - dt.timedelta(days=3)).days), ("Closed Lost", 2)]
    assert page.stage_history[-1].left_at is None and page.stage_history[0].changed_by == rep.name


def test_a_converted_contact_keeps_the_lead_s_history(session: Session, web_form: Any) -> None:
    lead = submit(session, web_form, "k1")
    owner = session.get_one(User, lead.owner_id)
    follow_ups.log_call(session, owner, "leads", lead.id, status="Not Held", outcome="No answer")
    done = actions.convert(session, owner, lead.id)
    session.commit()
    items = timeline(session, "contacts", done.contact.id, now=utcnow() + LATER)
    assert {"call", "web_inquiry", "mail", "created"} <= set(kinds(items))
    assert next(i for i in items if i.kind == "call").details == ("Not Held", "No answer")


def test_the_record_page_groups_fields_in_blocks_and_lists_related_records_in_scope(
    session: Session, web_form: Any, reps: list[User]
) -> None:
    lead = submit(session, web_form, "k1", company="Acme Ltd")
    owner = session.get_one(User, lead.owner_id)
    other = next(r for r in reps if r.id != owner.id)
    follow_ups.log_call(session, owner, "leads", lead.id, outcome="Interested")
    page = record_page(session, owner, "leads", lead.id, language="zh_Hant")
    assert page is not None and page.number == lead.lead_no and page.title == "Amy Chen"
    assert [b.title for b in page.blocks] == ["潛在客戶詳細資料", "地址詳細資料", "描述詳細資料", "網頁表單詳細資料"]
    fields = {f.name: f for block in page.blocks for f in block.fields}
    assert (fields["owner_id"].label, fields["owner_id"].shown) == ("負責人", owner.name)
    assert fields["web_form_id"].shown == "Website inquiry" and fields["email"].kind == "email"
    assert fields["phone"].kind == "phone" and fields["phone"].value == "0912345678"
    # the call logged, and the first follow-up of the cadence the web lead started with its owner
    assert sorted((a.type, a.outcome or "") for a in page.activities) == [("call", "Interested"), ("task", "")]
    assert record_page(session, other, "leads", lead.id) is None  # another rep's lead: the page answers 404

    done = actions.convert(session, owner, lead.id, opportunity={"name": "Seats", "expected_close_date": "2026-12-31"})
    hidden = records.create_contact(session, {"last_name": "Hidden", "account_id": done.account.id,
                                              "owner_id": other.id}, Actor.system("t"))
    session.commit()
    account = record_page(session, owner, "accounts", done.account.id)
    assert account is not None
    assert [c.id for c in account.contacts] == [done.contact.id]  # the other rep's contact is left out
    assert hidden.id not in {c.id for c in account.contacts}
    assert [o.name for o in account.opportunities] == ["Seats"]
    # the lead's call and its open follow-up moved with the conversion
    assert sorted(a.type for a in account.activities) == ["call", "task"]
    converted = record_page(session, owner, "leads", lead.id)
    assert converted is not None and [c.id for c in converted.contacts] == [done.contact.id]


@pytest.mark.parametrize("language", ["en", "zh_Hant"])
def test_follow_up_subjects_are_in_the_user_s_language(session: Session, language: str) -> None:
    rep = add_user(session, "rep@example.com", "Rep", language=language, welcome=False)
    lead = records.create_lead(session, {"last_name": "王", "first_name": "大明", "owner_id": rep.id})
    task = follow_ups.schedule_follow_up(session, rep, "leads", lead.id, dt.date(2999, 1, 1))
    assert task.subject == {"en": "Follow up with 王大明", "zh_Hant": "跟進王大明"}[language]


def test_a_message_names_its_record_by_module_and_id_together(session: Session) -> None:
    from crm_store.errors import ValidationError
    from crm_store.mail import outbox

    with pytest.raises(ValidationError) as err:
        outbox.message_values("new_web_lead", "rep@example.com", key="k", record_module="leads")
    assert err.value.field == "record_id"
    assert outbox.enqueue(session, "new_web_lead", "rep@example.com", key="k", record_module="leads", record_id=7)
    row = session.scalars(select(OutboxMessage)).one()
    assert (row.record_module, row.record_id) == ("leads", 7)
