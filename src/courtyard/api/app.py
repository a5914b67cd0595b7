"""The API application: its routes (one table, also the source of the OpenAPI document),
authentication, and JupyterHub's error shape for every failure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from courtyard.api import culling, groups, hub, oauth, servers, services, shares, tokens, users
from courtyard.api.activity import note_activity
from courtyard.api.context import API, ApiContext, ApiError, api, identify, reply
from courtyard.api.hub import API_VERSION
from courtyard.api.openapi import openapi_document
from courtyard.errors import CourtyardError
from courtyard.store import UNREACHABLE, store_unavailable

log = logging.getLogger("courtyard.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFIX = "/hub/api"
PUBLIC = frozenset({"/hub/api", "/hub/api/", "/hub/api/health", "/hub/api/openapi.json",
                    "/hub/api/oauth2/token",  # the client authenticates with its secret
                    "/hub/api/authorizations/token"})  # fmt: skip  # removed: always 404


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # below /hub/api
    handler: Handler | None  # None: a page, served by the control plane (web/)
    summary: str
    statuses: tuple[int, ...]
    scopes: tuple[str, ...] = ()


U = "/users/{name}"
G = "/groups/{name}"
ENDPOINTS = (
    Endpoint("GET", "/", hub.root, "Version of the API", (200,)),
    Endpoint("GET", "/health", hub.health, "Liveness check", (200,)),
    Endpoint("GET", "/info", hub.info, "Details of the hub", (200, 403), ("read:hub",)),
    Endpoint("GET", "/user", hub.whoami, "The caller's model, with its scopes", (200, 403)),
    Endpoint("GET", "/users", users.list_users, "List users", (200, 400, 403), ("list:users",)),
    Endpoint("POST", "/users", users.create_users, "Create users", (201, 400, 403, 409),
             ("admin:users",)),
    Endpoint("GET", U, users.get_user, "A user's model", (200, 403, 404), ("read:users",)),
    Endpoint("POST", U, users.create_user, "Create a user", (201, 400, 403, 409),
             ("admin:users",)),
    Endpoint("PATCH", U, users.patch_user, "Change a user", (200, 400, 403, 404),
             ("admin:users",)),
    Endpoint("DELETE", U, users.delete_user, "Delete a user", (204, 400, 403, 404),
             ("delete:users",)),
    Endpoint("POST", U + "/activity", users.post_activity, "Report activity",
             (200, 400, 403, 404), ("users:activity",)),
    Endpoint("GET", U + "/server", servers.get_server, "The server's model (JupyterHub 6)",
             (200, 403, 404), ("read:servers",)),
    Endpoint("POST", U + "/server", servers.start_server, "Start the server",
             (201, 202, 400, 403, 404), ("start:servers",)),
    Endpoint("PATCH", U + "/server", servers.patch_server,
             "Edit the stopped server (JupyterHub 6)", (200, 400, 403, 404), ("start:servers",)),
    Endpoint("DELETE", U + "/server", servers.stop_server, "Stop the server",
             (202, 204, 400, 403, 404), ("delete:servers",)),
    Endpoint("GET", U + "/server/progress", servers.server_progress,
             "Progress of a start (text/event-stream)", (200, 403, 404), ("read:servers",)),
    Endpoint("POST", U + "/admin-access", servers.admin_access,
             "Deprecated no-op (JupyterHub 0.8+)", (200, 403, 404), ("servers",)),
    Endpoint("GET", U + "/culling", culling.get_culling,
             "When the idle culler would stop the server (Courtyard)", (200, 403, 404),
             ("read:servers",)),
    Endpoint("POST", U + "/keep", culling.keep_server,
             "Keep the server: activity now, for the idle culler (Courtyard)",
             (200, 400, 403, 404), ("servers",)),
    Endpoint("GET", U + "/servers/{server_name}", servers.get_server,
             "A named server's model (JupyterHub 6)", (200, 403, 404), ("read:servers",)),
    Endpoint("PUT", U + "/servers/{server_name}", servers.create_server,
             "Create a named server without starting it (JupyterHub 6)",
             (201, 400, 403, 404, 409), ("start:servers",)),
    Endpoint("PATCH", U + "/servers/{server_name}", servers.patch_server,
             "Rename or edit a stopped named server (JupyterHub 6)", (200, 400, 403, 404, 409),
             ("start:servers",)),
    Endpoint("POST", U + "/servers/{server_name}", servers.start_server,
             "Start a named server (created on first start; named_servers)",
             (201, 202, 400, 403, 404), ("servers",)),
    Endpoint("DELETE", U + "/servers/{server_name}", servers.stop_server,
             "Stop a named server; with {\"remove\": true} also delete it",
             (202, 204, 400, 403, 404), ("delete:servers",)),
    Endpoint("GET", U + "/servers/{server_name}/progress", servers.server_progress,
             "Progress of a named server's start (text/event-stream)", (200, 403, 404),
             ("read:servers",)),
    Endpoint("GET", U + "/tokens", tokens.list_tokens, "List a user's tokens",
             (200, 403, 404), ("read:tokens",)),
    Endpoint("POST", U + "/tokens", tokens.create_token, "Create a token (shown once)",
             (201, 400, 403, 404), ("tokens",)),
    Endpoint("GET", U + "/tokens/{token_id}", tokens.get_token, "A token's model",
             (200, 403, 404), ("read:tokens",)),
    Endpoint("DELETE", U + "/tokens/{token_id}", tokens.delete_token, "Revoke a token",
             (204, 403, 404), ("tokens",)),
    Endpoint("GET", "/groups", groups.list_groups, "List groups", (200, 400, 403),
             ("list:groups",)),
    Endpoint("POST", "/groups", groups.create_groups, "Create groups", (201, 400, 403, 409),
             ("admin:groups",)),
    Endpoint("GET", G, groups.get_group, "A group's model", (200, 403, 404),
             ("read:groups",)),
    Endpoint("POST", G, groups.create_group, "Create a group", (201, 400, 403, 409),
             ("admin:groups",)),
    Endpoint("DELETE", G, groups.delete_group, "Delete a group", (204, 403, 404),
             ("delete:groups",)),
    Endpoint("POST", G + "/users", groups.change_members, "Add members",
             (200, 400, 403, 404), ("groups",)),
    Endpoint("DELETE", G + "/users", groups.change_members, "Remove members",
             (200, 400, 403, 404), ("groups",)),
    Endpoint("PUT", G + "/properties", groups.set_properties, "Set the group's properties",
             (200, 400, 403, 404), ("groups",)),
    Endpoint("GET", G + "/shared", shares.list_shared_with_group,
             "Shares granted to a group", (200, 403, 404), ("read:groups:shares",)),
    Endpoint("GET", G + "/shared/{owner}/{server_name}", shares.get_group_shared,
             "A group's share of one server", (200, 403, 404), ("read:groups:shares",)),
    Endpoint("DELETE", G + "/shared/{owner}/{server_name}", shares.delete_group_shared,
             "Revoke a group's share of one server", (204, 403, 404), ("groups:shares",)),
    Endpoint("GET", U + "/shared", shares.list_shared_with_user,
             "Shares granted to a user (directly or through groups)", (200, 403, 404),
             ("read:users:shares",)),
    Endpoint("GET", U + "/shared/{owner}/{server_name}", shares.get_user_shared,
             "A user's share of one server", (200, 403, 404), ("read:users:shares",)),
    Endpoint("DELETE", U + "/shared/{owner}/{server_name}", shares.delete_user_shared,
             "Give up (or revoke) a user's share of one server", (204, 403, 404),
             ("users:shares",)),
    Endpoint("GET", "/shares/{owner}", shares.list_shares, "Shares of an owner's servers",
             (200, 403, 404), ("read:shares",)),
    Endpoint("GET", "/shares/{owner}/{server_name}", shares.list_shares,
             "Shares of one server", (200, 403, 404), ("read:shares",)),
    Endpoint("POST", "/shares/{owner}/{server_name}", shares.grant_share,
             "Share a server with a user or group", (200, 400, 403, 404), ("shares",)),
    Endpoint("PATCH", "/shares/{owner}/{server_name}", shares.revoke_share,
             "Revoke some scopes of a share", (200, 400, 403, 404), ("shares",)),
    Endpoint("DELETE", "/shares/{owner}/{server_name}", shares.delete_shares,
             "Revoke every share of a server", (204, 403, 404), ("shares",)),
    Endpoint("GET", "/share-codes/{owner}", shares.list_codes,
             "Share codes of an owner's servers", (200, 403, 404), ("read:shares",)),
    Endpoint("GET", "/share-codes/{owner}/{server_name}", shares.list_codes,
             "Share codes of one server", (200, 403, 404), ("read:shares",)),
    Endpoint("POST", "/share-codes/{owner}/{server_name}", shares.create_code,
             "Create a share code (shown once) and its accept_url", (200, 400, 403, 404),
             ("shares",)),
    Endpoint("DELETE", "/share-codes/{owner}/{server_name}", shares.delete_codes,
             "Delete share codes (all, ?code= or ?id=)", (204, 403, 404), ("shares",)),
    Endpoint("GET", "/services", hub.list_services, "List services", (200, 403),
             ("list:services",)),
    Endpoint("GET", "/services/{name}", services.get_service, "A service's model",
             (200, 403, 404), ("read:services",)),
    Endpoint("POST", "/services/{name}", services.create_service,
             "Create a service (Courtyard: only in the settings)", (400, 403, 409),
             ("admin:services",)),
    Endpoint("DELETE", "/services/{name}", services.delete_service,
             "Delete a service (Courtyard: only in the settings)", (403, 404, 405),
             ("admin:services",)),
    Endpoint("GET", "/proxy", services.get_proxy, "The proxy's route table", (200, 403),
             ("proxy",)),
    Endpoint("POST", "/proxy", services.sync_proxy, "Sync with the proxy (a no-op)",
             (200, 403), ("proxy",)),
    Endpoint("PATCH", "/proxy", services.patch_proxy,
             "Tell of a new proxy (a no-op: the proxy is built in)", (200, 400, 403),
             ("proxy",)),
    Endpoint("POST", "/authorizations/token", oauth.post_token,
             "Removed in JupyterHub 2.0 (answers 404)", (404,)),
    Endpoint("GET", "/authorizations/token/{token}", oauth.get_token_owner,
             "Deprecated: the model of a token's owner (use GET /user)", (200, 403, 404)),
    Endpoint("GET", "/authorizations/cookie/{cookie_name}/{cookie_value}",
             oauth.get_cookie_owner, "Deprecated: the user a login cookie belongs to",
             (200, 403, 404)),
    Endpoint("GET", "/oauth2/authorize", None,
             "OAuth: the page asking the person to authorize a service (web/oauth.py)",
             (200, 302, 400, 403)),
    Endpoint("POST", "/oauth2/authorize", None,
             "OAuth: the person approves (the page's form)", (302, 400, 403)),
    Endpoint("POST", "/oauth2/token", oauth.token,
             "OAuth: trade an authorization code for an API token", (200, 400, 401)),
    Endpoint("POST", "/shutdown", hub.shutdown, "Shut the hub down", (202, 403),
             ("shutdown",)),
)  # fmt: skip


def route_path(path: str) -> str:
    """A share's ``{owner}/{server_name}`` may name the default server: "" (``alice/``)."""
    return path.replace("{owner}/{server_name}", "{owner}/{server_name:[^/]*}")


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return reply({"status": e.status, "message": e.message}, e.status)
    except web.HTTPMethodNotAllowed as e:
        answer = reply({"status": 405, "message": f"Method {request.method} not allowed"}, 405)
        answer.headers["Allow"] = ", ".join(sorted(e.allowed_methods))
        return answer
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return reply({"status": e.status, "message": e.reason}, e.status)
    except CourtyardError as e:
        log.warning("%s %s: %s", request.method, request.path, e.message)
        return reply({"status": e.http_status, "message": e.message}, e.http_status)
    except UNREACHABLE as e:
        trouble = store_unavailable(e)
        return reply({"status": trouble.http_status, "message": trouble.message}, 503)


@web.middleware
async def versioned(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer names the JupyterHub API version served, as JupyterHub's do (its
    single-user servers and HubAuth compare it with their own)."""
    response = await handler(request)
    response.headers["X-JupyterHub-Version"] = API_VERSION
    return response


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in PUBLIC:
        who = identify(request)
        if who is None:
            raise ApiError(403, "Missing or invalid credentials.")
        request["caller"] = who
        note_activity(api(request), who)
    return await handler(request)


async def openapi(request: web.Request) -> web.StreamResponse:
    return reply(openapi_document(ENDPOINTS, PREFIX))


def build_api_app(context: ApiContext) -> web.Application:
    app = web.Application(middlewares=[versioned, api_errors, authenticate])
    app[API] = context
    for endpoint in ENDPOINTS:
        if endpoint.handler is not None:
            app.router.add_route(endpoint.method, route_path(endpoint.path), endpoint.handler)
    app.router.add_get("/openapi.json", openapi)
    return app
