"""The Users pages (admins only): list, add, deactivate with the work handed on, send the welcome again.

Through Flask's test client on the real app and database (SQLite and PostgreSQL); pages read by parsing.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Lead, OutboxMessage, User
from crm_store.records import lifecycle as records
from crm_store.staff import passwords, users

from .staff_support import PASSWORD, Person, Staff


@pytest.fixture
def people(session: Session, reps: list) -> SimpleNamespace:
    """An admin and rep1 with passwords; rep2 owns an open lead and has a password too; rep3 has none."""
    admin = users.add_user(session, "admin@leadline.test", "Alice Admin", role="admin", welcome=False)
    rep1, rep2, rep3 = (session.get(User, r.id) for r in reps)
    for user in (admin, rep1, rep2):
        passwords.set_password(session, user, PASSWORD)
    lead = records.create(session, "leads", {"last_name": "王", "company": "宏達精密", "owner_id": rep2.id})
    session.commit()
    return SimpleNamespace(admin=Person.of(admin), rep=Person.of(rep1), leaving=Person.of(rep2),
                           invited=Person.of(rep3), lead_id=lead.id)


@pytest.fixture
def admin(client, people) -> Staff:  # noqa: ANN001
    signed_in = Staff(client)
    signed_in.sign_in(people.admin.email)
    assert signed_in.status == 303
    return signed_in


def welcomes(session: Session, user_id: int) -> int:
    session.expire_all()
    email = session.get(User, user_id).email
    count = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == "welcome", OutboxMessage.recipient == email))
    session.commit()  # end the read: SQLite's writers queue behind an open transaction
    return int(count or 0)


def test_a_rep_is_refused_every_users_page(client, people, session: Session) -> None:
    rep = Staff(client)
    rep.get("/users")
    assert rep.status == 302 and rep.location == "/auth/sign-in?next=/users"  # signed out: sign in first
    rep.sign_in(people.rep.email)
    for path in ("/users", "/users/new", f"/users/{people.leaving.id}/deactivate"):
        page = rep.get(path)
        assert rep.status == 403, path
        assert page.find("h1").text == "Not allowed" and page.find("nav", class_="mainnav")
        assert "Users" not in page.find("nav", class_="mainnav").text
    rep.get("/")
    rep.post(f"/users/{people.leaving.id}/deactivate", {"reassign_to": people.rep.email})
    assert rep.status == 403
    rep.post(f"/users/{people.invited.id}/welcome")
    assert rep.status == 403
    session.expire_all()
    assert session.get(User, people.leaving.id).active and welcomes(session, people.invited.id) == 0


def test_an_admin_sees_every_user_with_their_state(admin: Staff, people) -> None:
    page = admin.get("/users")
    assert admin.status == 200 and page.find("a", aria_current="page").text == "Users"
    rows = {row.find("td").find("span", class_="table__sub").text: row for row in page.find("tbody").all("tr")}
    assert set(rows) == {"admin@leadline.test", "rep1@leadline.test", "rep2@leadline.test", "rep3@leadline.test"}
    assert rows["admin@leadline.test"].find(class_="badge").text == "Active"
    assert rows["admin@leadline.test"].all("td")[1].text == "Admin"
    assert rows["rep3@leadline.test"].find(class_="badge").text == "Invited"
    assert rows["rep3@leadline.test"].find("button").text == "Resend welcome email"
    assert not rows["rep1@leadline.test"].all("button")  # has a password: nothing to resend
    assert not rows["admin@leadline.test"].all("a")  # no "Deactivate" for oneself
    assert rows["rep2@leadline.test"].find("a").attrs["href"] == f"/users/{people.leaving.id}/deactivate"


def test_adding_a_user_queues_their_welcome_email(admin: Staff, people, session: Session) -> None:
    page = admin.get("/users/new")
    assert [o.attrs["value"] for o in page.find("select", name="role").all("option")] == ["admin", "manager", "rep"]
    assert [o.text for o in page.find("select", name="manager").all("option")] == [
        "Nobody", "Alice Admin <admin@leadline.test>"]
    page = admin.post("/users/new", {"email": "rep1@leadline.test", "name": "", "role": "rep", "language": "en"})
    assert admin.status == 422 and page.field_error("name") == "Enter their name."
    page = admin.post("/users/new", {"email": "REP1@leadline.test", "name": "Again", "role": "rep", "language": "en"})
    assert admin.status == 422 and "already exists" in page.field_error("email")

    admin.post("/users/new", {"email": "mei@leadline.test", "name": "林美玲", "role": "manager",
                              "manager": "admin@leadline.test", "language": "zh_Hant", "time_zone": "Asia/Taipei"})
    assert admin.status == 303 and admin.location == "/users"
    page = admin.get("/users")
    assert page.flashes() == ["林美玲 is added. A welcome email with a link to choose a password is on its way to "
                              "mei@leadline.test."]
    session.expire_all()
    added = session.scalar(select(User).where(User.email == "mei@leadline.test"))
    assert (added.role, added.language, added.time_zone, added.manager_id, added.password_hash) == (
        "manager", "zh_Hant", "Asia/Taipei", people.admin.id, None)
    assert welcomes(session, added.id) == 1


def test_deactivating_hands_the_open_work_to_the_chosen_user(admin: Staff, client, app, people,
                                                             session: Session) -> None:
    leaving = Staff(app.test_client())
    leaving.sign_in(people.leaving.email, environ_base={"REMOTE_ADDR": "10.3.3.3"})
    assert leaving.status == 303

    page = admin.get(f"/users/{people.leaving.id}/deactivate")
    choices = [o.attrs["value"] for o in page.find("select", name="reassign_to").all("option")]
    assert choices == ["", "admin@leadline.test", "rep1@leadline.test", "rep3@leadline.test"]  # not the one leaving
    page = admin.post(f"/users/{people.leaving.id}/deactivate", {"reassign_to": ""})
    assert admin.status == 422 and page.field_error("reassign_to") == (
        "They still own open leads, deals, accounts, contacts or activities: choose who takes them over.")
    admin.post(f"/users/{people.leaving.id}/deactivate", {"reassign_to": "rep1@leadline.test"})
    assert admin.status == 303
    assert admin.get("/users").flashes() == ["Rep 2 is deactivated and can no longer sign in."]

    session.expire_all()
    assert not session.get(User, people.leaving.id).active
    assert session.get(Lead, people.lead_id).owner_id == people.rep.id
    session.commit()
    leaving.get("/")
    assert leaving.status == 302  # their session ended with the account


def test_an_admin_cannot_deactivate_themselves_and_an_unknown_user_is_404(admin: Staff, people,
                                                                         session: Session) -> None:
    page = admin.post(f"/users/{people.admin.id}/deactivate", {"reassign_to": "rep1@leadline.test"})
    assert admin.status == 422 and page.field_error("reassign_to") == "You cannot deactivate your own account."
    admin.get("/users/987654/deactivate")
    assert admin.status == 404
    session.expire_all()
    assert session.get(User, people.admin.id).active


def test_the_welcome_email_goes_again_only_to_who_has_no_password(admin: Staff, people, session: Session) -> None:
    admin.get("/users")
    admin.post(f"/users/{people.invited.id}/welcome")
    assert admin.status == 303
    assert admin.get("/users").flashes() == ["The welcome email is on its way to rep3@leadline.test again."]
    admin.post(f"/users/{people.invited.id}/welcome")
    assert welcomes(session, people.invited.id) == 2  # each press sends one

    admin.post(f"/users/{people.rep.id}/welcome")
    assert admin.get("/users").flashes() == [
        "This user has already chosen a password; they can use “Forgot your password?” to choose another."]
    assert welcomes(session, people.rep.id) == 0
    admin.post(f"/users/{people.invited.id}/welcome", csrf=False)
    assert admin.status == 400
