"""A person's own pages: home, start, stop, spawn progress, language switch."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from courtyard.auth.nexturl import safe_next
from courtyard.auth.principal import Principal
from courtyard.errors import ServerStateError
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
    notice = server.notice
    limit_notice = None
    if notice is not None:
        limit_notice = (
            translator(language(request)).gettext(notice.template).format(**notice.params)
        )
    return render(
        request,
        "home.html",
        server=server,
        cull_notice=cull_notice(request, who.name),
        limit_notice=limit_notice,
    )


async def spawn(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    form = await request.post()
    servers = ctx(request).servers
    nxt = safe_next(str(form.get("next", "")), servers.url_for(who.name))
    profile = str(form.get("profile", ""))
    refused = profile_error(request, profile)
    if refused is not None:
        return error_page(request, 400, refused)
    try:
        servers.request_start(who.name, profile)
    except ServerStateError as e:
        return error_page(request, 409, error_text(request, e))
    raise web.HTTPFound(f"/hub/spawn-pending?next={quote(nxt)}")


async def spawn_pending(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    servers = ctx(request).servers
    nxt = safe_next(request.query.get("next"), servers.url_for(who.name))
    view = servers.view(who.name)
    if view.state == "running":
        raise web.HTTPFound(nxt)
    if view.state == "stopped" and not servers.progress(who.name).finished:
        raise web.HTTPFound("/hub/home")
    return render(
        request,
        "spawn.html",
        server_name=who.name,
        next_url=nxt,
        progress_url=f"/hub/api/users/{who.name}/server/progress",
    )


async def stop(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    await ctx(request).servers.stop(who.name, reason="user")
    raise web.HTTPFound("/hub/home")


async def set_language(request: web.Request) -> web.StreamResponse:
    lang = request.query.get("lang", "")
    response = web.HTTPFound(safe_next(request.query.get("next"), "/hub/home"))
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, path="/", samesite="Lax", max_age=365 * 86400)
    raise response
