"""LocalSpawner: one user's JupyterLab as a process of their Unix account, on a private socket.

Start: check the interpreter and notebook directory as that user, prepare the socket
directory and the log, start ``python -m courtyard.singleuser`` in a session of its own, and
poll ``GET /user/<name>/api/status`` over the socket (with the secret) until it answers 200.
Stop: SIGTERM to the server's process group, SIGKILL after ``stop_grace``, then any kernel
still alive. Every signal is preceded by a check that the pid still has the recorded start
time, so a recycled pid is never signalled. The /proc scans that find a server's kernels run
in a thread (procinfo.ProcessScanner, shared by the hub's spawners), never on the event loop.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from courtyard.config.settings import Settings
from courtyard.errors import ServerStateError, SpawnError, SpawnTimeoutError
from courtyard.singleuser.contract import (
    EXIT_JUPYTER_MISSING,
    SECRET_HEADER,
    USER_HEADER,
    base_url_for,
)
from courtyard.spawners import environments, launch, procinfo
from courtyard.spawners.base import Endpoint, Progress, ProgressSink, Spawner, Started
from courtyard.spawners.limits.base import Measured
from courtyard.spawners.limits.enter import (
    CANNOT_RUN,
    EXIT_CANNOT_BECOME,
    EXIT_CANNOT_ENTER,
    EXIT_CANNOT_RUN,
    enter_command,
)
from courtyard.spawners.limits.limiter import Limiter, Placement
from courtyard.spawners.probe import probe_status
from courtyard.spawners.unixuser import (
    TargetUser,
    require_directory,
    spawnable_user,
)

POLL_FIRST = 0.02  # seconds between readiness probes, growing to POLL_MAX
POLL_MAX = 0.05  # a refused connect costs microseconds; a late notice costs the user
KILL_WAIT = 5.0  # seconds to wait for the group to vanish after SIGKILL


class LocalSpawner:
    """One user's server as a local process; see the module docstring."""

    def __init__(
        self,
        user: str,
        settings: Settings,
        runtime_dir: Path,
        log_dir: Path,
        *,
        server: str = "",
        profile: str = "",
        limiter: Limiter | None = None,
        scanner: procinfo.ProcessScanner | None = None,
    ) -> None:
        launch.check_name(user)
        self.scanner = scanner or procinfo.ProcessScanner()
        self.user = user
        self.server = server  # "" for the default server
        self.profile = profile  # a [[profiles]] name: the environment (and size) it runs in
        self.limiter = limiter
        self.placement: Placement | None = None
        self.settings = settings
        self.runtime_dir = Path(runtime_dir)
        self.log_dir = Path(log_dir)
        self.socket_path = launch.socket_path_for(self.runtime_dir, user, server)
        self.log_path = launch.log_path_for(self.log_dir, user, server)
        self._process: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._start_time: int | None = None

    @classmethod
    def from_state(
        cls,
        user: str,
        settings: Settings,
        runtime_dir: Path,
        log_dir: Path,
        state: dict[str, Any],
        *,
        server: str = "",
        limiter: Limiter | None = None,
        scanner: procinfo.ProcessScanner | None = None,
    ) -> LocalSpawner:
        """Re-attach to a server a previous hub process started (``state()`` from then)."""
        spawner = cls(
            user,
            settings,
            runtime_dir,
            log_dir,
            server=server,
            profile=state.get("profile", ""),
            limiter=limiter,
            scanner=scanner,
        )
        if state.get("limits") and limiter is not None:
            spawner.placement = Placement.from_dict(state["limits"])
            limiter.reclaim(spawner.placement)
        if state.get("pid") is not None and state.get("start_time") is not None:
            spawner._pid = int(state["pid"])
            spawner._start_time = int(state["start_time"])
        if state.get("socket"):
            spawner.socket_path = Path(state["socket"])
        return spawner

    def state(self) -> dict[str, Any]:
        if self._pid is None:
            return {}
        return {
            "pid": self._pid,
            "start_time": self._start_time,
            "socket": str(self.socket_path),
            "log_path": str(self.log_path),
            "profile": self.profile,
            **({"limits": self.placement.to_dict()} if self.placement else {}),
        }

    @property
    def pid(self) -> int | None:
        return self._pid

    async def start(self, progress: ProgressSink) -> Started:
        if await self.poll() is None:
            raise ServerStateError(f"The server of {self.user!r} is already running.")
        target = spawnable_user(self.user, self.settings)
        env = environments.resolve(
            self.settings.local_profile(self.profile),
            self.settings,
            launch.resolve_python(self.settings),
            target,
        )
        if env.shim:
            progress(Progress(5, f"checking the environment {env.name}"))
        await asyncio.to_thread(environments.check, env, target, os.geteuid() == 0)
        python = env.python
        notebook_dir = launch.expand_notebook_dir(self.settings.notebook_dir, target)
        require_directory(notebook_dir, target)
        launch.check_socket_path(self.socket_path)
        secret = secrets.token_urlsafe(32)
        if self.limiter is not None:
            allowance = self.limiter.allowance(self.user, self.profile)
            self.placement = self.limiter.place(self.user, allowance, self.server)
        progress(Progress(10, "starting process"))
        try:
            log_offset = self._launch(target, env, notebook_dir, secret)
        except BaseException:
            self._release_limits()
            raise
        progress(Progress(30, "waiting for server"))
        try:
            await self._wait_ready(secret, python, log_offset, progress)
        except BaseException:  # a failed or cancelled start leaves no server behind
            await self.stop()
            raise
        progress(Progress(100, "ready"))
        return Started(Endpoint(unix_path=str(self.socket_path)), secret)

    def _launch(
        self, target: TargetUser, environment: environments.Environment, notebook_dir: str,
        secret: str,
    ) -> int:  # fmt: skip
        """Start the server process; returns the log offset its output starts at."""
        switch = os.geteuid() == 0  # as root, become the user; otherwise stay the hub's account
        python = environment.python
        server_dir = launch.prepare_server_dir(self.runtime_dir, self.user, target, self.server)
        env = launch.server_environment(
            self.settings, target, self.user, secret, server_dir, python
        )
        if self.settings.kernels_from_conda:
            found = environments.user_conda_envs(self.settings, target)
            kernels = environments.write_conda_kernels(server_dir, found, target, switch)
            env["JUPYTER_PATH"] = os.pathsep.join(
                p for p in (str(kernels), env.get("JUPYTER_PATH", "")) if p
            )
        shim = environments.ensure_shim(self.runtime_dir) if environment.shim else None
        command = launch.server_command(
            python, self.user, self.socket_path, notebook_dir, self.settings, self.server, shim,
            self.settings.resolved_server_log_max(),
        )  # fmt: skip
        # Becoming the user happens in the enter step, never through Popen(user=...): that
        # forks the whole hub and blocks its event loop (limits/enter.py says by how much).
        ids = (target.uid, target.gid, list(target.groups)) if switch else None
        if self.limiter is not None and self.placement is not None:
            env.update(self.limiter.environment(self.placement))
            command = self.limiter.command(self.placement, command, ids)
        elif ids is not None:
            command = enter_command(command, ids=ids)
        log_fd = launch.open_log(self.log_dir, self.user, self.server)
        try:
            offset = os.fstat(log_fd).st_size
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            what = f"server {self.server!r}" if self.server else "server"
            os.write(log_fd, f"--- courtyard: starting {self.user}'s {what} {stamp} ---\n".encode())
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                cwd=notebook_dir,
                env=env,
                start_new_session=True,
                umask=0o077,
            )
        except OSError as exc:
            raise SpawnError(
                f"The server of {self.user!r} could not be started: {exc.strerror}.",
                detail=f"Popen({command[0]!r}, ...) failed: {exc}",
            ) from exc
        finally:
            os.close(log_fd)
        self._pid = self._process.pid
        self._start_time = procinfo.start_time(self._pid)
        return offset

    async def _wait_ready(
        self, secret: str, python: str, log_offset: int, progress: ProgressSink
    ) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.start_timeout
        headers = {SECRET_HEADER: secret, USER_HEADER: self.user}
        path = base_url_for(self.user, self.server) + "api/status"
        interval, shown = POLL_FIRST, 30
        while True:
            status = await self.poll()
            if status is not None:
                raise self._exit_error(status, python, log_offset)
            answer = await probe_status(str(self.socket_path), path, headers)
            if answer == 200:
                return
            if answer is not None and answer != 503:
                raise self._refused_error(answer, log_offset)
            now = loop.time()
            if now >= deadline:
                raise self._timeout_error(log_offset)
            percent = 30 + int(60 * (now - started) / self.settings.start_timeout)
            if percent >= shown + 5:
                shown = percent
                progress(Progress(percent, "waiting for server"))
            await asyncio.sleep(min(interval, deadline - now))
            interval = min(interval * 2, POLL_MAX)

    def _exit_error(self, status: int, python: str, log_offset: int) -> SpawnError:
        tail = launch.read_log_tail(self.log_path, log_offset)
        if status == EXIT_CANNOT_ENTER:
            message = f"The resource limits of {self.user!r}'s server could not be applied."
        elif status == EXIT_CANNOT_BECOME:
            message = f"The server of {self.user!r} could not switch to their Unix account."
        elif status == EXIT_CANNOT_RUN and CANNOT_RUN in tail:
            message = f"The server of {self.user!r} could not be started: {python} cannot be run."
        elif status == EXIT_JUPYTER_MISSING:
            message = f"jupyter_server is not installed in {python}; install courtyard[lab] there."
        elif "No module named 'courtyard'" in tail or "No module named courtyard" in tail:
            message = f"courtyard is not installed in {python}; install courtyard[lab] there."
        else:
            message = (
                f"The server of {self.user!r} exited during start (status {status}). "
                f"The administrator can read the log {str(self.log_path)!r}."
            )
        return SpawnError(message, detail=f"exit status {status}; last log lines:\n{tail}")

    def _refused_error(self, answer: int, log_offset: int) -> SpawnError:
        tail = launch.read_log_tail(self.log_path, log_offset)
        return SpawnError(
            f"The server of {self.user!r} answered {answer} to the hub's readiness check; "
            f"its configuration may override Courtyard's identity provider.",
            detail=f"GET api/status answered {answer}; last log lines:\n{tail}",
        )

    def _timeout_error(self, log_offset: int) -> SpawnTimeoutError:
        tail = launch.read_log_tail(self.log_path, log_offset)
        timeout = self.settings.start_timeout
        return SpawnTimeoutError(
            f"The server of {self.user!r} did not answer within {timeout:g} seconds "
            f"(setting start_timeout).",
            detail=f"no answer on {str(self.socket_path)!r}; last log lines:\n{tail}",
        )

    async def poll(self) -> int | None:
        if self._process is not None:
            return self._process.poll()
        if self._pid is None or self._start_time is None:
            return -1
        return None if procinfo.is_running(self._pid, self._start_time) else -1

    async def stop(self) -> None:
        pid, started = self._pid, self._start_time
        if pid is None or started is None or not procinfo.is_same_process(pid, started):
            self._forget()
            await asyncio.to_thread(self._release_limits)
            return
        stragglers = await self.scanner.descendants(pid)
        procinfo.signal_group(pid, signal.SIGTERM)
        if not await self._wait_gone(self.settings.stop_grace):
            stragglers += await self.scanner.descendants(pid)
            if procinfo.is_same_process(pid, started):
                procinfo.signal_group(pid, signal.SIGKILL)
            await self._wait_gone(KILL_WAIT)
        procinfo.kill_stragglers(stragglers)
        await self._wait_stragglers_gone(stragglers)
        self._forget()
        await asyncio.to_thread(self._release_limits)

    def measure(self) -> tuple[Placement, Measured | None] | None:
        """The server's limits and its use as the cgroup counts it (None without limits)."""
        if self.limiter is None or self.placement is None:
            return None
        return self.placement, self.limiter.measure(self.placement)

    def _release_limits(self) -> None:
        if self.limiter is not None and self.placement is not None:
            self.limiter.release(self.placement)
        self.placement = None

    async def _wait_gone(self, timeout: float) -> bool:
        """Poll until the server process has exited; False if it still runs after ``timeout``.
        Polls soon at first (a process often exits within milliseconds of SIGTERM), then every
        50 ms."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while await self.poll() is None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(2 * delay, 0.05)
        return True

    async def _wait_stragglers_gone(self, stragglers: list[procinfo.ProcStat]) -> None:
        """SIGKILL is delivered asynchronously: return once the killed processes are gone."""
        deadline = time.monotonic() + KILL_WAIT
        while any(procinfo.is_running(s.pid, s.start_time) for s in stragglers):
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.02)

    def _forget(self) -> None:
        if self._process is not None:
            self._process.poll()
        launch.remove_stale_socket(self.socket_path)
        self._process = None
        self._pid = None
        self._start_time = None


if TYPE_CHECKING:  # mypy checks LocalSpawner against the Spawner contract here

    def _as_spawner(spawner: LocalSpawner) -> Spawner:
        return spawner
