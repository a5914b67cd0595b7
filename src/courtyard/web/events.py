"""Server-sent events: the progress of a server start (JupyterHub's progress API shape)."""

from __future__ import annotations

import json

from aiohttp import web

from courtyard.web.context import ctx, error_page, principal


async def server_progress(request: web.Request) -> web.StreamResponse:
    owner = request.match_info["name"]
    who = principal(request)
    if who is None or not (who.name == owner or who.admin):
        return error_page(request, 403, "Not allowed to read this server's progress.")
    servers = ctx(request).servers
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    view = servers.view(owner)
    log = servers.progress(owner)
    if view.state == "running" and not log.finished:
        log.ready(view.url)
    elif view.state == "stopped" and not log.finished:
        log.failed(view.stop_reason or f"{owner}'s server is not running.")
    async for event in log.follow():
        await response.write(f"data: {json.dumps(event)}\n\n".encode())
    await response.write_eof()
    return response
