"""The culler's loop: every ``check_interval`` seconds, observe each running server, ask the
policy, warn or stop. Also what the pages ask: the status of one server and "keep it".

Observations come from the route table (``Route.last_activity``: a person's activity, see
proxy/activity.py), the store (start time, activity reported through the REST API) and, only
when a server is about to be warned or culled for idleness, its kernels (one busy kernel is
activity now, stamped on the route as "busy kernel").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timezone

from courtyard.config.settings import CullerSettings
from courtyard.culler.kernels import busy_kernels
from courtyard.culler.policy import (
    Decision,
    Observation,
    account_expired,
    check_interval,
    decide,
    time_until_cull,
)
from courtyard.hub.servers import ServerManager
from courtyard.proxy.routes import Route, RouteTable
from courtyard.store.store import ServerActivity, Store

log = logging.getLogger("courtyard.culler")
BusyProbe = Callable[[Route], Awaitable[int]]
Clock = Callable[[], float]
YIELD_EVERY = 100  # rows between yields to the event loop during a pass
STOP_AT_ONCE = 50  # idle servers stopped concurrently (each mostly waits for its process)


def epoch(stamp: datetime | None) -> float | None:
    if stamp is None:
        return None
    aware = stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    return aware.timestamp()


class Culler:
    """Stops idle servers; warns first. ``start()`` runs the loop, ``close()`` ends it."""

    def __init__(
        self,
        settings: CullerSettings,
        servers: ServerManager,
        routes: RouteTable,
        store: Store,
        *,
        admin_users: frozenset[str] = frozenset(),
        delete_accounts: bool = False,
        probe: BusyProbe = busy_kernels,
        clock: Clock = time.time,
    ) -> None:
        self.settings = settings
        self.servers = servers
        self.routes = routes
        self.store = store
        self.admin_users = admin_users
        self.delete_accounts = delete_accounts
        self.probe = probe
        self.clock = clock
        self._warned: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    # ---- what pages ask ---------------------------------------------------------------

    def observe(self, route: Route, now: float, row: ServerActivity | None = None) -> Observation:
        """``row``: the server's stored activity, when a pass loaded every server's at once;
        else it is read now (two small queries, for one server's page)."""
        if row is None:
            record = self.store.get_server(route.user, route.server)
            user = self.store.get_user(route.user)
            row = ServerActivity(
                record.last_activity if record else None,
                record.started if record else None,
                bool(user and user.admin),
            )
        stored = epoch(row.last_activity)
        return Observation(
            user=route.user,
            last_activity=max(route.last_activity, stored or 0.0),
            started=epoch(row.started),
            admin=route.user in self.admin_users or row.admin,
            activity_kind=route.activity_kind,
        )

    def status(self, user: str, server: str = "") -> Decision | None:
        """The decision for ``user``'s running server now (no kernel probe), or None."""
        route = self.routes.get(user, server)
        if route is None:
            return None
        now = self.clock()
        return decide(self.observe(route, now), self.settings, now)

    def seconds_left(self, user: str, server: str = "") -> float | None:
        """Seconds until ``user``'s server would be culled; None: not running or never."""
        route = self.routes.get(user, server)
        if route is None:
            return None
        now = self.clock()
        return time_until_cull(self.observe(route, now), self.settings, now)

    def keep(self, user: str, server: str = "") -> bool:
        """The user asked to keep their server: that is activity now."""
        route = self.routes.get(user, server)
        if route is None:
            return False
        route.touch(self.clock(), "keep my server")
        self._warned.pop(route.key, None)
        log.info("%s asked to keep their server %s", user, route.key)
        return True

    # ---- the loop -----------------------------------------------------------------------

    def start(self) -> None:
        if self.settings.enabled:
            self._task = asyncio.create_task(self._run(), name="culler")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        interval = check_interval(self.settings)
        log.info(
            "culler: servers idle %d s are stopped (checked every %g s)",
            self.settings.timeout,
            interval,
        )
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check()
            except Exception:  # one bad pass must not end culling for good
                log.exception("culler pass failed")

    async def check(self) -> list[tuple[str, Decision]]:
        """One pass over every running server; returns what was decided for each. The store
        is read once for all servers (not per server); the pass yields to the event loop
        every YIELD_EVERY servers, and the servers to cull are stopped STOP_AT_ONCE at a
        time (a stop mostly waits: its /proc scans run in a thread), so a pass over 1,000
        servers never holds up the hub's requests."""
        began, cpu = time.monotonic(), time.thread_time()  # thread_time: the event loop's
        rows = self.store.server_activity()
        decisions = []
        acts = []
        for i, route in enumerate(list(self.routes)):
            if i and i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            decision = await self._decide(route, rows.get(route.key))
            decisions.append((route.key, decision))
            acts.append((route, decision))
        gate = asyncio.Semaphore(STOP_AT_ONCE)

        async def act(route: Route, decision: Decision) -> None:
            async with gate:
                await self._act(route, decision)

        await asyncio.gather(*(act(r, d) for r, d in acts))
        if self.delete_accounts and self.settings.users > 0:
            await self._expire_accounts()
        culled = sum(1 for _, d in decisions if d.action == "cull")
        log.info(
            "culler pass: %d servers checked, %d culled, in %.3f s (the event loop's CPU "
            "meanwhile, for everything it ran: %.3f s)",
            len(decisions),
            culled,
            time.monotonic() - began,
            time.thread_time() - cpu,
        )
        return decisions

    async def _decide(self, route: Route, row: ServerActivity | None = None) -> Decision:
        now = self.clock()
        observation = self.observe(route, now, row)
        decision = decide(observation, self.settings, now)
        if decision.action == "keep" or decision.reason != "idle":
            return decision
        if not self.settings.busy_kernels_are_active:
            return decision
        busy = await self.probe(route)
        if not busy:
            return decision
        now = self.clock()
        route.touch(now, "busy kernel")
        return decide(replace(observation, busy=True, last_activity=now), self.settings, now)

    async def _act(self, route: Route, decision: Decision) -> None:
        key = route.key
        what = f"{route.user}'s server" + (f" {route.server!r}" if route.server else "")
        if decision.action == "warn" and self._warned.get(key) != decision.cull_at:
            self._warned[key] = decision.cull_at or 0.0
            left = (decision.cull_at or 0.0) - self.clock()
            log.info("%s will be culled in %d s (%s)", what, left, decision.reason)
        if decision.action != "cull" or self.routes.get_key(key) is not route:
            return
        self._warned.pop(key, None)
        log.warning(
            "culling %s: %s; last activity %s ago (%s)",
            what,
            "max_age reached" if decision.reason == "max_age" else "idle",
            f"{decision.idle_for:.0f} s",
            route.activity_kind,
        )
        await self.servers.stop(route.user, reason=decision.reason, server=route.server)

    async def _expire_accounts(self) -> None:
        now = self.clock()
        with_server = {r.user for r in self.routes}
        for i, user in enumerate(self.store.list_users()):
            if i and i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            expired = account_expired(
                epoch(user.last_activity),
                epoch(user.created) or now,
                has_server=user.name in with_server,
                admin=user.admin or user.name in self.admin_users,
                settings=self.settings,
                now=now,
            )
            if expired and user.password_hash is not None:
                self.store.delete_user(user.name)
                log.warning("deleted local account %s: idle past culler.users", user.name)
