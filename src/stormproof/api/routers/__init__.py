"""The API's routes, a module per area; ``api/app.py`` puts them together."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter

from stormproof.api.schemas import ERRORS

__all__ = ["api_router"]


def api_router(prefix: str = "", tags: list[str | Enum] | None = None) -> APIRouter:
    """A router whose routes carry their whole path and document the errors
    any operation may answer (:data:`~stormproof.api.schemas.ERRORS`): the
    app takes its routes as they are (``api/app.py``), not through
    ``include_router``, which would build every route a second time for
    the app on its first requests."""
    return APIRouter(prefix=prefix, tags=tags, responses=ERRORS)
