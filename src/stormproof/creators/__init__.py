"""Creators: what the platform owes the people who make its videos — their
analytics (issue 15; ADR 030), their earnings ledger and the SLA credits it
pays when the platform fails them (ADR 031). Computed from the views when
read; only the monthly closer (``closer.py``) writes, through an action.
Depends on the views and actions, never the other way."""

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
