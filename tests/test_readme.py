"""README.md's commands, run exactly as written (STYLE 15: docs run).

Regression for issue 10: the tour signed up a name the API refuses, so every
later command failed; the SDK example could not run at all; the evaluation
example named a file a clone does not have.

Every fenced ``sh`` and ``python`` block belongs to the section whose heading
precedes it, and ``RULES`` says how each section's blocks run — a block in a
section without a rule fails :func:`test_every_block_has_a_rule`, so a new
example cannot go unrun by accident. The blocks are read from README.md on
every run, never copied here. Each ``sh`` block runs in one
``bash -euo pipefail`` shell in a scratch folder laid out like a clone (its
``.venv`` a link to this interpreter's), with the README's files
(``my-clip.mp4``, ``my-events.csv``) generated under the names it uses.

What is checked: every command exits 0; every JSON answer is not an error
(no ``code``); a command whose comment reads ``# → {...}`` prints JSON with
those members (a ``print`` in the Python example: that text); and what a
section's prose promises (equal digests, a file where ``--json`` says).

Exceptions, kept few:

- "Two commands" is not run: ``./scripts/serve`` installs into the clone and
  never returns, ``./scripts/test`` runs the whole suite — this test is part
  of it. The tour's server is started as ``./scripts/serve`` starts it
  (``.venv/bin/stormproof serve``, data in ``./var``), with ``--no-demo``:
  the tour must need nothing seeded.
- A command in ``ENDLESS`` (a live stream) runs in the background for
  ``ENDLESS_S`` seconds and must still be running then — a refused stream
  answers at once — before it is stopped.

The README names fixed ports (8000; 8100-8102 and NATS's 8200-8302) that a
developer's own server or another checkout's cluster may hold on a shared
machine. So everything runs in a network namespace of its own
(``unshare``/``nsenter``), where those ports are free and nobody else's
processes are touched; where namespaces are not available, on the host if the
ports are free, else the test is skipped with the ports named.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stormproof.cluster import port_free
from tests.conftest import TEST_PASSWORD_COST
from tests.drill.processes import drill_processes

README = Path(__file__).resolve().parent.parent / "README.md"
#: commands that never end by themselves, recognised by this text
ENDLESS = ("/v1/messages/stream",)
ENDLESS_S = 2
#: every port the README's blocks listen on
PORTS = (8000, *(base + i for base in (8100, 8200, 8300) for i in range(3)))
#: cheap password hashing for every process the blocks start; nothing else set
ENV = {
    **{k: v for k, v in os.environ.items() if k != "STORMPROOF_DATA_DIR"},
    "STORMPROOF_PASSWORD_COST": str(TEST_PASSWORD_COST),
    "STORMPROOF_PASSWORD_TIME_COST": "1",
}
EXPECT = re.compile(r"#\s*→\s*(.+?)\s*$")


@dataclass(frozen=True)
class Block:
    section: str
    language: str
    text: str


def readme_blocks() -> list[Block]:
    """The README's fenced blocks, each with the heading above it."""
    found: list[Block] = []
    section = ""
    fence = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
    position = 0
    text = README.read_text()
    for match in fence.finditer(text):
        headings = re.findall(r"^#+ (.+)$", text[position : match.start()], re.M)
        section = headings[-1] if headings else section
        position = match.end()
        found.append(Block(section, match.group(1), match.group(2)))
    return found


def section(name: str, language: str = "sh") -> list[Block]:
    chosen = [b for b in readme_blocks() if b.section == name and b.language == language]
    assert chosen, f"README.md has no {language} block under {name!r} any more"
    return chosen


#: how each section's blocks run: the test that runs them, or why none does
RULES = {
    "Two commands": "not run: installs into the clone and serves forever; runs this suite",
    "See it survive a power cut": "test_drill: the list, a quick snowstorm judged by its report",
    "A short tour": "test_tour_then_rebuild, against `stormproof serve --no-demo`",
    "Views are rebuilt from the log": "test_tour_then_rebuild, once the server stopped",
    "Three data centers on one machine": "test_cluster: up, the SDK example, failures",
    "Offline evaluation, on your own data": "test_eval",
}


def commands(script: str) -> list[str]:
    """A shell block's top-level commands, each with its trailing comment.

    A newline ends a command unless it is escaped or inside quotes or
    ``$(...)``; lines that are only comments are left out."""
    found: list[str] = []
    stack: list[str] = []  # open '"' and '(' contexts
    start = i = 0
    while i < len(script):
        char = script[i]
        if char == "\\":
            i += 2
            continue
        if stack and stack[-1] == '"':
            if char == '"':
                stack.pop()
            elif script.startswith("$(", i):
                stack.append("(")
                i += 1
        elif char == "'":
            i = script.index("'", i + 1)
        elif char == '"':
            stack.append('"')
        elif char == "(":
            stack.append("(")
        elif char == ")" and stack:
            stack.pop()
        elif char == "#" and (i == 0 or script[i - 1] in " \t\n;|&("):
            i = script.find("\n", i)
            i = len(script) if i < 0 else i
            continue
        elif char == "\n" and not stack:
            found.append(script[start:i])
            start = i + 1
        i += 1
    found.append(script[start:])
    return [c.strip() for c in found if c.strip() and not c.strip().startswith("#")]


@dataclass(frozen=True)
class Ran:
    command: str
    output: str

    def json(self) -> Any:
        return json.loads(self.output)


def run_block(block: Block, cwd: Path, prefix: list[str], scratch: Path) -> list[Ran]:
    """Run a shell block's commands in one ``bash -euo pipefail`` shell, as
    written, each after a marker line; return each command's output."""
    steps = commands(block.text)
    lines: list[str] = []
    for n, command in enumerate(steps):
        lines.append(f"printf '\\n\\036%s\\n' {n}")
        if any(text in command for text in ENDLESS):
            lines += [
                f"{command} &",
                f"sleep {ENDLESS_S}",
                'kill "$!" 2>/dev/null || true',
                '__readme_status=0; wait "$!" || __readme_status=$?',
                '[ "$__readme_status" = 143 ] || echo "ended by itself: $__readme_status"',
            ]
        else:
            lines.append(command)
    script = scratch / f"block-{len(list(scratch.iterdir()))}.sh"
    script.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [*prefix, "bash", "-euo", "pipefail", str(script)],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    parts = re.split(r"\n\x1e(\d+)\n", "\n" + done.stdout)
    outputs = dict(zip(map(int, parts[1::2]), parts[2::2], strict=True))
    ran = [Ran(command, outputs.get(n, "").strip()) for n, command in enumerate(steps)]
    failed = len(outputs) - 1
    assert done.returncode == 0, (
        f"README command failed ({done.returncode}): {steps[failed]}\n"
        f"output: {ran[failed].output}\nstderr: {done.stderr}"
    )
    return ran


def check_answers(ran: list[Ran]) -> None:
    """Each JSON answer is no error and has the members its ``# →`` promises."""
    for step in ran:
        if any(text in step.command for text in ENDLESS):
            assert "ended by itself" not in step.output, (step.command, step.output)
            assert '"code"' not in step.output, (step.command, step.output)
            continue
        if not step.output:
            continue
        answer = step.json()
        assert not (isinstance(answer, dict) and "code" in answer), (step.command, answer)
        promised = EXPECT.search(step.command.splitlines()[-1])
        if promised:
            expected = json.loads(promised.group(1))
            assert {k: answer.get(k) for k in expected} == expected, (step.command, answer)


def _holder() -> subprocess.Popen[str] | None:
    """A process in a new network namespace with its loopback up, or None
    where namespaces cannot be made. It waits on its stdin, so it ends when
    the test closes that — or dies."""
    if not (shutil.which("unshare") and shutil.which("nsenter") and shutil.which("ip")):
        return None
    holder = subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "--net", "sh", "-c",
         "ip link set lo up && echo up && exec cat"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert holder.stdin is not None and holder.stdout is not None
    if holder.stdout.readline().strip() == "up":
        return holder
    _end(holder)
    return None


def _end(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.close()
    holder.wait(timeout=10)
    holder.stdout.close()


@pytest.fixture(scope="module")
def prefix() -> Iterator[list[str]]:
    """What to put before a command to run it on a loopback of its own."""
    if shutil.which("curl") is None:
        pytest.skip("the README's tour needs curl")
    holder = _holder()
    if holder is None:
        busy = [port for port in PORTS if not port_free(port)]
        if busy:
            pytest.skip(f"no network namespace of our own, and ports {busy} are taken")
        yield []
        return
    try:
        yield ["nsenter", f"--target={holder.pid}", "--user", "--net", "--preserve-credentials"]
    finally:
        _end(holder)


def clone_like(folder: Path) -> Path:
    """A working folder where the README's ``.venv/bin/...`` resolve."""
    venv = Path(sys.prefix)
    if not (venv / "bin" / "stormproof").exists():
        pytest.skip("run from the project's virtualenv (./scripts/test)")
    folder.mkdir(parents=True)
    (folder / ".venv").symlink_to(venv)
    return folder


def wait_for(prefix: list[str], url: str, process: subprocess.Popen[str]) -> None:
    """Until the health check at ``url`` says ready (it answers while the
    region catches up)."""
    deadline = time.monotonic() + 60

    def ready() -> bool:
        curl = [*prefix, "curl", "-sf", url]
        answer = subprocess.run(curl, capture_output=True, text=True, check=False)
        return '"ready":true' in answer.stdout

    while not ready():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, f"{url} did not come up"
        time.sleep(0.2)


def test_every_block_has_a_rule() -> None:
    found = readme_blocks()
    assert {b.language for b in found} <= {"sh", "python"}, "a new kind of block needs a rule"
    assert {b.section for b in found} == set(RULES)
    # The splitter sees the tour's multi-line commands as one each.
    tour = commands(section("A short tour")[0].text)
    assert tour[0] == "API=http://127.0.0.1:8000"
    assert sum(c.startswith("curl -s -X POST $API/v1/events") for c in tour) == 1


def test_tour_then_rebuild(prefix: list[str], tmp_path: Path) -> None:
    from stormproof.media import make_video

    work, scratch = clone_like(tmp_path / "clone"), tmp_path / "scripts"
    scratch.mkdir()
    make_video(work / "my-clip.mp4", seconds=2.0, seed=1)
    server = subprocess.Popen(
        [*prefix, ".venv/bin/stormproof", "serve", "--no-demo"],
        cwd=work, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(prefix, "http://127.0.0.1:8000/v1/health", server)
        [tour] = section("A short tour")
        ran = run_block(tour, work, prefix, scratch)
    finally:
        server.send_signal(signal.SIGINT)  # "Stop the server (Ctrl-C)"
        server.wait(timeout=30)
        if server.stderr:
            server.stderr.close()
    check_answers(ran)
    assert any(EXPECT.search(step.command) for step in ran), "the tour promises no answer"
    assert (work / "clip.mp4").stat().st_size > 0 and (work / "thumb.jpg").stat().st_size > 0
    assert "<h1>stormproof status</h1>" in (work / "status.html").read_text()

    [rebuild] = section("Views are rebuilt from the log")
    digests = [s.json() for s in run_block(rebuild, work, prefix, scratch) if "digest" in s.command]
    assert len(digests) == 2 and digests[0] == digests[1]  # "the same digests as before"
    assert digests[0]["position"][0] > 0 and "foryou" in digests[0]["views"]


def test_cluster(prefix: list[str], tmp_path: Path) -> None:
    work, scratch = clone_like(tmp_path / "clone"), tmp_path / "scripts"
    scratch.mkdir()
    up, failures = section("Three data centers on one machine")
    [example] = section("Three data centers on one machine", "python")
    try:
        run_block(up, work, prefix, scratch)
        (work / "example.py").write_text(example.text)
        sdk = subprocess.run(
            [*prefix, ".venv/bin/python", "example.py"],
            cwd=work, env=ENV, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert sdk.returncode == 0, sdk.stderr
        promised = [m.group(1) for m in map(EXPECT.search, example.text.splitlines()) if m]
        assert sdk.stdout.splitlines() == promised
        ran = run_block(failures, work, prefix, scratch)
    finally:
        subprocess.run(
            [*prefix, ".venv/bin/stormproof", "cluster", "down", "--data", "var/cluster"],
            cwd=work, env=ENV, capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    copy = work / "status-copy"  # "the status page as files to open anywhere"
    assert {p.name for p in copy.iterdir()} == {"index.html", "status.json", "feed.atom"}
    [digest] = [s.json() for s in ran if "cluster digest" in s.command]
    assert digest["position"] is not None and len(digest["regions"]) == 3
    assert len({json.dumps(d["views"]) for d in digest["regions"].values()}) == 1  # equal


@pytest.mark.timeout(300)
def test_drill(prefix: list[str], tmp_path: Path) -> None:
    """The README's drill, as written: it lists the scenarios, then survives
    a quick snowstorm — judged by its own report — and leaves nothing running."""
    work, scratch = clone_like(tmp_path / "clone"), tmp_path / "scripts"
    scratch.mkdir()
    [block] = section("See it survive a power cut")
    listed, ran = run_block(block, work, prefix, scratch)  # each must exit 0
    assert "snowstorm" in listed.output and "two_regions" in listed.output
    assert len(listed.output.splitlines()) == 8  # one line each
    assert "passed" in ran.output
    report = json.loads((work / "drill-report" / "report.json").read_text())
    assert report["scenario"] == "snowstorm" and report["quick"]
    assert report["verdict"] == "passed", report["reasons"]
    writes = report["writes"]
    assert writes["acknowledged"] > 0
    assert (writes["lost"], writes["duplicated"]) == (0, 0), writes
    assert report["converged"] and len(report["region_digests"]) == 3
    for_you = report["for_you"]
    assert for_you["continuity_overlap_at_20"] > for_you["cold_start_overlap_at_20"]
    # Every fault of the timeline happened, and the cut was a real SIGKILL.
    assert all(e["actual_s"] is not None for e in report["timeline"]), report["timeline"]
    [cut] = [e for e in report["timeline"] if e["kind"] == "power_cut"]
    assert cut["killed"] and set(cut["killed"].values()) == {-9}, cut
    [recovery] = report["recovery_s"]
    assert recovery["region"] == "us-east" and recovery["seconds"] is not None
    html = (work / "drill-report" / "report.html").read_text()
    assert html.count("<svg") >= 4 and "power cut" in html
    # The platform's own status saw it (issue 13): an incident about us-east
    # opened after the cut and resolved after the restore, the status page
    # answered from every region still standing, and the postmortem draft
    # written beside the report has the cut, the restore and what the
    # checker measured.
    status = report["status"]
    assert status["page_reachable_throughout"], status["page_failures"]
    [blow] = status["blows"]
    assert blow["region"] == "us-east" and blow["incident"], status
    assert blow["opened_after_s"] > 0 and blow["resolved_after_restore_s"] > 0, blow
    assert any(u["status"] == "resolved" for u in blow["updates"]), blow["updates"]
    draft = (work / blow["postmortem"]["path"]).read_text()
    assert "power cut in us-east" in draft and "power restored in us-east" in draft
    assert "Acknowledged writes lost: 0." in draft and "checker of drill snowstorm" in draft
    assert not drill_processes()  # the proxy, the nats-servers, the APIs: all gone


def test_eval(prefix: list[str], tmp_path: Path) -> None:
    from stormproof.recommend.synthetic import synthetic

    work, scratch = clone_like(tmp_path / "clone"), tmp_path / "scripts"
    scratch.mkdir()
    own = synthetic(users=40, items=60, per_user=10, seed=7)  # "your own data"
    rows = zip(own.users.tolist(), own.items.tolist(), own.times.tolist(), strict=True)
    (work / "my-events.csv").write_text(
        "user_id,video_id,ts\n" + "".join(f"p{u},v{i},{t / 1000}\n" for u, i, t in rows)
    )
    [block] = section("Offline evaluation, on your own data")
    generated, yours = run_block(block, work, prefix, scratch)
    assert "synthetic: 4000 events" in generated.output
    assert f"my-events.csv: {len(own)} events" in yours.output
    assert "stormproof" in generated.output and "recent_itemknn" in generated.output
    # Written where --json says, and nothing anywhere else.
    assert sorted(p.name for p in work.iterdir()) == [".venv", "my-events.csv", "out.json"]
    figures = json.loads((work / "out.json").read_text())
    assert figures["events"] == len(own) and len(figures["models"]) == 6
