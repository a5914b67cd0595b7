"""SlurmSpawner: one user's JupyterLab as a Slurm batch job, reached over TCP with its secret.

Start: check the user and interpreter, prepare ``<runtime_dir>/<user>/`` (0700, theirs), write
the per-server secret there (0600, theirs), submit the job script with ``sbatch`` as the user,
then follow the job with ``squeue`` (PENDING and Slurm's reason, RUNNING on its node) until the
job has written ``slurm-endpoint.json`` next to the secret and the server answers
``GET /user/<name>/api/status`` on that host and port. The runtime dir must therefore be on a
file system the compute nodes share with the hub (see docs/slurm.md).
Poll: ``squeue`` (finished jobs stay visible for MinJobAge); the final state becomes the stop
reason (``timelimit``, ``preempted``, ...). Stop: ``scancel``. State: the job id, so a restarted
hub re-attaches.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
from collections.abc import Collection
from pathlib import Path
from typing import Any

from courtyard.config.limits import allowance_for, configured, unix_groups
from courtyard.config.settings import Settings
from courtyard.errors import ServerStateError, SpawnError, SpawnTimeoutError
from courtyard.singleuser.contract import SECRET_ENV, SECRET_HEADER, USER_HEADER, base_url_for
from courtyard.spawners import launch, slurm_queue, slurm_script
from courtyard.spawners.base import Endpoint, Progress, ProgressSink, Started
from courtyard.spawners.probe import parse_status_line
from courtyard.spawners.slurm_queue import JobInfo
from courtyard.spawners.unixuser import TargetUser, require_interpreter, spawnable_user
from courtyard.spawners.userfiles import read_user_file

SECRET_FILE = "slurm-secret"  # noqa: S105 - a file name
ENDPOINT_FILE = "slurm-endpoint.json"
STOP_WAIT = 20.0  # seconds to wait for a cancelled job to leave RUNNING
HOPELESS_CHECKS = 2  # a start fails when this many checks in a row find the job hopeless
ENDPOINT_MAX_BYTES = 4096  # the endpoint file is a small JSON object
WILDCARD_BINDS = ("", "0.0.0.0", "::")  # bind_ip values meaning "the node's own address"


class SlurmSpawner:
    """One user's server as a Slurm job; see the module docstring."""

    def __init__(
        self,
        user: str,
        settings: Settings,
        runtime_dir: Path,
        log_dir: Path,
        profile: str = "",
        *,
        server: str = "",
    ) -> None:
        launch.check_name(user)
        self.user = user
        self.server = server  # "" for the default server
        self.settings = settings
        self.runtime_dir = Path(runtime_dir)
        self.server_dir = self.runtime_dir / launch.dir_name(user, server)
        self.profile = profile
        self.job_id: str | None = None
        self._last: JobInfo | None = None
        self._owner_uid = os.geteuid()  # who owns the job's files: the target user, after start

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
    ) -> SlurmSpawner:
        profile = str(state.get("profile", ""))
        spawner = cls(user, settings, runtime_dir, log_dir, profile, server=server)
        job_id = state.get("job_id")
        spawner.job_id = str(job_id) if job_id else None
        return spawner

    def state(self) -> dict[str, Any]:
        if self.job_id is None:
            return {}
        return {"job_id": self.job_id, "profile": self.profile}

    # ---- start ---------------------------------------------------------------------------

    async def start(self, progress: ProgressSink) -> Started:
        if await self.poll() is None:
            raise ServerStateError(f"The server of {self.user!r} is already running.")
        limits = self.settings.limits
        allowed = (
            allowance_for(limits, self.user, unix_groups(self.user)) if configured(limits) else None
        )
        resources = slurm_script.resources_for(self.settings.slurm, self.profile, allowed)
        target = spawnable_user(self.user, self.settings)
        python = launch.resolve_python(self.settings)
        require_interpreter(python, target)
        self._owner_uid = target.uid
        secret = secrets.token_urlsafe(32)
        script = self._job_script(target, python, resources)
        self._prepare_files(target, secret)
        progress(Progress(5, "submitting the job to Slurm"))
        self.job_id = await slurm_queue.submit(script, target.name, self._submit_env(target))
        progress(Progress(10, f"Slurm job {self.job_id} submitted"))
        try:
            endpoint = await self._wait_ready(secret, progress)
        except (SpawnError, asyncio.CancelledError):
            await self.stop()
            raise
        progress(Progress(100, "ready"))
        return Started(endpoint, secret)

    def _job_script(self, target: TargetUser, python: str, res: slurm_script.JobResources) -> str:
        notebook_dir = launch.expand_notebook_dir(self.settings.notebook_dir, target)
        output = self.server_dir / "slurm-%j.log"
        lines = slurm_script.directives(
            res, launch.dir_name(self.user, self.server), output, notebook_dir
        )
        command = [python, "-m", "courtyard.spawners.slurm_job", "--name", self.user]
        if self.server:
            command += ["--server", self.server]
        command += ["--bind", self.settings.slurm.bind_ip]
        command += ["--secret-file", str(self.server_dir / SECRET_FILE)]
        command += ["--endpoint-file", str(self.server_dir / ENDPOINT_FILE)]
        command += ["--notebook-dir", notebook_dir, "--default-url", self.settings.default_url]
        log_max = self.settings.resolved_server_log_max()
        if log_max is not None:  # the job's output file, bounded by the launcher's log keeper
            command += ["--log-max", str(log_max)]
        command += ["--", *self.settings.args]
        template = slurm_script.load_template(self.settings.slurm.job_template)
        return slurm_script.render_script(template, lines, self.user, command)

    def _prepare_files(self, target: TargetUser, secret: str) -> None:
        launch.prepare_server_dir(self.runtime_dir, self.user, target, self.server)
        (self.server_dir / ENDPOINT_FILE).unlink(missing_ok=True)
        path = self.server_dir / SECRET_FILE
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            if os.geteuid() == 0:
                os.fchown(fd, target.uid, target.gid)
            os.write(fd, secret.encode())
        finally:
            os.close(fd)

    def _submit_env(self, target: TargetUser) -> dict[str, str]:
        """The job's environment (sbatch exports it): the local one, without the secret."""
        python = launch.resolve_python(self.settings)
        env = launch.server_environment(
            self.settings, target, self.user, "", self.server_dir, python
        )
        env.pop(SECRET_ENV, None)
        if "SLURM_CONF" in os.environ:
            env["SLURM_CONF"] = os.environ["SLURM_CONF"]
        return env

    async def _wait_ready(self, secret: str, progress: ProgressSink) -> Endpoint:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.slurm.start_timeout
        shown = ""
        hopeless = 0  # checks in a row that found the job PENDING for good
        while True:
            info = await self._job_info()
            if info is None or not info.active:
                raise await self._ended_error(info)
            hopeless = hopeless + 1 if info.hopeless else 0
            if hopeless >= HOPELESS_CHECKS:
                raise self._hopeless_error(info)
            message = describe(info)
            if message != shown:
                shown = message
                progress(Progress(40 if info.state == "RUNNING" else 20, message))
            if info.state == "RUNNING":
                endpoint = await self._read_endpoint(info.node)
                if endpoint is not None and await self._answers(endpoint, secret):
                    return endpoint
            if loop.time() >= deadline:
                raise self._timeout_error(info)
            await asyncio.sleep(self.settings.slurm.poll_interval)

    async def _read_endpoint(self, node: str) -> Endpoint | None:
        """The endpoint the job wrote (a file the user controls: read with care, then checked)."""
        path = self.server_dir / ENDPOINT_FILE
        text = await asyncio.to_thread(read_user_file, path, self._owner_uid, ENDPOINT_MAX_BYTES)
        if text is None:
            return None
        hosts = await expected_hosts(self.settings.slurm.bind_ip, node)
        return parse_endpoint(text, str(self.job_id), hosts)

    async def _answers(self, endpoint: Endpoint, secret: str) -> bool:
        headers = {SECRET_HEADER: secret, USER_HEADER: self.user}
        path = base_url_for(self.user, self.server) + "api/status"
        status = await probe_tcp_status(str(endpoint.host), int(endpoint.port or 0), path, headers)
        if status is not None and status not in (200, 503):
            raise SpawnError(
                f"The server of {self.user!r} answered {status} to the hub's readiness check; "
                f"its configuration may override Courtyard's identity provider.",
                detail=f"GET api/status on {endpoint.describe()} answered {status}",
            )
        return status == 200

    async def _ended_error(self, info: JobInfo | None) -> SpawnError:
        state = info.state if info else "gone"
        log = self.server_dir / f"slurm-{self.job_id}.log"
        tail = await asyncio.to_thread(launch.read_log_tail, log, 0, 20, self._owner_uid)
        return SpawnError(
            f"The Slurm job {self.job_id} of {self.user!r} ended before the server answered "
            f"({state}). The administrator can read {str(log)!r}.",
            detail=f"job {self.job_id}: {info}; last log lines:\n{tail}",
        )

    def _hopeless_error(self, info: JobInfo) -> SpawnError:
        return SpawnError(
            f"Slurm will not run the job {self.job_id} of {self.user!r} ({describe(info)}): "
            f"it asks for more than its partition, account or QOS allows. The administrator "
            f"should check the [slurm] settings and profiles.",
            detail=f"job {self.job_id}: {info}",
        )

    def _timeout_error(self, info: JobInfo) -> SpawnTimeoutError:
        timeout = self.settings.slurm.start_timeout
        return SpawnTimeoutError(
            f"The Slurm job {self.job_id} of {self.user!r} was not ready within {timeout:g} "
            f"seconds ({describe(info)}; setting slurm.start_timeout).",
            detail=f"job {self.job_id}: {info}",
        )

    # ---- poll and stop -------------------------------------------------------------------

    async def _job_info(self) -> JobInfo | None:
        if self.job_id is None:
            return None
        info = await slurm_queue.job_info(self.job_id)
        if info is not None:
            self._last = info
        return info

    async def poll(self) -> int | None:
        if self.job_id is None:
            return -1
        info = await self._job_info()
        if info is None:
            return -1
        if info.active:
            return None
        return 0 if info.state == "COMPLETED" else 1

    def exit_reason(self) -> str | None:
        """Why the job ended, as a stop reason code (``timelimit``, ``preempted``, ...)."""
        if self._last is None or self._last.active:
            return None
        return self._last.end_reason

    async def stop(self) -> None:
        job_id = self.job_id
        if job_id is None:
            return
        await slurm_queue.cancel(job_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_WAIT
        while loop.time() < deadline:
            info = await slurm_queue.job_info(job_id)
            if info is None or info.state != "RUNNING":
                break
            await asyncio.sleep(0.2)
        (self.server_dir / ENDPOINT_FILE).unlink(missing_ok=True)
        (self.server_dir / SECRET_FILE).unlink(missing_ok=True)
        self.job_id = None


async def expected_hosts(bind_ip: str, node: str) -> frozenset[str]:
    """The hosts a job on ``node`` may report: the configured ``bind_ip``, which the job binds
    as it is; or, when that is empty or a wildcard, the node's name and the addresses it
    resolves to (the job binds its node's own address)."""
    if bind_ip not in WILDCARD_BINDS:
        return frozenset({bind_ip})
    if not node:
        return frozenset()
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(node, None, type=socket.SOCK_STREAM)
    except OSError:
        return frozenset({node})
    return frozenset({node, *(str(sockaddr[0]) for *_, sockaddr in infos)})


def parse_endpoint(text: str, job_id: str, hosts: Collection[str]) -> Endpoint | None:
    """The endpoint in a job's endpoint file, None if it is not (yet) this job's.

    The file is the user's, so a host outside ``hosts`` (see :func:`expected_hosts`) or a
    port outside 1024-65535 fails the start instead of sending the hub somewhere else."""
    try:
        facts = json.loads(text)
    except ValueError:
        return None
    if not isinstance(facts, dict) or str(facts.get("job_id")) != job_id:
        return None  # left by an earlier job, or not written yet
    host, port = facts.get("host"), facts.get("port")
    if not isinstance(host, str) or host not in hosts:
        allowed = ", ".join(sorted(hosts)) or "none"
        raise SpawnError(
            f"The Slurm job {job_id} reported an address its node does not have; "
            f"the hub will not connect there.",
            detail=f"job {job_id}: endpoint host {host!r} is not one of {allowed}",
        )
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
        raise SpawnError(
            f"The Slurm job {job_id} reported an invalid port; the hub will not connect there.",
            detail=f"job {job_id}: endpoint port {port!r} is not in 1024-65535",
        )
    return Endpoint(host=host, port=port)


def describe(info: JobInfo) -> str:
    """A progress line: ``PENDING (Resources)`` or ``RUNNING on node vm``."""
    if info.state == "RUNNING":
        return f"Slurm job RUNNING on node {info.node}; waiting for the server"
    if info.reason and info.reason != "None":
        return f"Slurm job {info.state} ({info.reason})"
    return f"Slurm job {info.state}"


async def probe_tcp_status(
    host: str, port: int, path: str, headers: dict[str, str], timeout: float = 5.0
) -> int | None:
    """The HTTP status of ``GET path`` at host:port; None while nothing answers there."""
    try:
        return await asyncio.wait_for(_tcp_status(host, port, path, headers), timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
        return None


async def _tcp_status(host: str, port: int, path: str, headers: dict[str, str]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        return parse_status_line(await reader.readuntil(b"\r\n"))
    finally:
        writer.close()
