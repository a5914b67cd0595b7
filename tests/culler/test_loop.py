"""The culler's loop with a real store and route table; the clock and the kernel probe are
passed in (the probe against real servers is exercised by tests/e2e/test_culler.py)."""

from __future__ import annotations

from pathlib import Path

from courtyard.config.settings import CullerSettings
from courtyard.culler.loop import Culler
from courtyard.hub.servers import ServerManager
from courtyard.proxy.routes import Route, RouteTable
from courtyard.spawners.base import Endpoint
from courtyard.store.store import Store

T0 = 1_700_000_000.0
SETTINGS = CullerSettings(timeout=100, warn_before=30)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Path, busy: int) -> tuple[Culler, Route, Clock]:
    store = Store.open(f"sqlite:///{tmp_path / 'cy.sqlite'}")
    routes = RouteTable()
    servers = ServerManager(store, routes, lambda user, state: None)  # type: ignore[arg-type,return-value]
    store.ensure_user("ada")
    route = Route("ada", Endpoint(unix_path=str(tmp_path / "none.sock")), "s", last_activity=T0)
    routes.add(route)
    clock = Clock()

    async def probe(seen: Route) -> int:
        assert seen is route
        return busy

    return Culler(SETTINGS, servers, routes, store, probe=probe, clock=clock), route, clock


async def test_a_busy_kernel_near_the_deadline_is_activity_now(tmp_path: Path) -> None:
    culler, route, clock = make(tmp_path, busy=1)
    clock.now = T0 + 80
    [(user, decision)] = await culler.check()
    assert (user, decision.action, decision.reason) == ("ada", "keep", "busy")
    assert (route.last_activity, route.activity_kind) == (T0 + 80, "busy kernel")


async def test_an_idle_kernel_near_the_deadline_is_a_warning(tmp_path: Path) -> None:
    culler, route, clock = make(tmp_path, busy=0)
    clock.now = T0 + 80
    [(_, decision)] = await culler.check()
    assert (decision.action, decision.reason, decision.cull_at) == ("warn", "idle", T0 + 100)
    assert culler.seconds_left("ada") == 20
    assert route.last_activity == T0


async def test_keep_resets_the_clock(tmp_path: Path) -> None:
    culler, route, clock = make(tmp_path, busy=0)
    clock.now = T0 + 90
    status = culler.status("ada")
    assert status is not None
    assert status.action == "warn"
    assert culler.keep("ada")
    assert (route.last_activity, route.activity_kind) == (T0 + 90, "keep my server")
    assert culler.seconds_left("ada") == 100
    assert not culler.keep("nobody")
    assert culler.status("nobody") is None
