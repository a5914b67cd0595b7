"""The hub's proxy workers (``workers = N``): start them, feed them, restart them, stop them.

The hub serves its port itself and starts N-1 workers (proxy/worker.py), each with its own
listening socket on the same port (SO_REUSEPORT: the kernel spreads new connections over all
N). Each worker gets one end of a socketpair (proxy/wire.py): the hub sends it the settings
and a snapshot of the route table, then every change to the table as it happens, and tells it
to drop cached identities whenever a login, token or role changes; the worker reports the
activity it saw once a second, which the hub folds into its own routes (the culler's source).

Supervision: a worker that dies is logged with the end of its output and started again (0.5 s
doubling to 30 s while it keeps failing), with a fresh listening socket; the connections
queued on the dead one are reset by the kernel, never left hanging. A worker that cannot
start at all fails the hub's start with its own error. On stop the workers get SIGTERM, finish
their in-flight requests (bounded) and exit; a worker also exits by itself when the hub dies,
because its end of the link closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from courtyard.errors import ProxyWorkerError
from courtyard.ports import reuse_port_listener
from courtyard.proxy import wire
from courtyard.proxy.routes import Route, RouteTable

START_TIMEOUT = 60.0  # a worker imports the hub's modules and opens the store
STOP_TIMEOUT = 15.0  # beyond the proxy's own shutdown_timeout (10 s)
RESTART_MIN, RESTART_MAX, STABLE_AFTER = 0.5, 30.0, 60.0
MAX_BACKLOG = 32 * 1024 * 1024  # unsent bytes to one worker before it is deemed stuck
TAIL_LINES = 20
LEVELS = {name: getattr(logging, name) for name in ("DEBUG", "INFO", "WARNING", "ERROR")}
WORKER_MODULE = "courtyard.proxy.worker"
log = logging.getLogger("courtyard.proxy.fleet")


class ProxyWorker:
    """One worker process, across its restarts."""

    def __init__(self, fleet: WorkerFleet, index: int) -> None:
        self.fleet = fleet
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.accepted_before = 0  # by earlier incarnations
        self.accepted = 0
        self.open = 0
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    def send(self, message: wire.Message) -> None:
        writer = self.writer
        if writer is None or writer.is_closing():
            return
        writer.write(wire.encode(message))
        if writer.transport.get_write_buffer_size() > MAX_BACKLOG and self.proc is not None:
            log.error(
                "proxy worker %d is not reading the hub's messages; restarting it", self.index
            )
            self.proc.kill()

    async def run(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        delay = RESTART_MIN
        while True:
            started = loop.time()
            ended = await self.live(listener)
            if self.fleet.closing:
                return
            if not self.ready.done():
                lines = "\n".join(self.tail) or "(no output)"
                self.ready.set_exception(
                    ProxyWorkerError(f"proxy worker {self.index} {ended} while starting:\n{lines}")
                )
                return
            log.error(
                "proxy worker %d %s; restarting it in %.1f s. Its last output:\n%s",
                self.index, ended, delay, "\n".join(self.tail) or "(none)",
            )  # fmt: skip
            self.accepted_before += self.accepted
            self.accepted = self.open = 0
            await asyncio.sleep(delay)
            if self.fleet.closing:
                return
            stable = loop.time() - started >= STABLE_AFTER
            delay = RESTART_MIN if stable else min(delay * 2, RESTART_MAX)
            self.restarts += 1
            try:
                listener = reuse_port_listener(*self.fleet.address)
            except OSError as e:
                log.error("proxy worker %d: cannot listen again: %s", self.index, e)
                return

    async def live(self, listener: socket.socket) -> str:
        """One incarnation, start to exit; returns how it ended."""
        try:
            relay = await self.incarnate(listener)
        except OSError as e:
            if self.proc is not None and self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            return f"could not be started ({e})"
        assert self.proc is not None
        code = await self.proc.wait()
        with contextlib.suppress(asyncio.TimeoutError):  # its last words, for the log
            await asyncio.wait_for(relay, 2.0)
        return f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"

    async def incarnate(self, listener: socket.socket) -> asyncio.Future[None]:
        """Start the process, then send it the settings and the route table (and from then
        on every change: no await between the snapshot and taking the writer)."""
        parent, child = socket.socketpair()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                WORKER_MODULE,
                "--control-fd",
                str(child.fileno()),
                "--listen-fd",
                str(listener.fileno()),
                pass_fds=(child.fileno(), listener.fileno()),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        finally:
            child.close()
            listener.close()  # the worker holds the only copy: if it dies, so does its queue
        reader, writer = await asyncio.open_unix_connection(sock=parent, limit=wire.LINE_LIMIT)
        writer.write(wire.encode(self.fleet.init_message()))
        for route in self.fleet.routes:
            writer.write(wire.encode(wire.route_message(route)))
        self.writer = writer
        assert self.proc.stderr is not None
        self.fleet.spawn(self.follow(reader, writer))
        return self.fleet.spawn(self.relay_output(self.proc.stderr))

    async def follow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                self.handle(wire.decode(line))
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as e:  # garbled
            log.error("proxy worker %d: bad message (%s); restarting it", self.index, e)
            if self.proc is not None and self.proc.returncode is None:
                self.proc.kill()
        finally:
            if self.writer is writer:
                self.writer = None
            writer.close()

    def handle(self, message: wire.Message) -> None:
        op = message["op"]
        if op in ("ready", "activity"):
            self.accepted = int(message.get("accepted", self.accepted))
            self.open = int(message.get("open", self.open))
        if op == "ready":
            log.info("proxy worker %d is serving (pid %s)", self.index, message.get("pid"))
            if not self.ready.done():
                self.ready.set_result(None)
        elif op == "activity":
            self.fleet.merge(message.get("stamps", {}))
        elif op == "gone":
            self.fleet.upstream_gone(str(message["key"]))

    async def relay_output(self, stream: asyncio.StreamReader) -> None:
        """The worker logs to stderr as ``LEVEL name: message``; log it here, marked."""
        while raw := await stream.readline():
            line = raw.decode(errors="replace").rstrip()
            self.tail.append(line)
            level, _, rest = line.partition(" ")
            if level in LEVELS:
                log.log(LEVELS[level], "[worker %d] %s", self.index, rest)
            else:
                log.warning("[worker %d] %s", self.index, line)

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except asyncio.TimeoutError:
            log.warning(
                "proxy worker %d did not stop in %.0f s; killing it", self.index, STOP_TIMEOUT
            )
            proc.kill()
            await proc.wait()


class WorkerFleet:
    """The hub's side of its proxy workers; watches the route table and the auth caches."""

    def __init__(
        self,
        routes: RouteTable,
        init: Callable[[], dict[str, Any]],
        address: tuple[str, int],
        *,
        on_upstream_gone: Callable[[str], None] | None = None,
    ) -> None:
        self.routes = routes
        self._init = init
        self.address = address
        self.on_upstream_gone = on_upstream_gone
        self.workers: list[ProxyWorker] = []
        self.closing = False
        self._tasks: set[asyncio.Future[None]] = set()

    def init_message(self) -> wire.Message:
        return {"op": "init", **self._init()}

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        task: asyncio.Future[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self, listeners: list[socket.socket]) -> None:
        """One worker per listening socket; returns once all serve (ProxyWorkerError if one
        cannot). From then on they follow the route table."""
        self.routes.watchers.append(self)
        self.workers = [ProxyWorker(self, i + 1) for i in range(len(listeners))]
        for worker, listener in zip(self.workers, listeners, strict=True):
            self.spawn(worker.run(listener))
        try:
            await asyncio.wait_for(asyncio.gather(*(w.ready for w in self.workers)), START_TIMEOUT)
        except asyncio.TimeoutError:
            raise ProxyWorkerError(
                f"the proxy workers did not start within {START_TIMEOUT:.0f} s"
            ) from None

    # -- the route table's watcher, and the auth caches' listener
    def route_added(self, route: Route) -> None:
        self.broadcast(wire.route_message(route))

    def route_removed(self, key: str) -> None:
        self.broadcast({"op": "unroute", "key": key})

    def auth_changed(self, services: dict[str, str]) -> None:
        self.broadcast({"op": "flush", "services": services})

    def broadcast(self, message: wire.Message) -> None:
        for worker in self.workers:
            worker.send(message)

    # -- what the workers report
    def merge(self, stamps: dict[str, list[Any]]) -> None:
        for key, (last_activity, kind, last_traffic) in stamps.items():
            route = self.routes.get_key(key)
            if route is not None:
                wire.merge_stamp(route, (float(last_activity), str(kind), float(last_traffic)))

    def upstream_gone(self, key: str) -> None:
        if self.on_upstream_gone is not None:
            self.on_upstream_gone(key)

    def stats(self) -> list[dict[str, int | None]]:
        return [
            {
                "worker": w.index,
                "pid": w.pid,
                "accepted": w.accepted_before + w.accepted,
                "open": w.open,
                "restarts": w.restarts,
            }
            for w in self.workers
        ]

    async def close(self) -> None:
        self.closing = True
        if self in self.routes.watchers:
            self.routes.watchers.remove(self)
        await asyncio.gather(*(w.stop() for w in self.workers))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
