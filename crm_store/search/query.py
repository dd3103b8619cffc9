"""Search leads, accounts, contacts and opportunities by name, company, email, phone and record number.

Every live record has one search document (`crm_store.models.search`): its record number, whether it
is open, a normalised body (names in both orders, company, emails) and its phone digits. Any substring
of two or more characters is found through the gram tables, never by scanning records: a term of three
or more characters through its rarest trigrams, a two-character term through the range of trigrams it
begins, four or more digits through the phone grams, a record number (LEA12) through its own index.
Candidates are checked against the stored text and ranked exact > prefix > substring, then open
records first, then newest (document ids grow with the records' creation time).

Functions take the caller's session and never commit. Call `index_records` after records are
created, changed or deleted; a bulk load calls `rebuild_index` once at the end.
"""

from __future__ import annotations

import heapq
import json
import re
import unicodedata
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from types import SimpleNamespace
from typing import Any

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Insert,
    Integer,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    text,
    true,
    union,
)
from sqlalchemy.orm import Session, aliased

from crm_store.errors import ValidationError
from crm_store.models import (
    OPEN_LEAD_EXCLUDED_STATUSES,
    Account,
    Base,
    Contact,
    Lead,
    Opportunity,
    SearchDocument,
    SearchGram,
    SearchGramStat,
    SearchPhoneGram,
)
from crm_store.pipeline.leads import open_lead_condition

MODULES = ("leads", "accounts", "contacts", "opportunities")
MODELS: dict[str, Any] = {"leads": Lead, "accounts": Account, "contacts": Contact, "opportunities": Opportunity}
EXACT, PREFIX, SUBSTRING = 0, 1, 2
MATCHES = ("exact", "prefix", "substring")
MIN_TERM = 2
MIN_PHONE_DIGITS = 4
SEP = "\n"  # between the pieces of a body; a term's whitespace is collapsed, so no term holds it
# At most this many matches per way of finding (text, phone, number) are ranked, newest first: a term
# matching more ("an", "gmail") is ranked among its newest matches, so it costs no more than a rare one.
CANDIDATES = 2000
PROBE = 3000  # postings counted per gram to find the rarest
RANGE_SORT = 50_000  # a two-character range with more postings is read in index order, not sorted by age
CHUNK = 500  # records per statement when indexing incrementally
REBUILD_CHUNK = 5000  # documents per insert when rebuilding
FLUSH_POSTINGS = 20_000_000  # postings held in memory (4 bytes each) before a rebuild writes them out
CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]")
NUMBER_TERM = re.compile(r"(lea|acc|con|pot)\d+")
PHONE_TERM = re.compile(r"\+?[\d\s().\-]+")
_CONTROL = {c: None for c in range(32)} | {0x7F: None}


@dataclass(frozen=True)
class SearchResult:
    """One record found: enough to show a line and link to it."""

    module: str
    id: int
    number: str
    title: str
    subtitle: str
    is_open: bool
    rank: int  # EXACT, PREFIX or SUBSTRING

    @property
    def match(self) -> str:
        """How the term matched: exact, prefix or substring."""
        return MATCHES[self.rank]


@dataclass(frozen=True)
class IndexStats:
    """Rows in the index after a rebuild."""

    documents: int
    grams: int
    phone_grams: int


# -- normalising ------------------------------------------------------------------------------------------

def normalise(value: str) -> str:
    """Return text as the index holds it: NFKC, lower case, single spaces, no control characters."""
    value = " ".join(unicodedata.normalize("NFKC", value).lower().split())
    return value if value.isprintable() else value.translate(_CONTROL)


def national_digits(e164: str) -> str:
    """Return a number as dialled at home, with a trunk 0 for every country: +886912345678 -> 0912345678."""
    digits = e164.lstrip("+")
    for size in (1, 2, 3):
        if digits[:size].isdigit() and int(digits[:size]) in COUNTRY_CODE_TO_REGION_CODE:
            return "0" + digits[size:]
    return digits


def person_name(first: str | None, last: str) -> tuple[str, list[str]]:
    """Return a person's display name and the orders it is searched in (Chinese: family name first)."""
    first = (first or "").strip()
    if CJK.search(first + last):
        return last + first, [last + first]
    if not first:
        return last, [last]
    return f"{first} {last}", [f"{first} {last}", f"{last} {first}"]


@dataclass(frozen=True)
class Term:
    """A search term, normalised, and what else it may be: phone digits, a record number."""

    text: str
    digits: str | None = None
    number: str | None = None

    @classmethod
    def parse(cls, raw: str) -> Term | None:
        """Normalise a typed term; None when it is shorter than two characters."""
        value = normalise(raw)
        if len(value) < MIN_TERM:
            return None
        digits = None
        if PHONE_TERM.fullmatch(value):
            digits = re.sub(r"\D", "", value)
            digits = national_digits(digits) if value.startswith("+") else digits
            digits = digits if len(digits) >= MIN_PHONE_DIGITS else None
        number = value.upper() if NUMBER_TERM.fullmatch(value) else None
        return cls(value, digits, number)


# -- documents --------------------------------------------------------------------------------------------

def document_rows(module: str) -> Select[Any]:
    """Select the live records of a module with what their documents and result lines are made of."""
    if module == "leads":
        return select(
            Lead.id, Lead.lead_no.label("number"), open_lead_condition().label("is_open"), Lead.first_name,
            Lead.last_name.label("name"), Lead.company, Lead.email, Lead.secondary_email.label("email2"),
            Lead.phone_e164.label("phone"), Lead.mobile_e164.label("mobile"),
        ).where(Lead.deleted_at.is_(None))
    if module == "accounts":
        return select(
            Account.id, Account.account_no.label("number"), true().label("is_open"), null().label("first_name"),
            Account.name, null().label("company"), Account.email, Account.secondary_email.label("email2"),
            Account.phone_e164.label("phone"), null().label("mobile"),
        ).where(Account.deleted_at.is_(None))
    company = aliased(Account)
    if module == "contacts":
        return select(
            Contact.id, Contact.contact_no.label("number"), true().label("is_open"), Contact.first_name,
            Contact.last_name.label("name"), company.name.label("company"), Contact.email,
            Contact.secondary_email.label("email2"), Contact.phone_e164.label("phone"),
            Contact.mobile_e164.label("mobile"),
        ).outerjoin(company, company.id == Contact.account_id).where(Contact.deleted_at.is_(None))
    if module == "opportunities":
        return select(
            Opportunity.id, Opportunity.opportunity_no.label("number"),
            Opportunity.closed_at.is_(None).label("is_open"), null().label("first_name"), Opportunity.name,
            company.name.label("company"), null().label("email"), null().label("email2"), null().label("phone"),
            null().label("mobile"),
        ).outerjoin(company, company.id == Opportunity.account_id).where(Opportunity.deleted_at.is_(None))
    raise ValidationError("module", f"{module!r} is not one of {', '.join(MODULES)}")


def _names(module: str, row: Any) -> tuple[str, list[str]]:
    if module in ("leads", "contacts"):
        return person_name(row.first_name, row.name)
    return row.name, [row.name]


def describe(module: str, row: Any) -> tuple[str, str]:
    """Return the title and subtitle of a result line for one row of `document_rows`."""
    subtitle = " · ".join(v for v in (row.company, row.email or row.phone) if v)
    return _names(module, row)[0], subtitle


def build_document(module: str, row: Any) -> dict[str, Any]:
    """Return the search document's values for one row of `document_rows`."""
    names = _names(module, row)[1]
    return {
        "module": module, "record_id": row.id, "number": row.number, "is_open": bool(row.is_open),
        "body": _pieces(normalise(p) for p in (*names, row.company, row.email, row.email2) if p),
        "phones": _pieces(national_digits(p) for p in (row.phone, row.mobile) if p),
    }


def _pieces(values: Iterable[str]) -> str:
    unique = [v for v in dict.fromkeys(values) if v]
    return SEP + SEP.join(unique) + SEP if unique else ""


def text_grams(body: str) -> set[str]:
    """Every trigram of each piece, and each piece's last two characters."""
    return {piece[i : i + 3] for piece in body.split(SEP) for i in range(len(piece) - 1)}


def phone_grams(phones: str) -> set[int]:
    """Every four consecutive digits of each phone number, as a number."""
    return {int(p[i : i + 4]) for p in phones.split(SEP) for i in range(len(p) - 3)}


# -- keeping the index current ----------------------------------------------------------------------------

def index_records(session: Session, module: str, ids: Iterable[int]) -> int:
    """Bring these records' documents up to date: add, change or drop them; return how many changed.

    A deleted (or vanished) record loses its document. Accounts have their contacts and opportunities
    re-checked too: their documents carry the account's name, and a merge may have moved them.
    """
    _check_modules([module])
    model = MODELS[module]
    changed, ids = 0, sorted(set(ids))
    for chunk in _chunks(ids, CHUNK):
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
    if module == "accounts":
        for chunk in _chunks(ids, CHUNK):
            for dependent in (Contact, Opportunity):
                dependent_ids = list(session.scalars(select(dependent.id).where(dependent.account_id.in_(chunk))))
                changed += index_records(session, dependent.__tablename__, dependent_ids)
    return changed


_INSERT_DOCUMENT = insert(SearchDocument.__table__).returning(SearchDocument.__table__.c.id)
_INSERT_GRAMS = insert(SearchGram.__table__)
_INSERT_PHONE_GRAMS = insert(SearchPhoneGram.__table__)


def index_new_lead(session: Session, lead: Any) -> None:
    """Index a lead created in this transaction (an object or a mapping of its values): no reads.

    The web form's path: the same document `index_records` would build, without its look-ups.
    """
    get = lead.get if isinstance(lead, dict) else lambda name: getattr(lead, name)
    status = get("status")
    row = SimpleNamespace(
        id=get("id"), number=get("lead_no"), first_name=get("first_name"), name=get("last_name"),
        company=get("company"), email=get("email"), email2=get("secondary_email"), phone=get("phone_e164"),
        mobile=get("mobile_e164"),
        is_open=get("converted_at") is None and get("deleted_at") is None
        and (status is None or status not in OPEN_LEAD_EXCLUDED_STATUSES),
    )
    doc = build_document("leads", row)
    doc_id = session.execute(_INSERT_DOCUMENT, doc).scalar_one()
    for stmt, grams in ((_INSERT_GRAMS, text_grams(doc["body"])), (_INSERT_PHONE_GRAMS, phone_grams(doc["phones"]))):
        if grams:
            session.execute(stmt, [{"gram": g, "document_id": doc_id} for g in sorted(grams)])


def _apply(session: Session, old: SearchDocument | None, new: dict[str, Any] | None) -> int:
    if old is None and new is None:
        return 0
    if old is not None and new is not None and all(getattr(old, k) == v for k, v in new.items()):
        return 0
    before = (text_grams(old.body), phone_grams(old.phones)) if old is not None else (set(), set())
    after = (text_grams(new["body"]), phone_grams(new["phones"])) if new is not None else (set(), set())
    if old is None:
        old = SearchDocument(**new)  # type: ignore[arg-type]
        session.add(old)
        session.flush()
    elif new is not None:
        for key, value in new.items():
            setattr(old, key, value)
    for model, gone, added in zip((SearchGram, SearchPhoneGram), before, after, strict=True):
        table = model.__table__
        if gone - added:
            stmt = delete(table).where(table.c.gram == bindparam("g"), table.c.document_id == bindparam("d"))
            session.execute(stmt, [{"g": g, "d": old.id} for g in gone - added])
        if added - gone:
            session.execute(insert(table), [{"gram": g, "document_id": old.id} for g in added - gone])
    if new is None:
        session.delete(old)
    session.flush()
    return 1


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
        _check_modules([module])
        return _recheck(session, module, tick)
    _clear(session)
    grams, phones = _PostingBuffer(session, SearchGram), _PostingBuffer(session, SearchPhoneGram)
    documents = 0
    for chunk in _chunks(_documents_by_age(session), REBUILD_CHUNK):
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


def _among(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids` with the ids as one parameter: thousands of them cost no more to send than a few."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", list(ids), type_=ARRAY(Integer)))
    listed = func.json_each(bindparam("ids", json.dumps(list(ids)))).table_valued("value")
    return column.in_(select(listed.c.value))


def _recheck(session: Session, module: str, tick: Callable[[str, int], None]) -> IndexStats:
    ids = set(session.scalars(select(MODELS[module].id)))
    ids |= set(session.scalars(select(SearchDocument.record_id).where(SearchDocument.module == module)))
    for chunk in _chunks(sorted(ids), REBUILD_CHUNK):
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
        model = MODELS[module]
        stmt = document_rows(module).add_columns(model.created_at).order_by(model.created_at, model.id)
        for row in session.execute(stmt, execution_options={"yield_per": REBUILD_CHUNK}):
            yield row.created_at, build_document(module, row)

    merged = heapq.merge(*(stream(m) for m in MODULES), key=lambda pair: pair[0])
    return (doc for _, doc in merged)


# -- searching --------------------------------------------------------------------------------------------

def search(
    session: Session, term: str, *, limit: int = 20, modules: Sequence[str] | None = None
) -> list[SearchResult]:
    """Find records matching `term`: best first (exact, prefix, substring; open; newest)."""
    if modules is not None:
        _check_modules(modules)
    parsed = Term.parse(term)
    if parsed is None:
        return []
    ids = list(session.scalars(candidates_query(session, parsed, modules)))
    if not ids:
        return []
    found = session.execute(ranked_query(session, parsed, ids, limit)).all()
    lines = _result_lines(session, [(r.module, r.id) for r in found])
    # A record deleted since it was indexed has no line: it is left out rather than shown.
    return [SearchResult(r.module, r.id, r.number, *lines[r.module, r.id], bool(r.is_open), r.rank)
            for r in found if (r.module, r.id) in lines]


def candidates_query(session: Session, term: Term, modules: Sequence[str] | None = None) -> Select[Any]:
    """Select the ids of documents matching the term, at most CANDIDATES of the newest per way of finding.

    Building it reads how common the term's grams are, to start from the rarest.
    """
    sources = [_text_source(session, term, modules), _phone_source(session, term, modules),
               _number_source(term, modules)]
    return union(*(s.subquery().select() for s in sources if s is not None))


def ranked_query(session: Session, term: Term, ids: Sequence[int], limit: int = 20) -> Select[Any]:
    """Select (module, id, number, is_open, rank) of these documents, best first."""
    doc, rank = SearchDocument, _rank(term)
    return (
        select(doc.module, doc.record_id.label("id"), doc.number, doc.is_open, rank.label("rank"))
        .where(_among(session, doc.id, ids))
        .order_by(rank, doc.is_open.desc(), doc.id.desc())
        .limit(limit)
    )


def _result_lines(session: Session, keys: list[tuple[str, int]]) -> dict[tuple[str, int], tuple[str, str]]:
    by_module: dict[str, list[int]] = defaultdict(list)
    for module, record_id in keys:
        by_module[module].append(record_id)
    return {
        (module, row.id): describe(module, row)
        for module, ids in by_module.items()
        for row in session.execute(document_rows(module).where(MODELS[module].id.in_(ids)))
    }


def _check_modules(modules: Iterable[str]) -> None:
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise ValidationError("module", f"{unknown[0]!r} is not one of {', '.join(MODULES)}")


def _checked(correlated: Select[Any]) -> ColumnElement[bool]:
    """EXISTS, evaluated row by row through the primary key.

    OFFSET 0 keeps PostgreSQL from turning the check into a join, which it may answer by hashing
    every document; SQLite checks row by row anyway.
    """
    return correlated.offset(0).exists()


def _document_check(posting: Any, condition: ColumnElement[bool] | None, modules: Sequence[str] | None) -> Any:
    doc = SearchDocument
    conditions = [c for c in (condition, doc.module.in_(modules) if modules is not None else None) if c is not None]
    return _checked(select(doc.id).where(doc.id == posting, *conditions)) if conditions else None


def _text_source(session: Session, term: Term, modules: Sequence[str] | None) -> Select[Any]:
    q = term.text
    gram = SearchGram.__table__.alias("g1")
    if len(q) == 2:
        # Every two characters of a piece begin one of its grams: the term's range holds exactly its matches.
        in_range = and_(gram.c.gram >= q, gram.c.gram < _successor(q))
        stmt = select(gram.c.document_id.label("id")).distinct().where(in_range)
        if modules is not None:
            stmt = stmt.where(_document_check(gram.c.document_id, None, modules))
        if _capped_count(session, select(gram.c.gram).where(in_range), RANGE_SORT) < RANGE_SORT:
            stmt = stmt.order_by(gram.c.document_id.desc())
        return stmt.limit(CANDIDATES)
    grams = sorted({q[i : i + 3] for i in range(len(q) - 2)})
    matches = SearchDocument.body.like(f"%{_escape(q)}%", escape="\\")
    return _postings(session, SearchGram.__table__, grams, matches, modules)


def _phone_source(session: Session, term: Term, modules: Sequence[str] | None) -> Select[Any] | None:
    if term.digits is None:
        return None
    d = term.digits
    grams = sorted({int(d[i : i + 4]) for i in range(len(d) - 3)})
    return _postings(session, SearchPhoneGram.__table__, grams, SearchDocument.phones.like(f"%{d}%"), modules)


def _number_source(term: Term, modules: Sequence[str] | None) -> Select[Any] | None:
    if term.number is None:
        return None
    doc = SearchDocument
    # Record numbers are letters and digits, and ":" sorts right after "9": the range is the prefix.
    stmt = select(doc.id).where(doc.number >= term.number, doc.number < term.number + ":")
    if modules is not None:
        stmt = stmt.where(doc.module.in_(modules))
    return stmt.order_by(doc.number).limit(CANDIDATES)


def _postings(
    session: Session, table: Table, grams: list[Any], matches: ColumnElement[bool], modules: Sequence[str] | None
) -> Select[Any]:
    """Documents holding every gram and matching, newest first: the rarest gram's postings, read backwards,
    each probed for the next two grams and then checked against its document."""
    counts = _gram_counts(session, table, grams)
    driver, *probes = sorted(grams, key=lambda g: counts[g])
    first = table.alias("g1")
    stmt = select(first.c.document_id.label("id")).where(first.c.gram == driver)
    for i, probe in enumerate(probes[:2], 2):
        other = table.alias(f"g{i}")
        stmt = stmt.where(_checked(select(other.c.document_id).where(
            other.c.gram == probe, other.c.document_id == first.c.document_id)))
    stmt = stmt.where(_document_check(first.c.document_id, matches, modules))
    return stmt.order_by(first.c.document_id.desc()).limit(CANDIDATES)


def _gram_counts(session: Session, table: Table, grams: list[Any]) -> dict[Any, int]:
    """How many documents hold each gram: as of the last rebuild, else counted now up to PROBE.

    Counts go stale between rebuilds, but only the order of a term's grams matters, and a gram new
    since then is rare enough to be counted now.
    """
    counts: dict[Any, int] = {}
    if table is SearchGram.__table__:
        stat = SearchGramStat
        counts = dict(session.execute(select(stat.gram, stat.documents).where(stat.gram.in_(grams))).all())
    missing = [g for g in grams if g not in counts]
    if missing:
        columns = [_capped(select(table.c.gram).where(table.c.gram == g), PROBE).label(f"c{i}")
                   for i, g in enumerate(missing)]
        counts |= dict(zip(missing, session.execute(select(*columns)).one(), strict=True))
    return counts


def _capped(stmt: Select[Any], cap: int) -> Any:
    return select(func.count()).select_from(stmt.limit(cap).subquery()).scalar_subquery()


def _capped_count(session: Session, stmt: Select[Any], cap: int) -> int:
    return session.scalar(select(_capped(stmt, cap))) or 0


def _rank(term: Term) -> ColumnElement[int]:
    doc, q = SearchDocument, _escape(term.text)
    exact = [doc.body.like(f"%{SEP}{q}{SEP}%", escape="\\")]
    prefix = [doc.body.like(f"%{c}{q}%", escape="\\") for c in (SEP, " ", "@")]  # a piece, a word, a domain
    if term.digits is not None:
        exact.append(doc.phones.like(f"%{SEP}{term.digits}{SEP}%"))
        prefix.append(doc.phones.like(f"%{SEP}{term.digits}%"))
    if term.number is not None:
        exact.append(doc.number == term.number)
        prefix.append(and_(doc.number >= term.number, doc.number < term.number + ":"))
    return case((or_(*exact), EXACT), (or_(*prefix), PREFIX), else_=SUBSTRING)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _successor(prefix: str) -> str:
    """The smallest string after every string that starts with `prefix` (code point order)."""
    nxt = ord(prefix[-1]) + 1
    if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be encoded: skip past them
        nxt = 0xE000
    return prefix[:-1] + chr(min(nxt, 0x10FFFF))


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
