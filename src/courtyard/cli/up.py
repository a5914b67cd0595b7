"""``courtyard up``: run the hub in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from collections.abc import Callable
from typing import Any

from courtyard import __version__
from courtyard.app import Courtyard, serve_until_signalled
from courtyard.cli.common import add_settings_options, load_from_args
from courtyard.cli.remote import ssh_tunnel_command
from courtyard.config.settings import Settings
from courtyard.priority import apply_hub_priority
from courtyard.tls import fingerprint, self_signed

log = logging.getLogger("courtyard")


def register(commands: Any) -> None:
    parser = commands.add_parser("up", help="run the hub in the foreground")
    add_hub_options(parser)
    parser.set_defaults(run=run)


def add_hub_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command that runs a hub (up, start, restart)."""
    add_settings_options(parser, network=True)
    parser.add_argument(
        "--https",
        action="store_true",
        help="serve HTTPS; without ssl_cert, with a self-signed certificate in the state dir",
    )


def hub_settings(args: argparse.Namespace) -> Settings:
    settings = load_from_args(args).settings
    if getattr(args, "https", False) and not settings.ssl_cert:
        cert, key = self_signed(settings.resolved_state_dir() / "tls")
        settings = dataclasses.replace(settings, ssl_cert=str(cert), ssl_key=str(key))
    return settings


def run(args: argparse.Namespace) -> int:
    settings = hub_settings(args)
    configure_logging(settings.log_level)
    serve(settings, print_banner)
    return 0


def serve(settings: Settings, on_ready: Callable[[Courtyard], None]) -> None:
    done = apply_hub_priority(settings.hub_nice)  # before any thread: they inherit it
    if done:
        log.info("%s; users' servers run at 0", done)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency; tolerate odd platforms
        log.warning("uvloop is not installed; using the slower default event loop")
    asyncio.run(serve_until_signalled(Courtyard(settings), on_ready))


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is noise


def print_banner(hub: Courtyard, *, secrets: bool = True) -> None:
    s = hub.settings
    url = hub.url
    lines = [f"Courtyard {__version__} is ready at {url}"]
    if hub.tls is not None:
        lines.append(f"  HTTPS certificate {s.ssl_cert}")
        lines.append(f"    SHA-256 fingerprint {fingerprint(s.ssl_cert)}")
    if hub.fleet is not None:
        pids = ", ".join(str(row["pid"]) for row in hub.fleet.stats())
        lines.append(
            f"  Served by {len(hub.fleet.workers) + 1} processes: the hub and workers {pids}"
        )
    if hub.authenticator is not None:
        lines.append(f"  Who can log in: {hub.authenticator.describe_policy()}")
    if hub.limiter is not None:
        lines.append(f"  Limits: {hub.limiter.describe()}")
        warning = hub.limiter.warning()
        if warning:
            lines.append(f"  WARNING: {warning}")
    lines += first_account_lines(hub) if secrets else []
    if s.ip in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"  From your laptop: {ssh_tunnel_command(hub.port)}")
        lines.append(f"    then open {url}")
    stop = "Ctrl-C" if secrets else "'courtyard stop'"
    lines.append(f"  Stop with {stop}; user servers keep running and are re-attached next start.")
    print("\n".join(lines), flush=True)


def first_account_lines(hub: Courtyard) -> list[str]:
    created = hub.first_account
    if created is None:
        return []
    name, password = created
    return [
        f"  Created your account {name!r} with password: {password}",
        "    (shown once; change it with 'courtyard passwd')",
    ]
