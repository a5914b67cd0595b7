"""How fast WebSockets open on one person's jupyter_server: directly, and through the proxy.

    sudo /opt/courtyard/venv/bin/python bench/ws_opens.py [--count 500] [--concurrency 1,50,500]
        [--path api/events/subscribe]

Starts one real server (``python -m courtyard.singleuser``, JupyterLab when installed) as a
throwaway Unix user (``cywsopen``, created and removed here, locked for the run: a
second run at once refuses, bench/benchkit.py), on its own unix socket, then for
each concurrency opens ``--count`` WebSockets and holds them all open until the last one is
up: (a) straight to the server's socket with the hub's secret headers, (b) through
Courtyard's real ProxyServer (uvloop, a route to that socket, a session cookie). Printed per
way and concurrency: opened, failed (with the first reasons), opens per second, wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import pwd
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import uvloop
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import stop_process, throwaway_users

from courtyard.auth.principal import Principal
from courtyard.proxy import ProxyServer, Route, RouteTable
from courtyard.singleuser.contract import SECRET_ENV, SECRET_HEADER, USER_HEADER
from courtyard.spawners.base import Endpoint

USER = "cywsopen"
COOKIE = "courtyard=c0ffee"
Opener = Callable[[], Awaitable[websockets.ClientConnection]]


class OneCookieGate:
    """The proxy's Gate: the one cookie below is the user; nothing else is anyone."""

    def identify(self, cookie: str | None, authorization: str | None) -> Principal | None:
        return Principal(USER) if cookie == COOKIE else None


@contextmanager
def users_server(user: pwd.struct_passwd, run_dir: Path, secret: str) -> Iterator[Path]:
    run_dir.mkdir(mode=0o700)
    os.chown(run_dir, user.pw_uid, user.pw_gid)
    sock = run_dir / "server.sock"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": user.pw_dir, "LANG": "C.UTF-8",
           SECRET_ENV: secret}  # fmt: skip
    argv = ["runuser", "-u", user.pw_name, "--", sys.executable, "-m", "courtyard.singleuser",
            "--name", user.pw_name, "--sock", str(sock), "--notebook-dir", user.pw_dir]  # fmt: skip
    log = (run_dir.parent / "server.log").open("wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start; see {log.name}")
            time.sleep(0.2)
        yield sock
    finally:
        stop_process(proc, 10)
        log.close()


async def open_many(opener: Opener, count: int, concurrency: int) -> tuple[int, float, list[str]]:
    """Open ``count`` sockets, at most ``concurrency`` handshakes in flight; hold all open."""
    gate = asyncio.Semaphore(concurrency)
    held: list[websockets.ClientConnection] = []
    reasons: list[str] = []

    async def one() -> None:
        async with gate:
            try:
                held.append(await opener())
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as exc:
                reasons.append(f"{type(exc).__name__}: {exc}"[:120])

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    wall = time.perf_counter() - began
    opened = len(held)
    await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
    return opened, wall, reasons


async def measure(sock: Path, args: argparse.Namespace, secret: str) -> None:
    path = f"/user/{USER}/{args.path}"
    direct_headers = {SECRET_HEADER: secret, USER_HEADER: USER}

    def direct() -> Awaitable[websockets.ClientConnection]:
        return websockets.unix_connect(
            str(sock), f"ws://localhost{path}", open_timeout=60,
            additional_headers=direct_headers, ping_interval=None,
        )  # fmt: skip

    routes = RouteTable()
    routes.add(Route(USER, Endpoint(unix_path=str(sock)), secret))
    gate = OneCookieGate()
    hub = Endpoint(unix_path=str(sock.parent / "no-hub.sock"))
    async with AsyncExitStack() as stack:
        proxy = ProxyServer(routes, gate, hub)
        await proxy.start("127.0.0.1", 0)
        stack.push_async_callback(proxy.close)
        url = f"ws://127.0.0.1:{proxy.port}{path}"

        def proxied() -> Awaitable[websockets.ClientConnection]:
            return websockets.connect(url, additional_headers={"Cookie": COOKIE},
                                      open_timeout=60, ping_interval=None)  # fmt: skip

        print(f"{args.count} WebSockets to {path}, each way and concurrency:")
        for concurrency in args.concurrency:
            for way, opener in (("direct", direct), ("proxy", proxied)):
                opened, wall, reasons = await open_many(opener, args.count, concurrency)
                why = collections.Counter(reasons).most_common(2)
                print(f"  {way:6} concurrency {concurrency:4}: {opened:4} opened, "
                      f"{len(reasons):4} failed in {wall:6.2f} s = {opened / wall:6.0f}/s"
                      + (f"  failures: {why}" if why else ""), flush=True)  # fmt: skip
                await asyncio.sleep(1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--concurrency", default="1,50,500")
    p.add_argument("--path", default="api/events/subscribe")
    args = p.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if os.geteuid() != 0:
        print("bench/ws_opens.py needs root (a throwaway Unix user).", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="cywsopen-") as tmp, \
            throwaway_users(USER, [USER], passwords=False):  # fmt: skip
        user = pwd.getpwnam(USER)
        os.chmod(tmp, 0o755)  # noqa: S103 (the user's server makes its socket below it)
        with users_server(user, Path(tmp) / "run", secret) as sock:
            uvloop.run(measure(sock, args, secret))
        with contextlib.suppress(OSError):
            shutil.copy(Path(tmp) / "server.log", "/tmp/cywsopen-server.log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
