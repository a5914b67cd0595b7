"""``courtyard tunnel`` (on the server) and ``courtyard connect`` (on the laptop): reaching a
hub bound to 127.0.0.1 through SSH, with the system ``ssh`` (your keys, config and agent)."""

from __future__ import annotations

import argparse
import getpass
import http.client
import os
import re
import socket
import subprocess
import time
import webbrowser
from typing import Any

from courtyard.cli.common import add_settings_options, load_from_args
from courtyard.daemon.records import find_running_hub
from courtyard.errors import DaemonError

DEFAULT_PORT = 8000
URL_LINE = re.compile(r"URL:\s+(https?)://\S+?:(\d+)/")
POLL = 0.2


def register(commands: Any) -> None:
    tunnel = commands.add_parser("tunnel", help="print the ssh command that reaches this hub")
    add_settings_options(tunnel)
    tunnel.add_argument("--local-port", type=int, help="port on your laptop (default: the same)")
    tunnel.set_defaults(run=run_tunnel)
    connect = commands.add_parser("connect", help="open an SSH tunnel to a remote hub")
    connect.add_argument("host", help="[user@]host, as you would give it to ssh")
    connect.add_argument("--port", type=int, help="the hub's port on the remote machine")
    connect.add_argument("--local-port", type=int, help="port on this machine (default: same)")
    connect.add_argument(
        "--ssh-option", action="append", default=[], metavar="OPT", help="passed as ssh -o OPT"
    )
    connect.add_argument("--start", action="store_true", help="start the remote hub if needed")
    connect.add_argument(
        "--remote-courtyard", default="courtyard", help="the courtyard command on the remote"
    )
    connect.add_argument("--no-browser", action="store_true", help="print the URL only")
    connect.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    connect.set_defaults(run=run_connect)


# ---- tunnel (server side) -------------------------------------------------------------------


def run_tunnel(args: argparse.Namespace) -> int:
    settings = load_from_args(args).settings
    record = find_running_hub(settings.resolved_state_dir())
    port = record.port if record is not None and record.port else settings.port
    scheme = "https" if (record and record.url.startswith("https")) or settings.ssl_cert else "http"
    local = args.local_port or port
    if record is None:
        print(f"(the hub is not running; start it with 'courtyard start'. Assuming port {port}.)")
    print("On your laptop, run:")
    print(f"  {ssh_tunnel_command(port, local)}")
    print(f"then open {scheme}://127.0.0.1:{local}/")
    print(f"(or, with Courtyard on the laptop: courtyard connect {host_name()} --port {port})")
    return 0


def ssh_tunnel_command(port: int, local_port: int | None = None) -> str:
    """The line a remote person runs on their laptop; placeholders where we cannot know."""
    return f"ssh -N -L {local_port or port}:127.0.0.1:{port} {login_user()}@{host_name()}"


def login_user() -> str:
    """Who logs in over SSH: the sudo caller, or us - but nobody should ssh in as root."""
    if os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"]
    return "<your-user>" if os.geteuid() == 0 else getpass.getuser()


def host_name() -> str:
    """A name the laptop can likely resolve; a placeholder when this machine has none."""
    name = socket.getfqdn()
    if not name or name.startswith("localhost") or "." not in name:
        return "<this-host>"
    return name


# ---- connect (laptop side) ------------------------------------------------------------------


def ssh_base(args: argparse.Namespace) -> list[str]:
    cmd = ["ssh"]
    for option in args.ssh_option:
        cmd += ["-o", option]
    return cmd


def remote_status(args: argparse.Namespace) -> tuple[str, int] | None:
    """(scheme, port) of the hub running on the remote machine, or None."""
    cmd = [*ssh_base(args), args.host, "--", args.remote_courtyard, "status"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=False)
    match = URL_LINE.search(done.stdout)
    return (match.group(1), int(match.group(2))) if done.returncode == 0 and match else None


def start_remote(args: argparse.Namespace) -> tuple[str, int]:
    found = remote_status(args)
    if found is not None:
        return found
    cmd = [*ssh_base(args), args.host, "--", args.remote_courtyard, "start"]
    if args.port:
        cmd += ["--port", str(args.port)]
    print(f"Starting Courtyard on {args.host} ...", flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    print(done.stdout, end="", flush=True)
    found = remote_status(args) if done.returncode == 0 else None
    if found is None:
        raise DaemonError(f"could not start Courtyard on {args.host}: {done.stderr.strip()}")
    return found


def free_local_port(wanted: int) -> int:
    """``wanted`` if nothing on this machine listens there, else any free port."""
    for port in (wanted, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = probe.getsockname()[1]
            return chosen
    raise DaemonError("no free local port for the tunnel")  # pragma: no cover


def hub_scheme(port: int) -> str | None:
    """Ask over plain HTTP; "http" if the hub answers, "https" if it points us there (an
    HTTPS hub answers plain HTTP with a 307), None if nothing answers yet."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/hub/login")
        response = conn.getresponse()
        location = response.getheader("Location") or ""
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    if response.status >= 500:
        return None
    return "https" if location.startswith("https://") else "http"


def wait_for_hub(tunnel: subprocess.Popen[bytes], port: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while (scheme := hub_scheme(port)) is None:
        if tunnel.poll() is not None:
            raise DaemonError(f"ssh exited (status {tunnel.returncode}); the tunnel is not open.")
        if time.monotonic() > deadline:
            raise DaemonError(
                f"no hub answered on port {port} through the tunnel in {timeout:.0f} s."
            )
        time.sleep(POLL)
    return scheme


def run_connect(args: argparse.Namespace) -> int:
    port = start_remote(args)[1] if args.start else args.port or DEFAULT_PORT
    local = free_local_port(args.local_port or port)
    forward = f"{local}:127.0.0.1:{port}"
    cmd = [*ssh_base(args), "-N", "-o", "ExitOnForwardFailure=yes", "-L", forward, args.host]
    tunnel = subprocess.Popen(cmd)
    try:
        url = f"{wait_for_hub(tunnel, local, args.timeout)}://127.0.0.1:{local}/"
        print(f"Tunnel open: {url} -> {args.host}:{port}. Ctrl-C closes it.", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        tunnel.wait()
        return 0 if tunnel.returncode in (0, 255) else tunnel.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        if tunnel.poll() is None:
            tunnel.terminate()
            tunnel.wait(10)
