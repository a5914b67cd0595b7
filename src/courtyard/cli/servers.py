"""``courtyard stop-servers``: stop every user server a stopped hub left running."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from courtyard.cli.common import add_settings_options, load_from_args
from courtyard.daemon.servers import stop_all_servers


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "stop-servers", help="stop all user servers (run it while the hub is stopped)"
    )
    add_settings_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stopped = asyncio.run(stop_all_servers(load_from_args(args).settings))
    print(f"stopped {len(stopped)} server(s){': ' + ', '.join(stopped) if stopped else ''}")
    return 0
