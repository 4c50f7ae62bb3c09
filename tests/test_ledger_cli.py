"""``stormproof ledger`` as an operator runs it — real processes against a
real server: an operator adjusts, pays out, reads a statement, exports a
month and sets the rate; anyone else is refused with the API's code, one
line, exit 1, and nothing is stored."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import typer

from stormproof.ledger_cli import micros, units
from tests.api.test_incidents import written_types
from tests.conftest import LiveServer, make_settings, sign_up
from tests.test_incident_cli import answer, run


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A region with an operator, olga, and a creator, cat."""
    live = LiveServer(make_settings(tmp_path_factory.mktemp("region"))).start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            sign_up(client, "olga")
            sign_up(client, "cat")
            granted = client.post("/v1/operators", json={"username": "olga"}, headers=live.operator)
            assert granted.status_code == 201, granted.text
        yield live
    finally:
        live.stop()


def _ledger_writes(server: LiveServer) -> list[str]:
    """The ledger's events in the log (each command's sign-in writes a session)."""
    return [t for t in written_types(server) if t.startswith(("ledger.", "earnings."))]


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def test_amounts_are_units_of_the_currency_exactly() -> None:
    assert [micros(t) for t in ("12.5", "-0.000001", "3", "1e2")] == [12_500_000, -1, 3 * 10**6,
                                                                        100 * 10**6]  # fmt: skip
    for bad in ("0.0000001", "twelve", "nan", "inf"):
        with pytest.raises(typer.BadParameter):
            micros(bad)
    assert [units(n) for n in (12_500_000, -1, 3 * 10**6, 0)] == ["12.5", "-0.000001", "3", "0"]


def test_an_operator_adjusts_pays_out_reads_and_exports(server: LiveServer) -> None:
    adjust = ["ledger", "adjust", "cat", "--amount", "25", "--reason", "make good the outage"]
    entry = answer(run(server, *adjust, "--key", "a1", "--json", user="olga"))["entry_id"]
    again = run(server, *adjust, "--key", "a1", "--json", user="olga")
    assert answer(again)["entry_id"] == entry  # a retry writes nothing new
    paid = run(server, "ledger", "payout", "cat", "--amount", "10.5", "--reference", "wire 42",
               user="olga")  # fmt: skip
    assert paid.returncode == 0 and "paid cat 10.5" in paid.stdout, paid.stderr
    over = run(server, "ledger", "payout", "cat", "--amount", "100", user="olga")
    assert over.returncode == 1 and over.stderr.startswith("insufficient_balance: "), over.stderr

    found = answer(run(server, "ledger", "statement", "cat", _month(), "--json", user="olga"))
    assert [(e["kind"], e["amount_micros"]) for e in found["entries"]] == [
        ("adjustment", 25_000_000),
        ("payout", -10_500_000),
    ]
    shown = run(server, "ledger", "statement", "cat", _month(), user="olga")
    assert shown.returncode == 0 and "14.5" in shown.stdout and "outage" in shown.stdout

    exported = run(server, "ledger", "export", _month(), user="olga")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["kind"], int(r["amount_micros"])) for r in rows] == [
        ("adjustment", 25_000_000),
        ("payout", -10_500_000),
    ]


def test_an_operator_sets_the_rate_from_a_moment_on(server: LiveServer) -> None:
    set_ = run(server, "ledger", "set-rate", "--rate", "0.75", "--from", "+1d", "--reason",
               "the new year", "--json", user="olga")  # fmt: skip
    made = answer(set_)
    assert made["rate_micros"] == 750_000
    assert made["effective_from"] > time.time() * 1000 + 23 * 3600 * 1000
    listed = answer(run(server, "ledger", "rates", "--json", user="olga"))
    assert (made["effective_from"], 750_000) in [
        (r["effective_from"], r["rate_micros"]) for r in listed["rates"]
    ]
    now = answer(run(server, "ledger", "set-rate", "--rate", "0.5", "--reason", "back",
                     "--json", user="olga"))  # fmt: skip
    assert now["effective_from"] <= time.time() * 1000
    past = run(server, "ledger", "set-rate", "--rate", "1", "--from", "2020-01-01T00:00Z",
               "--reason", "retro", user="olga")  # fmt: skip
    assert past.returncode == 1 and past.stderr.startswith("rate_in_the_past: "), past.stderr


def test_anyone_else_is_refused_and_nothing_is_stored(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sign_up(client, "pat")
    before = _ledger_writes(server)
    for args in (
        ["adjust", "cat", "--amount", "5", "--reason", "a gift"],
        ["payout", "cat", "--amount", "1"],
        ["set-rate", "--rate", "9", "--reason", "mine"],
    ):
        refused = run(server, "ledger", *args, user="pat")
        assert refused.returncode == 1
        assert refused.stderr.startswith("not_an_operator: "), refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    export = run(server, "ledger", "export", _month(), user="pat")
    assert export.returncode == 1 and export.stderr.startswith("not_an_operator: ")
    unknown = run(server, "ledger", "adjust", "nobody", "--amount", "5", "--reason", "r",
                  user="olga")  # fmt: skip
    assert unknown.returncode == 1 and unknown.stderr.startswith("user_not_found: ")
    bad = run(server, "ledger", "adjust", "cat", "--amount", "0.0000001", "--reason", "r",
              user="olga")  # fmt: skip
    assert bad.returncode == 2  # a usage error: nothing was sent
    assert _ledger_writes(server) == before
