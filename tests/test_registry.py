"""The module registry: one declaration makes a module work everywhere, and the built-in ones are whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_store import links
from crm_store.errors import ValidationError
from crm_store.records import registry

ROOT = Path(__file__).resolve().parent.parent


def test_a_new_module_works_everywhere_with_one_declaration(env: dict[str, str]) -> None:
    """tests/module_probe.py declares a model and a registry entry, and edits nothing else."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.module_probe"], cwd=ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["numbers"] == ["PSP1", "PSP2"]  # numbering: its own counter, started on first use
    assert seen["e164"] == "+886912345678"  # validation: phone fields get their E.164 form
    assert seen["refused"] == {
        "no last name": "last_name", "bad rating": "rating", "no such campaign": "campaign_id",
        "unknown field": "colour",
    }
    assert seen["search_name"] == [["prospects", "PSP1", "Mei Lin"]]  # search: names in both orders
    assert seen["search_number"] == ["PSP2"]  # its record numbers are search terms
    assert seen["search_phone"] == ["PSP1", "PSP2"]
    assert seen["duplicates"] == [["PSP1", "PSP2"]]  # the same phone
    assert seen["export"] == ["PSP1"]  # personal-data export finds it by email, in any case
    assert seen["erased"] == 1 and seen["after_erase"] == "[erased]" and seen["search_after_erase"] == []
    assert "PSP1" in seen["cli_search"] and "prospect" in seen["cli_search"]  # the CLI: --module accepts it
    assert " create " in seen["cli_history"] and "prospect_no: — -> PSP1" in seen["cli_history"]
    assert "PSP2" in seen["cli_bin"] and "Restored PSP2" in seen["cli_restore"]
    assert seen["link"] == "http://127.0.0.1:8000/prospects/PSP1"
    assert seen["label_zh"] == "prospect"  # no translation yet: the English name, not an error


def test_every_builtin_module_is_declared_whole() -> None:
    numbers = {}
    for module in registry.modules():
        columns = module.model.__table__.columns
        assert module.number_field in columns, module.name
        assert module.title in columns, module.name
        assert all(f in columns for f in (*module.required, *module.picklists, *module.references)), module.name
        numbers[module.prefix] = module.name
        if module.searchable is not None:
            spec = module.searchable
            named = [spec.name, spec.first_name, spec.company, spec.company_from, *spec.emails, *spec.phones]
            assert all(c in columns for c in named if c), module.name
        if module.link_column is not None:
            assert module.link_column.endswith("_id")
    assert len(numbers) == len(registry.modules())  # prefixes are unique
    assert registry.names(searchable=True) == [
        "leads", "accounts", "contacts", "opportunities", "products", "price_books", "quotes", "sales_orders",
        "invoices",
    ]
    assert registry.names(person=True) == ["leads", "contacts"]


def test_lookups_by_number_model_and_name() -> None:
    assert registry.by_number("lea12").name == "leads"
    assert registry.by_number("POT7").name == "opportunities"
    assert registry.by_number("LEA") is None and registry.by_number("XYZ1") is None
    assert registry.of_model(registry.get("contacts").model).name == "contacts"
    assert [registry.by_number(n) for n in ("inv3", "SO12", "PB1", "PRO1")] == [
        registry.get(m) for m in ("invoices", "sales_orders", "price_books", "products")]
    with pytest.raises(ValidationError, match="module"):
        registry.get("widgets")
    assert registry.get("leads").display_label("zh_Hant") == "潛在客戶"


def test_a_prefix_is_one_module_s() -> None:
    with pytest.raises(ValueError, match="taken by leads"):
        registry.register(registry.Module("leads2", "Lead", "LEA", "lead2", "lead", "leads", title="last_name"))


def test_record_links_use_each_module_s_path() -> None:
    assert links.record_url("https://crm.example.com/", "opportunities", "POT3") == (
        "https://crm.example.com/opportunities/POT3"
    )
    assert links.url("https://crm.example.com", "set_password", token="a/b") == (
        "https://crm.example.com/auth/set-password/a%2Fb"
    )
    with pytest.raises(ValueError, match="takes"):
        links.path("record", module="leads")
