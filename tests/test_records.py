"""Creating and changing records: validation that names the field, nothing half-written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.errors import ValidationError
from crm_store.models import Account, Contact, Currency, Lead, Opportunity, RecordCounter, StageHistory
from crm_store.pipeline.leads import open_leads
from crm_store.records import lifecycle as records
from crm_store.staff.users import add_user


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_lead_gets_a_number_and_normalised_phone(session: Session) -> None:
    lead = records.create_lead(
        session, {"last_name": "王", "first_name": "小明", "phone": "(02) 2345-6789", "mobile": "0912 345 678",
                  "email": "Ming.Wang@Example.COM", "status": "Not Contacted"}
    )
    session.commit()
    assert lead.lead_no == "LEA1"
    assert lead.phone == "(02) 2345-6789"
    assert lead.phone_e164 == "+886223456789"
    assert lead.mobile_e164 == "+886912345678"
    assert lead.email == "Ming.Wang@example.com"
    assert lead.created_at.tzinfo is not None and lead.created_at.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"last_name": "Lee", "status": "Sleeping"}, "status"),
        ({"last_name": "Lee", "email": "lee@@example.com"}, "email"),
        ({"last_name": "Lee", "email": "lee@example"}, "email"),
        ({"last_name": "Lee", "phone": "call me maybe"}, "phone"),
        ({"last_name": "Lee", "annual_revenue": "-5"}, "annual_revenue"),
        ({"last_name": "Lee", "employees": "many"}, "employees"),
        ({"last_name": "Lee", "company": "x" * 101}, "company"),
        ({"first_name": "Ann"}, "last_name"),
        ({"last_name": "   "}, "last_name"),
        ({"last_name": "Lee", "lead_no": "ACC5"}, "lead_no"),
        ({"last_name": "Lee", "favourite_colour": "blue"}, "favourite_colour"),
        ({"last_name": "Lee", "owner_id": 999999}, "owner_id"),
        ({"last_name": "Lee", "campaign_id": 999999}, "campaign_id"),
    ],
)
def test_bad_lead_values_name_the_field_and_write_nothing(session: Session, values: dict, field: str) -> None:
    counter = session.get(RecordCounter, "leads").next_value
    with pytest.raises(ValidationError) as err:
        records.create_lead(session, values)
    session.rollback()
    assert err.value.field == field
    assert count(session, Lead) == 0
    assert session.get(RecordCounter, "leads").next_value == counter


def test_oversized_text_is_refused_not_truncated(session: Session) -> None:
    with pytest.raises(ValidationError, match="101 characters long; the limit is 100"):
        records.create_lead(session, {"last_name": "L" * 101})


def test_contact_needs_an_existing_account(session: Session) -> None:
    with pytest.raises(ValidationError) as err:
        records.create_contact(session, {"last_name": "Chen", "account_id": 424242})
    assert err.value.field == "account_id"
    session.rollback()
    account = records.create_account(session, {"name": "台積電"})
    contact = records.create_contact(session, {"last_name": "Chen", "account_id": account.id})
    session.commit()
    assert (account.account_no, contact.contact_no) == ("ACC1", "CON1")
    records.delete(session, account)
    with pytest.raises(ValidationError, match="does not exist"):
        records.create_contact(session, {"last_name": "Lin", "account_id": account.id})


def test_opportunity_starts_in_first_stage_with_history_and_copied_rate(session: Session) -> None:
    usd = session.scalar(select(Currency).where(Currency.code == "USD"))
    opp = records.create_opportunity(
        session, {"name": "Line upgrade", "amount": "12,000.50", "expected_close_date": "2027-03-31", "currency": "USD"}
    )
    session.commit()
    assert opp.opportunity_no == "POT1"
    assert opp.amount == Decimal("12000.50")
    assert opp.probability == 10
    assert opp.conversion_rate == usd.exchange_rate
    usd.exchange_rate = Decimal("40")
    session.commit()
    session.refresh(opp)
    assert opp.conversion_rate == Decimal("32.5")  # copied at save time, not live
    history = session.scalars(select(StageHistory).where(StageHistory.opportunity_id == opp.id)).all()
    assert len(history) == 1 and history[0].left_at is None and history[0].probability == 10


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "X", "expected_close_date": "2027-01-01", "amount": "-1"}, "amount"),
        ({"name": "X", "expected_close_date": "2027-01-01", "probability": 101}, "probability"),
        ({"name": "X", "expected_close_date": "2027-01-01", "probability": -1}, "probability"),
        ({"name": "X", "expected_close_date": "31/01/2027"}, "expected_close_date"),
        ({"name": "X"}, "expected_close_date"),
        ({"name": "X", "expected_close_date": "2027-01-01", "stage": "Dreaming"}, "stage"),
        ({"name": "X", "expected_close_date": "2027-01-01", "currency": "XXX"}, "currency"),
        ({"name": "X", "expected_close_date": "2027-01-01", "lost_reason": "Bad luck"}, "lost_reason"),
        ({"name": "X", "expected_close_date": "2027-01-01", "account_id": 77}, "account_id"),
    ],
)
def test_bad_opportunity_values(session: Session, values: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        records.create_opportunity(session, values)
    session.rollback()
    assert err.value.field == field
    assert count(session, Opportunity) == 0 and count(session, StageHistory) == 0


def test_update_validates_and_refuses_number_changes(session: Session) -> None:
    account = records.create_account(session, {"name": "Acme", "phone": "02 2345 6789"})
    records.update(session, account, {"phone": "+1 415 555 0100", "industry": "Retail"})
    assert account.phone_e164 == "+14155550100"
    with pytest.raises(ValidationError, match="industry"):
        records.update(session, account, {"industry": "Wizardry"})
    with pytest.raises(ValidationError, match="account_no"):
        records.update(session, account, {"account_no": "ACC99"})
    with pytest.raises(ValidationError, match="name"):
        records.update(session, account, {"name": ""})
    assert account.industry == "Retail" and account.name == "Acme"


def test_lead_owner_change_sets_assigned_at(session: Session) -> None:
    rep = add_user(session, "rep@example.com", "Rep")
    lead = records.create_lead(session, {"last_name": "Wu"})
    assert lead.assigned_at is None
    records.update(session, lead, {"owner_id": rep.id})
    assert lead.assigned_at is not None


def test_imported_number_is_kept_and_counter_moves_past_it(session: Session) -> None:
    first = records.create_lead(session, {"last_name": "A"})
    imported = records.create_lead(session, {"last_name": "B", "lead_no": "lea41"})
    after = records.create_lead(session, {"last_name": "C"})
    assert (first.lead_no, imported.lead_no, after.lead_no) == ("LEA1", "LEA41", "LEA42")
    with pytest.raises(ValidationError, match="already taken"):
        records.create_lead(session, {"last_name": "D", "lead_no": "LEA41"})


def test_get_by_number(session: Session) -> None:
    acc = records.create_account(session, {"name": "Acme"})
    assert records.get_by_number(session, "acc1") is acc


def test_open_leads_excludes_converted_junk_lost_and_cold(session: Session) -> None:
    now = dt.datetime.now(dt.UTC)
    for status in ("Junk Lead", "Lost Lead", "Cold", "Hot", None, "Not Contacted"):
        records.create_lead(session, {"last_name": str(status), "status": status})
    records.create_lead(session, {"last_name": "converted", "status": "Qualified", "converted_at": now})
    names = set(session.scalars(open_leads().with_only_columns(Lead.last_name)))
    assert names == {"Hot", "None", "Not Contacted"}


def test_staff_and_automation_are_told_apart(session: Session) -> None:
    rep = add_user(session, "rep@example.com", "Rep")
    assert Actor.user(rep.id).is_staff
    assert not Actor.system("lead_aging", "run-1").is_staff
    assert Actor.system("lead_aging", "run-1").automation == "lead_aging:run-1"


def test_account_type_and_contact_count(session: Session) -> None:
    acc = records.create_account(session, {"name": "Globex", "account_type": "Customer"})
    records.create_contact(session, {"last_name": "Lin", "account_id": acc.id})
    assert count(session, Contact) == 1 and count(session, Account) == 1
