"""Sharing on the home page and /hub/accept-share (api/shares.py does the work): share a
server with a user or a group, make a share link, revoke; accept a link."""

from __future__ import annotations

from aiohttp import web

from courtyard.api.context import API, ApiError, Caller
from courtyard.api.shares import accept_code, grant, hash_code, new_code, shares_changed
from courtyard.auth.principal import Principal
from courtyard.hub.servers import ServerManager
from courtyard.web.context import error_page, render
from courtyard.web.home import require_login

LINK_LIFETIMES = {"3600": 3600.0, "86400": 86400.0, "604800": 604800.0}


def as_caller(request: web.Request, who: Principal) -> Caller:
    return Caller(who, request.app[API].permissions.of_user(who.name))


async def share(request: web.Request) -> web.StreamResponse:
    """The home page's "Share this server" form: a user or a group name."""
    who = require_login(request)
    form = await request.post()
    server, kind, name = (str(form.get(k, "")).strip() for k in ("server", "kind", "name"))
    if not name:
        return error_page(request, 400, "Give the name of a user or a group to share with.")
    user, group = (name, None) if kind != "group" else (None, name)
    try:
        grant(request.app[API], as_caller(request, who), who.name, server, None,
              user=user, group=group)  # fmt: skip
    except ApiError as e:
        return error_page(request, e.status, e.message)
    raise web.HTTPFound("/hub/home#sharing")


async def revoke(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    form = await request.post()
    server, kind, name = (str(form.get(k, "")) for k in ("server", "kind", "name"))
    context = request.app[API]
    user, group = (name, None) if kind != "group" else (None, name)
    found = context.permissions.shares.find(who.name, server, user=user, group=group)
    if found is not None:
        context.permissions.shares.delete(found.id)
        shares_changed(context)
    raise web.HTTPFound("/hub/home#sharing")


async def share_link(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    form = await request.post()
    server = str(form.get("server", ""))
    lifetime = LINK_LIFETIMES.get(str(form.get("expires_in", "86400")), 86400.0)
    try:
        model = new_code(request.app[API], as_caller(request, who), who.name, server, None,
                         lifetime)  # fmt: skip
    except ApiError as e:
        return error_page(request, e.status, e.message)
    link = f"{request.scheme}://{request.host}{model['accept_url']}"
    return render(request, "share_link.html", link=link, expires_at=model["expires_at"],
                  server=server)  # fmt: skip


async def accept_page(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    code = request.query.get("code", "")
    record = request.app[API].permissions.shares.code_by_hash(hash_code(code))
    now = request.app[API].store.now()
    if not code or record is None or record.expires <= now:
        return error_page(request, 404, "Share not found or expired")
    if record.owner == who.name:
        return error_page(request, 403, "You can't share with yourself!")
    return render(request, "accept_share.html", code=code, owner=record.owner,
                  server=record.server)  # fmt: skip


async def accept(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    form = await request.post()
    try:
        found = accept_code(request.app[API], str(form.get("code", "")), who.name)
    except ApiError as e:
        return error_page(request, e.status, e.message)
    raise web.HTTPFound(ServerManager.root_url(found.owner, found.server))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/hub/share", share)
    app.router.add_post("/hub/share/revoke", revoke)
    app.router.add_post("/hub/share/link", share_link)
    app.router.add_get("/hub/accept-share", accept_page)
    app.router.add_post("/hub/accept-share", accept)

