"""``courtyard start|stop|status|restart|logs``: the hub in the background."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from courtyard.app import Courtyard
from courtyard.cli.common import add_settings_options, load_from_args
from courtyard.cli.up import add_hub_options, first_account_lines, hub_settings, print_banner, serve
from courtyard.config.settings import Settings
from courtyard.daemon.control import log_path, start_background, stop_hub
from courtyard.daemon.detach import Notify, configure_daemon_logging
from courtyard.daemon.logfile import follow, tail
from courtyard.daemon.procs import children_running, started_at
from courtyard.daemon.records import HubRecord, find_running_hub
from courtyard.daemon.servers import running_users, stop_all_servers
from courtyard.errors import CourtyardError, DaemonError
from courtyard.proxy.fleet import WORKER_MODULE

log = logging.getLogger("courtyard")


def register(commands: Any) -> None:
    start = commands.add_parser("start", help="run the hub in the background")
    add_hub_options(start)
    start.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for ready")
    start.set_defaults(run=run_start)
    stop = commands.add_parser("stop", help="stop the background hub (user servers keep running)")
    add_stop_options(stop)
    stop.set_defaults(run=run_stop)
    restart = commands.add_parser("restart", help="stop the hub if it runs, then start it")
    add_hub_options(restart)
    restart.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for ready")
    restart.set_defaults(run=run_restart)
    status = commands.add_parser("status", help="is the hub running, where, since when")
    add_settings_options(status)
    status.set_defaults(run=run_status)
    logs = commands.add_parser("logs", help="show the hub's log")
    add_settings_options(logs)
    logs.add_argument("-n", "--lines", type=int, default=50, help="how many lines (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(run=run_logs)


def add_stop_options(parser: argparse.ArgumentParser) -> None:
    add_settings_options(parser)
    parser.add_argument("--servers", action="store_true", help="also stop every user's server")
    parser.add_argument(
        "--timeout", type=float, default=20.0, help="seconds before SIGKILL (default 20)"
    )


def daemon_body(settings: Settings) -> Any:
    def body(notify: Notify) -> int:
        configure_daemon_logging(
            log_path(settings.resolved_state_dir()),
            settings.log_level,
            settings.log_max_bytes,
            settings.log_backups,
        )

        def on_ready(hub: Courtyard) -> None:
            print_banner(hub, secrets=False)  # into the log: no first-account password
            for line in first_account_lines(hub):
                notify("say " + line)
            notify(f"ready {hub.url}")

        try:
            serve(settings, on_ready)
        except CourtyardError as e:
            log.error("%s", e.message)
            notify(f"error {e.exit_code} {' '.join(e.message.split())}")
            return e.exit_code
        return 0

    return body


def run_start(args: argparse.Namespace) -> int:
    settings = hub_settings(args)
    root = settings.resolved_state_dir()
    record = start_background(root, daemon_body(settings), args.timeout)
    print(f"Courtyard is running in the background at {record.url} (pid {record.pid}).")
    print(f"  Log: {log_path(root)}  ('courtyard logs -f')")
    print("  Stop with 'courtyard stop'.")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    settings = load_from_args(args).settings
    record = stop_hub(settings.resolved_state_dir(), args.timeout)
    if record is None:
        print("Courtyard is not running.")
    else:
        print(f"Courtyard (pid {record.pid}) stopped.")
    if args.servers:
        stopped = asyncio.run(stop_all_servers(settings))
        print(f"Stopped the servers of: {', '.join(stopped)}." if stopped else "No servers ran.")
    elif record is not None:
        users = running_users(settings)
        if users:
            print(f"  Still running (re-attached next start): servers of {', '.join(users)}.")
    return 0


def run_restart(args: argparse.Namespace) -> int:
    settings = hub_settings(args)
    if stop_hub(settings.resolved_state_dir(), 20.0) is not None:
        print("Stopped the running hub.")
    return run_start(args)


def run_status(args: argparse.Namespace) -> int:
    settings = load_from_args(args).settings
    record = find_running_hub(settings.resolved_state_dir())
    if record is None:
        print("Courtyard is not running.")
        return 3  # as LSB init scripts: 3 = not running
    print("\n".join(status_lines(record, running_users(settings))))
    return 0


def status_lines(record: HubRecord, users: list[str]) -> list[str]:
    since = record.started or started_at(record.ticks)
    lines = [
        f"Courtyard is running (pid {record.pid}).",
        f"  URL:    {record.url or '(starting)'}",
        f"  Uptime: {describe_duration(time.time() - since)}",
        f"  Running servers: {', '.join(users) if users else 'none'}",  # alice, alice/torch
    ]
    if record.limits:
        lines.append(f"  Limits: {record.limits}")
    workers = children_running(record.pid, WORKER_MODULE)
    if workers:
        pids = ", ".join(map(str, workers))
        noun = "proxy worker" if len(workers) == 1 else "proxy workers"
        lines.append(f"  Serving the port: the hub and {len(workers)} {noun} (pids {pids})")
    return lines


def describe_duration(seconds: float) -> str:
    s = int(max(seconds, 0))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    return " ".join([*parts, f"{minutes}m", f"{s}s"])


def run_logs(args: argparse.Namespace) -> int:
    settings = load_from_args(args).settings
    path: Path = log_path(settings.resolved_state_dir())
    if not path.is_file():
        raise DaemonError(
            f"no log at {path} yet: the hub has not been started with 'courtyard start'."
        )
    print("".join(tail(path, args.lines)), end="", flush=True)
    if args.follow:
        follow(path)
    return 0
