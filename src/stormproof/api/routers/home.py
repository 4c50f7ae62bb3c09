"""``GET /``: a page for whoever opens the server's address in a browser.

It says what this is and where to go — the API docs — instead of a JSON
404. One self-contained document: inline styles and nothing else (no
script, no font, no image), which is all the edge's Content-Security-Policy
for HTML lets in, and all a region on a machine without internet can serve.
It knows nothing of the demo: a region that serves real people says the
same thing to everyone.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from stormproof import __version__
from stormproof.api.deps import RegionDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stormproof</title>
<style>
  body {{ font: 16px/1.55 system-ui, sans-serif; max-width: 42rem; margin: 3rem auto;
         padding: 0 1.25rem; color: #1d232b; background: #fbfbfa; }}
  h1 {{ margin-bottom: 0; }}
  .region {{ color: #5b6675; margin-top: .25rem; }}
  code {{ background: #eef0f2; padding: 0 .25em; border-radius: 3px; }}
  a {{ color: #0b5cad; }}
</style>
</head>
<body>
<main>
<h1>stormproof</h1>
<p class="region">region <strong>{region}</strong> · version {version}</p>
<p>A self-hostable short-video platform — uploads, a For You feed, likes,
comments, shares, follows, direct messages — built so that losing a whole
data center changes nothing for its users.</p>
<h2>Where to go</h2>
<ul>
<li><a href="/docs">The API docs</a>: every endpoint, to try from this
browser. Sign up with <code>POST /v1/accounts</code>, log in with
<code>POST /v1/sessions</code>, then <em>Authorize</em> with the token.</li>
<li><a href="/openapi.json">The OpenAPI contract</a>, for clients and SDKs.</li>
<li><a href="/v1/health">Health</a>: is this region ready.</li>
<li><a href="/status">The status page</a>: every component in every region,
judged by every region's probes, and 90 days of uptime.</li>
</ul>
<p>Started with <code>stormproof serve</code> and its demo? The terminal it
runs in names the demo people and their password: log in as one of them and
open <code>GET /v1/feed/for-you?explain=1</code> to see why each video is
there.</p>
<h2>Coming later</h2>
<p>The web app, to watch and post from the browser. Until then, this
server speaks its API.</p>
</main>
</body>
</html>
"""


@router.get("/", response_class=HTMLResponse)
async def home(region: RegionDep) -> HTMLResponse:
    """What this is, and links to the API docs."""
    return HTMLResponse(_PAGE.format(region=escape(region.name), version=escape(__version__)))
