"""A throwaway module, declared only here: a model and one registry entry, and nothing else edited.

Run by `tests/test_registry.py` in a process of its own (the model's table must not join the other tests'
metadata): `python -m tests.module_probe` with CRM_DATABASE_URL and CRM_DATA_DIR set. It exercises
numbering, validation, search, duplicates, personal-data export and erase, the recycle bin, the CLI and
links for the new module and prints what it saw as one JSON object for the test to check.
"""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_store import links
from crm_store.actor import Actor
from crm_store.cli import main
from crm_store.config import load_config
from crm_store.db.engine import make_engine, session_factory
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import Base
from crm_store.models.base import Record, Touchable
from crm_store.records import duplicates, lifecycle, privacy, registry
from crm_store.search import query


class Prospect(Record, Touchable, Base):
    """Someone met at a trade show, not yet qualified as a lead."""

    __tablename__ = "prospects"

    prospect_no: Mapped[str] = mapped_column(String(20), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(40))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    rating: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))


registry.register(registry.Module(
    "prospects", Prospect, "PSP", "prospect", N_("prospect"), N_("prospects"), title="last_name",
    required=("last_name",), picklists={"rating": "rating"}, references={"campaign_id": "Campaign"},
    searchable=registry.Searchable("last_name", first_name="first_name", emails=("email",), phones=("phone_e164",)),
    duplicates=registry.DuplicateKeys(phones=("phone_e164",)), person=True, mergeable=True,
))


def refusal(session: Any, values: dict[str, Any]) -> str:
    """The field a bad prospect is refused for."""
    try:
        with session.begin_nested():
            lifecycle.create(session, "prospects", values)
    except ValidationError as exc:
        return exc.field
    return "accepted"


def run() -> dict[str, Any]:
    config = load_config()
    engine = make_engine(config.database_url)
    Prospect.__table__.create(engine)  # type: ignore[attr-defined]  # a mapped class's Table
    seen: dict[str, Any] = {}
    with session_factory(engine).begin() as session:
        first = lifecycle.create(session, "prospects", {
            "first_name": "Mei", "last_name": "Lin", "email": "mei.lin@example.com", "phone": "0912 345 678",
            "rating": "Active",
        })
        second = lifecycle.create(session, "prospects", {"last_name": "Wu", "phone": "+886912345678"})
        seen["numbers"] = [first.prospect_no, second.prospect_no]
        seen["e164"] = first.phone_e164
        seen["refused"] = {
            "no last name": refusal(session, {"first_name": "X"}),
            "bad rating": refusal(session, {"last_name": "X", "rating": "Excellent-ish"}),
            "no such campaign": refusal(session, {"last_name": "X", "campaign_id": 999999}),
            "unknown field": refusal(session, {"last_name": "X", "colour": "red"}),
        }
        seen["search_name"] = [(r.module, r.number, r.title) for r in query.search(session, "lin mei")]
        seen["search_number"] = [r.number for r in query.search(session, "psp2")]
        seen["search_phone"] = sorted(r.number for r in query.search(session, "0912345678"))
        seen["duplicates"] = [[c.number for c in group] for group in duplicates.groups(session, "prospects")]
        exported = privacy.export_person(session, "MEI.LIN@example.com")
        seen["export"] = [row["prospect_no"] for row in exported.get("prospects", [])]
    runner = CliRunner()
    seen["cli_search"] = runner.invoke(main, ["search", "Lin", "--module", "prospects"]).output
    seen["cli_history"] = runner.invoke(main, ["history", "PSP1"]).output
    with session_factory(engine).begin() as session:
        erased = privacy.erase_person(session, "mei.lin@example.com", Actor.system("test"))
        seen["erased"] = erased.get("prospects")
        seen["after_erase"] = session.get(Prospect, first.id).last_name  # type: ignore[union-attr]  # created just above
        seen["search_after_erase"] = [r.number for r in query.search(session, "mei.lin")]
        lifecycle.delete(session, session.get(Prospect, second.id))
    seen["cli_bin"] = runner.invoke(main, ["bin", "list", "--module", "prospects"]).output
    seen["cli_restore"] = runner.invoke(main, ["bin", "restore", "PSP2"]).output
    seen["link"] = links.record_url(config.base_url, "prospects", "PSP1")
    seen["label_zh"] = registry.get("prospects").display_label("zh_Hant")
    engine.dispose()
    return seen


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False))
