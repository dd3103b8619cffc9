"""Configuration as data: `crm config export` / `crm config import FILE [--dry-run]`.

The round trip (export, import into a fresh store with the same people, export again: the same bytes), a
dry run writing nothing, all or nothing, sections left out left alone, every kind of bad file reported
with its path and line, and the command end to end. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.assignment import rules
from crm_store.cli import main
from crm_store.cli.config import config as config_group
from crm_store.db.engine import make_engine, session_factory
from crm_store.models import (
    AssignmentRule,
    AuditEntry,
    Cadence,
    SalesProcess,
    SalesStage,
    StagePlaybook,
    Team,
    TeamMember,
)
from crm_store.settings import company, config_file
from crm_store.settings.config_checks import ConfigProblems, dotted
from crm_store.staff import teams, users

ROOT = Path(__file__).resolve().parent.parent
ACTOR = Actor.system("cli")


# -- stores ------------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_url(template: str, tmp_path: Path) -> Iterator[str]:
    """A second copy of the seeded template: the empty store a configuration is imported into."""
    if template.startswith("sqlite"):
        target = tmp_path / "fresh.db"
        shutil.copy(template.removeprefix("sqlite:///"), target)
        yield f"sqlite:///{target}"
        return
    server, name = template.rsplit("/", 1)[0], f"f_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}" template crm_template'))
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture
def fresh(fresh_url: str) -> Iterator[Session]:
    """A session on the fresh store."""
    engine = make_engine(fresh_url)
    with session_factory(engine)() as s:
        yield s
    engine.dispose()


def staff(session: Session) -> None:
    """The people both stores share: a manager, three reps, the teams "Sales North" and "銷售二組"."""
    boss = users.add_user(session, "boss@leadline.test", "Boss", role="manager", welcome=False)
    reps = [users.add_user(session, f"rep{i}@leadline.test", f"Rep {i}", welcome=False) for i in (1, 2, 3)]
    north = teams.add_team(session, "Sales North", boss.email)
    for rep in reps[:2]:
        teams.add_member(session, north, rep.email)
    teams.add_member(session, teams.add_team(session, "銷售二組", boss.email), reps[2].email)
    session.commit()


def stage(session: Session, process: str, name: str) -> SalesStage:
    return session.scalars(select(SalesStage).join(SalesProcess).where(
        SalesProcess.name == process, SalesStage.name == name)).one()


def playbook(session: Session, process: str, name: str, guidance: dict[str, str], tasks: list[dict[str, Any]],
             active: bool = True) -> None:
    """Give a stage this playbook (whether or not the seed gave it one)."""
    stage_id = stage(session, process, name).id
    row = session.scalar(select(StagePlaybook).where(StagePlaybook.stage_id == stage_id))
    if row is None:
        row = StagePlaybook(stage_id=stage_id)
        session.add(row)
    row.guidance, row.tasks, row.active = guidance, tasks, active


def customize(session: Session) -> None:
    """Change every section from its seeded defaults: rules, a team's strategy and weights, a cadence, ..."""
    rules.add_rule(session, "Taiwan and Hong Kong", [("country", "in", "TW, HK")], team="Sales North")
    rules.add_rule(session, "Norway", [{"field": "country", "op": "equals", "value": "NO"}], user="rep3@leadline.test")
    rules.add_rule(session, "展覽名單", [("lead_source", "equals", "Trade Show"), ("email", "is_empty", "no")],
                   team="銷售二組", active=False)
    north = teams.find_team(session, "Sales North")
    north.assignment_strategy = "weighted"
    teams.add_member(session, north, "rep1@leadline.test", weight=3, cap=40)
    session.add(Cadence(name="Hot leads", offsets=[0, 1, 2], is_default=False))
    playbook(session, "Standard Sales", "Negotiation or Review",
             {"en": "Agree the terms.\nConfirm who signs.", "zh_Hant": "確認條款與簽約人。"},
             [{"subject": {"en": "Send the contract", "zh_Hant": "寄送合約"}, "offset_days": 0, "priority": "High"},
              {"subject": {"en": "Chase the signature"}, "offset_days": 3}])
    playbook(session, "Project Sales", "Proposal", {"en": "Price it."}, [], active=False)
    company.set_value(session, "holidays", "2026-10-10,2026-01-01")
    company.set_value(session, "sla_reassign", "on")
    company.set_value(session, "unassigned_pool", "銷售二組")
    company.set_value(session, "working_hours", "08:30-17:30")
    stage(session, "Standard Sales", "Prospecting").rotting_days = 7
    session.commit()


def import_text(session: Session, content: str, *, dry_run: bool = False) -> config_file.Plan:
    """Check and (unless a dry run) apply a file's text, committing what it changed."""
    checked = config_file.plan(session, config_file.parse(content, "automation.yaml"))
    if not dry_run:
        config_file.apply(session, checked, ACTOR)
        session.commit()
    return checked


def problems_of(session: Session, content: str) -> str:
    with pytest.raises(ConfigProblems) as caught:
        import_text(session, content)
    session.rollback()
    return str(caught.value)


# -- the round trip ----------------------------------------------------------------------------------------


def test_export_then_import_into_a_fresh_store_then_export_gives_the_same_bytes(session: Session,
                                                                                 fresh: Session) -> None:
    staff(session)
    customize(session)
    first = config_file.export_text(session)
    staff(fresh)
    untouched = config_file.export_text(fresh)
    assert untouched != first

    checked = import_text(fresh, first)
    assert checked.changes["assignment_rules"].added == 3
    assert checked.changes["cadences"].added == 1
    assert config_file.export_text(fresh).encode("utf-8") == first.encode("utf-8")
    assert not import_text(fresh, first).changed  # a second import changes nothing

    assert "確認條款與簽約人。" in first and "銷售二組" in first and "\\u" not in first  # Chinese kept readable
    data = yaml.safe_load(first)
    assert list(data) == ["version", "assignment_rules", "teams", "cadences", "playbooks", "thresholds"]
    assert [r["name"] for r in data["assignment_rules"]] == ["Taiwan and Hong Kong", "Norway", "展覽名單"]
    assert data["assignment_rules"][1]["conditions"] == [{"field": "country", "op": "equals", "value": "NO"}]
    assert data["teams"]["Sales North"] == {"assignment_strategy": "weighted", "members": {
        "rep1@leadline.test": {"weight": 3, "open_lead_cap": 40}, "rep2@leadline.test": {"weight": 1}}}
    tasks = data["playbooks"]["Standard Sales"]["Negotiation or Review"]["tasks"]
    assert tasks[0] == {"subject": {"en": "Send the contract", "zh_Hant": "寄送合約"}, "offset_days": 0,
                        "priority": "High"}
    assert data["thresholds"]["rotting_days"]["Standard Sales"]["Prospecting"] == 7
    assert "Closed Won" not in data["thresholds"]["rotting_days"]["Standard Sales"]  # closed stages never rot

    rule = fresh.scalars(select(AssignmentRule).where(AssignmentRule.name == "Norway")).one()
    assert rule.position == 2 and rule.conditions == [{"field": "country", "op": "equals", "value": "NO"}]
    assert company.get(fresh, "unassigned_pool") == "銷售二組" and company.get(fresh, "sla_reassign") is True


def test_the_export_starts_with_a_header_and_is_the_same_each_time(session: Session) -> None:
    staff(session)
    customize(session)
    exported = config_file.export_text(session)
    assert exported.startswith("# Leadline automation configuration")
    assert "A section left out of the file is left as it is" in exported
    assert config_file.export_text(session) == exported


def test_yaml_1_1_booleans_and_dates_stay_text(session: Session) -> None:
    staff(session)
    import_text(session, """\
assignment_rules:
  - name: Norway
    conditions: [{field: country, op: equals, value: NO}, {field: state, op: in, value: [on, off]}]
    user: rep1@leadline.test
thresholds:
  holidays: [2026-10-10]
""")
    rule = session.scalars(select(AssignmentRule)).one()
    assert rule.conditions == [{"field": "country", "op": "equals", "value": "NO"},
                               {"field": "state", "op": "in", "value": ["on", "off"]}]
    assert company.get(session, "holidays") == ["2026-10-10"]
    import_text(session, "thresholds:\n  holidays:\n  unassigned_pool: ~\n")  # empty: none
    assert company.get(session, "holidays") == [] and company.get(session, "unassigned_pool") == ""


# -- what an import replaces, and what it leaves alone --------------------------------------------------------


def test_sections_left_out_are_left_alone(session: Session) -> None:
    staff(session)
    customize(session)
    before = yaml.safe_load(config_file.export_text(session))
    checked = import_text(session, "thresholds:\n  sla_hours: 8\n")
    assert set(checked.changes) == {"thresholds"}
    assert checked.changes["thresholds"] == config_file.Counts(changed=1)
    after = yaml.safe_load(config_file.export_text(session))
    assert after["thresholds"]["sla_hours"] == 8
    assert after["thresholds"]["holidays"] == ["2026-01-01", "2026-10-10"]  # keys left out: as they were
    assert {k: v for k, v in after.items() if k != "thresholds"} == {k: v for k, v in before.items()
                                                                       if k != "thresholds"}


def test_lists_in_the_file_replace_the_stores(session: Session) -> None:
    staff(session)
    customize(session)
    playbooks = session.scalar(select(func.count()).select_from(StagePlaybook)) or 0
    checked = import_text(session, """\
assignment_rules:
  - name: Norway
    conditions: [{field: country, op: equals, value: NO}]
    user: rep2@leadline.test
  - name: Everything else
    team: 銷售二組
cadences:
  - {name: Hot leads, offsets: [0, 2], default: true}
playbooks: {}
""")
    assert checked.changes["assignment_rules"] == config_file.Counts(added=1, changed=1, removed=2)
    assert checked.changes["cadences"] == config_file.Counts(changed=1, removed=1)
    assert checked.changes["playbooks"] == config_file.Counts(removed=playbooks)
    assert [(r.position, r.name) for r in session.scalars(select(AssignmentRule).order_by(AssignmentRule.position))
            ] == [(1, "Norway"), (2, "Everything else")]
    assert [(c.name, c.offsets, c.is_default) for c in session.scalars(select(Cadence))] == [
        ("Hot leads", [0, 2], True)]
    assert session.scalar(select(func.count()).select_from(StagePlaybook)) == 0


def test_an_import_is_audited_with_what_it_changed(session: Session) -> None:
    staff(session)
    import_text(session, "cadences:\n  - {name: Default, offsets: [0, 2, 4], default: true}\n")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.module == "config")).one()
    assert (entry.action, entry.automation) == ("import", "cli")
    assert entry.changes == {"file": "automation.yaml", "cadences": {"added": 0, "changed": 1, "removed": 0}}


# -- dry run; all or nothing -----------------------------------------------------------------------------------


CHANGES_EVERYTHING = """\
assignment_rules:
  - {name: All leads, team: Sales North}
teams:
  Sales North: {assignment_strategy: least_loaded}
cadences:
  - {name: Slow, offsets: [0, 5, 10], default: true}
thresholds:
  lead_aging_days: 3
  sla_hours: {SLA_HOURS}
"""


def snapshot(session: Session) -> tuple[str, int]:
    """The store's configuration and the length of its audit trail (the read transaction ended after)."""
    session.expire_all()
    found = config_file.export_text(session), session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    session.rollback()
    return found


def test_a_dry_run_says_what_would_change_and_writes_nothing(session: Session) -> None:
    staff(session)
    customize(session)
    before = snapshot(session)
    checked = import_text(session, CHANGES_EVERYTHING.replace("{SLA_HOURS}", "2"), dry_run=True)
    assert checked.changes == {
        "assignment_rules": config_file.Counts(added=1, removed=3), "teams": config_file.Counts(changed=1),
        "cadences": config_file.Counts(added=1, removed=2), "thresholds": config_file.Counts(changed=2),
    }
    session.commit()
    assert snapshot(session) == before


def test_a_problem_in_the_last_section_leaves_the_first_ones_unchanged(session: Session) -> None:
    staff(session)
    customize(session)
    before = snapshot(session)
    message = problems_of(session, CHANGES_EVERYTHING.replace("{SLA_HOURS}", "0"))
    assert "line 9: thresholds.sla_hours: must be from 1 to 720" in message
    assert snapshot(session) == before
    assert session.scalar(select(Team.assignment_strategy).where(Team.name == "Sales North")) == "weighted"


def test_every_problem_is_reported_at_once_in_the_order_of_the_file(session: Session) -> None:
    staff(session)
    message = problems_of(session, """\
thresholds:
  sla_hours: many
cadences:
  - {name: Default, offsets: [0, -1], default: true}
assignment_rules:
  - {name: X, user: ghost@leadline.test}
""")
    lines = message.splitlines()
    assert lines[0] == "automation.yaml: 3 problems, nothing was imported:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["line 2", "line 4", "line 6"]
    assert "cadences[0].offsets[1]: must be a whole number from 0 to 365 (got -1)" in lines[2]


# -- every kind of bad file ---------------------------------------------------------------------------------------


BAD = {
    "bad YAML": ("assignment_rules:\n  - name: x\n   user: [\n",
                 "line 3, column 4: not valid YAML (expected <block end>"),
    "empty file": ("", "must be a mapping with the keys version, assignment_rules"),
    "alias": ("cadences: &c []\nplaybooks: *c\n", "line 2, column 12: YAML aliases (*c) are not allowed"),
    "duplicate key": ("thresholds:\n  sla_hours: 4\n  sla_hours: 5\n",
                      "line 3: thresholds.sla_hours: given twice (first on line 2)"),
    "no section": ("version: 1\n", "holds no section"),
    "wrong version": ("version: 2\nthresholds: {}\n", "line 1: version: must be 1"),
    "unknown top key": ("thresholdz: {}\n", "line 1: thresholdz: unknown key; use version, assignment_rules"),
    "unknown rule key": ("assignment_rules:\n  - name: A\n    nmae: B\n    user: rep1@leadline.test\n",
                         "line 3: assignment_rules[0].nmae: unknown key; use name, conditions, user, team, active"),
    "rules not a list": ("assignment_rules: {name: A}\n", "line 1: assignment_rules: must be a list of rules"),
    "rule without name": ("assignment_rules:\n  - user: rep1@leadline.test\n",
                          "line 2: assignment_rules[0]: name is missing"),
    "empty rule name": ("assignment_rules:\n  - {name: '  ', user: rep1@leadline.test}\n",
                        "line 2: assignment_rules[0].name: must not be empty"),
    "duplicate rule name": ("assignment_rules:\n  - {name: A, team: Sales North}\n  - {name: A, team: 銷售二組}\n",
                            "line 3: assignment_rules[1].name: another rule has this name (assignment_rules[0])"),
    "unknown user": ("assignment_rules:\n  - name: A\n    user: ghost@leadline.test\n",
                     "line 3: assignment_rules[0].user: no user with email 'ghost@leadline.test'"),
    "inactive user": ("assignment_rules:\n  - name: A\n    user: gone@leadline.test\n",
                      "line 3: assignment_rules[0].user: gone@leadline.test is inactive"),
    "unknown team in a rule": ("assignment_rules:\n  - name: A\n    team: Sales South\n",
                               "line 3: assignment_rules[0].team: no team named 'Sales South'"),
    "user and team": ("assignment_rules:\n  - {name: A, user: rep1@leadline.test, team: Sales North}\n",
                      "line 2: assignment_rules[0]: give the user (an email) or the team (a name)"),
    "bad operator": ("assignment_rules:\n  - name: A\n    conditions:\n      - {field: country, op: equal, value: TW}\n"
                     "    team: Sales North\n",
                     "line 4: assignment_rules[0].conditions[0].op: 'equal' is not an operator; use one of equals"),
    "bad condition field": ("assignment_rules:\n  - name: A\n    conditions:\n      - {field: planet, op: equals, "
                            "value: Mars}\n    team: Sales North\n",
                            "line 4: assignment_rules[0].conditions[0].field: 'planet' is not a lead field"),
    "condition without value": ("assignment_rules:\n  - name: A\n    conditions:\n      - {field: city, op: in, "
                                "value: []}\n    team: Sales North\n",
                                "line 4: assignment_rules[0].conditions[0].value: city in needs a value"),
    "active not a boolean": ("assignment_rules:\n  - {name: A, team: Sales North, active: yes}\n",
                             "line 2: assignment_rules[0].active: must be true or false (got 'yes')"),
    "unknown team": ("teams:\n  Sales South: {assignment_strategy: weighted}\n",
                     "line 2: teams.\"Sales South\": no team named 'Sales South'"),
    "bad strategy": ("teams:\n  Sales North:\n    assignment_strategy: random\n",
                     "line 3: teams.\"Sales North\".assignment_strategy: 'random' is not one of round_robin"),
    "not a member": ("teams:\n  Sales North:\n    members:\n      rep3@leadline.test: {weight: 2}\n",
                     "line 4: teams.\"Sales North\".members.\"rep3@leadline.test\": rep3@leadline.test is not a "
                     "member of this team"),
    "zero weight": ("teams:\n  Sales North:\n    members:\n      rep1@leadline.test: {weight: 0}\n",
                    "line 4: teams.\"Sales North\".members.\"rep1@leadline.test\".weight: must be a whole number "
                    "from 1 to 1000 (got 0)"),
    "two default cadences": ("cadences:\n  - {name: A, offsets: [0], default: true}\n"
                             "  - {name: B, offsets: [1], default: true}\n",
                             "line 1: cadences: exactly one cadence must have default: true (found 2: A, B)"),
    "no default cadence": ("cadences:\n  - {name: A, offsets: [0]}\n",
                           "line 1: cadences: exactly one cadence must have default: true (found none)"),
    "duplicate cadence": ("cadences:\n  - {name: A, offsets: [0], default: true}\n  - {name: A, offsets: [1]}\n",
                          "line 3: cadences[1].name: another cadence has this name (cadences[0])"),
    "offsets as text": ("cadences:\n  - {name: A, offsets: '0,1,3', default: true}\n",
                        "line 2: cadences[0].offsets: must be a list of working days"),
    "offsets out of order": ("cadences:\n  - name: A\n    offsets: [0, 3, 3]\n    default: true\n",
                             "line 3: cadences[0].offsets[2]: must come after the touch before it (3 after 3)"),
    "offset too far": ("cadences:\n  - name: A\n    offsets:\n      - 0\n      - 400\n    default: true\n",
                       "line 5: cadences[0].offsets[1]: must be a whole number from 0 to 365 (got 400)"),
    "unknown process": ("playbooks:\n  Retail Sales: {}\n",
                        "line 2: playbooks.\"Retail Sales\": no sales process named 'Retail Sales'"),
    "unknown stage": ("playbooks:\n  Standard Sales:\n    Negotiation: {tasks: []}\n",
                      "line 3: playbooks.\"Standard Sales\".Negotiation: no stage named 'Negotiation' in this "
                      "process; its stages are Prospecting, Qualification"),
    "negative task offset": ("playbooks:\n  Standard Sales:\n    Negotiation or Review:\n      tasks:\n"
                             "        - subject: Call\n          offset_days: -1\n",
                             "line 6: playbooks.\"Standard Sales\".\"Negotiation or Review\".tasks[0].offset_days: "
                             "must be a whole number from 0 to 365 (got -1)"),
    "fractional task offset": ("playbooks:\n  Standard Sales:\n    Prospecting:\n      tasks:\n"
                               "        - {subject: Call, offset_days: 1.5}\n",
                               "line 5: playbooks.\"Standard Sales\".Prospecting.tasks[0].offset_days: must be a "
                               "whole"),
    "task without offset": ("playbooks:\n  Standard Sales:\n    Prospecting:\n      tasks:\n        - subject: Call\n",
                            "line 5: playbooks.\"Standard Sales\".Prospecting.tasks[0]: offset_days is missing"),
    "subject without English": ("playbooks:\n  Standard Sales:\n    Prospecting:\n      tasks:\n"
                                "        - subject: {zh_Hant: 打電話}\n          offset_days: 0\n",
                                "line 5: playbooks.\"Standard Sales\".Prospecting.tasks[0].subject: needs a subject "
                                "in English"),
    "subject on two lines": ("playbooks:\n  Standard Sales:\n    Prospecting:\n      tasks:\n"
                             "        - subject: {en: \"Call\\nthem\"}\n          offset_days: 0\n",
                             "line 5: playbooks.\"Standard Sales\".Prospecting.tasks[0].subject.en: must be one line"),
    "unknown priority": ("playbooks:\n  Standard Sales:\n    Prospecting:\n      tasks:\n"
                         "        - {subject: Call, offset_days: 0, priority: Urgent}\n",
                         "line 5: playbooks.\"Standard Sales\".Prospecting.tasks[0].priority: 'Urgent' is not a value "
                         "of the task_priority picklist (High, Medium, Low)"),
    "unknown language": ("playbooks:\n  Standard Sales:\n    Prospecting:\n      guidance:\n        en: Call.\n"
                         "        fr: Appelez.\n",
                         "line 6: playbooks.\"Standard Sales\".Prospecting.guidance.fr: unknown key; use en, zh_Hant"),
    "bad setting value": ("thresholds:\n  lead_aging_days: 0\n",
                          "line 2: thresholds.lead_aging_days: must be from 1 to 3650"),
    "setting not on/off": ("thresholds:\n  sla_reassign: sometimes\n",
                           "line 2: thresholds.sla_reassign: 'sometimes' is not on/off"),
    "bad working hours": ("thresholds:\n  working_hours: 18:00-09:00\n",
                          "line 2: thresholds.working_hours: must end after it starts"),
    "bad holiday": ("thresholds:\n  holidays: [2026-01-01, 2026-02-30]\n",
                    "line 2: thresholds.holidays: '2026-02-30' is not a date like 2026-01-01"),
    "bad weekday": ("thresholds:\n  working_days: [mon, funday]\n", "line 2: thresholds.working_days: use weekday"),
    "setting without a value": ("thresholds:\n  lead_cold_days:\n", "line 2: thresholds.lead_cold_days: needs a value"),
    "setting as a list": ("thresholds:\n  sla_hours: [4]\n", "line 2: thresholds.sla_hours: must be one value"),
    "company setting outside thresholds": ("thresholds:\n  company_name: Acme\n",
                                           "line 2: thresholds.company_name: unknown key"),
    "pool names nobody": ("thresholds:\n  unassigned_pool: ghost@leadline.test\n",
                          "line 2: thresholds.unassigned_pool: no user with email 'ghost@leadline.test'"),
    "rotting on a closed stage": ("thresholds:\n  rotting_days:\n    Standard Sales:\n      Closed Won: 10\n",
                                  "line 4: thresholds.rotting_days.\"Standard Sales\".\"Closed Won\": a closed (won or "
                                  "lost) stage does not rot"),
    "rotting of an unknown stage": ("thresholds:\n  rotting_days:\n    Standard Sales:\n      Closing: 10\n",
                                    "line 4: thresholds.rotting_days.\"Standard Sales\".Closing: no stage named"),
    "negative rotting days": ("thresholds:\n  rotting_days:\n    Project Sales:\n      Proposal: -3\n",
                              "line 4: thresholds.rotting_days.\"Project Sales\".Proposal: must be a whole number "
                              "from 1 to 3650 (got -3)"),
}


@pytest.mark.parametrize("content, expected", BAD.values(), ids=BAD.keys())
def test_a_bad_file_is_refused_naming_the_path_and_line(session: Session, content: str, expected: str) -> None:
    staff(session)
    users.add_user(session, "gone@leadline.test", "Gone", welcome=False)
    users.deactivate_user(session, "gone@leadline.test")
    session.commit()
    before = snapshot(session)
    message = problems_of(session, content)
    assert message.startswith("automation.yaml: 1 problem, nothing was imported:\n  "), message
    assert expected in message
    assert snapshot(session) == before


def test_an_inactive_rule_may_name_an_inactive_user(session: Session) -> None:
    staff(session)
    users.add_user(session, "gone@leadline.test", "Gone", welcome=False)
    users.deactivate_user(session, "gone@leadline.test")
    session.commit()
    import_text(session, "assignment_rules:\n  - {name: Old, user: GONE@leadline.test, active: false}\n")
    assert session.scalars(select(AssignmentRule.name)).all() == ["Old"]


def test_paths_quote_what_is_not_a_plain_name() -> None:
    path = ("playbooks", "Standard Sales", "Negotiation or Review", "tasks", 1, "offset_days")
    assert dotted(path) == 'playbooks."Standard Sales"."Negotiation or Review".tasks[1].offset_days'
    assert dotted(("teams", 'say "hi"')) == 'teams."say \\"hi\\""'


def test_a_file_that_is_not_a_regular_utf8_file_is_refused(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("thresholds: {unassigned_pool: Caf\u00e9}\n".encode("latin-1"))
    with pytest.raises(ConfigProblems, match="is not UTF-8 text"):
        config_file.read_file(latin)
    with pytest.raises(ConfigProblems, match="is not a regular file"):
        config_file.read_file(tmp_path)
    with pytest.raises(ConfigProblems, match="No such file"):
        config_file.read_file(tmp_path / "missing.yaml")


# -- crm config ---------------------------------------------------------------------------------------------------


@pytest.fixture
def crm_config(crm: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The `crm` runner with `crm config` registered (as its entry point does once installed)."""
    monkeypatch.setitem(main.commands, "config", config_group)
    return crm


def test_crm_config_is_declared_as_a_crm_command() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["leadline.cli"]
    assert declared["config"] == "crm_store.cli.config:config"


def test_crm_config_round_trip_end_to_end(crm_config: Any, session: Session, fresh_url: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    staff(session)
    customize(session)
    exported = tmp_path / "automation.yaml"
    assert "Wrote the configuration to" in crm_config("config", "export", str(exported)).output
    assert crm_config("config", "export").stdout_bytes == exported.read_bytes()  # standard output: the same bytes

    monkeypatch.setenv("CRM_DATABASE_URL", fresh_url)
    engine = make_engine(fresh_url)
    with session_factory(engine)() as fresh:
        staff(fresh)
    engine.dispose()
    dry = crm_config("config", "import", str(exported), "--dry-run").output
    assert "Dry run:" in dry and "nothing was changed" in dry
    rows = {line.split()[0]: line.split()[1:] for line in dry.splitlines()[1:6]}
    assert rows["assignment_rules"] == ["3", "0", "0"] and rows["cadences"] == ["1", "0", "0"]
    assert crm_config("config", "export").stdout_bytes != exported.read_bytes()  # the dry run wrote nothing

    done = crm_config("--as", "boss@leadline.test", "config", "import", str(exported)).output
    assert f"Imported {exported}." in done
    again = tmp_path / "again.yaml"
    crm_config("config", "export", str(again))
    assert again.read_bytes() == exported.read_bytes()
    engine = make_engine(fresh_url)
    with session_factory(engine)() as fresh:
        entry = fresh.scalars(select(AuditEntry).where(AuditEntry.module == "config")).one()
        boss = fresh.scalars(select(users.User).where(users.User.email == "boss@leadline.test")).one()
        assert entry.user_id == boss.id and entry.changes["assignment_rules"]["added"] == 3
        assert fresh.scalar(select(func.count()).select_from(TeamMember).where(TeamMember.weight == 3)) == 1
    engine.dispose()


def test_crm_config_import_prints_every_problem_and_exits_1(crm_config: Any, session: Session, tmp_path: Path) -> None:
    staff(session)
    bad = tmp_path / "bad.yaml"
    bad.write_text("playbooks:\n  Standard Sales:\n    Negotiation or Review:\n      tasks:\n"
                   "        - {subject: Call, offset_days: 400}\nthresholds:\n  idle_days_mode: lunar\n",
                   encoding="utf-8")
    before = snapshot(session)
    result = crm_config("config", "import", str(bad), ok=False)
    assert snapshot(session) == before
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {bad}: 2 problems, nothing was imported:",
        '  line 5: playbooks."Standard Sales"."Negotiation or Review".tasks[0].offset_days: must be a whole number '
        "from 0 to 365 (got 400)",
        "  line 7: thresholds.idle_days_mode: 'lunar' is not one of calendar, working",
    ]


def test_crm_config_help_shows_an_example(crm_config: Any) -> None:
    out = crm_config("config", "import", "--help").output
    assert "--dry-run" in out and "crm config export automation.yaml" in out and "assignment_rules:" in out
