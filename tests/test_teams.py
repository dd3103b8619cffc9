"""`crm teams`: add, list, members; a team-owned web form shares its leads among the members in turn."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.capture import forms as webforms
from crm_store.capture import submissions as capture
from crm_store.cli import main
from crm_store.models import ASSIGNMENT_STRATEGIES, Lead, OutboxMessage, Team, TeamMember, User, WebForm
from crm_store.staff import teams, users

# -- helpers -----------------------------------------------------------------------------------


def done(session: Session) -> None:
    """End the test's transaction (SQLite: the CLI would wait on it) without expiring objects."""
    session.expunge_all()
    session.rollback()


def roster(session: Session, name: str) -> list[tuple[str, int, int | None]]:
    """A team's members in rotation order: (email, weight, cap)."""
    team = teams.find_team(session, name)
    rows = [(user.email, m.weight, m.open_lead_cap) for m, user in session.execute(teams.members(team.id))]
    done(session)
    return rows


def one_line_error(result: Any) -> str:
    """The error of a failed command: exit 1, one line on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def columns(text: str) -> int:
    """Terminal columns of `text`; Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@pytest.fixture
def sales(session: Session, reps: list) -> Team:
    """Team "Sales", managed by rep 1, with rep 1 as its one member; rep 3 has left (inactive)."""
    team = teams.add_team(session, "Sales", reps[0].email)
    teams.add_member(session, team, reps[0].email)
    users.deactivate_user(session, reps[2].email)
    session.commit()
    done(session)
    return team


# -- add, list, members ------------------------------------------------------------------------


def test_add_list_and_members(crm, session, reps) -> None:
    crm("users", "add", "boss@example.com", "--name", "陳經理", "--role", "manager")
    out = crm("teams", "add", "業務部", "--manager", "Boss@Example.com", "--strategy", "weighted").output
    assert "Added team '業務部' (weighted)" in out and "boss@example.com" in out
    assert "rep2@leadline.test (weight 2, cap 5)" in crm(
        "teams", "members", "業務部", "--add", "REP2@leadline.test", "--weight", "2", "--cap", "5"
    ).output
    crm("teams", "members", "業務部", "--add", reps[0].email)
    assert roster(session, "業務部") == [(reps[1].email, 2, 5), (reps[0].email, 1, None)]

    line = next(x for x in crm("teams", "list").output.splitlines() if x.startswith("業務部"))
    assert "boss@example.com" in line and "weighted" in line
    assert line.endswith("rep2@leadline.test (weight 2, cap 5), rep1@leadline.test (weight 1, no cap)")


def test_adding_a_member_again_sets_weight_and_cap_and_keeps_their_place(crm, session, sales, reps) -> None:
    crm("teams", "members", "Sales", "--add", reps[1].email, "--cap", "3")
    crm("teams", "members", "Sales", "--add", reps[0].email, "--weight", "4", "--cap", "10")
    assert roster(session, "Sales") == [(reps[0].email, 4, 10), (reps[1].email, 1, 3)]
    crm("teams", "members", "Sales", "--add", reps[0].email)
    assert roster(session, "Sales") == [(reps[0].email, 1, None), (reps[1].email, 1, 3)]
    assert session.scalar(select(func.count()).select_from(TeamMember)) == 2


def test_a_removed_member_who_comes_back_joins_the_end_of_the_rotation(crm, session, sales, reps) -> None:
    crm("teams", "members", "Sales", "--add", reps[1].email)
    out = crm("teams", "members", "Sales", "--remove", reps[0].email.upper()).output
    assert out.strip() == f"Removed {reps[0].email} from Sales."
    assert roster(session, "Sales") == [(reps[1].email, 1, None)]
    crm("teams", "members", "Sales", "--add", reps[0].email)
    assert roster(session, "Sales") == [(reps[1].email, 1, None), (reps[0].email, 1, None)]


def test_list_aligns_chinese_names_and_marks_inactive_members(crm, session, sales, reps) -> None:
    teams.add_team(session, "北區業務", reps[1].email, strategy="least_loaded")
    teams.add_member(session, teams.find_team(session, "Sales"), reps[1].email)
    session.commit()
    done(session)
    session.execute(TeamMember.__table__.insert().values(team_id=sales.id, user_id=reps[2].id, weight=1))
    session.commit()  # a member who has since left stays listed, marked
    done(session)
    header, *body = crm("teams", "list").output.splitlines()
    assert header.startswith("NAME") and len(body) == 2
    by_name = {line.split()[0]: line for line in body}
    north, sales_line = by_name["北區業務"], by_name["Sales"]
    starts = {columns(line[: line.index(word)])
              for line, word in ((header, "MANAGER"), (north, reps[1].email), (sales_line, reps[0].email))}
    assert len(starts) == 1, body  # the manager column lines up under wide and narrow names alike
    assert "least_loaded" in north and north.endswith("(no members)")
    assert "round_robin" in sales_line
    assert sales_line.endswith(f"{reps[0].email} (weight 1, no cap), {reps[1].email} (weight 1, no cap), "
                               f"{reps[2].email} (weight 1, no cap, inactive)")


def test_list_without_teams_says_how_to_add_one(crm) -> None:
    assert "No teams yet" in crm("teams", "list").output


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(("add", "North", "--manager", "ghost@example.com"),
                 "error: manager: no user with email 'ghost@example.com'", id="unknown-manager"),
    pytest.param(("add", "North", "--manager", "rep3@leadline.test"),
                 "error: manager: rep3@leadline.test is inactive", id="inactive-manager"),
    pytest.param(("add", " Sales ", "--manager", "rep2@leadline.test"),
                 "error: name: a team named 'Sales' already exists", id="duplicate-name"),
    pytest.param(("add", "North", "--manager", "rep2@leadline.test", "--strategy", "fastest"),
                 "error: strategy: 'fastest' is not one of round_robin, weighted, least_loaded", id="bad-strategy"),
    pytest.param(("members", "Sales", "--add", "rep2@leadline.test", "--weight", "0"),
                 "error: weight: must be 1 or more (got 0)", id="weight-0"),
    pytest.param(("members", "Sales", "--add", "rep2@leadline.test", "--cap", "0"),
                 "error: cap: must be 1 or more, or none (got 0)", id="cap-0"),
    pytest.param(("members", "Sales", "--add", "rep3@leadline.test"),
                 "error: member: rep3@leadline.test is inactive", id="inactive-member"),
    pytest.param(("members", "Sales", "--add", "ghost@example.com"),
                 "error: member: no user with email 'ghost@example.com'", id="unknown-member"),
    pytest.param(("members", "Sales", "--remove", "rep2@leadline.test"),
                 "error: member: rep2@leadline.test is not a member of Sales", id="remove-non-member"),
    pytest.param(("members", "Nowhere", "--add", "rep2@leadline.test"),
                 "error: no team named 'Nowhere'", id="unknown-team"),
])
def test_mistakes_print_one_line_naming_the_field_and_change_nothing(crm, session, sales, args, message) -> None:
    assert one_line_error(crm("teams", *args, ok=False)) == message
    assert session.scalar(select(func.count()).select_from(Team)) == 1
    assert roster(session, "Sales") == [("rep1@leadline.test", 1, None)]


@pytest.mark.parametrize("args", [
    pytest.param((), id="neither"),
    pytest.param(("--add", "rep1@leadline.test", "--remove", "rep2@leadline.test"), id="both"),
    pytest.param(("--remove", "rep1@leadline.test", "--cap", "3"), id="cap-with-remove"),
])
def test_members_needs_one_of_add_or_remove(crm, sales, args) -> None:
    result = crm("teams", "members", "Sales", *args, ok=False)
    assert result.exit_code == 2 and "--add" in result.stderr


def test_add_help_names_every_strategy_the_model_allows() -> None:
    result = CliRunner().invoke(main, ["teams", "add", "--help"])
    assert result.exit_code == 0
    for strategy in ASSIGNMENT_STRATEGIES:
        assert strategy in result.output


# -- a team-owned web form ---------------------------------------------------------------------


def test_team_form_gives_leads_to_members_in_join_order_skipping_an_inactive_one(session, reps) -> None:
    admin = users.add_user(session, "admin@leadline.test", "Admin", role="admin", welcome=False)
    team = teams.add_team(session, "Sales", admin.email)
    for rep in (reps[2], reps[0], reps[1]):  # join order differs from the order the users were made
        teams.add_member(session, team, rep.email)
    form = webforms.add_form(session, {"name": "Team inquiry", "team": "Sales"})
    users.deactivate_user(session, reps[0].email)
    session.commit()

    leads = []
    for i in range(5):
        receipt = capture.receive(session, capture.Inbound(
            form=session.get(WebForm, form.id), client_key=uuid.uuid4().hex, raw={},
            values={"last_name": f"Visitor {i}", "email": f"visitor{i}@example.com"},
        ))
        session.commit()
        leads.append(session.get(Lead, receipt.lead_id))

    assert [lead.owner_id for lead in leads] == [reps[2].id, reps[1].id, reps[2].id, reps[1].id, reps[2].id]
    notices = session.scalars(
        select(OutboxMessage.recipient).where(OutboxMessage.template == "new_web_lead").order_by(OutboxMessage.id)
    )
    owners = {user.id: user.email for user in session.scalars(select(User))}
    assert list(notices) == [owners[lead.owner_id] for lead in leads]  # the notice goes to the lead's owner
