"""Sharing (JupyterHub 5): /shares, /share-codes, /users/{name}/shared, /groups/{name}/shared.

An owner (with ``shares`` on the server) grants a user or a group scopes on one server, each
filtered ``!server=<owner>/<server>`` (default ``access:servers``); a share code is the same
grant waiting for whoever accepts it at /hub/accept-share. Every change drops the cached
identities here and in every proxy worker, and closes open WebSockets that lost access.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from aiohttp import web

from courtyard.api.context import ApiContext, ApiError, Caller, api, caller, json_object, reply
from courtyard.api.groups import group_may
from courtyard.api.models import iso, paginate
from courtyard.auth import scopes as sc
from courtyard.auth.sessions import SessionGate
from courtyard.errors import UnknownUserError
from courtyard.hub.servers import ServerManager
from courtyard.store.sharestore import ShareCodeRecord, ShareRecord, ShareStore

CODE_EXPIRES_DEFAULT = 86400  # JupyterHub's: one day; at least a minute, at most a year
CODE_EXPIRES_MIN = 60
CODE_EXPIRES_MAX = 525600 * 60
CODE_ID = re.compile(r"sc_(\d+)$")
FORBIDDEN = "Action is not authorized with current scopes; requires any of [{}]"


def shares_of(context: ApiContext) -> ShareStore:
    return context.permissions.shares


def shares_changed(context: ApiContext) -> None:
    """Who may open what changed: forget cached identities everywhere, close what lost
    access (the hub's proxy and, through the flush, every worker)."""
    if isinstance(context.gate, SessionGate):
        context.gate.forget_all()
    context.tokens.cache.clear()
    context.sessions.revoked()


def need(who: Caller, base: str, owner: str, server: str | None = None) -> None:
    allowed = who.may(base, owner, server) if server is not None else who.may(base, owner)
    if not allowed:
        raise ApiError(403, FORBIDDEN.format(base))


def server_model(context: ApiContext, owner: str, server: str) -> dict[str, Any]:
    record = context.store.get_server(owner, server)
    return {
        "name": server,
        "user": {"name": owner},
        "url": ServerManager.root_url(owner, server),
        "full_url": None,
        "ready": record is not None and record.state == "running",
    }


def share_model(context: ApiContext, share: ShareRecord) -> dict[str, Any]:
    return {
        "server": server_model(context, share.owner, share.server),
        "scopes": list(share.scopes),
        "user": {"name": share.user} if share.user is not None else None,
        "group": {"name": share.group} if share.group is not None else None,
        "kind": "group" if share.group is not None else "user",
        "created_at": iso(share.created),
    }


def code_model(context: ApiContext, code: ShareCodeRecord) -> dict[str, Any]:
    return {
        "server": server_model(context, code.owner, code.server),
        "scopes": list(code.scopes),
        "id": f"sc_{code.id}",
        "created_at": iso(code.created),
        "expires_at": iso(code.expires),
        "exchange_count": code.exchange_count,
        "last_exchanged_at": iso(code.last_exchanged),
    }


def paginated(request: web.Request, items: list[Any]) -> dict[str, Any]:
    """JupyterHub's paginated body, always (as its sharing handlers answer)."""
    offset, limit = paginate(request)
    total = len(items)
    following = None
    if offset + limit < total:
        url = request.url.update_query({"offset": str(offset + limit), "limit": str(limit)})
        following = {"offset": offset + limit, "limit": limit, "url": str(url)}
    return {
        "items": items[offset : offset + limit],
        "_pagination": {"offset": offset, "limit": limit, "total": total, "next": following},
    }


def filtered(scopes: Any, owner: str, server: str) -> list[str]:
    """The scopes to grant, each filtered to the server (JupyterHub's ``_apply_filter``)."""
    if scopes is None or scopes == []:
        return [f"access:servers!server={owner}/{server}"]
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ApiError(400, "scopes must be a list of strings")
    bad = sc.unknown_scopes(scopes)
    if bad:
        raise ApiError(400, f"Unknown scopes for share: {bad}")
    wanted = f"server={owner}/{server}"
    out = []
    for scope in scopes:
        base, filt = sc.split(scope)
        if filt and filt != wanted:
            raise ApiError(400, f"!{filt} not allowed on sharing {scope}, only !{wanted}")
        out.append(f"{base}!{wanted}")
    return sorted(set(out))


def target(data: dict[str, Any], allowed: set[str]) -> tuple[str | None, str | None]:
    extra = sorted(set(data) - allowed)
    if extra:
        raise ApiError(400, f"Unexpected fields in the request: {extra}")
    user, group = data.get("user"), data.get("group")
    if user is not None and group is not None:
        raise ApiError(400, "Expected exactly one of `user` or `group`, not both.")
    if user is None and group is None:
        raise ApiError(400, "Specify exactly one of `user` or `group`")
    if not isinstance(user or group, str):
        raise ApiError(400, "`user` and `group` must be names (strings)")
    return user, group


def existing_server(context: ApiContext, owner: str, server: str) -> None:
    """404 unless ``owner`` has server ``server``; a user's default server always exists
    (its row is made here, as JupyterHub's default spawner always has one)."""
    if shares_of(context).server_id(owner, server) is not None:
        return
    if server == "" and context.store.get_user(owner) is not None:
        context.store.save_server(owner, "")
        return
    raise ApiError(404, f"No such server: {owner}/{server}")


def owner_or_404(context: ApiContext, owner: str) -> None:
    if context.store.get_user(owner) is None:
        raise ApiError(404, f"No such user: {owner}")


def readable_shares(request: web.Request) -> tuple[ApiContext, str, str | None]:
    """The owner (and server, if the path names one) whose shares or codes the caller may read:
    403 without ``read:shares`` on it, 404 when the owner or server does not exist."""
    context, who = api(request), caller(request)
    owner, server = request.match_info["owner"], request.match_info.get("server_name")
    need(who, "read:shares", owner, server)
    if server is None:
        owner_or_404(context, owner)
    else:
        existing_server(context, owner, server)
    return context, owner, server


async def list_shares(request: web.Request) -> web.StreamResponse:
    context, owner, server = readable_shares(request)
    found = shares_of(context).of_owner(owner, server)
    return reply(paginated(request, [share_model(context, s) for s in found]))


def managed_server(request: web.Request) -> tuple[ApiContext, Caller, str, str]:
    """The server named by the path whose shares the caller changes: 403 without ``shares``
    on it (checked before the body is read, as JupyterHub's scope decorator does)."""
    context, who = api(request), caller(request)
    owner, server = request.match_info["owner"], request.match_info["server_name"]
    need(who, "shares", owner, server)
    return context, who, owner, server


async def grant_share(request: web.Request) -> web.StreamResponse:
    context, who, owner, server = managed_server(request)
    data = await json_object(request)
    user, group = target(data, {"user", "group", "scopes"})
    share = grant(context, who, owner, server, data.get("scopes"), user=user, group=group)
    return reply(share_model(context, share))


def grant(
    context: ApiContext, who: Caller, owner: str, server: str, raw: Any, *,
    user: str | None, group: str | None,
) -> ShareRecord:  # fmt: skip
    """Share ``owner``'s ``server`` (the caller holds ``shares`` on it) with ``user`` or
    ``group``: the API's POST and the home page's form."""
    need(who, "shares", owner, server)
    scopes = filtered(raw, owner, server)
    existing_server(context, owner, server)
    for scope in scopes:
        if sc.exceeding(frozenset(sc.expand_one(scope)), who.scopes):
            raise ApiError(403, f"Do not have permission to grant share with scope {scope}")
    if user is not None:
        if not who.may("read:users:name", user):
            raise ApiError(403, "Need scope 'read:users:name' to share with users by name")
        if user == owner:
            raise ApiError(400, f"Can't share {owner}/{server} with its owner")
    elif not group_may(who, "read:groups:name", str(group)):
        raise ApiError(403, "Need scope 'read:groups:name' to share with groups by name")
    try:
        share = shares_of(context).grant(owner, server, scopes, user=user, group=group)
    except UnknownUserError as e:
        what = f"No such user: {user}" if user is not None else f"No such group: {group}"
        raise ApiError(400, what) from e
    shares_changed(context)
    return share


async def revoke_share(request: web.Request) -> web.StreamResponse:
    context, _, owner, server = managed_server(request)
    data = await json_object(request)
    user, group = target(data, {"user", "group", "scopes"})
    raw = data.get("scopes")
    scopes = filtered(raw, owner, server) if raw else None
    existing_server(context, owner, server)
    try:
        share = shares_of(context).revoke(owner, server, scopes, user=user, group=group)
    except UnknownUserError:  # no such user or group: as revoking nothing (JupyterHub)
        return reply({})
    shares_changed(context)
    return reply(share_model(context, share) if share is not None else {})


async def delete_shares(request: web.Request) -> web.StreamResponse:
    context, _, owner, server = managed_server(request)
    existing_server(context, owner, server)
    shares_of(context).delete_of_server(owner, server)
    shares_changed(context)
    return web.Response(status=204)


def shared_lookup(request: web.Request, kind: str) -> ShareRecord:
    context = api(request)
    name, owner = request.match_info["name"], request.match_info["owner"]
    server = request.match_info["server_name"]
    if kind == "user":
        share = shares_of(context).find(owner, server, user=name)
    else:
        if context.groups.members(name) is None:
            raise ApiError(404, f"No such group: {name}")
        share = shares_of(context).find(owner, server, group=name)
    if share is None:
        raise ApiError(404, f"No such share for {kind} {name} on {owner}/{server}")
    return share


def need_for(who: Caller, base: str, kind: str, name: str) -> None:
    allowed = who.may(base, name) if kind == "user" else group_may(who, base, name)
    if not allowed:
        raise ApiError(403, FORBIDDEN.format(base))


async def list_shared_with_user(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    need_for(who, "read:users:shares", "user", name)
    owner_or_404(context, name)
    found = shares_of(context).with_user(name)
    return reply(paginated(request, [share_model(context, s) for s in found]))


async def list_shared_with_group(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    need_for(who, "read:groups:shares", "group", name)
    if context.groups.members(name) is None:
        raise ApiError(404, f"No such group: {name}")
    found = shares_of(context).with_group(name)
    return reply(paginated(request, [share_model(context, s) for s in found]))


def shared_handlers(kind: str) -> tuple[Any, Any]:
    async def get_one(request: web.Request) -> web.StreamResponse:
        need_for(caller(request), f"read:{kind}s:shares", kind, request.match_info["name"])
        return reply(share_model(api(request), shared_lookup(request, kind)))

    async def delete_one(request: web.Request) -> web.StreamResponse:
        need_for(caller(request), f"{kind}s:shares", kind, request.match_info["name"])
        share = shared_lookup(request, kind)
        shares_of(api(request)).delete(share.id)
        shares_changed(api(request))
        return web.Response(status=204)

    return get_one, delete_one


get_user_shared, delete_user_shared = shared_handlers("user")
get_group_shared, delete_group_shared = shared_handlers("group")


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def list_codes(request: web.Request) -> web.StreamResponse:
    context, owner, server = readable_shares(request)
    now = context.store.now()
    found = [c for c in shares_of(context).codes_of(owner, server) if c.expires > now]
    return reply(paginated(request, [code_model(context, c) for c in found]))


def expires_in(data: dict[str, Any]) -> float:
    value = data.get("expires_in", CODE_EXPIRES_DEFAULT)
    if value is None:
        return CODE_EXPIRES_DEFAULT
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApiError(400, "expires_in must be a number of seconds")
    if not CODE_EXPIRES_MIN <= value <= CODE_EXPIRES_MAX:
        raise ApiError(
            400, f"expires_in must be between {CODE_EXPIRES_MIN} and {CODE_EXPIRES_MAX} seconds"
        )
    return float(value)


async def create_code(request: web.Request) -> web.StreamResponse:
    context, who, owner, server = managed_server(request)
    data = await json_object(request)
    extra = sorted(set(data) - {"scopes", "expires_in"})
    if extra:
        raise ApiError(400, f"Unexpected fields in the request: {extra}")
    return reply(new_code(context, who, owner, server, data.get("scopes"), expires_in(data)))


def new_code(
    context: ApiContext, who: Caller, owner: str, server: str, raw: Any, lifetime: float
) -> dict[str, Any]:
    """A new share code's model, with the code (shown this once) and its accept_url."""
    need(who, "shares", owner, server)
    scopes = filtered(raw, owner, server)
    for scope in scopes:
        if sc.exceeding(frozenset(sc.expand_one(scope)), who.scopes):
            raise ApiError(403, f"Do not have permission to grant share with scope {scope}")
    existing_server(context, owner, server)
    code = secrets.token_urlsafe(32)
    expires = context.store.now() + timedelta(seconds=lifetime)
    record = shares_of(context).create_code(
        owner, server, hash_code(code), code[:4], scopes, expires
    )
    model = code_model(context, record)
    model["code"] = code
    model["accept_url"] = f"/hub/accept-share?code={code}"
    model["full_accept_url"] = None
    return model


async def delete_codes(request: web.Request) -> web.StreamResponse:
    context, _, owner, server = managed_server(request)
    existing_server(context, owner, server)
    code, code_id = request.query.get("code"), request.query.get("id")
    store = shares_of(context)
    if code:
        if not store.delete_codes(owner, server, code_hash=hash_code(code)):
            raise ApiError(404, "No matching code found")
    elif code_id:
        match = CODE_ID.match(code_id)
        if match is None or not store.delete_codes(owner, server, code_id=int(match[1])):
            raise ApiError(404, f"No code found matching id={code_id[:40]}")
    else:
        store.delete_codes(owner, server)
    return web.Response(status=204)


def accept_code(context: ApiContext, code: str, user: str) -> ShareRecord:
    """Turn a share code into a share for ``user`` (the accept-share page); ApiError 400 for
    an unknown or expired code or the owner themself."""
    store = shares_of(context)
    record = store.code_by_hash(hash_code(code))
    if record is None or record.expires <= context.store.now():
        raise ApiError(400, "Invalid or expired share code")
    if record.owner == user:
        raise ApiError(400, "You can't share with yourself!")
    share = store.grant(record.owner, record.server, record.scopes, user=user)
    store.exchanged(record.id)
    shares_changed(context)
    return share
