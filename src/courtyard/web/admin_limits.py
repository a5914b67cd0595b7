"""Limits on the admin page: each server's memory and CPU against its limit (read from its
cgroup, refreshed live from ``GET /hub/admin/limits.json``), and who holds which GPU."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from courtyard.config.limits import format_size
from courtyard.hub.limitwatch import MeasuresLimits
from courtyard.spawners.limits.limiter import Limiter
from courtyard.web.context import ctx
from courtyard.web.home import require_login

LIMITER = web.AppKey("limiter", Limiter)
CPU_SAMPLES = web.AppKey("cpu_samples", dict)


@dataclass(frozen=True)
class LimitCells:
    """What the memory and CPU cells show for a server with limits."""

    memory: str  # "120 MiB / 200 MiB"
    cpu: str  # "48% / 50%"
    gpus: str  # "0, 1" (CUDA_VISIBLE_DEVICES)


def add_limits(app: web.Application, limiter: Limiter | None) -> None:
    if limiter is None:
        return
    app[LIMITER] = limiter
    app[CPU_SAMPLES] = {}
    app.router.add_get("/hub/admin/limits.json", limits_json)


def cells_for(
    request: web.Request, user: str, server: str = "", clock: Callable[[], float] = time.monotonic
) -> LimitCells | None:
    """The cells of ``user``'s server (``server``: a named one), or None without limits (the
    /proc figures stay)."""
    spawner = ctx(request).servers.handle(user, server).spawner
    found = spawner.measure() if isinstance(spawner, MeasuresLimits) else None
    if found is None or found[1] is None:
        return None
    placement, measured = found
    allowed = placement.allowance
    memory = format_size(measured.memory)
    if allowed.memory is not None:
        memory += f" / {format_size(allowed.memory)}"
    samples: dict[str, tuple[float, float]] = request.app[CPU_SAMPLES]
    now, last = clock(), samples.get(placement.key)
    samples[placement.key] = (now, measured.cpu_seconds)
    share = ""
    if last is not None and now > last[0]:
        share = f"{100 * max(0.0, measured.cpu_seconds - last[1]) / (now - last[0]):.0f}%"
    cpu = share or "…"
    if allowed.cpus is not None:
        cpu += f" / {100 * allowed.cpus:.0f}%"
    return LimitCells(memory, cpu, ", ".join(placement.gpu_indexes))


def gpu_rows(request: web.Request) -> list[tuple[str, str, str | None]]:
    limiter = request.app.get(LIMITER)
    return limiter.pool.table() if limiter is not None else []


async def limits_json(request: web.Request) -> web.StreamResponse:
    """Every running server's cells (keyed "alice" or "alice/torch") and the GPU table, for
    the admin page to refresh itself."""
    if not require_login(request).admin:
        raise web.HTTPForbidden(reason="Only administrators may do this.")
    servers = {}
    for handle in ctx(request).servers.running():
        cells = cells_for(request, handle.user, handle.server)
        if cells is not None:
            servers[handle.key] = {"memory": cells.memory, "cpu": cells.cpu, "gpus": cells.gpus}
    gpus = [{"index": i, "device": d, "holder": h} for i, d, h in gpu_rows(request)]
    return web.json_response({"servers": servers, "gpus": gpus})
