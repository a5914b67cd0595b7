"""``courtyard config``: check, show, set, and document settings."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

from courtyard.cli.common import add_settings_options, load_from_args
from courtyard.config.load import (
    all_keys,
    build_settings,
    default_config_paths,
    find_config_file,
    flatten,
    parse_env_value,
    suggestion,
)
from courtyard.config.reference import render_reference
from courtyard.config.settings import Settings
from courtyard.config.tomlwrite import parse_toml, set_key, toml_value
from courtyard.errors import ConfigError

SECRET_FIELDS = ("api_token", "password", "secret")


def register(commands: Any) -> None:
    parser = commands.add_parser("config", help="check, show or set settings; print the reference")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION")
    sub.required = True
    check = sub.add_parser("check", help="load the settings and report the first problem")
    add_settings_options(check)
    check.set_defaults(run=run_check)
    show = sub.add_parser("show", help="print every effective setting and where it came from")
    add_settings_options(show, network=True)
    show.set_defaults(run=run_show)
    put = sub.add_parser("set", help="set KEY to VALUE in the TOML file (validated first)")
    put.add_argument("key", help="setting key, e.g. port or culler.timeout")
    put.add_argument("value", help="new value (lists: a,b,c or a TOML array)")
    put.add_argument(
        "--config", metavar="PATH", help="TOML file to change (default: the one in use)"
    )
    put.set_defaults(run=run_set)
    ref = sub.add_parser("reference", help="print the settings reference (docs/settings.md)")
    ref.set_defaults(run=run_reference)


def run_check(args: argparse.Namespace) -> int:
    loaded = load_from_args(args)
    where = loaded.path or "no config file (defaults and environment)"
    print(f"settings OK ({where})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    loaded = load_from_args(args)
    print(f"# config file: {loaded.path or 'none'}")
    for key in all_keys():
        value = shown_value(setting_value(loaded.settings, key))
        print(f"{key} = {toml_value(value)}  # {loaded.sources.get(key, 'default')}")
    return 0


def setting_value(settings: Settings, key: str) -> Any:
    value: Any = settings
    for part in key.split("."):
        value = getattr(value, part)
    return value


def shown_value(value: Any) -> Any:
    """Plain data for printing, with secrets (service api tokens) masked."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_FIELDS and v else shown_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shown_value(v) for v in value]
    return value


def run_set(args: argparse.Namespace) -> int:
    keys = all_keys()
    if args.key not in keys:
        raise ConfigError(f"unknown setting {args.key!r}{suggestion(args.key, keys)}")
    path = target_file(args.config)
    text = path.read_text() if path.is_file() else ""
    value = parse_env_value(args.key, args.value)
    new_text = set_key(text, args.key, value)
    build_settings(flatten(parse_toml(new_text)))  # raises ConfigError naming the key
    write_keeping_mode(path, new_text)
    print(f"{args.key} = {toml_value(value)}  (written to {path})")
    return 0


def target_file(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    found = find_config_file(None)
    return found if found is not None else default_config_paths()[-1]


def write_keeping_mode(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def run_reference(args: argparse.Namespace) -> int:
    print(render_reference(), end="")
    return 0
