"""Finding records: candidates through the grams, ranked exact > prefix > substring, open first, newest first.

A search made for a user considers only the documents of records that user may see
(`crm_store.staff.scope.search_condition`): the check is inside each way of finding candidates, before
CANDIDATES cuts them, so a rep's own matches behind thousands of others' are still found.

For a user who sees a small part of the data (a rep: about one record in fifty), a common term's postings
are mostly other people's: checking each of them costs more than reading the user's own documents. So when
the term's rarest gram is held by more than SCOPE_FIRST documents, and the user's records are not many more
than that, the text is looked for in the user's own documents instead: one range of the documents' (owner,
module, body) index per owner (the owner column is kept by a trigger; each match is still checked against
its record) — the same matches, read from the other side.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    case,
    false,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session, aliased

from crm_store.models import (
    SearchDocument,
    SearchGram,
    SearchGramStat,
    SearchPhoneGram,
    User,
)
from crm_store.records import registry
from crm_store.search.documents import check_modules, describe, document_rows, model_of
from crm_store.search.terms import SEP, Term
from crm_store.staff import scope

EXACT, PREFIX, SUBSTRING = 0, 1, 2
MATCHES = ("exact", "prefix", "substring")


CANDIDATES = 2000
PROBE = 3000  # postings counted per gram to find the rarest
RANGE_SORT = 50_000  # a two-character range with more postings is read in index order, not sorted by age
SCOPE_FIRST = 500  # a term whose rarest gram has more postings may be looked for in the user's own documents
OWN_DOCUMENTS = 50  # ... when they are fewer than this many times its postings: a posting checked costs about
# fifty documents read in index order (measured at 1,000,000 leads: 75 µs against 1.5 µs)


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


def _among(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids` with the ids as one parameter: thousands of them cost no more to send than a few."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", list(ids), type_=ARRAY(Integer)))
    listed = func.json_each(bindparam("ids", json.dumps(list(ids)))).table_valued("value")
    return column.in_(select(listed.c.value))


# -- searching --------------------------------------------------------------------------------------------

def search(
    session: Session, term: str, *, limit: int = 20, modules: Sequence[str] | None = None, user: User | None = None
) -> list[SearchResult]:
    """Find records matching `term`: best first (exact, prefix, substring; open; newest).

    With a `user`, only records that user may see; without one (the command line acting as nobody, admin
    tools), every record.
    """
    if modules is not None:
        check_modules(modules)
        modules = None if set(modules) >= set(registry.names(searchable=True)) else modules  # every one: no limit
    parsed = Term.parse(term)
    if parsed is None:
        return []
    seen = scope.scope_of(session, user) if user is not None else None
    ids = list(session.scalars(candidates_query(session, parsed, modules, visible_to(session, user, seen), seen)))
    if not ids:
        return []
    found = session.execute(ranked_query(session, parsed, ids, limit)).all()
    lines = _result_lines(session, [(r.module, r.id) for r in found])
    # A record deleted since it was indexed has no line: it is left out rather than shown.
    return [SearchResult(r.module, r.id, r.number, *lines[r.module, r.id], bool(r.is_open), r.rank)
            for r in found if (r.module, r.id) in lines]


def visible_to(
    session: Session, user: User | None, seen: scope.Scope | None = None
) -> ColumnElement[bool] | None:
    """The condition on search documents for the records `user` may see; None: no limit (no user, an admin).
    `seen`: the user's scope, when already worked out (it costs two queries)."""
    if user is None:
        return None
    return scope.search_condition(session, user, SearchDocument.module, SearchDocument.record_id, seen)


def candidates_query(
    session: Session, term: Term, modules: Sequence[str] | None = None,
    scope_check: ColumnElement[bool] | None = None, seen: scope.Scope | None = None,
) -> CompoundSelect[int]:
    """Select the ids of documents matching the term, at most CANDIDATES of the newest per way of finding.

    `scope_check` (from `visible_to`) is applied to each posting before that limit. Building the query
    reads how common the term's grams are, to start from the rarest. With the user's scope (`seen`, the
    same user's as `scope_check`), a common term may be looked for in the user's own documents instead.
    """
    text = None
    if seen is not None and scope_check is not None:
        text = _own_documents_source(session, term, modules, seen, scope_check)
    if text is None:
        text = _text_source(session, term, modules, scope_check)
    sources = [text, _phone_source(session, term, modules, scope_check),
               _number_source(term, modules, scope_check)]
    return union(*(s.subquery().select() for s in sources if s is not None))


def ranked_query(
    session: Session, term: Term, ids: Sequence[int], limit: int = 20
) -> Select[str, int, str, bool, int]:
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
        for row in session.execute(document_rows(module).where(model_of(module).id.in_(ids)))
    }


def _checked(correlated: Select[Any]) -> ColumnElement[bool]:
    """EXISTS, evaluated row by row through the primary key.

    OFFSET 0 keeps PostgreSQL from turning the check into a join, which it may answer by hashing
    every document; SQLite checks row by row anyway.
    """
    return correlated.offset(0).exists()


def _document_check(
    posting: Any, condition: ColumnElement[bool] | None, modules: Sequence[str] | None,
    scope_check: ColumnElement[bool] | None,
) -> Any:
    """Check a posting's document: the term's condition, the modules, the scope (its EXISTS on the record
    correlates to this SearchDocument, so each is one primary-key lookup)."""
    doc = SearchDocument
    # `module || ''`: an expression no index serves, so SQLite keeps looking the document up by its key
    # instead of reading every document of the listed modules for each posting (38 s for "LEA12").
    in_modules = doc.module.concat("").in_(modules) if modules is not None else None
    conditions = [c for c in (condition, in_modules, scope_check) if c is not None]
    return _checked(select(doc.id).where(doc.id == posting, *conditions)) if conditions else None


def _text_source(
    session: Session, term: Term, modules: Sequence[str] | None, scope_check: ColumnElement[bool] | None
) -> Select[Any]:
    q = term.text
    gram = SearchGram.__table__.alias("g1")
    if len(q) <= 2:
        # Every two characters of a piece begin one of its grams: the term's range holds exactly its matches.
        # One character (王) is looked for where a piece or word begins: a family name, a company's first word.
        in_range = and_(gram.c.gram >= q, gram.c.gram < _successor(q))
        stmt = select(gram.c.document_id.label("id")).distinct().where(in_range)
        begins = _begins(q) if len(q) == 1 else None
        if modules is not None or begins is not None or scope_check is not None:
            stmt = stmt.where(_document_check(gram.c.document_id, begins, modules, scope_check))
        if _capped_count(session, select(gram.c.gram).where(in_range), RANGE_SORT) < RANGE_SORT:
            stmt = stmt.order_by(gram.c.document_id.desc())
        return stmt.limit(CANDIDATES)
    grams = sorted({q[i : i + 3] for i in range(len(q) - 2)})
    matches = SearchDocument.body.like(f"%{_escape(q)}%", escape="\\")
    return _postings(session, SearchGram.__table__, grams, matches, modules, scope_check)


def _own_documents_source(
    session: Session, term: Term, modules: Sequence[str] | None, seen: scope.Scope, scope_check: ColumnElement[bool]
) -> Select[Any] | None:
    """The text matches read from the documents of the records in `seen`, when that is cheaper (else None).

    Cheaper: the term's rarest gram (or its two-character range) is held by more than SCOPE_FIRST documents,
    and the scope holds fewer records than OWN_DOCUMENTS times that: a document is read from the owner index
    in order, a posting is checked with random look-ups. The count of records stops at what decides.
    """
    if seen.everything:
        return None
    q = term.text
    if len(q) <= 2:  # the range's grams as of the last rebuild (a document may count more than once: an estimate)
        stat = SearchGramStat
        estimate = session.scalar(select(func.sum(stat.documents)).where(stat.gram >= q, stat.gram < _successor(q)))
        postings = int(estimate or _capped_count(session, select(SearchGram.gram).where(
            SearchGram.gram >= q, SearchGram.gram < _successor(q)), RANGE_SORT))
    else:
        grams = sorted({q[i : i + 3] for i in range(len(q) - 2)})
        postings = min(_gram_counts(session, SearchGram.__table__, grams).values())
    if postings <= SCOPE_FIRST:
        return None
    names = [m for m in registry.names(searchable=True) if modules is None or m in modules]
    cap = postings * OWN_DOCUMENTS
    records = sum(_capped_count(session, select(registry.get(m).model.id).where(scope.condition(seen, m)), cap)
                  for m in names)
    if records >= cap:
        return None
    doc = SearchDocument
    owners = doc.owner_id.in_(sorted(seen.owners)) if seen.owners else false()
    pool = and_(doc.owner_id.is_(None), doc.module == "leads") if seen.pool else false()
    matches = _begins(q) if len(q) == 1 else doc.body.like(f"%{_escape(q)}%", escape="\\")
    owned = [m for m in names if m not in scope.EVERYONE]
    stmt = select(doc.id).where(or_(owners, pool), doc.module.in_(owned), matches)
    # The owner column is kept by a trigger; the record's own owner still decides, for each match.
    stmt = stmt.where(scope_check).order_by(doc.id.desc()).limit(CANDIDATES)
    shared = [m for m in names if m in scope.EVERYONE]  # everyone's (the catalogue: a few hundred), whoever owns them
    if not shared:
        return stmt
    theirs = select(doc.id).where(doc.module.in_(shared), matches).order_by(doc.id.desc()).limit(CANDIDATES)
    both = union(stmt.subquery().select(), theirs.subquery().select()).subquery()
    return select(both.c.id).order_by(both.c.id.desc()).limit(CANDIDATES)


def _phone_source(
    session: Session, term: Term, modules: Sequence[str] | None, scope_check: ColumnElement[bool] | None
) -> Select[Any] | None:
    if term.digits is None:
        return None
    d = term.digits
    grams = sorted({int(d[i : i + 4]) for i in range(len(d) - 3)})
    phones = SearchDocument.phones.like(f"%{d}%")
    return _postings(session, SearchPhoneGram.__table__, grams, phones, modules, scope_check)


_NUMBERED = aliased(SearchDocument, name="n")  # made once: an alias made per search is adapted anew each time


def _number_source(
    term: Term, modules: Sequence[str] | None, scope_check: ColumnElement[bool] | None
) -> Select[Any] | None:
    if term.number is None:
        return None
    # An alias, so the scope (written against SearchDocument) is checked document by document through the
    # primary key: put on this select itself, SQLite answers its OR by reading every document of each module.
    doc = _NUMBERED
    # Record numbers are letters and digits, and ":" sorts right after "9": the range is the prefix.
    stmt = select(doc.id).where(doc.number >= term.number, doc.number < term.number + ":")
    if modules is not None:
        stmt = stmt.where(doc.module.concat("").in_(modules))  # not through an index: see _document_check
    if scope_check is not None:
        stmt = stmt.where(_document_check(doc.id, None, None, scope_check))
    return stmt.order_by(doc.number).limit(CANDIDATES)


def _postings(
    session: Session, table: Table, grams: list[Any], matches: ColumnElement[bool], modules: Sequence[str] | None,
    scope_check: ColumnElement[bool] | None,
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
    stmt = stmt.where(_document_check(first.c.document_id, matches, modules, scope_check))
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


STARTS = (SEP, " ", "@")  # of a piece, a word, a domain


def _begins(text: str) -> ColumnElement[bool]:
    """A document in which a piece, a word or a domain begins with `text`."""
    q = _escape(text)
    return or_(*(SearchDocument.body.like(f"%{c}{q}%", escape="\\") for c in STARTS))


def _rank(term: Term) -> ColumnElement[int]:
    doc, q = SearchDocument, _escape(term.text)
    exact: list[ColumnElement[bool]] = [doc.body.like(f"%{SEP}{q}{SEP}%", escape="\\")]  # a whole piece
    prefix: list[ColumnElement[bool]] = [_begins(term.text)]
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
