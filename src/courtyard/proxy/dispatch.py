"""Where one request goes: the path rules, the route table, the caller's identity.

A request for ``/services/<name>/...`` goes to that service's ``url`` (as JupyterHub's proxy
routes it: the path unchanged, the caller's Authorization kept, the hub's cookies dropped).
A request for ``/user/<name>/...`` (or ``/user/<name>/<server>/...``, a named server) goes to
that server only when the route exists and
the gate says the caller may open it; everything else goes to the control plane, which answers
(a login page, a spawn page, a 404). The lines the proxy injects are built here: the client's
address and scheme always, and the route's secret and the caller's name for a user's server.
"""

from __future__ import annotations

import time

from courtyard.auth.principal import Principal
from courtyard.proxy.context import ProxyContext
from courtyard.proxy.heads import RequestFacts, drop_hub_credentials
from courtyard.proxy.paths import (
    is_hub_api_path,
    is_safe_path,
    service_from_path,
    split_target,
    user_and_segment,
)
from courtyard.proxy.routes import Route
from courtyard.spawners.base import Endpoint

Destination = tuple[Endpoint, "Route | None", bytes]  # where, whose route, injected lines


def choose_upstream(
    ctx: ProxyContext, method: bytes, url: bytes, facts: RequestFacts, forwarded: bytes
) -> Destination | None:
    """Where the request goes, or None when its path is refused (a 400)."""
    path = split_target(url)
    safe = is_safe_path(path)
    if not safe and not is_hub_api_path(path):
        return None
    if facts.host is not None:
        forwarded += b"X-Forwarded-Host: %b\r\n" % facts.host
    if not safe:
        return ctx.hub, None, forwarded
    service = service_from_path(path)
    if service is not None and service in ctx.services:
        drop_hub_credentials(facts, keep_authorization=True)  # never the hub's cookie
        return ctx.services[service], None, forwarded
    named = user_and_segment(path)
    route = None if named is None else ctx.routes.lookup(*named)
    if route is None:
        return ctx.hub, None, forwarded
    principal = identify(ctx, facts)
    if principal is None or not principal.may_access_server(route.user, route.server):
        return ctx.hub, None, forwarded
    if principal.name != route.user:
        ctx.note_admin_access(principal.name, route.user)
    stamp(ctx, route, method, url)
    drop_hub_credentials(facts)  # the user's server must never see the hub's cookie or token
    injected = b"%bX-Courtyard-Secret: %b\r\nX-Courtyard-User: %b\r\n" % (
        forwarded,
        route.secret.encode(),
        principal.name.encode(),
    )
    if principal.scopes is not None:  # a token (user's or service's), no ambient credential
        injected += b"X-Courtyard-Auth: token\r\n"
    return route.endpoint, route, injected


def identify(ctx: ProxyContext, facts: RequestFacts) -> Principal | None:
    cookie = None if facts.cookie is None else facts.cookie.decode("latin-1")
    auth = None if facts.authorization is None else facts.authorization.decode("latin-1")
    try:
        return ctx.gate.identify(cookie, auth)
    except Exception:
        ctx.log.exception("the gate failed to identify a request; treated as anonymous")
        return None


def stamp(ctx: ProxyContext, route: Route, method: bytes, url: bytes) -> None:
    """Traffic always; activity only for what a person did (proxy/activity.py)."""
    now = route.last_traffic = time.time()
    kind = ctx.request_activity(method, url)
    if kind is not None:
        route.touch(now, kind)
