"""What a drill leaves behind: ``report.json``, ``report.html`` and a summary.

The runner builds one report dict; :func:`write_report` writes it as JSON,
with the per-second :class:`~stormproof.drill.series.Series` under
``"series"``, and as one self-contained HTML page (inline CSS and SVG, no
script, nothing fetched: it opens offline and can be mailed); :func:`summary`
is the table the terminal shows at the end of a run. Every value from the
report is escaped. The dict's keys:

- ``scenario`` (name), ``scenario_text`` (the TOML), ``description``, ``seed``,
  ``duration_s``, ``quick``, ``version``, ``started_at`` (ISO 8601);
- ``timeline``: ``[{kind, region, label, planned_s, actual_s}]`` (``actual_s``
  None for a fault that never ran); ``intervals``:
  ``[{start_s, end_s, region, kind, label}]``, the faults' spans, shaded;
- ``ops``: :func:`~stormproof.drill.series.ops_table`; ``kpi``:
  :func:`~stormproof.drill.series.kpi`;
- ``writes``: ``{acknowledged, lost, duplicated, unknown_found,
  unknown_absent, per_region: {region: {...}}, details: [...]}``;
- ``converged``; ``region_digests``: ``{region: {view: hexdigest}}``;
  ``recovery_s``: ``[{region, disks_lost, seconds, split}]`` (split: seconds
  per part of the recovery, ``drill.runner.recovery_split``);
- ``for_you``: ``{continuity_overlap_at_20, cold_start_overlap_at_20,
  relevance_before, relevance_during}``; ``proxy_overhead`` (free-form
  numbers); ``load_cpu``: ``{cpu_s, share_of_one_core}``;
- ``verdict``: ``passed``, ``degraded as designed``, ``failed`` or
  ``aborted``, and ``reasons``, a list of sentences;
- ``series_extra``: ``{relevance: [float | None per second]}``;
- ``status``: what the platform's own status said
  (:meth:`~stormproof.drill.status_watch.StatusWatch.summary`):
  ``{page_reachable_throughout, page_polls: {region: {polls, ok}},
  page_failures, drill_id, blows: [{kind, region, at_s, restored_at_s,
  incident, title, opened_after_s, seen_after_s, resolved_after_restore_s,
  resolved_seen_after_restore_s, updates: [{at_s, status, automatic, text,
  figures}], postmortem: {path, url, writes_lost, timeline, creators: [{creator_id,
  upload_minutes_down, lost_qualified_views, period_minutes, credit_percent,
  credit_micros, …}]} | None}]}`` (creators: ADR 031).
"""

from __future__ import annotations

import html
import importlib.metadata
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

import stormproof
from stormproof.drill.plots import svg_plots, write_plots_png
from stormproof.drill.series import Series

__all__ = ["software_version", "summary", "write_plots_png", "write_report"]

#: the verdict's colour: in the HTML page, then in the terminal
VERDICT_COLOURS = {
    "passed": ("#1a7f37", "bold green"),
    "degraded as designed": ("#9a6700", "bold yellow"),
    "failed": ("#cf222e", "bold red"),
    "aborted": ("#57606a", "bold"),
}
WRITE_COUNTS = ("acknowledged", "lost", "duplicated", "unknown_found", "unknown_absent")
OPS_COLUMNS = ("attempted", "ok", "failed", "unknown", "p50_ms", "p99_ms", "longest_wait_s")
OPS_HEADERS = ("attempted", "ok", "failed", "unknown", "p50 (ms)", "p99 (ms)", "longest wait (s)")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #1f2328; line-height: 1.4; }
h1 { margin-bottom: 0; } .meta { color: #57606a; }
.verdict { font-size: 2.4em; font-weight: bold; margin: 0.4em 0 0.1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #d0d7de; padding: 0.2em 0.6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure svg { width: 100%; height: auto; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; }
"""


def software_version() -> str:
    """The version of stormproof that is running."""
    version = getattr(stormproof, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version("stormproof")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def write_report(report: dict[str, Any], series: Series, out: Path) -> dict[str, Path]:
    """Write ``out/report.json`` (``report`` plus ``"series"``),
    ``out/report.html`` and ``out/plots.png`` (the main plots in one picture,
    to paste into a postmortem); return their paths under ``"json"``,
    ``"html"`` and ``"png"``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "html": out / "report.html", "png": out / "plots.png"}
    document = {**report, "series": series.as_dict()}
    paths["json"].write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    paths["html"].write_text(render_html(report, series))
    write_plots_png(report, series, paths["png"])
    return paths


def _fmt(value: Any) -> str:
    """A report value as text (not yet escaped)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value)
    return str(value)


def _cell(value: Any, tag: str = "td") -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return f"<{tag}{' class=n' if numeric else ''}>{html.escape(_fmt(value))}</{tag}>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(_cell(h, "th") for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pairs(mapping: Mapping[str, Any] | None) -> str:
    """A free-form section (key, value) as a two-column table."""
    if not mapping:
        return "<p>Not measured.</p>"
    return _table(("", "value"), mapping.items())


def _by_row(mapping: Mapping[str, Mapping[str, Any]] | None, first: str) -> str:
    """``{row: {column: value}}`` as a table, columns in order of appearance."""
    if not mapping:
        return "<p>None.</p>"
    columns = list(dict.fromkeys(c for values in mapping.values() for c in values))
    rows = ([name, *(values.get(c) for c in columns)] for name, values in mapping.items())
    return _table((first, *columns), rows)


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def _verdict(report: Mapping[str, Any]) -> str:
    verdict = str(report.get("verdict", "aborted"))
    colour = VERDICT_COLOURS.get(verdict, VERDICT_COLOURS["aborted"])[0]
    reasons = "".join(f"<li>{html.escape(str(r))}</li>" for r in report.get("reasons", []))
    return (
        f'<p class="verdict" style="color: {colour}">{html.escape(verdict)}</p><ul>{reasons}</ul>'
    )


def _writes(writes: Mapping[str, Any] | None) -> str:
    if not writes:
        return "<p>Not checked.</p>"
    details = writes.get("details") or []
    items = "".join(f"<li>{html.escape(_fmt(d))}</li>" for d in details)
    return (
        _table(WRITE_COUNTS, [[writes.get(k) for k in WRITE_COUNTS]])
        + "<h3>Per region</h3>"
        + (_by_row(writes["per_region"], "region") if writes.get("per_region") else "<p>—</p>")
        + (f"<details><summary>details ({len(details)})</summary><ul>{items}</ul></details>")
    )


def _status(status: Mapping[str, Any] | None) -> str:
    """What the platform's status page and incidents said of the drill's blows."""
    if not status:
        return "<p>Not watched.</p>"
    esc = html.escape
    reachable = _fmt(status.get("page_reachable_throughout"))
    parts = [
        f"<p>The status page answered from every surviving region throughout: "
        f"<strong>{esc(reachable)}</strong></p>",
        _by_row(status.get("page_polls"), "region"),
    ]
    blows = status.get("blows") or []
    rows = [
        [b.get("kind"), b.get("region"), b.get("at_s"), b.get("incident"),
         b.get("opened_after_s"), b.get("seen_after_s"), b.get("resolved_after_restore_s"),
         (b.get("postmortem") or {}).get("path")]
        for b in blows
    ]  # fmt: skip
    headers = ("blow", "region", "at (s)", "incident", "opened after (s)", "seen after (s)",
               "resolved after restore (s)", "postmortem draft")  # fmt: skip
    parts.append(_table(headers, rows))
    for b in blows:
        items = "".join(
            f"<li>{esc(_fmt(u.get('at_s')))} s · {esc(str(u.get('status')))}: "
            f"{esc(str(u.get('text')))}</li>"
            for u in b.get("updates") or []
        )
        if items:
            parts.append(
                f"<h3>{esc(str(b.get('title') or b.get('incident')))}</h3><ol>{items}</ol>"
            )
    parts.append(_creators(blows))
    return "".join(parts)


def creators_affected(blows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every creator the blows' postmortems list, with what it cost them."""
    return [c for b in blows for c in ((b.get("postmortem") or {}).get("creators") or [])]


def _creators(blows: Sequence[Mapping[str, Any]]) -> str:
    """The creators the outage touched and the credits it would earn them (ADR 031)."""
    found = creators_affected(blows)
    if not found:
        return "<h3>Creators affected</h3><p>None recorded.</p>"
    rows = [
        [c.get("creator_id"), c.get("upload_minutes_down"), c.get("lost_qualified_views"),
         c.get("period_minutes"), c.get("credit_percent"), c.get("credit_micros")]
        for c in found
    ]  # fmt: skip
    headers = ("creator", "upload minutes down", "lost qualified views (est.)",
               "against minutes", "credit (%)", "credit (millionths)")  # fmt: skip
    return "<h3>Creators affected</h3>" + _table(headers, rows)


def status_line(status: Mapping[str, Any] | None) -> str:
    """The status row of the summary: each blow's incident, and the page."""
    if not status:
        return "not watched"
    said = []
    for b in status.get("blows") or []:
        if b.get("incident") is None:
            said.append(f"{b.get('region')} {b.get('kind')}: no incident seen")
            continue
        resolved = b.get("resolved_after_restore_s")
        said.append(
            f"{b.get('region')} {b.get('kind')}: incident opened {_fmt(b.get('opened_after_s'))} s "
            f"after, {len(b.get('updates') or [])} updates, "
            + (
                "not resolved yet"
                if resolved is None
                else f"resolved {_fmt(resolved)} s after the restore"
            )
        )
    page = "yes" if status.get("page_reachable_throughout") else "no"
    said.append(f"status page reachable from every surviving region: {page}")
    return "; ".join(said)


def render_html(report: Mapping[str, Any], series: Series) -> str:
    """The whole report as one self-contained HTML page."""
    esc = html.escape
    name = _fmt(report.get("scenario"))
    version = report.get("version") or software_version()
    meta = (
        f"seed {_fmt(report.get('seed'))} · {_fmt(report.get('duration_s'))} s"
        f"{' · quick' if report.get('quick') else ''} · started {_fmt(report.get('started_at'))}"
        f" · stormproof {version}"
    )
    timeline = [
        [f.get("kind"), f.get("region"), f.get("label"), f.get("planned_s"), f.get("actual_s")]
        for f in report.get("timeline", [])
    ]
    ops = [[kind, *map(row.get, OPS_COLUMNS)] for kind, row in report.get("ops", {}).items()]
    figures = "".join(
        f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"
        for caption, svg in svg_plots(dict(report), series)
    )
    digests = _by_row(report.get("region_digests"), "region")
    restores = [
        [r.get("region"), "lost" if r.get("disks_lost") else "intact", _restored(r)]
        for r in report.get("recovery_s", [])
    ]
    body = [
        f"<h1>Drill: {esc(name)}</h1><p class=meta>{esc(meta)}</p>",
        f"<p>{esc(_fmt(report.get('description', '')))}</p>",
        _verdict(report),
        _section(
            "Timeline",
            _table(("fault", "region", "label", "planned (s)", "actual (s)"), timeline),
        ),
        _section("What people experienced", _table(("operation", *OPS_HEADERS), ops)),
        _section("Successful actions per second", _pairs(report.get("kpi"))),
        _section("Plots", figures),
        _section("Writes, checked in every region", _writes(report.get("writes"))),
        _section(
            "Convergence",
            f"<p>Converged: <strong>{esc(_fmt(report.get('converged')))}</strong></p>",
            digests,
        ),
        _section("Recovery", _table(("region", "disks", "back in service"), restores)),
        _section("For You continuity", _pairs(report.get("for_you"))),
        _section("What the status page said", _status(report.get("status"))),
        _section("Proxy overhead", _pairs(report.get("proxy_overhead"))),
        _section("The simulated population's CPU use", _pairs(report.get("load_cpu"))),
        _section("Scenario", f"<pre>{esc(str(report.get('scenario_text', '')))}</pre>"),
        f"<footer class=meta>stormproof {esc(str(version))}</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>Drill {esc(name)}: {esc(str(report.get('verdict', '')))}</title>"
        f"<style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _restored(row: Mapping[str, Any]) -> str:
    """How one power restore went, in words."""
    disks = ", disks lost" if row.get("disks_lost") else ""
    if row.get("interrupted"):
        return f"cut again before it was back{disks}"
    if row.get("seconds") is None:
        return f"never ready: {row.get('error', 'no answer')}{disks}"
    split = ", ".join(f"{name} {s:.1f} s" for name, s in (row.get("split") or {}).items())
    return f"ready in {row['seconds']:.1f} s{disks}" + (f" ({split})" if split else "")


def summary(report: Mapping[str, Any]) -> RenderableType:
    """The end-of-run table: per operation, then the drill's key figures."""
    ops = Table(title=f"Drill {report.get('scenario', '')}: what people experienced")
    ops.add_column("operation")
    for column in ("attempted", "ok", "failed", "unknown", "p50", "p99", "longest wait"):
        ops.add_column(column, justify="right")
    for kind, row in report.get("ops", {}).items():
        counts = [str(row.get(c, 0)) for c in ("attempted", "ok", "failed", "unknown")]
        wait = f"{row.get('longest_wait_s') or 0:.1f} s"
        cells = [kind, *counts, _ms(row.get("p50_ms")), _ms(row.get("p99_ms")), wait]
        ops.add_row(*(Text(c) for c in cells))

    kpi = report.get("kpi") or {}
    writes = report.get("writes") or {}
    for_you = report.get("for_you") or {}
    figures = Table.grid(padding=(0, 2))
    rows = {
        "KPI ratio": f"{_fmt(kpi.get('ratio'))} ({_fmt(kpi.get('fault_window_per_s'))}/s in "
        f"the fault window, {_fmt(kpi.get('control_per_s'))}/s before)",
        "writes": f"{_fmt(writes.get('acknowledged'))} acknowledged, "
        f"{_fmt(writes.get('lost'))} lost, {_fmt(writes.get('duplicated'))} duplicated, "
        f"{_fmt(writes.get('unknown_found'))} unknown found, "
        f"{_fmt(writes.get('unknown_absent'))} unknown absent",
        "converged": _fmt(report.get("converged")),
        "recovery": "; ".join(
            f"{r.get('region')} {_restored(r)}" for r in report.get("recovery_s", [])
        )
        or "no restore",
        "continuity": f"overlap@20 {_fmt(for_you.get('continuity_overlap_at_20'))} "
        f"(cold start {_fmt(for_you.get('cold_start_overlap_at_20'))}), relevance "
        f"{_fmt(for_you.get('relevance_before'))} before, "
        f"{_fmt(for_you.get('relevance_during'))} during",
        "status": status_line(report.get("status")),
    }
    drafts = [
        b["postmortem"]["path"]
        for b in (report.get("status") or {}).get("blows") or []
        if b.get("postmortem")
    ]
    if drafts:
        rows["postmortem"] = ", ".join(drafts)
        touched = creators_affected((report.get("status") or {}).get("blows") or [])
        credits = sum(int(c.get("credit_micros") or 0) for c in touched)
        rows["creators"] = f"{len(touched)} affected, credits {credits:,} millionths"
    for key, value in rows.items():
        figures.add_row(Text(key, style="bold"), Text(value))

    verdict = str(report.get("verdict", "aborted"))
    style = VERDICT_COLOURS.get(verdict, VERDICT_COLOURS["aborted"])[1]
    reasons = [Text(f"  • {reason}") for reason in report.get("reasons", [])]
    return Group(ops, figures, Text(""), Text(f"Verdict: {verdict}", style=style), *reasons)
