"""``courtyard up``: run the hub in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import socket
import sys
from typing import Any

from courtyard import __version__
from courtyard.app import Courtyard, serve_until_signalled
from courtyard.cli.common import add_settings_options, load_from_args

log = logging.getLogger("courtyard")


def register(commands: Any) -> None:
    parser = commands.add_parser("up", help="run the hub in the foreground")
    add_settings_options(parser, network=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_from_args(args).settings
    configure_logging(settings.log_level)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency; tolerate odd platforms
        log.warning("uvloop is not installed; using the slower default event loop")
    asyncio.run(serve_until_signalled(Courtyard(settings), print_banner))
    return 0


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        stream=sys.stderr,
    )


def print_banner(hub: Courtyard) -> None:
    s = hub.settings
    host = "127.0.0.1" if s.ip in ("0.0.0.0", "") else s.ip
    url = f"http://{host}:{hub.port}/"
    lines = [f"Courtyard {__version__} is ready at {url}"]
    if hub.authenticator is not None:
        lines.append(f"  Who can log in: {hub.authenticator.describe_policy()}")
    lines += first_account_lines(hub)
    if s.ip in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"  From your laptop: {ssh_tunnel_command(hub.port)}")
        lines.append(f"    then open http://127.0.0.1:{hub.port}/")
    lines.append("  Stop with Ctrl-C; user servers keep running and are re-attached next start.")
    print("\n".join(lines), flush=True)


def ssh_tunnel_command(port: int) -> str:
    user = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"ssh -N -L {port}:127.0.0.1:{port} {user}@{socket.getfqdn() or '<this-host>'}"


def first_account_lines(hub: Courtyard) -> list[str]:
    created = hub.first_account
    if created is None:
        return []
    name, password = created
    return [
        f"  Created your account {name!r} with password: {password}",
        "    (shown once; change it with 'courtyard passwd')",
    ]
