"""The one place a user's server changes state: start, stop, re-attach, notice it is gone.

States go stopped -> starting -> running -> stopping -> stopped; every change is written to the
store before the route table changes, so a hub restarted at any moment re-attaches correctly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

from courtyard.errors import N_, CourtyardError, ServerStateError, SpawnError
from courtyard.hub.progress import ProgressLog
from courtyard.proxy.routes import Route, RouteTable
from courtyard.spawners.base import Endpoint, Spawner, Started
from courtyard.store.records import ServerRecord, ServerState
from courtyard.store.store import Store


class SpawnerFactory(Protocol):
    """Builds a user's spawner: fresh (state None, with the chosen profile) or re-attached."""

    def __call__(self, user: str, state: dict[str, Any] | None, profile: str = "") -> Spawner: ...


@runtime_checkable
class ExplainsExit(Protocol):
    """A spawner that knows why its server ended (a Slurm job's time limit, preemption)."""

    def exit_reason(self) -> str | None: ...


log = logging.getLogger("courtyard.hub")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ServerHandle:
    """What the hub holds in memory about one user's server."""

    user: str
    state: ServerState = "stopped"
    spawner: Spawner | None = None
    task: asyncio.Task[None] | None = None
    progress: ProgressLog = field(default_factory=ProgressLog)


@dataclass(frozen=True)
class ServerView:
    """A server as pages and the API show it."""

    user: str
    state: ServerState
    started: datetime | None
    last_activity: datetime | None
    stop_reason: str | None
    url: str


class ServerManager:
    def __init__(
        self,
        store: Store,
        routes: RouteTable,
        make_spawner: SpawnerFactory,
        *,
        default_url: str = "/lab",
        poll_interval: float = 10.0,
    ) -> None:
        self.store = store
        self.routes = routes
        self.make_spawner = make_spawner
        self.default_url = default_url
        self.poll_interval = poll_interval
        self._handles: dict[str, ServerHandle] = {}
        self._watcher: asyncio.Task[None] | None = None

    def handle(self, user: str) -> ServerHandle:
        if user not in self._handles:
            self._handles[user] = ServerHandle(user)
        return self._handles[user]

    def url_for(self, user: str) -> str:
        return f"/user/{user}{self.default_url}"

    # ---- queries -------------------------------------------------------------------------

    def view(self, user: str) -> ServerView:
        record = self.store.get_server(user)
        state = self.handle(user).state
        route = self.routes.get(user)
        activity = record.last_activity if record else None
        if route is not None:
            live = datetime.fromtimestamp(route.last_activity, timezone.utc)
            activity = max(activity, live) if activity else live
        return ServerView(
            user=user,
            state=state,
            started=record.started if record and state != "stopped" else None,
            last_activity=activity,
            stop_reason=record.stop_reason if record and state == "stopped" else None,
            url=self.url_for(user),
        )

    def progress(self, user: str) -> ProgressLog:
        return self.handle(user).progress

    # ---- start ---------------------------------------------------------------------------

    def request_start(self, user: str, profile: str = "") -> ServerHandle:
        """Begin starting ``user``'s server in the background; a no-op if it runs or starts.

        ``profile`` names a resource profile (Slurm); the web layer has validated it."""
        handle = self.handle(user)
        if handle.state in ("starting", "running"):
            return handle
        if handle.state == "stopping":
            raise ServerStateError(
                N_("{user}'s server is stopping; start it again in a moment."),
                params={"user": user},
            )
        handle.state = "starting"
        handle.progress = ProgressLog()
        handle.spawner = self.make_spawner(user, None, profile)
        self.store.save_server(user, state="starting", started=utcnow(), stop_reason=None)
        handle.task = asyncio.create_task(self._start(handle), name=f"start-{user}")
        return handle

    async def start(self, user: str) -> None:
        """Start and wait until the server is ready (or raise its SpawnError)."""
        handle = self.request_start(user)
        if handle.task is not None:
            await asyncio.shield(handle.task)
        if handle.state != "running":
            record = self.store.get_server(user)
            reason = record.stop_reason if record else None
            raise SpawnError(reason or f"{user}'s server did not start.")

    async def _start(self, handle: ServerHandle) -> None:
        spawner = handle.spawner
        assert spawner is not None  # set by request_start
        try:
            started = await spawner.start(handle.progress.add)
        except asyncio.CancelledError:
            await self._mark_stopped(handle, "The start was cancelled.")
            handle.progress.failed("The start was cancelled.")  # release progress followers
            raise
        except CourtyardError as e:
            log.error(
                "start of %s's server failed: %s%s",
                handle.user,
                e.message,
                f"\n{e.detail}" if e.detail else "",
            )
            await self._mark_stopped(handle, e.message)
            handle.progress.failed(e.message)
            return
        except Exception as e:  # a bug in a spawner must not wedge the server in "starting"
            log.exception("start of %s's server crashed", handle.user)
            await self._mark_stopped(handle, f"Internal error while starting: {type(e).__name__}")
            handle.progress.failed("The server could not be started (internal error).")
            return
        self._mark_running(handle, spawner, started)
        handle.progress.ready(f"/user/{handle.user}/")  # the root, as JupyterHub gives it

    def _mark_running(self, handle: ServerHandle, spawner: Spawner, started: Started) -> None:
        self.store.save_server(
            handle.user,
            state="running",
            spawner_state=spawner.state(),
            endpoint=started.endpoint.to_dict(),
            secret=started.secret,
        )
        handle.state = "running"
        handle.task = None
        self.routes.add(Route(handle.user, started.endpoint, started.secret))
        log.info("%s's server is running at %s", handle.user, started.endpoint.describe())

    async def _mark_stopped(self, handle: ServerHandle, reason: str | None) -> None:
        route = self.routes.remove(handle.user)
        activity = datetime.fromtimestamp(route.last_activity, timezone.utc) if route else None
        if handle.spawner is not None and handle.state != "stopped":
            try:
                await handle.spawner.stop()
            except CourtyardError as e:
                log.warning("cleaning up %s's server: %s", handle.user, e.message)
        handle.state = "stopped"
        handle.spawner = None
        handle.task = None
        self.store.save_server(
            handle.user,
            state="stopped",
            stop_reason=reason,
            spawner_state={},
            endpoint=None,
            secret="",
            last_activity=activity,
        )

    # ---- stop ----------------------------------------------------------------------------

    async def stop(self, user: str, reason: str | None = None) -> None:
        """Stop ``user``'s server (cancelling a start in progress); idempotent."""
        handle = self.handle(user)
        if handle.state == "stopped":
            return
        if handle.state == "starting" and handle.task is not None:
            handle.task.cancel()
            await asyncio.gather(handle.task, return_exceptions=True)
            return
        if handle.state == "stopping" and handle.task is not None:
            await asyncio.shield(handle.task)
            return
        handle.state = "stopping"
        self.store.save_server(user, state="stopping")
        self.routes.remove(user)
        handle.task = asyncio.create_task(self._mark_stopped_after_stop(handle, reason))
        await asyncio.shield(handle.task)

    async def remove(self, user: str, reason: str | None = "admin") -> None:
        """Stop ``user``'s server and forget it: call before deleting or renaming the user."""
        await self.stop(user, reason)
        self._handles.pop(user, None)

    async def _mark_stopped_after_stop(self, handle: ServerHandle, reason: str | None) -> None:
        handle.state = "stopping"
        await self._mark_stopped(handle, reason)
        log.info("%s's server stopped%s", handle.user, f" ({reason})" if reason else "")

    # ---- re-attach and watch --------------------------------------------------------------

    async def reattach_all(self) -> list[str]:
        """Route every server a previous hub left running; mark the rest stopped."""
        attached = []
        for record in self.store.list_servers(states=("starting", "running", "stopping")):
            if await self._reattach(record):
                attached.append(record.user)
        return attached

    async def _reattach(self, record: ServerRecord) -> bool:
        handle = self.handle(record.user)
        if record.state == "running" and record.endpoint and record.spawner_state:
            spawner = self.make_spawner(record.user, record.spawner_state)
            if await spawner.poll() is None:
                handle.spawner = spawner
                handle.state = "running"
                endpoint = Endpoint.from_dict(record.endpoint)
                route = Route(record.user, endpoint, record.secret)
                if record.last_activity is not None:  # a restart must not reset the idle clock
                    route.last_activity = record.last_activity.timestamp()
                self.routes.add(route)
                log.info("re-attached %s's server at %s", record.user, endpoint.describe())
                return True
            handle.spawner = spawner
        handle.state = "starting" if handle.spawner else "stopped"
        await self._mark_stopped(handle, "The server stopped while the hub was down.")
        return False

    def on_upstream_gone(self, user: str) -> None:
        """The proxy could not reach ``user``'s server: check it now rather than at next poll."""
        handle = self.handle(user)
        if handle.state == "running" and handle.task is None:
            handle.task = asyncio.create_task(self._check(handle))

    async def _check(self, handle: ServerHandle) -> None:
        spawner = handle.spawner
        status = await spawner.poll() if spawner is not None else -1
        handle.task = None
        if status is not None and handle.state == "running":
            log.warning("%s's server exited (status %s)", handle.user, status)
            explained = spawner.exit_reason() if isinstance(spawner, ExplainsExit) else None
            await self._mark_stopped(handle, explained or "exited")

    def start_watching(self) -> None:
        self._watcher = asyncio.create_task(self._watch(), name="server-watcher")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            for handle in list(self._handles.values()):
                if handle.state == "running" and handle.task is None:
                    await self._check(handle)
            self.save_activity()

    def save_activity(self) -> None:
        stamps = {
            r.user: datetime.fromtimestamp(r.last_activity, timezone.utc) for r in self.routes
        }
        if stamps:
            self.store.record_activity(stamps)

    async def close(self) -> None:
        """Hub shutdown: running servers keep running; starts in progress are cancelled (their
        half-started processes stopped), since no later hub could re-attach to them."""
        tasks = [self._watcher] if self._watcher else []
        tasks += [h.task for h in self._handles.values() if h.state == "starting" and h.task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.save_activity()
