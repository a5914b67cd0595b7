"""A person's own pages: home, start, stop, spawn progress, language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from courtyard.auth import scopes as sc
from courtyard.auth.nexturl import safe_next
from courtyard.auth.principal import Principal
from courtyard.errors import ServerNameError, ServerStateError
from courtyard.hub.servers import ServerView
from courtyard.web.context import (
    LANG_COOKIE,
    LANGUAGES,
    ctx,
    error_page,
    error_text,
    language,
    principal,
    render,
)
from courtyard.web.culling import cull_notice
from courtyard.web.i18n import translator
from courtyard.web.spawnform import profile_error


def require_login(request: web.Request) -> Principal:
    who = principal(request)
    if who is None:
        raise web.HTTPFound(f"/hub/login?next={quote(request.path_qs)}")
    return who


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/hub/home" if principal(request) else "/hub/login")


async def home(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    c = ctx(request)
    server = c.servers.view(who.name)
    views = c.servers.views(who.name) if c.settings.named_servers > 0 else [server]
    gettext = translator(language(request)).gettext
    limit_notices = [  # (the named server's name or "", what happened), in their language
        (view.server, gettext(view.notice.template).format(**view.notice.params))
        for view in views
        if view.notice is not None
    ]
    return render(
        request,
        "home.html",
        server=server,
        cull_notice=cull_notice(request, who.name),
        limit_notices=limit_notices,
        named_servers=c.settings.named_servers,
        my_servers=await memory_of(request, who.name, views) if c.settings.named_servers else [],
        profiles=c.settings.offered_profiles(who.name),
        **sharing_of(request, who, [view.server for view in views]),
    )


def sharing_of(request: web.Request, who: Principal, servers: list[str]) -> dict[str, Any]:
    """The home page's sharing sections: whether the person may share (``shares`` on their
    server), who has access to their servers, what others shared with them."""
    from courtyard.api.context import API  # web/app.py mounts the API context

    context = request.app[API]
    scopes = context.permissions.of_user(who.name)
    return {
        "may_share": sc.allows(scopes, "shares", who.name, ""),
        "share_servers": servers,
        "my_shares": context.permissions.shares.of_owner(who.name),
        "shared_with_me": context.permissions.shares.with_user(who.name),
    }


async def memory_of(
    request: web.Request, user: str, views: list[ServerView]
) -> list[tuple[ServerView, str]]:
    """``user``'s servers, each with its resident memory (with its kernels; "" when it is not
    running), for the "My servers" table: one /proc scan for all of them, in a thread."""
    from courtyard.web.admin import USAGE, format_bytes  # admin imports this module

    records = {r.server: r for r in ctx(request).store.list_servers(user=user)}
    pids: dict[str, int] = {}
    for view in views:
        record = records.get(view.server)
        pid = record.spawner_state.get("pid") if record and view.state == "running" else None
        if isinstance(pid, int):
            pids[view.server] = pid
    usage = await request.app[USAGE].measured(pids.values())

    def shown(server: str) -> str:
        found = usage.get(pids.get(server, -1))
        return format_bytes(found.rss_bytes) if found else ""

    return [(view, shown(view.server)) for view in views]


def own_server(request: web.Request, who: Principal) -> str:
    """The ``{server}`` of a /hub/spawn/{name}/{server} path, which must be the caller's."""
    if request.match_info.get("name", who.name) != who.name:
        raise web.HTTPForbidden(text="You may only start and follow your own servers.")
    return request.match_info.get("server", "")


def pending_url(who: Principal, server: str, nxt: str) -> str:
    path = f"/hub/spawn-pending/{who.name}/{quote(server)}" if server else "/hub/spawn-pending"
    return f"{path}?next={quote(nxt)}"


async def spawn(request: web.Request) -> web.StreamResponse:
    """POST /hub/spawn (field ``server`` names a named server, new or not) and POST
    /hub/spawn/{name}/{server}."""
    who = require_login(request)
    form = await request.post()
    server = own_server(request, who) or str(form.get("server", "")).strip()
    servers = ctx(request).servers
    nxt = safe_next(str(form.get("next", "")), servers.url_for(who.name, server))
    profile = str(form.get("profile", ""))
    refused = profile_error(request, profile)
    if refused is not None:
        return error_page(request, 400, refused)
    try:
        servers.request_start(who.name, profile, server=server, user_options=chosen(profile))
    except ServerNameError as e:
        return error_page(request, 400, error_text(request, e))
    except ServerStateError as e:
        return error_page(request, 409, error_text(request, e))
    raise web.HTTPFound(pending_url(who, server, nxt))


def chosen(profile: str) -> dict[str, str]:
    return {"profile": profile} if profile else {}


async def spawn_named_form(request: web.Request) -> web.StreamResponse:
    """GET /hub/spawn/{name}/{server}: JupyterHub's URL for starting a named server. Starting
    changes state, so a GET only shows the form (or goes to the server if it runs)."""
    who = require_login(request)
    server = own_server(request, who)
    servers = ctx(request).servers
    try:
        servers.check_new_server(who.name, server)
    except ServerNameError as e:
        return error_page(request, 400, error_text(request, e))
    view = servers.view(who.name, server)
    nxt = safe_next(request.query.get("next"), servers.url_for(who.name, server))
    if view.state == "running":
        raise web.HTTPFound(nxt)
    if view.state == "starting":
        raise web.HTTPFound(pending_url(who, server, nxt))
    profiles = ctx(request).settings.offered_profiles(who.name)
    return render(
        request, "spawn_form.html", profiles=profiles, server=view, next_url=nxt,
        action=f"/hub/spawn/{who.name}/{quote(server)}",
    )  # fmt: skip


async def spawn_pending(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    server = own_server(request, who)
    servers = ctx(request).servers
    nxt = safe_next(request.query.get("next"), servers.url_for(who.name, server))
    view = servers.view(who.name, server)
    if view.state == "running":
        raise web.HTTPFound(nxt)
    if view.state == "stopped" and not servers.progress(who.name, server).finished:
        raise web.HTTPFound("/hub/home")
    progress = f"/hub/api/users/{who.name}/server/progress"
    if server:
        progress = f"/hub/api/users/{who.name}/servers/{quote(server)}/progress"
    return render(
        request,
        "spawn.html",
        server_name=f"{who.name}/{server}" if server else who.name,
        named_server=server,
        next_url=nxt,
        progress_url=progress,
    )


async def stop(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    form = await request.post()
    server = str(form.get("server", ""))
    await ctx(request).servers.stop(who.name, reason="user", server=server)
    raise web.HTTPFound("/hub/home")


async def delete_server(request: web.Request) -> web.StreamResponse:
    """POST /hub/delete-server: stop and forget one of the caller's named servers."""
    who = require_login(request)
    form = await request.post()
    server = str(form.get("server", ""))
    c = ctx(request)
    if not server or c.store.get_server(who.name, server) is None:
        return error_page(request, 404, f"You have no server named {server[:64]!r}.")
    await c.servers.delete_named(who.name, server, reason="user")
    raise web.HTTPFound("/hub/home")


async def set_language(request: web.Request) -> web.StreamResponse:
    lang = request.query.get("lang", "")
    response = web.HTTPFound(safe_next(request.query.get("next"), "/hub/home"))
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, path="/", samesite="Lax", max_age=365 * 86400)
    raise response
