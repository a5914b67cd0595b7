"""/hub/token: a person's API tokens - create (shown once), list, revoke."""

from __future__ import annotations

from aiohttp import web

from courtyard.api.context import API, ApiError
from courtyard.api.tokens import check_within, requested_scopes
from courtyard.web.context import error_page, render
from courtyard.web.home import require_login
from courtyard.web.i18n import N_

BAD_EXPIRY = N_("Choose an expiry from the list.")
EXPIRY_CHOICES = ("", "3600", "86400", "604800", "2592000")


async def show_tokens(request: web.Request, new_token: str = "") -> web.StreamResponse:
    who = require_login(request)
    tokens = request.app[API].tokens.tokens.of_user(who.name)
    return render(request, "token.html", tokens=tokens, new_token=new_token)


async def create_token(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    context = request.app[API]
    form = await request.post()
    note = str(form.get("note", ""))[:1000]
    expires = str(form.get("expires_in", ""))
    scopes = str(form.get("scopes", "")).split()
    if expires not in EXPIRY_CHOICES:
        return error_page(request, 400, BAD_EXPIRY)
    try:
        raw = requested_scopes(context, {"scopes": scopes})
        held = context.permissions.of_user(who.name)
        check_within(context, who.name, held, raw)
    except ApiError as e:
        return error_page(request, e.status, e.message)
    token, _ = context.tokens.create(
        who.name, note=note, scopes=raw, expires_in=int(expires) if expires else None
    )
    return await show_tokens(request, new_token=token)


async def revoke_token(request: web.Request) -> web.StreamResponse:
    who = require_login(request)
    form = await request.post()
    raw = str(form.get("token_id", ""))
    if raw.isdigit():
        request.app[API].tokens.revoke(who.name, int(raw))
    raise web.HTTPFound("/hub/token")
