"""``python -m courtyard.singleuser``: start JupyterLab (or a bare jupyter_server) for the hub.

The hub runs this with the target user's interpreter::

    python -m courtyard.singleuser --name alice --sock /run/courtyard/alice/server.sock \\
        --notebook-dir /home/alice --default-url /lab -- <extra jupyter arguments>

and the per-server secret in ``COURTYARD_SERVER_SECRET`` (never on the command line, where
``ps`` would show it). With ``--log-max BYTES`` (the hub's ``server_log_max``) the server's
stdout and stderr, a log file, are kept below that size by a log keeper (logkeeper.py), forked
just before jupyter starts. Failures the hub recognises exit with a distinct status and one line
starting with ``courtyard-singleuser:`` on stderr.

Nothing from jupyter is imported until main() runs; exit codes live in contract.py. What a
start pays for and never uses is deferred first (deferred.py: 70 % of a JupyterLab start).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from courtyard.singleuser.contract import (
    EXIT_BAD_ENVIRONMENT,
    EXIT_JUPYTER_MISSING,
    MESSAGE_PREFIX,
    SECRET_ENV,
    base_url_for,
)
from courtyard.singleuser.deferred import defer_iri_grammar
from courtyard.singleuser.labsettings import LANGUAGE_ENV, preset_lab_language
from courtyard.singleuser.logkeeper import finish_keeper, start_keeper

IDENTITY_PROVIDER = "courtyard.singleuser.identity.CourtyardIdentityProvider"
KERNEL_MANAGER = "courtyard.singleuser.kernels.CourtyardKernelManager"
HUB_LOGIN_URL = "/hub/login"
# Prebuilt JupyterLab extensions shipped in this package (the cull warning; source in
# labextension/ at the repository's root, rebuilt by scripts/build-labextension).
LABEXTENSIONS = Path(__file__).resolve().parent / "labextension"


@dataclass(frozen=True)
class LaunchOptions:
    name: str
    sock: str
    notebook_dir: str
    default_url: str = "/lab"
    extra_args: tuple[str, ...] = ()
    server: str = ""  # a named server's name; "" for the default server
    log_max: int = 0  # bytes: the log keeper's bound on stdout+stderr (logkeeper.py); 0: none


def build_argv(options: LaunchOptions, *, as_root: bool, lab: bool = False) -> list[str]:
    """The jupyter_server command line for these options (no secret in it, ever); with
    ``lab``, JupyterLab also loads Courtyard's own extensions from this package."""
    argv = [
        f"--ServerApp.base_url={base_url_for(options.name, options.server)}",
        f"--ServerApp.sock={options.sock}",
        "--ServerApp.sock_mode=0600",
        "--ServerApp.open_browser=False",
        f"--ServerApp.identity_provider_class={IDENTITY_PROVIDER}",
        f"--ServerApp.root_dir={options.notebook_dir}",
        f"--ServerApp.default_url={options.default_url}",
        # The Host header is the hub's; the private socket and the secret guard access.
        "--ServerApp.allow_remote_access=True",
        # Unauthenticated page requests go to the hub's login, not to a missing /login.
        f"--ServerApp.tornado_settings=login_url={HUB_LOGIN_URL}",
        # The hub owns the server's life cycle.
        "--ServerApp.quit_button=False",
    ]
    if as_root:
        argv.append("--ServerApp.allow_root=True")
    # kernels over unix sockets of their own; under a memory limit, first to go (kernels.py)
    argv.append(f"--AsyncMappingKernelManager.kernel_manager_class={KERNEL_MANAGER}")
    if lab:
        argv.append(f"--LabApp.extra_labextensions_path={LABEXTENSIONS}")
    return argv + list(options.extra_args)


def parse_args(argv: Sequence[str]) -> LaunchOptions:
    ours, extra = split_extra_args(argv)
    parser = argparse.ArgumentParser(prog="python -m courtyard.singleuser", allow_abbrev=False)
    parser.add_argument("--name", required=True, help="the Courtyard user name")
    parser.add_argument("--sock", required=True, help="unix socket to listen on")
    parser.add_argument("--notebook-dir", required=True, help="root directory of the server")
    parser.add_argument("--default-url", default="/lab", help="page users land on")
    parser.add_argument("--server", default="", help="the named server's name (default: none)")
    parser.add_argument(
        "--log-max", type=int, default=0, help="bound stdout+stderr (a file) to these bytes"
    )
    args = parser.parse_args(ours)
    return LaunchOptions(
        args.name,
        args.sock,
        args.notebook_dir,
        args.default_url,
        extra,
        server=args.server,
        log_max=max(0, args.log_max),
    )


def split_extra_args(argv: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """Split at the first ``--``: before are our options, after are jupyter's."""
    if "--" not in argv:
        return list(argv), ()
    cut = list(argv).index("--")
    return list(argv[:cut]), tuple(argv[cut + 1 :])


def fail(message: str, status: int) -> int:
    print(f"{MESSAGE_PREFIX} {message}", file=sys.stderr, flush=True)
    return status


def reset_server_priority() -> None:
    """Run at nice 0 even if the hub that started this server runs ahead of it (hub_nice,
    courtyard/priority.py: a negative nice value is inherited across fork and exec). A
    positive value, which an admin chose for the hub and everything it starts, is kept."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < 0:
            os.setpriority(os.PRIO_PROCESS, 0, 0)  # raising the value needs no privilege
    except OSError:  # pragma: no cover - getpriority/setpriority on oneself do not fail
        pass


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    reset_server_priority()  # not the hub's (hub_nice): kernels and all inherit this one
    if not os.environ.get(SECRET_ENV):
        return fail(f"{SECRET_ENV} is not set; the hub starts this server", EXIT_BAD_ENVIRONMENT)
    try:
        app_class = jupyter_app_class()
    except ImportError as exc:
        message = f"jupyter_server is not importable by {sys.executable}: {exc}"
        return fail(message, EXIT_JUPYTER_MISSING)
    os.umask(0o077)
    preset_lab_language(os.environ.get(LANGUAGE_ENV, ""))
    lab = app_class.__name__ == "LabApp"
    argv = build_argv(options, as_root=os.getuid() == 0, lab=lab)
    keeper = start_keeper(options.log_max) if options.log_max > 0 else None
    try:
        app_class.launch_instance(argv)
    finally:
        if keeper is not None:  # the hub reads the log once we exit: let it be complete
            finish_keeper(keeper)
    return 0


def jupyter_app_class() -> Any:
    """JupyterLab's LabApp when installed, else a bare jupyter_server ServerApp; imports that
    a start never uses are deferred first (deferred.py)."""
    defer_iri_grammar()
    importlib.import_module("jupyter_server.serverapp")
    try:
        return importlib.import_module("jupyterlab.labapp").LabApp
    except ImportError:
        return importlib.import_module("jupyter_server.serverapp").ServerApp
