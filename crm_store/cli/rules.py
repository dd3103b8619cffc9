"""`crm rules`: the ordered assignment rules that give unassigned leads an owner (first match wins)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from crm_store.cli.output import Column, echo_table

OPERATORS_HELP = (
    "Operators: equals, in (a comma-separated list), contains, starts_with, is_empty (VALUE yes, or no for "
    "not empty). Text is compared without case. FIELD is any lead field (lead_source, country, state, city, "
    "industry…), form (a web form's name) or campaign (a campaign's name)."
)
# The store's name for a value -> the option that gave it, so an error names what was typed.
OPTIONS = {"conditions": "--if", "user": "--to-user", "team": "--to-team", "target": "--to-user/--to-team",
           "position": "--position", "name": "NAME"}


@click.group("rules")
def rules() -> None:
    """Assignment rules: which user or team gets an unassigned lead; the first rule that matches decides.

    A lead no rule matches goes by the unassigned_pool company setting (a user's email, a team's name, or
    nobody). The assign-leads flow applies the rules every ten minutes.
    """


@contextmanager
def _options_named() -> Iterator[None]:
    """Re-raise a store ValidationError naming the command-line option the bad value came from."""
    from crm_store.errors import ValidationError

    try:
        yield
    except ValidationError as exc:
        option = OPTIONS.get(exc.field)
        if option is None:
            raise
        raise ValidationError(option, exc.template, row=exc.row, **exc.values) from None


@rules.command("list")
def list_rules() -> None:
    """List the rules in the order they are tried: position, name, target, active, conditions."""
    from crm_store.assignment import rules as assignment_rules
    from crm_store.db.engine import session_scope

    with session_scope() as session:
        found = assignment_rules.listing(session)
    if not found:
        click.echo("No assignment rules yet; add one with `crm rules add NAME --if FIELD OP VALUE --to-team NAME`.")
        return
    echo_table(
        (Column("#", right=True), Column("NAME", 30), Column("TARGET", 40), Column("ACTIVE"), Column("CONDITIONS")),
        [(r.position, r.name, r.target, "yes" if r.active else "no", " and ".join(r.conditions) or "(every lead)")
         for r in found],
    )


@rules.command("add", epilog=OPERATORS_HELP)
@click.argument("name")
@click.option("--if", "conditions", nargs=3, multiple=True, metavar="FIELD OP VALUE",
              help="A condition the lead must meet; repeat for several (all must hold). None: every lead.")
@click.option("--to-user", metavar="EMAIL", help="Give matching leads to this active user.")
@click.option("--to-team", metavar="NAME", help="Give matching leads to this team, by its strategy.")
@click.option("--position", type=int, metavar="N", help="Where the rule goes (1 = tried first); default last.")
def add(name: str, conditions: tuple[tuple[str, str, str], ...], to_user: str | None, to_team: str | None,
        position: int | None) -> None:
    """Add the rule NAME: leads meeting every --if condition go to --to-user or --to-team."""
    from crm_store.assignment import rules as assignment_rules
    from crm_store.cli.work import transaction

    with _options_named(), transaction() as session:
        rule = assignment_rules.add_rule(session, name, list(conditions), user=to_user, team=to_team,
                                         position=position)
        click.echo(f"Added rule {rule.name!r} at position {rule.position}.")


@rules.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove the rule NAME; the rules after it move up."""
    from crm_store.assignment import rules as assignment_rules
    from crm_store.cli.work import transaction

    with transaction() as session:
        assignment_rules.remove_rule(session, name)
    click.echo(f"Removed rule {name.strip()!r}.")


@rules.command("move")
@click.argument("name")
@click.option("--position", type=int, required=True, metavar="N", help="The new place (1 = tried first).")
def move(name: str, position: int) -> None:
    """Move the rule NAME to another place in the order."""
    from crm_store.assignment import rules as assignment_rules
    from crm_store.cli.work import transaction

    with _options_named(), transaction() as session:
        rule = assignment_rules.move_rule(session, name, position)
        click.echo(f"Rule {rule.name!r} is now at position {rule.position}.")


@rules.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Switch the rule NAME off: it keeps its place but matches no lead."""
    _set_active(name, False)


@rules.command("enable")
@click.argument("name")
def enable(name: str) -> None:
    """Switch the rule NAME back on."""
    _set_active(name, True)


def _set_active(name: str, active: bool) -> None:
    from crm_store.assignment import rules as assignment_rules
    from crm_store.cli.work import transaction

    with transaction() as session:
        rule = assignment_rules.set_active(session, name, active)
        click.echo(f"Rule {rule.name!r} is {'active' if active else 'inactive'}.")
