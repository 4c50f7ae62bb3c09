from __future__ import annotations

import struct
from pathlib import Path

from stormproof.drill.ops import KINDS
from stormproof.drill.plots import PALETTE, PLOTS, kind_colour, svg_plots, write_plots_png
from stormproof.drill.series import aggregate
from tests.drill.report_fixture import DURATION_S, drill_ops, drill_report


def test_every_plot_is_one_inline_svg_element() -> None:
    series = aggregate(drill_ops(), DURATION_S)

    plots = svg_plots(drill_report(series), series)

    assert [caption for caption, _ in plots] == [caption for caption, _, _ in PLOTS]
    for _, svg in plots:
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg
    # the fault is labelled with its region and kind, as text
    assert "eu power_cut" in plots[0][1]


def test_plots_draw_an_empty_drill_without_warnings() -> None:
    # guards the log scale of an axis with no latency on it, which warns
    # (and warnings are errors here)
    series = aggregate([], 10)
    report = {"intervals": [], "kpi": {}, "recovery_s": [], "series_extra": {}}

    assert len(svg_plots(report, series)) == len(PLOTS)


def test_each_kind_keeps_one_colour() -> None:
    assert len({kind_colour(kind) for kind in KINDS}) == len(KINDS) == len(PALETTE)
    assert kind_colour("not_a_kind") not in PALETTE


def test_the_png_is_a_real_png(tmp_path: Path) -> None:
    series = aggregate(drill_ops(), DURATION_S)

    path = write_plots_png(drill_report(series), series, tmp_path / "docs" / "drill.png")

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1000 and height > width
