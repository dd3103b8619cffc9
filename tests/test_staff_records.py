"""The records area: lists, record pages, create, edit and delete for admin, manager and rep × module × own,
team and other records; change owner and stage; take a pool lead; convert a lead.

The real app on a migrated database (SQLite and PostgreSQL) through Flask's test client; pages are parsed
(`tests/staff_support.py`), never matched as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import Account, Contact, Lead, Opportunity, User
from crm_store.records import registry
from crm_store.staff import passwords

from .staff_support import PASSWORD, Staff, make_staff
from .test_scope import MODULES, RELATIONS, ROLES, expected, make

NAMES = {"admin": "Admin", "manager": "Boss", "rep": "Rep A", "rep_b": "Rep B", "rep_c": "Rep C"}
MODELS = {"leads": Lead, "accounts": Account, "contacts": Contact, "opportunities": Opportunity}


@dataclass(frozen=True)
class Crew:
    """The users of the scope tests (plain values): who signs in as each role, and whose records are whose."""

    ids: dict[str, int]
    emails: dict[str, str]

    def owner(self, role: str, relation: str) -> str:
        """Whose record is the viewer's own, their team's (a report's or a teammate's), or someone else's."""
        if relation == "other":
            return "rep_c"
        if relation == "own":
            return role
        return "rep_b" if role == "rep" else "rep"


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin; a manager; rep (rep_a, reports to the manager) and rep_b in the team North; rep_c on their own."""
    return make_crew(session)


def make_crew(session: Session) -> Crew:
    """Add the users (committed), each with the tests' password."""
    users = make_staff(session)
    people = {key: users[key] for key in ("admin", "manager", "rep", "rep_b", "rep_c")}
    assert {key: user.name for key, user in people.items()} == NAMES
    for user in people.values():
        passwords.set_password(session, user, PASSWORD)
    session.commit()
    return Crew({k: u.id for k, u in people.items()}, {k: u.email for k, u in people.items()})


def record_of(session: Session, crew: Crew, module: str, who: str, name: str) -> str:
    """Make a record owned by `who` (a crew key); return its number."""
    owner = session.get(User, crew.ids[who])
    row = make(session, module, owner, name)
    number = str(getattr(row, registry.get(module).number_field))
    session.commit()
    return number


def signed_in(client: Any, crew: Crew, who: str) -> Staff:
    staff = Staff(client)
    staff.sign_in(crew.emails[who])
    assert staff.status == 303, staff.last.text if staff.last else ""
    return staff


def path(module: str, number: str, action: str = "") -> str:
    return f"/{registry.get(module).path}/{number}" + (f"/{action}" if action else "")


@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("role", ROLES)
def test_view_edit_and_delete_within_scope(client: Any, session: Session, crew: Crew, role: str, module: str,
                                           relation: str) -> None:
    number = record_of(session, crew, module, crew.owner(role, relation), "Target")
    staff = signed_in(client, crew, role)
    wanted = expected(role, relation, "private")

    page = staff.get(path(module, number))
    assert staff.status == (200 if wanted else 404)
    if not wanted:
        assert page.find("h1").text == "Page not found"
        staff.get(path(module, number, "edit"))
        assert staff.status == 404
        staff.get(path(module, number, "delete"))
        assert staff.status == 404
        listed = staff.get(f"/{module}?q=Target")
        assert [a.text for a in listed.all("a") if a.text == "Target"] == []
        return
    assert page.find("h1").text == "Target"
    assert page.find(class_="eyebrow").text.endswith(number)

    form = staff.get(path(module, number, "edit"))
    title = "last_name" if module in ("leads", "contacts") else "name"
    values = {i.attrs["name"]: i.attrs.get("value", "") for i in form.all("input") if i.attrs.get("name")}
    values |= {s.attrs["name"]: next((o.attrs.get("value", "") for o in s.all("option") if "selected" in o.attrs), "")
               for s in form.all("select")}
    values[title] = "Renamed"
    staff.post(path(module, number, "edit"), values)
    assert staff.status == 303 and staff.location == path(module, number)
    assert staff.get(path(module, number)).find("h1").text == "Renamed"

    staff.get(path(module, number, "delete"))
    staff.post(path(module, number, "delete"))
    assert staff.status == 303 and staff.location == f"/{module}"
    session.expire_all()
    row = session.scalar(select(MODELS[module]).where(
        getattr(MODELS[module], registry.get(module).number_field) == number))
    assert row is not None and row.deleted_at is not None
    session.rollback()
    staff.get(path(module, number))
    assert staff.status == 404


@pytest.mark.parametrize("module", MODULES)
def test_create_shows_the_errors_beside_the_fields_then_the_new_page(client: Any, session: Session, crew: Crew,
                                                                     module: str) -> None:
    staff = signed_in(client, crew, "rep")
    page = staff.get(f"/{module}/new")
    assert staff.status == 200
    title = "last_name" if module in ("leads", "contacts") else "name"
    assert page.find("input", name=title)
    staff.post(f"/{module}/new", {"owner_id": str(crew.ids["rep"])})
    assert staff.status == 422
    assert staff.last is not None and staff.last.field_error(title) == "This field is required."
    values = {title: "Chen", "owner_id": str(crew.ids["rep"]), "email": "not an email"}
    if module == "opportunities":
        values |= {"expected_close_date": "2026-12-31", "stage": ""}
        values.pop("email")
        values["amount"] = "-5"
    page = staff.post(f"/{module}/new", values)
    assert staff.status == 422
    bad = "amount" if module == "opportunities" else "email"
    assert page.field_error(bad), page.text
    values.pop("email", None)
    values.pop("amount", None)
    staff.post(f"/{module}/new", values)
    assert staff.status == 303
    page = staff.get(staff.location)
    assert page.find("h1").text == "Chen"
    assert page.flashes() and page.flashes()[0].endswith("is saved.")


def test_a_post_without_the_csrf_token_is_refused(client: Any, session: Session, crew: Crew) -> None:
    number = record_of(session, crew, "leads", "rep", "Wang")
    staff = signed_in(client, crew, "rep")
    staff.get(path("leads", number))
    staff.post(path("leads", number, "delete"), csrf=False)
    assert staff.status == 400
    staff.post(path("leads", number, "calls"), {"status": "Held"}, csrf=False)
    assert staff.status == 400
    assert staff.get(path("leads", number)).find("h1").text == "Wang"


def test_a_script_in_a_name_is_shown_as_text(client: Any, session: Session, crew: Crew) -> None:
    number = record_of(session, crew, "leads", "rep", "<script>alert(1)</script>")
    staff = signed_in(client, crew, "rep")
    page = staff.get(path("leads", number))
    assert page.find("h1").text == "<script>alert(1)</script>"
    assert all(s.attrs.get("src") for s in page.all("script"))  # no script but the app's own files
    listed = staff.get("/leads")
    assert any(a.text == "<script>alert(1)</script>" for a in listed.all("a"))
    assert all(s.attrs.get("src") for s in listed.all("script"))
    record_of(session, crew, "leads", "rep", "Linscript<script>alert(2)</script>")
    fragment = staff.get("/search/suggest?q=Linscript")
    assert fragment.all("script") == []
    assert fragment.find(class_="suggest__title").text == "Linscript<script>alert(2)</script>"


def test_an_unknown_module_or_number_is_not_found(client: Any, session: Session, crew: Crew) -> None:
    staff = signed_in(client, crew, "admin")
    for where in ("/widgets", "/reports/x", "/leads/LEA999999", "/leads/LEA999999/edit", "/campaigns/CAM999999"):
        staff.get(where)
        assert staff.status == 404, where


def test_a_rep_cannot_give_a_new_record_to_someone_outside_their_scope(client: Any, session: Session,
                                                                        crew: Crew) -> None:
    staff = signed_in(client, crew, "rep")
    offered = [o.attrs["value"] for o in staff.get("/leads/new").find("select", name="owner_id").all("option")]
    assert str(crew.ids["rep_c"]) not in offered and str(crew.ids["rep"]) in offered
    page = staff.post("/leads/new", {"last_name": "Stray", "owner_id": str(crew.ids["rep_c"])})
    assert staff.status == 422 and page.field_error("owner_id") == "Choose one from the list."
    assert session.scalar(select(Lead.id).where(Lead.last_name == "Stray")) is None
    session.rollback()


def test_a_contact_is_filed_under_a_visible_account(client: Any, session: Session, crew: Crew) -> None:
    mine = record_of(session, crew, "accounts", "rep", "Mine Ltd")
    record_of(session, crew, "accounts", "rep_c", "Theirs Ltd")
    staff = signed_in(client, crew, "rep")
    select_ = staff.get("/contacts/new").find("select", name="account_id")
    shown = [o.text for o in select_.all("option")]
    assert shown == ["—", f"Mine Ltd ({mine})"]
    account_id = select_.all("option")[1].attrs["value"]
    staff.post("/contacts/new", {"last_name": "Lee", "account_id": account_id, "owner_id": str(crew.ids["rep"])})
    assert staff.status == 303
    page = staff.get(staff.location)
    assert [a.text for a in page.all("a") if a.attrs.get("href") == f"/accounts/{mine}"] == ["Mine Ltd"]


@pytest.mark.parametrize("relation", RELATIONS)
@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("role", ROLES)
def test_a_list_holds_what_its_reader_may_see(client: Any, session: Session, crew: Crew, role: str, module: str,
                                             relation: str) -> None:
    owner = crew.owner(role, relation)
    number = record_of(session, crew, module, owner, "Listed")
    staff = signed_in(client, crew, role)
    wanted = expected(role, relation, "private")
    for query in ("", f"?owner={crew.ids[owner]}", "?q=List"):
        page = staff.get(f"/{registry.get(module).path}{query}")
        assert staff.status == 200
        numbers = [e.text for e in page.all(class_="table__sub")]
        assert (number in numbers) is wanted, query
        if wanted:
            row = next(r for r in page.all("tr") if number in r.text)
            assert NAMES[owner] in [cell.text for cell in row.all("td")]  # the owner is shown
