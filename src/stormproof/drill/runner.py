"""One drill, start to finish: a cluster of its own, people on it, the
scenario's faults at their times, then the check, the comparison and the report.

The phases:

1. **Set up.** A fresh folder; the WAN proxy (every connection that crosses
   regions goes through it, with the scenario's round-trip times); a
   ``LocalCluster`` with those links; the population signs up, creators
   upload the catalog, everyone gets a short history so For You has a taste
   to find. A few *sample* people get a history and then stay still: their
   For You pages, taken from the region about to fail just before the cut
   and from a survivor just after, measure continuity; a newcomer's page is
   the cold-start contrast.
2. **Run.** The clock starts; people scroll; each planned action happens at
   its time (a real SIGKILL, SIGSTOP, cut link...) and its actual time is
   recorded. A stop condition, when the scenario sets one, aborts the run.
3. **Settle.** Load stops; power comes back everywhere, frozen regions
   thaw, links heal; messages still on their way get a grace period.
4. **Judge.** Every write read back from every region (the checker); the
   regions' digests compared at one position; the verdict; the report.

Whatever happens — an error, Ctrl-C — the power is restored, the processes
stopped and the folder removed (unless kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stormproof.client import Client, RegionsUnavailable, RequestFailed
from stormproof.cluster import LocalCluster, free_base_port, recovery_split
from stormproof.drill.checker import check_regions
from stormproof.drill.judge import continuity, last_second, mean_relevance, verdict, windows
from stormproof.drill.ops import WRITE_KINDS
from stormproof.drill.people import (
    PASSWORD,
    Deliveries,
    Population,
    Recorder,
    receive,
    scroll,
)
from stormproof.drill.proxy import WanProxy, measure_overhead
from stormproof.drill.report import software_version, write_report
from stormproof.drill.scenario import Action, Scenario
from stormproof.drill.series import aggregate, kpi, ops_table
from stormproof.drill.setup import (
    ACTIONS_PER_VIDEO,
    CHEAP_PASSWORDS,
    HISTORY,
    SAMPLE_HISTORY,
    Setup,
    make_clips,
)
from stormproof.drill.status_watch import STATUS_SETTINGS, StatusWatch
from stormproof.population import TOPICS, relevance

__all__ = ["DrillResult", "Interrupted", "Progress", "run_drill"]

#: told the run's state once a second, for the live view
Progress = Callable[["Snapshot"], None]

#: how long acknowledged messages may take to reach their stream at the end
_DELIVERY_GRACE_S = 10.0


class Interrupted(Exception):
    """Ctrl-C before the clock started: everything was stopped, no report."""


@dataclass
class Snapshot:
    """What the live view shows each second."""

    elapsed: float
    duration: float
    fault: str
    #: per kind over the last second: (ok, ended, p99 ms)
    last_second: dict[str, tuple[int, int, float]]


@dataclass
class DrillResult:
    report: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"passed": 0, "degraded as designed": 0, "aborted": 3}.get(self.report["verdict"], 1)


# -- the run -------------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        scenario: Scenario,
        cluster: LocalCluster,
        proxy: WanProxy,
        setup: Setup,
        clips: list[bytes],
        progress: Progress | None,
        say: Callable[[str], None],
    ) -> None:
        self.say = say
        self.scenario = scenario
        self.cluster = cluster
        self.proxy = proxy
        self.setup = setup
        self.clips = clips
        self.progress = progress
        self.recorder = Recorder()
        self.deliveries = Deliveries(self.recorder)
        self.timeline: list[dict[str, Any]] = []
        #: set once the action with that label has been done
        self.happened = {a: asyncio.Event() for a in scenario.actions()}
        self.recovery: list[dict[str, Any]] = []
        #: the actions begun, each to be awaited to its end
        self._doing: list[asyncio.Task[None]] = []
        self.stop = asyncio.Event()
        self.stopped_by = ""
        self.current = "steady"
        self.continuity: dict[str, Any] = {}
        self._receiving = True
        self.load_stopped = asyncio.Event()
        self.down: set[str] = set()
        #: power cuts so far, per region
        self.cuts: Counter[str] = Counter()
        self.frozen: set[str] = set()
        self.cut: set[str] = set()
        #: every task the run started, to cancel if the run itself is cancelled
        self._tasks: list[asyncio.Task[None]] = []
        #: what the platform's status said meanwhile (issue 13)
        self.watch = StatusWatch(
            self.url_of, self.recorder.now, lambda: self.down | self.frozen | self.cut
        )
        self._watching: asyncio.Task[None] | None = None

    @property
    def url_of(self) -> dict[str, str]:
        return {name: self.cluster.spec(name).url for name in self.cluster.names}

    async def run(self) -> None:
        duration = float(self.scenario.duration_s)
        people = [
            asyncio.create_task(
                scroll(
                    person,
                    self.setup.clients[person.name],
                    self.recorder,
                    self.setup.catalog,
                    rate=self.scenario.load.rate,
                    seed=self.scenario.seed,
                    stop=self.load_stopped,
                    deliveries=self.deliveries,
                    clip=lambda n: self.clips[n % len(self.clips)],
                )
            )
            for person in self.setup.population.people
        ]
        receivers = [
            asyncio.create_task(
                receive(
                    name,
                    self.setup.tokens[name],
                    self.setup.urls,
                    self.setup.population.by_name(name).home,
                    self.deliveries,
                    lambda: self._receiving,
                )
            )
            for name in self.setup.population.receivers
        ]
        faults = [asyncio.create_task(self._at(action)) for action in self.scenario.actions()]
        sampler = asyncio.create_task(self._continuity())
        scorer = asyncio.create_task(self._relevance())
        ticker = asyncio.create_task(self._tick())
        self._watching = asyncio.create_task(self.watch.run())
        self._tasks = [*people, *receivers, *faults, sampler, scorer, ticker, self._watching]
        cpu = time.process_time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=duration)
        self.load_stopped.set()
        self.watch.pages_watched = False  # the page is judged while the load runs
        self.cpu_s = time.process_time() - cpu
        self.wall_s = self.recorder.now()
        for task in [*faults, sampler, scorer, ticker]:
            task.cancel()
        await asyncio.gather(*faults, sampler, scorer, ticker, return_exceptions=True)
        await asyncio.gather(*self._doing, return_exceptions=True)
        # People finish what they were doing (each request has its deadline);
        # an aborted or interrupted run does not wait for them.
        _, late = await asyncio.wait(people, timeout=2 if self.stopped_by else 30)
        for task in late:
            task.cancel()
        await asyncio.gather(*people, return_exceptions=True)
        for op in self.recorder.ops:
            if op.outcome == "pending":
                op.outcome, op.ended, op.code = "unknown", self.recorder.now(), "cancelled"
        self.say("load stopped; power back everywhere, links healed")
        await self.restore_everything()
        for _ in range(int(_DELIVERY_GRACE_S / 0.2)):  # messages still on their way
            if not self.deliveries.waiting:
                break
            await asyncio.sleep(0.2)
        self._receiving = False
        for task in receivers:
            task.cancel()
        await asyncio.gather(*receivers, return_exceptions=True)
        for op in self.deliveries.waiting.values():  # acknowledged, never seen on the stream
            op.outcome, op.ended, op.code = "failed", self.wall_s, "not_delivered"
            self.recorder.ops.append(op)
        names = {url: name for name, url in self.url_of.items()}
        for op in self.recorder.ops:
            op.region = names.get(op.region, op.region)

    # -- faults --

    async def _at(self, action: Action) -> None:
        entry: dict[str, Any] = {
            "kind": action.kind,
            "region": action.region,
            "label": action.label,
            "planned_s": action.at_s,
            "actual_s": None,
        }
        self.timeline.append(entry)
        await asyncio.sleep(max(0.0, action.at_s - self.recorder.now()))
        entry["actual_s"] = round(self.recorder.now(), 3)
        self.current = action.label
        # Once begun, an action runs to its end even when the run stops
        # (a restore half done must not race the final restore).
        doing = asyncio.create_task(self._do(action, entry))
        self._doing.append(doing)
        try:
            await asyncio.shield(doing)
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
        self.happened[action].set()

    async def _do(self, action: Action, entry: dict[str, Any]) -> None:
        """Make ``action`` happen, and note in ``entry`` the evidence that it
        did: the exit status of each process a power cut killed (-9 is
        SIGKILL), the state of each process a freeze stopped (``T``)."""
        region = action.region or ""
        if action.kind == "power_cut":
            self.down.add(region)
            self.cuts[region] += 1
            killed = await asyncio.to_thread(self.cluster.kill, region)
            entry["killed"] = {str(pid): status for pid, status in killed.items()}
        elif action.kind == "power_restore":
            await self._restore(region, disks_lost=action.disks_lost, at=entry["actual_s"])
        elif action.kind == "freeze":
            self.frozen.add(region)
            await asyncio.to_thread(self.cluster.freeze, region)
            states = await asyncio.to_thread(self.cluster.states, region)
            entry["stopped"] = {str(pid): state for pid, state in states.items()}
        elif action.kind == "thaw":
            self.frozen.discard(region)
            await asyncio.to_thread(self.cluster.thaw, region)
        elif action.kind == "partition":
            self.cut.add(region)
            await asyncio.to_thread(self.proxy.cut, region)
        elif action.kind == "heal":
            self.cut.discard(region)
            await asyncio.to_thread(self.proxy.heal, region)
        elif action.kind == "wan" and action.between and action.rtt_ms is not None:
            a, b = action.between
            await asyncio.to_thread(self.proxy.set_rtt, a, b, action.rtt_ms)
        # grid_loss and generator_start are markers: the UPS carries the load

    async def _restore(self, region: str, *, disks_lost: bool, at: float) -> None:
        row: dict[str, Any] = {"region": region, "disks_lost": disks_lost, "seconds": None}
        self.recovery.append(row)
        cuts = self.cuts[region]
        try:
            health = await asyncio.to_thread(
                self.cluster.restore, region, wipe=disks_lost, timeout=180
            )
        except (RuntimeError, TimeoutError) as exc:
            if self.cuts[region] > cuts:  # flapping: cut again before it was back
                row["interrupted"] = True
            else:
                row["error"] = str(exc)
        else:
            row["seconds"] = round(self.recorder.now() - at, 2)
            row["split"] = recovery_split(health)
        finally:
            self.down.discard(region)

    async def cancel(self) -> None:
        """Stop every task of the run (it was cancelled: a second Ctrl-C)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.watch.close()

    async def status_report(self, report: dict[str, Any], out: Path) -> dict[str, Any]:
        """Tell the cluster what the drill did and measured, wait a little
        for its incidents to resolve, and say what the platform said of
        them (:mod:`stormproof.drill.status_watch`); then stop watching."""
        try:
            drill_id = await self.watch.report_drill(self.scenario.name, self.timeline, report)
            if not self.stopped_by:  # an aborted or interrupted run does not wait
                await self.watch.wait_resolved(self.timeline)
            return await self.watch.summary(self.timeline, out, drill_id)
        finally:
            if self._watching is not None:
                self._watching.cancel()
                await asyncio.gather(self._watching, return_exceptions=True)
            await self.watch.close()

    async def restore_everything(self) -> None:
        """Power back on everywhere, thaw, heal: the settle phase and Ctrl-C.
        An action still under way (a restore) ends first: two restores of
        one region would race for its ports."""
        await asyncio.gather(*self._doing, return_exceptions=True)
        for region in sorted(self.cut):
            await asyncio.to_thread(self.proxy.heal, region)
        self.cut.clear()
        for region in sorted(self.frozen):
            await asyncio.to_thread(self.cluster.thaw, region)
        self.frozen.clear()
        pending = [
            asyncio.to_thread(self.cluster.restore, name, timeout=180)
            for name in self.cluster.names
            if "api" not in self.cluster.pids(name)
        ]
        await asyncio.gather(*pending, return_exceptions=True)
        self.down.clear()
        for name in self.cluster.names:
            with contextlib.suppress(RuntimeError, TimeoutError):
                await asyncio.to_thread(self.cluster.wait_ready, name, 120)

    # -- For You continuity --

    def _first_blow(self) -> Action | None:
        blows = ("power_cut", "freeze", "partition")
        return next((a for a in self.scenario.actions() if a.kind in blows), None)

    async def _pages(self, urls: list[str], deadline: float) -> dict[str, list[str]]:
        """Each sample person's (and the newcomer's) For You page, top 20,
        from the first of ``urls`` that answers."""

        async def page(name: str) -> tuple[str, list[str] | None]:
            async with Client(urls, attempt_timeout=deadline, deadline=deadline) as c:
                c.token = self.setup.tokens[name]
                with contextlib.suppress(RegionsUnavailable, RequestFailed):
                    got = (await c.get("/v1/feed/for-you", params={"limit": 20})).json()
                    return name, [item["video"]["id"] for item in got["items"]]
            return name, None

        taken = await asyncio.gather(*(page(n) for n in [*self.setup.samples, "newcomer"]))
        return {name: ids for name, ids in taken if ids is not None}

    async def _continuity(self) -> None:
        """For You pages of the sample people from the region about to fail,
        as late as possible before the blow, and from a survivor after it."""
        blow = self._first_blow()
        if blow is None or blow.region is None:
            return
        target = self.url_of[blow.region]
        before: dict[str, list[str]] = {}
        # Once a second in the last seconds before it (each round is seven
        # rankings in the region about to fail: more would load it).
        while self.recorder.now() < blow.at_s - 0.3:
            if blow.at_s - self.recorder.now() < 4.0:
                taken = await self._pages([target], deadline=3.0)
                if self.recorder.now() < blow.at_s:  # all taken before the blow
                    before.update(taken)
            await asyncio.sleep(min(1.0, max(0.05, blow.at_s - 0.3 - self.recorder.now())))
        await self.happened[blow].wait()
        survivors = [url for url in self.setup.urls if url != target] or [target]
        after = await self._pages(survivors, deadline=120.0)
        self.continuity = continuity(before, after, self.setup.samples)

    async def _relevance(self) -> None:
        """Every half second, one sample person's For You page (in turn) from
        whichever region serves them, scored by their hidden taste: its top
        ten's share of videos in their taste. The samples watch nothing, so
        their pages change only with the system: a "reset" would show as a
        fall to the newcomer's level."""
        names = list(self.setup.samples)
        clients = {
            name: self.setup.client(i, attempt_timeout=1.0, deadline=5.0)
            for i, name in enumerate(names)
        }
        try:
            for name in itertools.cycle(names):
                client = clients[name]
                client.token = self.setup.tokens[name]
                with contextlib.suppress(RegionsUnavailable, RequestFailed):
                    page = await client.get("/v1/feed/for-you", params={"limit": 10})
                    topics = [
                        self.setup.catalog.topic_of.get(item["video"]["id"])
                        for item in page.json()["items"]
                    ]
                    score = relevance(self.setup.samples[name], topics)
                    self.recorder.served(int(self.recorder.now()), score)
                await asyncio.sleep(0.5)
        finally:
            for client in clients.values():
                await client.close()

    # -- each second --

    async def _tick(self) -> None:
        """Each second: tell the live view, and watch the stop condition —
        successful actions in the last second against the control window's
        rate, once the control window is over."""
        low_since: float | None = None
        abort = self.scenario.abort
        control, _ = windows(self.scenario, float(self.scenario.duration_s))
        control_rate: float | None = None
        while True:
            await asyncio.sleep(1.0)
            now = self.recorder.now()
            last = last_second(self.recorder.ops, now)
            if self.progress:
                self.progress(Snapshot(now, float(self.scenario.duration_s), self.current, last))
            if abort is None or now < control[1]:
                continue
            if control_rate is None:
                done = [op for op in self.recorder.ops if op.outcome == "ok"]
                in_control = sum(control[0] <= op.ended < control[1] for op in done)
                control_rate = in_control / max(control[1] - control[0], 1.0)
            ok = sum(good for good, _, _ in last.values())
            if control_rate > 0 and ok / control_rate < abort.min_success_ratio:
                low_since = now if low_since is None else low_since
                if now - low_since >= abort.for_s:
                    self.stopped_by = (
                        f"aborted at {now:.0f} s: successful actions below "
                        f"{abort.min_success_ratio:.0%} of the control's for {abort.for_s:g} s"
                    )
                    self.stop.set()
                    return
            else:
                low_since = None


# -- the whole drill -----------------------------------------------------------------------


@contextlib.contextmanager
def _folder(keep: bool) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="stormproof-drill-"))
    try:
        yield folder
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


async def run_drill(
    scenario: Scenario,
    *,
    out: Path,
    keep: bool = False,
    quick: bool = False,
    progress: Progress | None = None,
    say: Callable[[str], None] = lambda _: None,
    interrupted: asyncio.Event | None = None,
) -> DrillResult:
    """Run ``scenario`` and write its report to ``out``; see the module doc."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    with _folder(keep) as folder:
        if keep:
            say(f"cluster folder: {folder}")
        say("measuring the WAN proxy")
        overhead = await asyncio.to_thread(measure_overhead, 0.25)
        proxy = WanProxy.start()
        cluster = LocalCluster.create(
            folder / "cluster",
            len(scenario.regions),
            free_base_port(len(scenario.regions), wan=True),
            names=scenario.regions,
            wan=True,
        )
        cluster.env.update(CHEAP_PASSWORDS)
        cluster.env.update(STATUS_SETTINGS)
        # creators' credits in the postmortems, against the drill's short "month"
        cluster.env["STORMPROOF_SLA_IMPACT_PERIOD_S"] = str(scenario.sla_month_s)
        # No HLS ladder (ADR 028): its transcodes would share the 2 cores the
        # drill measures people's requests on; a drill tests the platform's
        # answers during a power cut, tests/test_cluster_hls.py the jobs'.
        cluster.env["STORMPROOF_TRANSCODE"] = "0"
        run: _Run | None = None
        setup: Setup | None = None

        def stop_if_interrupted() -> None:
            if interrupted is not None and interrupted.is_set():
                raise Interrupted("interrupted before the clock started: nothing to report")

        try:
            for link in cluster.wan_links():
                proxy.add_link(*link)
            for pair, rtt in scenario.rtts().items():
                a, b = sorted(pair)
                proxy.set_rtt(a, b, rtt)
            stop_if_interrupted()
            say(f"starting {len(scenario.regions)} regions")
            clips_made = asyncio.create_task(asyncio.to_thread(make_clips, folder, scenario.seed))
            await asyncio.to_thread(cluster.up, 120.0)
            load = scenario.load
            population = Population.make(
                viewers=load.viewers,
                creators=load.creators,
                regions=len(scenario.regions),
                seed=scenario.seed,
            )
            setup = Setup(cluster.urls, population, scenario.seed)
            # Enough videos that nobody runs out of their taste (a third of
            # the catalog) before the end, or relevance would fall for that.
            watched = scenario.duration_s * load.rate / ACTIONS_PER_VIDEO
            size = int(len(TOPICS) / 2 * (HISTORY + watched)) + 6
            stop_if_interrupted()
            say(f"{len(population.people)} people sign up; creators upload {size} videos")
            await setup.people(creators=True)
            clips = await clips_made
            await asyncio.gather(setup.people(creators=False), setup.catalog_(clips, size))
            setup.everyone_sees_the_catalog()
            stop_if_interrupted()
            say("everyone gets a short history")
            await setup.histories({p.name: p.tastes for p in population.people}, HISTORY - 2)
            await setup.histories(setup.samples, SAMPLE_HISTORY)
            stop_if_interrupted()
            run = _Run(scenario, cluster, proxy, setup, clips, progress, say)
            await run.watch.sign_in(cluster.operator)
            if interrupted is not None:
                asyncio.get_running_loop().create_task(_relay(interrupted, run))
            say("the clock starts")
            await run.run()
            say("reading every write back from every region")
            checked = await check_regions(
                run.url_of,
                run.recorder.ops,
                PASSWORD,
                baselines={("like", vid): n for vid, n in setup.likes.items()},
                concurrency=16,
            )
            say("comparing the regions' digests")
            digests = await asyncio.to_thread(cluster.digests, 60.0)
            say("reporting the drill to the cluster; its incidents and postmortems")
            status = await run.status_report(
                {"writes": checked["writes"], "for_you": run.continuity}, out
            )
        except BaseException:
            # Cancelled (a second Ctrl-C) or broken: no settling, straight to
            # stopping everything.
            if run is not None:
                await run.cancel()
            raise
        finally:
            for client in setup.clients.values() if setup else ():
                with contextlib.suppress(Exception):
                    await client.close()
            await asyncio.to_thread(cluster.down)
            proxy.close()
        assert run is not None
        duration = float(scenario.duration_s)
        per_second = aggregate(run.recorder.ops, duration)
        control, fault_window = windows(scenario, min(duration, run.wall_s))
        rep: dict[str, Any] = {
            "scenario": scenario.name,
            "description": scenario.description,
            "scenario_text": scenario.text,
            "seed": scenario.seed,
            "duration_s": duration,
            "quick": quick,
            "version": software_version(),
            "started_at": started_at,
            "regions": list(scenario.regions),
            "timeline": sorted(run.timeline, key=lambda e: e["planned_s"]),
            "intervals": [dataclasses.asdict(i) for i in scenario.intervals()],
            "ops": ops_table(per_second),
            "kpi": kpi(per_second, control, fault_window),
            "writes": {
                **checked["writes"],
                "failed_found": checked["overall"]["failed_found"],
                "unverifiable": checked["overall"]["unverifiable"],
                "unread": checked["overall"]["unread"],
                "details": checked["overall"]["details"],
                "per_region": {
                    name: {k: v[k] for k in ("lost", "duplicated", "unknown_found", "unread")}
                    for name, v in checked["regions"].items()
                },
            },
            "converged": digests["agree"] is True and not digests["left_out"],
            "region_digests": {n: d["views"] for n, d in digests["regions"].items()},
            "digest_position": digests["position"],
            "left_out": digests["left_out"],
            "recovery_s": run.recovery,
            "refused_codes": dict(
                Counter(
                    op.code
                    for op in run.recorder.ops
                    if op.kind in WRITE_KINDS and op.outcome != "ok" and op.code
                )
            ),
            "for_you": {
                **run.continuity,
                "relevance_before": mean_relevance(run.recorder, control),
                "relevance_during": mean_relevance(run.recorder, fault_window),
            },
            "status": status,
            "proxy_overhead": overhead,
            "load_cpu": {
                "cpu_s": round(run.cpu_s, 2),
                "share_of_one_core": round(run.cpu_s / max(run.wall_s, 1e-9), 3),
            },
            "series_extra": {
                "relevance": [_mean(run.recorder.relevance.get(s)) for s in range(int(duration))]
            },
        }
        rep["verdict"], rep["reasons"] = verdict(scenario, rep, run.stopped_by)
        say("writing the report")
        paths = write_report(rep, per_second, out)
        return DrillResult(rep, paths)


def _mean(values: list[float] | None) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


async def _relay(interrupted: asyncio.Event, run: _Run) -> None:
    """Ctrl-C: stop the load now; the drill settles and reports as usual."""
    await interrupted.wait()
    run.stopped_by = f"interrupted at {run.recorder.now():.0f} s (Ctrl-C)"
    run.stop.set()
