"""The `crm` command: help everywhere, a version, one-line errors, users."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crm_store.cli import main


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        found.append((*prefix, name))
        if isinstance(cmd, click.Group):
            found.extend(_all_commands(cmd, (*prefix, name)))
    return found


@pytest.mark.parametrize("path", _all_commands(main), ids=lambda p: " ".join(p))
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output
    summary = result.output.split("\n\n")[1].strip()
    assert len(summary) > 10  # a real description, not an empty docstring


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("crm, version ")


def test_installed_entry_point_runs() -> None:
    crm = Path(sys.executable).parent / "crm"
    out = subprocess.run([str(crm), "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("init", "settings", "users", "demo"):
        assert command in out


def test_init_twice_is_a_no_op(crm) -> None:  # noqa: ANN001
    assert "up to date" in crm("init").output
    second = crm("init").output
    assert "up to date" in second and "Seeded" not in second


def test_users_add_list_deactivate(crm) -> None:  # noqa: ANN001
    crm("users", "add", "Boss@Example.com", "--name", "陳老闆", "--role", "manager", "--language", "zh_Hant")
    added = crm("users", "add", "amy@example.com", "--name", "Amy Lin", "--manager", "boss@example.com").output
    assert "Added rep Amy Lin <amy@example.com>" in added
    listed = crm("users", "list").output
    assert "boss@example.com" in listed and "陳老闆" in listed and "zh_Hant" in listed
    amy_line = next(line for line in listed.splitlines() if "amy@example.com" in line)
    assert amy_line.rstrip().endswith("boss@example.com")
    crm("users", "deactivate", "amy@example.com")
    assert "amy@example.com" not in crm("users", "list", "--active-only").output
    assert "inactive" in crm("users", "list").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("users", "add", "not-an-email", "--name", "X"), "error: email: 'not-an-email' is not a valid email address"),
        (("users", "deactivate", "ghost@example.com"), "error: no user with email 'ghost@example.com'"),
        (("settings", "get", "colour"), "error: unknown company setting 'colour'"),
        (("settings", "set", "time_zone", "Nowhere/City"), "error: time_zone: 'Nowhere/City' is not a time zone"),
    ],
)
def test_mistakes_print_one_line_and_exit_1(crm, args: tuple[str, ...], message: str) -> None:  # noqa: ANN001
    result = crm(*args, ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_duplicate_user_is_refused(crm) -> None:  # noqa: ANN001
    crm("users", "add", "amy@example.com", "--name", "Amy")
    result = crm("users", "add", "AMY@example.com", "--name", "Amy 2", ok=False)
    assert result.exit_code == 1 and "already exists" in result.stderr


def test_uninitialised_database_gives_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["users", "list"])
    assert result.exit_code == 1
    assert "run `crm init`" in result.stderr


def test_help_and_version_load_no_store_web_or_mail_code() -> None:
    """`crm --help` and `--version` import only click: no SQLAlchemy, Flask, Faker or Jinja (start-up stays fast)."""
    probe = (
        "import sys\n"
        "from crm_store.cli import main\n"
        "for args in (['--version'], ['--help'], ['serve', '--help'], ['mail', '--help'], ['search', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'flask', 'faker', 'jinja2', 'alembic', 'babel')\n"
        "               if m in sys.modules)\n"
        "print('LOADED', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "LOADED []"
