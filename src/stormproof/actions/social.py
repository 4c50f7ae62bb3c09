"""Interactions, comments, follows and direct messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from pydantic import ValidationError

from stormproof.actions import NOW, WriteTime, Written, derived_id, log_key, prior, write
from stormproof.errors import Forbidden, NotFound, Unprocessable
from stormproof.events import (
    CommentDeleted,
    CommentPosted,
    FollowStarted,
    FollowStopped,
    ForYouReset,
    Interaction,
    InteractionsRecorded,
    InteractionType,
    MessageSent,
    is_system,
)
from stormproof.region import Region
from stormproof.views import accounts, blocks, comments, videos

__all__ = [
    "INTERACTION_TYPES",
    "delete_comment",
    "follow",
    "parse_interactions",
    "post_comment",
    "record_interactions",
    "require_user",
    "reset_for_you",
    "send_message",
    "unfollow",
]

INTERACTION_TYPES: tuple[str, ...] = get_args(InteractionType)


def parse_interactions(raw: Sequence[Any], batch_max: int) -> list[Interaction]:
    if not raw:
        raise Unprocessable("a batch holds at least one event", code="empty_batch")
    if len(raw) > batch_max:
        raise Unprocessable(f"a batch holds at most {batch_max} events", code="batch_too_large")
    items = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise Unprocessable(f"events[{index}] is not an object", code="invalid_event")
        if item.get("type") not in INTERACTION_TYPES:
            raise Unprocessable(
                f"events[{index}]: unknown type {item.get('type')!r}; "
                f"known: {', '.join(INTERACTION_TYPES)}",
                code="unknown_event_type",
                index=index,
            )
        try:
            parsed = Interaction.model_validate(item)
        except ValidationError as exc:
            raise Unprocessable(
                f"events[{index}]: {exc.errors()[0]['msg']}", code="invalid_event", index=index
            ) from exc
        items.append(parsed)
    return items


async def record_interactions(
    region: Region,
    user_id: str,
    raw: Sequence[Any],
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[InteractionsRecorded]:
    """Record a batch of interactions: accepted whole or rejected whole."""
    key = log_key(user_id, "events", idempotency_key)
    items = parse_interactions(raw, region.settings.events_batch_max)
    if done := await prior(region, key, InteractionsRecorded, lambda p: p.items == tuple(items)):
        return done
    wanted = sorted({item.video_id for item in items})
    known = await region.store.query(lambda db: [v for v in wanted if videos.video(db, v)])
    if missing := sorted(set(wanted) - set(known)):
        raise Unprocessable(f"no such video: {missing[0]}", code="unknown_video")
    return await write(
        region, key, InteractionsRecorded(items=tuple(items)), actor=user_id, when=when
    )


async def _require_video(region: Region, video_id: str) -> videos.Video:
    found = await region.store.query(lambda db: videos.video(db, video_id))
    if found is None:
        raise NotFound(f"no video {video_id}", code="video_not_found")
    return found


async def require_user(region: Region, username: str) -> accounts.Account:
    """The live account named ``username``, or 404."""
    found = await region.store.query(lambda db: accounts.account_by_name(db, username))
    if found is None or found.deleted:
        raise NotFound(f"no user {username!r}", code="user_not_found")
    return found


def _text(text: str, limit: int, what: str) -> str:
    text = text.strip()
    if not text:
        raise Unprocessable(f"a {what} cannot be empty", code=f"empty_{what}")
    if len(text) > limit:
        raise Unprocessable(f"a {what} has at most {limit} characters", code=f"{what}_too_long")
    return text


async def post_comment(
    region: Region,
    user_id: str,
    video_id: str,
    text: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[CommentPosted]:
    key = log_key(user_id, f"comment:{video_id}", idempotency_key)
    text = _text(text, region.settings.comment_max_chars, "comment")
    if done := await prior(region, key, CommentPosted, lambda p: p.text == text):
        return done
    await _require_video(region, video_id)
    payload = CommentPosted(comment_id=derived_id("c_", key), video_id=video_id, text=text)
    return await write(region, key, payload, actor=user_id, when=when)


async def delete_comment(
    region: Region,
    user_id: str,
    comment_id: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[CommentDeleted]:
    key = log_key(user_id, f"uncomment:{comment_id}", idempotency_key)
    if done := await prior(region, key, CommentDeleted):
        return done
    found = await region.store.query(lambda db: comments.comment(db, comment_id))
    if found is None:
        raise NotFound(f"no comment {comment_id}", code="comment_not_found")
    if found.author_id != user_id:
        raise Forbidden("only its author can delete a comment", code="not_author")
    return await write(region, key, CommentDeleted(comment_id=comment_id), actor=user_id, when=when)


async def _refuse_if_blocked(region: Region, user_id: str, other_id: str, what: str) -> None:
    """403 ``blocked`` when a block stands between the two, either way."""
    if await region.store.query(lambda db: blocks.between(db, user_id, other_id)):
        raise Forbidden(f"you cannot {what} this user: a block stands between you", code="blocked")


async def follow(
    region: Region,
    user_id: str,
    username: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[FollowStarted]:
    key = log_key(user_id, f"follow:{username.lower()}", idempotency_key)
    if done := await prior(region, key, FollowStarted):
        return done
    target = await require_user(region, username)
    if target.user_id == user_id:
        raise Unprocessable("you cannot follow yourself", code="cannot_follow_self")
    if is_system(target.user_id):  # the views would not keep it (ADR 020)
        raise Unprocessable(
            "this is one of the platform's own accounts, which nobody follows",
            code="cannot_follow_system",
        )
    await _refuse_if_blocked(region, user_id, target.user_id, "follow")
    return await write(
        region, key, FollowStarted(followee_id=target.user_id), actor=user_id, when=when
    )


async def unfollow(
    region: Region,
    user_id: str,
    username: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[FollowStopped]:
    key = log_key(user_id, f"unfollow:{username.lower()}", idempotency_key)
    if done := await prior(region, key, FollowStopped):
        return done
    target = await require_user(region, username)
    return await write(
        region, key, FollowStopped(followee_id=target.user_id), actor=user_id, when=when
    )


async def send_message(
    region: Region,
    user_id: str,
    to: str,
    text: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[MessageSent]:
    key = log_key(user_id, "message", idempotency_key)
    text = _text(text, region.settings.message_max_chars, "message")
    target = await require_user(region, to)
    if done := await prior(
        region, key, MessageSent, lambda p: (p.to_id, p.text) == (target.user_id, text)
    ):
        return done
    if target.user_id == user_id:
        raise Unprocessable("you cannot message yourself", code="cannot_message_self")
    await _refuse_if_blocked(region, user_id, target.user_id, "message")
    payload = MessageSent(message_id=derived_id("m_", key), to_id=target.user_id, text=text)
    return await write(region, key, payload, actor=user_id, when=when)


async def reset_for_you(
    region: Region, user_id: str, *, idempotency_key: str | None, when: WriteTime = NOW
) -> Written[ForYouReset]:
    """Start the user's For You over."""
    key = log_key(user_id, "foryou-reset", idempotency_key)
    if done := await prior(region, key, ForYouReset):
        return done
    return await write(region, key, ForYouReset(), actor=user_id, when=when)
