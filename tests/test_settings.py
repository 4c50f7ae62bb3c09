"""Settings are read once from the environment; per-region keys win."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from stormproof.settings import Settings


def test_from_env_with_region_overrides() -> None:
    environ = {
        "STORMPROOF_REGION": "us-east",
        "STORMPROOF_MAX_UPLOAD_BYTES": "1000",
        "STORMPROOF_US_EAST_MAX_UPLOAD_BYTES": "2000",
        "STORMPROOF_SESSION_TTL_S": "60",
        "UNRELATED": "x",
    }
    settings = Settings.from_env(environ, data_dir=Path("/tmp/d"))
    assert settings.region == "us-east"
    assert settings.max_upload_bytes == 2000
    assert settings.session_ttl_s == 60
    assert settings.log_path == Path("/tmp/d/log.sqlite")
    other = Settings.from_env(environ, region="us-west")
    assert other.max_upload_bytes == 1000


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings.from_env({"STORMPROOF_MAX_UPLOAD_BYTES": "lots"})
    with pytest.raises(ValidationError):
        Settings(unknown_setting=1)  # type: ignore[call-arg]


def test_replicated_mode_is_configurable_from_the_environment() -> None:
    # Guards: a region started on its own host reads its peers from the environment.
    settings = Settings.from_env(
        {
            "STORMPROOF_LOG_BACKEND": "jetstream",
            "STORMPROOF_NATS_URLS": "nats://10.0.0.1:4222, nats://10.0.0.2:4222,nats://10.0.0.3:4222",
            "STORMPROOF_REGION_INDEX": "2",
            "STORMPROOF_PEERS": "http://10.0.0.1:8100, http://10.0.0.2:8100",
        }
    )
    assert settings.log_backend == "jetstream" and settings.region_index == 2
    assert settings.peers == ("http://10.0.0.1:8100", "http://10.0.0.2:8100")
    assert settings.nats_urls == (
        "nats://10.0.0.1:4222",
        "nats://10.0.0.2:4222",
        "nats://10.0.0.3:4222",
    )


def test_probing_is_configurable_and_its_period_a_whole_slot() -> None:
    # Guards: a round is a slot of whole milliseconds, a second at least
    # (what a probes.recorded event may hold), or probing is off.
    settings = Settings.from_env(
        {
            "STORMPROOF_URL": "http://10.0.0.1:8100",
            "STORMPROOF_PEERS": "http://10.0.0.2:8100,http://10.0.0.3:8100",
            "STORMPROOF_PEER_NAMES": "us-central, us-west",
            "STORMPROOF_PROBE_EVERY_S": "2.5",
        }
    )
    assert settings.url == "http://10.0.0.1:8100"
    assert settings.peer_names == ("us-central", "us-west")
    assert settings.probe_every_s == 2.5 and Settings().probe_every_s == 10
    assert Settings(probe_every_s=0).probe_every_s == 0
    for bad in (0.5, 1.0001, 3601):
        with pytest.raises(ValidationError):
            Settings(probe_every_s=bad)
