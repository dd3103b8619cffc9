"""The README documents every setting and keeps the two-command quick start."""

from __future__ import annotations

import re
from pathlib import Path

from crm_store.config import SETTINGS, markdown_table
from crm_store.settings import company

README = (Path(__file__).parent.parent / "README.md").read_text()


def _table_keys() -> set[str]:
    return set(re.findall(r"^\| `([A-Za-z_]+)` \|", README, flags=re.M))


def test_every_deployment_setting_is_documented() -> None:
    missing = {s.env for s in SETTINGS} - _table_keys()
    assert not missing, f"undocumented deployment settings: {missing}"


def test_the_readme_table_of_deployment_settings_is_made_from_their_definitions() -> None:
    assert markdown_table() in README, "README's deployment settings table is stale; paste:\n" + markdown_table()


def test_every_company_setting_is_documented() -> None:
    missing = {d.key for d in company.DEFINITIONS} - _table_keys()
    assert not missing, f"undocumented company settings: {missing}"


def test_quick_start_holds_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block[1].splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "make test" in ci
