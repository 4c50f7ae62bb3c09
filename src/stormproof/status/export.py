"""A static copy of the status page, for the day no region can serve it
(``stormproof status export``, ADR 023).

A folder of files that open with no server and link only to each other:
``index.html`` (the page), ``status.json`` (the document it was rendered
from, as ``GET /v1/status/page`` answers) and ``feed.atom``, and for each
incident on the page whose postmortem is published, that postmortem as
``postmortem-{incident}.html`` and ``.md`` (the renderers of
``/status/incidents/{id}/postmortem``), linked from the page. Copy it to
any static host, a bucket, a USB stick.

The document comes from one of two places:

- :func:`from_data`: a region's data folder on this machine, read-only
  (safe while the region runs). A data folder cannot tell whether its
  region was caught up, so the copy says it may be behind (``fresh:
  false``); the published postmortems are drafted from the same views;
- :func:`from_url`: a running region's ``GET /v1/status/page``, for when
  the data is not local. What it answers is validated like any input. The
  copy then has no postmortems: the API answers a postmortem's figures and
  words, not all a page is rendered from.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import httpx
from pydantic import ValidationError

from stormproof.errors import StormproofError
from stormproof.settings import Settings
from stormproof.status.document import PageDocument, read_document
from stormproof.status.feed import render_feed
from stormproof.status.html import STATIC, postmortem_file, render_page
from stormproof.status.postmortem import Postmortem, draft
from stormproof.status.postmortem_render import render_html, render_markdown
from stormproof.views import incidents

__all__ = ["FILES", "ExportError", "from_data", "from_url", "published_postmortems",
           "write_snapshot"]  # fmt: skip

#: what a snapshot folder holds
FILES = ("index.html", "status.json", "feed.atom")
#: the largest document accepted from a region (a full page is ~100 KiB)
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


class ExportError(StormproofError):
    """The page could not be read: no views there, or no good answer."""

    status = 502
    code = "export_failed"


def write_snapshot(
    folder: Path,
    document: PageDocument,
    *,
    now: dt.datetime,
    postmortems: Sequence[Postmortem] = (),
) -> list[Path]:
    """Write the snapshot's files into ``folder`` (made if missing), with
    ``postmortems`` (published ones of the page's incidents); their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    links = replace(STATIC, postmortems=frozenset(pm.incident_id for pm in postmortems))
    contents = {
        "index.html": render_page(document, now=now, links=links).encode(),
        "status.json": document.model_dump_json(indent=2).encode() + b"\n",
        "feed.atom": render_feed(document, self_href="feed.atom", page_href="index.html", now=now),
    }
    for pm in postmortems:
        contents[postmortem_file(pm.incident_id)] = render_html(
            pm, status_href="index.html"
        ).encode()
        contents[postmortem_file(pm.incident_id, ".md")] = render_markdown(pm).encode()
    written = []
    for name in contents:
        path = folder / name
        partial = path.with_name(f".{name}.partial")
        partial.write_bytes(contents[name])
        partial.replace(path)  # a reader never sees half a file
        written.append(path)
    return written


def from_data(settings: Settings) -> tuple[PageDocument, list[Postmortem]]:
    """The page as the views in ``settings.data_dir`` hold it, and the
    published postmortems of its incidents."""
    views = settings.views_path
    if not views.exists():
        raise ExportError(f"no views in {settings.data_dir}: is it a region's data folder?")
    db = sqlite3.connect(f"file:{views}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        document = read_document(
            db,
            region=settings.region,
            fresh=False,
            position_of=_position,
            fail_rounds=settings.probe_fail_rounds,
            pass_rounds=settings.probe_pass_rounds,
            now=int(time.time() * 1000),
        )
        # Read after the page: a postmortem published since is left out, not
        # one of an incident the page does not show.
        return document, published_postmortems(db, document)
    except sqlite3.Error as exc:  # views written before the status view existed
        raise ExportError(f"cannot read the status in {views}: {exc}") from exc
    finally:
        db.close()


def published_postmortems(db: sqlite3.Connection, document: PageDocument) -> list[Postmortem]:
    """The published postmortems of the incidents ``document`` shows."""
    found = []
    for notice in document.incidents:
        incident = incidents.incident(db, notice.id) if notice.postmortem else None
        pm = None if incident is None else draft(db, incident)
        if pm is not None and pm.published:
            found.append(pm)
    return found


def _position(db: sqlite3.Connection) -> list[int]:
    return [seq for (seq,) in db.execute("SELECT seq FROM positions ORDER BY partition")]


def from_url(url: str, *, timeout_s: float = 30.0) -> PageDocument:
    """The page as the region at ``url`` (its base, http or https) serves it."""
    base = url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ExportError(f"{url} is not an http(s) URL")
    try:
        with (
            httpx.Client(timeout=timeout_s) as client,
            client.stream("GET", f"{base}/v1/status/page") as answer,
        ):
            body = b""
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ExportError(f"{base} answered more than {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise ExportError(f"cannot reach {base}: {exc}") from exc
    if answer.status_code != 200:
        raise ExportError(f"{base}/v1/status/page answered {answer.status_code}")
    try:
        return PageDocument.model_validate_json(body)
    except ValidationError as exc:
        raise ExportError(
            f"{base} did not answer a status page: {exc.error_count()} errors"
        ) from exc
