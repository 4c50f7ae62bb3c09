"""Typed settings, read once at the edge.

``Settings.from_env(os.environ)`` reads ``STORMPROOF_*`` variables; tests
build ``Settings(**values)`` directly. Per-region overrides
(``STORMPROOF_<REGION>_<NAME>``, region upper-cased with ``-`` as ``_``) win
over the global key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
)

from stormproof.logs import LogFormat

__all__ = ["Settings"]


_TIER = r"(100|[1-9]?[0-9])(\.[0-9]{1,3})?:(100|[1-9][0-9]?)"
#: the SLA's credit tiers: UPTIME%:CREDIT%, comma-separated
_TIERS = f"^{_TIER}(,{_TIER})*$"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path("var")
    region: str = "local"
    #: this region's place in the cluster: the log partition it writes to first
    region_index: int = 0
    #: "sqlite" (one machine) or "jetstream" (a cluster of regions)
    log_backend: Literal["sqlite", "jetstream"] = "sqlite"
    #: every region's NATS client URL, in region order (jetstream only)
    nats_urls: tuple[str, ...] = ()
    #: the token-signing secret; regions of one cluster share one file
    secret_file: Path | None = None
    max_upload_bytes: int = 256 * 1024 * 1024
    max_duration_ms: int = 10 * 60 * 1000
    session_ttl_s: int = 30 * 24 * 3600
    min_seq_wait_s: float = 2.0
    #: Argon2id memory per password hash, KiB (pwdlib's recommended 64 MiB)
    password_cost: int = Field(default=2**16, ge=64)
    #: Argon2id passes per password hash (pwdlib's recommended 3)
    password_time_cost: int = Field(default=3, ge=1)
    # Rate limits, per region and in memory (ADR 012): N per window, refilled evenly.
    #: failed log-ins (and password checks) per username; a locked name refuses even
    #: the right password until the window refills
    login_failures_per_account: int = Field(default=10, ge=1)
    login_failures_window_s: float = Field(default=15 * 60, gt=0)
    #: log-in attempts per client address
    logins_per_address: int = Field(default=30, ge=1)
    logins_window_s: float = Field(default=60, gt=0)
    #: sign-up attempts per client address
    signups_per_address: int = Field(default=5, ge=1)
    signups_window_s: float = Field(default=3600, gt=0)
    #: writes per person: a sustained rate and a burst
    writes_per_s: float = Field(default=20, gt=0)
    writes_burst: int = Field(default=100, ge=1)
    #: keys (names, addresses, people) each limit remembers at most
    rate_limit_keys: int = Field(default=100_000, ge=1)
    comment_max_chars: int = 500
    message_max_chars: int = 2000
    caption_max_chars: int = 2200
    events_batch_max: int = 500
    #: the For You engine saves a checkpoint this often (seconds) when it changed
    checkpoint_every_s: float = 60.0
    #: and sooner once it applied this many log entries past the last one:
    #: a restart replays at most about that many (most saves are deltas of
    #: what changed, tenths of a second: ADR 032)
    checkpoint_every_entries: int = Field(default=1_500, ge=1)
    #: but never within this many seconds of the last save
    checkpoint_gap_s: float = Field(default=0.5, ge=0)
    #: a catch-up at least this many log entries behind applies the views in
    #: a process of its own, while the For You engine follows them in this
    #: one: on two cores, a rebuild takes the longer of the two, not their sum
    views_apart_after: int = Field(default=50_000, ge=1)

    # Limits at the edge: every request's work is bounded before our code runs.
    #: a request's line and headers together (answered 431 past it)
    max_head_bytes: int = 32 * 1024
    #: a request body other than an upload (answered 413 past it)
    max_json_bytes: int = 256 * 1024
    #: live message streams one person may hold open in this region
    max_streams_per_user: int = 4
    #: serve the interactive API documentation at /docs (assets served locally)
    docs: bool = True

    # Resumable uploads (tus, ADR 027); an upload's length is capped by max_upload_bytes.
    #: one PATCH's body (answered 413 past it): tus clients must send chunks this small
    upload_chunk_max_bytes: PositiveInt = 32 * 1024 * 1024
    #: chunks one upload may have; many tiny PATCHes would make its offset costly to read
    upload_max_chunks: PositiveInt = 4096
    #: an upload not finished this long after it began expires, and its chunks go
    upload_expiry_s: PositiveFloat = 24 * 3600.0
    #: uploads one person may have under way at once (answered 429 past it)
    uploads_open_per_user: PositiveInt = 5
    #: how often each region ends expired uploads and removes their chunks (0: never)
    upload_sweep_every_s: NonNegativeFloat = 60.0
    #: how long the chunks of an upload stay after it became a video (seconds): a
    #: region still behind the video's event may be joining them to finish it
    upload_chunks_kept_s: NonNegativeFloat = 3600.0

    # Logs (ADR 022), as `stormproof serve` and a cluster's regions write them
    # to stderr; a program embedding a region keeps its own logging set-up.
    #: "json": one JSON object per line; "plain": text for people; "auto":
    #: plain on a terminal, JSON otherwise (a file, a pipe, journald, a container)
    log_format: LogFormat = "auto"
    #: the least severe records written: "info" has a line per request and per
    #: change of state; "warning" only what needs a look
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: one line per HTTP request (metrics count requests either way)
    log_requests: bool = True

    # Recovery from a peer's snapshot (ADR 017).
    #: the other regions' API base URLs, in the order they are asked for a
    #: snapshot when this region's views are gone
    peers: tuple[str, ...] = ()
    #: ask peers only when the log holds more entries than this (all partitions
    #: together): a shorter log is rebuilt about as fast
    restore_min_entries: NonNegativeInt = 10_000
    #: a snapshot made less than this long ago (seconds) is handed out again
    snapshot_reuse_s: float = Field(default=30.0, ge=0)
    #: make a snapshot this often (seconds) while ready, so that a peer that
    #: lost its disks finds one made and waits only for the download; 0: only
    #: when a peer asks. One made ahead is handed out until the next replaces it.
    #: A region with none it can hand out (its first start, or one made before
    #: the format changed) whose views applied more than ``restore_min_entries``
    #: makes its first ``snapshot_gap_s`` after it is ready.
    snapshot_every_s: float = Field(default=0.0, ge=0)
    #: with ``snapshot_every_s``, make one sooner once the views applied this
    #: many log entries past the last one (0: time only), though not within
    #: ``snapshot_gap_s`` of it (nor within twice the time the last took to
    #: make: tens of seconds of a core at a million entries); what a
    #: restoring peer replays after its download is then bounded by entries
    snapshot_every_entries: NonNegativeInt = 0
    snapshot_gap_s: float = Field(default=60.0, ge=0)
    #: how long a peer may take to make a snapshot, and a download may stall (seconds)
    snapshot_timeout_s: PositiveFloat = 600.0

    # Status from the log (ADR 020): every region checks every region the way
    # a person would.
    #: this region's own API base URL, as its prober (and people) reach it;
    #: empty: not known, and the prober checks only ``peers``
    url: str = ""
    #: the regions' names at ``peers``, in the same order; a peer left unnamed
    #: is named by its own health answer once it gave one
    peer_names: tuple[str, ...] = ()
    #: one probe round this often (seconds; rounds start at multiples of it in
    #: unix time, so every region's rounds line up); 0: no probing
    probe_every_s: float = Field(default=10.0, ge=0, le=3600)
    #: how long one check may take before it counts as failed (``timeout``)
    probe_timeout_s: PositiveFloat = 2.0
    #: an upload check runs every this many rounds (it costs a media worker)
    probe_upload_every_rounds: PositiveInt = 30
    #: how long an upload check may take
    probe_upload_timeout_s: PositiveFloat = 10.0
    #: people remembered for the count of those served in the last 15
    #: minutes; past it the count is a floor
    active_people_max: PositiveInt = 100_000
    #: a write acknowledged on an attempt that began this long or more after
    #: its client first sent it (its ``Stormproof-Write-At``) counts as
    #: delayed in the request counts probes record (ADR 025)
    write_delayed_after_s: PositiveFloat = 2.0
    #: a component of a region is down after this many failing rounds in a
    #: row, and back after this many passing ones (the flap guard); the
    #: status page applies them when read: give every region the same values,
    #: or their pages differ
    probe_fail_rounds: PositiveInt = 3
    probe_pass_rounds: PositiveInt = 2
    #: a creator's view qualifies when watched this long (ms) or to the end
    #: (issue 15); applied when the studio is read, never stored: give every
    #: region the same value, or their studios answer differently (ADR 030)
    studio_qualified_ms: int = Field(default=5000, ge=0, le=24 * 3600 * 1000)
    #: what a creator earns per 1,000 qualified views, in millionths of
    #: ``ledger_currency`` (ADR 031), before the first rate an operator set
    #: (``earnings.rate_set``, from then on the log decides); applied when
    #: the ledger is read: give every region the same value
    earnings_rate_micros: int = Field(default=500_000, ge=0, le=10**12)
    ledger_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    #: the creator SLA's credit tiers, UPTIME%:CREDIT% (ADR 031)
    sla_tiers: str = Field(default="99.9:10,99:25,95:100", pattern=_TIERS)
    #: a month closes (its credit is posted) this long after it ended, and
    #: each region's closer looks for months to close this often (0: never)
    sla_close_after_s: NonNegativeFloat = 3600.0
    sla_close_every_s: NonNegativeFloat = 60.0
    #: a postmortem's creator credits are computed against a period this
    #: long from the incident's start: a month; a drill sets a few minutes
    sla_impact_period_s: float = Field(default=30 * 86400.0, ge=60, le=366 * 86400)
    #: an open automatic incident gets an update with figures at least this
    #: often (seconds; ADR 021); the judge runs when probing does
    incident_update_every_s: PositiveFloat = 300.0
    #: an automatic incident in monitoring resolves once its components
    #: stayed up this long (seconds)
    incident_quiet_s: NonNegativeFloat = 300.0

    # Webhooks (ADR 024): every incident and maintenance update, signed, sent
    # by one region at a time, recorded in the log once delivered.
    #: one attempt's whole time, connection to answer (seconds)
    webhook_timeout_s: PositiveFloat = 10.0
    #: attempts per update and webhook before giving up (``webhook.failed``)
    webhook_attempts: int = Field(default=8, ge=1, le=50)
    #: the wait after the first failed attempt, doubled after each (half of
    #: it random), at most ``webhook_backoff_max_s``
    webhook_backoff_s: PositiveFloat = 2.0
    webhook_backoff_max_s: PositiveFloat = 600.0
    #: no attempt starts later than this after the first (seconds)
    webhook_give_up_s: PositiveFloat = 3600.0
    #: requests in flight at once, all webhooks together
    webhook_concurrency: PositiveInt = 4
    #: of a receiver's answer, read at most this much
    webhook_response_max_bytes: PositiveInt = 64 * 1024
    #: whether webhooks may point at loopback, private or link-local addresses;
    #: on for self-hosting (receivers on the same network), off where the
    #: regions can reach what an operator should not (see status/webhooks/targets.py)
    webhook_allow_private: bool = True
    #: how often the deliverer looks for updates owed (seconds)
    webhook_poll_s: PositiveFloat = 1.0
    #: webhooks the platform keeps at most
    webhooks_max: PositiveInt = 100

    @field_validator("nats_urls", "peers", "peer_names", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``STORMPROOF_NATS_URLS=nats://a:4222,nats://b:4222`` in the environment
        (``STORMPROOF_PEERS`` and ``STORMPROOF_PEER_NAMES`` alike)."""
        if isinstance(value, str):
            return tuple(url.strip() for url in value.split(",") if url.strip())
        return value

    @field_validator("probe_every_s")
    @classmethod
    def _whole_probe_period(cls, value: float) -> float:
        """A round is a slot of whole milliseconds, a second at least (or 0: off)."""
        if value and (value < 1 or value * 1000 != int(value * 1000)):
            raise ValueError("probe_every_s is 0 (off) or at least 1, in whole milliseconds")
        return value

    # Bounded media work (ADR 010): what probing and thumbnailing one upload may
    # cost, and the worker processes that do it apart from the server's threads.
    # Sized for phone video: 4K (3840x2160, portrait or landscape) and 120 fps
    # slow motion pass; 10 minutes at 120 fps plus an audio packet every 20 ms
    # is 102,000 packets.
    #: packets read from a file, every stream counted (too_many_frames)
    media_max_packets: PositiveInt = 102_000
    #: video frames per second, averaged over the video, one second at least
    media_max_fps: PositiveFloat = 120.0
    #: width x height of the picture (picture_too_large)
    media_max_pixels: PositiveInt = 4096 * 2304
    #: the longer side of the picture (picture_too_large)
    media_max_side: PositiveInt = 4096
    #: wall-clock seconds one upload's probe and thumbnail may take (video_too_complex)
    media_decode_timeout_s: PositiveFloat = 20.0
    #: worker processes doing that work, each one core's worth
    media_workers: PositiveInt = 1
    #: uploads that may wait for a worker; one more is answered 503 media_busy
    media_max_waiting: NonNegativeInt = 8
    #: a worker's address space (RLIMIT_AS); ~250 MiB of it is the interpreter
    media_worker_memory_bytes: PositiveInt = 1024 * 1024 * 1024

    # The HLS ladder and its transcoding jobs (ADR 028).
    #: make an HLS rendition ladder of every new video (the original plays meanwhile)
    transcode: bool = True
    #: the rungs, by the picture's short side in pixels; none above the source's
    hls_rungs: tuple[int, ...] = (360, 540, 720, 1080)
    #: a segment's length in seconds: every rung has a keyframe at each multiple
    hls_segment_s: float = Field(default=2.0, ge=1.0, le=10.0)
    #: transcodes this region runs at once (each a low-priority process)
    transcode_workers: PositiveInt = 1
    #: a job not acknowledged or reported in progress this long goes to another worker
    transcode_ack_wait_s: PositiveFloat = 30.0
    #: deliveries of one job before its rung is marked failed (``gave_up``)
    transcode_max_deliver: int = Field(default=4, ge=1, le=100)
    #: wall-clock seconds one rung may take, per second of video (at least a minute)
    transcode_timeout_per_s: PositiveFloat = 10.0
    #: a transcoding process's address space (RLIMIT_AS)
    transcode_memory_bytes: PositiveInt = 2 * 1024 * 1024 * 1024
    #: how often each region looks for rungs to queue and videos to plan (seconds)
    transcode_poll_s: PositiveFloat = 0.5

    @field_validator("hls_rungs", mode="before")
    @classmethod
    def _rungs(cls, value: object) -> object:
        """``STORMPROOF_HLS_RUNGS=360,720`` in the environment."""
        if isinstance(value, str):
            return tuple(int(rung) for rung in value.split(",") if rung.strip())
        return value

    @field_validator("hls_rungs")
    @classmethod
    def _even_rungs(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or len(value) > 8 or any(r < 16 or r > 4096 or r % 2 for r in value):
            raise ValueError("hls_rungs are 1 to 8 even sizes from 16 to 4096 pixels")
        return tuple(sorted(set(value)))

    @property
    def log_path(self) -> Path:
        return self.data_dir / "log.sqlite"

    @property
    def views_path(self) -> Path:
        return self.data_dir / "views.sqlite"

    @property
    def checkpoint_path(self) -> Path:
        return self.data_dir / "foryou.checkpoint"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def secret_path(self) -> Path:
        return self.secret_file or self.data_dir / "secret"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> Settings:
        """Build settings from ``STORMPROOF_*`` variables; ``overrides`` win."""
        region = str(overrides.get("region") or environ.get("STORMPROOF_REGION", "local"))
        regional = "STORMPROOF_" + region.upper().replace("-", "_") + "_"
        values: dict[str, object] = {}
        for name in cls.model_fields:
            for key in (regional + name.upper(), "STORMPROOF_" + name.upper()):
                if key in environ:
                    values[name] = environ[key]
                    break
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
