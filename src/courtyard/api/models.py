"""JSON models as JupyterHub's API returns them, cut down to what the caller's scopes allow."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from courtyard.api.context import ApiContext, ApiError, Caller
from courtyard.hub.servers import ServerManager, ServerView
from courtyard.store.records import UserRecord
from courtyard.store.tokenstore import TokenRecord

USER_KEYS = {
    "read:users": {
        "kind", "name", "admin", "roles", "groups", "server", "pending", "created",
        "last_activity",
    },
    "read:users:name": {"kind", "name", "admin"},
    "read:users:groups": {"kind", "name", "groups"},
    "read:users:activity": {"kind", "name", "last_activity"},
    "read:servers": {"kind", "name", "servers"},
    "read:roles:users": {"kind", "name", "roles", "admin"},
}  # fmt: skip
PENDING = {"starting": "spawn", "stopping": "stop"}
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def iso(stamp: datetime | None) -> str | None:
    if stamp is None:
        return None
    return stamp.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def latest(*stamps: datetime | None) -> datetime | None:
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def server_model(view: ServerView, state: dict[str, Any] | None) -> dict[str, Any]:
    """``state``: the spawner's (its pid, socket...), shown only to holders of
    ``admin:server_state``, as JupyterHub shows ``Spawner.get_state()``."""
    name, server = view.user, view.server
    root = ServerManager.root_url(name, server)
    progress = (
        f"/hub/api/users/{name}/servers/{server}/progress"
        if server
        else (f"/hub/api/users/{name}/server/progress")
    )
    model: dict[str, Any] = {
        "name": server,
        "display_name": view.display_name or server,
        "full_name": f"{name}/{server}",
        "ready": view.state == "running",
        "stopped": view.state == "stopped",
        "pending": PENDING.get(view.state),
        "url": root,
        "user_options": dict(view.user_options),
        "progress_url": progress,
        "full_url": None,
        "full_progress_url": None,
        "started": iso(view.started),
        "last_activity": iso(view.last_activity),
    }
    if view.notice is not None:  # Courtyard's own: a limit the server hit (e.g. out of memory)
        model["limit_notice"] = {
            "kind": view.notice.kind,
            "message": view.notice.message,
            "time": iso(view.notice.at),
        }
    if state is not None:
        model["state"] = state
    return model


def spawner_state(
    context: ApiContext, who: Caller, name: str, server: str = ""
) -> dict[str, Any] | None:
    if not who.may("admin:server_state", name, server):
        return None
    spawner = context.servers.handle(name, server).spawner
    return spawner.state() if spawner is not None else {}


def user_model(
    context: ApiContext,
    who: Caller,
    user: UserRecord,
    views: list[ServerView] | None = None,
    *,
    include_stopped: bool = False,
    groups: list[str] | None = None,
) -> dict[str, Any]:
    """JupyterHub's user model. ``views`` (the user's servers, default first) and
    ``groups``: when the caller has them already (a page of users loads each in one
    query, so a page costs the same few queries whatever its size)."""
    name = user.name
    if views is None:
        views = context.servers.views(name)
    default = views[0]
    if groups is None:
        groups = context.groups.of_user(name)
    servers = {
        v.server: server_model(v, spawner_state(context, who, name, v.server))
        for v in views
        if v.state != "stopped" or include_stopped
    }
    full: dict[str, Any] = {
        "kind": "user",
        "name": name,
        "admin": user.admin,
        "roles": context.permissions.book.roles_of_user(name, user.admin, groups),
        "groups": groups,
        "server": ServerManager.root_url(name) if default.state == "running" else None,
        "pending": PENDING.get(default.state),
        "created": iso(user.created),
        "last_activity": iso(latest(user.last_activity, *(v.last_activity for v in views))),
        "servers": servers,
    }
    allowed: set[str] = set()
    for scope, keys in USER_KEYS.items():
        if who.may(scope, name):
            allowed |= keys
    return {k: v for k, v in full.items() if k in allowed}


def include_stopped_servers(request: web.Request) -> bool:
    """JupyterHub's ``include_stopped_servers`` query flag (present, with any value but
    false/0)."""
    value = request.query.get("include_stopped_servers")
    return value is not None and value.lower() not in ("false", "0")


def token_model(context: ApiContext, record: TokenRecord) -> dict[str, Any]:
    """``scopes``: what the token can do now (expanded, cut to its owner's), as JupyterHub's
    ``get_scopes_for(token)``; a user's token has no ``service`` key."""
    principal = context.tokens.user_principal(record)
    scopes = sorted(principal.scopes or ()) if principal is not None else []
    return {
        "id": f"a{record.id}",
        "kind": "api_token",
        "user": record.user,
        "roles": [],
        "scopes": scopes,
        "note": record.note,
        "created": iso(record.created),
        "expires_at": iso(record.expires),
        "last_activity": iso(record.last_activity),
        "session_id": None,
        "oauth_client": "Courtyard",
    }


def paginate(request: web.Request) -> tuple[int, int]:
    try:
        offset = abs(int(request.query.get("offset", "0")))
        limit = abs(int(request.query.get("limit", str(DEFAULT_LIMIT))))
    except ValueError as e:
        raise ApiError(400, "Invalid argument type, offset and limit must be integers") from e
    return offset, max(1, min(limit, MAX_LIMIT))


def page(request: web.Request, items: list[Any], total: int, offset: int, limit: int) -> Any:
    """A plain list, or JupyterHub's paginated body when the client asks for it."""
    if "application/jupyterhub-pagination+json" not in request.headers.get("Accept", ""):
        return items
    following = None
    if offset + limit < total:
        url = request.url.update_query({"offset": str(offset + limit), "limit": str(limit)})
        following = {"offset": offset + limit, "limit": limit, "url": str(url)}
    return {
        "items": items,
        "_pagination": {"offset": offset, "limit": limit, "total": total, "next": following},
    }
