"""Charts of an impact report, drawn in PolicyEngine's style with matplotlib (Agg, offline).

Each chart reads only the stored report: no results are re-read to draw it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from services.aggregation.domain.distribution import INTRA_DECILE_BUCKETS

# Figures are drawn without pyplot, on Agg: no display, no GUI state shared by threads.
matplotlib.use("Agg")

ChartName = Literal["decile", "winners", "poverty", "budget"]
ImageFormat = Literal["png", "svg"]
CHARTS: tuple[ChartName, ...] = ("decile", "winners", "poverty", "budget")
MEDIA_TYPES: dict[ImageFormat, str] = {"png": "image/png", "svg": "image/svg+xml"}

# PolicyEngine's palette: blue for gains, grays for losses.
BLUE = "#2C6496"
LIGHT_BLUE = "#D8E6F3"
GRAY = "#616161"
LIGHT_GRAY = "#BDBDBD"
NO_CHANGE_GRAY = "#F2F2F2"
TEXT = "#333333"
BUCKET_COLOURS = {
    "Lose more than 5%": GRAY,
    "Lose less than 5%": LIGHT_GRAY,
    "No change": NO_CHANGE_GRAY,
    "Gain less than 5%": LIGHT_BLUE,
    "Gain more than 5%": BLUE,
}
POVERTY_GROUPS = (
    ("child", "Children"),
    ("adult", "Working-age adults"),
    ("senior", "Seniors"),
    ("all", "Everyone"),
)


class ChartError(ValueError):
    """The report lacks what the chart shows."""


def render_chart(report: dict[str, Any], chart: ChartName, fmt: ImageFormat, year: int) -> bytes:
    """The chart of `report` (the report of `year`) as PNG or SVG bytes."""
    figure = Figure(figsize=(8, 5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    _style(axes)
    DRAWERS[chart](axes, report, year)
    buffer = io.BytesIO()
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
    with matplotlib.rc_context({"svg.hashsalt": "fiscus", "svg.fonttype": "none"}):
        figure.savefig(buffer, format=fmt, metadata=metadata, facecolor="white")
    return buffer.getvalue()


def _style(axes: Axes) -> None:
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(LIGHT_GRAY)
    axes.tick_params(colors=TEXT, length=0, labelsize=10)
    axes.grid(axis="y", color="#E5E5E5", linewidth=0.8)
    axes.set_axisbelow(True)


def _title(axes: Axes, title: str, subtitle: str) -> None:
    axes.set_title(f"{title}\n", loc="left", fontsize=14, color=TEXT, fontweight="bold")
    axes.text(0, 1.02, subtitle, transform=axes.transAxes, fontsize=10, color=GRAY)


def _colour(value: float) -> str:
    return BLUE if value >= 0 else GRAY


def _keep_scale(axes: Axes, heights: list[float], least: float) -> None:
    """An axis of at least ±`least`, so that bars of (nearly) nothing read as nothing."""
    if max((abs(h) for h in heights), default=0.0) < least:
        axes.set_ylim(-least, least)


def _label_bars(axes: Axes, positions: list[float], heights: list[float], text: list[str]) -> None:
    for x, height, label in zip(positions, heights, text, strict=True):
        axes.annotate(
            label,
            (x, height),
            xytext=(0, 3 if height >= 0 else -3),
            textcoords="offset points",
            ha="center",
            va="bottom" if height >= 0 else "top",
            fontsize=9,
            color=TEXT,
        )


def _decile(axes: Axes, report: dict[str, Any], year: int) -> None:
    relative = report.get("decile", {}).get("relative", {})
    deciles = sorted((int(d), v) for d, v in relative.items() if v is not None and int(d) >= 1)
    if not deciles:
        raise ChartError("the report has no decile impact")
    positions = [float(d) for d, _ in deciles]
    heights = [v * 100 for _, v in deciles]
    axes.bar(positions, heights, color=[_colour(h) for h in heights], width=0.7)
    axes.axhline(0, color=GRAY, linewidth=0.8)
    _keep_scale(axes, heights, 0.1)
    axes.set_xticks(positions, [str(d) for d, _ in deciles])
    axes.set_xlabel("Income decile", color=TEXT)
    axes.set_ylabel("Relative change in net income", color=TEXT)
    axes.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    _label_bars(axes, positions, heights, [f"{h:+.1f}%" for h in heights])
    _title(
        axes,
        "Change in household net income by decile",
        f"{year}, households ranked by baseline net income per person",
    )


def _winners(axes: Axes, report: dict[str, Any], year: int) -> None:
    intra = report.get("intra_decile")
    if not intra:
        raise ChartError("the report has no intra-decile impact")
    rows = ["All", *(str(d) for d in range(1, 11))]
    left = [0.0] * len(rows)
    for label, _, _ in INTRA_DECILE_BUCKETS:
        shares = [intra["all"][label], *intra["deciles"][label]]
        widths = [s * 100 for s in shares]
        axes.barh(rows, widths, left=left, color=BUCKET_COLOURS[label], label=label, height=0.7)
        for row, (start, width) in enumerate(zip(left, widths, strict=True)):
            if width >= 7:
                colour = "white" if BUCKET_COLOURS[label] in (BLUE, GRAY) else TEXT
                axes.text(
                    start + width / 2,
                    row,
                    f"{width:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color=colour,
                )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.invert_yaxis()
    axes.grid(axis="y", visible=False)
    axes.grid(axis="x", color="#E5E5E5", linewidth=0.8)
    axes.set_xlim(0, 100)
    axes.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    axes.set_xlabel("Share of people", color=TEXT)
    axes.set_ylabel("Income decile", color=TEXT)
    axes.legend(ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False, fontsize=8)
    _title(
        axes,
        "Winners and losers by income decile",
        f"{year}, share of people by change in household net income",
    )


def _poverty(axes: Axes, report: dict[str, Any], year: int) -> None:
    rates = report.get("poverty", {}).get("poverty", {})
    groups = [(label, rates.get(key, {})) for key, label in POVERTY_GROUPS]
    changes = [
        (
            f"{label}\n{r['baseline']:.1%} → {r['reform']:.1%}",
            (r["reform"] / r["baseline"] - 1) * 100,
        )
        for label, r in groups
        if r.get("baseline") and r.get("reform") is not None
    ]
    if not changes:
        raise ChartError("the report has no poverty rates")
    positions = [float(i) for i in range(len(changes))]
    heights = [change for _, change in changes]
    # Less poverty is the gain: blue.
    axes.bar(positions, heights, color=[_colour(-h) for h in heights], width=0.6)
    _keep_scale(axes, heights, 1.0)
    axes.axhline(0, color=GRAY, linewidth=0.8)
    axes.set_xticks(positions, [label for label, _ in changes])
    axes.set_ylabel("Relative change in SPM poverty rate", color=TEXT)
    axes.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    _label_bars(axes, positions, heights, [f"{h:+.1f}%" for h in heights])
    _title(
        axes,
        "Change in poverty rate by age",
        f"{year}, Supplemental Poverty Measure; baseline → reform rate under each group",
    )


def _money_scale(values: list[float]) -> tuple[float, str]:
    """The unit the largest of `values` reads best in."""
    largest = max((abs(v) for v in values), default=0.0)
    for scale, suffix in ((1e12, "tn"), (1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if largest >= scale:
            return scale, suffix
    return 1.0, ""


def _money(value: float, suffix: str, digits: int) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{digits}f}{suffix}"


def _budget(axes: Axes, report: dict[str, Any], year: int) -> None:
    budget = report.get("budget", {})
    needed = (
        "tax_revenue_impact",
        "state_tax_revenue_impact",
        "benefit_spending_impact",
        "budgetary_impact",
    )
    if any(budget.get(key) is None for key in needed):
        raise ChartError("the report has no budgetary impact")
    bars = [
        ("Federal taxes", budget["tax_revenue_impact"] - budget["state_tax_revenue_impact"]),
        ("State income taxes", budget["state_tax_revenue_impact"]),
        ("Benefit spending", -budget["benefit_spending_impact"]),
        ("Net budgetary impact", budget["budgetary_impact"]),
    ]
    positions = [float(i) for i in range(len(bars))]
    scale, suffix = _money_scale([value for _, value in bars])
    heights = [value / scale for _, value in bars]
    digits = 0 if max(abs(h) for h in heights) >= 10 else 1
    colours = [_colour(h) for h in heights]
    axes.bar(
        positions,
        heights,
        color=colours,
        width=0.6,
        edgecolor=[*colours[:-1], TEXT],
        linewidth=[0, 0, 0, 1.2],
    )
    axes.axhline(0, color=GRAY, linewidth=0.8)
    axes.set_xticks(positions, [label for label, _ in bars])
    axes.set_ylabel("Change in government balance", color=TEXT)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _money(value, suffix, digits)))
    _label_bars(axes, positions, heights, [_money(h, suffix, digits) for h in heights])
    _title(
        axes,
        "Budgetary impact",
        f"{year}, reform minus baseline; benefit spending shown as its cost",
    )


DRAWERS: dict[ChartName, Callable[[Axes, dict[str, Any], int], None]] = {
    "decile": _decile,
    "winners": _winners,
    "poverty": _poverty,
    "budget": _budget,
}
