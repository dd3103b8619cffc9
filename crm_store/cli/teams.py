"""`crm teams`: add sales teams, list them, and say who is in them with what weight and cap."""

from __future__ import annotations

import click

from crm_store.cli.output import Column, echo_table


@click.group("teams")
def teams() -> None:
    """Sales teams whose members share leads (a web form owned by a team gives them out in turn)."""


@teams.command("add")
@click.argument("name")
@click.option("--manager", "manager_email", required=True, metavar="EMAIL",
              help="Email of the team's manager (an active user).")
@click.option("--strategy", default="round_robin", show_default=True,
              help="How the team's leads are shared: round_robin (in turn), weighted (in turn, more to a "
                   "higher weight) or least_loaded (to whoever has the fewest open leads).")
def add(name: str, manager_email: str, strategy: str) -> None:
    """Add a team called NAME; give it members with `crm teams members NAME --add EMAIL`."""
    from crm_store.cli.work import transaction
    from crm_store.staff import teams as staff_teams

    with transaction() as session:
        team = staff_teams.add_team(session, name, manager_email, strategy=strategy)
        manager = manager_email.strip().lower()
        click.echo(f"Added team {team.name!r} ({team.assignment_strategy}), managed by {manager}.")


@teams.command("list")
def list_teams() -> None:
    """List the teams: name, manager, strategy and members (in rotation order) with weight and cap."""
    from crm_store.db.engine import session_scope
    from crm_store.staff import teams as staff_teams

    with session_scope() as session:
        rows = list(session.execute(staff_teams.listing()))
        if not rows:
            click.echo("No teams yet; add one with `crm teams add NAME --manager EMAIL`.")
            return
        roster: dict[int, list[str]] = {}
        for member, user in session.execute(staff_teams.members()):
            roster.setdefault(member.team_id, []).append(_member(user.email, member.weight, member.open_lead_cap,
                                                                 user.active))
        echo_table((Column("NAME", 30), Column("MANAGER"), Column("STRATEGY"), Column("MEMBERS")), [
            (team.name, manager, team.assignment_strategy, ", ".join(roster.get(team.id, [])) or "(no members)")
            for team, manager in rows
        ])


@teams.command("members")
@click.argument("name")
@click.option("--add", "add_email", metavar="EMAIL", help="Put this active user in the team (at the end of the "
                                                          "rotation), or change their weight and cap.")
@click.option("--remove", "remove_email", metavar="EMAIL", help="Take this user out of the team.")
@click.option("--weight", type=int, default=1, show_default=True, metavar="N",
              help="With --add: the member's share under the weighted strategy (1 or more).")
@click.option("--cap", type=int, metavar="N",
              help="With --add: most open leads the member may hold (1 or more); default no cap.")
def members(name: str, add_email: str | None, remove_email: str | None, weight: int, cap: int | None) -> None:
    """Add a member to team NAME or remove one; adding a member again sets their weight and cap."""
    from crm_store.cli.work import transaction
    from crm_store.staff import teams as staff_teams

    if (add_email is None) == (remove_email is None):
        raise click.UsageError("give either --add EMAIL or --remove EMAIL")
    if remove_email is not None and (weight != 1 or cap is not None):
        raise click.UsageError("--weight and --cap go with --add")
    with transaction() as session:
        team = staff_teams.find_team(session, name)
        if add_email is None:
            staff_teams.remove_member(session, team, str(remove_email))
            click.echo(f"Removed {str(remove_email).strip().lower()} from {team.name}.")
            return
        member = staff_teams.add_member(session, team, add_email, weight=weight, cap=cap)
        click.echo(f"{team.name}: {_member(member.user.email, member.weight, member.open_lead_cap, True)}.")


def _member(email: str, weight: int, cap: int | None, active: bool) -> str:
    """One member as the commands print it: email (weight W, cap C)."""
    notes = [f"weight {weight}", f"cap {cap}" if cap is not None else "no cap"]
    if not active:
        notes.append("inactive")
    return f"{email} ({', '.join(notes)})"
