"""/groups: list, create, read, delete groups and change their members."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from courtyard.api.context import (
    ApiContext,
    ApiError,
    Caller,
    api,
    caller,
    json_object,
    json_required,
    reply,
)
from courtyard.api.models import page, paginate
from courtyard.errors import UnknownUserError, UserExistsError

GROUP_NAME_MAX = 255


def group_may(who: Caller, base: str, group: str) -> bool:
    return who.may(base) or f"{base}!group={group}" in who.scopes


def group_need(who: Caller, base: str, group: str) -> None:
    if group_may(who, base, group):
        return
    if any(s.startswith(base) for s in who.scopes):
        raise ApiError(404, f"No such group: {group}")
    raise ApiError(403, f"Action is not authorized with current scopes; requires any of [{base}]")


def group_model(
    context: ApiContext,
    who: Caller,
    name: str,
    users: list[str],
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """JupyterHub's group model; ``properties`` when the caller has them (a list loads them
    in one query)."""
    model: dict[str, Any] = {"kind": "group", "name": name}
    if group_may(who, "read:groups", name):
        model["users"] = users
        if properties is None:
            properties = context.groups.properties([name]).get(name, {})
        model["properties"] = properties
    if group_may(who, "read:roles:groups", name):
        model["roles"] = context.permissions.book.roles_of_group(name)
    return model


def members_or_404(context: ApiContext, name: str) -> list[str]:
    users = context.groups.members(name)
    if users is None:
        raise ApiError(404, f"No such group: {name}")
    return users


def names_in(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"{key} must be a list of names")
    return value


async def list_groups(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    if not any(s.startswith("list:groups") for s in who.scopes):
        raise ApiError(
            403, "Action is not authorized with current scopes; requires any of [list:groups]"
        )
    offset, limit = paginate(request)
    allowed = None if "list:groups" in who.scopes else group_filters(who, "list:groups")
    shown, total = context.groups.listing(allowed, offset, limit)
    models = [group_model(context, who, g.name, g.users, g.properties) for g in shown]
    return reply(page(request, models, total, offset, limit))


def group_filters(who: Caller, base: str) -> frozenset[str]:
    """The groups named in ``base!group=`` filters of the caller's scopes."""
    prefix = f"{base}!group="
    return frozenset(s[len(prefix) :] for s in who.scopes if s.startswith(prefix))


def create_one(context: ApiContext, name: Any, users: list[str]) -> None:
    if not isinstance(name, str) or not name or len(name) > GROUP_NAME_MAX or "/" in name:
        raise ApiError(400, f"Invalid group name: {str(name)[:60]!r}")
    try:
        context.groups.create(name)
        context.groups.add_members(name, users)
    except UserExistsError as e:
        raise ApiError(409, f"Group {name} already exists") from e
    except UnknownUserError as e:
        context.groups.delete(name)
        raise ApiError(400, e.message) from e


async def create_groups(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    who.need("admin:groups")
    data = await json_object(request)
    names, users = names_in(data, "groups"), names_in(data, "users")
    if not names:
        raise ApiError(400, "Must specify at least one group to create")
    for name in names:
        create_one(context, name, users)
    context.tokens.forget()
    models = [group_model(context, who, n, members_or_404(context, n)) for n in names]
    return reply(models, 201)


async def get_group(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    group_need(who, "read:groups:name", name)
    return reply(group_model(context, who, name, members_or_404(context, name)))


async def create_group(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    who.need("admin:groups")
    data = await json_object(request)
    create_one(context, name, names_in(data, "users"))
    context.tokens.forget()
    return reply(group_model(context, who, name, members_or_404(context, name)), 201)


async def delete_group(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    group_need(who, "delete:groups", name)
    members_or_404(context, name)
    context.groups.delete(name)
    context.tokens.forget()
    return web.Response(status=204)


async def change_members(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    group_need(who, "groups", name)
    members_or_404(context, name)
    data = await json_required(request)
    if "users" not in data:
        verb = "add" if request.method == "POST" else "delete"
        raise ApiError(400, f"Must specify users to {verb}")
    users = names_in(data, "users")
    try:
        if request.method == "POST":
            context.groups.add_members(name, users)
        else:
            context.groups.remove_members(name, users)
    except UnknownUserError as e:
        raise ApiError(400, e.message) from e
    context.tokens.forget()
    return reply(group_model(context, who, name, members_or_404(context, name)))


async def set_properties(request: web.Request) -> web.StreamResponse:
    """``PUT /groups/{name}/properties``: replace the group's properties (a JSON object)."""
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    group_need(who, "groups", name)
    users = members_or_404(context, name)
    data = await json_required(request)
    context.groups.set_properties(name, data)
    return reply(group_model(context, who, name, users, data))
