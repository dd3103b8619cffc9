"""Company settings: seeded defaults, validated changes, the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from crm_store.errors import NotFound, ValidationError
from crm_store.settings import company


def test_thresholds_are_seeded_with_their_documented_defaults(session: Session) -> None:
    values = company.all_settings(session)
    assert values["lead_aging_days"] == 7
    assert values["lead_stale_days"] == 30
    assert values["lead_cold_days"] == 90
    assert values["idle_days_mode"] == "calendar"
    assert values["sla_hours"] == 4
    assert values["sla_reassign"] is False
    assert values["clv_years"] == 3
    assert values["phone_region"] == "TW"
    assert values["time_zone"] == company.machine_time_zone()
    for key in ("prices_include_tax", "recycle_bin_days", "ip_retention_days", "flow_run_days", "unassigned_pool",
                "company_name", "default_currency", "working_days", "working_hours", "holidays"):
        assert key in values


@pytest.mark.parametrize(
    ("key", "raw", "stored"),
    [
        ("time_zone", "Asia/Taipei", "Asia/Taipei"),
        ("holidays", "2026-02-16, 2026-01-01", ["2026-01-01", "2026-02-16"]),
        ("working_days", "mon,tue,wed,thu,fri,sat", ["mon", "tue", "wed", "thu", "fri", "sat"]),
        ("working_hours", "08:30-17:30", "08:30-17:30"),
        ("sla_reassign", "on", True),
        ("lead_aging_days", "10", 10),
        ("default_currency", "usd", "USD"),
        ("phone_region", "us", "US"),
    ],
)
def test_set_parses_and_stores(session: Session, key: str, raw: str, stored: object) -> None:
    assert company.set_value(session, key, raw) == stored
    session.commit()
    assert company.get(session, key) == stored


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("time_zone", "Mars/Olympus"),
        ("holidays", "2026-13-01"),
        ("working_days", "monday"),
        ("working_hours", "18:00-09:00"),
        ("sla_hours", "four"),
        ("lead_cold_days", "0"),
        ("idle_days_mode", "sometimes"),
        ("default_currency", "XYZ"),
        ("phone_region", "ZZ"),
    ],
)
def test_bad_values_name_the_setting_and_change_nothing(session: Session, key: str, raw: str) -> None:
    before = company.get(session, key)
    with pytest.raises(ValidationError) as err:
        company.set_value(session, key, raw)
    assert err.value.field == key
    assert company.get(session, key) == before


def test_unknown_key(session: Session) -> None:
    with pytest.raises(NotFound, match="crm settings list"):
        company.get(session, "colour")


def test_cli_list_get_set(crm) -> None:  # noqa: ANN001
    listed = crm("settings", "list").output
    assert "lead_stale_days" in listed and "30" in listed
    assert crm("settings", "set", "time_zone", "Asia/Taipei").output.strip() == "time_zone = Asia/Taipei"
    assert crm("settings", "get", "time_zone").output.strip() == "Asia/Taipei"
    bad = crm("settings", "set", "sla_hours", "0", ok=False)
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "error: sla_hours: must be at least 1"
    assert "Traceback" not in bad.output


def test_timestamps_are_stored_in_utc_and_shown_in_the_company_or_user_zone(session: Session) -> None:
    import datetime as dt

    from crm_store.records import lifecycle as records
    from crm_store.staff.users import add_user

    taipei_morning = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    lead = records.create_lead(session, {"last_name": "Lee"}, at=taipei_morning)
    company.set_value(session, "time_zone", "Asia/Taipei")
    session.commit()
    session.expire_all()
    stored = session.get(type(lead), lead.id).created_at
    assert stored.utcoffset() == dt.timedelta(0)
    assert (stored.hour, stored.minute) == (1, 30)
    assert company.show_time(stored, company.zone_for(session)) == "2026-11-27 09:30 CST"
    user = add_user(session, "ny@example.com", "NY Rep", time_zone="America/New_York")
    assert company.show_time(stored, company.zone_for(session, user)) == "2026-11-26 20:30 EST"


@pytest.mark.parametrize(
    ("key", "raw", "stored"),
    [
        ("company_email", "Service@GoodFortune.com.tw", "Service@goodfortune.com.tw"),
        ("company_phone", "02-2345-6789 分機 123", "02-2345-6789 分機 123"),
        ("company_phone", "(02) 2345-6789", "(02) 2345-6789"),
        ("company_phone", "+1 650-253-0000", "+1 650-253-0000"),
        ("company_address", " 106 臺北市大安區敦化南路二段 99 號 8 樓 ", "106 臺北市大安區敦化南路二段 99 號 8 樓"),
        ("company_tax_id", "53619024", "53619024"),
        ("company_email", "", ""),
    ],
)
def test_company_contact_details_are_set_through_the_cli(crm, key: str, raw: str, stored: str) -> None:  # noqa: ANN001
    assert crm("settings", "get", key).output == "\n"  # empty until set
    assert crm("settings", "set", key, raw).output == f"{key} = {stored}\n"
    assert crm("settings", "get", key).output == f"{stored}\n"


@pytest.mark.parametrize(
    ("key", "raw", "says"),
    [
        ("company_email", "service at goodfortune", "is not a valid email address"),
        ("company_email", "a@example.com, b@example.com", "is not a valid email address"),
        ("company_phone", "call us", "does not begin with a phone number (region TW)"),
        ("company_phone", "1234", "does not begin with a phone number (region TW)"),
        ("company_phone", "0" * 51, "at most 50 characters"),
        ("company_address", "臺北市\n大安區", "one line"),
        ("company_address", "路" * 201, "at most 200 characters"),
        ("company_tax_id", "1" * 31, "at most 30 characters"),
    ],
)
def test_bad_company_contact_details_are_one_line_errors_naming_the_key(
    crm, key: str, raw: str, says: str  # noqa: ANN001
) -> None:
    bad = crm("settings", "set", key, raw, ok=False)
    assert bad.exit_code == 1
    (line,) = bad.stderr.splitlines()
    assert line.startswith(f"error: {key}: ") and says in line, line
    assert "Traceback" not in bad.output
    assert crm("settings", "get", key).output == "\n"


def test_company_contact_details_are_empty_by_default(session: Session) -> None:
    values = company.all_settings(session)
    assert [values[k] for k in ("company_email", "company_phone", "company_address", "company_tax_id")] == [""] * 4
