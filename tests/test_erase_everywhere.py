"""`crm person erase` leaves nothing of the person anywhere: every table, the database files, the outbox folder,
the documents store and the search index; and `crm person export` finds them in all those places first."""

from __future__ import annotations

import datetime as dt
import email
import json
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Engine, String, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.capture import intake
from crm_store.capture import submissions as capture
from crm_store.config import load_config
from crm_store.models import Account, Base, Erasure, Lead, OutboxMessage
from crm_store.pipeline import activities, conversion
from crm_store.records import erasures
from crm_store.records import lifecycle as records
from crm_store.records.documents import add_document
from crm_store.search import index as search_index
from crm_store.search import query
from emails.worker import send_due

FIRST, LAST, NAME = "小華", "諸葛", "諸葛小華"
ADDRESS = "Zhuge.Hua@Example.com"
PHONE = "0912-345-678"
MESSAGE = "想了解貴公司的 ERP 導入方案，預算約一百二十萬，請於週三前回電。"
FOLLOW_UP = "Following up: could we meet at the Hsinchu office on Thursday?"
# Everything that says who they are, as it may be written anywhere (compared in lower case).
NEEDLES = (ADDRESS.lower(), NAME, LAST, FIRST, PHONE, "912345678", "0912 345 678", MESSAGE, FOLLOW_UP)
OTHER = {"first_name": "Ming", "last_name": "Wu", "email": "ming.wu@example.com", "phone": "0922-111-222",
         "message": "Do you ship to Kaohsiung?"}
T0 = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)


def submit(session: Session, form: Any, key: str, values: dict[str, Any], spam: str | None = None) -> None:
    """A visitor's submission, stored as the web app stores it (processed later by the intake)."""
    raw = {**values, "_submission": key}
    capture.accept(session, capture.Inbound(form=form, client_key=key, raw=raw, values=dict(values),
                                            ip="203.0.113.7", user_agent="Mozilla/5.0", spam_reason=spam))


def person(message: str) -> dict[str, Any]:
    return {"first_name": FIRST, "last_name": LAST, "email": ADDRESS, "phone": PHONE, "message": message}


@pytest.fixture
def visited(session: Session, env: dict[str, str], web_form: Any, reps: list, monkeypatch: pytest.MonkeyPatch) -> Lead:
    """The person's whole journey: two web submissions and a quarantined one, the intake, the notices and
    auto-replies written to the file outbox, a call and a document on their lead, conversion, a search rebuild.
    Another visitor's journey runs beside it."""
    monkeypatch.delenv("CRM_SMTP_URL", raising=False)
    submit(session, web_form, "first", person(MESSAGE))
    submit(session, web_form, "other", OTHER)
    session.commit()
    intake.process_pending(session)
    session.commit()
    submit(session, web_form, "again", person(FOLLOW_UP))  # an inquiry on their open lead: a note, a task, a notice
    submit(session, web_form, "held", person(MESSAGE), spam="filled too fast")  # quarantined
    session.commit()
    intake.process_pending(session)
    session.commit()
    config = load_config()
    assert send_due(config)["sent"] == 6  # 2 notices and 2 auto-replies for them, 1 and 1 for the other visitor
    lead = session.scalars(select(Lead).where(Lead.email_key == ADDRESS.lower())).one()
    staff = Actor.user(lead.owner_id)
    activities.create_activity(session, {"type": "call", "subject": f"Call {NAME} about the ERP demo",
                                         "start_at": T0, "lead_id": lead.id, "description": MESSAGE}, staff)
    add_document(session, config.data_dir, lead, f"%PDF-1.4\n{NAME} {PHONE} {ADDRESS}\n%%EOF\n".encode(),
                 filename=f"{NAME}名片.pdf", actor=staff)
    conversion.convert_lead(session, lead, staff, opportunity={
        "name": "ERP pilot", "amount": "1200000", "expected_close_date": "2027-03-31"})
    search_index.rebuild_index(session)  # `crm search --rebuild`: the gram counts hold their name too
    session.commit()
    return lead


def leftovers(engine: Engine) -> dict[str, list[str]]:
    """Every text and JSON column of every table (from the models' metadata) that mentions the person."""
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, JSON))
                       or isinstance(getattr(c.type, "impl", None), (String, JSON))]
            if not columns:
                continue
            for row in conn.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    hits = [n for n in NEEDLES if n.lower() in text.lower()]
                    if hits:
                        found.setdefault(f"{table.name}.{column.name}", []).extend(hits)
    return found


def mail_text(path: Path) -> str:
    """An .eml file as a person reads it: its headers and every text part, decoded."""
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    parts = [f"{k}: {v}" for k, v in message.items()]
    parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


def files_mentioning(folder: Path) -> list[str]:
    """The files under a folder whose bytes (or, for mail, decoded text) hold any of the person's values."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes().lower()
        text = mail_text(path).lower() if path.suffix == ".eml" else ""
        if any(n.lower().encode() in raw or n.lower() in text for n in NEEDLES):
            found.append(path.name)
    return found


def test_erase_leaves_nothing_of_the_person_anywhere(
    visited: Lead, crm, engine: Engine, session: Session, backend: str, env: dict[str, str],  # noqa: ANN001
) -> None:
    data_dir = Path(env["CRM_DATA_DIR"])
    before = leftovers(engine)  # the walk sees them wherever they went: it is not looking in the wrong places
    assert {key.split(".")[0] for key in before} >= {
        "leads", "contacts", "accounts", "activities", "notes", "audit_log", "outbox", "web_submissions",
        "search_documents", "search_gram_stats", "documents",
    }
    assert len(files_mentioning(data_dir / "outbox")) == 4 and len(files_mentioning(data_dir / "documents")) == 1

    out = crm("person", "erase", ADDRESS, "--yes").output
    assert out.startswith(f"Erased {ADDRESS}: 1 leads, 1 contacts, 1 accounts, 5 emails, 3 web_submissions")

    session.expire_all()
    assert leftovers(engine) == {}
    assert files_mentioning(data_dir / "outbox") == [] and files_mentioning(data_dir / "documents") == []
    assert query.search(session, NAME) == [] and query.search(session, "zhuge.hua") == []
    assert query.search(session, "0912345678") == []
    # what stays: the records, counted, and everything of the other visitor
    lead = session.get_one(Lead, visited.id)
    assert lead.last_name == "[erased]" and lead.status == "Not Contacted" and lead.converted_at is not None
    account = session.get_one(Account, lead.converted_account_id)
    assert account.name == "[erased]" and account.email is None and account.name_key is None
    other = session.scalars(select(Lead).where(Lead.email_key == OTHER["email"])).one()
    assert other.last_name == "Wu" and query.search(session, "ming.wu")[0].number == other.lead_no
    assert len([p for p in (data_dir / "outbox").glob("*.eml") if "Wu" in mail_text(p)]) == 2
    # the erasure log: a hash and a time, never the address
    [logged] = session.scalars(select(Erasure)).all()
    assert logged.email_hash == erasures.email_hash(ADDRESS) and ADDRESS.lower() not in logged.email_hash
    session.commit()
    if backend == "sqlite":  # nor do the database files keep an erased value in a freed page or the log
        db = Path(env["CRM_DATABASE_URL"].removeprefix("sqlite:///"))
        for path in (db, db.with_name(db.name + "-wal")):
            raw = path.read_bytes().lower() if path.exists() else b""
            assert ADDRESS.lower().encode() not in raw, path.name
            assert NAME.encode() not in raw and json.dumps(NAME).strip('"').lower().encode() not in raw, path.name
            assert PHONE.encode() not in raw and b"912345678" not in raw, path.name


def test_export_finds_the_person_where_erase_clears_them(visited: Lead, crm) -> None:  # noqa: ANN001
    data = json.loads(crm("person", "export", ADDRESS.upper()).output)
    [lead] = data["leads"]
    subjects = sorted(a["subject"] for a in lead["activities"])
    assert subjects == [  # the call logged, the cadence's first touch, the second inquiry's task
        f"Call {NAME} about the ERP demo", f"Follow-up 1 of 8: {NAME}", f"Reply to the web inquiry from {NAME}"]
    assert [d["filename"] for d in lead["documents"]] == [f"{NAME}名片.pdf"]
    assert data["contacts"][0]["last_name"] == LAST
    assert [a["name"] for a in data["accounts"]] == [NAME]  # the account made from their lead
    assert sorted(m["template"] for m in data["emails"]) == [  # stage_playbook: their deal's, naming their contact
        "new_inquiry", "new_web_lead", "stage_playbook", "visitor_auto_reply", "visitor_auto_reply"]
    assert all(len(m["files"]) == 1 and m["files"][0].startswith("outbox/") for m in data["emails"]
               if m["template"] != "stage_playbook")  # queued after the others were sent: no file yet
    assert sorted(s["outcome"] for s in data["web_submissions"]) == ["added_to_lead", "new_lead", "quarantined"]

    crm("person", "erase", ADDRESS, "--yes")
    after = json.loads(crm("person", "export", ADDRESS).output)
    assert after["leads"] == after["contacts"] == after["emails"] == after["web_submissions"] == []
    assert "accounts" not in after


def test_an_account_that_is_a_company_keeps_its_name(session: Session, env: dict[str, str], crm) -> None:  # noqa: ANN001
    """Only the person leaves: a company account made from their lead keeps its name, and one their lead
    was matched to keeps everything."""
    acme = records.create_lead(session, {"last_name": LAST, "first_name": FIRST, "email": ADDRESS, "phone": PHONE,
                                         "company": "Acme Trading", "city": "新竹市", "description": MESSAGE})
    made = conversion.convert_lead(session, acme, Actor.system("test")).account
    globex = records.create_account(session, {"name": "Globex", "phone": "02-2345-6789"})
    second = records.create_lead(session, {"last_name": LAST, "email": ADDRESS.lower(), "company": "Globex"})
    matched = conversion.convert_lead(session, second, Actor.system("test"))
    session.commit()
    assert matched.account.id == globex.id and not matched.account_created

    crm("person", "erase", ADDRESS, "--yes")
    session.expire_all()
    assert (made.name, made.name_key, made.email, made.phone, made.bill_city, made.description) == (
        "Acme Trading", "acmetrading", None, None, None, None)
    assert (globex.name, globex.phone) == ("Globex", "02-2345-6789")
    assert [r.number for r in query.search(session, "acme", modules=["accounts"])] == [made.account_no]


def test_a_staff_notice_about_them_not_sent_yet_never_is(session: Session, env: dict[str, str], crm) -> None:  # noqa: ANN001
    from crm_store.mail import outbox

    lead = records.create_lead(session, {"last_name": LAST, "first_name": FIRST, "email": ADDRESS})
    outbox.enqueue(session, "new_web_lead", "rep@leadline.test", key="notice:1", to_staff=True, context={
        "lead": {"number": lead.lead_no, "name": NAME, "company": None}, "email": None, "message": MESSAGE})
    outbox.enqueue(session, "new_web_lead", "rep@leadline.test", key="notice:2", to_staff=True, context={
        "lead": {"number": f"{lead.lead_no}0", "name": "Other"}, "email": "other@example.com"})
    session.commit()
    crm("person", "erase", ADDRESS, "--yes")
    session.expire_all()
    about, other = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert (about.status, about.recipient, about.context) == ("suppressed", "rep@leadline.test", {})
    assert (other.status, other.context["email"]) == ("queued", "other@example.com")  # a longer number is another lead
