"""``courtyard install-service``: a systemd unit for the hub (systemd need not be running)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from courtyard.cli.common import add_settings_options, load_from_args
from courtyard.config.settings import running_as_root
from courtyard.errors import ConfigError

UNIT = """\
[Unit]
Description=Courtyard notebook hub
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={exec_start}
Restart=on-failure
RestartSec=2
# Stop only the hub: users' servers keep running and are re-attached when it comes back.
KillMode=process
# The hub manages its own cgroup subtree: cgroup v2 resource limits ([limits]) need it.
Delegate=yes
TimeoutStopSec=30

[Install]
WantedBy={wanted_by}
"""


def register(commands: Any) -> None:
    parser = commands.add_parser("install-service", help="write a systemd unit for the hub")
    add_settings_options(parser)
    parser.add_argument("--output", metavar="PATH", help="where to write the unit")
    parser.add_argument("--name", default="courtyard", help="unit name (default courtyard)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing unit")
    parser.set_defaults(run=run_install)


def unit_text(args: argparse.Namespace, system: bool) -> str:
    loaded = load_from_args(args)  # refuses to write a unit for broken settings
    settings = loaded.settings
    command = [sys.executable, "-m", "courtyard", "up"]
    if loaded.path is not None:
        command += ["--config", str(loaded.path.resolve())]
    command += ["--state-dir", str(settings.resolved_state_dir())]
    return UNIT.format(
        exec_start=shlex.join(command),
        wanted_by="multi-user.target" if system else "default.target",
    )


def default_unit_path(name: str, system: bool) -> Path:
    if system:
        return Path("/etc/systemd/system") / f"{name}.service"
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "systemd" / "user" / f"{name}.service"


def run_install(args: argparse.Namespace) -> int:
    system = running_as_root()
    path = Path(args.output) if args.output else default_unit_path(args.name, system)
    if path.exists() and not args.force:
        raise ConfigError(f"{path} exists; pass --force to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text(args, system))
    path.chmod(0o644)
    scope = "" if system else " --user"
    unit = path.stem
    print(f"Wrote {path}.")
    print("Enable and start it with:")
    print(f"  systemctl{scope} daemon-reload && systemctl{scope} enable --now {unit}")
    print(f"Then: systemctl{scope} status {unit}   journalctl{scope} -u {unit} -f")
    if not system:
        print("To keep it running after you log out: loginctl enable-linger")
    return 0
