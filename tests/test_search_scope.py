"""A search made for a user finds only what that user may see (`crm_store.staff.scope`), through every way of
finding candidates, before CANDIDATES cuts them; the plans stay index-driven; `crm --as` scopes `crm search`.

Every test runs twice: with a common term's matches read from its postings, and read from the user's own
documents (the path a rep's search for a common name takes at scale) — both must find the same records."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import Currency, SearchDocument, User
from crm_store.records import bulk, lifecycle, registry
from crm_store.sales import bulk as sales_bulk
from crm_store.search import index as search_index
from crm_store.search import query, terms
from crm_store.settings import company
from crm_store.staff import scope
from tests.staff_support import make_staff
from tests.test_search import add, explain

MODULES = ("leads", "accounts", "contacts", "opportunities")


@pytest.fixture(autouse=True, params=["postings", "own documents"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which way a scoped search reads a term's text matches: from the postings, or from the user's documents."""
    if request.param == "own documents":
        monkeypatch.setattr(query, "SCOPE_FIRST", 0)
        monkeypatch.setattr(query, "OWN_DOCUMENTS", 10**9)
    else:
        monkeypatch.setattr(query, "SCOPE_FIRST", 10**9)
    return str(request.param)


@pytest.fixture
def staff(session: Session) -> dict[str, User]:
    """The users of tests/staff_support.make_staff: admin, manager, rep_a/rep_b (team North), rep_c."""
    users = make_staff(session)
    session.commit()
    return users


def make(session: Session, module: str, owner: User | None, name: str, **values: Any) -> Any:
    """A record named `name` (a person's last name, an account's or a deal's name) owned by `owner`."""
    values["owner_id"] = owner.id if owner is not None else None
    values["last_name" if module in ("leads", "contacts") else "name"] = name
    if module == "opportunities":
        values["expected_close_date"] = "2026-09-30"
    return add(session, module, **values)


def number(record: Any) -> str:
    return str(getattr(record, f"{record.__class__.__name__.lower()}_no"))


def seen(session: Session, user: User | None, term: str, **kw: Any) -> set[str]:
    """Record numbers `user` finds for `term` (None: an unscoped search)."""
    return {r.number for r in query.search(session, term, user=user, limit=500, **kw)}


def test_a_rep_finds_their_own_records_and_not_another_rep_s_whichever_way_they_are_found(
    session: Session, staff: dict[str, User]
) -> None:
    rep_a, rep_c = staff["rep_a"], staff["rep_c"]
    mine = [make(session, m, rep_a, f"Kestrel {m}") for m in MODULES]
    theirs = [make(session, m, rep_c, f"Kestrel {m}") for m in MODULES]
    own_lead = make(session, "leads", rep_a, "王", first_name="小明", mobile="0912 345 678")
    their_lead = make(session, "leads", rep_c, "王", first_name="大同", mobile="0912 345 679")
    session.commit()
    everyone = {number(r) for r in (*mine, *theirs)}

    for term in ("kestrel", "ke"):  # trigram postings; a two-character range
        assert seen(session, rep_a, term) == {number(r) for r in mine}
        assert seen(session, rep_c, term) == {number(r) for r in theirs}
        assert seen(session, None, term) == everyone  # no user: no scoping (the CLI without --as)
        assert seen(session, staff["admin"], term) == everyone
    assert seen(session, rep_a, "王") == {number(own_lead)}  # one Chinese character
    assert seen(session, rep_a, "0912 345") == {number(own_lead)}  # phone postings
    assert seen(session, rep_a, number(own_lead)) == {number(own_lead)}  # record numbers
    assert seen(session, rep_a, number(their_lead)) == set()
    assert seen(session, rep_c, "0912 345") == {number(their_lead)}
    assert seen(session, rep_a, "kestrel", modules=["accounts"]) == {number(mine[1])}


def test_a_manager_finds_their_reports_records(session: Session, staff: dict[str, User]) -> None:
    boss, rep_a, rep_b, rep_c = staff["manager"], staff["rep_a"], staff["rep_b"], staff["rep_c"]
    own, report = make(session, "accounts", boss, "Osprey Boss"), make(session, "leads", rep_a, "Osprey")
    others = [make(session, "leads", rep_b, "Osprey"), make(session, "contacts", rep_c, "Osprey")]
    session.commit()
    assert seen(session, boss, "osprey") == {number(own), number(report)}
    assert seen(session, rep_a, "osprey") == {number(report)}  # a rep does not see their manager's records
    assert seen(session, None, "osprey") == {number(r) for r in (own, report, *others)}


@pytest.mark.parametrize("sharing", ["private", "team"])
def test_teammates_find_each_other_s_records_only_when_records_are_shared(
    session: Session, staff: dict[str, User], sharing: str
) -> None:
    rep_a, rep_b, rep_c = staff["rep_a"], staff["rep_b"], staff["rep_c"]
    company.set_value(session, "record_sharing", sharing)
    own, teammate = make(session, "leads", rep_a, "Heron"), make(session, "opportunities", rep_b, "Heron deal")
    outsider = make(session, "contacts", rep_c, "Heron")
    session.commit()
    shared = {number(teammate)} if sharing == "team" else set()
    assert seen(session, rep_a, "heron") == {number(own)} | shared
    assert seen(session, rep_b, "heron") == {number(teammate)} | ({number(own)} if sharing == "team" else set())
    assert seen(session, rep_c, "heron") == {number(outsider)}  # not in the team: never theirs


def test_pool_leads_are_found_by_the_pool_team_only(session: Session, staff: dict[str, User]) -> None:
    rep_a, rep_b, rep_c = staff["rep_a"], staff["rep_b"], staff["rep_c"]
    pooled = make(session, "leads", None, "Plover")
    unowned_account = make(session, "accounts", None, "Plover Ltd")
    session.commit()
    assert seen(session, rep_a, "plover") == set()  # no pool named yet
    company.set_value(session, "unassigned_pool", "North")
    session.commit()
    assert seen(session, rep_a, "plover") == seen(session, rep_b, "plover") == {number(pooled)}  # not the account
    assert seen(session, rep_a, "pl") == {number(pooled)}
    assert seen(session, rep_c, "plover") == set()
    assert seen(session, None, "plover") == {number(pooled), number(unowned_account)}


def test_an_inactive_user_finds_nothing(session: Session, staff: dict[str, User]) -> None:
    rep_a = staff["rep_a"]
    make(session, "leads", rep_a, "Wren")
    rep_a.active = False
    session.commit()
    assert seen(session, rep_a, "wren") == set()


def parse(term: str) -> terms.Term:
    parsed = terms.Term.parse(term)
    assert parsed is not None
    return parsed


def _candidates(session: Session, term: str, user: User | None) -> set[int]:
    """Ids of the documents a search for `term` made for `user` considers (None: unscoped)."""
    return set(session.scalars(query.candidates_query(session, parse(term), None, query.visible_to(session, user))))


def test_own_matches_behind_more_than_candidates_invisible_ones_are_found(
    session: Session, staff: dict[str, User]
) -> None:
    rep_a, rep_c = staff["rep_a"], staff["rep_c"]
    ctx = bulk.BulkContext.load(session)
    row = {"last_name": "王", "first_name": "小明", "company": "Haystack Trading", "mobile": "0912 345 678"}
    (own_id,) = bulk.insert_records(session, "leads", [row | {"owner_id": rep_a.id}], ctx)  # the oldest
    bulk.insert_records(session, "leads", [row | {"owner_id": rep_c.id}] * (query.CANDIDATES + 1), ctx)
    search_index.rebuild_index(session)
    session.commit()
    own_doc = session.scalar(select(SearchDocument.id).where(SearchDocument.module == "leads",
                                                             SearchDocument.record_id == own_id))
    for term in ("haystack", "王小", "王", "0912 345"):  # trigrams, a range, one character, phone digits
        assert own_doc not in _candidates(session, term, None), term  # unscoped, it is past the limit
        assert _candidates(session, term, rep_a) == {own_doc}, term
        assert [r.id for r in query.search(session, term, user=rep_a)] == [own_id], term
        assert len(_candidates(session, term, rep_c)) == query.CANDIDATES, term


def test_record_numbers_behind_the_limit_are_found(
    session: Session, staff: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    rep_a, rep_c = staff["rep_a"], staff["rep_c"]
    leads = [make(session, "leads", rep_c, f"Lark {i}") for i in range(1, 19)]  # LEA1 … LEA18
    own = make(session, "leads", rep_a, "Lark 19")  # LEA19: the last in number order of LEA1*
    session.commit()
    assert [number(r) for r in (leads[0], own)] == ["LEA1", "LEA19"]
    monkeypatch.setattr(query, "CANDIDATES", 5)
    assert number(own) not in seen(session, None, "LEA1")
    assert seen(session, rep_a, "LEA1") == {number(own)}


PLANNED = 900  # records per module: enough that PostgreSQL plans as it does with many (a handful are hashed)


def test_scoped_candidates_are_read_through_indexes(session: Session, staff: dict[str, User], backend: str) -> None:
    rep_a, rep_c = staff["rep_a"], staff["rep_c"]
    company.set_value(session, "unassigned_pool", "North")
    owners = [rep_a.id, rep_c.id, None]  # rep_a's, another rep's, the pool's (leads only)
    ctx = bulk.BulkContext.load(session)
    rows: dict[str, list[dict[str, Any]]] = {
        "leads": [{"last_name": "王", "first_name": f"小{chr(0x4E00 + i)}", "mobile": f"0912 {i:06}"}
                  for i in range(PLANNED)],
        "accounts": [{"name": f"王氏 {i}"} for i in range(PLANNED)],
        "contacts": [{"last_name": "林", "first_name": f"大{chr(0x4E00 + i)}"} for i in range(PLANNED)],
        "opportunities": [{"name": f"王 deal {i}", "expected_close_date": "2026-09-30"} for i in range(PLANNED)],
    }
    for module, values in rows.items():
        pool = module == "leads"
        bulk.insert_records(session, module, [v | {"owner_id": owners[i % (3 if pool else 2)]}
                                              for i, v in enumerate(values)], ctx)
    _sales_records(session, owners[:2])
    search_index.rebuild_index(session)
    session.commit()
    if backend == "postgresql":
        session.execute(text("analyze"))
    check = query.visible_to(session, rep_a)
    plans = {term: explain(session, query.candidates_query(session, parse(term), None, check))
             for term in ("王小", "王", "王小一", "0912 000", "LEA1")}
    everything = "\n\n".join(plans.values())
    for table in registry.names(searchable=True):  # each record checked by its key (the catalogue is everyone's)
        if table in scope.EVERYONE:
            continue
        key = f"SEARCH {table} USING INTEGER PRIMARY KEY (rowid=?)" if backend == "sqlite" else f"pk_{table}"
        assert all(key in plan for plan in plans.values()), everything
    if backend == "sqlite":
        assert all("SEARCH search_documents USING INTEGER PRIMARY KEY (rowid=?)" in p for p in plans.values())
        scans = re.findall(r"SCAN (\w+)", everything)
        assert all(name.startswith("anon_") for name in scans), everything  # the union's own rows only
        assert "MULTI-INDEX OR" not in everything, everything  # no branch reads a module's every document
    else:
        assert all("pk_search_documents" in plan for plan in plans.values()), everything
        assert "Seq Scan" not in everything and "hashed SubPlan" not in everything, everything
    assert len(_candidates(session, "王小", rep_a)) == 2 * PLANNED // 3  # rep_a's leads and the pool's
    assert len(_candidates(session, "王", rep_a)) == 2 * PLANNED // 3 + PLANNED  # and half the accounts and deals


def _sales_records(session: Session, owners: list[int | None]) -> None:
    """PLANNED products, quotes, orders and invoices (none of them matching the planned terms), owned in turn."""
    currency = session.scalars(select(Currency.id).where(Currency.code == "TWD")).one()
    products = bulk.insert_records(session, "products", [
        {"name": f"Widget {i}", "currency_id": currency, "unit_price": "10", "product_type": "service",
         "specifications": [], "owner_id": owners[i % 2]}
        for i in range(PLANNED)], bulk.BulkContext.load(session))
    account = lifecycle.create_account(session, {"name": "Plain Trading"}).id  # its documents are found by its name
    for module in ("quotes", "sales_orders", "invoices"):
        sales_bulk.insert_documents(session, module, [
            sales_bulk.NewDocument({"subject": f"Order {i}", "account_id": account, "owner_id": owners[i % 2]},
                                   [sales_bulk.NewLine(products[i], Decimal(1))])
            for i in range(PLANNED)], Actor.system("test"), index=False)


def test_command_searches_what_the_acting_user_may_see(
    crm: Callable[..., Result], session: Session, staff: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_USER", raising=False)
    mine, theirs = make(session, "leads", staff["rep_a"], "Kestrel"), make(session, "leads", staff["rep_c"], "Kestrel")
    session.commit()

    def listed(*args: str) -> list[str]:
        header, *rows, count = crm(*args).output.splitlines()
        assert header.split()[0] == "NUMBER" and count == f"{len(rows)} found."
        return sorted(row.split()[0] for row in rows)

    assert listed("search", "kestrel") == sorted([number(mine), number(theirs)])  # acting as nobody: everything
    assert listed("--as", "A@example.com", "search", "kestrel") == [number(mine)]
    assert listed("--as", "admin@example.com", "search", "kestrel") == sorted([number(mine), number(theirs)])
    monkeypatch.setenv("CRM_USER", "c@example.com")
    assert listed("search", "kestrel") == [number(theirs)]
    assert listed("--as", "boss@example.com", "search", "kestrel") == [number(mine)]  # a report's
    assert crm("search", "kestrel", "--module", "accounts").output == "No records match 'kestrel'.\n"
    unknown = crm("--as", "nobody@example.com", "search", "kestrel", ok=False)
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: --as/CRM_USER: no user with email 'nobody@example.com'\n"


def test_a_new_owner_reaches_the_search_documents_however_the_record_is_reassigned(
    session: Session, staff: dict[str, User], path: str
) -> None:
    rep_a, rep_c = staff["rep_a"], staff["rep_c"]
    records = {m: make(session, m, rep_a, f"Curlew {m}") for m in MODULES}
    session.commit()
    assert seen(session, rep_a, "curlew") == {number(r) for r in records.values()}
    for module, record in records.items():  # a bulk UPDATE, as assignment and handover write it
        session.execute(text(f"update {module} set owner_id = :o where id = :i"), {"o": rep_c.id, "i": record.id})
    session.execute(text("update leads set owner_id = null where id = :i"), {"i": records["leads"].id})
    session.commit()
    owners = {module: owner for module, owner in session.execute(
        select(SearchDocument.module, SearchDocument.owner_id).where(SearchDocument.body.like("%curlew%")))}
    assert owners == {"leads": None, "accounts": rep_c.id, "contacts": rep_c.id, "opportunities": rep_c.id}
    assert seen(session, rep_a, "curlew") == set()
    assert seen(session, rep_c, "curlew") == {number(records[m]) for m in MODULES[1:]}
    company.set_value(session, "unassigned_pool", "North")  # rep_a's team: the unowned lead is in their pool
    session.commit()
    assert seen(session, rep_a, "curlew") == {number(records["leads"])}


def test_a_common_term_is_read_from_a_rep_s_own_documents_and_an_admin_s_from_the_postings(
    session: Session, staff: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    rep_a, rep_c, boss = staff["rep_a"], staff["rep_c"], staff["manager"]
    ctx = bulk.BulkContext.load(session)
    bulk.insert_records(session, "leads", [{"last_name": "Gannet", "owner_id": rep_c.id}] * 60, ctx)
    bulk.insert_records(session, "accounts", [{"name": "Tern Ltd", "owner_id": rep_c.id}] * 5, ctx)
    mine = make(session, "leads", rep_a, "Gannet")
    search_index.rebuild_index(session)  # the gram counts the choice reads
    session.commit()
    monkeypatch.setattr(query, "SCOPE_FIRST", 40)
    monkeypatch.setattr(query, "OWN_DOCUMENTS", 1)

    def statement(user: User | None) -> str:
        seen_by = scope.scope_of(session, user) if user is not None else None
        stmt = query.candidates_query(session, parse("gannet"), None, query.visible_to(session, user), seen_by)
        return str(stmt.compile())

    assert "search_documents.owner_id IN" in statement(rep_a)  # 1 record of rep_a's against 61 postings
    assert "search_documents.owner_id IN" not in statement(staff["admin"])  # sees everything
    assert "search_documents.owner_id IN" not in statement(rep_c)  # 65 records: not fewer than the 61 postings
    assert "search_documents.owner_id IN" in statement(boss)  # the manager of rep_a only
    assert seen(session, rep_a, "gannet") == {number(mine)}
    assert len(seen(session, rep_c, "gannet")) == 60
    assert seen(session, boss, "gannet") == {number(mine)}
