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
    assert bad.stderr.strip() == "error: sla_hours: must be from 1 to 720"
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


# -- what would break the settings' readers ----------------------------------------------------------

WHOLE_NUMBERS = [d for d in company.DEFINITIONS if isinstance(d.parse, company.WholeNumber)]
LINES = [d for d in company.DEFINITIONS if isinstance(d.parse, company.Line)]


def test_every_whole_number_setting_declares_its_range() -> None:
    numbers = [d.key for d in company.DEFINITIONS if type(d.default()) is int]
    assert numbers and numbers == [d.key for d in WHOLE_NUMBERS]
    for d in WHOLE_NUMBERS:
        assert d.parse.low <= d.default() <= d.parse.high, d.key
    assert company.BY_KEY["ip_retention_days"].parse == company.WholeNumber(1, 3650)


@pytest.mark.parametrize("d", WHOLE_NUMBERS, ids=lambda d: d.key)
def test_whole_numbers_keep_to_their_range_and_the_error_names_it(
    session: Session, d: company.CompanySettingDef
) -> None:
    low, high = d.parse.low, d.parse.high
    assert company.set_value(session, d.key, str(low)) == low
    assert company.set_value(session, d.key, f" {high} ") == high
    for raw in (str(high + 1), str(low - 1), "99999999", "9" * 5000, "1e3", "3.5"):
        with pytest.raises(ValidationError) as err:
            company.set_value(session, d.key, raw)
        assert err.value.field == d.key
        assert f"from {low} to {high}" in str(err.value), str(err.value)
    assert company.get(session, d.key) == high


def test_a_huge_retention_is_refused_and_pruning_still_works(crm) -> None:  # noqa: ANN001
    bad = crm("settings", "set", "ip_retention_days", "99999999", ok=False)
    assert bad.stderr == "error: ip_retention_days: must be from 1 to 3650\n"
    assert crm("settings", "get", "ip_retention_days").output == "90\n"
    assert crm("forms", "prune").output.startswith("Cleared the IP address of 0 submission(s)")


def test_free_text_settings_are_declared_one_line() -> None:
    """The others must match a pattern (a zone, a code, a choice…), which no control character does (see below)."""
    free = {"company_name", "company_phone", "company_address", "company_tax_id", "unassigned_pool"}
    assert {d.key for d in LINES} == free
    assert company.BY_KEY["company_name"].parse == company.Line(200, required=True)


BREAKERS = ["\n", "\r", "\r\n", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u200b", "\ufeff"]


@pytest.mark.parametrize("d", company.DEFINITIONS, ids=lambda d: d.key)
def test_no_setting_takes_a_line_break_or_a_control_character(
    session: Session, d: company.CompanySettingDef
) -> None:
    before = company.get(session, d.key)
    for char in BREAKERS:
        with pytest.raises(ValidationError) as err:
            company.set_value(session, d.key, f"Good{char}Fortune")
        assert err.value.field == d.key, repr(char)
    assert company.get(session, d.key) == before


@pytest.mark.parametrize("d", LINES, ids=lambda d: d.key)
def test_text_settings_name_the_control_character(session: Session, d: company.CompanySettingDef) -> None:
    with pytest.raises(ValidationError, match=r"must be one line without control characters \(found U\+000D\)"):
        company.set_value(session, d.key, "Good Fortune\r\nBcc: all@example.com")


def test_company_name_keeps_wide_spaces_and_joiners(session: Session) -> None:
    assert company.set_value(session, "company_name", " 好運\u3000貿易有限公司 ") == "好運\u3000貿易有限公司"
    assert company.set_value(session, "company_name", "Family \U0001f468\u200d\U0001f469 Ltd") == (
        "Family \U0001f468\u200d\U0001f469 Ltd"
    )
    with pytest.raises(ValidationError, match="must be 1 to 200 characters"):
        company.set_value(session, "company_name", "  ")


def test_cli_refuses_a_company_name_with_a_line_break_in_one_line(crm) -> None:  # noqa: ANN001
    bad = crm("settings", "set", "company_name", "Good Fortune\nBcc: all@example.com", ok=False)
    assert bad.stderr == "error: company_name: must be one line without control characters (found U+000A)\n"
    assert crm("settings", "get", "company_name").output == "My Company\n"
