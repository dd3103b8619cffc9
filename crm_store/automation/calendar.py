"""The working calendar: working days and hours, holidays and make-up working days, in the company's zone.

A working day is a date whose weekday is in `working_days` or that is listed in `extra_working_days`
(Taiwan's 補班 Saturdays), unless it is listed in `holidays`: a holiday never works. Working time is
the `working_hours` window of each working day, read as local wall-clock times in the company's zone.
A window's ends are aware local datetimes (fold=0) turned into UTC, so a window that spans a
daylight-saving change has its true length: New York's 01:00-04:00 lasts two hours on the spring-forward
day and four on the fall-back one. A local time that the clocks skip takes the offset from before the
change (PEP 495, fold=0): 02:30 on New York's spring-forward day is 07:30 UTC, i.e. 03:30 EDT; a window
left with no time at all is empty that day. Windows are half-open: their closing moment is not working time.

Speed, with H the number of holidays and make-up days: day arithmetic is by whole weeks plus a bisect
in the sorted exceptions, O(log H) for `working_days_between` and O(log(span) * log H) for
`add_working_days`, whatever the span. Minute arithmetic reads per-year tables of the windows' UTC ends
and running totals, built once per calendar year an instance touches (about a millisecond each), then
costs O(log 366) a call (plus one step per year crossed). Load one calendar per run and share it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from crm_store.settings import company

ZERO = dt.timedelta(0)
MINUTE = dt.timedelta(minutes=1)
SETTINGS = ("time_zone", "working_days", "working_hours", "holidays", "extra_working_days")


@dataclass(frozen=True)
class _Year:
    """One calendar year's windows: UTC start and end per day (equal on a day off), and running totals."""

    first: int  # ordinal of 1 January
    starts: list[dt.datetime]
    ends: list[dt.datetime]
    done: list[dt.timedelta]  # working time from the year's start to the end of each day's window

    @property
    def total(self) -> dt.timedelta:
        return self.done[-1]


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; the working calendar takes aware (UTC) moments")
    return moment.astimezone(dt.UTC)


def _weekday(ordinal: int) -> int:
    return (ordinal + 6) % 7  # ordinal 1 (0001-01-01) is a Monday: 0


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours of the company: `load(session)` reads them from the company settings."""

    zone: zoneinfo.ZoneInfo
    weekdays: frozenset[int]  # 0 = Monday
    opens: dt.time
    closes: dt.time
    holidays: frozenset[dt.date] = frozenset()
    extra_working_days: frozenset[dt.date] = frozenset()
    # Derived in __post_init__: the exceptions to the weekday rule as sorted ordinals, a table of the
    # working weekdays among the r days after weekday w, and the per-year window tables (filled lazily).
    _lost: list[int] = field(init=False, repr=False, compare=False)
    _gained: list[int] = field(init=False, repr=False, compare=False)
    _after: list[list[int]] = field(init=False, repr=False, compare=False)
    _years: dict[int, _Year] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError("weekdays must be some of 0 (Monday) to 6 (Sunday)")
        if self.closes <= self.opens:
            raise ValueError("working hours must end after they start")
        lost = sorted(d.toordinal() for d in self.holidays if d.weekday() in self.weekdays)
        gained = sorted(d.toordinal() for d in self.extra_working_days - self.holidays
                        if d.weekday() not in self.weekdays)
        after = [[sum((w + i) % 7 in self.weekdays for i in range(1, r + 1)) for r in range(7)] for w in range(7)]
        object.__setattr__(self, "_lost", lost)
        object.__setattr__(self, "_gained", gained)
        object.__setattr__(self, "_after", after)

    @classmethod
    def load(cls, session: Session) -> WorkingCalendar:
        """Read the calendar from the company settings."""
        values = company.all_settings(session)
        return cls.from_settings({key: values[key] for key in SETTINGS})

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> WorkingCalendar:
        """Build a calendar from company setting values, stored or typed (missing ones take their defaults)."""
        parsed = {key: company.definition(key).parse(key, values[key]) if key in values
                  else company.definition(key).default() for key in SETTINGS}
        opens, closes = (dt.time.fromisoformat(t) for t in parsed["working_hours"].split("-"))
        return cls(
            zone=zoneinfo.ZoneInfo(parsed["time_zone"]),
            weekdays=frozenset(company.WEEKDAYS.index(d) for d in parsed["working_days"]),
            opens=opens,
            closes=closes,
            holidays=frozenset(dt.date.fromisoformat(d) for d in parsed["holidays"]),
            extra_working_days=frozenset(dt.date.fromisoformat(d) for d in parsed["extra_working_days"]),
        )

    # -- days ---------------------------------------------------------------------------------------------

    def is_working_day(self, day: dt.date) -> bool:
        """Whether `day` is a working day."""
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays or day in self.extra_working_days

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        """Count the working days d with a < d <= b (0 when b <= a)."""
        return self._count(a.toordinal(), b.toordinal())

    def next_working_day(self, day: dt.date) -> dt.date:
        """Return the first working day after `day`."""
        return dt.date.fromordinal(self._nth(day.toordinal(), 1))

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """Move to the first working day on or after `day`, then `n` working days further (n >= 0).

        So `n` = 0 gives `day` itself when it works, else the next working day; a Saturday + 1 is the
        Tuesday of a Monday-to-Friday week (numpy's busday_offset with roll="forward" counts the same way).
        """
        if n < 0:
            raise ValueError("add_working_days counts forward: n must be 0 or more")
        return dt.date.fromordinal(self._nth(day.toordinal() - 1, n + 1))

    def _count(self, a: int, b: int) -> int:
        """Working days among the ordinals a < d <= b: whole weeks, the days left, then the exceptions."""
        if b <= a:
            return 0
        weeks, rest = divmod(b - a, 7)
        by_weekday = weeks * len(self.weekdays) + self._after[_weekday(a)][rest]
        lost = bisect_right(self._lost, b) - bisect_right(self._lost, a)
        gained = bisect_right(self._gained, b) - bisect_right(self._gained, a)
        return by_weekday - lost + gained

    def _nth(self, after: int, n: int) -> int:
        """The ordinal of the n-th working day (n >= 1) after the ordinal `after`: gallop, then bisect."""
        lo, hi = after, after + -(-n * 7 // len(self.weekdays))
        while self._count(after, hi) < n:  # holidays took some: look twice as far
            lo, hi = hi, after + 2 * (hi - after)
        while hi - lo > 1:  # _count(after, lo) < n <= _count(after, hi)
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if self._count(after, mid) >= n else (mid, hi)
        return hi

    # -- hours --------------------------------------------------------------------------------------------

    def local_date(self, moment: dt.datetime) -> dt.date:
        """Return the date of an aware moment in the company's zone."""
        return _utc(moment).astimezone(self.zone).date()

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """Return the UTC start and end of `day`'s working hours, or None on a day off."""
        return self._span(day) if self.is_working_day(day) else None

    def _span(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(dt.UTC)
        end = dt.datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(dt.UTC)
        return start, max(start, end)  # a start the clocks skipped can pass a close just after the change

    def working_minutes_between(self, a: dt.datetime, b: dt.datetime) -> int:
        """Count the whole working minutes from `a` to `b` (0 when b <= a)."""
        a, b = _utc(a), _utc(b)
        if b <= a:
            return 0
        (year_a, in_a), (year_b, in_b) = self._position(a), self._position(b)
        whole_years = sum((self._year(y).total for y in range(year_a, year_b)), ZERO)
        return (whole_years + in_b - in_a) // MINUTE

    def add_working_minutes(self, start: dt.datetime, minutes: int) -> dt.datetime:
        """Return the UTC moment when `minutes` working minutes have passed since `start` (minutes >= 0).

        Outside working time the count begins at the next window's start: 0 minutes gives that start.
        A count that ends exactly at a window's close gives the close, not the next day's start.
        """
        if minutes < 0:
            raise ValueError("add_working_minutes counts forward: minutes must be 0 or more")
        year, target = self._position(_utc(start))
        target += minutes * MINUTE
        find = bisect_left if minutes else bisect_right  # 0: skip windows that closed at or before start
        while True:
            table = self._year(year)
            i = find(table.done, target)
            if i < len(table.done):
                return table.starts[i] + (target - (table.done[i - 1] if i else ZERO))
            target -= table.total
            year += 1

    def _position(self, moment: dt.datetime) -> tuple[int, dt.timedelta]:
        """The local year of a UTC moment and the working time from that year's start to it."""
        day = moment.astimezone(self.zone).date()
        table = self._year(day.year)
        i = day.toordinal() - table.first
        before = table.done[i - 1] if i else ZERO
        within = min(max(moment - table.starts[i], ZERO), table.ends[i] - table.starts[i])
        return day.year, before + within

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            first = dt.date(year, 1, 1).toordinal()
            starts, ends, done, total = [], [], [], ZERO
            for ordinal in range(first, dt.date(year, 12, 31).toordinal() + 1):
                day = dt.date.fromordinal(ordinal)
                start, end = self._span(day)
                end = end if self.is_working_day(day) else start
                starts.append(start)
                ends.append(end)
                total += end - start
                done.append(total)
            table = self._years[year] = _Year(first, starts, ends, done)
        return table
