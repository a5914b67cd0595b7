"""Load Settings from a TOML file, then COURTYARD_* environment variables, then CLI flags.

Later sources win. Every value is checked against the settings table; an unknown key or a
bad value raises ConfigError naming the full key and, for a typo, the nearest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from courtyard.config.limits import check_limit_settings, check_profiles
from courtyard.config.settings import Settings, running_as_root
from courtyard.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ENV_PREFIX = "COURTYARD_"


@dataclass(frozen=True)
class LoadedConfig:
    """The effective settings and where each non-default value came from."""

    settings: Settings
    path: Path | None
    sources: dict[str, str]


def default_config_paths() -> list[Path]:
    system = Path("/etc/courtyard/courtyard.toml")
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    home = system if running_as_root() else user / "courtyard" / "courtyard.toml"
    return [Path("courtyard.toml"), home]


def find_config_file(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist.")
        return path
    return next((p for p in default_config_paths() if p.is_file()), None)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
            return data
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(path)!r}: {e.strerror}") from e


def load_settings(
    config_path: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Merge file < environment < ``overrides`` (CLI flags, dotted keys) into Settings."""
    path = find_config_file(config_path)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path is not None:
        for key, value in flatten(read_toml(path)).items():
            values[key] = value
            sources[key] = str(path)
    for key, raw in env_values(os.environ if environ is None else environ).items():
        values[key] = parse_env_value(key, raw)
        sources[key] = ENV_PREFIX + key.replace(".", "_").upper()
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
            sources[key] = "command line"
    return LoadedConfig(build_settings(values), path, sources)


def settings_to_data(settings: Settings) -> dict[str, Any]:
    """Settings as plain JSON-able data; ``settings_from_data`` builds them back (to hand a
    hub's effective settings to its proxy workers)."""
    return dataclasses.asdict(settings)


def settings_from_data(data: Mapping[str, Any]) -> Settings:
    return build_settings(flatten(data))


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"culler": {"timeout": 5}} -> {"culler.timeout": 5}, for sections of the table only."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        full = prefix + key
        if isinstance(value, dict) and full in section_names():
            out.update(flatten(value, full + "."))
        else:
            out[full] = value
    return out


def section_names() -> set[str]:
    return {name for name, tp in field_types(Settings).items() if dataclasses.is_dataclass(tp)}


def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def all_keys() -> dict[str, tuple[type, dataclasses.Field[Any]]]:
    """Every settable key (dotted for sections) with its type and field."""
    keys: dict[str, tuple[type, dataclasses.Field[Any]]] = {}

    def walk(cls: type, prefix: str) -> None:
        hints = field_types(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            if dataclasses.is_dataclass(tp):
                walk(typing.cast(type, tp), prefix + f.name + ".")
            else:
                keys[prefix + f.name] = (tp, f)

    walk(Settings, "")
    return keys


# Variables of scripts/run and scripts/test (which venv to use), not settings.
SCRIPT_VARIABLES = frozenset({ENV_PREFIX + "VENV", ENV_PREFIX + "SCRIPT"})


def env_values(environ: Mapping[str, str]) -> dict[str, str]:
    by_env = {ENV_PREFIX + k.replace(".", "_").upper(): k for k in all_keys()}
    out = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name.startswith(ENV_PREFIX + "TEST_"):
            continue
        if name in SCRIPT_VARIABLES:
            continue
        if name not in by_env:
            raise ConfigError(f"unknown environment variable {name}{suggestion(name, by_env)}")
        out[by_env[name]] = raw
    return out


def suggestion(key: str, candidates: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ". See docs/settings.md for every setting."


def parse_env_value(key: str, raw: str) -> Any:
    tp = all_keys()[key][0]
    origin = typing.get_origin(tp)
    stripped = raw.strip()
    if tp is bool:
        lowered = stripped.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return raw
    if tp in (int, float):
        try:
            return tp(stripped)
        except ValueError:
            return raw
    if origin is list:
        if stripped.startswith("["):
            return tomllib.loads(f"v = {stripped}")["v"]
        return [part.strip() for part in stripped.split(",") if part.strip()]
    if origin is dict:
        return tomllib.loads(f"v = {stripped}")["v"] if stripped else {}
    return raw


def build_settings(values: Mapping[str, Any]) -> Settings:
    keys = all_keys()
    converted = dict(values)
    for key, value in values.items():
        if key not in keys:
            raise ConfigError(f"unknown setting {key!r}{suggestion(key, keys)}")
        item = table_type(keys[key][0])
        if item is not None:
            value = converted[key] = parse_tables(key, value, item)
        check_value(key, value, *keys[key])
    values = converted
    settings: Settings = construct(Settings, values, "")
    check_limit_settings(settings.limits)
    settings.resolved_server_log_max()  # a ConfigError naming the key
    check_profiles(settings.profiles)
    return settings


def table_type(tp: Any) -> type | None:
    """The dataclass of a list-of-tables setting (``list[ServiceConfig]``), else None."""
    if typing.get_origin(tp) is not list:
        return None
    (item,) = typing.get_args(tp)
    return typing.cast(type, item) if dataclasses.is_dataclass(item) else None


def parse_tables(key: str, raw: Any, cls: type) -> list[Any]:
    """Check a TOML array of tables against ``cls`` and build one ``cls`` per table."""
    if not isinstance(raw, list):
        raise ConfigError(f"setting {key!r} must be a list of tables ([[{key}]]), not {raw!r}.")
    return [parse_table(f"{key}[{i}]", table, cls) for i, table in enumerate(raw)]


def parse_table(where: str, table: Any, cls: type) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, not {table!r}.")
    hints = field_types(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for name, value in table.items():
        if name not in hints:
            raise ConfigError(f"unknown key {where}.{name}{suggestion(name, names)}")
        if not matches_type(value, hints[name]):
            shown = type_name(hints[name])
            raise ConfigError(f"{where}.{name} must be {shown}, not {value!r}.")
    for f in dataclasses.fields(cls):
        missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if missing and f.name not in table:
            raise ConfigError(f"{where} needs a {f.name!r}.")
    return cls(**table)


def construct(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    hints = field_types(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        if dataclasses.is_dataclass(hints[f.name]):
            kwargs[f.name] = construct(hints[f.name], values, key + ".")
        elif key in values:
            kwargs[f.name] = values[key]
    return cls(**kwargs)


def check_value(key: str, value: Any, tp: Any, f: dataclasses.Field[Any]) -> None:
    if not matches_type(value, tp):
        raise ConfigError(f"setting {key!r} must be {type_name(tp)}, not {value!r}.")
    meta = f.metadata
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        shown = ", ".join(repr(c) for c in choices if c != "")
        raise ConfigError(f"setting {key!r} must be one of {shown}, not {value!r}.")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"setting {key!r} must be at least {meta['min']}, not {value!r}.")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"setting {key!r} must be at most {meta['max']}, not {value!r}.")


def matches_type(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is list:
        (item,) = typing.get_args(tp)
        return isinstance(value, list) and all(matches_type(v, item) for v in value)
    if origin is dict:
        _, item = typing.get_args(tp)
        return isinstance(value, dict) and all(
            isinstance(k, str) and matches_type(v, item) for k, v in value.items()
        )
    return isinstance(value, tp)


def type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        item = typing.get_args(tp)[0]
        if dataclasses.is_dataclass(item):
            return "a list of tables"
        return "a list of " + {str: "strings", int: "integers"}.get(item, "values")
    if origin is dict:
        return "a table of strings"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))
