"""``stormproof status export``, run as an operator runs it: a real process
writing a copy of the status page that opens with no server (ADR 023)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from stormproof.events import (
    IncidentOpened,
    IncidentUpdated,
    Payload,
    PostmortemEdited,
    new_event,
)
from stormproof.log import Entry
from stormproof.settings import Settings
from stormproof.status.document import PageDocument, read_document
from stormproof.status.export import FILES
from stormproof.status.postmortem import draft
from stormproof.status.postmortem_render import render_html, render_markdown
from stormproof.views import all_views, incidents
from stormproof.views.store import ViewStore
from tests.api.test_status import append
from tests.conftest import free_port
from tests.status.html_tree import parse
from tests.status.probes import entry, probes, round_at
from tests.test_cli import stormproof

PROBERS = ("east", "north", "west")


def _rounds() -> list[list[str]]:
    """West fails the last three of five rounds."""
    return [["west"] if n >= 2 else [] for n in range(5)]


def test_a_copy_from_a_data_folder_holds_the_same_page(tmp_path: Path) -> None:
    data, out = tmp_path / "region", tmp_path / "copy"
    store = ViewStore(data / "views.sqlite", all_views())
    entries = []
    for n, failing in enumerate(_rounds()):
        for prober in PROBERS:
            entries.append(entry(0, len(entries) + 1, probes(prober, n, failing=failing)))
    store.apply(entries)
    expected = read_document(
        store.reader(),
        region="local",
        fresh=False,
        position_of=store.position,
        fail_rounds=3,
        pass_rounds=2,
        now=int(time.time() * 1000),
    )
    store.close()

    result = stormproof("status", "export", str(out), "--data", str(data))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "wrote index.html, status.json, feed.atom" in result.stdout
    assert sorted(path.name for path in out.iterdir()) == sorted(FILES)
    document = PageDocument.model_validate_json((out / "status.json").read_text())
    assert document == expected
    assert (document.status.state, document.status.position) == ("partial_outage", [15])

    page = parse((out / "index.html").read_text())
    [header] = page.all("header")
    assert "Partial outage" in header.text() and "in a copy made" in header.text()
    assert "This may be behind." in header.text()  # a data folder cannot say it was caught up
    west = page.named("ul", "Sign-in in each region").all("li")[2].text()
    assert "Major outage" in west and "40.00 % up in 90 days" in west
    hrefs = {node.attrs["href"] for node in page.walk() if "href" in node.attrs}
    assert hrefs == {"status.json", "feed.atom"} and all((out / h).is_file() for h in hrefs)
    feed = ET.parse(out / "feed.atom").getroot()
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"


def _incident(incident_id: str, published: bool) -> list[Payload]:
    """An operator's incident about west, resolved; its postmortem published
    or left a draft."""
    opened = IncidentOpened(
        incident_id=incident_id, title=f"West down ({incident_id})", regions=("west",),
        components=("sign_in",), impact="major", began_at=round_at(2), text="west is down",
    )  # fmt: skip
    resolved = IncidentUpdated(
        incident_id=incident_id, update_id=f"{incident_id}_r", status="resolved", text="back"
    )
    edits = PostmortemEdited(
        incident_id=incident_id, root_cause="a <b>storm</b> [took](http://x) west", published=True
    )
    return [opened, resolved, edits] if published else [opened, resolved]


def test_a_copy_from_a_data_folder_holds_the_published_postmortems(tmp_path: Path) -> None:
    data, out = tmp_path / "region", tmp_path / "copy"
    store = ViewStore(data / "views.sqlite", all_views())
    entries = []
    for n, failing in enumerate(_rounds()):
        for prober in PROBERS:
            entries.append(entry(0, len(entries) + 1, probes(prober, n, failing=failing)))
    story = _incident("inc_told", published=True) + _incident("inc_draft", published=False)
    for n, payload in enumerate(story):
        event = new_event(payload, actor="u_op", at=round_at(5) + n, id=f"e{n}")
        entries.append(Entry(0, len(entries) + 1, f"k{n}", event))
    store.apply(entries)
    incident = incidents.incident(store.reader(), "inc_told")
    assert incident is not None
    expected = draft(store.reader(), incident)
    assert expected is not None
    store.close()

    result = stormproof("status", "export", str(out), "--data", str(data))
    assert result.returncode == 0, result.stderr + result.stdout
    told = ["postmortem-inc_told.html", "postmortem-inc_told.md"]
    assert sorted(path.name for path in out.iterdir()) == sorted([*FILES, *told])
    assert (out / told[0]).read_text() == render_html(expected, status_href="index.html")
    assert (out / told[1]).read_text() == render_markdown(expected)

    page = parse((out / "index.html").read_text())
    hrefs = {node.attrs["href"] for node in page.walk() if "href" in node.attrs}
    assert hrefs == {"status.json", "feed.atom", told[0]}  # the draft is not linked
    assert all((out / h).is_file() for h in hrefs)
    back = parse((out / told[0]).read_text())
    assert {n.attrs["href"] for n in back.walk() if "href" in n.attrs} == {"index.html"}


def test_a_copy_from_a_running_region_holds_what_it_serves(
    client: httpx.Client, settings: Settings, tmp_path: Path
) -> None:
    seq = append(settings, [probes(p, n, failing=f) for n, f in enumerate(_rounds())
                            for p in PROBERS])  # fmt: skip
    served = client.get("/v1/status/page", params={"min_seq": seq}).json()
    out = tmp_path / "copy"
    result = stormproof("status", "export", str(out), "--from", str(client.base_url))
    assert result.returncode == 0, result.stderr + result.stdout
    assert json.loads((out / "status.json").read_text()) == served
    assert served["status"]["fresh"] is True
    assert "This may be behind." not in (out / "index.html").read_text()


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        ([], 2, "--data DIR or --from URL"),
        (["--data", "x", "--from", "http://127.0.0.1:1"], 2, "one of them"),
        (["--from", "ftp://example.invalid/"], 1, "is not an http(s) URL"),
        (["--data", "empty"], 1, "no views in"),
        (["--from", "UNREACHABLE"], 1, "cannot reach"),
    ],
)
def test_an_export_that_cannot_be_made_says_why(
    tmp_path: Path, args: list[str], code: int, said: str
) -> None:
    args = [
        str(tmp_path / a) if a == "empty" else f"http://127.0.0.1:{free_port()}"
        if a == "UNREACHABLE" else a
        for a in args
    ]  # fmt: skip
    result = stormproof("status", "export", str(tmp_path / "copy"), *args)
    assert result.returncode == code, result.stdout + result.stderr
    assert said in " ".join((result.stdout + result.stderr).split())
    assert not (tmp_path / "copy").exists()
