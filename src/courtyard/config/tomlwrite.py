"""Writing settings as TOML: values, whole documents, and setting one key in an existing file
while keeping its comments and layout.

Covers the value types of the settings table: strings, integers, floats, booleans, lists of
those, tables of strings (inline), and lists of tables (``[[services]]``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from courtyard.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
TABLE_HEADER = re.compile(r"^\s*\[")


def parse_toml(text: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}") from e


def toml_key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}" if inner else "{}"
    raise ConfigError(f"cannot write {value!r} as TOML.")


def toml_table_array(name: str, rows: Sequence[Mapping[str, Any]], prefix: str = "") -> list[str]:
    """``[[name]]`` blocks, one per row; every line starts with ``prefix`` (e.g. "# ")."""
    lines: list[str] = []
    for row in rows:
        lines.append(f"{prefix}[[{name}]]")
        lines += [f"{prefix}{toml_key(k)} = {toml_value(v)}" for k, v in row.items()]
        lines.append("")
    return lines


def set_key(text: str, key: str, value: Any) -> str:
    """``text`` with the setting ``key`` (dotted for a section: "culler.timeout") set to
    ``value``, replacing an existing assignment in place or adding one."""
    section, _, name = key.rpartition(".")
    lines = text.splitlines()
    start, end = section_bounds(lines, section)
    if start < 0:
        tail = ["", f"[{section}]"] if section else []
        return "\n".join([*lines, *tail, f"{toml_key(name)} = {toml_value(value)}"]) + "\n"
    new_line = f"{toml_key(name)} = {toml_value(value)}"
    found = find_assignment(lines, start, end, name)
    if found is None:
        insert_at = last_content_line(lines, start, end) + 1
        lines[insert_at:insert_at] = [new_line]
    else:
        first, last = found
        lines[first : last + 1] = [new_line]
    return "\n".join(lines) + "\n"


def section_bounds(lines: list[str], section: str) -> tuple[int, int]:
    """[start, end) of the lines belonging to ``section`` ("" = top level); start -1 if absent."""
    if not section:
        start = 0
    else:
        header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]\s*(#.*)?$")
        heads = [i for i, line in enumerate(lines) if header.match(line)]
        if not heads:
            return -1, -1
        start = heads[0] + 1
    end = next((i for i in range(start, len(lines)) if TABLE_HEADER.match(lines[i])), len(lines))
    return start, end


def find_assignment(lines: list[str], start: int, end: int, name: str) -> tuple[int, int] | None:
    """First and last line of ``name = ...`` (a value may span lines, like a long array)."""
    pattern = re.compile(rf"^\s*(\"?){re.escape(name)}\1\s*=")
    for i in range(start, end):
        if not pattern.match(lines[i]):
            continue
        for j in range(i, end):
            try:
                tomllib.loads("\n".join(lines[i : j + 1]))
                return i, j
            except tomllib.TOMLDecodeError:
                continue
        return i, i
    return None


def last_content_line(lines: list[str], start: int, end: int) -> int:
    for i in range(end - 1, start - 1, -1):
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            return i
    return start - 1
