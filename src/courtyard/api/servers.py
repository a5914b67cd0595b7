"""/users/{name}/server: start, stop, follow the start (server-sent events)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from courtyard.api.context import ApiContext, ApiError, api, caller, json_object
from courtyard.api.users import user_or_404
from courtyard.errors import CourtyardError

SLOW_SPAWN = 10.0  # seconds a start may take before the answer is 202 (JupyterHub's default)
SLOW_STOP = 10.0


async def wait_for(task: asyncio.Task[None] | None, seconds: float) -> bool:
    """Whether ``task`` finished within ``seconds`` (it keeps running either way)."""
    if task is None:
        return True
    done, _ = await asyncio.wait({asyncio.ensure_future(asyncio.shield(task))}, timeout=seconds)
    return bool(done)


async def start_server(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("servers", name)
    user_or_404(request, name)
    state = context.servers.view(name).state
    if state == "running":
        raise ApiError(400, f"{name}'s server is already running")
    if state == "stopping":
        raise ApiError(400, f"{name}'s server is pending stop, please wait")
    handle = context.servers.request_start(name, await chosen_profile(request, context, name))
    if not await wait_for(handle.task, SLOW_SPAWN):
        return web.Response(status=202)
    view = context.servers.view(name)
    if view.state != "running":
        raise ApiError(500, view.stop_reason or f"{name}'s server failed to start")
    return web.Response(status=201)


async def chosen_profile(request: web.Request, context: ApiContext, user: str) -> str:
    """The resource profile named in the body (JupyterHub's user_options, as KubeSpawner's
    ``{"profile": "..."}``); "" for the default. 400 when this hub offers no such profile."""
    options = await json_object(request)
    profile = options.get("profile", "")
    if not isinstance(profile, str):
        raise ApiError(400, "profile must be a string.")
    offered = [p.name for p in context.settings.offered_profiles(user)]
    if profile and profile not in offered:
        choices = ", ".join(offered) if offered else "none"
        raise ApiError(
            400, f"There is no resource profile named {profile[:64]!r}; offered: {choices}."
        )
    return profile


async def stop_server(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("delete:servers", name)
    user_or_404(request, name)
    state = context.servers.view(name).state
    if state == "stopping":
        return web.Response(status=202)
    if state == "starting":
        raise ApiError(400, f"{name}'s server is pending spawn, please wait")
    if state == "stopped":
        return web.Response(status=204)
    task = asyncio.create_task(context.servers.stop(name, "Stopped through the API."))
    if not await wait_for(task, SLOW_STOP):
        return web.Response(status=202)
    if task.exception() is not None:
        error = task.exception()
        message = error.message if isinstance(error, CourtyardError) else "stop failed"
        raise ApiError(500, message)
    return web.Response(status=204)


async def named_server(request: web.Request) -> web.StreamResponse:
    caller(request)
    raise ApiError(400, "Named servers are not enabled.")


async def server_progress(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    owner = request.match_info["name"]
    who.need("read:servers", owner)
    user_or_404(request, owner)
    servers = context.servers
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
