"""What admins do on /hub/admin: add users, start/stop servers, edit, reset passwords, delete.

Every handler is a POST (the CSRF middleware has checked its token and origin) and begins with
``require_admin``: hiding a button is never the only protection. Destructive actions need a
ticked confirmation box, checked here. Passwords Courtyard generates are shown once, on the
page that answers the POST, and never logged or stored in clear.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from urllib.parse import quote

from aiohttp import web

from courtyard.auth.authenticators import MIN_PASSWORD
from courtyard.auth.nexturl import safe_next
from courtyard.errors import AuthError, ServerStateError
from courtyard.hub.users import NewAccount
from courtyard.store.records import UserRecord
from courtyard.web.admin import admin_page, gettext, install_meter, require_admin, user_admin
from courtyard.web.context import ctx, error_text, render
from courtyard.web.i18n import N_

log = logging.getLogger("courtyard.admin")
MAX_NAMES = 200

CONFIRM_NEEDED = N_("Tick the confirmation box to do this.")
NO_SUCH_USER = N_("There is no such user or Unix account.")
SHORT_PASSWORD = N_("A password needs at least 8 characters.")
NO_NAMES = N_("Enter at least one user name.")
NOT_YOURSELF = N_("You cannot do this to your own account.")
SERVER_BUSY = N_("Stop this user's server first.")
NAME_SPLIT = re.compile(r"[\s,;]+")


def back_url(form: Mapping[str, object]) -> str:
    url = safe_next(str(form.get("back", "")), "/hub/admin")
    return url if url.startswith("/hub/admin") else "/hub/admin"


def with_done(url: str, done: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}done={done}"


def result_page(
    request: web.Request,
    *,
    back: str,
    status: int = 200,
    error: str | None = None,
    accounts: list[NewAccount] | None = None,
    changed: str | None = None,
) -> web.Response:
    return render(
        request,
        "admin_result.html",
        status=status,
        back=back,
        error=error,
        accounts=accounts or [],
        changed=changed,
    )


def target_user(request: web.Request) -> UserRecord:
    found = ctx(request).store.get_user(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound(reason=gettext(request, NO_SUCH_USER))
    return found


# ---- adding users --------------------------------------------------------------------------


async def add_users(request: web.Request) -> web.StreamResponse:
    who = require_admin(request)
    form = await request.post()
    back = back_url(form)
    names = [n for n in NAME_SPLIT.split(str(form.get("names", "")).strip().lower()) if n]
    password = str(form.get("password", "")) or None
    if not names or len(names) > MAX_NAMES:
        return result_page(request, back=back, status=400, error=gettext(request, NO_NAMES))
    if password is not None and len(password) < MIN_PASSWORD:
        return result_page(request, back=back, status=400, error=gettext(request, SHORT_PASSWORD))
    try:
        added = await user_admin(request).add(
            names, admin=form.get("admin") == "1", password=password
        )
    except AuthError as exc:
        return result_page(
            request, back=back, status=exc.http_status, error=error_text(request, exc)
        )
    log.info("admin %s added users %s", who.name, ", ".join(a.name for a in added))
    shown = [account for account in added if account.password]
    if not shown:
        raise web.HTTPFound(with_done(back, "added"))
    return result_page(request, back=back, accounts=shown)


# ---- servers -------------------------------------------------------------------------------


async def bulk_servers(request: web.Request) -> web.StreamResponse:
    who = require_admin(request)
    form = await request.post()
    back = back_url(form)
    servers = ctx(request).servers
    if form.get("action") == "stop_all":
        if form.get("confirm") != "1":
            return result_page(
                request, back=back, status=400, error=gettext(request, CONFIRM_NEEDED)
            )
        live = ctx(request).store.list_servers(states=("starting", "running"))
        log.info("admin %s stops all %d servers", who.name, len(live))
        await asyncio.gather(*(servers.stop(s.user, reason="admin") for s in live))
        raise web.HTTPFound(with_done(back, "stopped"))
    chosen = [str(name) for name in form.getall("user", [])][:MAX_NAMES]
    store = ctx(request).store
    for name in chosen:
        if store.get_user(name) is not None:
            try:
                servers.request_start(name)
            except ServerStateError:
                continue
    log.info("admin %s starts the servers of %s", who.name, ", ".join(chosen) or "nobody")
    raise web.HTTPFound(with_done(back, "started" if chosen else "none"))


async def start_server(request: web.Request) -> web.StreamResponse:
    who = require_admin(request)
    form = await request.post()
    user = target_user(request)
    ctx(request).servers.request_start(user.name)
    log.info("admin %s starts %s's server", who.name, user.name)
    raise web.HTTPFound(with_done(back_url(form), "starting"))


async def stop_server(request: web.Request) -> web.StreamResponse:
    who = require_admin(request)
    form = await request.post()
    user = target_user(request)
    log.info("admin %s stops %s's server", who.name, user.name)
    await ctx(request).servers.stop(user.name, reason="admin")
    raise web.HTTPFound(with_done(back_url(form), "stopping"))


# ---- one user ------------------------------------------------------------------------------


async def edit_page(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    user = target_user(request)
    back = safe_next(request.query.get("back"), "/hub/admin")
    return render(
        request,
        "admin_user.html",
        target=user,
        server=ctx(request).servers.view(user.name),
        users=user_admin(request),
        back=back if back.startswith("/hub/admin") else "/hub/admin",
    )


async def edit_user(request: web.Request) -> web.StreamResponse:
    who = require_admin(request)
    form = await request.post()
    user = target_user(request)
    admin = form.get("admin") == "1"
    new_name = str(form.get("new_name", "")).strip().lower() or user.name
    edit_url = f"/hub/admin/users/{quote(user.name)}"
    if user.name == who.name and (not admin or new_name != user.name):
        return result_page(request, back=edit_url, status=400, error=gettext(request, NOT_YOURSELF))
    users = user_admin(request)
    try:
        if admin != user.admin:
            users.set_admin(user.name, admin)
        if new_name != user.name:
            if ctx(request).servers.view(user.name).state != "stopped":
                return result_page(
                    request, back=edit_url, status=409, error=gettext(request, SERVER_BUSY)
                )
            await ctx(request).servers.remove(user.name)
            users.rename(user.name, new_name)
    except AuthError as exc:
        return result_page(
            request, back=edit_url, status=exc.http_status, error=error_text(request, exc)
        )
    log.info("admin %s edited user %s", who.name, user.name)
    raise web.HTTPFound(with_done(f"/hub/admin/users/{quote(new_name)}", "saved"))


async def reset_password(request: web.Request) -> web.StreamResponse:
    who = require_admin(request)
    form = await request.post()
    user = target_user(request)
    edit_url = f"/hub/admin/users/{quote(user.name)}"
    given = str(form.get("password", "")) if form.get("mode") == "set" else None
    if given is not None and len(given) < MIN_PASSWORD:
        return result_page(
            request, back=edit_url, status=400, error=gettext(request, SHORT_PASSWORD)
        )
    try:
        chosen = await user_admin(request).set_password(user.name, given)
    except AuthError as exc:
        return result_page(
            request, back=edit_url, status=exc.http_status, error=error_text(request, exc)
        )
    log.info("admin %s set the password of %s", who.name, user.name)
    shown = [NewAccount(user.name, chosen)] if given is None else []
    return result_page(request, back=edit_url, accounts=shown, changed=user.name)


async def delete_user(request: web.Request) -> web.StreamResponse:
    who = require_admin(request)
    form = await request.post()
    user = target_user(request)
    edit_url = f"/hub/admin/users/{quote(user.name)}"
    if user.name == who.name:
        return result_page(request, back=edit_url, status=400, error=gettext(request, NOT_YOURSELF))
    if form.get("confirm") != "1":
        return result_page(
            request, back=edit_url, status=400, error=gettext(request, CONFIRM_NEEDED)
        )
    await ctx(request).servers.remove(user.name)
    remove_unix = form.get("remove_unix_account") == "1"
    try:
        user_admin(request).delete(user.name, remove_unix_account=remove_unix)
    except AuthError as exc:
        return result_page(
            request, back=edit_url, status=exc.http_status, error=error_text(request, exc)
        )
    log.info(
        "admin %s deleted user %s%s",
        who.name,
        user.name,
        " and their Unix account" if remove_unix else "",
    )
    raise web.HTTPFound(with_done(back_url(form), "deleted"))


def add_routes(app: web.Application) -> None:
    install_meter(app)
    app.add_routes(
        [
            web.get("/hub/admin", admin_page),
            web.post("/hub/admin/users", add_users),
            web.post("/hub/admin/servers", bulk_servers),
            web.get("/hub/admin/users/{name}", edit_page),
            web.post("/hub/admin/users/{name}/start", start_server),
            web.post("/hub/admin/users/{name}/stop", stop_server),
            web.post("/hub/admin/users/{name}/edit", edit_user),
            web.post("/hub/admin/users/{name}/password", reset_password),
            web.post("/hub/admin/users/{name}/delete", delete_user),
        ]
    )
