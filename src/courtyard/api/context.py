"""What every API handler needs, and who is calling with which scopes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from courtyard.auth import scopes as sc
from courtyard.auth.authenticators import Authenticator
from courtyard.auth.oauth import OAuthProvider
from courtyard.auth.principal import Gate, Principal
from courtyard.auth.roles import Permissions
from courtyard.auth.sessions import SessionManager
from courtyard.auth.tokens import TokenManager, token_from_header
from courtyard.config.settings import Settings
from courtyard.hub.servers import ServerManager
from courtyard.hub.services import ServiceManager
from courtyard.store.store import Store
from courtyard.store.tokenstore import GroupStore

MAX_BODY = 64 * 1024
ProxyStats = list[dict[str, "int | None"]]  # per serving process: worker, pid, accepted, open


def no_proxy_stats() -> ProxyStats:
    return []


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    groups: GroupStore
    servers: ServerManager
    tokens: TokenManager
    permissions: Permissions
    services: ServiceManager
    oauth: OAuthProvider
    authenticator: Authenticator
    gate: Gate
    sessions: SessionManager
    shutdown: Callable[[], None]
    version: str
    proxy_stats: Callable[[], ProxyStats] = no_proxy_stats
    activity_written: dict[str, float] = field(default_factory=dict)  # user -> epoch


API = web.AppKey("courtyard-api", ApiContext)


class ApiError(Exception):
    """Answered as ``{"status": N, "message": "..."}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    principal: Principal
    scopes: frozenset[str]

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def kind(self) -> str:
        return self.principal.kind

    def may(self, base: str, user: str | None = None, server: str = "") -> bool:
        return sc.allows(self.scopes, base, user, server)

    def need(self, base: str, user: str | None = None, server: str = "") -> None:
        """403 if the caller lacks ``base`` entirely; 404 if only for other users (or
        other servers)."""
        if self.may(base, user, server):
            return
        if user is not None and sc.has_any(self.scopes, base):
            raise ApiError(404, f"No such user: {user}")
        raise ApiError(
            403, f"Action is not authorized with current scopes; requires any of [{base}]"
        )


def api(request: web.Request) -> ApiContext:
    return request.app[API]


def caller(request: web.Request) -> Caller:
    found: Caller | None = request.get("caller")
    if found is None:
        raise ApiError(403, "Missing or invalid credentials.")
    return found


def identify(request: web.Request) -> Caller | None:
    context = api(request)
    authorization = request.headers.get("Authorization")
    cookie = None if token_from_header(authorization) else request.headers.get("Cookie")
    who = context.gate.identify(cookie, authorization)
    if who is None:
        return None
    scopes = who.scopes
    if scopes is None:  # a login session: everything the user holds
        scopes = context.permissions.of_user(who.name)
    return Caller(who, scopes)


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (None when empty); 400 if not JSON, 413 if too big."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, f"Request body too large (limit {MAX_BODY} bytes).")
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise ApiError(413, f"Request body too large (limit {MAX_BODY} bytes).")
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"Invalid JSON in body of request: {e}") from e


async def json_required(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, which must be there (JupyterHub answers 400 to an empty
    PATCH or POST where a model is expected)."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object.")
    return data


async def json_object(request: web.Request) -> dict[str, Any]:
    data = await read_json(request)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object.")
    return data


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d))
