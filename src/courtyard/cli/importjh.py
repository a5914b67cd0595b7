"""``courtyard import-jupyterhub-config``: a jupyterhub_config.py as Courtyard TOML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from courtyard.config.jhrecorder import record_config
from courtyard.config.jupyterhub import convert, render
from courtyard.config.load import build_settings, flatten
from courtyard.config.tomlwrite import parse_toml
from courtyard.errors import ConfigError


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "import-jupyterhub-config",
        help="convert a jupyterhub_config.py to Courtyard TOML (JupyterHub not needed)",
    )
    parser.add_argument("path", help="the jupyterhub_config.py (it is run as Python)")
    parser.add_argument("-o", "--output", metavar="TOML", help="write here instead of stdout")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --output")
    parser.set_defaults(run=run_import)


def run_import(args: argparse.Namespace) -> int:
    source = Path(args.path).expanduser()
    conversion = convert(record_config(source))
    text = render(conversion, str(source))
    build_settings(flatten(parse_toml(text)))  # what we write must load
    if args.output:
        out = Path(args.output).expanduser()
        if out.exists() and not args.force:
            raise ConfigError(f"{out} exists; pass --force to overwrite it.")
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text, end="")
    for note in conversion.notes:
        print(f"note: {note}", file=sys.stderr)
    if conversion.unmapped:
        print("not converted (no Courtyard equivalent):", file=sys.stderr)
        for item in conversion.unmapped:
            print(f"  {item}", file=sys.stderr)
    else:
        print("every setting was converted.", file=sys.stderr)
    return 0
