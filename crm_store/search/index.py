"""Keeping the search index current: one record at a time, a new lead on the web form's path, or all at once."""

from __future__ import annotations

import heapq
import json
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    ARRAY,
    Insert,
    Integer,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session

from crm_store.db.fast_insert import insert_rows, reserve_ids
from crm_store.models import (
    Base,
    SearchDocument,
    SearchGram,
    SearchGramStat,
    SearchPhoneGram,
)
from crm_store.pipeline.leads import is_open_lead
from crm_store.records import registry
from crm_store.search.documents import build_document, check_modules, chunks, document_rows, model_of, modules
from crm_store.search.terms import phone_grams, text_grams

CHUNK = 500  # records per statement when indexing incrementally
REBUILD_CHUNK = 5000  # documents per insert when rebuilding
FLUSH_POSTINGS = 20_000_000  # postings held in memory (4 bytes each) before a rebuild writes them out


@dataclass(frozen=True)
class IndexStats:
    """Rows in the index after a rebuild."""

    documents: int
    grams: int
    phone_grams: int


# -- keeping the index current ----------------------------------------------------------------------------

def index_records(session: Session, module: str, ids: Iterable[int]) -> int:
    """Bring these records' documents up to date: add, change or drop them; return how many changed.

    A deleted (or vanished) record loses its document. Records whose documents carry this module's
    name as their company (an account's contacts and opportunities) are re-checked too: the name may
    have changed, and a merge may have moved them.
    """
    check_modules([module])
    model = model_of(module)
    changed, ids = 0, sorted(set(ids))
    for chunk in chunks(ids, CHUNK):
        rows = {r.id: r for r in session.execute(document_rows(module).where(model.id.in_(chunk)))}
        docs = {
            d.record_id: d
            for d in session.scalars(
                select(SearchDocument).where(SearchDocument.module == module, SearchDocument.record_id.in_(chunk))
            )
        }
        for record_id in chunk:
            row = rows.get(record_id)
            changed += _apply(session, docs.get(record_id), build_document(module, row) if row is not None else None)
    for dependent, column in _named_after(module):
        for chunk in chunks(ids, CHUNK):
            dependent_ids = list(session.scalars(select(dependent.model.id).where(column.in_(chunk))))
            changed += index_records(session, dependent.name, dependent_ids)
    return changed


def _named_after(module: str) -> list[tuple[registry.Module, Any]]:
    """The searched modules whose documents carry a record of `module` as their company, and the column."""
    target = registry.get(module).model
    found = []
    for other in registry.modules():
        via = other.searchable.company_from if other.searchable is not None else None
        if via is not None and other.reference_models()[via] is target:
            found.append((other, getattr(other.model, via)))
    return found


_INSERT_DOCUMENT = insert(SearchDocument.__table__).returning(SearchDocument.__table__.c.id)
_INSERT_GRAMS = insert(SearchGram.__table__)
_INSERT_PHONE_GRAMS = insert(SearchPhoneGram.__table__)


def index_new_lead(session: Session, lead: Any) -> None:
    """Index a lead created in this transaction (an object or a mapping of its values): no reads.

    The web form's path: the same document `index_records` would build, without its look-ups.
    """
    get = lead.get if isinstance(lead, dict) else lambda name: getattr(lead, name)
    doc = build_document("leads", _lead_row(get))
    doc_id = session.execute(_INSERT_DOCUMENT, doc).scalar_one()
    for stmt, grams in ((_INSERT_GRAMS, text_grams(doc["body"])), (_INSERT_PHONE_GRAMS, phone_grams(doc["phones"]))):
        if grams:
            session.execute(stmt, [{"gram": g, "document_id": doc_id} for g in sorted(grams)])


def index_new_leads(session: Session, leads: Sequence[dict[str, Any]]) -> None:
    """Index many leads created in this transaction (mappings of their values), one statement per table."""
    if not leads:
        return
    docs = [build_document("leads", _lead_row(lead.get)) for lead in leads]
    for doc, doc_id in zip(docs, reserve_ids(session, SearchDocument.__table__, len(docs)), strict=True):
        doc["id"] = doc_id
    insert_rows(session, SearchDocument.__table__, docs)
    texts = [{"gram": g, "document_id": d["id"]} for d in docs for g in sorted(text_grams(d["body"]))]
    phones = [{"gram": g, "document_id": d["id"]} for d in docs for g in sorted(phone_grams(d["phones"]))]
    insert_rows(session, SearchGram.__table__, texts)
    insert_rows(session, SearchPhoneGram.__table__, phones)


def _lead_row(get: Callable[[str], Any]) -> SimpleNamespace:
    """A lead's values as `document_rows("leads")` would select them."""
    return SimpleNamespace(
        id=get("id"), number=get("lead_no"), first_name=get("first_name"), name=get("last_name"),
        company=get("company"), email=get("email"), email2=get("secondary_email"), phone=get("phone_e164"),
        mobile=get("mobile_e164"), is_open=is_open_lead(get), owner_id=get("owner_id"),
    )


def _apply(session: Session, old: SearchDocument | None, new: dict[str, Any] | None) -> int:
    """Make a record's document what it should be (added, changed or dropped); 1 when anything changed."""
    if old is None:
        if new is None:
            return 0
        document = SearchDocument(**new)
        session.add(document)
        session.flush()
        _move_grams(session, document.id, (set(), set()), _grams(new))
        return 1
    if new is not None and all(getattr(old, k) == v for k, v in new.items()):
        return 0
    before = (text_grams(old.body), phone_grams(old.phones))
    if new is None:
        _move_grams(session, old.id, before, (set(), set()))
        session.delete(old)
    else:
        for key, value in new.items():
            setattr(old, key, value)
        _move_grams(session, old.id, before, _grams(new))
    session.flush()
    return 1


Grams = tuple[set[Any], set[Any]]  # a document's text grams and phone grams


def _grams(document: dict[str, Any]) -> Grams:
    return text_grams(document["body"]), phone_grams(document["phones"])


def _move_grams(
    session: Session, document_id: int, before: Grams, after: Grams) -> None:
    """Delete the postings a document lost and insert those it gained."""
    for model, gone, added in zip((SearchGram, SearchPhoneGram), before, after, strict=True):
        table = model.__table__
        if gone - added:
            stmt = delete(table).where(table.c.gram == bindparam("g"), table.c.document_id == bindparam("d"))
            session.execute(stmt, [{"g": g, "d": document_id} for g in gone - added])
        if added - gone:
            session.execute(insert(table), [{"gram": g, "document_id": document_id} for g in added - gone])


def rebuild_index(
    session: Session, module: str | None = None, *, progress: Callable[[str, int], None] | None = None
) -> IndexStats:
    """Rebuild the whole index (module None), or re-check every record of one module.

    The whole rebuild numbers the documents oldest first and writes each gram's postings with one
    statement, in key order, so the posting tables only grow at their ends. A module re-check runs
    `index_records` over all of the module's records and rewrites only what changed.
    """
    tick = progress or (lambda _stage, _n: None)
    if module is not None:
        check_modules([module])
        return _recheck(session, module, tick)
    _clear(session)
    grams, phones = _PostingBuffer(session, SearchGram), _PostingBuffer(session, SearchPhoneGram)
    documents = 0
    for chunk in chunks(_documents_by_age(session), REBUILD_CHUNK):
        for doc in chunk:
            documents += 1
            doc["id"] = documents
            grams.add(documents, text_grams(doc["body"]))
            phones.add(documents, phone_grams(doc["phones"]))
        session.execute(insert(SearchDocument.__table__), chunk)
        if grams.held + phones.held > FLUSH_POSTINGS:
            grams.flush()
            phones.flush()
        tick("documents", len(chunk))
    tick("grams", 0)
    grams.flush()
    phones.flush()
    if grams.counts:
        session.execute(insert(SearchGramStat), [{"gram": g, "documents": n} for g, n in grams.counts.items()])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("select setval(pg_get_serial_sequence('search_documents', 'id'), :n + 1, false)"),
                        {"n": documents})
        session.execute(text("analyze search_documents, search_grams, search_phone_grams"))
    return IndexStats(documents, grams.written, phones.written)


class _PostingBuffer:
    """Postings gathered in memory (document ids ascending) and written one INSERT ... SELECT per gram.

    A gram's document ids travel as one parameter, an array (a JSON list on SQLite) that the database
    unpacks into rows: far less work per posting than a row of parameters each.
    """

    def __init__(self, session: Session, model: type[Base]) -> None:
        self.session, self.table = session, model.__table__
        self.lists: defaultdict[Any, array[int]] = defaultdict(lambda: array("i"))
        self.counts: defaultdict[Any, int] = defaultdict(int)  # documents per gram, over every flush
        self.held = self.written = 0

    def add(self, document_id: int, grams: set[Any]) -> None:
        lists = self.lists
        for gram in grams:
            lists[gram].append(document_id)
        self.held += len(grams)

    def flush(self) -> None:
        if not self.lists:
            return
        postgresql = self.session.get_bind().dialect.name == "postgresql"
        params = [{"gram": g, "ids": ids.tolist() if postgresql else json.dumps(ids.tolist())}
                  for g, ids in sorted(self.lists.items())]
        self.session.execute(_insert_lists(self.table, postgresql), params)
        for gram, ids in self.lists.items():
            self.counts[gram] += len(ids)
        self.written += self.held
        self.lists.clear()
        self.held = 0


def _insert_lists(table: Table, postgresql: bool) -> Insert:
    """INSERT one gram's list of document ids (an array, or a JSON list on SQLite) as rows."""
    gram = bindparam("gram", type_=table.c.gram.type)
    if postgresql:
        rows = select(gram, func.unnest(bindparam("ids", type_=ARRAY(Integer))))
    else:
        ids = func.json_each(bindparam("ids")).table_valued("value")
        rows = select(gram, ids.c.value).select_from(ids)
    return insert(table).from_select(["gram", "document_id"], rows)


def _recheck(session: Session, module: str, tick: Callable[[str, int], None]) -> IndexStats:
    ids = set(session.scalars(select(model_of(module).id)))
    ids |= set(session.scalars(select(SearchDocument.record_id).where(SearchDocument.module == module)))
    for chunk in chunks(sorted(ids), REBUILD_CHUNK):
        index_records(session, module, chunk)
        tick("documents", len(chunk))
    tick("grams", 0)
    refresh_gram_stats(session)
    count = lambda model: session.scalar(select(func.count()).select_from(model)) or 0  # noqa: E731
    return IndexStats(count(SearchDocument), count(SearchGram), count(SearchPhoneGram))


def refresh_gram_stats(session: Session) -> None:
    """Count the documents of every gram again (a rebuild does it; indexing single records does not)."""
    session.execute(delete(SearchGramStat))
    per_gram = select(SearchGram.gram, func.count()).group_by(SearchGram.gram)
    session.execute(insert(SearchGramStat).from_select(["gram", "documents"], per_gram))


def _clear(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("truncate search_grams, search_phone_grams, search_documents, search_gram_stats"))
        return
    for model in (SearchGram, SearchPhoneGram, SearchDocument, SearchGramStat):
        session.execute(delete(model))


def _documents_by_age(session: Session) -> Iterator[dict[str, Any]]:
    """Every live record's document, oldest first across modules."""

    def stream(module: str) -> Iterator[tuple[Any, dict[str, Any]]]:
        model = model_of(module)
        stmt = document_rows(module).add_columns(model.created_at).order_by(model.created_at, model.id)
        for row in session.execute(stmt, execution_options={"yield_per": REBUILD_CHUNK}):
            yield row.created_at, build_document(module, row)

    merged = heapq.merge(*(stream(m) for m in modules()), key=lambda pair: pair[0])
    return (doc for _, doc in merged)
