"""Render the settings reference (docs/settings.md) from the settings table."""

from __future__ import annotations

import json
from typing import Any

from courtyard.config.load import ENV_PREFIX, all_keys, type_name

HEADER = """# Settings reference

Generated from `src/courtyard/config/settings.py` by `courtyard config reference`; a test keeps
the two equal. Settings come from, in rising precedence: the TOML file (`--config PATH`, else
`./courtyard.toml`, else `/etc/courtyard/courtyard.toml` as root or
`~/.config/courtyard/courtyard.toml`), `COURTYARD_*` environment variables, and command-line flags.
Lists in environment variables are comma-separated (or a TOML array); tables are TOML inline
tables. An unknown key or a bad value stops Courtyard with a message naming the key.

| key | environment variable | type | default | meaning |
|---|---|---|---|---|
"""


def render_reference() -> str:
    rows = []
    for key, (tp, f) in all_keys().items():
        default: Any = f.default_factory() if callable(f.default_factory) else f.default
        env = ENV_PREFIX + key.replace(".", "_").upper()
        help_text = f.metadata["help"]
        choices = [c for c in f.metadata.get("choices", ()) if c != ""]
        if choices:
            help_text += " One of: " + ", ".join(f"`{c}`" for c in choices) + "."
        rows.append(
            f"| `{key}` | `{env}` | {type_name(tp)} | `{json.dumps(default, ensure_ascii=False)}` "
            f"| {help_text} |"
        )
    return HEADER + "\n".join(rows) + "\n"
