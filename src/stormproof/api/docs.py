"""``/docs``: the interactive API documentation, served with local assets.

FastAPI's default page loads Swagger UI from a public CDN, so it is blank on
a machine without internet — exactly where a self-hosted region may run —
and it lets a third party's script run on the API's origin. Here the page
loads Swagger UI from the ``swagger-ui-py`` package's copy, served by the
region itself (``/docs/assets``), and the edge's Content-Security-Policy
allows nothing else.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_docs"]


def _assets() -> Path:
    """Swagger UI's files in the installed ``swagger_ui`` package, found
    without importing it (its import wires up web frameworks we do not use)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def mount_docs(app: FastAPI) -> None:
    app.mount("/docs/assets", StaticFiles(directory=_assets()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )
