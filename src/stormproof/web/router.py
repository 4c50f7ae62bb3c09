"""``GET /`` and the app's other screens, its static files, and
``GET /v1/regions``: the web app as every region serves it.

The app is built by ``scripts/env.sh`` (``npm ci`` and ``vite build`` in
``web/``) into ``dist/`` beside this module. A region without a build (a
checkout whose set-up was skipped) answers its screens with a short page
that says what this is and how to build the app, never a 404.

The page's Content-Security-Policy lets the app's own scripts run and its
requests, media and images go to this region and to every peer region (the
app fails over to them, ADR 029); nothing else, nothing from elsewhere.
"""

from __future__ import annotations

from functools import cache
from html import escape
from pathlib import Path
from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel

from stormproof import __version__
from stormproof.api.deps import RegionDep
from stormproof.api.routers import api_router
from stormproof.errors import NotFound
from stormproof.settings import Settings

__all__ = ["DIST", "RegionOut", "RegionsOut", "router"]

#: where ``vite build`` writes the app
DIST = Path(__file__).parent / "dist"

router = api_router()

#: static files are named by content (/assets) or change with a release
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
}


class RegionOut(BaseModel):
    name: str
    url: str


class RegionsOut(BaseModel):
    regions: list[RegionOut]


def _regions(settings: Settings, here: str) -> list[RegionOut]:
    """This region first, then its peers, each with its public URL."""
    own = settings.url.rstrip("/") or here
    found = [RegionOut(name=settings.region, url=own)]
    names = list(settings.peer_names) + [""] * len(settings.peers)
    for peer, name in zip(settings.peers, names, strict=False):
        url = peer.rstrip("/")
        if url != own:
            found.append(RegionOut(name=name or url, url=url))
    return found


def _policy(settings: Settings) -> str:
    """The page's CSP: this origin and the peer regions, nothing else."""
    others = " ".join(p.rstrip("/") for p in settings.peers)
    self_and_peers = f"'self' {others}".strip()
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"connect-src {self_and_peers}; media-src {self_and_peers} blob:; "
        f"img-src {self_and_peers} data: blob:; worker-src 'self'; manifest-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )


@router.get("/v1/regions", tags=["regions"])
async def regions(region: RegionDep, request: Request) -> RegionsOut:
    """Every region's name and public URL, this one first: where a client
    (the web app, the SDK) may send any request when this one fails. Public,
    and answered while the region catches up."""
    here = str(request.base_url).rstrip("/")
    return RegionsOut(regions=_regions(region.settings, here))


def _index(dist: Path) -> str | None:
    """The built page, read again only when a new build replaced it."""
    page = dist / "index.html"
    try:
        changed = page.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    return _read(page, changed)


@cache
def _read(page: Path, changed: int) -> str:
    return page.read_text(encoding="utf-8")


_UNBUILT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stormproof</title>
<style>
  body {{ font: 16px/1.55 system-ui, sans-serif; max-width: 42rem; margin: 3rem auto;
         padding: 0 1.25rem; color: #1d232b; background: #fbfbfa; }}
  code {{ background: #eef0f2; padding: 0 .25em; border-radius: 3px; }}
</style>
</head>
<body>
<main>
<h1>stormproof</h1>
<p>region <strong>{region}</strong> · version {version}</p>
<p>A self-hostable short-video platform — uploads, a For You feed, likes,
comments, shares, follows, direct messages — built so that losing a whole
data center changes nothing for its users.</p>
<p>The web app is not built on this machine: <code>./scripts/serve</code>
builds it (with Node.js and npm). Meanwhile: <a href="/docs">the API docs</a>,
<a href="/openapi.json">the OpenAPI contract</a>, <a href="/status">the status page</a>.</p>
</main>
</body>
</html>
"""


def _page(region: RegionDep) -> HTMLResponse:
    built = _index(DIST)
    headers = {"Cache-Control": _REVALIDATE}
    if built is None:
        html = _UNBUILT.format(region=escape(region.name), version=escape(__version__))
        return HTMLResponse(html, headers=headers)
    headers["Content-Security-Policy"] = _policy(region.settings)
    return HTMLResponse(built, headers=headers)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(region: RegionDep) -> HTMLResponse:
    """The web app (or, unbuilt, what this is and links to the API docs)."""
    return _page(region)


for _screen in ("/following", "/upload", "/inbox", "/studio", "/account"):
    router.add_api_route(
        _screen, home, methods=["GET"], response_class=HTMLResponse, include_in_schema=False
    )


@router.get("/v/{video_id}", response_class=HTMLResponse, include_in_schema=False)
async def video_page(video_id: str, region: RegionDep) -> HTMLResponse:
    """A video's shareable address: the app, which shows that video."""
    return _page(region)


@router.get("/@{username}", response_class=HTMLResponse, include_in_schema=False)
async def profile_page(username: str, region: RegionDep) -> HTMLResponse:
    """A profile's address: the app, which shows that profile."""
    return _page(region)


def _file(relative: str, cache_control: str) -> Response:
    """A file of the build, never outside it."""
    root = DIST.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise NotFound("no such file", code="not_found")
    media_type = _TYPES.get(target.suffix, "application/octet-stream")
    headers = {"Cache-Control": cache_control}
    if target.name == "sw.js":  # a worker runs under its own script's policy
        headers["Content-Security-Policy"] = "default-src 'self'"
    return FileResponse(target, media_type=media_type, headers=headers)


Name = Annotated[str, PathParam(max_length=200, pattern=r"^[A-Za-z0-9._-]+$")]


@router.get("/assets/{name}", include_in_schema=False)
async def asset(name: Name) -> Response:
    return _file(f"assets/{name}", _IMMUTABLE)


@router.get("/icons/{name}", include_in_schema=False)
async def icon(name: Name) -> Response:
    return _file(f"icons/{name}", _REVALIDATE)


@router.get("/sw.js", include_in_schema=False)
async def service_worker() -> Response:
    return _file("sw.js", _REVALIDATE)


@router.get("/manifest.webmanifest", include_in_schema=False)
async def manifest() -> Response:
    return _file("manifest.webmanifest", _REVALIDATE)
