"""Hub-wide endpoints: version, info, who am I, services, shutdown, health, metrics."""

from __future__ import annotations

import asyncio
import platform
import sys
from typing import Any

from aiohttp import web

from courtyard import __version__
from courtyard.api.context import (
    ApiContext,
    ApiError,
    Caller,
    ProxyStats,
    api,
    caller,
    identify,
    reply,
)
from courtyard.api.models import user_model
from courtyard.hub.services import ManagedService

API_VERSION = "6.1.1"  # the JupyterHub API level served; clients compare major.minor with theirs
IDENTIFY = ("read:users", "read:users:name", "read:users:groups", "read:users:activity",
            "read:servers")  # fmt: skip


async def root(request: web.Request) -> web.StreamResponse:
    answer = reply({"version": API_VERSION, "courtyard_version": __version__})
    answer.headers["X-JupyterHub-Version"] = API_VERSION  # also served outside the API app
    return answer


async def health(request: web.Request) -> web.StreamResponse:
    return reply({"status": "ok"})


async def info(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    who.need("read:hub")
    return reply(
        {
            "version": API_VERSION,
            "courtyard_version": __version__,
            "python": platform.python_version(),
            "sys_executable": sys.executable,
            "spawner": {
                "class": f"courtyard.spawners.{context.settings.spawner}",
                "version": __version__,
            },
            "authenticator": {
                "class": f"courtyard.auth.{context.authenticator.kind}",
                "version": __version__,
            },
        }
    )


async def whoami(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    if who.kind == "service":
        model = service_model(context, context.services.services.get(who.name), who.name, True)
    else:
        user = context.store.get_user(who.name)
        if user is None:
            raise ApiError(403, "Missing or invalid credentials.")
        mine = frozenset(f"{s}!user={who.name}" for s in IDENTIFY)
        model = user_model(context, Caller(who.principal, who.scopes | mine), user)
    model["scopes"] = sorted(who.scopes)
    model["session_id"] = who.principal.session_id
    return reply(model)


def service_model(
    context: ApiContext, service: ManagedService | None, name: str, full: bool
) -> dict[str, Any]:
    model: dict[str, Any] = {"kind": "service", "name": name}
    if service is None or not full:
        return model
    config = service.config
    return {
        **model,
        "admin": False,
        "roles": context.permissions.book.roles_of_service(name),
        "url": config.url,
        "prefix": f"/services/{name}/",
        "pid": service.pid or 0,
        "command": config.command,
        "info": config.info,
        "display": config.display,
    }


async def list_services(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    who.need("list:services")
    full = who.may("read:services")
    return reply(
        {
            name: service_model(context, service, name, full)
            for name, service in sorted(context.services.services.items())
        }
    )


async def shutdown(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    who.need("shutdown")
    asyncio.get_running_loop().call_later(0.1, context.shutdown)
    return reply({"message": "Shutting down; user servers keep running."}, 202)


def metrics_text(context: ApiContext) -> str:
    states = context.servers.state_counts()  # not every user's servers: one count query
    running_services = sum(1 for s in context.services.services.values() if s.pid)
    lines = [
        ("jupyterhub_total_users", "Total number of users", context.store.count_users()),
        ("jupyterhub_running_servers", "Number of running servers", states.get("running", 0)),
        ("jupyterhub_pending_servers", "Servers starting or stopping",
         states.get("starting", 0) + states.get("stopping", 0)),
        ("courtyard_services_running", "Hub-managed services running", running_services),
    ]  # fmt: skip
    out = []
    for name, text, value in lines:
        out += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {value}"]
    out += proxy_metrics(context.proxy_stats())
    out += [
        "# HELP courtyard_info Courtyard version",
        "# TYPE courtyard_info gauge",
        f'courtyard_info{{version="{__version__}"}} 1',
    ]
    return "\n".join(out) + "\n"


def proxy_metrics(stats: ProxyStats) -> list[str]:
    """Per serving process (0: the hub itself, 1..: proxy workers, see workers = N)."""
    out = []
    for name, key, kind, text in (
        ("courtyard_proxy_connections_accepted_total", "accepted", "counter",
         "Client connections accepted, per serving process"),
        ("courtyard_proxy_connections_open", "open", "gauge",
         "Client connections open now, per serving process"),
        ("courtyard_proxy_worker_restarts_total", "restarts", "counter",
         "Times a proxy worker was started again after it died"),
    ):  # fmt: skip
        rows = [s for s in stats if key in s]
        if rows:
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            out += [f'{name}{{worker="{s["worker"]}"}} {s[key]}' for s in rows]
    return out


async def metrics(request: web.Request) -> web.StreamResponse:
    who = identify(request)
    if who is None or not who.may("read:metrics"):
        message = "Action is not authorized with current scopes; requires any of [read:metrics]"
        return reply({"status": 403, "message": message}, 403)
    body = metrics_text(api(request))
    return web.Response(text=body, content_type="text/plain", charset="utf-8",
                        headers={"X-Prometheus-Format": "0.0.4"})  # fmt: skip
