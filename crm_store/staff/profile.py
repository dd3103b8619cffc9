"""A user's own settings: language, time zone, the days they are out of the office and their morning digest.

Out of office is kept as UTC moments (`users.out_of_office_from` / `_to`, what round robin reads): the
first day from its midnight, the last day until the next midnight, both in the user's zone.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from functools import cache

from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.errors import ValidationError
from crm_store.languages import N_
from crm_store.models import User
from crm_store.settings import company

UNKNOWN_LANGUAGE = N_("Choose one of the languages offered.")
UNKNOWN_ZONE = N_("Choose a time zone from the list.")
BACKWARDS = N_("The last day must be on or after the first day.")
BAD_DIGEST_TIME = N_("Enter the digest time as hours and minutes, like 08:00.")
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def set_language(session: Session, user: User, code: str) -> None:
    """Set the language of the user's pages and emails."""
    if code not in languages.CODES:
        raise ValidationError("language", UNKNOWN_LANGUAGE)
    user.language = code
    session.flush()


def update_profile(
    session: Session, user: User, *, language: str, time_zone: str | None, away_from: dt.date | None,
    away_to: dt.date | None,
) -> None:
    """Save the user's language, time zone (None: the company's) and out-of-office days; all or nothing."""
    if language not in languages.CODES:
        raise ValidationError("language", UNKNOWN_LANGUAGE)
    zone_name = (time_zone or "").strip() or None
    if zone_name is not None and not _is_zone(zone_name):
        raise ValidationError("time_zone", UNKNOWN_ZONE)
    if away_from is not None and away_to is not None and away_to < away_from:
        raise ValidationError("out_of_office_to", BACKWARDS)
    user.language, user.time_zone = language, zone_name
    zone = company.zone_for(session, user)
    user.out_of_office_from = _midnight(away_from, zone) if away_from else None
    user.out_of_office_to = _midnight(away_to + dt.timedelta(days=1), zone) if away_to else None
    session.flush()


def set_digest(session: Session, user: User, *, enabled: bool, time: str | None) -> None:
    """Turn the user's morning digest on or off and set its time: "HH:MM" in their zone (empty: `DIGEST_TIME`)."""
    typed = (time or "").strip()
    at = parse_digest_time(typed)
    if typed and at is None:
        raise ValidationError("digest_time", BAD_DIGEST_TIME)
    user.digest_enabled = enabled
    user.digest_time = f"{at:%H:%M}" if at is not None else None
    session.flush()


def set_report_emails(session: Session, user: User, *, enabled: bool) -> None:
    """Turn a manager's weekly pipeline and monthly customer-value emails on or off (report-emails)."""
    user.report_emails_enabled = enabled
    session.flush()


def parse_digest_time(value: str | None) -> dt.time | None:
    """A time of day typed as H:MM or HH:MM, 00:00 to 23:59; None for anything else."""
    found = _TIME.fullmatch((value or "").strip())
    return dt.time(int(found[1]), int(found[2])) if found else None


def away_days(user: User, zone: zoneinfo.ZoneInfo) -> tuple[dt.date | None, dt.date | None]:
    """The first and last days out of the office, as the user's zone sees them (None: not set)."""
    start, end = user.out_of_office_from, user.out_of_office_to
    first = start.astimezone(zone).date() if start else None
    last = (end - dt.timedelta(microseconds=1)).astimezone(zone).date() if end else None
    return first, last


@cache
def zone_names() -> tuple[str, ...]:
    """The time zones to pick from: IANA region names (Asia/Taipei), sorted, then UTC."""
    names = {n for n in zoneinfo.available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/"))}
    return (*sorted(names), "UTC")


def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)
