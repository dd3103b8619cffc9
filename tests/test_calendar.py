"""The working calendar: weekends, holidays, 補班 days, DST in New York, Taipei, and fast paths against brute force."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from crm_store.automation.calendar import WorkingCalendar
from crm_store.settings import company

UTC = dt.UTC
WEEK = ["mon", "tue", "wed", "thu", "fri"]


def calendar(zone: str = "America/New_York", days: list[str] | None = None, hours: str = "09:00-18:00",
             holidays: list[str] | None = None, extra: list[str] | None = None) -> WorkingCalendar:
    return WorkingCalendar.from_settings({"time_zone": zone, "working_days": days or WEEK, "working_hours": hours,
                                          "holidays": holidays or [], "extra_working_days": extra or []})


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)


D = dt.date.fromisoformat


# -- brute-force references: day by day, windows worked out here ----------------------------------------------

def ref_working(cal: WorkingCalendar, day: dt.date) -> bool:
    return day not in cal.holidays and (day.weekday() in cal.weekdays or day in cal.extra_working_days)


def ref_between(cal: WorkingCalendar, a: dt.date, b: dt.date) -> int:
    return sum(ref_working(cal, a + dt.timedelta(i)) for i in range(1, (b - a).days + 1))


def ref_add_days(cal: WorkingCalendar, day: dt.date, n: int) -> dt.date:
    while not ref_working(cal, day):
        day += dt.timedelta(1)
    for _ in range(n):
        day += dt.timedelta(1)
        while not ref_working(cal, day):
            day += dt.timedelta(1)
    return day


def ref_window(cal: WorkingCalendar, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
    if not ref_working(cal, day):
        return None
    start = dt.datetime.combine(day, cal.opens, tzinfo=cal.zone).astimezone(UTC)
    end = dt.datetime.combine(day, cal.closes, tzinfo=cal.zone).astimezone(UTC)
    return start, max(start, end)


def ref_minutes(cal: WorkingCalendar, a: dt.datetime, b: dt.datetime) -> int:
    total, day = dt.timedelta(0), a.astimezone(cal.zone).date() - dt.timedelta(1)
    while day <= b.astimezone(cal.zone).date() + dt.timedelta(1):
        if w := ref_window(cal, day):
            total += max(dt.timedelta(0), min(b, w[1]) - max(a, w[0]))
        day += dt.timedelta(1)
    return total // dt.timedelta(minutes=1)


def ref_add_minutes(cal: WorkingCalendar, start: dt.datetime, minutes: int) -> dt.datetime:
    left, day = dt.timedelta(minutes=minutes), start.astimezone(cal.zone).date() - dt.timedelta(1)
    while True:
        w = ref_window(cal, day)
        if w and w[1] > start and w[1] > w[0]:
            begin = max(start, w[0])
            if left <= w[1] - begin:
                return begin + left
            left -= w[1] - begin
        day += dt.timedelta(1)


# -- days -----------------------------------------------------------------------------------------------------

def test_weekends_and_holidays_are_days_off() -> None:
    cal = calendar(holidays=["2026-01-01"])
    assert [cal.is_working_day(D("2026-01-0" + str(i))) for i in range(1, 6)] == [False, True, False, False, True]
    assert cal.next_working_day(D("2025-12-31")) == D("2026-01-02")
    assert cal.next_working_day(D("2026-01-02")) == D("2026-01-05")  # Friday → Monday
    assert cal.working_days_between(D("2025-12-31"), D("2026-01-05")) == 2  # Fri 2 and Mon 5
    assert cal.working_days_between(D("2026-01-02"), D("2026-01-02")) == 0
    assert cal.working_days_between(D("2026-01-05"), D("2026-01-02")) == 0  # backwards


def test_add_working_days_rolls_forward_then_counts() -> None:
    cal = calendar(holidays=["2026-01-01"])
    assert cal.add_working_days(D("2026-01-02"), 0) == D("2026-01-02")  # a working day: itself
    assert cal.add_working_days(D("2026-01-03"), 0) == D("2026-01-05")  # Saturday: the next one
    assert cal.add_working_days(D("2026-01-03"), 1) == D("2026-01-06")
    assert cal.add_working_days(D("2025-12-31"), 1) == D("2026-01-02")  # over the holiday
    assert cal.add_working_days(D("2026-01-02"), 5) == D("2026-01-09")
    with pytest.raises(ValueError, match="0 or more"):
        cal.add_working_days(D("2026-01-02"), -1)


def test_a_make_up_saturday_in_taipei_works_and_a_holiday_never_does() -> None:
    # Lunar New Year 2025: 27-31 January off, Saturday 8 February worked instead (補班).
    cal = calendar("Asia/Taipei", holidays=[f"2025-01-{d}" for d in range(27, 32)] + ["2025-02-15"],
                   extra=["2025-02-08", "2025-02-15"])
    assert cal.is_working_day(D("2025-02-08"))
    assert not cal.is_working_day(D("2025-02-15"))  # listed in both: the holiday wins
    assert cal.next_working_day(D("2025-01-24")) == D("2025-02-03")
    assert cal.next_working_day(D("2025-02-07")) == D("2025-02-08")
    assert cal.working_days_between(D("2025-02-07"), D("2025-02-10")) == 2  # Sat 8, Mon 10
    assert cal.working_days_between(D("2025-01-24"), D("2025-02-16")) == 11  # 3-7, 8, 10-14
    # Friday 17:30 in Taipei + 60 working minutes: 30 on Friday, 30 on the make-up Saturday (09:00 = 01:00 UTC).
    assert cal.add_working_minutes(local("Asia/Taipei", 2025, 2, 7, 17, 30), 60) == utc(2025, 2, 8, 1, 30)
    assert cal.working_minutes_between(utc(2025, 2, 7, 9, 30), utc(2025, 2, 8, 1, 30)) == 60


def test_the_local_day_in_a_zone_far_from_utc() -> None:
    cal = calendar("Asia/Taipei")
    sunday_evening_utc = utc(2025, 2, 9, 20)  # Monday 04:00 in Taipei
    assert cal.local_date(sunday_evening_utc) == D("2025-02-10")
    assert cal.add_working_minutes(sunday_evening_utc, 0) == utc(2025, 2, 10, 1)  # Monday 09:00 Taipei
    assert cal.window(D("2025-02-10")) == (utc(2025, 2, 10, 1), utc(2025, 2, 10, 10))
    assert cal.window(D("2025-02-09")) is None


def test_a_year_with_holidays() -> None:
    # 2026 has 261 weekdays; 6 holidays fall on weekdays, 2 on Saturdays; one make-up Saturday; 7 March is
    # both a holiday and a make-up day, so it stays off.
    holidays = ["2026-01-01", "2026-02-16", "2026-02-17", "2026-02-28", "2026-06-19", "2026-09-25",
                "2026-10-10", "2026-12-25", "2026-03-07"]
    cal = calendar("Asia/Taipei", holidays=holidays, extra=["2026-02-07", "2026-03-07"])
    assert cal.working_days_between(D("2025-12-31"), D("2026-12-31")) == 256
    assert cal.working_days_between(D("2025-12-31"), D("2026-12-31")) == ref_between(cal, D("2025-12-31"),
                                                                                         D("2026-12-31"))
    assert cal.add_working_days(D("2026-01-01"), 255) == D("2026-12-31")


# -- hours ----------------------------------------------------------------------------------------------------

def test_a_window_over_the_dst_changes_has_its_true_length() -> None:
    cal = calendar(days=["sun"], hours="01:00-04:00")
    spring, autumn = D("2026-03-08"), D("2026-11-01")
    assert cal.window(spring) == (utc(2026, 3, 8, 6), utc(2026, 3, 8, 8))  # 01:00 EST to 04:00 EDT: 2 hours
    assert cal.window(autumn) == (utc(2026, 11, 1, 5), utc(2026, 11, 1, 9))  # 01:00 EDT to 04:00 EST: 4 hours
    assert cal.working_minutes_between(utc(2026, 3, 8), utc(2026, 3, 9)) == 120
    assert cal.working_minutes_between(utc(2026, 11, 1), utc(2026, 11, 2)) == 240
    inside = utc(2026, 3, 8, 7, 30)  # 03:30 EDT
    assert cal.add_working_minutes(inside, 30) == utc(2026, 3, 8, 8)  # ends at the close
    assert cal.add_working_minutes(inside, 31) == utc(2026, 3, 15, 5, 1)  # next Sunday, 01:01 EDT
    assert cal.add_working_minutes(utc(2026, 11, 1, 5), 239) == utc(2026, 11, 1, 8, 59)


def test_a_start_the_clocks_skip_takes_the_old_offset() -> None:
    cal = calendar(days=["sun"], hours="02:30-10:00")
    assert cal.window(D("2026-03-08")) == (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 14))  # 03:30 to 10:00 EDT
    tiny = calendar(days=["sun"], hours="02:30-03:15")  # 02:30 "EST" is after 03:15 EDT: nothing left
    assert tiny.window(D("2026-03-08")) == (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 7, 30))
    assert tiny.add_working_minutes(utc(2026, 3, 8), 0) == utc(2026, 3, 15, 6, 30)  # next Sunday, 02:30 EDT


@pytest.mark.parametrize(
    ("friday", "monday_nine"),
    [(utc(2026, 3, 6, 22), utc(2026, 3, 9, 13)), (utc(2026, 10, 30, 21), utc(2026, 11, 2, 14))],
    ids=["march", "november"],
)
def test_a_weekend_over_a_dst_change_in_new_york(friday: dt.datetime, monday_nine: dt.datetime) -> None:
    cal = calendar()
    assert cal.window(monday_nine.date()) == (monday_nine, monday_nine + dt.timedelta(hours=9))
    # Friday 17:00 local + 2 working hours: one on Friday, one on Monday from 09:00 local in the new offset.
    assert cal.add_working_minutes(friday, 120) == monday_nine + dt.timedelta(hours=1)
    assert cal.working_minutes_between(friday, monday_nine + dt.timedelta(hours=1)) == 120
    assert cal.working_minutes_between(friday, monday_nine) == 60


def test_moments_before_inside_and_after_the_window() -> None:
    cal = calendar()  # New York, 09:00-18:00 EST = 14:00-23:00 UTC in January
    before, inside, after = utc(2026, 1, 6, 12), utc(2026, 1, 6, 15, 20, 7), utc(2026, 1, 6, 23, 30)
    assert cal.add_working_minutes(before, 0) == utc(2026, 1, 6, 14)
    assert cal.add_working_minutes(before, 10) == utc(2026, 1, 6, 14, 10)
    assert cal.add_working_minutes(inside, 0) == inside
    assert cal.add_working_minutes(inside, 10) == utc(2026, 1, 6, 15, 30, 7)
    assert cal.add_working_minutes(after, 0) == utc(2026, 1, 7, 14)
    assert cal.add_working_minutes(utc(2026, 1, 6, 23), 0) == utc(2026, 1, 7, 14)  # the close is not working time
    assert cal.add_working_minutes(utc(2026, 1, 6, 22), 60) == utc(2026, 1, 6, 23)
    assert cal.add_working_minutes(utc(2026, 1, 6, 22), 61) == utc(2026, 1, 7, 14, 1)
    assert cal.add_working_minutes(utc(2026, 1, 6, 14), 9 * 60 * 5) == utc(2026, 1, 12, 23)  # to Monday's close
    assert cal.working_minutes_between(before, after) == 9 * 60
    assert cal.working_minutes_between(inside, utc(2026, 1, 6, 15, 30)) == 9  # whole minutes only
    assert cal.working_minutes_between(after, utc(2026, 1, 7, 13)) == 0


def test_zero_backwards_and_naive_inputs() -> None:
    cal = calendar()
    moment = utc(2026, 1, 6, 15)
    assert cal.working_minutes_between(moment, moment) == 0
    assert cal.working_minutes_between(moment, moment - dt.timedelta(days=3)) == 0
    with pytest.raises(ValueError, match="0 or more"):
        cal.add_working_minutes(moment, -1)
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_minutes(dt.datetime(2026, 1, 6, 15), 5)
    with pytest.raises(ValueError, match="naive"):
        cal.working_minutes_between(dt.datetime(2026, 1, 6, 15), moment)


def test_over_new_year_and_across_many_years() -> None:
    cal = calendar("Asia/Taipei", holidays=["2027-01-01"])
    assert cal.add_working_minutes(local("Asia/Taipei", 2026, 12, 31, 17), 120) == local("Asia/Taipei",
                                                                                        2027, 1, 4, 10)
    assert cal.working_minutes_between(local("Asia/Taipei", 2026, 12, 31, 17),
                                       local("Asia/Taipei", 2027, 1, 4, 10)) == 120
    # Taipei has no DST: ten years of Monday-to-Friday 9-hour days.
    plain = calendar("Asia/Taipei")
    a, b = D("2020-01-01"), D("2030-01-01")
    days = plain.working_days_between(a, b)
    assert days == ref_between(plain, a, b)
    assert plain.working_minutes_between(local("Asia/Taipei", 2020, 1, 1, 23), local("Asia/Taipei", 2030, 1, 1, 23)) \
        == days * 9 * 60


# -- fast paths against the day-by-day references ---------------------------------------------------------------

ZONES = ["America/New_York", "Asia/Taipei", "Europe/London", "Australia/Sydney", "UTC"]


def random_calendar(rng: random.Random) -> WorkingCalendar:
    days = sorted(rng.sample(company.WEEKDAYS, rng.randint(1, 7)), key=company.WEEKDAYS.index)
    opens = rng.randint(0, 22 * 60)
    closes = rng.randint(opens + 1, 23 * 60 + 59)
    span = D("2028-12-31") - D("2024-01-01")
    pick = [(D("2024-01-01") + dt.timedelta(rng.randint(0, span.days))).isoformat() for _ in range(60)]
    return calendar(rng.choice(ZONES), days, f"{opens // 60:02}:{opens % 60:02}-{closes // 60:02}:{closes % 60:02}",
                    holidays=pick[:40], extra=pick[30:])


def random_moment(rng: random.Random) -> dt.datetime:
    return utc(2024, 1, 1) + dt.timedelta(seconds=rng.randint(0, 4 * 365 * 86400))


def test_days_against_brute_force() -> None:
    rng = random.Random(1313)
    for _ in range(40):
        cal = random_calendar(rng)
        for _ in range(15):
            a = D("2024-01-01") + dt.timedelta(rng.randint(0, 1500))
            b = a + dt.timedelta(rng.randint(-10, 400))
            n = rng.randint(0, 120)
            assert cal.working_days_between(a, b) == (ref_between(cal, a, b) if b > a else 0), (cal, a, b)
            assert cal.add_working_days(a, n) == ref_add_days(cal, a, n), (cal, a, n)
            assert cal.next_working_day(a) == ref_add_days(cal, a + dt.timedelta(1), 0), (cal, a)
            assert cal.is_working_day(a) == ref_working(cal, a)


def test_minutes_against_brute_force() -> None:
    rng = random.Random(2026)
    for _ in range(40):
        cal = random_calendar(rng)
        for _ in range(10):
            a = random_moment(rng)
            b = a + dt.timedelta(seconds=rng.randint(-86400, 120 * 86400))
            minutes = rng.choice([0, 1, rng.randint(0, 600), rng.randint(0, 60 * 720)])
            assert cal.working_minutes_between(a, b) == (ref_minutes(cal, a, b) if b > a else 0), (cal, a, b)
            end = cal.add_working_minutes(a, minutes)
            assert end == ref_add_minutes(cal, a, minutes), (cal, a, minutes)
            assert cal.working_minutes_between(a, end) == minutes, (cal, a, minutes)


def test_the_dst_days_against_brute_force() -> None:
    rng = random.Random(7)
    for hours in ("00:00-23:59", "01:00-04:00", "01:30-02:30", "02:00-03:00", "09:00-18:00"):
        cal = calendar(days=list(company.WEEKDAYS), hours=hours)
        for day in (D("2026-03-08"), D("2026-11-01")):
            for _ in range(30):
                a = dt.datetime.combine(day, dt.time(), tzinfo=UTC) + dt.timedelta(minutes=rng.randint(0, 36 * 60))
                b = a + dt.timedelta(minutes=rng.randint(0, 48 * 60))
                minutes = rng.randint(0, 600)
                assert cal.working_minutes_between(a, b) == ref_minutes(cal, a, b), (hours, a, b)
                assert cal.add_working_minutes(a, minutes) == ref_add_minutes(cal, a, minutes), (hours, a, minutes)


# -- the company settings -------------------------------------------------------------------------------------

def test_load_reads_the_company_settings(session: Session) -> None:
    for key, value in [("time_zone", "Asia/Taipei"), ("working_days", "mon,tue,wed,thu,fri"),
                       ("working_hours", "08:30-17:30"), ("holidays", "2025-01-27,2025-01-28"),
                       ("extra_working_days", "2025-02-08")]:
        company.set_value(session, key, value)
    session.commit()
    cal = WorkingCalendar.load(session)
    assert cal == WorkingCalendar(ZoneInfo("Asia/Taipei"), frozenset(range(5)), dt.time(8, 30), dt.time(17, 30),
                                  frozenset({D("2025-01-27"), D("2025-01-28")}), frozenset({D("2025-02-08")}))
    assert cal.is_working_day(D("2025-02-08")) and not cal.is_working_day(D("2025-01-27"))
    assert cal.window(D("2025-02-08")) == (utc(2025, 2, 8, 0, 30), utc(2025, 2, 8, 9, 30))


def test_a_calendar_refuses_impossible_settings() -> None:
    with pytest.raises(ValueError, match="weekdays"):
        WorkingCalendar(ZoneInfo("UTC"), frozenset(), dt.time(9), dt.time(18))
    with pytest.raises(ValueError, match="end after"):
        WorkingCalendar(ZoneInfo("UTC"), frozenset({0}), dt.time(18), dt.time(9))
