"""/users: list, create, read, change, delete users; report activity."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from courtyard.api.context import (
    ApiContext,
    ApiError,
    api,
    caller,
    json_object,
    json_required,
    reply,
)
from courtyard.api.models import include_stopped_servers, page, paginate, user_model
from courtyard.auth import scopes as sc
from courtyard.auth import unixaccounts
from courtyard.auth.credentials import normalize_name
from courtyard.errors import UserExistsError
from courtyard.store.records import UserRecord, server_key
from courtyard.store.store import API_SORTS, API_STATES, ApiUserQuery

FUTURE_SLACK = timedelta(minutes=5)


def user_or_404(request: web.Request, name: str) -> UserRecord:
    found = api(request).store.get_user(name)
    if found is None:
        raise ApiError(404, f"No such user: {name}")
    return found


async def list_users(request: web.Request) -> web.StreamResponse:
    """A page of users (at most MAX_LIMIT, as JupyterHub), filtered, sorted and cut in the
    store's SQL; the page's servers and groups are one query each."""
    context, who = api(request), caller(request)
    if not sc.has_any(who.scopes, "list:users"):  # a filtered list:users lists those users
        who.need("list:users")
    offset, limit = paginate(request)
    state = request.query.get("state", "")
    if state and state not in API_STATES:
        raise ApiError(400, f"Unrecognized state filter: {state!r}; use active, ready or inactive")
    sort = request.query.get("sort", "name")
    if sort not in API_SORTS:
        raise ApiError(400, f"Unrecognized sort: {sort!r}; use one of {', '.join(API_SORTS)}")
    query = ApiUserQuery(
        names=sc.users_allowed(who.scopes, "list:users"),
        name_filter=request.query.get("name_filter", ""),
        state=state,
        sort=sort,
        offset=offset,
        limit=limit,
    )
    users, total = context.store.page_users(query)
    names = [u.name for u in users]
    views = context.servers.views_of(names)
    groups = context.groups.of_users(names)
    stopped = include_stopped_servers(request)
    models = [
        user_model(context, who, u, views[u.name], include_stopped=stopped, groups=groups[u.name])
        for u in users
    ]
    return reply(page(request, models, total, offset, limit))


def valid_name(name: Any) -> str:
    normal = normalize_name(name) if isinstance(name, str) else None
    if normal is None or normal != name:
        raise ApiError(400, f"Invalid username: {name!r}")
    return normal


def check_account(context: ApiContext, name: str) -> None:
    """With system auth and no create_system_users, a user needs a Unix account (JupyterHub's
    LocalAuthenticator refuses the user at creation, not at the first spawn)."""
    if context.authenticator.kind != "system" or context.settings.create_system_users:
        return
    if unixaccounts.uid_of(name) is None:
        raise ApiError(
            400, f"There is no Unix account named {name!r}: create it first, or set "
                 "create_system_users = true."
        )  # fmt: skip


def check_admin_grant(request: web.Request, admin: Any) -> bool:
    if not isinstance(admin, bool):
        raise ApiError(400, "admin must be true or false")
    if admin and not caller(request).principal.admin:
        raise ApiError(403, "Only admin users may grant admin.")
    return admin


async def create_users(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    who.need("admin:users")
    data = await json_object(request)
    names = data.get("usernames")
    if not isinstance(names, list) or not names:
        raise ApiError(400, "Must specify at least one user to create")
    admin = check_admin_grant(request, data.get("admin", False))
    wanted = sorted({valid_name(n) for n in names})
    new = [n for n in wanted if context.store.get_user(n) is None]
    if not new:
        raise ApiError(409, f"All {len(wanted)} users already exist")
    for name in new:
        check_account(context, name)
    admins = context.settings.admin_users
    created = [context.store.add_user(n, admin=admin or n in admins) for n in new]
    return reply([user_model(context, who, u) for u in created], 201)


async def get_user(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("read:users:name", name)
    user = user_or_404(request, name)
    return reply(user_model(context, who, user, include_stopped=include_stopped_servers(request)))


async def create_user(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = valid_name(request.match_info["name"])
    who.need("admin:users")
    data = await json_object(request)
    admin = check_admin_grant(request, data.get("admin", False))
    if context.store.get_user(name) is None:
        check_account(context, name)
    try:
        created = context.store.add_user(name, admin=admin or name in context.settings.admin_users)
    except UserExistsError as e:
        raise ApiError(409, f"User {name} already exists") from e
    return reply(user_model(context, who, created), 201)


async def patch_user(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("admin:users", name)
    user = user_or_404(request, name)
    data = await json_required(request)
    unknown = set(data) - {"name", "admin"}
    if unknown:
        raise ApiError(400, f"Cannot change {sorted(unknown)}; only name and admin")
    if data.get("name", name) != name:
        raise ApiError(400, "Renaming users is not supported by Courtyard.")
    if "admin" in data:
        if data["admin"] != user.admin:
            check_admin_grant(request, data["admin"])
        user = context.store.set_admin(name, bool(data["admin"]))
        context.tokens.forget()
        context.sessions.forget_user(name)
    return reply(user_model(context, who, user))


async def delete_user(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("delete:users", name)
    user_or_404(request, name)
    if who.kind == "user" and who.name == name:
        raise ApiError(400, "Cannot delete yourself!")
    for view in context.servers.views(name):
        if view.state == "starting":
            raise ApiError(400, f"{name}'s server is pending spawn, please wait")
    await context.servers.remove(name, "The user was deleted.")
    context.store.delete_user(name)
    context.sessions.forget_user(name)
    context.tokens.forget()
    return web.Response(status=204)


def parse_stamp(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ApiError(400, f"{what} must be an ISO8601 timestamp string")
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise ApiError(400, f"{what} is not an ISO8601 timestamp: {value[:40]!r}") from e
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    if stamp > datetime.now(timezone.utc) + FUTURE_SLACK:
        raise ApiError(400, f"{what} {value!r} is in the future")
    return stamp


async def post_activity(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("users:activity", name)
    user_or_404(request, name)
    data = await json_required(request)
    if not data.get("last_activity") and not data.get("servers"):
        raise ApiError(400, "body must contain at least one of `last_activity` or `servers`")
    stamps = (
        [parse_stamp(data["last_activity"], "last_activity")] if "last_activity" in data else []
    )
    servers = data.get("servers", {})
    if not isinstance(servers, dict):
        raise ApiError(400, "servers must be an object")
    server_stamps: dict[str, datetime] = {}
    for server, body in servers.items():
        if server and context.store.get_server(name, server) is None:
            raise ApiError(400, f"No such server '{server}' for user {name}")
        if not isinstance(body, dict) or "last_activity" not in body:
            raise ApiError(400, f"servers[{server!r}] needs last_activity")
        when = parse_stamp(body["last_activity"], f"servers[{server!r}].last_activity")
        server_stamps[server_key(name, server)] = when
    if stamps:
        context.store.record_activity({name: max(stamps)}, servers=False)
    if server_stamps:
        context.store.record_activity(server_stamps)
    return web.Response(status=200)
