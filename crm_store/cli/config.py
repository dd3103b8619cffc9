"""`crm config`: the automation's configuration as one YAML file, exported and imported."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from crm_store.cli.output import Column, echo_table

if TYPE_CHECKING:
    from crm_store.settings.config_file import Plan

EXAMPLE = """\b
Example:
  crm config export automation.yaml
  # edit it: a rule, a cadence, a playbook's tasks, sla_hours ...
  crm config import automation.yaml --dry-run
  crm config import automation.yaml

\b
A rule in the file:
  assignment_rules:
    - name: Taiwan web leads
      conditions:
        - {field: country, op: in, value: [TW, HK]}
      team: Sales North        # or  user: rep@example.com
      active: true
"""


@click.group("config")
def config() -> None:
    """The automation's configuration as one YAML file: export it, edit it, import it.

    The file holds the assignment rules, each team's strategy and members' weights, the follow-up
    cadences, the stage playbooks and the thresholds (lead aging, SLA, the working calendar, the
    stages' rotting days, ...). Users and teams are not created by it: it names only ones that exist.
    """


@config.command("export", epilog=EXAMPLE)
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def export(file: Path | None) -> None:
    """Write the configuration to FILE as YAML (default: standard output), always in the same order."""
    from crm_store.db.engine import session_scope
    from crm_store.settings import config_file

    with session_scope() as session:
        data = config_file.export_text(session).encode("utf-8")
    if file is None or str(file) == "-":
        click.echo(data, nl=False)  # bytes: written as they are, whatever the terminal's encoding
        return
    try:
        file.write_bytes(data)
    except OSError as exc:
        raise click.FileError(str(file), hint=exc.strerror or str(exc)) from None
    click.echo(f"Wrote the configuration to {file}.")


@config.command("import", epilog=EXAMPLE)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and print what it would change; change nothing.")
def import_config(file: Path, dry_run: bool) -> None:
    """Check FILE completely, then apply it all in one transaction, or nothing if anything is wrong.

    Every problem is printed with its path in the file and its line. A section in the file replaces that
    data (assignment_rules, cadences and playbooks: the whole list; teams and thresholds: what they give);
    a section left out is left alone. The import is recorded in the audit trail.
    """
    from crm_store.cli.work import actor, transaction
    from crm_store.settings import config_file

    with transaction() as session:
        if dry_run:
            checked = config_file.plan(session, config_file.read_file(file))
        else:
            checked = config_file.import_file(session, file, actor(session))
    _show(checked)
    if dry_run:
        click.echo(f"Dry run: {file} is valid; nothing was changed." if checked.changed
                   else f"Dry run: {file} is valid and matches the store; nothing would change.")
    else:
        click.echo(f"Imported {file}." if checked.changed else f"Imported {file}: nothing needed changing.")


def _show(checked: Plan) -> None:
    """What each section of the file adds, changes and removes (or would)."""
    from crm_store.settings.config_sections import NAMES

    rows: list[tuple[object, ...]] = []
    for name in NAMES:
        counts = checked.changes.get(name)
        if counts is None:
            rows.append((name, "", "", "", "not in the file: left as it is"))
        else:
            rows.append((name, counts.added, counts.changed, counts.removed, ""))
    echo_table((Column("SECTION"), Column("ADDED", right=True), Column("CHANGED", right=True),
                Column("REMOVED", right=True), Column("")), rows)
