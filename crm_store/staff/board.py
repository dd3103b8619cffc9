"""The pipeline board: one sales process, a column per stage in stage order, the deals as cards.

- A column counts its deals and totals their amounts and weighted amounts (amount × the deal's probability,
  the stage's when the deal has none), per currency with the company's currency first: one GROUP BY over
  stage and currency, in SQL.
- An open stage holds the live open deals (`closed_at` empty). A won or lost stage holds the deals closed
  there in the last `CLOSED_DAYS` days: the recent wins and losses, not years of history.
- Cards: at most `CARD_LIMIT` per column, the most urgent first — an open stage by expected close date (the
  overdue first), a closed one by when it closed (the latest first) — then `more` from an opaque cursor.
- Whose deals: the user's scope (`crm_store.staff.scope`), narrowed by the owner and team filters; a filter
  never widens it (another rep's id in the owner filter of a rep shows an empty board).

At 500,000 deals every query reads index ranges. A scoped user's deals are ranges of ix_opportunities_owner_closed
(owner, closed_at): the open ones one range per owner, the recent closes another. An admin's open deals are ranges
of ix_opportunities_stage_id, their recent closes one (owner, closed_at) range per user (`Owners`). A column's
cards are ranges of ix_opportunities_stage_close (stage, close date, id) and its totals and recent closes of
ix_opportunities_stage_closed (migration 0016), every column in one query.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    case,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from crm_store.errors import NotFound, ValidationError
from crm_store.languages import N_
from crm_store.models import (
    Account,
    Currency,
    Opportunity,
    SalesProcess,
    SalesStage,
    Team,
    TeamMember,
    User,
    utcnow,
)
from crm_store.models.base import Money
from crm_store.settings import company
from crm_store.staff import scope as scoping

CARD_LIMIT = 50  # cards per column, then "more"
CLOSED_DAYS = 30  # a won or lost stage shows the deals closed there in these last days


@dataclass(frozen=True)
class BoardFilter:
    """What the board is narrowed to (within the scope): one owner, the members of one team."""

    owner_id: int | None = None
    team_id: int | None = None


@dataclass(frozen=True)
class Stage:
    """A stage as a column shows it."""

    id: int
    process_id: int
    name: str
    probability: int
    is_won: bool
    is_lost: bool
    rotting_days: int | None

    @property
    def is_closed(self) -> bool:
        """Whether deals here are closed (won or lost)."""
        return self.is_won or self.is_lost


@dataclass(frozen=True)
class Total:
    """A column's amounts in one currency."""

    currency: str
    minor_unit: int
    amount: Decimal
    weighted: Decimal


@dataclass(frozen=True)
class Card:
    """One deal on the board."""

    id: int
    number: str
    name: str
    account_name: str | None
    amount: Decimal | None
    currency: str
    minor_unit: int
    expected_close_date: dt.date
    owner_name: str | None
    days_in_stage: int
    rotting_since: dt.datetime | None  # set by lead-aging while an open deal idles beyond its stage's days
    closed_at: dt.datetime | None


@dataclass(frozen=True)
class Column:
    """A stage with its count, totals and first cards; `after`: the cursor of the next cards (None: all shown)."""

    stage: Stage
    count: int
    totals: list[Total]
    cards: list[Card]
    after: str | None


@dataclass(frozen=True)
class Board:
    """A sales process's board."""

    process_id: int
    process_name: str
    columns: list[Column]
    closed_since: dt.datetime


def processes(session: Session) -> list[tuple[int, str]]:
    """The sales processes to pick from, the default first: (id, name)."""
    stmt = select(SalesProcess.id, SalesProcess.name).order_by(SalesProcess.is_default.desc(), SalesProcess.id)
    return [(row.id, row.name) for row in session.execute(stmt)]


def stages_of(session: Session, process_id: int) -> list[Stage]:
    """A process's stages in order."""
    stmt = select(SalesStage).where(SalesStage.sales_process_id == process_id).order_by(SalesStage.position)
    return [_stage(s) for s in session.scalars(stmt)]


def teams_in_scope(session: Session, scope: scoping.Scope) -> list[tuple[int, str]]:
    """The teams with a member whose deals the scope shows (every team for an admin): (id, name)."""
    stmt = select(Team.id, Team.name).order_by(Team.name)
    if not scope.everything:
        members = select(TeamMember.team_id).where(TeamMember.user_id.in_(sorted(scope.owners)))
        stmt = stmt.where(Team.id.in_(members))
    return [(row.id, row.name) for row in session.execute(stmt)]


@dataclass(frozen=True)
class Owners:
    """Whose deals the board shows: these users'; `everyone`: an admin's unfiltered board (the unowned too)."""

    ids: frozenset[int]
    everyone: bool = False

    def condition(self, *, closed: bool = False) -> ColumnElement[bool]:
        """The SQL condition on the deals' owner. Everyone's open deals need none (a stage's are a range of
        ix_opportunities_stage_id); recent closes are read as one (owner, closed_at) range per user."""
        if self.everyone and not closed:
            return true()
        mine = Opportunity.owner_id.in_(sorted(self.ids)) if self.ids else false()
        return or_(mine, Opportunity.owner_id.is_(None)) if self.everyone else mine


def owners_shown(session: Session, scope: scoping.Scope, filters: BoardFilter) -> Owners:
    """The owners whose deals the board shows: the scope's, narrowed by the filters (an admin's: every user's)."""
    if scope.everything and filters.owner_id is None and filters.team_id is None:
        return Owners(frozenset(session.scalars(select(User.id))), everyone=True)
    owners = None if scope.everything else scope.owners
    if filters.owner_id is not None:
        owners = frozenset({filters.owner_id}) if owners is None else owners & {filters.owner_id}
    if filters.team_id is not None:
        members = frozenset(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == filters.team_id)))
        owners = members if owners is None else owners & members
    return Owners(owners or frozenset())


def board(
    session: Session, user: User, process_id: int | None = None, filters: BoardFilter | None = None, *,
    now: dt.datetime | None = None, scope: scoping.Scope | None = None,
) -> Board:
    """The board of a process (the default one) for `user`: every column with its totals and first cards."""
    process = _process(session, process_id)
    now = now or utcnow()
    since = now - dt.timedelta(days=CLOSED_DAYS)
    owners = owners_shown(session, scope or scoping.scope_of(session, user), filters or BoardFilter())
    stages = stages_of(session, process.id)
    sums = _totals(session, stages, owners, since)
    cards = _cards(session, [(stage, None) for stage in stages], owners, since, now)
    columns = [Column(stage, *sums.get(stage.id, (0, [])), *cards[stage.id]) for stage in stages]
    return Board(process.id, process.name, columns, since)


def column(
    session: Session, user: User, stage_id: int, filters: BoardFilter | None = None, *, after: str | None = None,
    now: dt.datetime | None = None, scope: scoping.Scope | None = None,
) -> Column:
    """One column: its totals and the cards after the cursor `after` (the first ones without)."""
    stage = session.get(SalesStage, stage_id)
    if stage is None:
        raise NotFound(f"no sales stage {stage_id}")
    shown = _stage(stage)
    now = now or utcnow()
    since = now - dt.timedelta(days=CLOSED_DAYS)
    owners = owners_shown(session, scope or scoping.scope_of(session, user), filters or BoardFilter())
    count, totals = _totals(session, [shown], owners, since).get(stage_id, (0, []))
    cards, more = _cards(session, [(shown, _read_cursor(after, shown))], owners, since, now)[stage_id]
    return Column(shown, count, totals, cards, more)


def _stage(stage: SalesStage) -> Stage:
    return Stage(stage.id, stage.sales_process_id, stage.name, stage.probability, stage.is_won, stage.is_lost,
                 stage.rotting_days)


def _process(session: Session, process_id: int | None) -> SalesProcess:
    """The process asked for, else the default one, else the first; NotFound when there is none."""
    found = session.get(SalesProcess, process_id) if process_id is not None else None
    if found is None:
        found = session.scalars(select(SalesProcess).order_by(SalesProcess.is_default.desc(), SalesProcess.id)).first()
    if found is None:
        raise NotFound("no sales process; run `crm init`")
    return found


# -- SQL --------------------------------------------------------------------------------------------------

def _column_deals(stages: list[Stage], owners: Owners, since: dt.datetime) -> Any:
    """Select what the columns hold — stage, currency, amount and weighted amount of each deal: the open ones of
    the open stages, and the recent closes of the closed ones (two index ranges)."""
    o = Opportunity
    probability = func.coalesce(o.probability, case({s.id: s.probability for s in stages}, value=o.stage_id, else_=0))
    shown = (o.stage_id, o.currency_id, o.amount, (o.amount * probability).label("weighted"))
    open_ids = [s.id for s in stages if not s.is_closed]
    closed_ids = [s.id for s in stages if s.is_closed]
    parts = []
    if open_ids:
        parts.append(select(*shown).where(o.deleted_at.is_(None), o.closed_at.is_(None), o.stage_id.in_(open_ids),
                                          owners.condition()))
    if closed_ids:
        parts.append(select(*shown).where(o.deleted_at.is_(None), o.closed_at >= since, o.stage_id.in_(closed_ids),
                                          owners.condition(closed=True)))
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def _totals(
    session: Session, stages: list[Stage], owners: Owners, since: dt.datetime
) -> dict[int, tuple[int, list[Total]]]:
    """Stage id -> (how many deals, their totals per currency with the company's currency first)."""
    if not stages:
        return {}
    deals = _column_deals(stages, owners, since)
    stmt = (
        select(deals.c.stage_id, deals.c.currency_id, func.count(),
               type_coerce(func.sum(deals.c.amount), Money()), type_coerce(func.sum(deals.c.weighted), Money()))
        .group_by(deals.c.stage_id, deals.c.currency_id)
    )
    currencies = {row.id: (row.code, row.minor_unit)
                  for row in session.execute(select(Currency.id, Currency.code, Currency.minor_unit))}
    first = str(company.get(session, "default_currency"))
    found: dict[int, tuple[int, list[Total]]] = {}
    for stage_id, currency_id, count, amount, weighted_sum in session.execute(stmt):
        total = Total(*currencies[currency_id], _decimal(amount), _decimal(weighted_sum) / 100)
        before, totals = found.get(stage_id, (0, []))
        found[stage_id] = (before + count, [*totals, total])
    for _count, totals in found.values():
        totals.sort(key=lambda t: (t.currency != first, t.currency))
    return found


def _cards(
    session: Session, columns: list[tuple[Stage, tuple[Any, int] | None]], owners: Owners, since: dt.datetime,
    now: dt.datetime,
) -> dict[int, tuple[list[Card], str | None]]:
    """Stage id -> up to CARD_LIMIT cards after a cursor's (key, id) and the cursor of the next ones: one query.

    With ix_opportunities_stage_close (stage_id, expected_close_date, id) a column's LIMIT reads 51 index entries
    (an admin's board at 500,000 deals: 560 ms -> 115 ms measured when it was added; before it, the deals were read
    first behind a MATERIALIZED fence, since an ORDER BY … LIMIT walked the whole close-date index).
    """
    if not columns:
        return {}
    firsts = [select(_first_cards(stage, after, owners, since).subquery().c.id) for stage, after in columns]
    ids = union_all(*firsts).subquery() if len(firsts) > 1 else firsts[0].subquery()
    o = Opportunity
    stmt = (
        select(o.id, o.stage_id, o.opportunity_no, o.name, Account.name.label("account"), o.amount, Currency.code,
               Currency.minor_unit, o.expected_close_date, User.name.label("owner"), o.stage_entered_at,
               o.created_at, o.rotting_since, o.closed_at)
        .select_from(ids).join(o, o.id == ids.c.id).join(Currency, Currency.id == o.currency_id)
        .outerjoin(Account, Account.id == o.account_id).outerjoin(User, User.id == o.owner_id)
    )
    rows: dict[int, list[Any]] = {stage.id: [] for stage, _after in columns}
    for row in session.execute(stmt):
        rows[row.stage_id].append(row)
    found = {}
    for stage, _after in columns:
        mine = sorted(rows[stage.id], key=lambda r: (_key(stage, r), r.id), reverse=stage.is_closed)
        more = len(mine) > CARD_LIMIT
        mine = mine[:CARD_LIMIT]
        found[stage.id] = ([_card(r, now) for r in mine], _cursor(stage, _key(stage, mine[-1]), mine[-1].id)
                           if more else None)
    return found


def _first_cards(stage: Stage, after: tuple[Any, int] | None, owners: Owners, since: dt.datetime) -> Any:
    """Select the ids of a column's first CARD_LIMIT + 1 deals (after a cursor's), from its deals read first."""
    key = Opportunity.closed_at if stage.is_closed else Opportunity.expected_close_date
    where = [Opportunity.deleted_at.is_(None), Opportunity.stage_id == stage.id,
             owners.condition(closed=stage.is_closed),
             Opportunity.closed_at >= since if stage.is_closed else Opportunity.closed_at.is_(None)]
    if after is not None:
        mark = tuple_(literal(after[0], key.type), literal(after[1]))
        where.append(tuple_(key, Opportunity.id) < mark if stage.is_closed else tuple_(key, Opportunity.id) > mark)
    deals = select(Opportunity.id.label("id"), key.label("key")).where(*where).cte(f"stage_{stage.id}")
    order = (deals.c.key.desc(), deals.c.id.desc()) if stage.is_closed else (deals.c.key.asc(), deals.c.id.asc())
    return select(deals.c.id).order_by(*order).limit(CARD_LIMIT + 1)


def _key(stage: Stage, row: Any) -> Any:
    """A card's place in its column: when it closed (a closed stage), else its expected close date."""
    return row.closed_at if stage.is_closed else row.expected_close_date


def _card(r: Any, now: dt.datetime) -> Card:
    entered = r.stage_entered_at or r.created_at
    return Card(r.id, r.opportunity_no, r.name, r.account, r.amount, r.code, r.minor_unit, r.expected_close_date,
                r.owner, max(0, (now - entered).days), r.rotting_since if r.closed_at is None else None, r.closed_at)


def _decimal(value: Any) -> Decimal:
    """A sum as an exact decimal (SQLite keeps money as REAL: rounded to the stored four decimals)."""
    return value if isinstance(value, Decimal) else Decimal(str(round(float(value or 0), 4)))


# -- cursors ----------------------------------------------------------------------------------------------

def _cursor(stage: Stage, key: Any, row_id: int) -> str:
    """An opaque cursor of a column: its stage, and the key and id of the last card shown."""
    body = json.dumps([stage.id, key.isoformat(), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def _read_cursor(cursor: str | None, stage: Stage) -> tuple[Any, int] | None:
    """(key, id) from a cursor of this column; fail naming the field for anything else."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stage_id, value, row_id = json.loads(raw)
        if stage_id != stage.id or not isinstance(row_id, int) or not isinstance(value, str):
            raise ValueError(cursor)
        key = dt.datetime.fromisoformat(value) if stage.is_closed else dt.date.fromisoformat(value)
        if isinstance(key, dt.datetime) and key.tzinfo is None:
            raise ValueError(cursor)
        return key, row_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("after", N_("is not a cursor of this column; begin at its first cards")) from None

