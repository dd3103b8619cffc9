"""The bulk path: the same validation and numbering as one-at-a-time creation, nothing half-written."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.models import Activity, Batch, Lead, Opportunity, RecordCounter, StageHistory
from crm_store.records import bulk
from crm_store.records import lifecycle as records
from crm_store.staff.users import add_user

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_bulk_leads_are_numbered_normalised_and_batched(session: Session) -> None:
    records.create_lead(session, {"last_name": "first"})
    batch = bulk.new_batch(session, "import", "leads.csv")
    ctx = bulk.BulkContext.load(session)
    rows = [{"last_name": f"L{i}", "phone": f"0912-000-{i:03d}", "status": "Hot", "created_at": T0} for i in range(12)]
    rows.append({"last_name": "kept", "lead_no": "LEA500"})
    ids = bulk.insert_records(session, "leads", rows, ctx, batch=batch)
    session.commit()
    assert len(ids) == 13
    leads = session.scalars(select(Lead).where(Lead.id.in_(ids)).order_by(Lead.id)).all()
    # the imported number is kept and the counter moves past it before the others are numbered
    assert leads[-1].lead_no == "LEA500"
    assert [lead.lead_no for lead in leads[:3]] == ["LEA501", "LEA502", "LEA503"]
    assert leads[0].phone_e164 == "+886912000000"
    assert leads[0].created_at == T0
    assert all(lead.batch_id == batch.id for lead in leads)
    assert session.get(Batch, batch.id).row_count == 13
    assert records.create_lead(session, {"last_name": "next"}).lead_no == "LEA513"


@pytest.mark.parametrize(
    ("bad_row", "field"),
    [
        ({"last_name": "x", "email": "not-an-email"}, "email"),
        ({"last_name": "x", "status": "Sleepy"}, "status"),
        ({"last_name": "x" * 101}, "last_name"),
        ({"last_name": "x", "owner_id": 4242}, "owner_id"),
        ({"last_name": "x", "lead_no": "LEA1"}, "lead_no"),
    ],
)
def test_one_bad_row_fails_the_load_with_its_row_number(session: Session, bad_row: dict, field: str) -> None:
    records.create_lead(session, {"last_name": "existing"})
    session.commit()
    counter = session.get(RecordCounter, "leads").next_value
    ctx = bulk.BulkContext.load(session)
    rows = [{"last_name": f"ok{i}"} for i in range(7000)]
    rows.insert(6500, bad_row)
    with pytest.raises(ValidationError) as err:
        bulk.insert_records(session, "leads", rows, ctx)
    session.rollback()
    assert err.value.field == field
    assert err.value.row == 6501
    assert "row 6501" in str(err.value)
    assert count(session, Lead) == 1
    assert session.get(RecordCounter, "leads").next_value == counter


def test_bulk_opportunities_write_contiguous_histories(session: Session) -> None:
    rep = add_user(session, "rep@example.com", "Rep")
    account = records.create_account(session, {"name": "Acme"})
    ctx = bulk.BulkContext.load(session)
    history = [("Prospecting", T0, rep.id), ("Qualification", T0 + dt.timedelta(days=2), rep.id),
               ("Closed Won", T0 + dt.timedelta(days=9), rep.id)]
    rows = [
        {"name": "Won deal", "account_id": account.id, "amount": 5000, "expected_close_date": "2026-03-10",
         "currency": "USD", "created_at": T0, "history": history},
        {"name": "New deal", "expected_close_date": "2026-05-01", "created_at": T0},
    ]
    ids = bulk.insert_records(session, "opportunities", rows, ctx)
    session.commit()
    won, new = (session.get(Opportunity, i) for i in ids)
    assert won.closed_at == T0 + dt.timedelta(days=9) and won.probability == 100
    assert new.closed_at is None and new.probability == 10
    rows_won = session.scalars(
        select(StageHistory).where(StageHistory.opportunity_id == won.id).order_by(StageHistory.entered_at)
    ).all()
    assert len(rows_won) == 3
    assert [r.left_at for r in rows_won[:-1]] == [r.entered_at for r in rows_won[1:]]
    assert count(session, StageHistory) == 4


def test_bulk_history_out_of_order_is_refused(session: Session) -> None:
    ctx = bulk.BulkContext.load(session)
    history = [("Prospecting", T0, None), ("Qualification", T0 - dt.timedelta(days=1), None)]
    with pytest.raises(ValidationError) as err:
        bulk.insert_records(session, "opportunities", [{"name": "x", "expected_close_date": "2026-05-01",
                                                        "history": history}], ctx)
    assert err.value.row == 1


def test_bulk_activities_are_validated(session: Session) -> None:
    rep = add_user(session, "rep@example.com", "Rep")
    lead = records.create_lead(session, {"last_name": "Lee"})
    ctx = bulk.BulkContext.load(session)
    good = {"type": "call", "subject": "Call", "owner_id": rep.id, "start_at": T0, "lead_id": lead.id}
    assert bulk.insert_activities(session, [good, {**good, "status": "Held"}], ctx) == 2
    with pytest.raises(ValidationError) as err:
        bulk.insert_activities(session, [good, {**good, "lead_id": 99999}], ctx)
    assert (err.value.field, err.value.row) == ("lead_id", 2)
    with pytest.raises(ValidationError) as err:
        bulk.insert_activities(session, [{**good, "status": "Done-ish"}], ctx)
    assert (err.value.field, err.value.row) == ("status", 1)
    assert count(session, Activity) == 2
