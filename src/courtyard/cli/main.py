"""``courtyard`` - the command line. Expected failures become one paragraph and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from courtyard import __version__
from courtyard.cli import accounts, configcmd, daemon, importjh, remote, servers, service, up, users
from courtyard.errors import CourtyardError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="courtyard", description="A multi-user notebook hub: one JupyterLab per person."
    )
    parser.add_argument("--version", action="version", version=f"courtyard {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    up.register(commands)
    daemon.register(commands)
    accounts.register(commands)
    configcmd.register(commands)
    importjh.register(commands)
    remote.register(commands)
    service.register(commands)
    servers.register(commands)
    users.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except CourtyardError as e:
        print(f"courtyard: {e.message}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
