"""The drill report's plots, drawn with matplotlib.

Every time plot shares one axis (seconds since the drill started, the whole
drill), shades each fault's interval and labels it with region and kind, and
gives each kind of operation the same colour. Figures are built on their own
(``matplotlib.figure.Figure``, never pyplot: no GUI, no global state) and
rendered to SVG text for the HTML report or to one PNG. matplotlib is
imported only when drawing: the CLI starts without it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stormproof.drill.ops import KINDS
from stormproof.drill.series import Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["kind_colour", "svg_plots", "write_plots_png"]

#: one colour per kind, in :data:`~stormproof.drill.ops.KINDS` order
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79",
)  # fmt: skip
#: the colour of a kind not in KINDS
OTHER = "#333333"
#: shading for fault intervals, one per fault kind in order of appearance
FAULT_SHADES = ("#f4a582", "#92c5de", "#c2a5cf", "#a6dba0", "#dfc27d")
#: figure width (inches) and the axes' place in it: the same in every figure,
#: so the time axes line up one under the other
WIDTH = 10.0
MARGINS = {"left": 0.07, "right": 0.82, "top": 0.88, "bottom": 0.16}


def kind_colour(kind: str) -> str:
    """The colour ``kind`` has in every plot."""
    return PALETTE[KINDS.index(kind)] if kind in KINDS else OTHER


def _nan(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _per_second(ax: Axes, values: Sequence[float | None], **style: Any) -> None:
    """Value ``t`` held over second ``[t, t + 1)``; a gap where it is None."""
    if values:
        ys = _nan(values)
        ax.plot(range(len(ys) + 1), [*ys, ys[-1]], drawstyle="steps-post", lw=1.2, **style)


def _active(series: Series) -> list[str]:
    """The kinds someone attempted: the others would only crowd the legend."""
    return [kind for kind, totals in series.totals.items() if totals.attempted]


def _time_axis(ax: Axes, series: Series, intervals: Sequence[dict[str, Any]]) -> None:
    ax.set_xlim(0, max(series.duration_s, 1))
    ax.set_xlabel("seconds since the drill started")
    ax.grid(alpha=0.3)
    shades: dict[str, str] = {}
    for i, interval in enumerate(intervals):
        kind = str(interval.get("kind", ""))
        shade = shades.setdefault(kind, FAULT_SHADES[len(shades) % len(FAULT_SHADES)])
        start, end = interval["start_s"], interval["end_s"]
        ax.axvspan(start, end, color=shade, alpha=0.45, linewidth=0)
        ax.text(
            start,
            0.98 - 0.09 * (i % 3),  # staggered, so overlapping faults stay readable
            f" {interval.get('region', '')} {kind}",
            transform=ax.get_xaxis_transform(),
            fontsize=7,
            va="top",
            ha="left",
            clip_on=True,
        )


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)


def _success_rate(ax: Axes, report: dict[str, Any], series: Series) -> None:
    for kind in _active(series):
        rate = series.kinds[kind].success_rate()
        _per_second(ax, rate, color=kind_colour(kind), label=kind)
    ax.set_ylim(-0.03, 1.05)
    ax.set_ylabel("ok / ended")
    ax.set_title("Success rate per operation", loc="left", fontsize=10)
    _time_axis(ax, series, report.get("intervals", []))
    _legend(ax)


def _latency(ax: Axes, report: dict[str, Any], series: Series, which: str) -> None:
    positive = False
    for kind in _active(series):
        values: list[float | None] = getattr(series.kinds[kind], which)
        positive |= any(v is not None and v > 0 for v in values)
        _per_second(ax, values, color=kind_colour(kind), label=kind)
    if positive:  # a log scale with nothing on it would only warn
        ax.set_yscale("log")
    ax.set_ylabel(f"{which.removesuffix('_ms')} (ms)")
    ax.set_title(f"{which.removesuffix('_ms')} latency per operation", loc="left", fontsize=10)
    _time_axis(ax, series, report.get("intervals", []))
    _legend(ax)


def _p50(ax: Axes, report: dict[str, Any], series: Series) -> None:
    _latency(ax, report, series, "p50_ms")


def _p99(ax: Axes, report: dict[str, Any], series: Series) -> None:
    _latency(ax, report, series, "p99_ms")


#: the means drawn over the KPI: name, key in report["kpi"], colour
KPI_MEANS = (("control", "control", "#2ca02c"), ("fault window", "fault_window", "#d62728"))


def _successes(ax: Axes, report: dict[str, Any], series: Series) -> None:
    ax.bar(
        range(series.duration_s),
        series.successes_per_s,
        width=1.0,
        align="edge",
        color="#4c72b0",
        alpha=0.7,
        label="successful actions",
    )
    kpi = report.get("kpi") or {}
    for name, window, colour in KPI_MEANS:
        mean = kpi.get(f"{window}_per_s")
        if mean is not None:  # drawn over its window, or across the drill if unknown
            start, end = kpi.get(f"{window}_s") or (0, series.duration_s)
            ax.hlines(mean, start, end, colors=colour, lw=2, label=f"{name} mean {mean:.1f}/s")
    ax.set_ylabel("per second")
    ax.set_title("Successful actions per second (the KPI)", loc="left", fontsize=10)
    _time_axis(ax, series, report.get("intervals", []))
    _legend(ax)


def _relevance(ax: Axes, report: dict[str, Any], series: Series) -> None:
    values = (report.get("series_extra") or {}).get("relevance") or []
    if any(v is not None for v in values):
        _per_second(ax, values, color="#8172b2", label="relevance")
    else:
        ax.text(0.5, 0.5, "no relevance measured", transform=ax.transAxes, ha="center")
    ax.set_ylabel("relevance")
    ax.set_title("For You relevance per second", loc="left", fontsize=10)
    _time_axis(ax, series, report.get("intervals", []))
    _legend(ax)


def _recovery(ax: Axes, report: dict[str, Any], series: Series) -> None:
    restores = report.get("recovery_s") or []
    labels = [f"{r.get('region', '?')} ({r.get('disks_lost', 0)} disks lost)" for r in restores]
    seconds = [r.get("seconds") or 0.0 for r in restores]
    if restores:
        ax.barh(range(len(restores)), seconds, color="#55a868")
        ax.set_yticks(range(len(restores)), labels, fontsize=8)
        ax.invert_yaxis()
    else:
        ax.text(0.5, 0.5, "no region was restored", transform=ax.transAxes, ha="center")
    ax.set_xlabel("seconds from restore to ready")
    ax.set_title("Recovery", loc="left", fontsize=10)
    ax.grid(axis="x", alpha=0.3)


Draw = Callable[["Axes", dict[str, Any], Series], None]
#: the HTML report's plots: caption, height (inches), how to draw
PLOTS: tuple[tuple[str, float, Draw], ...] = (
    ("Success rate per operation per second", 3.2, _success_rate),
    ("p50 latency per operation per second (log scale)", 3.2, _p50),
    ("p99 latency per operation per second (log scale)", 3.2, _p99),
    ("Successful actions per second, with the control and fault-window means", 3.2, _successes),
    ("For You relevance per second", 2.8, _relevance),
    ("Seconds from each restore to ready", 2.4, _recovery),
)
#: the plots that go into the one PNG, on one shared time axis
PNG_PLOTS: tuple[Draw, ...] = (_success_rate, _p99, _successes, _relevance)


def _figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height))
    figure.subplots_adjust(**MARGINS)
    return figure


def _svg(figure: Figure) -> str:
    """``figure`` as an ``<svg>`` element to inline: no XML prolog, no
    DOCTYPE, no metadata block, text kept as text."""
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "stormproof"}):
        metadata = {"Type": None, "Creator": None, "Date": None, "Format": None}
        figure.savefig(buffer, format="svg", metadata=metadata)
    text = buffer.getvalue().decode()
    return text[text.index("<svg") :]


def svg_plots(report: dict[str, Any], series: Series) -> list[tuple[str, str]]:
    """Every plot of the HTML report, as ``(caption, <svg> text)``."""
    plots = []
    for caption, height, draw in PLOTS:
        figure = _figure(height)
        draw(figure.add_subplot(), report, series)
        plots.append((caption, _svg(figure)))
    return plots


def write_plots_png(report: dict[str, Any], series: Series, path: Path) -> Path:
    """The main plots, stacked on one time axis, as one PNG at ``path``."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, 2.8 * len(PNG_PLOTS) + 0.6))
    figure.subplots_adjust(left=0.07, right=0.82, top=0.95, bottom=0.05, hspace=0.45)
    axes = figure.subplots(len(PNG_PLOTS), 1, sharex=True)
    for ax, draw in zip(axes, PNG_PLOTS, strict=True):
        draw(ax, report, series)
        if ax is not axes[-1]:
            ax.set_xlabel("")  # one time axis, named once at the bottom
    verdict = report.get("verdict", "")
    figure.suptitle(f"stormproof drill {report.get('scenario', '')}: {verdict}", fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return path
