"""The reports' charts: their numbers are the report's rows, drawn as SVG and PNG in English and Chinese.

A small company (as of 2026-06-30, Asia/Taipei, TWD) built through the store's own functions: open deals in
three stages, deals won (one from a lead with two follow-ups) and lost for two reasons, leads from two
sources, and five customers whose invoices put them in the A, B and C classes. Each chart is checked against
the rows of the report it comes from; every chart is drawn in both languages and kept as a PNG under
tests/artifacts/charts/ to look at.
"""

from __future__ import annotations

import datetime as dt
import struct
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pytest
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from sqlalchemy.orm import Session

from analytics.chart_drawing import cjk_font_path, drawings
from analytics.charts import Chart, charts_for, render_png, render_svg
from analytics.reports import REPORTS, ReportParams, ReportResult, run_report
from crm_store import languages
from crm_store.pipeline import activities, conversion, stages
from crm_store.records import lifecycle
from tests.analytics_support import (
    ACTOR,
    add_account,
    add_deal,
    add_invoice,
    add_service,
    make_staff,
    taipei,
    warehouse,
)

AS_OF = dt.date(2026, 6, 30)
ARTIFACTS = Path(__file__).parent / "artifacts" / "charts"
CHARTED = ("customer-value", "follow-ups", "forecast", "funnel", "lead-sources", "lost-reasons", "pipeline")
SVG = "{http://www.w3.org/2000/svg}"


def build(session: Session) -> None:
    """The company of the module docstring, committed."""
    staff = make_staff(session)
    ann, bob = staff.ann, staff.bob
    add_deal(session, "Tea garden", ann, taipei(2026, 6, 1, 10), amount="120000", expected=dt.date(2026, 7, 15))
    add_deal(session, "Hotel", bob, taipei(2026, 5, 2, 10), amount="80000", expected=dt.date(2026, 8, 20))
    add_deal(session, "Export", ann, taipei(2026, 4, 1, 9), [("Qualification", taipei(2026, 5, 1, 9))],
             amount="250000", expected=dt.date(2026, 8, 31))
    add_deal(session, "Chain", bob, taipei(2026, 3, 1, 9),
             [("Qualification", taipei(2026, 4, 1, 9)), ("Proposal or Price Quote", taipei(2026, 5, 31, 14))],
             amount="1500000", expected=dt.date(2026, 9, 10))
    add_deal(session, "Gift boxes", bob, taipei(2026, 2, 1, 9),
             [("Qualification", taipei(2026, 2, 10, 9)), ("Closed Won", taipei(2026, 4, 15, 9))], amount="300000")
    for name, reason, amount in (("Lamps", "Price", "40000"), ("Desks", "Price", "60000"),
                                 ("Chairs", "Competitor", "90000")):
        lost = add_deal(session, name, ann, taipei(2026, 3, 1, 9), [("Closed Lost", taipei(2026, 5, 5, 9))],
                        amount=amount)
        lost.lost_reason = reason
    leads = [lifecycle.create_lead(session, {"last_name": name, "owner_id": ann.id, "lead_source": source,
                                             "status": "Not Contacted"}, ACTOR, at=taipei(2026, 5, day, 10))
             for day, (name, source) in enumerate((("Lin", "Web Site"), ("Wang", "Web Site"), ("Chen", "Web Site"),
                                                   ("Liu", "Trade Show")), 1)]
    for day in (6, 8):  # two follow-ups on the lead, carried over to its deal
        at = taipei(2026, 5, day, 10)
        activities.create_activity(session, {"type": "call", "subject": f"call {day}", "owner_id": ann.id,
                                             "start_at": at, "created_at": at, "completed_at": at,
                                             "status": activities.DONE_STATUS["call"], "lead_id": leads[0].id}, ACTOR)
    won = conversion.convert_lead(session, leads[0], ACTOR, at=taipei(2026, 5, 10, 10), opportunity={
        "name": "Lin deal", "amount": "200000", "currency": "TWD", "expected_close_date": dt.date(2026, 6, 30),
    }).opportunity
    assert won is not None
    stages.change_stage(session, won, "Closed Won", ACTOR, at=taipei(2026, 6, 20, 10))
    tea = add_service(session, "TEA", "Oolong 烏龍茶")
    for i, total in enumerate(("500000", "300000", "100000", "60000", "40000")):
        account = add_account(session, f"Customer {i + 1}", ann if i % 2 else bob)
        add_invoice(session, account, dt.date(2026, 1 + i, 10), [(tea, "1", total)])
        if i < 2:
            add_invoice(session, account, dt.date(2026, 6, 1), [(tea, "1", "1000")])
    session.commit()


@pytest.fixture
def con(session: Session, database_url: str, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The company's warehouse, refreshed and open read-only."""
    build(session)
    connection = warehouse(database_url, tmp_path)
    yield connection
    connection.close()


def result(con: duckdb.DuckDBPyConnection, report: str) -> ReportResult:
    return run_report(con, report, ReportParams(as_of=AS_OF))


def charts_of(con: duckdb.DuckDBPyConnection, report: str) -> tuple[list[dict[str, Any]], dict[str, Chart]]:
    """A report's rows, and its charts by key."""
    ran = result(con, report)
    return ran.as_dicts(), {chart.key: chart for chart in charts_for(report, ran)}


def column(rows: list[dict[str, Any]], name: str) -> tuple[float | None, ...]:
    return tuple(None if row[name] is None else float(row[name]) for row in rows)


def names(rows: list[dict[str, Any]], name: str) -> tuple[str, ...]:
    return tuple(str(row[name]) for row in rows)


# -- the numbers ------------------------------------------------------------------------------------------------


def test_each_chart_shows_its_reports_rows(con: duckdb.DuckDBPyConnection) -> None:
    rows, charts = charts_of(con, "pipeline")
    chart = charts["pipeline-amount"]
    assert chart.labels == names(rows, "stage")[: len(chart.labels)] and len(chart.labels) == len(rows)
    assert [s.values for s in chart.series] == [column(rows, "amount"), column(rows, "weighted_amount")]
    assert chart.series[0].values[:2] == (200000.0, 250000.0)  # Prospecting: Tea garden + Hotel; Qualification

    rows, charts = charts_of(con, "forecast")
    chart = charts["forecast-month"]
    assert chart.labels == names(rows, "month")
    assert [s.values for s in chart.series] == [column(rows, c) for c in ("amount", "weighted_amount", "won_amount")]
    assert dict(zip(chart.labels, chart.series[2].values, strict=True))["2026-06"] == 200000.0  # Lin deal

    rows, charts = charts_of(con, "funnel")
    assert charts["funnel-reached"].labels == names(rows, "stage")
    assert charts["funnel-reached"].series[0].values == column(rows, "reached")

    rows, charts = charts_of(con, "follow-ups")
    assert charts["follow-ups-won"].labels == names(rows, "follow_ups")
    assert charts["follow-ups-won"].series[0].values == column(rows, "won")
    assert charts["follow-ups-won"].series[0].values[:3] == (1.0, 0.0, 1.0)  # Gift boxes 0, Lin deal 2

    rows, charts = charts_of(con, "lead-sources")
    chart = charts["lead-sources-leads"]
    assert chart.labels == names(rows, "lead_source") == ("Web Site", "Trade Show")
    assert [s.values for s in chart.series] == [column(rows, "leads"), column(rows, "converted")] == [
        (3.0, 1.0), (1.0, 0.0)]

    rows, charts = charts_of(con, "lost-reasons")
    by_reason = [row for row in rows if row["stage"] is None]
    assert charts["lost-reasons-reason"].labels == names(by_reason, "lost_reason") == ("Price", "Competitor")
    assert charts["lost-reasons-reason"].series[0].values == column(by_reason, "lost") == (2.0, 1.0)


def test_customer_value_charts_show_the_segments_and_the_pareto_curve(con: duckdb.DuckDBPyConnection) -> None:
    rows, charts = charts_of(con, "customer-value")
    segments, pareto = charts["customer-value-segments"], charts["customer-value-pareto"]
    counted = Counter(row["rfm_segment"] for row in rows)
    assert dict(zip(segments.labels, segments.series[0].values, strict=True)) == {k: float(v) for k, v in
                                                                                   counted.items()}
    assert sum(segments.series[0].values) == len(rows) == 5  # type: ignore[arg-type]
    assert pareto.labels == names(rows, "account_no")
    assert pareto.series[0].values == column(rows, "cumulative_share")
    classes = [row["abc_class"] for row in rows]
    assert classes == ["A", "A", "B", "B", "C"]  # 501000 + 301000 of 1002000 before the third: 80 %, so B
    assert pareto.marks == (("B", 2), ("C", 4))  # where each class's customers start in the ranking


def test_reports_without_a_chart_or_without_rows_give_no_chart(
    session: Session, database_url: str, tmp_path: Path
) -> None:
    make_staff(session)
    session.commit()
    empty = warehouse(database_url, tmp_path)
    try:
        for report in REPORTS:
            ran = result(empty, report)
            assert charts_for(report, ran) == [], report  # no rows, or only rows of zeros (pipeline, follow-ups)
        assert len(result(empty, "pipeline").rows) > 0 and len(result(empty, "follow-ups").rows) == 13
    finally:
        empty.close()
    assert charts_for("win-rate", ReportResult(["owner", "won"], [("ann@leadline.test", 3)])) == []


# -- the drawings -----------------------------------------------------------------------------------------------


def png_size(png: bytes) -> tuple[int, int]:
    """A PNG's width and height, read from its IHDR chunk."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def check_svg(svg: str, key: str) -> ET.Element:
    """A standalone SVG that scales: a viewBox, no width or height, nothing fetched, ids of its own."""
    assert svg.startswith("<svg")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert len(root.get("viewBox", "").split()) == 4
    assert root.get("width") is None and root.get("height") is None
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.find(f"{SVG}metadata") is None
    for element in root.iter():
        for name, value in element.attrib.items():
            if name.endswith("href"):
                assert value.startswith(f"#{key}-"), (name, value)
            if name == "id":
                assert value.startswith(f"{key}-"), value
    assert not any(e.tag in (f"{SVG}image", f"{SVG}script", f"{SVG}text") for e in root.iter())  # text as glyphs
    # no CSS: the pages' Content-Security-Policy (style-src 'self') would drop it and draw every shape black
    assert not any(e.tag == f"{SVG}style" or "style" in e.attrib for e in root.iter())
    assert any(e.get("fill") not in (None, "none") for e in root.iter())
    return root


def test_every_chart_draws_in_both_languages(con: duckdb.DuckDBPyConnection, backend: str) -> None:
    charts = [chart for report in CHARTED for chart in charts_for(report, result(con, report))]
    assert [c.key for c in charts] == ["customer-value-segments", "customer-value-pareto", "follow-ups-won",
                                       "forecast-month", "funnel-reached", "lead-sources-leads",
                                       "lost-reasons-reason", "pipeline-amount"]
    if backend == "sqlite":
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for chart in charts:
        drawn = {}
        for language in languages.CODES:
            svg = render_svg(chart, language=language, currency="TWD")
            root = check_svg(svg, chart.key)
            assert root.get("aria-label") == languages.translate(language, chart.title)
            png = render_png(chart, language=language, currency="TWD")
            assert png_size(png)[0] == 1104
            assert png_size(render_png(chart, language=language, currency="TWD", width=552))[0] == 552
            drawn[language] = svg, png
            if backend == "sqlite":
                (ARTIFACTS / f"{chart.key}.{language}.png").write_bytes(png)
        assert drawn["en"][0] != drawn["zh_Hant"][0] and drawn["en"][1] != drawn["zh_Hant"][1], chart.key


def test_chinese_labels_are_drawn_as_noto_cjk_glyphs(con: duckdb.DuckDBPyConnection) -> None:
    """The zh_Hant pipeline chart holds the outlines of 開發中 (Prospecting) from Noto Sans CJK TC; en does not."""
    path = cjk_font_path()
    assert Path(path).name.startswith("NotoSansCJK")
    chart = charts_for("pipeline", result(con, "pipeline"))[0]
    stage = languages.translate_value("zh_Hant", "Prospecting")
    assert stage == "開發中"
    face = next(f.index for f in font_manager.fontManager.ttflist if f.fname == path and f.name == "Noto Sans CJK TC")
    font = FT2Font(path, face_index=face)
    assert font.postscript_name == "NotoSansCJKtc-Regular"
    glyphs = {f"{chart.key}-{font.postscript_name}-{font.get_char_index(ord(c)):x}" for c in stage}
    ids = {e.get("id") for e in ET.fromstring(render_svg(chart, language="zh_Hant", currency="TWD")).iter()}
    assert glyphs <= ids
    english = {e.get("id") for e in ET.fromstring(render_svg(chart, language="en", currency="TWD")).iter()}
    assert not glyphs & english


def test_charts_drawn_at_once_on_many_threads_are_the_ones_drawn_one_at_a_time(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """matplotlib's object API keeps no shared figure: eight threads drawing at once draw what one thread does."""
    jobs = [(chart, language) for report in CHARTED for chart in charts_for(report, result(con, report))
            for language in languages.CODES]

    def draw(job: tuple[Chart, str]) -> tuple[str, bytes]:
        chart, language = job
        return (render_svg(chart, language=language, currency="TWD"),
                render_png(chart, language=language, currency="TWD", width=640))

    drawings.clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(draw, jobs))
    drawings.clear()
    alone = [draw(job) for job in jobs]
    assert together == alone
    assert len({svg for svg, _png in alone}) == len(jobs)
