"""Start-to-ready of a user's server: through Courtyard vs a bare `jupyter lab`, one run.

    sudo python bench/spawn.py [--rounds 5]

Needs root (servers run as a real Unix user; a throwaway account `cybench` is created and
removed unless --user/--password name an existing one; a managed user is locked for the
run, so a second run at once refuses, bench/benchkit.py). Both sides are timed from "asked to
start" to "the server answers on its unix socket", detected by polling the socket (no
sleeps): for Courtyard that is the POST of the start form until the progress stream says
ready; for the bare start, process launch until GET /api answers. Rounds alternate, so drift
on a noisy machine hits both alike. Prints medians and the ratio (target: <= 1.15x).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchkit import throwaway_users
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

BENCH_USER = "cybench"


def http_ready(sock_path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect(sock_path)
            s.sendall(b"GET /api HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def bare_start(user: str, workdir: Path) -> float:
    """Launch plain `jupyter lab` on a unix socket as ``user``; seconds until it answers."""
    sock = workdir / "bare.sock"
    info = pwd.getpwnam(user)
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--ServerApp.sock={sock}",
        "--ServerApp.sock_mode=0600",
        "--IdentityProvider.token=",
        f"--ServerApp.root_dir={info.pw_dir}",
    ]
    env = {"HOME": info.pw_dir, "USER": user, "PATH": os.environ["PATH"]}
    began = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        user=user,
        env=env,
        cwd=info.pw_dir,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not http_ready(str(sock)):
            if proc.poll() is not None:
                raise RuntimeError("bare jupyter lab exited during start")
            time.sleep(0.005)
        return time.perf_counter() - began
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        sock.unlink(missing_ok=True)


async def hub_start(client: HubClient, user: str) -> float:
    began = time.perf_counter()
    r = await client.post_form("/hub/spawn", {})
    if r.status != 302:
        raise RuntimeError(f"start form answered {r.status}")
    await client.wait_until_ready(user)
    elapsed = time.perf_counter() - began
    await client.post_form("/hub/stop", {})
    return elapsed


async def run(rounds: int, user: str, password: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="cyb", dir="/tmp"))
    root.chmod(0o755)
    workdir = root / "bare"
    workdir.mkdir()
    shutil.chown(workdir, user)
    config = "\n".join(
        [
            'auth = "system"',
            f'allowed_users = ["{user}"]',
            f'python = "{sys.executable}"',
            "stop_grace = 3",
            "",
        ]
    )
    hub = HubProcess(root / "state", config).start()
    bare, through = [], []
    try:
        async with HubClient(hub.url) as client:
            await client.login(user, password, next_url="/hub/home")
            bare_start(user, workdir)  # warm the page cache for both sides
            for _ in range(rounds):
                bare.append(bare_start(user, workdir))
                through.append(await hub_start(client, user))
    finally:
        hub.stop()
        shutil.rmtree(root, ignore_errors=True)
    report(bare, through, rounds)


def report(bare: list[float], through: list[float], rounds: int) -> None:
    mb, mh = statistics.median(bare), statistics.median(through)
    print(f"command: {' '.join(sys.argv)}")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"rounds: {rounds}")
    print(f"bare jupyter lab   median {mb * 1000:7.0f} ms   all: {[round(x * 1000) for x in bare]}")
    print(
        f"through Courtyard  median {mh * 1000:7.0f} ms   all: {[round(x * 1000) for x in through]}"
    )
    verdict = "PASS" if mh / mb <= 1.15 else "MISS"
    print(f"ratio Courtyard/bare: {mh / mb:.3f}x  (target <= 1.15x: {verdict})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--user", default=BENCH_USER)
    parser.add_argument("--password", default="")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/spawn.py needs root: servers run as a real Unix user", file=sys.stderr)
        return 2
    if args.password:  # an existing user the bench does not manage
        asyncio.run(run(args.rounds, args.user, args.password))
        return 0
    with throwaway_users(args.user, [args.user]) as users:
        asyncio.run(run(args.rounds, args.user, users[args.user]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
