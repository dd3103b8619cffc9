"""How an agenda is drawn: its hours, its day columns, each event's place (minute, length, lane beside events that
overlap it) and every label in the page's language (`babel`, as `crm_store.languages` formats dates)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from babel.dates import format_date, format_interval, format_skeleton, format_time

from crm_store import languages
from crm_store.staff.agenda import Agenda, AgendaDay, AgendaEvent

FIRST_HOUR, LAST_HOUR = 7, 20  # the hours always shown (more when an event or the working day is outside them)
SHORTEST = 20  # minutes an event takes on the grid at least, so that its label fits


@dataclass(frozen=True)
class Placed:
    """An event where the grid draws it: from `minute` (of its day) for `length` minutes, in lane `lane` of
    `lanes` side by side."""

    event: AgendaEvent
    minute: int
    length: int
    lane: int
    lanes: int
    time: str  # "9:00 AM – 10:00 AM"


@dataclass(frozen=True)
class Column:
    """One day: its heading and its events placed."""

    day: AgendaDay
    weekday: str  # Mon / 週一
    number: str  # 14 (under its weekday, as calendars show it in both languages)
    label: str  # Monday, December 14, 2026
    today: bool
    focus: bool  # the day a phone shows when no view was asked for
    events: list[Placed]


@dataclass(frozen=True)
class Hour:
    """An hour row: its label, and whether it is within the working hours."""

    hour: int
    label: str
    working: bool


@dataclass(frozen=True)
class Grid:
    """An agenda ready to draw."""

    title: str
    columns: list[Column]
    hours: list[Hour]

    @property
    def first_minute(self) -> int:
        """The minute of the day the grid starts at."""
        return self.hours[0].hour * 60

    @property
    def last_minute(self) -> int:
        """The minute of the day the grid ends at."""
        return (self.hours[-1].hour + 1) * 60


def grid(plan: Agenda, language: str, focus: dt.date) -> Grid:
    """Lay out an agenda for the page."""
    locale = languages.get(language).locale
    columns = [_column(day, plan, language, focus) for day in plan.days]
    first, last = _hours(plan, columns)
    work_from, work_to = plan.working_hours
    hours = [Hour(h, format_skeleton("h", dt.time(h), locale=locale),
                  work_from.hour * 60 + work_from.minute <= h * 60 < work_to.hour * 60 + work_to.minute)
             for h in range(first, last)]
    return Grid(title(plan, locale), columns, hours)


def title(plan: Agenda, locale: str) -> str:
    """The range shown: "Monday, December 14, 2026", or "Dec 14 – 20, 2026"."""
    if plan.first == plan.last:
        return format_date(plan.first, "full", locale=locale)
    return format_interval(plan.first, plan.last, "yMMMd", locale=locale)


def time_range(start: dt.datetime, end: dt.datetime, language: str) -> str:
    """An event's times in the page's language: "9:00 AM – 10:00 AM" / "上午9:00 – 上午10:00"."""
    locale = languages.get(language).locale
    return f"{format_time(start, 'short', locale=locale)} – {format_time(end, 'short', locale=locale)}"


def _column(day: AgendaDay, plan: Agenda, language: str, focus: dt.date) -> Column:
    locale = languages.get(language).locale
    placed = _lanes([
        (event, minute, max(SHORTEST, min(event.minutes, 24 * 60 - minute)))
        for event in day.events
        for minute in [event.start.hour * 60 + event.start.minute]
    ])
    return Column(
        day, format_skeleton("E", day.day, locale=locale), str(day.day.day),
        format_date(day.day, "full", locale=locale), day.day == plan.today, day.day == focus,
        [Placed(e, minute, length, lane, lanes, time_range(e.start, e.end, language))
         for e, minute, length, lane, lanes in placed],
    )


def _hours(plan: Agenda, columns: list[Column]) -> tuple[int, int]:
    """The hours to draw: 7 to 20, the working hours, and every event's."""
    work_from, work_to = plan.working_hours
    first = min(FIRST_HOUR, work_from.hour)
    last = max(LAST_HOUR + 1, work_to.hour + (1 if work_to.minute else 0))
    for column in columns:
        for placed in column.events:
            first = min(first, placed.minute // 60)
            last = max(last, math.ceil((placed.minute + placed.length) / 60))
    return first, min(last, 24)


def _lanes(items: list[tuple[AgendaEvent, int, int]]) -> list[tuple[AgendaEvent, int, int, int, int]]:
    """Put overlapping events side by side: each in the first lane free at its start, a cluster of overlapping
    events sharing its lane count."""
    placed: list[tuple[AgendaEvent, int, int, int, int]] = []
    cluster: list[tuple[AgendaEvent, int, int, int]] = []
    ends: list[int] = []
    cluster_end = -1
    for event, minute, length in sorted(items, key=lambda i: (i[1], -i[2], i[0].id)):
        if cluster and minute >= cluster_end:
            placed += [(*c, len(ends)) for c in cluster]
            cluster, ends, cluster_end = [], [], -1
        lane = next((i for i, end in enumerate(ends) if end <= minute), len(ends))
        if lane == len(ends):
            ends.append(minute + length)
        else:
            ends[lane] = minute + length
        cluster.append((event, minute, length, lane))
        cluster_end = max(cluster_end, minute + length)
    placed += [(*c, len(ends)) for c in cluster]
    return placed
