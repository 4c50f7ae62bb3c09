"""A postmortem as Markdown and as HTML (ADR 025).

Both are rendered by Jinja2 from the same :class:`~stormproof.status.postmortem.Postmortem`
and its :func:`sections`. The HTML is the status page's kind: one
self-contained document, autoescaped, inline styles, no script, nothing
loaded from anywhere. In the Markdown every value that came from people or
the log (operators' words, incident titles and updates) is escaped
(:func:`md`), so it reads as the text it is and never as markup — raw HTML
or a link — in whatever renders the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from stormproof.creators.impact import CreatorImpact
from stormproof.status.jinja import environment
from stormproof.status.postmortem import Postmortem, duration, named, when

__all__ = ["md", "render_html", "render_markdown", "sections"]


#: characters that make markup anywhere in a line: emphasis, code, links,
#: raw HTML and entities, tables, strike-through (CommonMark lets a
#: backslash escape any ASCII punctuation)
_INLINE = re.compile(r"([\\`*_\[\]<>&|~!])")
#: what makes a block at the start of a line: a heading, a list item, a
#: setext underline (a quote's ``>`` is escaped anywhere already)
_BLOCK = re.compile(r"^(\s*|\s*\d+)((?<=\d)[.)]|(?<!\d)[#+=-])")


def md(text: object) -> str:
    """``text`` as literal Markdown: what could be markup escaped, every
    line break kept as one (a hard break, so a line stays in its paragraph)."""
    lines = [_INLINE.sub(r"\\\1", line) for line in str(text).splitlines()]
    return "  \n".join(_BLOCK.sub(r"\1\\\2", line) for line in lines)


def creator_lines(creators: Sequence[CreatorImpact]) -> list[str]:
    """What the incident cost the creators whose uploads it touched, added
    up: a published postmortem is public, so it names nobody (operators read
    each creator's figures in the JSON; ADR 031)."""
    if not creators:
        return ["Creators whose uploads failed or waited: none recorded."]
    known = [c for c in creators if c.lost_qualified_views is not None]
    lost = (
        "not enough history to estimate"
        if not known
        else f"about {sum(c.lost_qualified_views or 0 for c in known):,} "
        f"({sum(c.lost_earnings_micros or 0 for c in known):,} millionths of earnings)"
        + (
            f"; not enough history for {len(creators) - len(known):,}"
            if len(known) < len(creators)
            else ""
        )
    )
    minutes = sum(c.upload_minutes_down for c in creators)
    credits = sum(c.credit_micros for c in creators)
    return [
        f"Creators whose uploads failed or waited: {len(creators):,}; upload minutes they "
        f"lost: {minutes:,} in all; qualified views they likely lost (against the same hours "
        f"of the previous 7 days): {lost}; SLA credits this earns them: {credits:,} "
        f"millionths, against {creators[0].period_minutes:,} minutes."
    ]


def sections(pm: Postmortem) -> list[tuple[str, list[str]]]:
    """The impact as (heading, lines) of plain text, in the template's order."""
    impact = pm.impact
    lines = [
        f"Duration: {duration(impact.duration_ms)} (from {when(pm.began_at)} to "
        f"{when(pm.resolved_at)}).",
        f"Regions: {', '.join(impact.regions)}; components: {named(impact.components)}.",
    ]
    for f, rounds in zip(impact.figures, impact.rounds, strict=True):
        people = "not recorded" if f.active_people is None else f"{f.active_people:,}"
        lines.append(
            f"{f.region}: {rounds.failing:,} of {rounds.judged:,} probe rounds found it down; "
            f"{f.probes_failed:,} of the {f.probes:,} probe checks that reached it failed; "
            f"people active on it in the 15 minutes before: {people}."
        )
    if impact.requests_failed is None:
        lines.append("People's requests failed: not recorded.")
    else:
        served = "; ".join(f"{r.region} {r.errors:,} of {r.requests:,}" for r in impact.requests)
        lines.append(
            f"People's requests failed: {impact.requests_failed:,} ({served}), as counted by "
            "the regions that answered: a region without power counts nothing."
        )
    if impact.uploads_refused is None or impact.uploads_delayed is None:
        lines.append("Uploads refused or delayed, creators affected: not recorded.")
    else:
        lines.append(
            f"Uploads refused: {impact.uploads_refused:,}; uploads delayed (acknowledged "
            f"after a failed first attempt): {impact.uploads_delayed:,}; creators affected: "
            f"{impact.creators_touched or 0:,}."
        )
    lines.extend(creator_lines(impact.creators))
    lost = impact.writes_lost
    figure = "none known" if lost.lost is None else f"{lost.lost:,}"
    lines.append(f"Acknowledged writes lost: {figure}. {lost.how}")
    if impact.continuity is not None:
        c = impact.continuity
        cold = (
            ""
            if c.cold_start_overlap_at_20 is None
            else f" (a newcomer's page: {c.cold_start_overlap_at_20:.2f})"
        )
        lines.append(
            f"For You continuity: overlap@20 {c.overlap_at_20:.2f}{cold} between sample "
            f"people's pages before and after the blow, measured by drill {c.scenario}."
        )
    else:
        lines.append("For You continuity: not measured (a drill measures it).")
    return [("Impact", lines)]


def _context(pm: Postmortem) -> dict[str, object]:
    return {
        "pm": pm,
        "sections": sections(pm),
        "when": when,
        "duration": duration,
    }


def render_markdown(pm: Postmortem) -> str:
    template = environment(html=False).get_template("postmortem.md")
    return template.render(**_context(pm), md=md)


def render_html(pm: Postmortem, *, status_href: str = "/status") -> str:
    template = environment(html=True).get_template("postmortem.html")
    return template.render(**_context(pm), status_href=status_href)
