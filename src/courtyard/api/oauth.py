"""/oauth2/token (a service trades a code for a user's API token) and JupyterHub's deprecated
/authorizations/* endpoints, answered as JupyterHub 6 does. The authorize page is a page
(web/oauth.py)."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from courtyard.api.context import ApiContext, ApiError, Caller, api, caller, reply
from courtyard.api.hub import service_model
from courtyard.api.models import user_model
from courtyard.auth.oauth import OAuthError
from courtyard.auth.tokens import hash_token, token_from_header
from courtyard.store.records import UserRecord

log = logging.getLogger("courtyard.oauth")
MAX_FORM = 16 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    """(client_id, secret) from ``Authorization: Basic ...`` (RFC 6749 2.3.1), else Nones."""
    kind, _, value = (authorization or "").strip().partition(" ")
    if kind.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, colon, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if colon else (None, None)


async def token(request: web.Request) -> web.StreamResponse:
    """The authorization_code grant: client_id/client_secret in the body or HTTP Basic."""
    context = api(request)
    if request.content_length is not None and request.content_length > MAX_FORM:
        raise ApiError(413, f"Request body too large (limit {MAX_FORM} bytes).")
    form = {k: str(v) for k, v in (await request.post()).items()}
    client_id, secret = basic_credentials(request.headers.get("Authorization"))
    if client_id is None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
    try:
        grant = context.oauth.redeem(client_id, secret, form)
    except OAuthError as e:
        log.warning("OAuth token refused for client %r: %s", (client_id or "")[:60], e.description)
        return web.json_response(e.body(), status=e.status, headers=NO_STORE)
    client = context.oauth.clients[grant.client_id]
    expires_in = context.settings.session_max_age
    note = f"OAuth token for {client.description.lower()}"
    made, _ = context.tokens.create(
        grant.user, note=note, scopes=list(grant.scopes), expires_in=expires_in
    )
    log.info("issued an OAuth token for %s to %s", grant.user, client.description)
    body = {
        "access_token": made,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": " ".join(grant.scopes),
    }
    return web.json_response(body, headers=NO_STORE)


def need_token(request: web.Request) -> Caller:
    """JupyterHub's ``@token_authenticated``: a token in the header, not a cookie."""
    who = caller(request)
    if token_from_header(request.headers.get("Authorization")) is None:
        raise ApiError(403, "Forbidden")
    return who


def owner_model(context: ApiContext, who: Caller, user: UserRecord) -> dict[str, Any]:
    """The user's model as the caller may see it, plus their name and groups: holding their
    token (or cookie) is enough to read who they are."""
    mine = frozenset(f"read:users:{f}!user={user.name}" for f in ("name", "groups"))
    return user_model(context, Caller(who.principal, who.scopes | mine), user)


async def post_token(request: web.Request) -> web.StreamResponse:
    raise ApiError(
        404, "Deprecated endpoint /hub/api/authorizations/token is removed in JupyterHub 2.0."
             " Use /hub/api/users/:user/tokens instead."
    )  # fmt: skip


async def get_token_owner(request: web.Request) -> web.StreamResponse:
    """Deprecated (JupyterHub 2): the model of a token's owner; use GET /user."""
    context, who = api(request), need_token(request)
    log.warning("/authorizations/token/:token is deprecated in JupyterHub 2.0. Use /api/user")
    token_hash = hash_token(request.match_info["token"])
    service = context.tokens.services.get(token_hash)
    if service is not None:
        return reply(service_model(context, context.services.services.get(service), service,
                                   who.may("read:services")))  # fmt: skip
    record = context.tokens.tokens.by_hash(token_hash)
    user = None if record is None else context.store.get_user(record.user)
    if record is None or user is None:
        raise ApiError(404, "Not Found")
    return reply(owner_model(context, who, user))


async def get_cookie_owner(request: web.Request) -> web.StreamResponse:
    """Deprecated (JupyterHub 2): the user a login cookie belongs to; use OAuth."""
    context, who = api(request), need_token(request)
    log.warning("/authorizations/cookie is deprecated in JupyterHub 2.0. Use /api/user with "
                "OAuth tokens.")  # fmt: skip
    name, value = request.match_info["cookie_name"], request.match_info["cookie_value"]
    if ";" in name or ";" in value or "=" in name:
        raise ApiError(404, "Not Found")
    found = context.gate.identify(f"{name}={value}", None)
    user = None if found is None or found.kind != "user" else context.store.get_user(found.name)
    if found is None or found.scopes is not None or user is None:
        raise ApiError(404, "Not Found")
    return reply(owner_model(context, who, user))
