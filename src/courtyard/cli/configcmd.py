"""``courtyard config``: inspect and document settings."""

from __future__ import annotations

import argparse
from typing import Any

from courtyard.cli.common import add_settings_options, load_from_args
from courtyard.config.reference import render_reference


def register(commands: Any) -> None:
    parser = commands.add_parser("config", help="check settings or print their reference")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION")
    sub.required = True
    check = sub.add_parser("check", help="load the settings and report the first problem")
    add_settings_options(check)
    check.set_defaults(run=run_check)
    ref = sub.add_parser("reference", help="print the settings reference (docs/settings.md)")
    ref.set_defaults(run=run_reference)


def run_check(args: argparse.Namespace) -> int:
    loaded = load_from_args(args)
    where = loaded.path or "no config file (defaults and environment)"
    print(f"settings OK ({where})")
    return 0


def run_reference(args: argparse.Namespace) -> int:
    print(render_reference(), end="")
    return 0
