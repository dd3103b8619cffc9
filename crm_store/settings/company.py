"""Company settings: stored in the database, seeded by `crm init`, changed with `crm settings`."""

from __future__ import annotations

import copy
import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import languages
from crm_store.errors import NotFound, ValidationError
from crm_store.models import CompanySetting, Currency, User
from crm_store.records.contact_points import clean_email, to_e164
from crm_store.records.lines import one_line

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RECORD_SHARING = ("private", "team")  # private: own records (and reports'); team: also the teammates'


def machine_time_zone() -> str:
    """Return the IANA name of this machine's time zone, or UTC."""
    try:
        import tzlocal

        return tzlocal.get_localzone_name() or "UTC"
    except Exception:  # a machine without zone data still gets a working default
        return "UTC"


@dataclass(frozen=True)
class WholeNumber:
    """A whole-number setting: the range it must lie in, declared with it (past it pruning dates overflow)."""

    low: int
    high: int

    def __call__(self, key: str, raw: Any) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValidationError(key, f"{raw!r} is not a whole number from {self.low} to {self.high}") from None
        if not self.low <= value <= self.high:
            raise ValidationError(key, f"must be from {self.low} to {self.high}")
        return value


@dataclass(frozen=True)
class Line:
    """A text setting: one line of at most `limit` characters, without control characters; empty unless required.

    Every text setting is one line: each may go into a mail subject or header, a signature line or a
    page title, where a line break or a control character breaks the message (or hides what is shown).
    """

    limit: int
    required: bool = False

    def __call__(self, key: str, raw: Any) -> str:
        value = one_line(key, str(raw).strip())
        if self.required and not value:
            raise ValidationError(key, f"must be 1 to {self.limit} characters")
        if len(value) > self.limit:
            raise ValidationError(key, f"must be at most {self.limit} characters")
        return value


def _optional_email(key: str, raw: Any) -> str:
    value = one_line(key, str(raw).strip())
    return clean_email(key, value) if value else ""


# The number part of a company phone; an extension may follow in any words (分機 123, ext. 12, #12).
_LEADING_NUMBER = re.compile(r"\+?\(?[0-9][0-9 ().\-]*[0-9]")


def _check_phone(key: str, value: str, region: str) -> None:
    """Refuse a company phone that does not begin with a phone number dialable in `region` (or with +country)."""
    number = _LEADING_NUMBER.match(value)
    try:
        to_e164(key, number[0] if number else value, region)
    except ValidationError:
        raise ValidationError(key, f"{value!r} does not begin with a phone number (region {region})") from None


def parse_on_off(key: str, raw: Any) -> bool:
    """on/off, true/false, yes/no, 1/0 (or a bool); fail naming the key."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise ValidationError(key, f"{raw!r} is not on/off")


def _zone(key: str, raw: Any) -> str:
    name = str(raw).strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(key, f"{name!r} is not a time zone name such as Asia/Taipei") from None
    return name


def _currency(key: str, raw: Any) -> str:
    code = str(raw).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValidationError(key, f"{raw!r} is not a three-letter currency code")
    return code


def _region(key: str, raw: Any) -> str:
    region = str(raw).strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(key, f"{raw!r} is not a phone region code such as TW or US")
    return region


def _weekdays(key: str, raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else str(raw).replace(" ", "").lower().split(",")
    days = [d for d in items if d]
    bad = [d for d in days if d not in WEEKDAYS]
    if bad or not days:
        raise ValidationError(key, f"use weekday names from {','.join(WEEKDAYS)}, e.g. mon,tue,wed,thu,fri")
    return sorted(set(days), key=WEEKDAYS.index)


def _hours(key: str, raw: Any) -> str:
    text = str(raw).replace(" ", "")
    m = re.fullmatch(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})", text)
    if not m:
        raise ValidationError(key, f"{raw!r} is not a range like 09:00-18:00")
    try:
        start, end = dt.time(int(m[1]), int(m[2])), dt.time(int(m[3]), int(m[4]))
    except ValueError:
        raise ValidationError(key, f"{raw!r} holds an impossible time") from None
    if end <= start:
        raise ValidationError(key, "must end after it starts")
    return text


def _dates(key: str, raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else str(raw).replace(" ", "").split(",")
    out = set()
    for item in (i for i in items if i):
        try:
            out.add(dt.date.fromisoformat(item).isoformat())
        except ValueError:
            raise ValidationError(key, f"{item!r} is not a date like 2026-01-01") from None
    return sorted(out)


def _language(key: str, raw: Any) -> str:
    code = languages.parse(raw)
    if code is None:
        raise ValidationError(key, f"{raw!r} is not one of {', '.join(languages.CODES)}")
    return code


def _choice(*choices: str) -> Callable[[str, Any], str]:
    def parse(key: str, raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in choices:
            raise ValidationError(key, f"{raw!r} is not one of {', '.join(choices)}")
        return value

    return parse


@dataclass(frozen=True)
class CompanySettingDef:
    """A company setting: its key, a parser that validates, the default and a one-line help."""

    key: str
    parse: Callable[[str, Any], Any]
    default: Callable[[], Any]
    help: str


def _define(key: str, parse: Callable[[str, Any], Any], default: Any, help: str) -> CompanySettingDef:
    """A setting whose default is a value, or a function working it out (the machine's time zone)."""
    return CompanySettingDef(key, parse, default if callable(default) else (lambda: copy.deepcopy(default)), help)


DEFINITIONS: tuple[CompanySettingDef, ...] = (
    _define("company_name", Line(200, required=True), "My Company", "Name shown in emails and pages."),
    _define("company_email", _optional_email, "",
            "Address customers write to: signs auto-replies, answers go there if a lead has no owner (empty: none)."),
    _define("company_phone", Line(50), "",
            "Number customers call, in phone_region or with +country; an extension may follow (empty: none)."),
    _define("company_address", Line(200), "",
            "Postal address on one line: signs auto-replies, printed on sales documents (empty: none)."),
    _define("company_tax_id", Line(30), "", "Tax ID such as a 統一編號, for sales documents (empty: none)."),
    _define("time_zone", _zone, machine_time_zone, "Zone in which times are shown and days begin."),
    _define("default_currency", _currency, "TWD", "Currency that amounts are reported in."),
    _define("default_language", _language, languages.DEFAULT, "Language for new users: en or zh_Hant."),
    _define("working_days", _weekdays, ["mon", "tue", "wed", "thu", "fri"], "Days the team works."),
    _define("working_hours", _hours, "09:00-18:00", "Working hours each working day."),
    _define("holidays", _dates, [], "Non-working dates, comma-separated YYYY-MM-DD."),
    _define("extra_working_days", _dates, [],
            "Make-up working dates on a usual day off (Taiwan's 補班), comma-separated YYYY-MM-DD."),
    _define("phone_region", _region, "TW", "Region for phone numbers typed without a country code."),
    _define("lead_aging_days", WholeNumber(1, 3650), 7, "Days without staff action before a lead is aging."),
    _define("lead_stale_days", WholeNumber(1, 3650), 30, "Days without staff action before a lead is stale."),
    _define("lead_cold_days", WholeNumber(1, 3650), 90, "Days without staff action before a lead goes Cold."),
    _define("idle_days_mode", _choice("calendar", "working"), "calendar",
            "Count idle days as calendar or working days."),
    _define("sla_hours", WholeNumber(1, 720), 4, "Working hours for a first response to a new lead."),
    _define("sla_reassign", parse_on_off, False, "Reassign a lead whose SLA was missed (on/off)."),
    _define("prices_include_tax", parse_on_off, False, "Whether price-book prices include tax (on/off)."),
    _define("allow_negative_stock", parse_on_off, True,
            "Whether invoices may take a product's stock below zero, with a warning (on/off)."),
    _define("recycle_bin_days", WholeNumber(1, 3650), 30, "Days deleted records stay in the recycle bin."),
    _define("ip_retention_days", WholeNumber(1, 3650), 90, "Days visitors' IP addresses are kept."),
    _define("form_min_fill_seconds", WholeNumber(0, 600), 3,
            "Seconds a visitor needs at least to fill a web form; faster is spam."),
    _define("flow_run_days", WholeNumber(1, 3650), 30, "Days the history of automation runs is kept."),
    _define("backup_keep", WholeNumber(1, 365), 14, "Nightly backups kept in the data directory's backups folder."),
    _define("unassigned_pool", Line(200), "", "Team or user email for leads no rule assigns (empty: none)."),
    _define("record_sharing", _choice(*RECORD_SHARING), "private",
            "Who sees a rep's records besides their managers: private, or team (the members of their teams)."),
    _define("clv_years", WholeNumber(1, 50), 3, "Years of future revenue in customer lifetime value."),
)
BY_KEY = {d.key: d for d in DEFINITIONS}


def definition(key: str) -> CompanySettingDef:
    """Return a setting's definition; fail naming the unknown key."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise NotFound(f"unknown company setting {key!r}; `crm settings list` shows them") from None


def seed(session: Session) -> list[str]:
    """Store the default of every company setting not yet stored; return the keys added."""
    present = set(session.scalars(select(CompanySetting.key)))
    added = [d.key for d in DEFINITIONS if d.key not in present]
    session.add_all(CompanySetting(key=k, value=BY_KEY[k].default()) for k in added)
    return added


def get(session: Session, key: str) -> Any:
    """Return a company setting's value (its default when not stored)."""
    d = definition(key)
    row = session.get(CompanySetting, key)
    return d.default() if row is None else row.value


def all_settings(session: Session) -> dict[str, Any]:
    """Return every company setting in definition order."""
    stored = {row.key: row.value for row in session.scalars(select(CompanySetting))}
    return {d.key: stored.get(d.key, d.default()) for d in DEFINITIONS}


def set_value(session: Session, key: str, raw: Any) -> Any:
    """Validate and store a company setting; return the stored value."""
    d = definition(key)
    value = d.parse(key, raw)
    if key == "default_currency" and session.scalar(select(Currency.id).where(Currency.code == value)) is None:
        raise ValidationError(key, f"currency {value} is not set up")
    if key == "company_phone" and value:
        _check_phone(key, value, get(session, "phone_region"))
    row = session.get(CompanySetting, key)
    if row is None:
        session.add(CompanySetting(key=key, value=value))
    else:
        row.value = value
    return value


def zone(session: Session) -> zoneinfo.ZoneInfo:
    """Return the company's time zone."""
    return zoneinfo.ZoneInfo(get(session, "time_zone"))


def zone_for(session: Session, user: User | None = None) -> zoneinfo.ZoneInfo:
    """Return the zone to show times in: the user's own, else the company's."""
    if user is not None and user.time_zone:
        return zoneinfo.ZoneInfo(user.time_zone)
    return zone(session)


def show_time(moment: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """Format a stored UTC timestamp in a zone, e.g. 2026-11-27 17:30 CST."""
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
