"""Login and logout pages."""

from __future__ import annotations

import logging

from aiohttp import web

from courtyard.auth.nexturl import safe_next
from courtyard.errors import ServerStateError
from courtyard.web.context import client_ip, ctx, language, principal, render
from courtyard.web.i18n import LOGIN_FAILED, translator

log = logging.getLogger("courtyard.login")


async def login_page(request: web.Request) -> web.StreamResponse:
    nxt = safe_next(request.query.get("next"), "")
    if principal(request) is not None:
        raise web.HTTPFound(nxt or "/hub/home")
    return render(request, "login.html", next=nxt, username="", error=None, throttled_seconds=None)


async def login_submit(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    form = await request.post()
    name = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    nxt = safe_next(str(form.get("next", "")), "")
    ip = client_ip(request)
    wait = c.throttle.begin_attempt(name, ip)  # counted against the name until it succeeds
    if wait > 0:
        log.warning("login throttled for %r from %s", name[:32], ip)
        return render(
            request,
            "login.html",
            status=429,
            next=nxt,
            username=name[:64],
            error=None,
            throttled_seconds=int(wait + 0.999),
        )
    user = None
    try:
        user = await c.authenticator.authenticate(name, password)
        if user is not None and not c.authenticator.is_allowed(user):
            user = None
    finally:
        c.throttle.end_attempt(name, ip, ok=user is not None)
    if user is None:
        log.warning("failed login for %r from %s", name[:32], ip)
        return render(
            request,
            "login.html",
            status=403,
            next=nxt,
            username=name[:64],
            error=translator(language(request)).gettext(LOGIN_FAILED),
            throttled_seconds=None,
        )
    c.store.ensure_user(user, admin=user in c.settings.admin_users)
    c.store.record_activity({user: c.store.now()}, servers=False)  # counts for culler.users
    if user in c.settings.admin_users and not c.store.require_user(user).admin:
        c.store.set_admin(user, True)
    cookie = c.sessions.create(user, user_agent=request.headers.get("User-Agent", ""), ip=ip)
    log.info("%s logged in from %s", user, ip)
    response = web.HTTPFound(nxt or first_page(request, user))
    set_session_cookie(request, response, cookie)
    raise response


def first_page(request: web.Request, user: str) -> str:
    """Where a login without next= leads: the spawn form when there are resource profiles to
    choose from (and no server yet); otherwise the server starts at once."""
    c = ctx(request)
    if c.settings.offered_profiles(user) and c.servers.view(user).state == "stopped":
        return "/hub/spawn"
    try:
        c.servers.request_start(user)
    except ServerStateError:  # still stopping: home shows that and refreshes
        return "/hub/home"
    return "/hub/spawn-pending"


def set_session_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    c = ctx(request)
    response.set_cookie(
        c.cookie_name,
        value,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=c.secure_cookies,
        max_age=c.settings.session_max_age,
    )


async def logout(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    cookie = request.cookies.get(c.cookie_name)
    who = principal(request)
    if cookie:
        c.sessions.revoke(cookie)
    if who is not None:
        log.info("%s logged out", who.name)
    response = web.HTTPFound("/hub/login")
    response.del_cookie(c.cookie_name, path="/")
    raise response
