"""/users/{name}/culling and /users/{name}/keep: the culler's view of one server, and "keep it".

A Courtyard extension of JupyterHub's API, asked by the JupyterLab extension shipped in
singleuser/labextension/ (it polls the hub, not the user's server, so polling is not activity).
The culler is set on the control plane (web/culling.py) and found through ``config_dict``.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from courtyard.api.context import ApiError, caller, reply
from courtyard.api.users import user_or_404
from courtyard.culler.loop import Culler
from courtyard.culler.policy import Decision

CULLER = web.AppKey("culler", Culler)


def status_model(culler: Culler | None, user: str) -> dict[str, Any]:
    """``seconds_left`` (None: never culled, or not running), ``warn``, ``warn_in`` (seconds
    until the warning starts; 0 while warning) and ``reason`` ("idle" or "max_age")."""
    decision = culler.status(user) if culler is not None else None
    if culler is None or decision is None or decision.cull_at is None:
        return {"seconds_left": None, "warn": False, "warn_in": None, "reason": None}
    left = max(0.0, decision.cull_at - culler.clock())
    return {
        "seconds_left": math.ceil(left),
        "warn": decision.action == "warn",
        "warn_in": max(0, math.ceil(left - culler.settings.warn_before)),
        "reason": due_reason(decision),
    }


def due_reason(decision: Decision) -> str:
    """Which deadline is ahead: the age limit, or (for every other reason) idleness."""
    return "max_age" if decision.reason == "max_age" else "idle"


async def get_culling(request: web.Request) -> web.StreamResponse:
    who = caller(request)
    name = request.match_info["name"]
    who.need("read:servers", name)
    user_or_404(request, name)
    return reply(status_model(request.config_dict.get(CULLER), name))


async def keep_server(request: web.Request) -> web.StreamResponse:
    who = caller(request)
    name = request.match_info["name"]
    who.need("servers", name)
    user_or_404(request, name)
    culler = request.config_dict.get(CULLER)
    if culler is None or not culler.keep(name):
        raise ApiError(400, f"{name}'s server is not running")
    return reply(status_model(culler, name))
