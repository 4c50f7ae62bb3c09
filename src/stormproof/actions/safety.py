"""Blocks and reports: what a person can do about someone else's behaviour."""

from __future__ import annotations

from stormproof.actions import NOW, WriteTime, Written, derived_id, log_key, prior, write
from stormproof.actions.social import require_user
from stormproof.errors import NotFound, Unprocessable
from stormproof.events import (
    REPORT_REASONS,
    REPORT_TARGETS,
    BlockStarted,
    BlockStopped,
    ReportFiled,
)
from stormproof.region import Region
from stormproof.views import comments, videos

__all__ = ["MAX_REPORT_NOTE", "block", "file_report", "unblock"]

#: a report's note is at most this long
MAX_REPORT_NOTE = 1000


async def block(
    region: Region,
    user_id: str,
    username: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[BlockStarted]:
    key = log_key(user_id, f"block:{username.lower()}", idempotency_key)
    if done := await prior(region, key, BlockStarted):
        return done
    target = await require_user(region, username)
    if target.user_id == user_id:
        raise Unprocessable("you cannot block yourself", code="cannot_block_self")
    return await write(
        region, key, BlockStarted(blocked_id=target.user_id), actor=user_id, when=when
    )


async def unblock(
    region: Region,
    user_id: str,
    username: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[BlockStopped]:
    key = log_key(user_id, f"unblock:{username.lower()}", idempotency_key)
    if done := await prior(region, key, BlockStopped):
        return done
    target = await require_user(region, username)
    return await write(
        region, key, BlockStopped(blocked_id=target.user_id), actor=user_id, when=when
    )


async def file_report(
    region: Region,
    user_id: str,
    target: str,
    target_id: str,
    reason: str,
    note: str,
    *,
    when: WriteTime = NOW,
) -> Written[ReportFiled]:
    """Report a live video or comment. The log key derives from (reporter,
    target, id), not from an Idempotency-Key: reporting the same thing again
    answers with the first report and appends nothing."""
    if target not in REPORT_TARGETS:
        raise Unprocessable(
            f"a report's target is one of: {', '.join(REPORT_TARGETS)}", code="invalid_target"
        )
    key = log_key(user_id, "report", f"{target}:{target_id}")
    if done := await prior(region, key, ReportFiled):
        return done
    if reason not in REPORT_REASONS:
        raise Unprocessable(
            f"a report's reason is one of: {', '.join(REPORT_REASONS)}", code="invalid_reason"
        )
    note = note.strip()
    if len(note) > MAX_REPORT_NOTE:
        raise Unprocessable(
            f"a report's note has at most {MAX_REPORT_NOTE} characters", code="note_too_long"
        )
    find = videos.video if target == "video" else comments.comment
    if await region.store.query(lambda db: find(db, target_id)) is None:
        raise NotFound(f"no {target} {target_id}", code=f"{target}_not_found")
    payload = ReportFiled(
        report_id=derived_id("r_", key),
        target=target,  # type: ignore[arg-type]
        target_id=target_id,
        reason=reason,  # type: ignore[arg-type]
        note=note,
    )  # a note no event may hold (a NUL) raises pydantic's error: the API answers 422
    return await write(region, key, payload, actor=user_id, when=when)
