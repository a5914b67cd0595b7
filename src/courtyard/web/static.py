"""Static files of the pages, served from the package (no CDN, cacheable by content hash)."""

from __future__ import annotations

import mimetypes
from importlib import resources

from aiohttp import web

FOLDER = resources.files("courtyard.web").joinpath("static")
ONE_YEAR = 365 * 24 * 3600


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["file"]
    item = FOLDER.joinpath(name)
    if "/" in name or name.startswith(".") or not item.is_file():
        raise web.HTTPNotFound()
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    cache = f"public, max-age={ONE_YEAR}, immutable" if "v" in request.query else "no-cache"
    return web.Response(
        body=item.read_bytes(),
        content_type=kind,
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )
