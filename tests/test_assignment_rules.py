"""Assignment rules: every field kind and operator, first match wins, team strategies with weights, caps and
absences, the unassigned pool, the manager's fallback, the audit trail, and `crm rules`.

Runs on SQLite and PostgreSQL. The company works in Taipei; the rules run at AS_OF, a Monday morning.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.assignment import handover, rules
from crm_store.assignment.decisions import Decision
from crm_store.assignment.round_robin import pack_turn, unpack_turn
from crm_store.capture import forms as webforms
from crm_store.cli import main
from crm_store.cli.rules import rules as rules_group
from crm_store.errors import NotFound, ValidationError
from crm_store.models import Activity, AuditEntry, Campaign, Lead, OutboxMessage, Team, User
from crm_store.records import bulk
from crm_store.records import lifecycle as records
from crm_store.settings import company
from crm_store.staff import teams, users

AS_OF = dt.datetime(2026, 9, 7, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Taipei
BEFORE = AS_OF - dt.timedelta(hours=1)


# -- helpers -----------------------------------------------------------------------------------------------


def add_leads(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert unassigned leads created an hour before AS_OF (values as given)."""
    rows = [{"last_name": f"Lead {i}", "created_at": BEFORE, **row} for i, row in enumerate(rows)]
    return bulk.insert_records(session, "leads", rows, bulk.BulkContext.load(session))


def people(session: Session, *names: str, manager: str | None = None) -> list[User]:
    """Active reps called `names` (email name@leadline.test), optionally reporting to `manager`."""
    return [users.add_user(session, f"{n}@leadline.test", n.title(), welcome=False,
                           manager_email=f"{manager}@leadline.test" if manager else None) for n in names]


def team(session: Session, name: str, manager: User, members: list[User], strategy: str = "round_robin",
         **per_member: dict[str, Any]) -> Team:
    """A team with members in this order; `per_member[email name] = {"weight": .., "cap": ..}`."""
    found = teams.add_team(session, name, manager.email, strategy=strategy)
    for user in members:
        teams.add_member(session, found, user.email, **per_member.get(user.email.split("@")[0], {}))
    return found


def owners(session: Session, ids: list[int]) -> list[int | None]:
    by_id = {i: o for i, o in session.execute(select(Lead.id, Lead.owner_id).where(Lead.id.in_(ids)))}
    return [by_id[i] for i in ids]


def mails(session: Session, template: str = "leads_assigned") -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)
                                .order_by(OutboxMessage.id)))


@pytest.fixture(autouse=True)
def taipei(session: Session) -> None:
    company.set_value(session, "time_zone", "Asia/Taipei")
    session.commit()


@pytest.fixture
def boss(session: Session) -> User:
    return users.add_user(session, "boss@leadline.test", "Boss", role="manager", welcome=False)


@pytest.fixture
def ann(session: Session, boss: User) -> User:
    return people(session, "ann", manager="boss")[0]


# -- conditions: fields and operators ----------------------------------------------------------------------


CASES = [
    pytest.param({"lead_source": "Web Site"}, ("lead_source", "equals", "  web SITE "), True, id="equals-ignores-case"),
    pytest.param({"lead_source": "Web Site"}, ("lead_source", "equals", "Web"), False, id="equals-is-whole"),
    pytest.param({"country": "Taiwan"}, ("country", "in", "Japan, TAIWAN,Korea"), True, id="in"),
    pytest.param({"country": "Taiwan"}, ("country", "in", "Japan,Korea"), False, id="in-not"),
    pytest.param({"city": "New Taipei City"}, ("city", "contains", "taipei"), True, id="contains"),
    pytest.param({"city": "Taichung"}, ("city", "contains", "taipei"), False, id="contains-not"),
    pytest.param({"state": "Kaohsiung"}, ("state", "starts_with", "KAO"), True, id="starts-with"),
    pytest.param({"state": "Kaohsiung"}, ("state", "starts_with", "hsiung"), False, id="starts-with-not"),
    pytest.param({}, ("industry", "is_empty", "yes"), True, id="is-empty"),
    pytest.param({"industry": "Banking"}, ("industry", "is_empty", "yes"), False, id="is-empty-not"),
    pytest.param({"industry": "Banking"}, ("industry", "is_empty", "no"), True, id="is-not-empty"),
    pytest.param({"employees": 50}, ("employees", "equals", "50"), True, id="any-column-number"),
    pytest.param({"designation": "Purchasing Manager"}, ("designation", "contains", "purchas"), True,
                 id="any-column-text"),
]


@pytest.mark.parametrize(("values", "condition", "matches"), CASES)
def test_each_operator_on_each_kind_of_field(session, ann, values, condition, matches) -> None:
    rules.add_rule(session, "The rule", [condition], user=ann.email)
    [lead] = add_leads(session, [values])
    got = rules.assign_by_rules(session, [lead], AS_OF)
    assert got == {lead: ann.id if matches else None}
    stored = session.get(Lead, lead)
    assert stored.owner_id == (ann.id if matches else None)
    assert stored.assignment_reason == (f"rule 'The rule' → {ann.email}" if matches
                                        else "no rule matched: left unassigned")


def test_form_and_campaign_match_by_name_and_the_ids_by_number(session, ann, boss) -> None:
    form = webforms.add_form(session, {"name": "Taipei Expo 2026"})
    campaign = records.create_campaign(session, {"name": "Autumn mailing"})
    session.flush()
    rules.add_rule(session, "Expo", [("form", "starts_with", "taipei expo")], user=ann.email)
    rules.add_rule(session, "Mailing", [("campaign", "equals", "AUTUMN MAILING")], user=boss.email)
    rules.add_rule(session, "By id", [("web_form_id", "equals", str(form.id + 1000))], user=ann.email)
    ids = add_leads(session, [{"web_form_id": form.id}, {"campaign_id": campaign.id}, {}])
    assert rules.assign_by_rules(session, ids, AS_OF) == {ids[0]: ann.id, ids[1]: boss.id, ids[2]: None}
    assert session.get(Campaign, campaign.id) is not None


def test_all_conditions_of_a_rule_must_hold(session, ann) -> None:
    rules.add_rule(session, "North web", [("lead_source", "equals", "Web Site"), ("city", "in", "Taipei,Keelung")],
                   user=ann.email)
    ids = add_leads(session, [{"lead_source": "Web Site", "city": "Keelung"}, {"lead_source": "Web Site",
                                                                               "city": "Tainan"}])
    assert rules.assign_by_rules(session, ids, AS_OF) == {ids[0]: ann.id, ids[1]: None}


@pytest.mark.parametrize(("condition", "named"), [
    (("colour", "equals", "red"), "'colour'"),
    (("country", "matches", "T.*"), "'matches'"),
    (("country", "equals", "   "), "country equals needs a value"),
    (("country", "in", " , "), "country in needs a value"),
    (("country", "is_empty", "perhaps"), "country is_empty takes yes or no"),
])
def test_a_bad_condition_is_refused_naming_it(session, ann, condition, named) -> None:
    with pytest.raises(ValidationError) as caught:
        rules.add_rule(session, "Bad", [condition], user=ann.email)
    assert caught.value.field == "conditions" and named in caught.value.message
    assert session.scalar(select(func.count()).select_from(rules.AssignmentRule)) == 0


def test_a_rule_needs_one_target_a_unique_name_and_a_position_in_range(session, ann, boss) -> None:
    sales = team(session, "Sales", boss, [ann])
    rules.add_rule(session, "First", [], user=ann.email)
    cases = [
        (dict(name="Both", user=ann.email, team=sales.name), "target"),
        (dict(name="Neither"), "target"),
        (dict(name="First", user=ann.email), "name"),
        (dict(name="Nobody", user="nobody@leadline.test"), "user"),
        (dict(name="No team", team="Support"), "team"),
        (dict(name="Far", user=ann.email, position=3), "position"),
        (dict(name="Zero", user=ann.email, position=0), "position"),
    ]
    for kwargs, field in cases:
        name = kwargs.pop("name")
        with pytest.raises(ValidationError) as caught:
            rules.add_rule(session, name, [], **kwargs)
        assert caught.value.field == field, (name, caught.value)
    users.deactivate_user(session, boss.email, reassign_to=ann.email)
    with pytest.raises(ValidationError, match="is inactive"):
        rules.add_rule(session, "Gone", [], user=boss.email)
    with pytest.raises(NotFound):
        rules.remove_rule(session, "Missing")


# -- order: first match wins -------------------------------------------------------------------------------


def test_the_first_matching_rule_wins_and_moving_it_changes_the_outcome(session, ann, boss) -> None:
    [bob] = people(session, "bob")
    rules.add_rule(session, "Web", [("lead_source", "equals", "Web Site")], user=ann.email)
    rules.add_rule(session, "Taipei", [("city", "equals", "Taipei")], user=bob.email)
    rules.add_rule(session, "Everything", [], user=boss.email)
    web_taipei = {"lead_source": "Web Site", "city": "Taipei"}
    ids = add_leads(session, [web_taipei, {"city": "Taipei"}, {"city": "Tainan"}])
    assert rules.assign_by_rules(session, ids, AS_OF) == {ids[0]: ann.id, ids[1]: bob.id, ids[2]: boss.id}

    rules.move_rule(session, "Taipei", 1)
    assert [(r.position, r.name) for r in rules.listing(session)] == [(1, "Taipei"), (2, "Web"), (3, "Everything")]
    [again] = add_leads(session, [web_taipei])
    assert rules.assign_by_rules(session, [again], AS_OF) == {again: bob.id}

    rules.set_active(session, "Taipei", False)
    [third] = add_leads(session, [web_taipei])
    assert rules.assign_by_rules(session, [third], AS_OF) == {third: ann.id}

    rules.remove_rule(session, "Web")
    assert [(r.position, r.name, r.active) for r in rules.listing(session)] == [
        (1, "Taipei", False), (2, "Everything", True)]
    rules.add_rule(session, "Front", [], user=ann.email, position=1)
    assert [r.name for r in rules.listing(session)] == ["Front", "Taipei", "Everything"]


# -- teams: round robin with weights, least loaded, caps, absences ------------------------------------------


def test_a_weight_of_2_gives_two_turns_a_round_spread_out(session, boss) -> None:
    a, b, c = people(session, "amy", "ben", "cat")
    sales = team(session, "Sales", boss, [a, b, c], amy={"weight": 2})
    rules.add_rule(session, "All", [], team="Sales")
    ids = add_leads(session, [{} for _ in range(8)])
    got = rules.assign_by_rules(session, ids, AS_OF)
    assert [got[i] for i in ids] == [a.id, b.id, c.id, a.id, a.id, b.id, c.id, a.id]
    session.refresh(sales)
    assert unpack_turn(sales.round_robin_pointer)[0] == 1  # the last turn was amy's second of the round
    assert session.get(Lead, ids[0]).assignment_reason == "rule 'All' → team Sales (round_robin)"


def test_the_pointer_packs_the_round_and_keeps_old_pointers_meaningful() -> None:
    assert pack_turn(0, 42) == 42 and unpack_turn(42) == (0, 42)
    assert unpack_turn(pack_turn(3, 42)) == (3, 42) and pack_turn(3, 42) < 0
    assert unpack_turn(0) == (0, 0)


def fair_shares(total: int, weights: dict[int, int], capped: dict[int, int]) -> dict[int, float]:
    """Each member's fair share: a capped member gets their room, the rest is shared by weight."""
    rest = total - sum(capped.values())
    weight = sum(w for uid, w in weights.items() if uid not in capped)
    return {uid: capped[uid] if uid in capped else rest * w / weight for uid, w in weights.items()}


@pytest.mark.parametrize("runs", [[1000], [137, 400, 263, 200]], ids=["one-run", "four-runs"])
def test_1000_leads_over_7_reps_each_within_one_of_a_fair_share(session, boss, runs) -> None:
    reps = people(session, *(f"rep{i}" for i in range(1, 8)))
    away, capped, heavy = reps[1], reps[3], reps[5]
    sales = team(session, "Sales", boss, reps, rep4={"cap": 90}, rep6={"weight": 2})
    users.set_out_of_office(session, away, AS_OF - dt.timedelta(days=1), AS_OF + dt.timedelta(days=3))
    [held] = add_leads(session, [{"last_name": "Held before"}])
    records.update(session, session.get(Lead, held), {"owner_id": capped.id})  # rep4 has 1 open lead: room for 89
    rules.add_rule(session, "Everyone", [], team=sales.name)
    session.commit()

    given: Counter[int | None] = Counter()
    for n, size in enumerate(runs):
        ids = add_leads(session, [{} for _ in range(size)])
        got = rules.assign_by_rules(session, ids, AS_OF + dt.timedelta(minutes=10 * n))
        session.commit()  # each run its own transaction: the pointer persists in between
        given.update(got.values())

    assert sum(given.values()) == 1000 and None not in given
    assert given[away.id] == 0 and given[capped.id] == 89
    weights = {r.id: 2 if r is heavy else 1 for r in reps if r is not away}
    for uid, share in fair_shares(1000, weights, {capped.id: 89}).items():
        assert abs(given[uid] - share) <= 1, (uid, given[uid], share)


def test_least_loaded_gives_each_lead_to_the_member_with_fewest_open_leads(session, boss) -> None:
    a, b, c = people(session, "amy", "ben", "cat")
    team(session, "Service", boss, [a, b, c], strategy="least_loaded")
    held = add_leads(session, [{} for _ in range(7)])
    for lead_id, owner in zip(held, [a, a, a, a, a, b, b], strict=True):
        records.update(session, session.get(Lead, lead_id), {"owner_id": owner.id})
    records.update(session, session.get(Lead, held[0]), {"status": "Junk Lead"})  # not open: amy holds 4
    rules.add_rule(session, "All", [], team="Service")
    ids = add_leads(session, [{} for _ in range(9)])
    got = rules.assign_by_rules(session, ids, AS_OF)
    assert [got[i] for i in ids[:4]] == [c.id, c.id, b.id, c.id]  # cat 0→1→2, then ties go round in turn
    open_now = Counter(session.scalars(select(Lead.owner_id).where(Lead.owner_id.is_not(None),
                                                                   Lead.status.is_distinct_from("Junk Lead"))))
    assert sorted(open_now.values()) == [5, 5, 5]  # amy got one, ben three, cat five
    assert session.get(Lead, ids[0]).assignment_reason == "rule 'All' → team Service (least_loaded)"


def test_capture_and_rules_share_a_team_s_rotation(session, boss) -> None:
    from crm_store.assignment.round_robin import team_round_robin

    a, b, c = people(session, "amy", "ben", "cat")
    sales = team(session, "Sales", boss, [a, b, c])
    rules.add_rule(session, "All", [], team="Sales")
    assert team_round_robin(session, sales.id, AS_OF).id == a.id  # a web form owned by the team
    ids = add_leads(session, [{}, {}])
    assert list(rules.assign_by_rules(session, ids, AS_OF).values()) == [b.id, c.id]
    assert team_round_robin(session, sales.id, AS_OF).id == a.id


# -- nobody eligible: the manager; no rule: the pool -------------------------------------------------------


def test_a_team_with_nobody_eligible_sends_the_lead_to_its_manager_who_is_told(session, boss) -> None:
    away, full = people(session, "amy", "ben")
    team(session, "Sales", boss, [away, full], ben={"cap": 1})
    users.set_out_of_office(session, away, AS_OF - dt.timedelta(hours=2), None)
    [held] = add_leads(session, [{}])
    records.update(session, session.get(Lead, held), {"owner_id": full.id})
    rules.add_rule(session, "All", [], team="Sales")
    ids = add_leads(session, [{"last_name": "Chen", "first_name": "Mei", "lead_source": "Web Site"}, {}])
    assert rules.assign_by_rules(session, ids, AS_OF) == {ids[0]: boss.id, ids[1]: boss.id}
    lead = session.get(Lead, ids[0])
    assert lead.assignment_reason == ("rule 'All' → team Sales: no member available → manager boss@leadline.test")
    assert lead.assigned_at == AS_OF
    [mail] = mails(session)
    assert mail.recipient == boss.email and mail.context["assigned_by"] == (
        "The assignment rules (nobody in Sales could take them)")
    assert [row["name"] for row in mail.context["leads"]] == ["Mei Chen", "Lead 1"]
    assert mail.context["leads"][0]["source"] == "Web Site"


def test_a_rule_s_user_out_of_office_sends_the_lead_to_their_manager_in_their_language(session, boss) -> None:
    [amy] = people(session, "amy", manager="boss")
    boss.language = "zh_Hant"
    users.set_out_of_office(session, amy, AS_OF - dt.timedelta(days=1), AS_OF + dt.timedelta(days=1))
    rules.add_rule(session, "Amy's", [], user=amy.email)
    [lead] = add_leads(session, [{}])
    assert rules.assign_by_rules(session, [lead], AS_OF) == {lead: boss.id}
    [mail] = mails(session)
    assert mail.language == "zh_Hant" and mail.context["assigned_by"] == "分派規則（Amy 無法接手）"
    [lead_after] = add_leads(session, [{}])
    assert rules.assign_by_rules(session, [lead_after], AS_OF + dt.timedelta(days=2)) == {lead_after: amy.id}


def test_no_rule_matched_the_pool_setting_decides(session, boss, ann) -> None:
    sales = team(session, "Sales", boss, [ann])
    rules.add_rule(session, "Japan", [("country", "equals", "Japan")], team=sales.name)

    company.set_value(session, "unassigned_pool", "BOSS@leadline.test")
    [to_user] = add_leads(session, [{}])
    assert rules.assign_by_rules(session, [to_user], AS_OF) == {to_user: boss.id}
    assert session.get(Lead, to_user).assignment_reason == "no rule matched → unassigned_pool → boss@leadline.test"

    company.set_value(session, "unassigned_pool", "Sales")
    [pooled] = add_leads(session, [{}])
    assert rules.assign_by_rules(session, [pooled], AS_OF) == {pooled: None}
    lead = session.get(Lead, pooled)
    assert lead.owner_id is None and lead.assigned_at is None
    assert lead.assignment_reason == "pool: Sales (no rule matched)"

    company.set_value(session, "unassigned_pool", "")
    [left] = add_leads(session, [{}])
    assert rules.assign_by_rules(session, [left], AS_OF) == {left: None}
    assert session.get(Lead, left).assignment_reason == "no rule matched: left unassigned"

    company.set_value(session, "unassigned_pool", "Nobody team")
    [undecided] = add_leads(session, [{}])
    assert rules.assign_by_rules(session, [undecided], AS_OF) == {}
    assert session.get(Lead, undecided).assignment_reason is None
    assert [m.recipient for m in mails(session)] == [boss.email]  # only the pool user was told


# -- the trail: audit, reasons, reassignment -----------------------------------------------------------------


def test_each_assignment_is_audited_with_its_reason(session, boss, ann) -> None:
    team(session, "Sales", boss, [ann])
    rules.add_rule(session, "Taipei web leads", [("city", "equals", "Taipei")], team="Sales")
    [lead] = add_leads(session, [{"city": "Taipei"}])
    rules.assign_by_rules(session, [lead], AS_OF)
    entry = session.scalar(select(AuditEntry).where(AuditEntry.module == "leads", AuditEntry.record_id == lead,
                                                    AuditEntry.action == "assign"))
    reason = "rule 'Taipei web leads' → team Sales (round_robin)"
    assert entry.changes == {"owner_id": [None, ann.id], "assignment_reason": [None, reason]}
    assert entry.automation == "assignment-rules" and entry.at == AS_OF
    assert entry.record_no == session.get(Lead, lead).lead_no


def test_a_reassignment_skips_the_owner_and_moves_their_open_follow_ups(session, boss) -> None:
    a, b = people(session, "amy", "ben")
    team(session, "Sales", boss, [a, b])
    rules.add_rule(session, "All", [], team="Sales")
    [lead] = add_leads(session, [{}])
    assert rules.assign_by_rules(session, [lead], AS_OF) == {lead: a.id}
    [touch] = session.scalars(select(Activity).where(Activity.lead_id == lead))  # the cadence's first task
    assert touch.owner_id == a.id and touch.cadence_step == 1
    got = rules.assign_by_rules(session, [lead], AS_OF + dt.timedelta(hours=4), reason_prefix="SLA missed",
                                exclude_owner=True)
    assert got == {lead: b.id}
    session.expire_all()
    assert session.get(Activity, touch.id).owner_id == b.id
    assert session.get(Lead, lead).assignment_reason == "rule 'All' → team Sales (round_robin); SLA missed"
    assert session.scalar(select(func.count()).select_from(Activity).where(Activity.lead_id == lead)) == 1


def test_a_lead_changed_since_it_was_read_is_left_alone_and_not_counted(session, ann, boss) -> None:
    [lead_id] = add_leads(session, [{}])
    lead = session.get(Lead, lead_id)
    as_read = {"id": lead.id, "lead_no": lead.lead_no, "first_name": None, "last_name": lead.last_name,
               "company": None, "lead_source": None, "owner_id": None, "assignment_reason": None}
    records.update(session, lead, {"owner_id": boss.id})  # a person took it meanwhile
    decision = Decision(as_read, ann, "rule 'All' → ann@leadline.test", "rule")
    handed = handover.hand_over(session, [decision], AS_OF, Actor.system("assign-leads"))
    assert (handed.written, handed.emails, handed.cadences) == ([], 0, 0)
    session.expire_all()
    assert session.get(Lead, lead_id).owner_id == boss.id
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.automation == "assign-leads")) == 0
    assert mails(session) == []


def test_weighted_is_round_robin_with_weights_and_a_team_form_honours_them(session, boss) -> None:
    from crm_store.assignment.round_robin import team_turns

    a, b = people(session, "amy", "ben")
    sales = team(session, "Sales", boss, [a, b], strategy="weighted", ben={"weight": 3})
    turns = team_turns(session, sales.id, [AS_OF] * 8)  # what a web form owned by the team gets
    assert [u.id for u in turns] == [a.id, b.id, b.id, b.id, a.id, b.id, b.id, b.id]


def test_leads_that_are_not_open_are_not_assigned(session, ann) -> None:
    rules.add_rule(session, "All", [], user=ann.email)
    ids = add_leads(session, [{"status": "Lost Lead"}, {}])
    assert rules.assign_by_rules(session, ids, AS_OF) == {ids[1]: ann.id}
    assert session.get(Lead, ids[0]).owner_id is None


# -- crm rules ------------------------------------------------------------------------------------------------


@pytest.fixture
def crm_rules(crm, monkeypatch):  # noqa: ANN201 - the `crm` runner with `crm rules` registered
    monkeypatch.setitem(main.commands, "rules", rules_group)
    return crm


def error_line(result: Any) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_crm_rules_add_list_move_disable_remove(crm_rules, session, boss, ann) -> None:
    team(session, "北區業務", boss, [ann])
    session.commit()
    out = crm_rules("rules", "add", "Taipei web", "--if", "lead_source", "equals", "Web Site",
                    "--if", "city", "in", "Taipei, New Taipei", "--to-team", "北區業務").output
    assert "Added rule 'Taipei web' at position 1" in out
    crm_rules("rules", "add", "Catch all", "--to-user", "ANN@leadline.test")
    crm_rules("rules", "add", "Empty industry", "--if", "industry", "is_empty", "yes", "--to-user", boss.email,
              "--position", "1")
    lines = crm_rules("rules", "list").output.splitlines()
    assert lines[0].split() == ["#", "NAME", "TARGET", "ACTIVE", "CONDITIONS"]
    assert lines[1].split() == ["1", "Empty", "industry", "user", boss.email, "yes", "industry", "is_empty"]
    assert lines[2].split()[:6] == ["2", "Taipei", "web", "team", "北區業務", "yes"]
    assert lines[2].endswith("lead_source equals Web Site and city in Taipei, New Taipei")
    assert lines[3].split()[:5] == ["3", "Catch", "all", "user", "ann@leadline.test"]
    assert lines[3].endswith("(every lead)")

    crm_rules("rules", "move", "Catch all", "--position", "1")
    crm_rules("rules", "disable", "Taipei web")
    crm_rules("rules", "remove", "Empty industry")
    lines = crm_rules("rules", "list").output.splitlines()[1:]
    assert [line.split()[:2] for line in lines] == [["1", "Catch"], ["2", "Taipei"]]
    assert lines[1].split()[5] == "no"


@pytest.mark.parametrize(("args", "expected"), [
    (("add", "X", "--if", "colour", "equals", "red", "--to-user", "ann@leadline.test"),
     "error: --if: 'colour' is not a lead field"),
    (("add", "X", "--if", "city", "near", "Taipei", "--to-user", "ann@leadline.test"),
     "error: --if: 'near' is not an operator; use one of equals, in, contains, starts_with, is_empty"),
    (("add", "X", "--to-user", "ann@leadline.test", "--to-team", "Sales"),
     "error: --to-user/--to-team: give a user or a team to assign to, not both"),
    (("add", "X", "--to-user", "ghost@leadline.test"), "error: --to-user: no user with email 'ghost@leadline.test'"),
    (("add", "X", "--to-team", "Ghosts"), "error: --to-team: no team named 'Ghosts'"),
    (("add", "X", "--to-user", "ann@leadline.test", "--position", "5"),
     "error: --position: must be a whole number from 1 to 1 (got 5)"),
    (("move", "Nope", "--position", "1"), "error: no assignment rule named 'Nope'"),
])
def test_crm_rules_errors_name_the_option(crm_rules, session, ann, args, expected) -> None:
    session.commit()
    line = error_line(crm_rules("rules", *args, ok=False))
    assert line.startswith(expected), line
