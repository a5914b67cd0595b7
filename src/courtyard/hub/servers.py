"""The one place a server changes state: start, stop, re-attach, notice it is gone.

A person has a default server (name "") and, where ``named_servers`` allows, named ones
(``/user/<name>/<server>/``). Each is keyed by its server key (``alice``, ``alice/torch``:
records.server_key) in memory, in the route table and on the wire to the proxy workers.

States go stopped -> starting -> running -> stopping -> stopped; every change is written to the
store before the route table changes, so a hub restarted at any moment re-attaches correctly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

from courtyard.errors import N_, CourtyardError, ServerNameError, ServerStateError, SpawnError
from courtyard.hub.limitwatch import LimitNotice, LimitWatch, MeasuresLimits
from courtyard.hub.progress import ProgressLog
from courtyard.proxy.routes import Route, RouteTable
from courtyard.spawners.base import Endpoint, Spawner, Started
from courtyard.store.records import ServerRecord, ServerState, server_key, split_server_key
from courtyard.store.store import Store


class SpawnerFactory(Protocol):
    """Builds a server's spawner: fresh (state None, with the chosen profile) or re-attached."""

    def __call__(
        self, user: str, state: dict[str, Any] | None, profile: str = "", server: str = ""
    ) -> Spawner: ...


@runtime_checkable
class ExplainsExit(Protocol):
    """A spawner that knows why its server ended (a Slurm job's time limit, preemption)."""

    def exit_reason(self) -> str | None: ...


log = logging.getLogger("courtyard.hub")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ServerHandle:
    """What the hub holds in memory about one server."""

    user: str
    server: str = ""
    state: ServerState = "stopped"
    spawner: Spawner | None = None
    task: asyncio.Task[None] | None = None
    progress: ProgressLog = field(default_factory=ProgressLog)

    @property
    def key(self) -> str:
        return server_key(self.user, self.server)

    def describe(self) -> str:
        """For logs: "alice's server" or "alice's server 'torch'"."""
        return f"{self.user}'s server" + (f" {self.server!r}" if self.server else "")


@dataclass(frozen=True)
class ServerView:
    """A server as pages and the API show it."""

    user: str
    state: ServerState
    started: datetime | None
    last_activity: datetime | None
    stop_reason: str | None
    url: str
    notice: LimitNotice | None = None  # e.g. its kernel was stopped at the memory limit
    server: str = ""
    user_options: dict[str, Any] = field(default_factory=dict)
    display_name: str = ""  # "" shows the server's name

    @property
    def key(self) -> str:
        return server_key(self.user, self.server)

    @property
    def profile(self) -> str:
        value = self.user_options.get("profile", "")
        return value if isinstance(value, str) else ""


SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z")
# Named servers share /user/<name>/ with the default server: a name that is also one of
# jupyter_server's or JupyterLab's own top-level paths would hide that page of the default
# server (the proxy routes a named server first), so those names are refused.
RESERVED_SERVER_NAMES = frozenset(
    {
        "api", "lab", "tree", "files", "static", "edit", "view", "notebooks", "terminals",
        "kernelspecs", "nbextensions", "custom", "login", "logout", "doc", "voila",
        "proxy", "metrics", "nbconvert", "extensions", "hub", "user", "server", "servers",
    }
)  # fmt: skip
BAD_SERVER_NAME = N_(
    "{server!r} cannot name a server: use 1 to 32 letters, digits, '.', '_' or '-', "
    "starting with a letter or digit."
)
RESERVED_SERVER_NAME = N_(
    "{server!r} cannot name a server: it is one of JupyterLab's own paths. Choose another name."
)
TOO_MANY_SERVERS = N_(
    "{user} already has {count} named servers, the most this hub allows (named_servers = "
    "{limit}). Delete one first."
)
NAMED_SERVERS_OFF = N_("Named servers are not enabled on this hub (setting named_servers).")


def check_server_name(server: str) -> None:
    """Refuse (400) a name that cannot be a path segment, a file name part and a label."""
    shown = server[:64] + ("..." if len(server) > 64 else "")
    if not SERVER_NAME.match(server):
        raise ServerNameError(BAD_SERVER_NAME, params={"server": shown})
    if server.lower() in RESERVED_SERVER_NAMES:
        raise ServerNameError(RESERVED_SERVER_NAME, params={"server": shown})


class ServerWrites:
    """Server-row writes asked for in the same turn of the event loop, made together in one
    transaction (Store.save_servers) at the end of that turn; each caller resumes once its
    write is committed (or gets the store's error). The culler stopping 500 servers, 50 at a
    time, made two transactions per server (2 ms of the event loop each on SQLite); now a
    batch of them shares one."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[str, str, dict[str, Any], asyncio.Future[None]]] = []

    async def save(self, user: str, server: str, values: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((user, server, values, done))
        await done

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            self.store.save_servers((user, server, values) for user, server, values, _ in batch)
        except Exception as exc:  # every caller of this batch sees the store's error
            for *_, done in batch:
                if not done.cancelled():
                    done.set_exception(exc)
            return
        for *_, done in batch:
            if not done.cancelled():
                done.set_result(None)


class ServerManager:
    def __init__(
        self,
        store: Store,
        routes: RouteTable,
        make_spawner: SpawnerFactory,
        *,
        default_url: str = "/lab",
        poll_interval: float = 10.0,
        named_servers: int = 0,
    ) -> None:
        self.store = store
        self.routes = routes
        self.make_spawner = make_spawner
        self.default_url = default_url
        self.poll_interval = poll_interval
        self.named_servers = named_servers  # the most named servers per person; 0: none
        self._handles: dict[str, ServerHandle] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._saved_activity: dict[str, float] = {}  # route key: the stamp last written
        self.writes = ServerWrites(store)
        self.limits = LimitWatch()

    def handle(self, user: str, server: str = "") -> ServerHandle:
        key = server_key(user, server)
        if key not in self._handles:
            self._handles[key] = ServerHandle(user, server)
        return self._handles[key]

    def url_for(self, user: str, server: str = "") -> str:
        return f"{self.root_url(user, server)}{self.default_url.lstrip('/')}"

    @staticmethod
    def root_url(user: str, server: str = "") -> str:
        """The server's root, as JupyterHub gives it: ``/user/alice/`` or
        ``/user/alice/torch/``."""
        return f"/user/{user}/{server}/" if server else f"/user/{user}/"

    # ---- queries -------------------------------------------------------------------------

    def view(self, user: str, server: str = "") -> ServerView:
        return self._view(user, server, self.store.get_server(user, server))

    def _view(self, user: str, server: str, record: ServerRecord | None) -> ServerView:
        handle = self.handle(user, server)
        state = handle.state
        self.limits.observe(handle.key, handle.spawner)
        route = self.routes.get(user, server)
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
            url=self.url_for(user, server),
            server=server,
            user_options=dict(record.user_options) if record else {},
            display_name=record.display_name if record else "",
            notice=self.limits.notice(handle.key),
        )

    def views(self, user: str) -> list[ServerView]:
        """Every server of ``user`` the hub knows: the default one first (always, even if it
        was never started), then the named ones by name."""
        records = {r.server: r for r in self.store.list_servers(user=user)}
        names = sorted(set(records) | {h.server for h in self._handles.values() if h.user == user})
        names = [""] + [n for n in names if n]
        return [self._view(user, name, records.get(name)) for name in names]

    def views_of(self, users: list[str]) -> dict[str, list[ServerView]]:
        """``views`` for many users with one query (the API's user lists)."""
        found = self.store.servers_by_user(users)
        out: dict[str, list[ServerView]] = {}
        for user in users:
            records = {r.server: r for r in found.get(user, [])}
            names = ["", *sorted(n for n in records if n)]
            out[user] = [self._view(user, name, records.get(name)) for name in names]
        return out

    def limit_keys(self) -> set[str]:
        """The cgroup names of every server with limits (the rest are stale)."""
        keys: set[str] = set()
        for handle in self._handles.values():
            found = handle.spawner.measure() if isinstance(handle.spawner, MeasuresLimits) else None
            if found is not None:
                keys.add(found[0].key)
        return keys

    def progress(self, user: str, server: str = "") -> ProgressLog:
        return self.handle(user, server).progress

    # ---- start ---------------------------------------------------------------------------

    def check_new_server(self, user: str, server: str) -> None:
        """Refuse (400) a named server this hub would not create: a bad name, named servers
        off, or the person's limit reached. Existing servers always pass."""
        if not server:
            return
        if self.named_servers <= 0:
            raise ServerNameError(NAMED_SERVERS_OFF)
        check_server_name(server)
        existing = {r.server for r in self.store.list_servers(user=user) if r.server}
        if server not in existing and len(existing) >= self.named_servers:
            raise ServerNameError(
                TOO_MANY_SERVERS,
                params={"user": user, "count": len(existing), "limit": self.named_servers},
            )

    def request_start(
        self,
        user: str,
        profile: str = "",
        *,
        server: str = "",
        user_options: dict[str, Any] | None = None,
    ) -> ServerHandle:
        """Begin starting a server in the background; a no-op if it runs or starts.

        ``profile`` names a resource/environment profile; the web layer has validated it.
        ``user_options`` is what the person sent (kept for the API's server model)."""
        handle = self.handle(user, server)
        if handle.state in ("starting", "running"):
            return handle
        if handle.state == "stopping":
            raise ServerStateError(
                N_("{user}'s server is stopping; start it again in a moment."),
                params={"user": user},
            )
        self.check_new_server(user, server)
        options = dict(user_options or {})
        if profile:
            options.setdefault("profile", profile)
        handle.spawner = self.make_spawner(user, None, profile, server)
        handle.state = "starting"
        handle.progress = ProgressLog()
        self.store.save_server(
            user,
            server,
            state="starting",
            started=utcnow(),
            stop_reason=None,
            user_options=options,
        )
        self.limits.clear(handle.key)
        handle.task = asyncio.create_task(self._start(handle), name=f"start-{handle.key}")
        return handle

    async def start(self, user: str, server: str = "") -> None:
        """Start and wait until the server is ready (or raise its SpawnError)."""
        handle = self.request_start(user, server=server)
        if handle.task is not None:
            await asyncio.shield(handle.task)
        if handle.state != "running":
            record = self.store.get_server(user, server)
            reason = record.stop_reason if record else None
            raise SpawnError(reason or f"{handle.describe()} did not start.")

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
                "start of %s failed: %s%s",
                handle.describe(),
                e.message,
                f"\n{e.detail}" if e.detail else "",
            )
            await self._mark_stopped(handle, e.message)
            handle.progress.failed(e.message)
            return
        except Exception as e:  # a bug in a spawner must not wedge the server in "starting"
            log.exception("start of %s crashed", handle.describe())
            await self._mark_stopped(handle, f"Internal error while starting: {type(e).__name__}")
            handle.progress.failed("The server could not be started (internal error).")
            return
        self._mark_running(handle, spawner, started)
        handle.progress.ready(self.root_url(handle.user, handle.server))  # as JupyterHub

    def _mark_running(self, handle: ServerHandle, spawner: Spawner, started: Started) -> None:
        self.store.save_server(
            handle.user,
            handle.server,
            state="running",
            spawner_state=spawner.state(),
            endpoint=started.endpoint.to_dict(),
            secret=started.secret,
        )
        handle.state = "running"
        handle.task = None
        self.routes.add(Route(handle.user, started.endpoint, started.secret, server=handle.server))
        log.info("%s is running at %s", handle.describe(), started.endpoint.describe())

    async def _mark_stopped(
        self, handle: ServerHandle, reason: str | None, route: Route | None = None
    ) -> None:
        """Stop the process if there is one, then write the row "stopped" (with the route's
        last activity: ``route``, when the caller already took it out of the table)."""
        route = self.routes.remove(handle.user, handle.server) or route
        if handle.spawner is not None and handle.state != "stopped":
            try:
                await handle.spawner.stop()
            except CourtyardError as e:
                log.warning("cleaning up %s: %s", handle.describe(), e.message)
        stopped: dict[str, Any] = {
            "state": "stopped",
            "stop_reason": reason,
            "spawner_state": {},
            "endpoint": None,
            "secret": "",
        }
        if route is not None:  # else the row keeps the activity it has
            stopped["last_activity"] = datetime.fromtimestamp(route.last_activity, timezone.utc)
        try:
            await self.writes.save(handle.user, handle.server, stopped)
        finally:  # the row first, then memory: a progress request meanwhile sees the start
            handle.state = "stopped"  # still going, and then its failure, never a gap
            handle.spawner = None
            handle.task = None

    # ---- stop ----------------------------------------------------------------------------

    async def stop(self, user: str, reason: str | None = None, *, server: str = "") -> None:
        """Stop a server (cancelling a start in progress); idempotent."""
        handle = self.handle(user, server)
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
        route = self.routes.remove(user, server)
        handle.task = asyncio.create_task(self._stop(handle, reason, route))
        await asyncio.shield(handle.task)

    async def remove(self, user: str, reason: str | None = "admin") -> None:
        """Stop every server of ``user`` and forget them: call before deleting or renaming
        the user."""
        for view in self.views(user):
            await self.stop(user, reason, server=view.server)
        for key in [k for k, h in self._handles.items() if h.user == user]:
            self._handles.pop(key, None)

    def rename(self, user: str, server: str, new: str) -> None:
        """Rename a stopped named server (JupyterHub 6's PATCH with ``name``); its files and
        logs are per start, so nothing else moves. Raises ServerNameError for a bad or taken
        name."""
        check_server_name(new)
        if self.handle(user, server).state != "stopped":
            raise ServerStateError(
                N_("{user}'s server {server!r} is active; stop it before renaming it."),
                params={"user": user, "server": server},
            )
        if self.store.get_server(user, new) is not None:
            raise ServerNameError(
                N_("{user} already has a server named {server!r}."),
                params={"user": user, "server": new},
            )
        self.store.rename_server(user, server, new)
        self._handles.pop(server_key(user, server), None)
        log.info("%s's named server %r is now %r", user, server, new)

    async def delete_named(self, user: str, server: str, reason: str | None = None) -> None:
        """Stop a named server and delete it (its row and its name): JupyterHub's
        ``DELETE /users/{name}/servers/{server}`` with ``remove``."""
        await self.stop(user, reason, server=server)
        self._handles.pop(server_key(user, server), None)
        self.store.delete_server(user, server)
        log.info("%s's named server %r was deleted", user, server)

    async def _stop(self, handle: ServerHandle, reason: str | None, route: Route | None) -> None:
        await self.writes.save(handle.user, handle.server, {"state": "stopping"})
        handle.state = "stopping"
        await self._mark_stopped(handle, reason, route)
        log.info("%s stopped%s", handle.describe(), f" ({reason})" if reason else "")

    # ---- re-attach and watch --------------------------------------------------------------

    async def reattach_all(self) -> list[str]:
        """Route every server a previous hub left running; mark the rest stopped. Returns
        the keys of the servers re-attached."""
        attached = []
        for record in self.store.list_servers(states=("starting", "running", "stopping")):
            if await self._reattach(record):
                attached.append(record.key)
        return attached

    async def _reattach(self, record: ServerRecord) -> bool:
        handle = self.handle(record.user, record.server)
        if record.state == "running" and record.endpoint and record.spawner_state:
            spawner = self.make_spawner(record.user, record.spawner_state, "", record.server)
            if await spawner.poll() is None:
                handle.spawner = spawner
                handle.state = "running"
                endpoint = Endpoint.from_dict(record.endpoint)
                route = Route(record.user, endpoint, record.secret, server=record.server)
                if record.last_activity is not None:  # a restart must not reset the idle clock
                    route.last_activity = record.last_activity.timestamp()
                    self._saved_activity[route.key] = route.last_activity  # as stored
                self.routes.add(route)
                log.info("re-attached %s at %s", handle.describe(), endpoint.describe())
                return True
            handle.spawner = spawner
        handle.state = "starting" if handle.spawner else "stopped"
        await self._mark_stopped(handle, "The server stopped while the hub was down.")
        return False

    def on_upstream_gone(self, key: str) -> None:
        """The proxy could not reach a server (by route key): check it now rather than at
        the next poll."""
        handle = self.handle(*split_server_key(key))
        if handle.state == "running" and handle.task is None:
            handle.task = asyncio.create_task(self._check(handle))

    async def _check(self, handle: ServerHandle) -> None:
        spawner = handle.spawner
        status = await spawner.poll() if spawner is not None else -1
        self.limits.observe(handle.key, spawner)
        handle.task = None
        if status is not None and handle.state == "running":
            log.warning("%s exited (status %s)", handle.describe(), status)
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
        """Write the routes' activity stamps that moved since the last save (at 1,000
        running servers, writing every stamp every poll held the event loop ~0.3 s)."""
        moved = {r.key: r.last_activity for r in self.routes}
        moved = {k: v for k, v in moved.items() if self._saved_activity.get(k) != v}
        if moved:
            self.store.record_activity(
                {k: datetime.fromtimestamp(v, timezone.utc) for k, v in moved.items()}
            )
            self._saved_activity.update(moved)

    def state_counts(self) -> dict[str, int]:
        """How many servers are in each state the hub knows of (never-started ones count
        nowhere: they are "stopped")."""
        counts: dict[str, int] = {}
        for handle in self._handles.values():
            counts[handle.state] = counts.get(handle.state, 0) + 1
        return counts

    def running(self) -> list[ServerHandle]:
        """Every server that runs now (the culler's and the status command's list)."""
        return [h for h in self._handles.values() if h.state == "running"]

    async def close(self) -> None:
        """Hub shutdown: running servers keep running; starts in progress are cancelled (their
        half-started processes stopped), since no later hub could re-attach to them."""
        tasks = [self._watcher] if self._watcher else []
        tasks += [h.task for h in self._handles.values() if h.state == "starting" and h.task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.save_activity()
