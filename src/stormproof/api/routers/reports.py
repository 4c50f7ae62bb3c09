"""Report a video or a comment to the operators."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel, Field

from stormproof.actions import safety
from stormproof.api.deps import Caller, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.api.schemas import Written
from stormproof.events import REPORT_REASONS, REPORT_TARGETS

router = api_router(prefix="/v1/reports", tags=["reports"])


class ReportIn(BaseModel):
    """The schema states the rules; the action checks them itself, so a
    breach answers 422 with ``invalid_target``, ``invalid_reason`` or
    ``note_too_long``."""

    target: str = Field(max_length=20, json_schema_extra={"enum": list(REPORT_TARGETS)})
    id: str = Field(max_length=200)
    reason: str = Field(max_length=50, json_schema_extra={"enum": list(REPORT_REASONS)})
    note: str = Field("", max_length=10_000)


class ReportOut(Written):
    id: str
    target: str
    target_id: str
    reason: str
    note: str
    at: int


@router.post("", status_code=201)
async def report(
    body: ReportIn, region: RegionDep, caller: Caller, response: Response, when: When
) -> ReportOut:
    """One report per person per video or comment: reporting it again
    answers with the first report."""
    written = await safety.file_report(
        region, caller.user_id, body.target, body.id, body.reason, body.note, when=when
    )
    filed = written.payload
    return ReportOut(
        seq=acknowledge(response, region, written),
        id=filed.report_id,
        target=filed.target,
        target_id=filed.target_id,
        reason=filed.reason,
        note=filed.note,
        at=written.event.at,
    )
