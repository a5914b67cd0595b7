"""The culler on the hub's pages: the warning banner before a cull and "Keep my server"."""

from __future__ import annotations

import math
from dataclasses import dataclass

from aiohttp import web

from courtyard.api.culling import CULLER  # the API's /users/{name}/culling reads it too
from courtyard.culler.loop import Culler
from courtyard.web.context import principal


@dataclass(frozen=True)
class CullNotice:
    """What the home page shows while a server is about to be culled."""

    minutes: int  # rounded up, at least 1
    reason: str  # "idle" (keeping helps) or "max_age" (it does not)

    @property
    def can_keep(self) -> bool:
        return self.reason == "idle"


def add_culling(app: web.Application, culler: Culler) -> None:
    app[CULLER] = culler
    app.router.add_post("/hub/keep-server", keep_server)


def cull_notice(request: web.Request, user: str) -> CullNotice | None:
    """A notice if ``user``'s server is inside the culler's warning window, else None."""
    culler = request.app.get(CULLER)
    if culler is None:
        return None
    decision = culler.status(user)
    if decision is None or decision.action != "warn" or decision.cull_at is None:
        return None
    left = max(0.0, decision.cull_at - culler.clock())
    return CullNotice(minutes=max(1, math.ceil(left / 60)), reason=decision.reason)


async def keep_server(request: web.Request) -> web.StreamResponse:
    """POST /hub/keep-server: the person is here; that is activity now."""
    who = principal(request)
    if who is None:
        raise web.HTTPFound("/hub/login")
    culler = request.app.get(CULLER)
    if culler is not None:
        culler.keep(who.name)
    raise web.HTTPFound("/hub/home")
