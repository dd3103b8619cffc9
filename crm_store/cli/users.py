"""`crm users`: add, list and deactivate staff users; mark them out of the office."""

from __future__ import annotations

import click

from crm_store.cli.output import Column, echo_table
from crm_store.cli.params import language_choice, role_choice
from crm_store.languages import N_

NEW_PASSWORD = N_("New password")
REPEAT_PASSWORD = N_("Repeat for confirmation")
PASSWORD_SET = N_("Set the password of %(email)s; their other sessions are signed out.")
TWO_LINES = N_("give the new password twice, on two lines of standard input")
NOT_WITH_CLEAR = N_("goes alone: not with --from or --to")
FROM_OR_TO = N_("give --from, --to or both (or --clear)")


@click.group()
def users() -> None:
    """Add, list and deactivate staff users; mark them out of the office."""


@users.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Full name as shown to colleagues.")
@click.option("--role", type=role_choice(), default="rep", show_default=True, help="What the user may see and do.")
@click.option("--manager", "manager_email", help="Email of this user's manager.")
@click.option("--language", type=language_choice(), help="Language of emails and pages.")
@click.option("--time-zone", help="IANA zone such as Asia/Taipei; default the company's.")
def users_add(
    email: str, name: str, role: str, manager_email: str | None, language: str | None, time_zone: str | None
) -> None:
    """Add a user who logs in with EMAIL."""
    from crm_store.cli.work import transaction
    from crm_store.staff import users as staff

    with transaction() as session:
        user = staff.add_user(
            session, email, name, role=role, manager_email=manager_email, language=language, time_zone=time_zone
        )
        click.echo(f"Added {user.role} {user.name} <{user.email}> (id {user.id}).")


@users.command("list")
@click.option("--active-only", is_flag=True, help="Leave out deactivated users.")
def users_list(active_only: bool) -> None:
    """List users with their role, language and manager."""
    from crm_store.db.engine import session_scope
    from crm_store.staff import users as staff

    with session_scope() as session:
        rows = [(u.id, u.email, u.name, u.role, u.language, "active" if u.active else "inactive", manager)
                for u, manager in session.execute(staff.listing(include_inactive=not active_only))]
    columns = (Column("ID", right=True), Column("EMAIL"), Column("NAME", 30), Column("ROLE"), Column("LANGUAGE"),
               Column("STATE"), Column("MANAGER"))
    echo_table(columns, rows)


@users.command("deactivate")
@click.argument("email")
@click.option("--reassign-to",
              help="Email of the user who takes over EMAIL's open leads, deals, accounts, contacts and activities.")
@click.option("--reassign-by-rules", is_flag=True,
              help="Give EMAIL's open leads (with their open activities) out by the assignment rules, never back "
                   "to EMAIL; --reassign-to takes the rest of their work.")
def users_deactivate(email: str, reassign_to: str | None, reassign_by_rules: bool) -> None:
    """Stop EMAIL from logging in and receiving new leads; hand their open work on."""
    from crm_store.cli.work import actor, transaction
    from crm_store.staff import users as staff

    with transaction() as session:
        moved = staff.deactivate_user(session, email, reassign_to=reassign_to, reassign_by_rules=reassign_by_rules,
                                      actor=actor(session))
    lists = moved.pop("round_robin_lists", 0)
    forms_moved = moved.pop("forms", 0)
    by_rules = moved.pop("leads_by_rules", 0)
    summary = ", ".join(f"{n} {k}" for k, n in moved.items() if n)
    click.echo(f"Deactivated {email.lower()}." + (f" Reassigned to {reassign_to}: {summary}." if summary else ""))
    if reassign_by_rules:
        click.echo(f"{by_rules} open lead(s) reassigned by the assignment rules.")
    if lists:
        click.echo(f"Removed from {lists} web-form round-robin list(s).")
    if forms_moved:
        click.echo(f"{forms_moved} web form(s) they owned now go to {reassign_to or 'nobody (leads stay unassigned)'}.")


@users.command("out-of-office")
@click.argument("email")
@click.option("--from", "start", metavar="WHEN",
              help="First day away (2026-09-07) or the moment the absence starts (2026-09-07T13:00), in the "
                   "user's time zone (else the company's); default now.")
@click.option("--to", "end", metavar="WHEN",
              help="Last day away (2026-09-11: back the next morning) or the moment they are back; default "
                   "until --clear.")
@click.option("--clear", is_flag=True, help="EMAIL is back: take new leads again.")
def users_out_of_office(email: str, start: str | None, end: str | None, clear: bool) -> None:
    """Mark EMAIL out of the office: no leads from teams, round-robin lists or the assignment rules while away."""
    from crm_store.cli.work import transaction
    from crm_store.errors import ValidationError
    from crm_store.settings import company
    from crm_store.staff import users as staff

    if clear and (start or end):
        raise ValidationError("--clear", NOT_WITH_CLEAR)
    if not clear and start is None and end is None:
        raise ValidationError("--from", FROM_OR_TO)
    with transaction() as session:
        user = staff.find_user(session, email)
        away_from = staff.away_moment(session, user, "--from", start) if start else None
        away_to = staff.away_moment(session, user, "--to", end, end=True) if end else None
        staff.set_out_of_office(session, user, away_from, away_to, fields=("--from", "--to"))
        if clear:
            click.echo(f"{user.email} is back: they take new leads again.")
            return
        zone = company.zone_for(session, user)
        since = company.show_time(user.out_of_office_from, zone) if user.out_of_office_from else "now"
        until = company.show_time(user.out_of_office_to, zone) if user.out_of_office_to else "further notice"
        click.echo(f"{user.email} is out of the office from {since} until {until}.")


@users.command("set-password")
@click.argument("email")
def users_set_password(email: str) -> None:
    """Set the password EMAIL signs in with: typed twice (hidden), or two lines on standard input."""
    import sys

    from crm_store.cli.work import transaction
    from crm_store.errors import CrmError
    from crm_store.staff import passwords
    from crm_store.staff import users as staff

    if sys.stdin.isatty():
        password = click.prompt(NEW_PASSWORD, hide_input=True)
        again = click.prompt(REPEAT_PASSWORD, hide_input=True)
    else:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2:
            raise CrmError(TWO_LINES)
        password, again = lines[0], lines[1]
    with transaction() as session:
        user = staff.find_user(session, email)
        passwords.set_password(session, user, password, again)
        click.echo(PASSWORD_SET % {"email": user.email})
