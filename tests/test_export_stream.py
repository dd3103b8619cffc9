"""The CSV export as one streamed statement (SQLite and PostgreSQL): a list longer than the pages it used to be read
in (MAX_PAGE_SIZE rows) comes out with every row exactly once, in the order the list's own pages show, within the
user's scope and formula-escaped; in chunks of CHUNK_ROWS rows; audited with its row count when it ends, and as cut
short when the browser stops reading.

The expected rows are read two other ways: which ones, by the scope's own SQL condition (`scope.condition`); their
order, by walking the list's pages along its cursor (`listing.list_records`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.actor import Actor
from crm_store.models import AuditEntry, Lead, User
from crm_store.pipeline import activities
from crm_store.records import bulk, export
from crm_store.records.documents import add_document
from crm_store.records.listing import MAX_PAGE_SIZE, SORTS, ListFilter, list_records
from crm_store.settings import company
from crm_store.staff import scope as scoping

from .test_staff_records import Crew, make_crew, signed_in

BOM = b"\xef\xbb\xbf"
T0 = dt.datetime(2026, 4, 1, 2, 0, tzinfo=dt.UTC)
LONG = 450  # more than two of the pages the export used to read
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FORMULAS = ("=", "+", "-", "@")


@pytest.fixture
def crew(session: Session) -> Crew:
    """admin; the manager "Boss"; rep (Rep A, Boss's report) and rep_b in the team North; rep_c on their own."""
    return make_crew(session)


def load_leads(session: Session, crew: Crew, who: str | None, count: int, tag: str) -> None:
    """`count` leads owned by `who` (None: the pool), committed: created three to a minute (ties broken by id),
    last names repeating (ties again), every fifth company beginning like a formula."""
    owner = {"owner_id": crew.ids[who]} if who else {}
    rows = ({"last_name": f"{tag} {i % 40:02d}", "created_at": T0 + dt.timedelta(minutes=i // 3),
             "company": f"{FORMULAS[i % 4]}{tag} {i}" if i % 5 == 0 else f"{tag} Co {i}", **owner}
            for i in range(count))
    bulk.insert_records(session, "leads", rows, bulk.BulkContext.load(session))
    session.commit()


@pytest.fixture
def leads(session: Session, crew: Crew) -> None:
    """LONG leads of the rep's, some of their manager's and teammate's, of someone else's and in the pool."""
    load_leads(session, crew, "rep", LONG, "Rep")
    load_leads(session, crew, "manager", 40, "Boss")
    load_leads(session, crew, "rep_b", 70, "Mate")
    load_leads(session, crew, "rep_c", 60, "Other")
    load_leads(session, crew, None, 25, "Pool")


def the_user(session: Session, crew: Crew, who: str) -> User:
    found = session.get(User, crew.ids[who])
    assert found is not None
    return found


def parse_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body[len(BOM):].decode("utf-8"), newline="")))


def visible_numbers(session: Session, crew: Crew, who: str) -> set[str]:
    """The numbers of the open leads the scope's SQL condition lets `who` see."""
    scope = scoping.scope_of(session, the_user(session, crew, who))
    found = set(session.scalars(select(Lead.lead_no).where(
        scoping.condition(scope, "leads"), Lead.deleted_at.is_(None), Lead.converted_at.is_(None))))
    session.rollback()
    return found


def owned_numbers(session: Session, crew: Crew, who: str) -> set[str]:
    found = set(session.scalars(select(Lead.lead_no).where(Lead.owner_id == crew.ids[who])))
    session.rollback()
    return found


def paged_numbers(session: Session, crew: Crew, who: str, sort: str, descending: bool,
                  filters: ListFilter | None = None) -> list[str]:
    """The list's numbers as its pages show them, one page after another along the cursor."""
    user, numbers, cursor = the_user(session, crew, who), [], None
    while True:
        page = list_records(session, user, "leads", filters, sort=sort, descending=descending, cursor=cursor,
                            size=MAX_PAGE_SIZE)
        numbers += [row.number for row in page.rows]
        if page.next_cursor is None:
            session.rollback()
            return numbers
        cursor = page.next_cursor


def exports(session: Session) -> list[dict[str, Any]]:
    """The changes of each export audit row, oldest first."""
    found = [dict(e.changes) for e in session.scalars(
        select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id))]
    session.rollback()
    return found


@pytest.mark.usefixtures("leads")
@pytest.mark.parametrize("chunk", [export.CHUNK_ROWS, 7])
@pytest.mark.parametrize(("sort", "order"), [("created", "desc"), ("name", "asc")])
def test_a_long_export_has_each_row_once_in_the_lists_order(client: Any, session: Session, crew: Crew,
                                                            monkeypatch: pytest.MonkeyPatch, sort: str, order: str,
                                                            chunk: int) -> None:
    monkeypatch.setattr(export, "CHUNK_ROWS", chunk)
    the_user(session, crew, "rep").time_zone = "Asia/Taipei"
    session.commit()
    signed_in(client, crew, "rep")
    response = client.get(f"/leads/export.csv?sort={sort}&order={order}")
    assert response.status_code == 200 and response.is_streamed
    table = parse_csv(response.get_data())
    assert table[0] == ["Number", "Name", "Company", "Status", "Phone", "Assigned to", "Created"]
    numbers = [row[0] for row in table[1:]]

    assert len(numbers) == len(set(numbers)) == LONG  # each row once; more than two old pages
    assert set(numbers) == visible_numbers(session, crew, "rep") == owned_numbers(session, crew, "rep")
    assert numbers == paged_numbers(session, crew, "rep", sort, order == "desc")
    assert not set(numbers) & owned_numbers(session, crew, "rep_c")
    assert {row[5] for row in table[1:]} == {"Rep A"}
    taipei = dt.timezone(dt.timedelta(hours=8))  # moments in the user's zone, to the minute
    assert {row[6] for row in table[1:]} == {
        (T0 + dt.timedelta(minutes=i // 3)).astimezone(taipei).strftime("%Y-%m-%d %H:%M") for i in range(LONG)}
    if sort == "created":  # the newest first: 02:00 UTC and 149 minutes, in Taipei
        assert table[1][6] == "2026-04-01 12:29"

    companies = [row[2] for row in table[1:]]
    risky = [c for c in companies if c.lstrip("'").startswith(FORMULAS)]
    assert len(risky) == LONG // 5 and all(c.startswith("'") and c[1] in FORMULAS for c in risky)
    assert all(c.startswith("Rep Co ") for c in companies if c not in risky)
    assert exports(session) == [{"filter": {"sort": sort, "order": order}, "rows": LONG}]


@pytest.mark.usefixtures("leads")
@pytest.mark.parametrize(("who", "pool"), [("manager", ""), ("rep", ""), ("rep", "North")])
def test_an_export_over_several_owners_merges_them_in_the_lists_order(client: Any, session: Session, crew: Crew,
                                                                      who: str, pool: str) -> None:
    """The manager sees their report's leads; a rep their teammate's when records are shared with the team (and the
    pool's when their team holds it): rows of several owners, created at the same moments, in one order (ties by
    id), and never rep_c's."""
    company.set_value(session, "record_sharing", "team")
    company.set_value(session, "unassigned_pool", pool)
    session.commit()
    signed_in(client, crew, who)
    table = parse_csv(client.get("/leads/export.csv").get_data())
    numbers = [row[0] for row in table[1:]]

    assert len(numbers) == len(set(numbers)) > LONG
    assert set(numbers) == visible_numbers(session, crew, who)
    assert set(numbers) >= owned_numbers(session, crew, "rep")
    owners = {row[5] for row in table[1:]}
    assert owners >= {"Rep A", "Boss" if who == "manager" else "Rep B"} and ("" in owners) == bool(pool)
    assert not set(numbers) & owned_numbers(session, crew, "rep_c")
    assert numbers == paged_numbers(session, crew, who, "created", True)
    assert exports(session)[-1]["rows"] == len(numbers)


@pytest.mark.usefixtures("leads")
def test_a_filtered_export_and_the_pool(client: Any, session: Session, crew: Crew) -> None:
    rep = signed_in(client, crew, "rep")
    table = parse_csv(client.get("/leads/export.csv?q=Rep 0&sort=name&order=asc").get_data())
    numbers = [row[0] for row in table[1:]]
    assert numbers == paged_numbers(session, crew, "rep", "name", False, ListFilter(prefix="Rep 0"))
    assert {row[1] for row in table[1:]} == {f"Rep {i:02d}" for i in range(10)}
    assert len(numbers) == sum(1 for i in range(LONG) if i % 40 < 10)

    rep.sign_out()
    signed_in(client, crew, "admin")
    table = parse_csv(client.get("/leads/export.csv?owner=pool").get_data())
    assert [row[0] for row in table[1:]] == paged_numbers(session, crew, "admin", "created", True,
                                                          ListFilter(unowned=True))
    assert len(table) == 1 + 25 and {row[5] for row in table[1:]} == {""}


@pytest.mark.usefixtures("leads")
def test_the_export_streams_in_chunks_and_one_cut_short_is_audited_so(client: Any, session: Session, crew: Crew,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "CHUNK_ROWS", 100)
    signed_in(client, crew, "rep")
    response = client.get("/leads/export.csv", buffered=False)
    chunks = iter(response.response)
    assert next(chunks).startswith(BOM)  # the headers
    first, second = next(chunks), next(chunks)
    assert first.count(b"\r\n") == second.count(b"\r\n") == 100
    response.close()  # the browser went away
    assert exports(session) == [{"filter": {}, "rows": 200, "complete": False}]

    whole = client.get("/leads/export.csv", buffered=False)
    sizes = [chunk.count(b"\r\n") for chunk in whole.response]
    whole.close()
    assert sizes == [1, 100, 100, 100, 100, 50]
    assert exports(session)[-1] == {"filter": {}, "rows": LONG}


def test_an_export_of_nothing_has_its_headers(client: Any, session: Session, crew: Crew) -> None:
    signed_in(client, crew, "rep")
    assert parse_csv(client.get("/leads/export.csv").get_data()) == [
        ["Number", "Name", "Company", "Status", "Phone", "Assigned to", "Created"]]
    assert parse_csv(client.get(f"/leads/export.csv?owner={crew.ids['rep_c']}").get_data())[1:] == []  # hidden
    assert [e["rows"] for e in exports(session)] == [0, 0]


def paged_rows(session: Session, user: User, module: str) -> dict[tuple[str, bool], list[Any]]:
    """Each sort's rows of a list as its pages show them, along the cursor (rows compared whole)."""
    found: dict[tuple[str, bool], list[Any]] = {}
    for sort in SORTS[module]:
        for descending in (True, False):
            rows, cursor = found.setdefault((sort, descending), []), None
            while True:
                page = list_records(session, user, module, sort=sort, descending=descending, cursor=cursor,
                                    size=MAX_PAGE_SIZE)
                rows += page.rows
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
    return found


@pytest.mark.parametrize("module", ["leads", "activities", "documents"])
def test_the_statement_reads_the_rows_the_lists_pages_show(session: Session, crew: Crew, env: dict[str, str],
                                                          monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Rows compared whole, in every sort both ways: an activity or a document names the records it is about that
    the user may see (read a chunk at a time while the statement is still being read); a document of someone else's
    attached to one of the user's leads is seen."""
    monkeypatch.setattr(export, "CHUNK_ROWS", 3)
    load_leads(session, crew, "rep", LONG if module == "leads" else 6, "Rep")
    load_leads(session, crew, "rep_c", 60 if module == "leads" else 2, "Other")
    leads = {who: list(session.scalars(select(Lead).where(Lead.owner_id == crew.ids[who]).order_by(Lead.id)))
             for who in ("rep", "rep_c")}
    rep_actor, other_actor = Actor.user(crew.ids["rep"]), Actor.user(crew.ids["rep_c"])
    if module == "activities":
        for i in range(14):
            about = leads["rep_c"][i % 2] if i % 4 == 0 else leads["rep"][i % 6]
            values = {"type": "task", "subject": f"Call {i % 5}", "owner_id": crew.ids["rep"], "lead_id": about.id,
                      "due_date": dt.date(2026, 4, 1 + i % 3)}
            activities.create_activity(session, values, rep_actor)
        activities.create_activity(session, {"type": "task", "subject": "Not mine", "owner_id": crew.ids["rep_c"],
                                             "due_date": dt.date(2026, 4, 1)}, other_actor)
    if module == "documents":
        data_dir = Path(env["CRM_DATA_DIR"])
        for i in range(13):
            add_document(session, data_dir, leads["rep"][i % 6], PDF, filename=f"quote {i % 4}.pdf", actor=rep_actor)
        add_document(session, data_dir, leads["rep"][0], PDF, filename="theirs.pdf", actor=other_actor)
        add_document(session, data_dir, leads["rep_c"][0], PDF, filename="private.pdf", actor=other_actor)
    session.commit()
    rep = the_user(session, crew, "rep")
    for (sort, descending), wanted in paged_rows(session, rep, module).items():
        assert list(export.all_rows(session, rep, module, sort=sort, descending=descending)) == wanted
        assert len(wanted) == {"leads": LONG, "activities": 14, "documents": 14}[module]
    if module == "activities":
        assert {len(row.about) for row in wanted} == {0, 1}  # another rep's lead is not named
    if module == "documents":
        assert {row.about[0].number for row in wanted} <= {lead.lead_no for lead in leads["rep"]}
    session.rollback()


def test_exports_take_turns_in_the_order_they_asked() -> None:
    """An export going on to its next chunk waits behind one that asked meanwhile (a plain lock would let it
    straight back in, and a long export keep a short one waiting to its end)."""
    turns, order = export.Turns(), []

    def other() -> None:
        with turns:
            order.append("other")

    with turns:
        thread = threading.Thread(target=other)
        thread.start()
        while not turns._waiting:  # until the other has asked
            time.sleep(0.001)
    with turns:
        order.append("again")
    thread.join()
    assert order == ["other", "again"]
