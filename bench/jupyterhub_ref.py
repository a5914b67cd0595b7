"""JupyterHub 6.1 + configurable-http-proxy + jupyterhub-idle-culler, the reference a bench
compares Courtyard against in the same run. Reusable (bench/load.py, bench/control_plane.py):

    paths = ensure_installed(BENCH_DIR / ".cache")
    with start_jupyterhub(paths, users=["cyload01"], work_dir=tmp) as hub:
        hub.base_url      # "http://127.0.0.1:PORT" (CHP's public port)
        hub.admin_token   # a service token with the admin role
        hub.pids()        # {"hub": pid, "proxy": pid, "idle-culler": pid} for RSS / CPU

Installed on the side into ``cache_dir`` (never into the system or Courtyard's venv): a venv
made from /usr/bin/python3 with ``pip install jupyterhub==6.1.*``, jupyterhub-idle-culler and
the JupyterLab / jupyter_server / ipykernel versions Courtyard's venv has, so single-user
servers are the same; ``npm install configurable-http-proxy`` into ``cache_dir``. Must run as
root: PAM authentication against real Unix users and LocalProcessSpawner (servers setuid to
the user). Everything listens on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchkit import stop_process

JUPYTERHUB_SPEC = "jupyterhub==6.1.*"
SAME_AS_COURTYARD = ("jupyterlab==4.6.6", "jupyter_server==2.21.1", "ipykernel==7.4.0")
CHP = "configurable-http-proxy"
INSTALL_TIMEOUT = 900.0
READY_TIMEOUT = 60.0


class ReferenceError(RuntimeError):
    """The reference JupyterHub could not be installed or started (message says why)."""


@dataclass(frozen=True)
class Paths:
    venv: Path
    python: Path
    jupyterhub: Path
    singleuser: Path
    chp: Path  # the node entry script of configurable-http-proxy
    version: str


@dataclass
class RunningHub:
    base_url: str
    admin_token: str
    work_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        """The hub's own processes (not users' servers): hub, proxy, idle-culler."""
        found = {"hub": self.proc.pid}
        for pid, argv in _children(self.proc.pid):
            joined = " ".join(argv)
            if CHP in joined:
                found["proxy"] = pid
            elif "jupyterhub_idle_culler" in joined:
                found["idle-culler"] = pid
        return found

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def ensure_installed(cache_dir: Path) -> Paths:
    """Install JupyterHub 6.1, the culler and CHP into ``cache_dir`` once; their paths."""
    cache_dir = cache_dir.resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    venv = cache_dir / "jupyterhub-6.1"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "jupyterhub").exists():
        _run(["/usr/bin/python3", "-m", "venv", str(venv)], "python3 -m venv")
        packages = [JUPYTERHUB_SPEC, "jupyterhub-idle-culler", *SAME_AS_COURTYARD]
        _run([str(python), "-m", "pip", "install", "-q", *packages], "pip install jupyterhub")
    chp = cache_dir / "node_modules" / CHP / "bin" / CHP
    if not chp.exists():
        if shutil.which("npm") is None:
            raise ReferenceError("npm is missing (Debian: apt-get install nodejs npm)")
        _run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(cache_dir), CHP],
             "npm install configurable-http-proxy")  # fmt: skip
    for path in (cache_dir, *cache_dir.parents):  # users' servers import from the venv
        if path == Path("/"):
            break
        path.chmod(path.stat().st_mode | 0o005)
    version = subprocess.run(
        [str(venv / "bin" / "jupyterhub"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Paths(venv, python, venv / "bin" / "jupyterhub",
                 venv / "bin" / "jupyterhub-singleuser", chp, version)  # fmt: skip


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    if done.returncode != 0:
        raise ReferenceError(f"{what} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    paths: Paths,
    work_dir: Path,
    *,
    users: list[str],
    port: int,
    admin_token: str,
    cull_timeout: int,
    database_url: str | None,
    extra_config: str = "",
) -> Path:
    db_url = database_url or f"sqlite:///{work_dir / 'jupyterhub.sqlite'}"
    config = f"""
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {free_port()}
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {str(work_dir / "cookie_secret")!r}
c.JupyterHub.pid_file = {str(work_dir / "jupyterhub.pid")!r}
c.ConfigurableHTTPProxy.command = ["node", {str(paths.chp)!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.pid_file = {str(work_dir / "chp.pid")!r}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = set({users!r})
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{str(paths.singleuser)!r}]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.JupyterHub.services = [
    {{"name": "bench-admin", "api_token": {admin_token!r}}},
    {{"name": "idle-culler",
      "command": [{str(paths.python)!r}, "-m", "jupyterhub_idle_culler",
                  "--timeout={cull_timeout}"]}},
]
c.JupyterHub.load_roles = [
    {{"name": "admin", "services": ["bench-admin"]}},
    {{"name": "idle-culler", "services": ["idle-culler"],
      "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}},
]
{extra_config}
"""
    path = work_dir / "jupyterhub_config.py"
    path.write_text(config)
    return path


@contextmanager
def start_jupyterhub(
    paths: Paths,
    *,
    users: list[str],
    work_dir: Path,
    port: int = 0,
    cull_timeout: int = 3600,
    database_url: str | None = None,
    ready_timeout: float = READY_TIMEOUT,
    extra_config: str = "",
) -> Iterator[RunningHub]:
    """JupyterHub (PAM, LocalProcessSpawner, CHP, idle-culler) on 127.0.0.1; stopped, with
    every user's server, on exit. ``extra_config``: lines appended to its config (they win,
    e.g. another authenticator for an API-only bench)."""
    work_dir = work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    token = secrets.token_hex(24)
    config = write_config(paths, work_dir, users=users, port=port, admin_token=token,
                          cull_timeout=cull_timeout, database_url=database_url,
                          extra_config=extra_config)  # fmt: skip
    log_path = work_dir / "jupyterhub.log"
    env = {**os.environ, "PATH": f"{paths.venv / 'bin'}:{os.environ.get('PATH', '')}"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(paths.jupyterhub), "-f", str(config)],
            cwd=work_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    hub = RunningHub(f"http://127.0.0.1:{port}", token, work_dir, proc, log_path)
    try:
        wait_ready(hub, ready_timeout)
        yield hub
    finally:
        stop(hub)


def wait_ready(hub: RunningHub, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.proc.poll() is not None:
            raise ReferenceError(f"JupyterHub exited ({hub.proc.returncode}):\n{hub.log_tail()}")
        try:
            api_get(hub, "/hub/api/users?limit=1", timeout=2)
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise ReferenceError(f"JupyterHub not ready after {timeout:.0f} s:\n{hub.log_tail()}")


def api_get(hub: RunningHub, path: str, timeout: float = 10) -> object:
    request = urllib.request.Request(  # noqa: S310 (http to 127.0.0.1 only)
        hub.base_url + path, headers={"Authorization": f"token {hub.admin_token}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as r:  # noqa: S310
        return json.loads(r.read())


def stop(hub: RunningHub, timeout: float = 30.0) -> None:
    """SIGTERM the hub (it stops users' servers and CHP: cleanup_servers), then its group."""
    stop_process(hub.proc, timeout, reap=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(hub.proc.pid, signal.SIGKILL)  # CHP and the culler are in its group


def _children(pid: int) -> list[tuple[int, list[str]]]:
    """(pid, argv) of every process whose parent is ``pid`` (from /proc, no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                found.append((int(entry.name), [a.decode(errors="replace") for a in argv if a]))
        except (OSError, ValueError, IndexError):
            continue
    return found
