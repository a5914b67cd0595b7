"""/users/{name}/server and /users/{name}/servers/{server_name}: start, stop (and delete a
named server), follow the start (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from aiohttp import web

from courtyard.api.context import (
    ApiContext,
    ApiError,
    api,
    caller,
    json_object,
    json_required,
    read_json,
    reply,
)
from courtyard.api.models import server_model, spawner_state
from courtyard.api.users import user_or_404
from courtyard.errors import CourtyardError
from courtyard.hub.progress import Event, ready_event
from courtyard.hub.servers import ServerManager, ServerView

SLOW_SPAWN = 10.0  # seconds a start may take before the answer is 202 (JupyterHub's default)
SLOW_STOP = 10.0


async def wait_for(task: asyncio.Task[None] | None, seconds: float) -> bool:
    """Whether ``task`` finished within ``seconds`` (it keeps running either way)."""
    if task is None:
        return True
    done, _ = await asyncio.wait({asyncio.ensure_future(asyncio.shield(task))}, timeout=seconds)
    return bool(done)


def server_name_of(request: web.Request) -> str:
    """The ``{server_name}`` of a named-server path ("" on the default server's paths)."""
    return request.match_info.get("server_name", "")


def describe(name: str, server: str) -> str:
    return f"{name}'s server {server!r}" if server else f"{name}'s server"


async def start_server(request: web.Request) -> web.StreamResponse:
    """``POST /users/{name}/server`` and ``/users/{name}/servers/{server_name}``: the body is
    the user_options (``{"profile": ...}`` picks a profile)."""
    context, who = api(request), caller(request)
    name, server = request.match_info["name"], server_name_of(request)
    who.need("start:servers", name, server)
    user_or_404(request, name)
    context.servers.check_new_server(name, server)
    state = context.servers.view(name, server).state
    if state == "running":
        raise ApiError(400, f"{describe(name, server)} is already running")
    if state == "stopping":
        raise ApiError(400, f"{describe(name, server)} is pending stop, please wait")
    body = await read_json(request)
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object.")
    # no body: the user_options it was created or PATCHed with (JupyterHub 6's PUT/PATCH)
    options = dict(context.servers.view(name, server).user_options if body is None else body)
    profile = chosen_profile(options, context, name)
    handle = context.servers.request_start(name, profile, server=server, user_options=options)
    if not await wait_for(handle.task, SLOW_SPAWN):
        return web.Response(status=202)
    view = context.servers.view(name, server)
    if view.state != "running":
        raise ApiError(500, view.stop_reason or f"{describe(name, server)} failed to start")
    return web.Response(status=201)


def chosen_profile(options: dict[str, object], context: ApiContext, user: str) -> str:
    """The profile named in the user_options (as KubeSpawner's ``{"profile": "..."}``); ""
    for the default. 400 when this hub offers ``user`` no such profile (the local spawner
    offers only those that fit what their [limits] rules allow)."""
    profile = options.get("profile", "")
    if not isinstance(profile, str):
        raise ApiError(400, "profile must be a string.")
    offered = [p.name for p in context.settings.offered_profiles(user)]
    if profile and profile not in offered:
        choices = ", ".join(offered) if offered else "none"
        raise ApiError(400, f"There is no profile named {profile[:64]!r}; offered: {choices}.")
    return profile


async def stop_server(request: web.Request) -> web.StreamResponse:
    """``DELETE /users/{name}/server`` and ``/users/{name}/servers/{server_name}``; a named
    server is also deleted when the body says ``{"remove": true}``."""
    context, who = api(request), caller(request)
    name, server = request.match_info["name"], server_name_of(request)
    who.need("delete:servers", name, server)
    user_or_404(request, name)
    options = await json_object(request)
    remove = bool(options.get("remove", False))
    if server:
        if context.servers.named_servers <= 0:
            raise ApiError(400, "Named servers are not enabled.")
        if context.store.get_server(name, server) is None:
            raise ApiError(404, f"{name} has no server named '{server}'")
    elif remove:
        raise ApiError(400, "Cannot delete the default server")
    state = context.servers.view(name, server).state
    if state == "stopping":
        return web.Response(status=202)
    if state == "starting":
        raise ApiError(400, f"{describe(name, server)} is pending spawn, please wait")
    if state == "stopped" and not remove:
        return web.Response(status=204)
    if remove:
        action = context.servers.delete_named(name, server, "Deleted through the API.")
    else:
        action = context.servers.stop(name, "Stopped through the API.", server=server)
    task = asyncio.create_task(action)
    if not await wait_for(task, SLOW_STOP):
        return web.Response(status=202)
    if task.exception() is not None:
        error = task.exception()
        message = error.message if isinstance(error, CourtyardError) else "stop failed"
        raise ApiError(500, message)
    return web.Response(status=204)


async def server_progress(request: web.Request) -> web.StreamResponse:
    """JupyterHub's event stream: a start's events live (those so far first), the ready event
    at once for a running server, the failure of a failed last start; 404 otherwise."""
    context, who = api(request), caller(request)
    owner, server = request.match_info["name"], server_name_of(request)
    who.need("read:servers", owner, server)
    user_or_404(request, owner)
    if server and context.store.get_server(owner, server) is None:
        raise ApiError(404, f"{owner} has no server named '{server}'")
    view = context.servers.view(owner, server)
    log = context.servers.progress(owner, server)
    if view.state == "running":
        events: AsyncIterator[Event] = once(ready_event(ServerManager.root_url(owner, server)))
    elif view.state == "starting":
        events = log.follow()
    elif view.state == "stopped" and log.failure is not None:
        events = once(log.failure)
    else:
        raise ApiError(404, f"{describe(owner, server)} is not starting")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    async for event in events:
        await response.write(f"data: {json.dumps(event)}\n\n".encode())
    await response.write_eof()
    return response


async def once(event: Event) -> AsyncIterator[Event]:
    yield event


def server_view_or_404(request: web.Request, base: str) -> tuple[str, ServerView]:
    """The server of a ``/server`` or ``/servers/{server_name}`` path; 404 if it was never
    started (the default one) or created (a named one)."""
    context, who = api(request), caller(request)
    name, server = request.match_info["name"], server_name_of(request)
    who.need(base, name, server)
    user_or_404(request, name)
    if context.store.get_server(name, server) is None:
        if server:
            raise ApiError(404, f"{name} has no server named {server!r}")
        raise ApiError(404, f"{name} has no server yet (it was never started)")
    return name, context.servers.view(name, server)


def answer(request: web.Request, view: ServerView, status: int = 200) -> web.Response:
    context, who = api(request), caller(request)
    state = spawner_state(context, who, view.user, view.server)
    return reply(server_model(view, state), status)


async def get_server(request: web.Request) -> web.StreamResponse:
    """JupyterHub 6's single server model (the default or a named server)."""
    _name, view = server_view_or_404(request, "read:servers")
    return answer(request, view)


async def create_server(request: web.Request) -> web.StreamResponse:
    """``PUT /users/{name}/servers/{server_name}``: create a named server without starting
    it; the body (optional) is its user_options. 409 if it exists."""
    context, who = api(request), caller(request)
    name, server = request.match_info["name"], server_name_of(request)
    who.need("start:servers", name, server)
    user_or_404(request, name)
    if context.store.get_server(name, server) is not None:
        raise ApiError(409, f"{describe(name, server)} already exists")
    options = await json_object(request)
    chosen_profile(options, context, name)
    context.servers.check_new_server(name, server)
    context.store.save_server(name, server, state="stopped", user_options=options)
    return answer(request, context.servers.view(name, server), 201)


PATCHABLE = ("name", "display_name", "user_options")


async def patch_server(request: web.Request) -> web.StreamResponse:
    """JupyterHub 6's edit of a stopped server: ``user_options`` (used at its next start,
    the profile checked), ``display_name`` and, for a named server, ``name`` (a rename)."""
    context = api(request)
    data = await json_required(request)
    if not data:
        raise ApiError(400, "Must specify at least one field to modify.")
    unknown = sorted(set(data) - set(PATCHABLE))
    if unknown:
        raise ApiError(400, f"Unexpected fields: {unknown}, supported fields: {list(PATCHABLE)}")
    name, view = server_view_or_404(request, "start:servers")
    server = view.server
    if view.state != "stopped":
        raise ApiError(
            400, f"{describe(name, server)} is active. Please stop it before modifying it."
        )
    new = data.get("name", server)
    if not isinstance(new, str):
        raise ApiError(400, "name must be a string")
    display = data.get("display_name", view.display_name)
    if not isinstance(display, str) or len(display) > 255:
        raise ApiError(400, "display_name must be a string of at most 255 characters")
    options = data.get("user_options", view.user_options)
    if not isinstance(options, dict):
        raise ApiError(400, "user_options must be a dict")
    chosen_profile(options, context, name)
    if new != server:
        if not server:
            raise ApiError(400, "The default server cannot be renamed.")
        try:
            context.servers.rename(name, server, new)
        except CourtyardError as exc:
            status = 409 if context.store.get_server(name, new) is not None else 400
            raise ApiError(status, exc.message) from exc
    context.store.save_server(name, new, display_name=display, user_options=options)
    return answer(request, context.servers.view(name, new))


async def admin_access(request: web.Request) -> web.StreamResponse:
    """Deprecated since JupyterHub 0.8 and a no-op there: admins reach servers by their
    session or an ``access:servers`` token. Answers as JupyterHub 6 does."""
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("servers", name)
    if not context.settings.admin_access:
        raise ApiError(403, "admin access to user servers disabled")
    user_or_404(request, name)
    return web.Response(status=200)
