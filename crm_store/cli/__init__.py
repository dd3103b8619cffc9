"""The `crm` command: one root group; every sub-command is an entry point, loaded when it is used.

Our own groups and those of other packages (`crm mail` from `emails`, `crm serve` from `webform`) are
declared alike in `pyproject.toml` under `leadline.cli`, one file per group in this package. A command
module imports only click at the top and what it uses inside the command, so `crm --help` and
`crm --version` start in a blink.
"""

from __future__ import annotations

import logging
import sys
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click

from crm_store.errors import CrmError

ENTRY_POINTS = "leadline.cli"


class CrmGroup(click.Group):
    """The root group: commands come from entry points; user mistakes print one line and exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command declared by an installed package."""
        return sorted({*self.commands, *_declared()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Load a command the first time it is asked for."""
        if cmd_name not in self.commands and cmd_name in _declared():
            try:
                self.add_command(_declared()[cmd_name].load(), cmd_name)
            except Exception as exc:  # noqa: BLE001 - a broken add-on must not take the core commands down
                click.echo(f"warning: the `crm {cmd_name}` commands could not be loaded: {exc}", err=True)
                return None
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; print a CrmError or an unusable database as one line, without a traceback."""
        try:
            return super().invoke(ctx)
        except CrmError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            click.echo(f"error: the database could not be used: {getattr(exc, 'orig', exc)}", err=True)
            click.echo("hint: check CRM_DATABASE_URL and run `crm init`", err=True)
            sys.exit(1)


@lru_cache(maxsize=1)
def _declared() -> dict[str, EntryPoint]:
    """The `crm` sub-commands installed packages declare (read once per process)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINTS)}


def _is_database_error(exc: Exception) -> bool:
    """Whether SQLAlchemy could not reach or use the database (checked without importing SQLAlchemy)."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.OperationalError)


@click.group(cls=CrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leadline", prog_name="crm")
def main() -> None:
    """Leadline CRM: set up, load demo data and run the CRM from the command line."""
    from crm_store.cli.output import replace_unencodable
    from crm_store.config import load_config

    replace_unencodable()  # stored text may hold what no encoding writes: print the rest, never fail
    level = load_config().log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
