"""The store's error messages in the reader's language: English as before, Chinese with the values filled in.

Store errors carry an English template and its values (`crm_store.errors.ValidationError`); the web app shows
them in the page's language: beside a field, in a flash, and in a public form's answer (the form's language).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.models.base import FixedDecimal
from crm_store.records import bulk
from crm_store.records import lifecycle as records
from crm_store.records.validation import Validator, coerce
from crm_store.staff import passwords

from .staff_support import PASSWORD, Staff, make_staff

AMOUNT = FixedDecimal(15, 2)


def refused(raw: Any) -> ValidationError:
    """The error the store raises for an amount typed as `raw`."""
    with pytest.raises(ValidationError) as err:
        coerce("amount", AMOUNT, raw)
    return err.value


# -- the error itself --------------------------------------------------------------------------


def test_the_english_message_is_as_it_was_and_chinese_fills_in_the_value() -> None:
    exc = refused("abc")
    assert exc.message == "'abc' is not a number"
    assert str(exc) == "amount: 'abc' is not a number"
    assert (exc.field, exc.row) == ("amount", None)
    assert (exc.template, exc.values) == ("%(value)s is not a number", {"value": "'abc'"})
    assert exc.in_language("en") == "'abc' is not a number"
    assert exc.in_language("zh_Hant") == "'abc' 不是數字"


def test_a_constant_message_is_translated() -> None:
    with pytest.raises(ValidationError) as err:
        Validator({}, "TW").clean("leads", {"first_name": "Mei"})
    assert (err.value.field, err.value.message) == ("last_name", "is required")
    assert err.value.in_language("zh_Hant") == "此欄位為必填"


@pytest.mark.parametrize("raw", ["100%", "%s", "%(value)s %d %%", "50% off"])
def test_a_value_with_a_percent_sign_is_shown_as_typed(raw: str) -> None:
    exc = refused(raw)
    assert exc.message == f"{raw!r} is not a number"
    assert exc.in_language("en") == f"{raw!r} is not a number"
    assert exc.in_language("zh_Hant") == f"{raw!r} 不是數字"


def test_a_message_the_catalogue_lacks_is_shown_as_written() -> None:
    exc = ValidationError("discount", "100% is the most")  # no values: the % is no placeholder
    assert exc.message == "100% is the most"
    assert exc.in_language("zh_Hant") == "100% is the most"
    filled = ValidationError("discount", "%(value)s is more than 100%%", value="150%")
    assert filled.message == "150% is more than 100%"
    assert filled.in_language("zh_Hant") == "150% is more than 100%"


def test_a_value_named_like_an_argument_is_a_value() -> None:
    exc = ValidationError("created_from", "%(module)s cannot be filtered by %(field)s", module="leads", field="x")
    assert (exc.field, exc.message) == ("created_from", "leads cannot be filtered by x")
    assert exc.in_language("zh_Hant") == "leads 不能依 x 篩選"


def test_at_row_keeps_the_template_and_the_values() -> None:
    moved = refused("abc").at_row(7)
    assert (moved.field, moved.row, moved.message) == ("amount", 7, "'abc' is not a number")
    assert str(moved) == "row 7: amount: 'abc' is not a number"
    assert moved.in_language("zh_Hant") == "'abc' 不是數字"


# -- a bulk load names the row and still translates ----------------------------------------------


def test_a_bad_row_of_a_bulk_load_is_named_and_translated(session: Session) -> None:
    ctx = bulk.BulkContext.load(session)
    rows = [{"last_name": "ok"}, {"last_name": "bad", "employees": "many"}, {"last_name": "ok too"}]
    with pytest.raises(ValidationError) as err:
        bulk.insert_records(session, "leads", rows, ctx)
    session.rollback()
    exc = err.value
    assert (exc.field, exc.row) == ("employees", 2)
    assert str(exc) == "row 2: employees: 'many' is not a whole number"
    assert exc.in_language("zh_Hant") == "'many' 不是整數"


def test_a_missing_owner_of_a_bulk_load_is_named_and_translated(session: Session) -> None:
    ctx = bulk.BulkContext.load(session)
    rows: list[dict[str, Any]] = [{"last_name": "ok"}, {"last_name": "stray", "owner_id": 4242}]
    with pytest.raises(ValidationError) as err:
        bulk.insert_records(session, "leads", rows, ctx)
    session.rollback()
    assert (err.value.field, err.value.row) == ("owner_id", 2)
    assert err.value.message == "user 4242 does not exist or is inactive"
    assert err.value.in_language("zh_Hant") == "使用者 4242 不存在或已停用"


# -- the staff web app: the signed-in user's language ---------------------------------------------


def signed_in(client: Any, session: Session, who: str, language: str) -> tuple[Staff, dict[str, int]]:
    """Sign in as one of `make_staff`'s users, who reads `language`; return the client and everyone's id."""
    people = make_staff(session)
    for user in people.values():
        passwords.set_password(session, user, PASSWORD)
    people[who].language = language
    session.commit()
    ids = {key: user.id for key, user in people.items()}
    email = people[who].email
    session.expunge_all()  # nothing loaded stays to be refreshed (and lock SQLite) between requests
    session.rollback()
    staff = Staff(client)
    staff.sign_in(email)
    assert staff.status == 303
    return staff, ids


NEW_DEAL = {"name": "Big deal", "expected_close_date": "2026-12-31", "stage": "", "amount": "abc"}


def test_a_chinese_readers_field_error_is_in_chinese(client: Any, session: Session) -> None:
    staff, ids = signed_in(client, session, "rep", "zh_Hant")
    page = staff.post("/opportunities/new", {**NEW_DEAL, "owner_id": str(ids["rep"])})
    assert staff.status == 422
    assert page.lang == "zh-Hant-TW"
    assert page.field_error("amount") == "'abc' 不是數字"
    assert "is not a number" not in page.text


def test_an_english_readers_field_error_is_in_english(client: Any, session: Session) -> None:
    staff, ids = signed_in(client, session, "rep", "en")
    page = staff.post("/opportunities/new", {**NEW_DEAL, "owner_id": str(ids["rep"])})
    assert staff.status == 422
    assert page.field_error("amount") == "'abc' is not a number"
    assert "不是數字" not in page.text


def test_a_chinese_readers_lead_email_error_is_in_chinese(client: Any, session: Session) -> None:
    staff, ids = signed_in(client, session, "rep", "zh_Hant")
    page = staff.post("/leads/new", {"last_name": "Chen", "email": "not an email", "owner_id": str(ids["rep"])})
    assert staff.status == 422
    assert page.field_error("email").startswith("'not an email' 不是有效的電子郵件地址（")
    assert "is not a valid email address" not in page.text


def test_a_flashed_store_error_is_in_the_readers_language(client: Any, session: Session) -> None:
    staff, ids = signed_in(client, session, "admin", "zh_Hant")
    staff.get("/users")
    staff.post(f"/users/{ids['rep']}/welcome")  # the rep has chosen a password already
    assert staff.status == 303
    page = staff.get(staff.location)
    assert page.flashes() == ["此使用者已設定密碼；可使用「忘記密碼？」另設新密碼。"]


# -- the public form: the form's language ----------------------------------------------------------


@pytest.mark.parametrize(("language", "expected"), [
    ("zh_Hant", "campaigns 資料 {id} 不存在"), ("en", "campaigns record {id} does not exist"),
])
def test_a_store_error_on_a_public_form_is_in_the_forms_language(
    client: Any, session: Session, app: Any, reps: list, language: str, expected: str
) -> None:
    from crm_store.capture import forms as webforms
    from webform.public.spam import render_token

    campaign = records.create(session, "campaigns", {"name": "Spring fair"})
    form = webforms.add_form(session, {"name": "Fair form", "language": language,
                                       "hidden": {"campaign": campaign.campaign_no}})
    campaign_id, public_id = campaign.id, form.public_id
    records.delete(session, campaign)  # after the form was made: only the store's own check notices
    session.commit()
    session.expunge_all()
    session.rollback()
    token = render_token(app.extensions["leadline"].config.secret_key, public_id)
    response = client.post(f"/api/forms/{public_id}/submissions",
                           json={"last_name": "Lin", "email": "lin@example.com", "_token": token})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"campaign_id": [expected.format(id=campaign_id)]}

