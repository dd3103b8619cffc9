"""Search leads, accounts, contacts and opportunities by name, company, email, phone and record number.

Every live record has one search document (`crm_store.models.search`): display fields and a
normalised body, with the record's names in both orders, company, emails and, apart, its phone
digits. Any substring of two or more characters is found through the gram tables, never by scanning:
a term of three or more characters through its rarest trigrams, a two-character term through the
range of trigrams it begins, four or more digits through the phone grams, a record number (LEA12)
through its own index. Candidates are checked against the stored text and ranked exact > prefix >
substring, then open records first, then newest.

Functions take the caller's session and never commit. The index is kept current by calling
`index_records` after a record is created, changed or deleted; bulk loads call `rebuild_index`
once at the end, which builds the grams set-based in the database.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from sqlalchemy import (
    ColumnElement, Integer, Select, Table, and_, bindparam, case, cast, delete, exists, func, insert, literal, null,
    or_, select, text, true, union,
)
from sqlalchemy.orm import Session, aliased

from .errors import ValidationError
from .models import Account, Base, Contact, Lead, Opportunity, SearchDocument, SearchGram, SearchPhoneGram
from .queries import open_lead_condition

MODULES = ("leads", "accounts", "contacts", "opportunities")
MODELS: dict[str, type[Base]] = {"leads": Lead, "accounts": Account, "contacts": Contact, "opportunities": Opportunity}
EXACT, PREFIX, SUBSTRING = 0, 1, 2
MATCHES = ("exact", "prefix", "substring")
MIN_TERM = 2
MIN_PHONE_DIGITS = 4
SEP = "\n"  # between the pieces of a body; whitespace in a term is collapsed, so no term holds it
# Matches ranked per candidate source, newest first. A term matching more records than this is ranked
# among its newest matches only: the price of answering "an" or "gmail" over two million records fast.
CANDIDATES = 2000
# Postings read to find a term's rarest gram; a two-character range with more is sampled, not sorted.
PROBE = 3000
RANGE_SORT = 50_000
CHUNK = 500
DOC_CHUNK = 5000
CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]")
NUMBER_TERM = re.compile(r"(lea|acc|con|pot)\d+")
PHONE_TERM = re.compile(r"\+?[\d\s().\-]+")


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
    """Rows written by a rebuild."""

    documents: int
    grams: int
    phone_grams: int


# -- normalising ------------------------------------------------------------------------------------

def normalise(value: str) -> str:
    """Return text as the index holds it: NFKC, lower case, single spaces, no control characters."""
    value = " ".join(unicodedata.normalize("NFKC", value).lower().split())
    return value if value.isprintable() else value.translate(_CONTROL)


_CONTROL = {c: None for c in range(32)} | {0x7F: None}


def national_digits(e164: str) -> str:
    """Return a phone number as dialled at home: +886912345678 -> 0912345678 (a trunk 0 for every country)."""
    digits = e164.lstrip("+")
    for size in (1, 2, 3):
        if digits[:size].isdigit() and int(digits[:size]) in COUNTRY_CODE_TO_REGION_CODE:
            return "0" + digits[size:]
    return digits


def person_name(first: str | None, last: str) -> tuple[str, list[str]]:
    """Return a person's display name and the orders it is searched in (Chinese names: family name first)."""
    first = (first or "").strip()
    if CJK.search(first + last):
        return last + first, [last + first]
    if not first:
        return last, [last]
    return f"{first} {last}", [f"{first} {last}", f"{last} {first}"]


@dataclass(frozen=True)
class Term:
    """A search term, normalised, with what else it may be: phone digits, a record number."""

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


# -- documents ----------------------------------------------------------------------------------------

def document_rows(module: str) -> Select[Any]:
    """Select the live records of a module with what their documents are made of."""
    if module == "leads":
        return select(
            Lead.id, Lead.lead_no.label("number"), Lead.created_at, open_lead_condition().label("is_open"),
            Lead.first_name, Lead.last_name.label("name"), Lead.company, Lead.email,
            Lead.secondary_email.label("email2"), Lead.phone_e164.label("phone"), Lead.mobile_e164.label("mobile"),
        ).where(Lead.deleted_at.is_(None))
    if module == "accounts":
        return select(
            Account.id, Account.account_no.label("number"), Account.created_at, true().label("is_open"),
            null().label("first_name"), Account.name, null().label("company"), Account.email,
            Account.secondary_email.label("email2"), Account.phone_e164.label("phone"), null().label("mobile"),
        ).where(Account.deleted_at.is_(None))
    company = aliased(Account)
    if module == "contacts":
        return select(
            Contact.id, Contact.contact_no.label("number"), Contact.created_at, true().label("is_open"),
            Contact.first_name, Contact.last_name.label("name"), company.name.label("company"), Contact.email,
            Contact.secondary_email.label("email2"), Contact.phone_e164.label("phone"),
            Contact.mobile_e164.label("mobile"),
        ).outerjoin(company, company.id == Contact.account_id).where(Contact.deleted_at.is_(None))
    return select(
        Opportunity.id, Opportunity.opportunity_no.label("number"), Opportunity.created_at,
        Opportunity.closed_at.is_(None).label("is_open"), null().label("first_name"), Opportunity.name,
        company.name.label("company"), null().label("email"), null().label("email2"), null().label("phone"),
        null().label("mobile"),
    ).outerjoin(company, company.id == Opportunity.account_id).where(Opportunity.deleted_at.is_(None))


def build_document(module: str, row: Any) -> dict[str, Any]:
    """Return the search document's values for one row of `document_rows`."""
    if module in ("leads", "contacts"):
        title, names = person_name(row.first_name, row.name)
    else:
        title, names = row.name, [row.name]
    subtitle = " · ".join(v for v in (row.company, row.email or row.phone) if v)
    return {
        "module": module, "record_id": row.id, "number": row.number, "title": title[:255],
        "subtitle": subtitle[:255], "is_open": bool(row.is_open), "created_at": row.created_at,
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


# -- keeping the index current ------------------------------------------------------------------------

def index_records(session: Session, module: str, ids: Iterable[int]) -> int:
    """Bring these records' documents up to date: add, change or drop them; return how many changed.

    A deleted (or vanished) record loses its document. A renamed account re-indexes its contacts
    and opportunities, whose documents carry its name.
    """
    _check_modules([module])
    model = MODELS[module]
    changed, renamed = 0, []
    for chunk in _chunks(sorted(set(ids)), CHUNK):
        rows = {r.id: r for r in session.execute(document_rows(module).where(model.id.in_(chunk)))}
        docs = {
            d.record_id: d
            for d in session.scalars(
                select(SearchDocument).where(SearchDocument.module == module, SearchDocument.record_id.in_(chunk))
            )
        }
        for record_id in chunk:
            old, row = docs.get(record_id), rows.get(record_id)
            new = build_document(module, row) if row is not None else None
            if module == "accounts" and old is not None and new is not None and old.title != new["title"]:
                renamed.append(record_id)
            changed += _apply(session, old, new)
    if renamed:
        for dependent in (Contact, Opportunity):
            dependent_ids = session.scalars(select(dependent.id).where(dependent.account_id.in_(renamed)))
            changed += index_records(session, dependent.__tablename__, list(dependent_ids))
    return changed


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
    for table, gone, added in zip((SearchGram, SearchPhoneGram), before, after, strict=True):
        _write_postings(session, table.__table__, old.id, gone - added, added - gone)  # type: ignore[arg-type]
    if new is None:
        session.delete(old)
    session.flush()
    return 1


def _write_postings(session: Session, table: Table, document_id: int, gone: set[Any], added: set[Any]) -> None:
    if gone:
        stmt = delete(table).where(table.c.gram == bindparam("g"), table.c.document_id == bindparam("d"))
        session.execute(stmt, [{"g": g, "d": document_id} for g in gone])
    if added:
        session.execute(insert(table), [{"gram": g, "document_id": document_id} for g in added])


def rebuild_index(
    session: Session, module: str | None = None, *, progress: Callable[[str, int], None] | None = None
) -> IndexStats:
    """Rebuild the whole index set-based (module None), or re-check every record of one module.

    The whole rebuild writes the documents in creation order and then every gram with one
    INSERT ... SELECT; it is the path for bulk loads. A module re-check runs `index_records`
    over all of the module's records and rewrites only what changed.
    """
    tick = progress or (lambda _stage, _n: None)
    if module is not None:
        return _recheck(session, module, tick)
    _clear(session)
    documents = 0
    for chunk in _chunks(_documents_by_age(session), DOC_CHUNK):
        session.execute(insert(SearchDocument.__table__), chunk)
        documents += len(chunk)
        tick("documents", len(chunk))
    tick("grams", 0)
    counted = {"preserve_rowcount": True}
    grams = session.execute(_gram_insert(), execution_options=counted).rowcount
    phone = session.execute(_phone_gram_insert(), execution_options=counted).rowcount
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("analyze search_documents, search_grams, search_phone_grams"))
    return IndexStats(documents, grams, phone)


def _recheck(session: Session, module: str, tick: Callable[[str, int], None]) -> IndexStats:
    _check_modules([module])
    ids = set(session.scalars(select(MODELS[module].id)))
    ids |= set(session.scalars(select(SearchDocument.record_id).where(SearchDocument.module == module)))
    for chunk in _chunks(sorted(ids), DOC_CHUNK):
        index_records(session, module, chunk)
        tick("documents", len(chunk))
    return IndexStats(_count(session, SearchDocument), _count(session, SearchGram), _count(session, SearchPhoneGram))


def _count(session: Session, model: type[Base]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _clear(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("truncate search_grams, search_phone_grams, search_documents restart identity"))
        return
    for model in (SearchGram, SearchPhoneGram, SearchDocument):
        session.execute(delete(model))


def _documents_by_age(session: Session) -> Iterator[dict[str, Any]]:
    """Every live record's document, oldest first across modules, so document ids grow with age."""

    def stream(module: str) -> Iterator[dict[str, Any]]:
        model = MODELS[module]
        stmt = document_rows(module).order_by(model.created_at, model.id)
        for row in session.execute(stmt, execution_options={"yield_per": DOC_CHUNK}):
            yield build_document(module, row)

    return heapq.merge(*(stream(m) for m in MODULES), key=lambda doc: doc["created_at"])


def _windows(column: Any, width: int) -> Any:
    """A recursive CTE of (id, text, size, n): one row per document and start of a `width`-character window."""
    docs = select(SearchDocument.id, column.label("text"), func.length(column).label("size"),
                  literal(1, Integer).label("n"))
    windows = docs.cte(f"windows_{width}", recursive=True, nesting=True)
    return windows.union_all(
        select(windows.c.id, windows.c.text, windows.c.size, windows.c.n + 1)
        .where(windows.c.n < windows.c.size - (width - 1))
    )


def _gram_insert() -> Any:
    w = _windows(SearchDocument.body, 2)  # a trigram, or a piece's closing bigram
    gram = case((func.substr(w.c.text, w.c.n + 2, 1) == SEP, func.substr(w.c.text, w.c.n, 2)),
                else_=func.substr(w.c.text, w.c.n, 3))
    inside = and_(w.c.n <= w.c.size - 1, ~func.substr(w.c.text, w.c.n, 2).like(f"%{SEP}%"))
    return _insert_sorted(SearchGram, select(gram.label("gram"), w.c.id.label("document_id")).where(inside))


def _phone_gram_insert() -> Any:
    w = _windows(SearchDocument.phones, 4)
    gram = cast(func.substr(w.c.text, w.c.n, 4), Integer)
    inside = and_(w.c.n <= w.c.size - 3, ~func.substr(w.c.text, w.c.n, 4).like(f"%{SEP}%"))
    return _insert_sorted(SearchPhoneGram, select(gram.label("gram"), w.c.id.label("document_id")).where(inside))


def _insert_sorted(model: type[Base], rows: Select[Any]) -> Any:
    """Insert distinct (gram, document) rows in key order: the posting table then grows only at its end."""
    distinct = rows.group_by(text("1"), text("2")).order_by(text("1"), text("2")).subquery()
    return insert(model).from_select(["gram", "document_id"], distinct.select())


# -- searching ----------------------------------------------------------------------------------------

def search(
    session: Session, term: str, *, limit: int = 20, modules: Sequence[str] | None = None
) -> list[SearchResult]:
    """Find records matching `term`: best first (exact, prefix, substring; open; newest)."""
    stmt = search_query(session, term, limit=limit, modules=modules)
    if stmt is None:
        return []
    return [SearchResult(**row._mapping) for row in session.execute(stmt)]


def search_query(
    session: Session, term: str, *, limit: int = 20, modules: Sequence[str] | None = None
) -> Select[Any] | None:
    """Build the search statement; None when the term is too short. Reads gram counts to plan it."""
    if modules is not None:
        _check_modules(modules)
    parsed = Term.parse(term)
    if parsed is None:
        return None
    sources = [_text_source(session, parsed, modules), _phone_source(session, parsed), _number_source(parsed)]
    ids = union(*(_only_modules(s, modules).subquery().select() for s in sources if s is not None)).subquery()
    doc = SearchDocument
    rank = _rank(parsed)
    return (
        select(doc.module, doc.record_id.label("id"), doc.number, doc.title, doc.subtitle, doc.is_open,
               rank.label("rank"))
        .where(doc.id.in_(select(ids.c.id)))
        .order_by(rank, doc.is_open.desc(), doc.created_at.desc(), doc.id.desc())
        .limit(limit)
    )


def _check_modules(modules: Iterable[str]) -> None:
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise ValidationError("module", f"{unknown[0]!r} is not one of {', '.join(MODULES)}")


def _only_modules(stmt: Select[Any], modules: Sequence[str] | None) -> Select[Any]:
    return stmt if modules is None else stmt.where(SearchDocument.module.in_(modules))


def _text_source(session: Session, term: Term, modules: Sequence[str] | None) -> Select[Any]:
    q = term.text
    gram = SearchGram.__table__.alias("g1")
    if len(q) == 2:
        # Every two characters of a piece begin one of its grams: the term's range holds exactly its matches.
        in_range = and_(gram.c.gram >= q, gram.c.gram < _successor(q))
        stmt = select(gram.c.document_id.label("id")).distinct().where(in_range)
        if modules is not None:
            stmt = stmt.join(SearchDocument, SearchDocument.id == gram.c.document_id)
        if _capped_count(session, select(gram.c.gram).where(in_range), RANGE_SORT) < RANGE_SORT:
            stmt = stmt.order_by(gram.c.document_id.desc())
        return stmt.limit(CANDIDATES)
    grams = sorted({q[i : i + 3] for i in range(len(q) - 2)})
    return _postings(session, SearchGram.__table__, grams, SearchDocument.body.like(f"%{_escape(q)}%", escape="\\"))


def _phone_source(session: Session, term: Term) -> Select[Any] | None:
    if term.digits is None:
        return None
    d = term.digits
    grams = sorted({int(d[i : i + 4]) for i in range(len(d) - 3)})
    return _postings(session, SearchPhoneGram.__table__, grams, SearchDocument.phones.like(f"%{d}%"))


def _number_source(term: Term) -> Select[Any] | None:
    if term.number is None:
        return None
    number = SearchDocument.number
    # Record numbers are letters and digits, and ":" sorts right after "9": the range is the prefix.
    return (
        select(SearchDocument.id).where(number >= term.number, number < term.number + ":")
        .order_by(number).limit(CANDIDATES)
    )


def _postings(session: Session, table: Table, grams: list[Any], verify: ColumnElement[bool]) -> Select[Any]:
    """Documents holding every gram, verified, newest first: driven by the rarest gram, probing the next two."""
    counts = _gram_counts(session, table, grams)
    driver, *probes = sorted(grams, key=lambda g: counts[g])
    first = table.alias("g1")
    stmt = (
        select(first.c.document_id.label("id"))
        .join(SearchDocument, SearchDocument.id == first.c.document_id)
        .where(first.c.gram == driver)
    )
    for i, probe in enumerate(probes[:2], 2):
        other = table.alias(f"g{i}")
        stmt = stmt.where(exists().where(other.c.gram == probe, other.c.document_id == first.c.document_id))
    return stmt.where(verify).order_by(first.c.document_id.desc()).limit(CANDIDATES)


def _gram_counts(session: Session, table: Table, grams: list[Any]) -> dict[Any, int]:
    """How many documents hold each gram, counted up to PROBE: enough to find the rarest."""
    columns = [_capped(select(table.c.gram).where(table.c.gram == g), PROBE).label(f"c{i}") for i, g in enumerate(grams)]
    row = session.execute(select(*columns)).one()
    return dict(zip(grams, row, strict=True))


def _capped(stmt: Select[Any], cap: int) -> Any:
    return select(func.count()).select_from(stmt.limit(cap).subquery()).scalar_subquery()


def _capped_count(session: Session, stmt: Select[Any], cap: int) -> int:
    return session.scalar(select(_capped(stmt, cap))) or 0


def _rank(term: Term) -> ColumnElement[int]:
    doc, q = SearchDocument, _escape(term.text)
    exact = [doc.body.like(f"%{SEP}{q}{SEP}%", escape="\\")]
    prefix = [doc.body.like(f"%{c}{q}%", escape="\\") for c in (SEP, " ", "@")]
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
    if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be encoded; skip past them
        nxt = 0xE000
    return prefix[:-1] + chr(min(nxt, 0x10FFFF))


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
