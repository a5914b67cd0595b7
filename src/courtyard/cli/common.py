"""Options every command that reads the settings shares."""

from __future__ import annotations

import argparse
from typing import Any

from courtyard.config.load import LoadedConfig, load_settings

# flag -> setting key, for flags that override settings
SETTING_FLAGS = {
    "ip": "ip",
    "port": "port",
    "state_dir": "state_dir",
    "database_url": "database_url",
    "auth": "auth",
    "log_level": "log_level",
    "workers": "workers",
}


def add_settings_options(parser: argparse.ArgumentParser, *, network: bool = False) -> None:
    parser.add_argument("--config", metavar="PATH", help="TOML settings file")
    parser.add_argument("--state-dir", metavar="DIR", help="where the database and logs live")
    parser.add_argument("--database-url", metavar="URL", help="SQLAlchemy URL of the store")
    if network:
        parser.add_argument("--ip", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, help="port to listen on (default 8000; 0: any)")
        parser.add_argument("--auth", choices=("system", "local"), help="who may log in")
        parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
        parser.add_argument(
            "--workers", type=int, metavar="N", help="processes serving the port (0: one per core)"
        )


def load_from_args(args: argparse.Namespace) -> LoadedConfig:
    overrides: dict[str, Any] = {
        key: getattr(args, flag) for flag, key in SETTING_FLAGS.items() if hasattr(args, flag)
    }
    return load_settings(args.config, overrides)
