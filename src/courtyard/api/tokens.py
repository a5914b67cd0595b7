"""/users/{name}/tokens: list, create (shown once), read and revoke API tokens."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from courtyard.api.context import ApiContext, ApiError, api, caller, json_object, reply
from courtyard.api.models import token_model
from courtyard.api.users import user_or_404
from courtyard.auth import scopes as sc
from courtyard.store.tokenstore import TokenRecord

MAX_NOTE = 1000
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600


def token_id(request: web.Request) -> int:
    raw = request.match_info["token_id"]
    if raw.startswith("a") and raw[1:].isdigit():
        return int(raw[1:])
    raise ApiError(404, f"Token not found: {raw[:40]!r}")


def find_token(context: ApiContext, user: str, ident: int) -> TokenRecord:
    for record in context.tokens.tokens.of_user(user):
        if record.id == ident:
            return record
    raise ApiError(404, f"Token not found: a{ident}")


async def list_tokens(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("read:tokens", name)
    user_or_404(request, name)
    records = context.tokens.tokens.of_user(name)
    return reply({"api_tokens": [token_model(context, r) for r in records]})


async def get_token(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("read:tokens", name)
    user_or_404(request, name)
    return reply(token_model(context, find_token(context, name, token_id(request))))


async def delete_token(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("tokens", name)
    user_or_404(request, name)
    if not context.tokens.revoke(name, token_id(request)):
        raise ApiError(404, f"Token not found: {request.match_info['token_id'][:40]!r}")
    return web.Response(status=204)


def requested_scopes(context: ApiContext, data: dict[str, Any]) -> list[str]:
    scopes, roles = data.get("scopes"), data.get("roles")
    for value, what in ((scopes, "scopes"), (roles, "roles")):
        if value is not None and not (
            isinstance(value, list) and all(isinstance(s, str) for s in value)
        ):
            raise ApiError(400, f"{what} must be a list of strings")
    raw = set(scopes or [])
    for role in roles or []:
        if role not in context.permissions.book.roles:
            raise ApiError(400, f"No such role: {role[:60]!r}")
        raw |= set(context.permissions.book.roles[role].scopes)
    if not raw:
        raw = {"inherit"}
    bad = sc.unknown_scopes(raw)
    if bad:
        raise ApiError(400, f"Unknown scopes: {sorted(bad)[:10]}")
    return sorted(raw)


def check_within(context: ApiContext, owner: str, held: frozenset[str], raw: list[str]) -> None:
    wanted = context.permissions.expand(raw, owner, "user")
    if "inherit" in raw:
        wanted = context.permissions.of_user(owner)
    for holder, scopes in ((owner, context.permissions.of_user(owner)), ("you", held)):
        extra = sc.exceeding(wanted, scopes)
        if extra:
            raise ApiError(403, f"Not assigning requested scopes {extra[:10]} not held by {holder}")


async def create_token(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("tokens", name)
    user_or_404(request, name)
    data = await json_object(request)
    note = data.get("note", "")
    expires_in = data.get("expires_in")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ApiError(400, f"note must be a string of at most {MAX_NOTE} characters")
    if expires_in is not None and not (
        isinstance(expires_in, int)
        and not isinstance(expires_in, bool)
        and 0 < expires_in <= MAX_EXPIRES_IN
    ):
        raise ApiError(400, f"expires_in must be a number of seconds, 1 to {MAX_EXPIRES_IN}")
    raw = requested_scopes(context, data)
    if raw == ["inherit"] and (who.kind != "user" or who.name != name):
        # made for someone else: at most what both the owner and the requester hold
        raw = sorted(sc.intersect(context.permissions.of_user(name), who.scopes))
    check_within(context, name, who.scopes, raw)
    if who.name != name or who.kind != "user":
        note = note or f"Requested via api by {who.kind} {who.name}"
    token, record = context.tokens.create(name, note=note, scopes=raw, expires_in=expires_in)
    return reply({**token_model(context, record), "token": token}, 201)
