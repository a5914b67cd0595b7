"""A person's own account page: change their password.

The current password is checked first (by the authenticator: argon2 for local accounts, PAM
for Unix ones), with the login throttle. Local accounts then get a new hash; Unix accounts a
``chpasswd`` by the hub running as root (which goes through the PAM password stack of the
system, so its quality rules apply). A hub not running as root cannot change a Unix password
and says to use ``passwd``.
"""

from __future__ import annotations

import logging

from aiohttp import web

from courtyard.auth.authenticators import MIN_PASSWORD
from courtyard.errors import AuthError
from courtyard.web.admin import gettext, user_admin
from courtyard.web.context import client_ip, ctx, render
from courtyard.web.home import require_login
from courtyard.web.i18n import N_

log = logging.getLogger("courtyard.account")

WRONG_PASSWORD = N_("Your current password is not right.")
PASSWORDS_DIFFER = N_("The two new passwords differ.")
TOO_SHORT = N_("A password needs at least 8 characters.")
NOT_CHANGED = N_("The password could not be changed.")


def account_page_response(
    request: web.Request, *, status: int = 200, error: str | None = None, changed: bool = False
) -> web.Response:
    return render(
        request,
        "account.html",
        status=status,
        error=gettext(request, error) if error else None,
        changed=changed,
        can_change=user_admin(request).can_set_passwords,
    )


async def account_page(request: web.Request) -> web.StreamResponse:
    require_login(request)
    return account_page_response(request)


async def change_password(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    c = ctx(request)
    form = await request.post()
    old = str(form.get("old_password", ""))
    new = str(form.get("new_password", ""))
    if new != str(form.get("repeat_password", "")):
        return account_page_response(request, status=400, error=PASSWORDS_DIFFER)
    if len(new) < MIN_PASSWORD:
        return account_page_response(request, status=400, error=TOO_SHORT)
    ip = client_ip(request)
    if c.throttle.begin_attempt(who.name, ip) > 0:  # counted against the name until it succeeds
        return account_page_response(request, status=403, error=WRONG_PASSWORD)
    right = False
    try:
        right = await c.authenticator.authenticate(who.name, old) == who.name
    finally:
        c.throttle.end_attempt(who.name, ip, ok=right)
    if not right:
        log.warning("%s gave a wrong current password when changing it", who.name)
        return account_page_response(request, status=403, error=WRONG_PASSWORD)
    try:
        await user_admin(request).set_password(who.name, new)
    except AuthError as exc:
        log.warning("password change of %s failed: %s", who.name, exc.message)
        return account_page_response(request, status=400, error=NOT_CHANGED)
    log.info("%s changed their password", who.name)
    return account_page_response(request, changed=True)


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.get("/hub/account", account_page),
            web.post("/hub/account/password", change_password),
        ]
    )
