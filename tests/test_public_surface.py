"""The packages others import expose exactly what we meant."""

from __future__ import annotations

import importlib

import pytest

SURFACES = {
    "stormproof.errors": {
        "StormproofError", "BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict",
        "PayloadTooLarge", "Unprocessable", "TooManyRequests", "Unavailable", "LogError",
        "BlobError",
    },
    "stormproof.log": {
        "Entry", "Log", "Position", "event_id_for", "follow", "from_token", "to_token"
    },
    "stormproof.blobs": {"BlobStore", "blob_id_of", "checked_blob_id"},
    "stormproof.replicated": {"Replicated"},
    "stormproof.views": {"View", "all_views"},
    "stormproof.api": {"create_app"},
    "stormproof.logs": {
        "FIELDS", "REGION", "REQUEST_ID", "JsonFormatter", "LogFormat", "PlainFormatter",
        "configure_logs", "fields_of", "log_event",
    },
    "stormproof.metrics": {
        "APPEND_BUCKETS", "METHODS", "PROBE_ROUND_OUTCOMES", "REQUEST_BUCKETS", "Metrics",
        "RoundOutcome", "method_label", "status_class",
    },
    "stormproof.drill": {
        "DrillResult", "Op", "Scenario", "ScenarioError", "builtin_scenarios", "load_scenario",
        "run_drill",
    },
    "stormproof.snapshots": {
        "Manifest", "Rejection", "RestoreReport", "SnapshotError", "Snapshots",
        "restore_from_peers",
    },
    "stormproof.status": {
        "STATES", "ComponentStatus", "Page", "Prober", "ProberStatus", "RegionStatus", "State",
        "Traffic", "read_page",
    },
    "stormproof.media": {
        "VideoInfo", "probe", "thumbnail", "make_video", "InvalidVideo", "VideoTooLong",
        "MediaLimits", "TooManyFrames", "FrameRateTooHigh", "PictureTooLarge",
        "VideoTooComplex", "MediaPool", "MediaBusy", "Examined",
    },
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(SURFACES))
def test_public_surface(module: str) -> None:
    imported = importlib.import_module(module)
    assert set(imported.__all__) == SURFACES[module]
    for name in imported.__all__:
        assert hasattr(imported, name)


def test_foreign_errors_do_not_cross_the_boundary() -> None:
    from stormproof import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.StormproofError)
