"""The languages Leadline speaks: their codes, the gettext catalogues, and locale-aware formatting.

English is the source language: every message is written in English in the code and templates, and
`crm_store/translations/<code>/LC_MESSAGES/messages.po` holds its translations (one catalogue shared by
the store, the emails and the web app). The catalogues are read from the `.po` files, so there is no
build step; fuzzy entries count as untranslated. Commands to extract, update and check them are in
`docs/translations.md`.

Amounts are formatted with the currency's own minor unit from the store (`Currency.minor_unit`: TWD
shows no decimals, whatever CLDR says); dates and times with the locale's conventions.
"""

from __future__ import annotations

import datetime as dt
import gettext
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Language:
    """One language of the product."""

    code: str  # what the store keeps (users.language, web_forms.language, outbox.language)
    name: str  # in its own words, for pickers
    tag: str  # BCP 47, for Content-Language and the lang attribute of emails
    page_tag: str  # the lang attribute of pages (a region picks the right CJK glyphs)
    locale: str  # Babel's locale for numbers and dates
    address_largest_first: bool = False  # addresses written postal code, city, street (as in Taiwan)


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "en", "en", "en"),
    "zh_Hant": Language("zh_Hant", "繁體中文", "zh-Hant", "zh-Hant-TW", "zh_Hant_TW", address_largest_first=True),
}
CODES: tuple[str, ...] = tuple(LANGUAGES)
DEFAULT = "en"
SOURCE = "en"  # the language the messages are written in; it has no catalogue
CATALOGUES = Path(__file__).parent / "translations"
DOMAIN = "messages"
Width = Literal["full", "long", "medium", "short"]  # CLDR's lengths of dates and times
# Other spellings people type for a language (a setting, a YAML file, a command-line option).
_ALIASES = {"zh_hant": "zh_Hant", "zh-hant": "zh_Hant", "zh-tw": "zh_Hant", "zh_tw": "zh_Hant", "zh-hant-tw": "zh_Hant"}


def parse(raw: Any) -> str | None:
    """Return the language code a typed value means (`zh-TW` -> `zh_Hant`), or None if it is none of ours."""
    text = str(raw or "").strip()
    if text in LANGUAGES:
        return text
    return _ALIASES.get(text.lower(), text.lower() if text.lower() in LANGUAGES else None)


def get(code: str | None) -> Language:
    """Return a language by code, the default for an unknown one."""
    return LANGUAGES.get(code or DEFAULT, LANGUAGES[DEFAULT])


def catalogue_path(code: str) -> Path:
    """Where a language's `.po` catalogue lives."""
    return CATALOGUES / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(code: str) -> gettext.NullTranslations:
    """Return the translations of a language, compiled in memory from its `.po` file (once per process)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    language = get(code)
    path = catalogue_path(language.code)
    if language.code == SOURCE or not path.is_file():
        return Translations()  # messages stay as written
    with path.open("rb") as source:
        catalog = read_po(source, locale=language.code, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def translate(code: str, message: str, **values: Any) -> str:
    """Translate a message into a language; `%(name)s` placeholders are filled from `values`."""
    text = _translated(translations(code), message)
    return text % values if values else text


@lru_cache(maxsize=8192)
def _translated(catalogue: gettext.NullTranslations, message: str) -> str:
    """A message's translation in a catalogue, looked up once per catalogue (keyed by the catalogue itself, so
    a replaced catalogue is never answered from another's lookups)."""
    return catalogue.gettext(message)


def translate_plural(code: str, singular: str, plural: str, n: int, **values: Any) -> str:
    """Translate a message whose wording depends on a count; `%(num)s` is the count."""
    return translations(code).ngettext(singular, plural, n) % {"num": n, **values}


def translate_value(code: str, value: str | None) -> str:
    """A value the company's data holds (a picklist value, a stage or process name) in a language.

    The values the product seeds are in the catalogue (`crm_store.settings.picklists.DEFAULTS`, the
    seeded sales processes); a value the company added or renamed is shown as stored. A value whose
    English is also another message's has its own translation in the "picklist value" context
    (`VALUES_IN_CONTEXT`): a quote Created (已建立) is not the time a record was created (建立時間).
    """
    if not value:
        return value or ""
    catalogue = translations(code)
    if value in VALUES_IN_CONTEXT:
        return catalogue.pgettext(VALUE_CONTEXT, value)
    return catalogue.gettext(value)


def N_(message: str) -> str:  # noqa: N802 - the conventional name the extractor looks for
    """Mark a message for translation where it is defined; translate it where it is shown."""
    return message


def pgettext(context: str, message: str) -> str:
    """Mark a message for translation in a context (the extractor reads the call); translate it where it is shown."""
    return message


VALUE_CONTEXT = "picklist value"
# Seeded picklist values whose English is also a label, a button or a heading elsewhere (the context is written
# out in each call: the extractor reads literals only).
VALUES_IN_CONTEXT = frozenset({
    pgettext("picklist value", "Created"), pgettext("picklist value", "Accepted"),
    pgettext("picklist value", "Cancel"), pgettext("picklist value", "Days"), pgettext("picklist value", "Pages"),
})


# -- formatting --------------------------------------------------------------------------------------------

def format_money(amount: Decimal | int | float, currency: str, minor_unit: int, code: str) -> str:
    """Format an amount with its currency's symbol and its own number of decimals (TWD 1,250,000 -> NT$1,250,000)."""
    from babel.numbers import format_currency

    pattern = "¤#,##0" + ("." + "0" * minor_unit if minor_unit > 0 else "")
    exact = Decimal(str(amount)).quantize(Decimal(1).scaleb(-minor_unit), rounding=ROUND_HALF_UP)  # 0.5 -> 1
    return format_currency(exact, currency, format=pattern, locale=get(code).locale, currency_digits=False)


def format_number(value: Decimal | int | float, code: str, decimals: int = 0) -> str:
    """Format a number with the locale's grouping: 1234567 -> 1,234,567."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=get(code).locale)


def format_date(day: dt.date, code: str, width: Width = "medium") -> str:
    """Format a date the locale's way: Mar 14, 2025 / 2025年3月14日."""
    return str(_date_pattern(code, width).apply(day, get(code).locale))


@cache
def _date_pattern(code: str, width: Width) -> Any:
    """The locale's date pattern of a width, parsed once (a list shows a date on every row)."""
    from babel.dates import get_date_format

    return get_date_format(width, locale=get(code).locale)


def format_datetime(moment: dt.datetime, code: str, zone: ZoneInfo, width: Width = "medium") -> str:
    """Format a stored UTC moment in a zone the locale's way, without seconds: Mar 14, 2025, 9:05 AM."""
    return str(_datetime_pattern(code, width).apply(moment.astimezone(zone), get(code).locale))


@cache
def _datetime_pattern(code: str, width: Width) -> Any:
    """The locale's date-and-time pattern of a width with the short time, parsed once (a list shows hundreds)."""
    from babel.dates import get_date_format, get_datetime_format, get_time_format, parse_pattern

    locale = get(code).locale
    return parse_pattern(
        str(get_datetime_format(width, locale=locale))
        .replace("{1}", get_date_format(width, locale=locale).pattern)
        .replace("{0}", get_time_format("short", locale=locale).pattern)
    )


def format_duration(minutes: int, code: str) -> str:
    """Format minutes as days, hours and minutes: 95 -> 1 h 35 min / 1 小時 35 分鐘."""
    days, rest = divmod(abs(int(minutes)), 24 * 60)
    hours, mins = divmod(rest, 60)
    units = (N_("%(n)s d"), N_("%(n)s h"), N_("%(n)s min"))
    parts = [translate(code, unit, n=n) for n, unit in zip((days, hours, mins), units, strict=True) if n]
    return " ".join(parts) if parts else translate(code, units[2], n=0)
