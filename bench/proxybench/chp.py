"""configurable-http-proxy (CHP), the proxy JupyterHub ships: installed into a cache
directory with npm, started pinned, and given one route through its REST API."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

from proxybench.procs import (
    BenchError,
    Child,
    Children,
    free_port,
    pinned,
    port_open,
    require_tool,
    wait_for,
)

PACKAGE = "configurable-http-proxy"
API_TOKEN = "bench-chp-api-token"
NPM_TIMEOUT = 300


def package_dir(cache: Path) -> Path:
    return cache / "node_modules" / PACKAGE


def ensure_installed(cache: Path, wanted: str | None = None) -> Path:
    """The CHP entry script, running ``npm install`` into ``cache`` the first time (or when
    ``wanted``, an npm version spec such as ``4.6.3``, differs from the installed version)."""
    script = package_dir(cache) / "bin" / PACKAGE
    if script.exists() and wanted in (None, version(cache)):
        return script
    for tool in ("node", "npm"):
        require_tool(
            tool,
            "CHP needs Node.js and npm (Debian: apt-get install nodejs npm), or pass --no-chp.",
        )
    cache.mkdir(parents=True, exist_ok=True)
    spec = PACKAGE if wanted is None else f"{PACKAGE}@{wanted}"
    print(f"installing {spec} into {cache} (npm) ...", flush=True)
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(cache), spec],
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
    )
    if done.returncode != 0 or not script.exists():
        raise BenchError(f"npm install {PACKAGE} failed:\n{done.stdout}\n{done.stderr}")
    return script


def version(cache: Path) -> str:
    data = json.loads((package_dir(cache) / "package.json").read_text())
    return str(data["version"])


def add_route(api_port: int, prefix: str, target: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{api_port}/api/routes{prefix}",
        data=json.dumps({"target": target}).encode(),
        method="POST",
        headers={"Authorization": f"token {API_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (http only)
        if response.status != 201:
            raise BenchError(f"CHP refused the route: HTTP {response.status}")


def start(
    children: Children, cache: Path, cpus: str, upstream_port: int, wanted: str | None = None
) -> Child:
    """CHP on a free port, its API on another, with /user/alice -> the upstream."""
    script = ensure_installed(cache, wanted)
    require_tool("node", "CHP needs Node.js (Debian: apt-get install nodejs), or pass --no-chp.")
    port, api_port = free_port(), free_port()
    argv = ["node", str(script), "--ip", "127.0.0.1", "--port", str(port)]
    argv += ["--api-ip", "127.0.0.1", "--api-port", str(api_port), "--log-level", "warn"]
    child = children.start("chp", pinned(cpus, argv), env={"CONFIGPROXY_AUTH_TOKEN": API_TOKEN})

    def listening() -> bool:
        if child.popen.poll() is not None:
            raise BenchError(f"CHP exited early:\n{child.log_text()[-2000:]}")
        return port_open(port) and port_open(api_port)

    wait_for(listening, 20, "CHP to listen")
    add_route(api_port, "/user/alice", f"http://127.0.0.1:{upstream_port}")
    child.port = port
    return child
