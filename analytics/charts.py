"""The reports' charts: which numbers each chart shows (straight from the report's rows), drawn as SVG or PNG.

`charts_for` is pure data; `render_svg` (pages, inline) and `render_png` (emails, inline images) draw a chart in
a language with matplotlib, offline, text as glyph outlines in Noto Sans CJK (Debian's fonts-noto-cjk), so
Chinese shows with no font in the browser or the mail client. The title is not drawn: the page or email shows
it above the image. Drawing goes through matplotlib's object API (a Figure and its own Agg canvas), never
pyplot's global figures, so concurrent requests can draw at once; matplotlib is imported when a chart is
drawn, not when the CLI starts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analytics.reports import ReportResult
from crm_store.languages import N_


@dataclass(frozen=True)
class Series:
    """One row of values of a chart, one per label."""

    name: str  # English msgid (N_), translated at render
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Chart:
    """What one chart shows; `labels` and `series` come straight from the report's rows."""

    key: str  # stable id, e.g. "pipeline-amount": an email's cid "<key>@leadline", a file name, the SVG's ids
    kind: str  # "bar" | "hbar" | "line" | "funnel" | "pareto"
    title: str  # English msgid (N_)
    labels: tuple[str, ...]  # categories from the rows (stage names, months, segments, sources ...)
    series: tuple[Series, ...]
    unit: str  # "money" | "count" | "share" | "days"
    nested: bool = False  # the second series is part of the first (weighted of amount): drawn inside its bar
    marks: tuple[tuple[str, int], ...] = ()  # pareto: (class, index of its first label), e.g. (("B", 12), ("C", 40))
    axis: str = ""  # English msgid (N_) under the categories, where the labels alone do not say what they are


Rows = list[dict[str, Any]]

# The RFM segments from the best customers to the lost ones (customer-value.sql writes them).
SEGMENTS = ("Champions", "Loyal", "Potential loyalist", "New", "At risk", "Can't lose", "Hibernating", "Lost")


def charts_for(report: str, result: ReportResult) -> list[Chart]:
    """The charts of a report's result; [] for a report without one, or a result with nothing to draw."""
    build = _BUILDERS.get(report)
    rows = result.as_dicts()
    if build is None or not rows:
        return []
    return [chart for chart in build(rows) if _has_data(chart)]


def _has_data(chart: Chart) -> bool:
    return any(v for s in chart.series for v in s.values)


def _values(rows: Rows, column: str) -> tuple[float | None, ...]:
    return tuple(None if row[column] is None else float(row[column]) for row in rows)


def _labels(rows: Rows, column: str) -> tuple[str, ...]:
    return tuple(str(row[column]) for row in rows)


def _pipeline(rows: Rows) -> list[Chart]:
    return [Chart("pipeline-amount", "hbar", N_("Open amount by stage"), _labels(rows, "stage"),
                  (Series(N_("Amount"), _values(rows, "amount")),
                   Series(N_("Weighted amount"), _values(rows, "weighted_amount"))), "money", nested=True)]


def _forecast(rows: Rows) -> list[Chart]:
    return [Chart("forecast-month", "bar", N_("Open and won amounts by month"), _labels(rows, "month"),
                  (Series(N_("Open amount"), _values(rows, "amount")),
                   Series(N_("Weighted amount"), _values(rows, "weighted_amount")),
                   Series(N_("Won amount"), _values(rows, "won_amount"))), "money", nested=True)]


def _funnel(rows: Rows) -> list[Chart]:
    return [Chart("funnel-reached", "funnel", N_("Deals reached by stage"), _labels(rows, "stage"),
                  (Series(N_("Deals reached"), _values(rows, "reached")),), "count")]


def _customer_value(rows: Rows) -> list[Chart]:
    counts = Counter(str(row["rfm_segment"]) for row in rows)
    order = [s for s in SEGMENTS if s in counts] + sorted(set(counts) - set(SEGMENTS))
    segments = Chart("customer-value-segments", "hbar", N_("Customers by RFM segment"), tuple(order),
                     (Series(N_("Customers"), tuple(float(counts[s]) for s in order)),), "count")
    classes = [row["abc_class"] for row in rows]
    marks = tuple((c, classes.index(c)) for c in ("B", "C") if c in classes)
    pareto = Chart("customer-value-pareto", "pareto", N_("Cumulative share of revenue by customer"),
                   _labels(rows, "account_no"), (Series(N_("Cumulative share"), _values(rows, "cumulative_share")),),
                   "share", marks=marks, axis=N_("Customers, ranked by revenue"))
    return [segments, pareto]


def _follow_ups(rows: Rows) -> list[Chart]:
    return [Chart("follow-ups-won", "bar", N_("Deals won by number of follow-ups"), _labels(rows, "follow_ups"),
                  (Series(N_("Deals won"), _values(rows, "won")),), "count",
                  axis=N_("Follow-ups before the deal was won"))]


def _lead_sources(rows: Rows) -> list[Chart]:
    return [Chart("lead-sources-leads", "hbar", N_("Leads by source"), _labels(rows, "lead_source"),
                  (Series(N_("Leads"), _values(rows, "leads")),
                   Series(N_("Leads converted"), _values(rows, "converted"))), "count", nested=True)]


def _lost_reasons(rows: Rows) -> list[Chart]:
    reasons = [row for row in rows if row["stage"] is None]  # the rows by reason; stage rows follow with 'ALL'
    return [Chart("lost-reasons-reason", "hbar", N_("Deals lost by reason"), _labels(reasons, "lost_reason"),
                  (Series(N_("Deals lost"), _values(reasons, "lost")),), "count")]


_BUILDERS: dict[str, Callable[[Rows], list[Chart]]] = {
    "pipeline": _pipeline, "forecast": _forecast, "funnel": _funnel, "customer-value": _customer_value,
    "follow-ups": _follow_ups, "lead-sources": _lead_sources, "lost-reasons": _lost_reasons,
}


def warm_up() -> None:
    """Load matplotlib and the CJK font now rather than in the first request that draws (seconds, once a process)."""
    from analytics.chart_drawing import draw_png

    draw_png(Chart("warm-up", "bar", "", ("0",), (Series("", (1.0,)),), "count"), language="zh_Hant",
             currency="TWD", width=64)


def render_svg(chart: Chart, *, language: str, currency: str) -> str:
    """The chart as one standalone <svg> element that scales to its container (a viewBox, no fixed size)."""
    from analytics.chart_drawing import draw_svg

    return draw_svg(chart, language=language, currency=currency)


def render_png(chart: Chart, *, language: str, currency: str, width: int = 1104) -> bytes:
    """The chart as a PNG `width` pixels wide (emails show it at half that, 552 px, sharp on 2x screens)."""
    from analytics.chart_drawing import draw_png

    return draw_png(chart, language=language, currency=currency, width=width)
