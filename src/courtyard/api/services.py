"""/services/{name} (read; create and delete answer as JupyterHub does for services defined
in its config: Courtyard's services all come from the settings) and /proxy (the route table
in configurable-http-proxy's format)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from courtyard.api.context import ApiError, api, caller, read_json, reply
from courtyard.api.hub import service_model
from courtyard.api.models import iso, page, paginate
from courtyard.proxy.routes import Route

SERVICE_READ = ("read:services", "read:services:name", "read:roles:services")


async def get_service(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    name = request.match_info["name"]
    if not any(who.may(s) for s in SERVICE_READ):
        raise ApiError(403, f"Action is not authorized with current scopes; requires any of "
                            f"[{', '.join(SERVICE_READ)}]")  # fmt: skip
    service = context.services.services.get(name)
    if service is None:
        raise ApiError(404, f"No such service: {name}")
    return reply(service_model(context, service, name, who.may("read:services")))


async def create_service(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    who.need("admin:services")
    name = request.match_info["name"]
    if name in context.services.services:
        raise ApiError(409, f"Service {name} already exists")
    data = await read_json(request)
    if not data or not isinstance(data, dict):
        raise ApiError(400, "Invalid service data")
    raise ApiError(
        400, f"Failed to create service {name}: Courtyard's services are defined in the "
             "settings ([[services]]); add it there and restart the hub."
    )  # fmt: skip


async def delete_service(request: web.Request) -> web.StreamResponse:
    context, who = api(request), caller(request)
    who.need("admin:services")
    name = request.match_info["name"]
    if name not in context.services.services:
        raise ApiError(404, f"Service {name} does not exist")
    raise ApiError(405, f"Service {name} is not modifiable at runtime")


def route_entry(route: Route) -> dict[str, Any]:
    endpoint = route.endpoint
    if endpoint.unix_path:
        target = f"unix:{endpoint.unix_path}"
    else:
        target = f"http://{endpoint.host}:{endpoint.port}"
    spec = f"/user/{route.user}/"
    data = {"user": route.user, "server_name": "", "last_activity": iso_epoch(route.last_activity)}
    return {"routespec": spec, "target": target, "data": data}


def iso_epoch(epoch: float) -> str | None:
    return iso(datetime.fromtimestamp(epoch, timezone.utc))


async def get_proxy(request: web.Request) -> web.StreamResponse:
    """The route table as configurable-http-proxy lists it: ``{routespec: {routespec, target,
    data}}``; "/" is the hub (Courtyard's proxy is in-process: the target is the hub itself),
    ``/services/<name>/`` a service with a url."""
    context, who = api(request), caller(request)
    who.need("proxy")
    offset, limit = paginate(request)
    hub = {"routespec": "/", "target": "courtyard:hub", "data": {"hub": True}}
    table: dict[str, Any] = {"/": hub}
    for route in context.servers.routes:
        entry = route_entry(route)
        table[entry["routespec"]] = entry
    for name, service in context.services.services.items():
        if service.config.url:  # served by the proxy at its prefix (proxy/dispatch.py)
            spec = service.config.prefix
            table[spec] = {"routespec": spec, "target": service.config.url,
                           "data": {"service": name}}  # fmt: skip
    keys = sorted(table)
    chosen = {k: table[k] for k in keys[offset : offset + limit]}
    body = page(request, [], len(keys), offset, limit)
    if isinstance(body, dict):  # the client asked for pagination: items is the table
        return reply({**body, "items": chosen})
    return reply(chosen)


async def sync_proxy(request: web.Request) -> web.StreamResponse:
    """JupyterHub re-checks the external proxy's routes; Courtyard's route table is the
    proxy's own (no second copy to drift), so this is a no-op that answers 200."""
    caller(request).need("proxy")
    return web.Response(status=200)


async def patch_proxy(request: web.Request) -> web.StreamResponse:
    """JupyterHub is told of a new external proxy; Courtyard's proxy is built in, so a
    well-formed body is accepted and ignored (200), as a sync."""
    caller(request).need("proxy")
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be JSON dict")
    return web.Response(status=200)
