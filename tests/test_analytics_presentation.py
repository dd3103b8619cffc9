"""How the reports read: every report titled and described, every column labelled, cells formatted per language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from analytics.presentation import DESCRIPTIONS, TITLES, column_kind, column_label, format_cell
from analytics.reports import REPORTS, ReportParams, run_report
from crm_store import languages
from tests.analytics_support import make_staff, warehouse

KINDS = {"money", "share", "count", "days", "date", "text", "hours", "score"}


def test_every_report_and_every_column_is_named_in_both_languages(
    session: Session, database_url: str, tmp_path: Path
) -> None:
    assert set(TITLES) == set(DESCRIPTIONS) == set(REPORTS)
    for message in [*TITLES.values(), *DESCRIPTIONS.values()]:
        assert languages.translate("zh_Hant", message) != message, message
    make_staff(session)
    session.commit()
    con = warehouse(database_url, tmp_path)
    try:
        columns = {(report, c) for report in REPORTS for c in run_report(con, report, ReportParams()).columns}
    finally:
        con.close()
    assert len(columns) > 60
    for report, name in sorted(columns):
        label = column_label(name)
        assert languages.translate("zh_Hant", label) != label, (report, name, label)
        assert column_kind(report, name) in KINDS
    labels = {column_label(name) for _report, name in columns}
    assert len({languages.translate("zh_Hant", label) for label in labels}) == len(labels)  # no two read alike


@pytest.mark.parametrize(("column", "value", "english", "chinese"), [
    ("amount", D("1234567"), "NT$1,234,567", "$1,234,567"),  # TWD: no decimals; zh_Hant_TW writes it as $
    ("won_amount", D("0"), "NT$0", "$0"),
    ("share", 0.18, "18.0 %", "18.0 %"),
    ("win_rate", 2 / 3, "66.7 %", "66.7 %"),
    ("leads", 12345, "12,345", "12,345"),
    ("r_score", 5, "5", "5"),
    ("avg_age_days", 8.75, "8.8", "8.8"),
    ("recency_days", 20, "20", "20"),
    ("median_first_response_hours", 1.25, "1.3", "1.3"),
    ("first_purchase", dt.date(2026, 3, 4), "2026-03-04", "2026-03-04"),
    ("stage", "Prospecting", "Prospecting", "開發中"),
    ("lead_source", "Web Site", "Web Site", languages.translate("zh_Hant", "Web Site")),
    ("rfm_segment", "Champions", "Champions", "冠軍客戶"),
    ("lost_reason", "ALL", "ALL", "全部"),
    ("owner", "(no owner)", "(no owner)", "（無負責人）"),
    ("owner", "ann@leadline.test", "ann@leadline.test", "ann@leadline.test"),
    ("account_name", "Lost", "Lost", "Lost"),  # a customer's name is shown as it is, never translated
    ("month", "2026-07", "2026-07", "2026-07"),
    ("clv", None, "—", "—"),
])
def test_a_cell_reads_as_people_write_it(column: str, value: object, english: str, chinese: str) -> None:
    shown = [format_cell("any", column, value, language=code, currency="TWD") for code in ("en", "zh_Hant")]
    assert shown == [english, chinese]


def test_money_keeps_its_currencys_decimals() -> None:
    assert format_cell("pipeline", "amount", D("1234.5"), language="en", currency="USD") == "$1,234.50"
    assert format_cell("pipeline", "amount", D("1234.5"), language="zh_Hant", currency="USD") == "US$1,234.50"
    assert format_cell("pipeline", "amount", D("1234.5"), language="en", currency="TWD") == "NT$1,235"  # half up
    assert format_cell("pipeline", "amount", D("1234.5"), language="en", currency="TWD", minor_unit=2) == \
        "NT$1,234.50"
    assert column_kind("pipeline", "amount") == "money" and column_kind("funnel", "stage") == "text"
