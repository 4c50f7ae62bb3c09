"""Creators: what the platform owes the people who make its videos — their
analytics first (issue 15; ADR 030). Reads the views, never writes the log
itself; depends on the views, never the other way."""

from __future__ import annotations

from stormproof.creators.analytics import (
    MAX_DAYS,
    RETENTION_STEPS,
    DayRange,
    Figures,
    Sources,
    VideoReport,
    day_range,
    overview,
    video_report,
)

__all__ = [
    "MAX_DAYS",
    "RETENTION_STEPS",
    "DayRange",
    "Figures",
    "Sources",
    "VideoReport",
    "day_range",
    "overview",
    "video_report",
]
