"""The catalogues: every message in the code and templates has a Traditional Chinese translation, none fuzzy."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from crm_store import languages

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"translate": (2,), "translate_plural": (2, 3), "N_": None, "_": None, "gettext": None,
            "ngettext": (1, 2), "lazy_gettext": None, "pgettext": ((1, "c"), 2)}
TRANSLATED = [code for code in languages.CODES if code != languages.SOURCE]


def source_messages() -> dict[str | tuple[str, ...], str]:
    """Every message id the code and templates use (what `make messages` extracts), with where it is."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str | tuple[str, ...], str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(message, f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def extracted() -> dict[str | tuple[str, ...], str]:
    return source_messages()


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated_and_none_is_fuzzy(code: str, extracted: dict) -> None:
    with languages.catalogue_path(code).open("rb") as f:
        catalog = read_po(f, locale=code)
    problems = []
    for message_id, where in sorted(extracted.items(), key=lambda kv: kv[1]):
        key = message_id[0] if isinstance(message_id, tuple) else message_id
        entry = catalog.get(key)
        if entry is None:
            problems.append(f"missing: {key!r} ({where})")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {key!r} ({where})")
        elif not all(entry.string) if isinstance(entry.string, tuple) else not entry.string:
            problems.append(f"untranslated: {key!r} ({where})")
    assert not problems, f"{len(problems)} problem(s) in {code}; run `make messages` and translate:\n" + "\n".join(
        problems[:40]
    )


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_their_placeholders(code: str) -> None:
    with languages.catalogue_path(code).open("rb") as f:
        catalog = read_po(f, locale=code)
    errors = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
    assert not errors


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_catalogue_holds_no_stale_messages(code: str, extracted: dict) -> None:
    with languages.catalogue_path(code).open("rb") as f:
        catalog = read_po(f, locale=code)
    wanted = {m[0] if isinstance(m, tuple) else m for m in extracted}
    stale = sorted(m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and (
        (m.id if isinstance(m.id, str) else m.id[0]) not in wanted))
    assert not stale, f"no longer used; `make messages` drops them: {stale[:20]}"


def test_a_translated_message_is_used_and_english_is_the_source() -> None:
    assert languages.format_duration(95, "zh_Hant") == "1 小時 35 分鐘"
    assert languages.format_duration(95, "en") == "1 h 35 min"
    assert languages.translate("en", "%(n)s min", n=3) == "3 min"


def test_sales_modules_fields_and_values_are_named_in_chinese() -> None:
    from crm_store.records import blocks, registry
    from crm_store.settings.picklists import DEFAULTS

    names = {m: (registry.get(m).display_label("zh_Hant"), registry.get(m).display_label("zh_Hant", plural=True))
             for m in ("products", "price_books", "quotes", "sales_orders", "invoices")}
    assert names == {"products": ("產品", "產品"), "price_books": ("價目表", "價目表"),
                     "quotes": ("報價單", "報價單"), "sales_orders": ("訂單", "訂單"), "invoices": ("請款單", "請款單")}
    shown = [blocks.label("invoices", f, "zh_Hant") for f in ("grand_total", "balance", "terms", "bill_street")]
    assert shown == ["總計金額", "未收餘額", "條款與條件", languages.translate("zh_Hant", "Billing street")]
    assert blocks.label("products", "qty_in_stock", "zh_Hant") == "庫存數量"
    # A status whose English is also a label has its own translation: a quote Created is not a creation time.
    assert languages.translate_value("zh_Hant", "Created") == "已建立" != languages.translate("zh_Hant", "Created")
    assert languages.translate_value("zh_Hant", "Cancel") == "已取消"
    assert languages.translate_value("en", "Created") == "Created"
    for picklist in ("quote_stage", "sales_order_status", "invoice_status", "usage_unit", "product_category",
                     "payment_method"):
        assert all(languages.translate_value("zh_Hant", v) != v for v in DEFAULTS[picklist]), picklist
