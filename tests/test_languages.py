"""Languages: codes in one place, the catalogue in use, and dates, numbers and money per locale."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crm_store import languages

ROOT = Path(__file__).resolve().parent.parent
TAIPEI = ZoneInfo("Asia/Taipei")
MOMENT = dt.datetime(2025, 3, 14, 1, 5, tzinfo=dt.UTC)  # 09:05 in Taipei


@pytest.mark.parametrize(("typed", "code"), [
    ("en", "en"), ("zh_Hant", "zh_Hant"), ("zh_hant", "zh_Hant"), ("zh-TW", "zh_Hant"), (" zh-Hant ", "zh_Hant"),
    ("fr", None), ("", None), (None, None),
])
def test_typed_language_names_mean_our_codes(typed: str | None, code: str | None) -> None:
    assert languages.parse(typed) == code


def test_unknown_language_falls_back_to_the_default() -> None:
    assert languages.get("fr").code == languages.DEFAULT == "en"
    assert languages.get("zh_Hant").page_tag == "zh-Hant-TW" and languages.get("zh_Hant").tag == "zh-Hant"


@pytest.mark.parametrize(("amount", "currency", "minor_unit", "code", "shown"), [
    ("1250000", "TWD", 0, "en", "NT$1,250,000"),
    ("1250000.40", "TWD", 0, "en", "NT$1,250,000"),  # TWD has no decimals here, whatever CLDR says
    ("1249999.50", "TWD", 0, "zh_Hant", "$1,250,000"),  # half up; in Taiwan the dollar is just $
    ("1234.5", "USD", 2, "en", "$1,234.50"),
    ("1234.5", "USD", 2, "zh_Hant", "US$1,234.50"),
    ("1234.5", "JPY", 0, "en", "¥1,235"),
    ("-9.995", "EUR", 2, "en", "-€10.00"),
    ("0", "CNY", 2, "zh_Hant", "CN¥0.00"),
])
def test_money_uses_the_currency_s_own_minor_unit(amount: str, currency: str, minor_unit: int, code: str,
                                                   shown: str) -> None:
    assert languages.format_money(Decimal(amount), currency, minor_unit, code) == shown


def test_dates_and_times_follow_the_locale_in_the_zone_given() -> None:
    assert languages.format_datetime(MOMENT, "en", TAIPEI) == "Mar 14, 2025, 9:05\u202fAM"  # CLDR: narrow space
    assert languages.format_datetime(MOMENT, "zh_Hant", TAIPEI) == "2025年3月14日 上午9:05"
    assert languages.format_date(MOMENT.date(), "zh_Hant", "short") == "2025/3/14"
    assert languages.format_number(1234567, "en") == "1,234,567"
    assert languages.format_number(Decimal("3.14159"), "zh_Hant", 2) == "3.14"


@pytest.mark.parametrize(("minutes", "en", "zh"), [
    (0, "0 min", "0 分鐘"), (95, "1 h 35 min", "1 小時 35 分鐘"), (1500, "1 d 1 h", "1 天 1 小時"),
])
def test_durations_in_each_language(minutes: int, en: str, zh: str) -> None:
    assert languages.format_duration(minutes, "en") == en
    assert languages.format_duration(minutes, "zh_Hant") == zh


def test_language_codes_are_spelled_only_in_languages_py() -> None:
    """The other places that spelled them (models, settings, CLI, emails, pages) read crm_store.languages."""
    spelled = re.compile(r"""["']zh_Hant["']\s*[,:)\]]|\(\s*["']en["']\s*,""")
    offenders = []
    for package in ("crm_store", "emails", "webform"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "languages.py" or "migrations" in path.parts:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if spelled.search(line) and "demo" not in path.name:
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_amounts_from_the_store_use_each_currency_s_minor_unit(session) -> None:  # noqa: ANN001
    from crm_store.errors import ValidationError
    from crm_store.settings.currencies import format_amount

    assert format_amount(session, Decimal("1250000.4"), "TWD", "en") == "NT$1,250,000"
    assert format_amount(session, Decimal("1250000.4"), "twd", "zh_Hant") == "$1,250,000"
    assert format_amount(session, 99.5, "USD", "en") == "$99.50"
    assert format_amount(session, Decimal("1234.5"), "JPY", "zh_Hant") == "¥1,235"
    with pytest.raises(ValidationError, match="currency"):
        format_amount(session, 1, "XYZ", "en")
