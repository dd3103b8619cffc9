"""Drawing a chart with matplotlib: one Figure and its own Agg canvas per drawing, so threads may draw at once.

The style is set once per process (Noto Sans CJK for every text, as data labels may be Chinese in any
language; SVG text as glyph outlines; thin grey grid lines, one blue as the app's). Money ticks are compact in
the reader's language (NT$1.2M / $120萬), shares percentages, counts grouped.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
import unicodedata
from array import array
from collections import OrderedDict
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crm_store.languages import N_, format_number, get, translate, translate_value

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from analytics.charts import Chart

FONT_FAMILY = "Noto Sans CJK TC"
PRIMARY = "#1f5f99"  # the app's blue
TINT = "#b9cfe4"  # the primary, light: the whole of a nested pair (amount), the weighted part drawn over it
WON = "#4f9a6e"  # a calm green for what was won
INK = "#2b2f33"
MUTED = "#6b7580"
GRID = "#e4e7eb"
WIDTH_IN = 6.9  # inches; SVG in points (496.8 × …), PNG at width / WIDTH_IN dots per inch
LABEL_MAX = 26  # characters of a category label before it is cut with "…"

_style_lock = threading.Lock()
_styled = False


def cjk_font_path() -> str:
    """The file of the CJK font charts draw with; fail saying which Debian package provides it."""
    from matplotlib import font_manager

    def find() -> str:
        properties = font_manager.FontProperties(family=FONT_FAMILY)
        return str(font_manager.findfont(properties, fallback_to_default=False))

    try:
        return find()
    except ValueError:
        pass
    # matplotlib lists the system's fonts once, in its cache: a font installed after that is added here
    for path in sorted(Path("/usr/share/fonts").glob("**/NotoSansCJK*.tt[cf]")):
        font_manager.fontManager.addfont(path)
    try:
        return find()
    except ValueError:
        raise RuntimeError(f"charts need the font {FONT_FAMILY!r}: install Debian's fonts-noto-cjk") from None


def _style() -> None:
    """Set matplotlib's defaults for every chart, once per process (figures read them when made)."""
    global _styled
    with _style_lock:
        if _styled:
            return
        import matplotlib

        cjk_font_path()
        matplotlib.rcParams.update({
            "font.family": [FONT_FAMILY], "font.size": 8.5, "text.color": INK, "axes.labelcolor": MUTED,
            "axes.edgecolor": GRID, "axes.linewidth": 0.8, "xtick.color": MUTED, "ytick.color": INK,
            "xtick.labelcolor": MUTED, "ytick.labelcolor": INK, "xtick.major.size": 0, "ytick.major.size": 0,
            "axes.unicode_minus": False, "svg.fonttype": "path", "svg.hashsalt": "leadline",
            "legend.frameon": False, "legend.fontsize": 8.5, "figure.dpi": 72, "savefig.dpi": 72,
        })
        _styled = True


class _Drawings:
    """The latest drawings by what they show (a digest of the chart, language, currency and format): a page or an
    email run again on the same warehouse snapshot draws nothing again. Bounded; safe across threads."""

    def __init__(self, size: int = 64) -> None:
        self.size, self.kept, self.lock = size, OrderedDict[bytes, Any](), threading.Lock()

    def get(self, draw: Callable[[], Any], chart: Chart, *how: Any) -> Any:
        digest = _digest(chart, how)
        with self.lock:
            if digest in self.kept:
                self.kept.move_to_end(digest)
                return self.kept[digest]
        drawn = draw()
        with self.lock:
            self.kept[digest] = drawn
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return drawn

    def clear(self) -> None:
        """Forget every drawing kept."""
        with self.lock:
            self.kept.clear()


def _digest(chart: Chart, how: tuple[Any, ...]) -> bytes:
    """A digest of everything a drawing shows; quick on a Pareto curve of 88,000 customers (repr would take 60 ms)."""
    digest = hashlib.blake2b(repr((chart.key, chart.kind, chart.title, chart.unit, chart.nested, chart.marks, how,
                                   [s.name for s in chart.series])).encode(), digest_size=24)
    digest.update("\x1f".join(chart.labels).encode())
    for series in chart.series:
        digest.update(array("d", [math.nan if v is None else v for v in series.values]).tobytes())
    return digest.digest()


drawings = _Drawings()


def draw_svg(chart: Chart, *, language: str, currency: str) -> str:
    """The chart as a standalone <svg> element: a viewBox and no width or height, ids prefixed with its key."""
    return str(drawings.get(lambda: _svg(chart, language, currency), chart, language, currency, "svg"))


def draw_png(chart: Chart, *, language: str, currency: str, width: int) -> bytes:
    """The chart as PNG bytes exactly `width` pixels wide."""
    return bytes(drawings.get(lambda: _png(chart, language, currency, width), chart, language, currency, width))


def _svg(chart: Chart, language: str, currency: str) -> str:
    figure = _figure(chart, language, currency)
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = out.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    label = escape(translate(language, chart.title), quote=True)
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', rf'<svg\1 role="img" aria-label="{label}"', svg,
                 count=1)
    svg = re.sub(r'id="([^"]+)"', rf'id="{chart.key}-\1"', svg)  # two charts on a page never share an id
    svg = re.sub(r"(href=\"#|url\(#)", rf"\g<1>{chart.key}-", svg)
    return _without_styles(svg)


_STYLE_ATTRIBUTE = re.compile(r' style="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"\s*<defs>\s*<style[^>]*>.*?</style>\s*</defs>", re.S)


def _without_styles(svg: str) -> str:
    """The SVG with its CSS as presentation attributes (`fill="#fff"`, not `style="fill: #fff"`).

    The staff pages' Content-Security-Policy (`style-src 'self'`) ignores inline style attributes and <style>
    elements in an inline <svg>: every shape would be drawn black. Presentation attributes are not CSS and
    draw the same. matplotlib's <style> only sets the line joins and caps, written on the root instead.
    """
    def attributes(found: re.Match[str]) -> str:
        pairs = (part.split(":", 1) for part in found.group(1).split(";") if ":" in part)
        return "".join(f' {name.strip()}="{value.strip()}"' for name, value in pairs)

    svg = _STYLE_ELEMENT.sub("", svg, count=1)
    svg = svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)
    return _STYLE_ATTRIBUTE.sub(attributes, svg)


def _png(chart: Chart, language: str, currency: str, width: int) -> bytes:
    figure = _figure(chart, language, currency)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=(width + 0.25) / WIDTH_IN, metadata={"Software": None})
    return out.getvalue()


def _figure(chart: Chart, language: str, currency: str) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _style()
    rows = len(chart.labels)
    height = max(1.5, 0.8 + 0.3 * rows) if chart.kind in ("hbar", "funnel") else 3.1
    figure = Figure(figsize=(WIDTH_IN, height), facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    text = _Text(language, currency, chart.unit)
    _DRAW[chart.kind](axes, chart, text)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    if chart.axis:
        (axes.set_ylabel if chart.kind == "hbar" else axes.set_xlabel)(text.msg(chart.axis), labelpad=6)
    left, bottom, top, right = _margins(chart, text)
    figure.subplots_adjust(left=left / WIDTH_IN, right=1 - right / WIDTH_IN, bottom=bottom / height,
                           top=1 - top / height)
    if len(chart.series) > 1:
        figure.legend(loc="upper left", bbox_to_anchor=(left / WIDTH_IN, 1 - 0.04 / height), ncols=len(chart.series),
                      handlelength=1, handleheight=1, borderaxespad=0, columnspacing=1.4)
    return figure


def _text_width(words: str, points: float = 8.5) -> float:
    """About how wide a text is drawn, in inches (a CJK character a full em, a Latin one about half of one):
    worked out rather than measured, as measuring every label would double the time a chart takes."""
    ems = sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.54 for c in words)
    return ems * points / 72


def _turned(labels: list[str]) -> bool:
    """Whether a bar chart's category labels are drawn at 45° (side by side they would run into each other)."""
    return sum(_text_width(label) + 0.12 for label in labels) > WIDTH_IN - 1.0


def _margins(chart: Chart, text: _Text) -> tuple[float, float, float, float]:
    """The space around the plot, in inches: left (category or value labels), bottom, top (the legend), right."""
    top = 0.42 if len(chart.series) > 1 else 0.14
    labels = [text.label(label) for label in chart.labels]
    if chart.kind in ("hbar", "funnel"):
        left = max(map(_text_width, labels)) + 0.16
        return left, (0.12 if chart.kind == "funnel" else 0.34), top, (0.5 if chart.kind == "funnel" else 0.2)
    biggest = max((v or 0 for s in chart.series for v in s.values), default=0)
    left = max(_text_width(text.value(biggest * 1.05)), _text_width("100 %")) + 0.18
    if chart.kind == "bar" and _turned(labels):
        return left, max(map(_text_width, labels)) * 0.72 + (0.4 if chart.axis else 0.22), top, 0.15
    return left, (0.52 if chart.axis else 0.34), top, 0.15


class _Text:
    """The words and numbers of a chart in one language."""

    def __init__(self, language: str, currency: str, unit: str) -> None:
        self.language, self.currency, self.unit = language, currency, unit

    def msg(self, message: str) -> str:
        return translate(self.language, message)

    def label(self, value: str) -> str:
        text = translate_value(self.language, value)
        return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"

    def value(self, number: float) -> str:
        """A number on an axis or a bar: compact money, a percentage, a grouped count."""
        from babel.numbers import format_compact_decimal, get_currency_symbol

        locale = get(self.language).locale
        if self.unit == "money":
            symbol = get_currency_symbol(self.currency, locale=locale)
            return symbol + str(format_compact_decimal(number, locale=locale, fraction_digits=1))
        if self.unit == "share":
            return f"{format_number(number * 100, self.language)} %"
        decimals = 1 if self.unit == "days" and number != int(number) else 0
        return format_number(number, self.language, decimals)


def _numbers(values: tuple[float | None, ...]) -> list[float]:
    return [0.0 if v is None else v for v in values]


def _value_axis(axes: Axes, text: _Text, axis: Literal["x", "y"]) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = axes.xaxis if axis == "x" else axes.yaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: text.value(v)))
    counts = text.unit == "count"  # whole ticks only, even up to 1 (0, 1 rather than 0, 0.25, …)
    target.set_major_locator(MaxNLocator(nbins=5, integer=counts, min_n_ticks=1 if counts else 3))
    axes.grid(axis=axis, color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)


def _colours(chart: Chart) -> list[str]:
    if chart.nested:
        return [TINT, PRIMARY, WON][: len(chart.series)]
    return [PRIMARY, WON, TINT][: len(chart.series)]


def _slots(chart: Chart) -> list[list[int]]:
    """The series drawn side by side, each slot a list of series drawn over each other (nested pairs share one)."""
    indices = list(range(len(chart.series)))
    return [indices[:2], *[[i] for i in indices[2:]]] if chart.nested else [[i] for i in indices]


def _bars(axes: Axes, chart: Chart, text: _Text, horizontal: bool) -> None:
    import numpy as np

    positions = np.arange(len(chart.labels))
    slots = _slots(chart)
    band = 0.72 / len(slots)
    colours = _colours(chart)
    label_bars = horizontal or len(chart.labels) * len(slots) <= 14
    for s, members in enumerate(slots):
        offset = (s - (len(slots) - 1) / 2) * band
        for depth, i in enumerate(members):
            thick = band * (0.5 if depth else 1.0)  # the nested part drawn thinner, inside its whole
            values = _numbers(chart.series[i].values)
            draw = axes.barh if horizontal else axes.bar
            bars = draw(positions + offset, values, thick, color=colours[i], label=text.msg(chart.series[i].name))
            if label_bars and depth == 0:  # the whole's value; the nested part shows against it
                axes.bar_label(bars, labels=[text.value(v) if v else "" for v in values], padding=3, fontsize=7.5,
                               color=MUTED)
    names = [text.label(label) for label in chart.labels]
    if horizontal:
        axes.set_yticks(positions, names)
        axes.invert_yaxis()  # the first row on top
        _value_axis(axes, text, "x")
        axes.margins(x=0.12)
    else:
        axes.set_xticks(positions, names)
        axes.margins(y=0.08)
        if _turned(names):
            axes.tick_params(axis="x", labelrotation=45)
            for tick in axes.get_xticklabels():
                tick.set_horizontalalignment("right")
                tick.set_rotation_mode("anchor")
        _value_axis(axes, text, "y")


def _hbar(axes: Axes, chart: Chart, text: _Text) -> None:
    _bars(axes, chart, text, horizontal=True)


def _bar(axes: Axes, chart: Chart, text: _Text) -> None:
    _bars(axes, chart, text, horizontal=False)


def _line(axes: Axes, chart: Chart, text: _Text) -> None:
    for series, colour in zip(chart.series, [PRIMARY, WON, MUTED], strict=False):
        axes.plot(range(len(chart.labels)), [float("nan") if v is None else v for v in series.values], color=colour,
                  linewidth=1.6, marker="o", markersize=3, label=text.msg(series.name))
    step = max(1, len(chart.labels) // 8)
    axes.set_xticks(range(0, len(chart.labels), step), [text.label(lb) for lb in chart.labels[::step]])
    _value_axis(axes, text, "y")


def _funnel(axes: Axes, chart: Chart, text: _Text) -> None:
    """Centred bars narrowing stage by stage; each with its count and its share of the stage before."""
    values = _numbers(chart.series[0].values)
    widest = max(values) or 1.0
    positions = range(len(values))
    axes.barh(positions, values, 0.78, left=[(widest - v) / 2 for v in values], color=PRIMARY)
    for y, v in enumerate(values):
        inside = v >= widest * 0.18
        axes.text(widest / 2 if inside else (widest + v) / 2 + widest * 0.01, y, text.value(v), va="center",
                  ha="center" if inside else "left", color="white" if inside else INK, fontsize=8)
        if y and values[y - 1]:
            share = f"{format_number(v / values[y - 1] * 100, text.language, 1)} %"
            axes.text(widest * 1.02, y, share, va="center", ha="left", color=MUTED, fontsize=7.5)
    # the first row has no stage before it: its place names the column of shares beneath
    axes.text(widest * 1.02, 0, text.msg(N_("Conversion")), va="center", ha="left", color=MUTED, fontsize=7.5)
    axes.set_yticks(list(positions), [text.label(label) for label in chart.labels])
    axes.invert_yaxis()
    axes.set_xlim(0, widest * 1.12)
    axes.xaxis.set_visible(False)
    axes.spines["bottom"].set_visible(False)


def _pareto(axes: Axes, chart: Chart, text: _Text) -> None:
    """The cumulative share against the customers ranked, with the A/B/C classes' bounds."""
    values = _numbers(chart.series[0].values)
    n = len(values)
    keep = sorted({0, n - 1, *(round(i * (n - 1) / 599) for i in range(600)), *(m for _c, m in chart.marks)}) \
        if n > 600 else list(range(n))  # no more points than pixels; the class bounds kept exactly
    xs, ys = [i + 1 for i in keep], [values[i] for i in keep]
    axes.plot(xs, ys, color=PRIMARY, linewidth=1.6)
    axes.fill_between(xs, ys, color=PRIMARY, alpha=0.08, linewidth=0)
    bounds = [0, *(m for _c, m in chart.marks), n]
    for k, cls in enumerate(("A", *(c for c, _m in chart.marks))):
        if k:
            axes.axvline(bounds[k] + 0.5, color=MUTED, linewidth=0.8, linestyle=(0, (3, 3)))
        customers = format_number(bounds[k + 1] - bounds[k], text.language)
        axes.text((bounds[k] + bounds[k + 1]) / 2 + 0.5, 1.04, f"{cls} ({customers})", ha="center", va="bottom",
                  color=INK, fontsize=9, fontweight="bold")
    for share in (0.8, 0.95):  # the A and B classes' bounds
        axes.axhline(share, color=MUTED, linewidth=0.7, linestyle=(0, (1, 2)))
    axes.set_xlim(0.5, n + 0.5)
    axes.set_ylim(0, 1.12)
    _value_axis(axes, text, "y")
    axes.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_number(v, text.language)))


_DRAW: dict[str, Any] = {"bar": _bar, "hbar": _hbar, "line": _line, "funnel": _funnel, "pareto": _pareto}
