"""The `crm` command: one root group; every sub-command is an entry point, loaded when it is used.

Our own groups and those of other packages (`crm mail` from `emails`, `crm serve` from `webform`) are
declared alike in `pyproject.toml` under `leadline.cli`, one file per group in this package. A command
module imports only click at the top and what it uses inside the command, so `crm --help` and
`crm --version` start in a blink.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, NoReturn

import click

from crm_store.cli.work import AS, OUTCOME
from crm_store.errors import CrmError

ENTRY_POINTS = "leadline.cli"


class CrmGroup(click.Group):
    """The root group: commands come from entry points; user mistakes print one line and exit 1.

    Usage mistakes (an unknown option, a missing argument) print one line too, with the failing
    command's `--help`, and exit 2. A reader that stops early (`crm … | head`) ends the command quietly.
    """

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        """Parse the root options (`crm --frob` is a one-line mistake too)."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            _usage_mistake(exc)

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
        except click.UsageError as exc:
            _usage_mistake(exc)
        except BrokenPipeError:
            _output_closed()
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


def _usage_mistake(exc: click.UsageError) -> NoReturn:
    """Print a usage mistake on one line with the failing command's --help, and exit 2 (click's code)."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):  # `crm forms` alone: the help is the answer
        raise exc
    message = " ".join(exc.format_message().split())
    stop = "" if message.endswith((".", "?", "!")) else "."
    hint = f" Try '{exc.ctx.command_path} --help'." if exc.ctx is not None else ""
    click.echo(f"Error: {message}{stop}{hint}", err=True)
    sys.exit(exc.exit_code)


def _output_closed() -> NoReturn:
    """The reader of the output went away (`crm forms add … | head`): stop without a traceback.

    A change whose transaction the closed pipe rolled back is reported on stderr (exit 1); a change
    saved before the pipe closed stands (exit 0); output cut short otherwise exits 1, like click.
    """
    # The interpreter flushes stdout once more on exit: let that write go nowhere (unless it is no real file).
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if OUTCOME.undone_by_pipe:
        with contextlib.suppress(OSError):  # stderr may have gone with it
            click.echo("error: the output closed before the change was saved; nothing was changed", err=True)
        sys.exit(1)
    sys.exit(0 if OUTCOME.saved else 1)


def _is_database_error(exc: Exception) -> bool:
    """Whether SQLAlchemy could not reach or use the database (checked without importing SQLAlchemy)."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.OperationalError)


@click.group("crm", cls=CrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leadline", prog_name="crm")
@click.option("--as", "acting", metavar="EMAIL",
              help="Act as this active user: changes are audited under their name (default: CRM_USER, else cli).")
@click.pass_context
def main(ctx: click.Context, acting: str | None) -> None:
    """Leadline CRM: set up, load demo data and run the CRM from the command line."""
    from crm_store.cli.output import replace_unencodable
    from crm_store.config import load_config

    OUTCOME.reset()
    ctx.meta[AS] = acting
    replace_unencodable()  # stored text may hold what no encoding writes: print the rest, never fail
    level = load_config().log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
