"""The CLI as people read it: tables that line up in Chinese, who is acting, a history in names, what a
duplicate matched on, one-line usage mistakes, progress in logs, and a closed pipe that neither lies nor
leaves a traceback."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.actor import Actor, describe_automation
from crm_store.capture import forms as webforms
from crm_store.cli import main, output
from crm_store.cli.output import Column, cut, table, width
from crm_store.mail import outbox
from crm_store.models import AuditEntry, Lead, User, WebForm
from crm_store.records import lifecycle as records
from crm_store.staff import users

ROOT = Path(__file__).resolve().parent.parent
LIN, TRADING = "林美玲", "台北貿易股份有限公司"
LONG_EMAIL = "amy.lin.of.the.taipei.office@example-trading-company.com.tw"


def columns(text: str) -> int:
    """Terminal columns a string takes, counted here independently: W and F characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def starts(line: str, cells: Sequence[str]) -> tuple[int, ...]:
    """The terminal column at which each of `cells` begins in `line`, read from left to right."""
    found, at = [], 0
    for cell in cells:
        i = line.index(cell, at)
        found.append(columns(line[:i]))
        at = i + len(cell)
    return tuple(found)


def assert_lined_up(rows: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Every (line, cells) pair has its cells at the same terminal columns as the first (the header)."""
    seen = {starts(line, cells) for line, cells in rows}
    assert len(seen) == 1, "\n" + "\n".join(line for line, _ in rows)


def line_with(out: str, text: str) -> str:
    return next(line for line in out.splitlines() if text in line)


def add_user(session: Session, email: str, name: str, **kw: object) -> User:
    user = users.add_user(session, email, name, welcome=False, **kw)
    session.commit()
    return user


# -- the table helper ------------------------------------------------------------------------------------

def test_width_counts_wide_characters_twice_and_cuts_by_width() -> None:
    assert width(LIN) == 6 and width("Amy") == 3 and width("ＡＢ") == 4 and width("é") == 1
    assert cut(TRADING, 11) == "台北貿易股…" and columns(cut(TRADING, 11)) == 11
    assert cut(TRADING, 10) == "台北貿易…"  # half a character does not fit: one column stays free
    assert cut("A very long company name", 10) == "A very lo…"
    assert cut(TRADING, 20) == TRADING
    assert cut(f"{TRADING} · {LONG_EMAIL}", 12) == f"{TRADING} · {LONG_EMAIL}"  # an email is never cut


def test_table_lines_up_chinese_and_latin_cells_under_their_headers() -> None:
    cols = (Column("NAME", 12), Column("EMAIL"), Column("N", right=True), Column("NOTE"))
    lines = table(cols, [(LIN, "lin@example.com", 3, "ok"), ("Amy Lin", LONG_EMAIL, 12, None),
                         (TRADING, "x@example.com", 100, "cut")])
    assert lines[0].split() == ["NAME", "EMAIL", "N", "NOTE"]
    assert lines[3].startswith("台北貿易股…")
    assert_lined_up([(lines[0], ["NAME", "EMAIL"]), (lines[1], [LIN, "lin@example.com"]),
                     (lines[2], ["Amy Lin", LONG_EMAIL]), (lines[3], ["台北貿易股…", "x@example.com"])])
    assert {columns(line[: line.index(n) + len(n)]) for line, n in zip(lines[1:], ("3", "12", "100"), strict=True)} \
        == {columns(lines[0][: lines[0].index(" N") + 2])}  # numbers end under the end of their header
    assert lines[2].rstrip() == lines[2]  # no trailing blanks where the last cell is empty
    assert table((Column("A"), Column("B")), [("two\nlines", "S\ud800")])[1] == "two lines  S\ud800"


# -- every list command ------------------------------------------------------------------------------------

def test_forms_list_lines_up_chinese_names(crm, session: Session, web_form: WebForm, reps: list[User]) -> None:
    crm("forms", "add", "林美玲的表單", "--owner", reps[0].email, "--language", "zh_Hant")
    crm("forms", "add", "台北貿易股份有限公司網站詢價表單（中文版）", "--owner", reps[1].email)
    header, *rows = crm("forms", "list").output.splitlines()
    forms = session.execute(select(WebForm.name, WebForm.public_id, WebForm.language)).all()
    session.commit()
    lines = [(header, ["PUBLIC ID", "STATE", "LANG", "OWNER"])]
    for name, public_id, language in forms:
        line = line_with("\n".join(rows), public_id)
        assert line.startswith(cut(name, 28))
        lines.append((line, [public_id, "enabled", language]))
    assert any("…" in line for line, _ in lines)  # the long name was cut at 28 columns
    assert_lined_up([(line, cells[:3]) for line, cells in lines])


def test_users_list_has_headers_lines_up_and_keeps_long_emails_whole(crm, session: Session) -> None:
    boss = add_user(session, "boss@example.com", "陳大文", role="manager")
    add_user(session, "lin@example.com", LIN, manager_email=boss.email)
    add_user(session, LONG_EMAIL, "Amy Lin")
    header, *rows = crm("users", "list").output.splitlines()
    assert header.split() == ["ID", "EMAIL", "NAME", "ROLE", "LANGUAGE", "STATE", "MANAGER"]
    lin, amy, chen = line_with("\n".join(rows), LIN), line_with("\n".join(rows), "Amy Lin"), line_with(
        "\n".join(rows), "陳大文")
    assert LONG_EMAIL in amy and lin.endswith("boss@example.com")
    assert_lined_up([(header, ["EMAIL", "NAME", "ROLE"]), (lin, ["lin@example.com", LIN, "rep"]),
                     (amy, [LONG_EMAIL, "Amy Lin", "rep"]), (chen, ["boss@example.com", "陳大文", "manager"])])


def test_bin_settings_documents_and_mail_status_line_up(crm, session: Session, tmp_path: Path) -> None:
    binned = {}
    for name in (LIN, "Amy Lin", TRADING):
        lead = records.create_lead(session, {"last_name": name})
        records.delete(session, lead)
        binned[lead.lead_no] = name
    outbox.enqueue(session, "test_message", "lin@example.com", key="a", context={}, to_staff=True)
    outbox.enqueue(session, "test_message", LONG_EMAIL, key="b", context={}, to_staff=True)
    session.commit()
    out = crm("bin", "list").output
    header = out.splitlines()[0]
    assert header.split() == ["NUMBER", "NAME", "DELETED"]
    assert_lined_up([(header, ["NUMBER", "NAME", "DELETED"]),
                     *((line_with(out, number), [number, name, "20"]) for number, name in binned.items())])

    crm("settings", "set", "company_name", TRADING)
    listed = crm("settings", "list").output.splitlines()
    company, stale = line_with("\n".join(listed), "company_name"), line_with("\n".join(listed), "lead_stale_days")
    assert_lined_up([(listed[0], ["KEY", "VALUE", "WHAT IT IS"]), (company, ["company_name", TRADING, "Name"]),
                     (stale, ["lead_stale_days", "30", "Days"])])

    pdf = tmp_path / "報價單.pdf"
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    lead = records.create_lead(session, {"last_name": LIN})
    session.commit()
    crm("documents", "add", lead.lead_no, str(pdf), "--title", "報價")
    docs = crm("documents", "list", lead.lead_no).output.splitlines()
    assert docs[0].split() == ["NUMBER", "ADDED", "SIZE", "TYPE", "FILE", "TITLE"]
    assert_lined_up([(docs[0], ["NUMBER", "ADDED"]), (docs[1], ["DOC1", "20"])])
    assert "報價單.pdf" in docs[1] and "“報價”" in docs[1]

    mail = crm("mail", "status").output.splitlines()
    head = line_with("\n".join(mail), "RECIPIENT")
    assert head.split()[:4] == ["ID", "STATUS", "TEMPLATE", "RECIPIENT"]
    assert_lined_up([(head, ["STATUS", "TEMPLATE", "RECIPIENT"]),
                     (line_with("\n".join(mail), "lin@example.com"), ["queued", "test_message", "lin@example.com"]),
                     (line_with("\n".join(mail), LONG_EMAIL), ["queued", "test_message", LONG_EMAIL])])


# -- who is acting ----------------------------------------------------------------------------------------

def _twins(session: Session) -> tuple[Lead, Lead]:
    first = records.create_lead(session, {"last_name": LIN, "email": "mei@example.com"})
    second = records.create_lead(session, {"last_name": "林", "first_name": "美玲", "email": "MEI@example.com"})
    session.commit()
    return first, second


def _last_audit(session: Session, action: str) -> tuple[int, int | None, str | None]:
    """The newest audit entry of an action: (id, user_id, automation); the session lets go of the database."""
    stmt = select(AuditEntry.id, AuditEntry.user_id, AuditEntry.automation).where(AuditEntry.action == action)
    found = session.execute(stmt.order_by(AuditEntry.id.desc()).limit(1)).one()
    session.commit()  # ends the read (and its lock on SQLite) without expiring what the test holds
    return found[0], found[1], found[2]


def test_as_and_crm_user_name_who_changes_are_audited_as(crm, session: Session,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    lin, chen = add_user(session, "lin@example.com", LIN), add_user(session, "chen@example.com", "陳大文")
    first, second = _twins(session)
    crm("--as", "LIN@example.com", "merge", first.lead_no, second.lead_no)
    merged, by, automation = _last_audit(session, "merge")
    assert (by, automation) == (lin.id, None)

    monkeypatch.setenv("CRM_USER", "chen@example.com")
    crm("undo", str(merged))
    assert _last_audit(session, "undo")[1:] == (chen.id, None)

    crm("--as", lin.email, "merge", first.lead_no, second.lead_no)  # --as wins over CRM_USER
    again = _last_audit(session, "merge")
    assert again[1:] == (lin.id, None)

    monkeypatch.delenv("CRM_USER")
    crm("undo", str(again[0]))
    assert _last_audit(session, "undo")[1:] == (None, "cli")  # nobody named: the command line, as before


@pytest.mark.parametrize(("how", "message"), [
    ("--as ghost@example.com", "error: --as/CRM_USER: no user with email 'ghost@example.com'"),
    ("CRM_USER=ghost@example.com", "error: --as/CRM_USER: no user with email 'ghost@example.com'"),
    ("--as gone@example.com", "error: --as/CRM_USER: gone@example.com is inactive"),
])
def test_an_unknown_or_inactive_acting_user_is_one_line_and_changes_nothing(
        crm, session: Session, monkeypatch: pytest.MonkeyPatch, how: str, message: str) -> None:
    add_user(session, "gone@example.com", "Gone")
    users.deactivate_user(session, "gone@example.com")
    first, second = _twins(session)
    args = ["merge", first.lead_no, second.lead_no]
    if how.startswith("--as"):
        args = [*how.split(), *args]
    else:
        monkeypatch.setenv(*how.split("="))
    result = crm(*args, ok=False)
    assert result.exit_code == 1 and result.stderr == message + "\n"
    assert session.scalar(select(func.count()).select_from(Lead).where(Lead.deleted_at.is_not(None))) == 0


def test_crm_user_must_look_like_an_email(crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_USER", "lin")
    result = crm("users", "list", ok=False)
    assert result.stderr.startswith("error: CRM_USER: 'lin' is not an email address")


# -- history in names -------------------------------------------------------------------------------------

def test_history_shows_names_automations_in_words_and_ids_as_names(crm, session: Session) -> None:
    lin, wang = add_user(session, "lin@example.com", LIN), add_user(session, "wang@example.com", "王大明")
    account = records.create_account(session, {"name": TRADING}, Actor.user(lin.id))
    contact = records.create_contact(session, {"last_name": "陳", "first_name": "小華", "account_id": account.id,
                                               "owner_id": lin.id}, Actor.system("webform", "Kx1aB2cD3eF4"))
    records.update(session, contact, {"owner_id": wang.id, "title": "經理"}, Actor.user(lin.id))
    session.commit()
    out = crm("history", contact.contact_no).output
    lines = out.splitlines()
    assert lines[0].split() == ["AUDIT", "WHEN", "ACTION", "BY", "CHANGE"]
    create, assign, update = (line_with(out, f" {action} ") for action in ("create", "assign", "update"))
    assert "web form Kx1aB2cD3eF4 (system)" in create
    assert f"account_id: — -> {account.account_no} {TRADING}" in out
    assert f"owner_id: — -> {LIN}" in out
    assert f"owner_id: {LIN} -> 王大明" in assign
    assert "title: — -> 經理" in update
    assert "lin@example.com" not in out and "webform:" not in out
    assert_lined_up([(lines[0], ["ACTION", "BY", "CHANGE"]), (assign, ["assign", LIN, "owner_id"]),
                     (update, ["update", LIN, "title"])])
    assert starts(create, ["create", "web form"]) == starts(lines[0], ["ACTION", "BY"])
    assert crm("history", account.account_no).output.count(LIN) >= 1  # made by a user: their full name


def test_automations_are_described_in_words() -> None:
    assert describe_automation("webform:Kx1aB2") == "web form Kx1aB2 (system)"
    assert describe_automation("cli") == "command line"
    assert describe_automation("intake") == "intake"
    assert describe_automation("mail") == "mail worker"
    assert describe_automation("import") == "import"
    assert describe_automation("lead_aging:run-7") == "lead aging run-7"  # one not named yet: its own words
    assert describe_automation("webform:Kx1aB2", "zh_Hant") == "網站表單 Kx1aB2（系統）"


# -- duplicates say what matched --------------------------------------------------------------------------

def test_duplicates_say_which_field_matched(crm, session: Session) -> None:
    a = records.create_lead(session, {"last_name": LIN, "email": "mei@example.com"})
    b = records.create_lead(session, {"last_name": "Lin", "email": "Mei@Example.com", "phone": "0912 345 678"})
    c = records.create_lead(session, {"last_name": "林", "first_name": "美", "mobile": "0912-345-678"})
    d = records.create_lead(session, {"last_name": "王", "phone": "02 2345 6789"})
    e = records.create_lead(session, {"last_name": "Wang", "phone": "(02) 2345-6789"})
    records.create_account(session, {"name": TRADING})
    records.create_account(session, {"name": "台北貿易有限公司"})
    session.commit()
    out = crm("duplicates", "leads").output
    lines = out.splitlines()
    assert lines[0].split() == ["GROUP", "NUMBER", "NAME", "MATCHED", "ON"]
    assert "email mei@example.com; phone +886912345678" in out  # a and b share an email, b and c a phone
    assert "  phone +886223456789" in out
    assert_lined_up([(lines[0], ["NUMBER", "NAME"]), *((line_with(out, r.lead_no), [r.lead_no, r.last_name])
                                                      for r in (a, b, c, d, e))])
    assert "company name" in crm("duplicates", "accounts").output


# -- usage mistakes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "line"), [
    (["forms", "add", "X", "--foo"], "Error: No such option '--foo'. Try 'crm forms add --help'."),
    (["users", "add"], "Error: Missing argument 'EMAIL'. Try 'crm users add --help'."),
    (["--foo"], "Error: No such option '--foo'. Try 'crm --help'."),
    (["teams", "members", "Sales"],
     "Error: give either --add EMAIL or --remove EMAIL. Try 'crm teams members --help'."),
    (["nosuch"], "Error: No such command 'nosuch'. Try 'crm --help'."),
])
def test_usage_mistakes_are_one_line_with_the_command_s_help(args: list[str], line: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr == line + "\n" and "Usage:" not in result.output


def test_a_group_without_a_command_still_shows_its_help() -> None:
    result = CliRunner().invoke(main, ["forms"])
    assert "Usage: crm forms" in result.output and "quarantine" in result.output


# -- progress in logs -------------------------------------------------------------------------------------

def test_progress_prints_plain_lines_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with output.progress(5000, "restore", unit=lambda n: f"{n:,} files", every=0) as bar:
        bar.update(1200)
        bar.update(3800)
    assert err.getvalue().splitlines() == ["restore: 1,200 files of 5,000 files (24%)",
                                           "restore: 5,000 files of 5,000 files (100%)"]
    err.truncate(0)
    err.seek(0)
    with output.progress(10, "quiet", every=3600) as bar:  # within the interval: only the end
        bar.update(4)
        bar.update(6)
    assert err.getvalue() == "quiet: 10 of 10 (100%)\n"
    assert "\r" not in err.getvalue() and "#" not in err.getvalue()


def test_rebuilding_the_index_reports_progress_in_a_log(crm, session: Session) -> None:
    for name in (LIN, "Amy Lin", TRADING):
        records.create_lead(session, {"last_name": name})
    session.commit()
    result = crm("search", "--rebuild")
    assert re.search(r"^(Indexing records|Writing grams): 3 of 3 \(100%\)$", result.stderr, re.M), result.stderr


# -- a closed pipe ----------------------------------------------------------------------------------------

def _crm_into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `crm` as a process whose standard output is a pipe nobody reads any more (`| head` gone)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "crm_store", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env=os.environ.copy(), timeout=120, check=False)
    finally:
        os.close(write)


def test_forms_add_into_a_closed_pipe_creates_the_form_and_says_no_more(session: Session, env, reps) -> None:
    done = _crm_into_a_closed_pipe("forms", "add", "Closed pipe form", "--owner", reps[0].email)
    assert "Traceback" not in done.stderr and done.stderr == ""
    assert done.returncode == 0
    assert webforms.find_form(session, "Closed pipe form").name == "Closed pipe form"  # the form exists


def test_a_change_whose_output_fails_before_it_is_saved_is_undone_and_says_so(session: Session, env) -> None:
    done = _crm_into_a_closed_pipe("users", "add", "lin@example.com", "--name", LIN)  # prints before it commits
    assert "Traceback" not in done.stderr
    assert done.returncode == 1
    assert done.stderr == "error: the output closed before the change was saved; nothing was changed\n"
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_a_listing_into_a_closed_pipe_stops_quietly(session: Session, env) -> None:
    for i in range(30):
        users.add_user(session, f"rep{i}@example.com", f"林美玲 {i}", welcome=False)
    session.commit()
    done = _crm_into_a_closed_pipe("users", "list")
    assert done.returncode == 1 and done.stderr == ""


def test_a_pipeline_that_stops_reading_early_tells_the_truth(session: Session, env, reps) -> None:
    crm = [sys.executable, "-m", "crm_store"]
    script = " ".join(crm) + " forms add 'Head form' --owner " + reps[0].email + " | head -n 1"
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert "Traceback" not in done.stderr
    made = session.scalar(select(func.count()).select_from(WebForm).where(WebForm.name == "Head form"))
    assert made == 1 and done.stdout == "Added web form 'Head form'.\n"
