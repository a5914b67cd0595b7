"""``python -m courtyard.spawners.slurm_job``: what a Slurm job runs on its node.

It reads the per-server secret from a file only the user may read (never the command line),
picks a free TCP port on ``--bind``, writes ``{"host", "port", "node", "job_id"}`` to
``--endpoint-file`` (atomically, 0600) for the hub to find, and then becomes the usual
launcher (``courtyard.singleuser``) listening on that port instead of a unix socket::

    python -m courtyard.spawners.slurm_job --name alice --bind 127.0.0.1 \\
        --secret-file /srv/run/alice/slurm-secret \\
        --endpoint-file /srv/run/alice/slurm-endpoint.json \\
        --notebook-dir /home/alice --default-url /lab -- <extra jupyter arguments>

The port is free when chosen and jupyter_server binds it a moment later with port_retries=0,
so a port taken in between fails the start loudly rather than serving on a port the hub does
not know. ``--log-max BYTES`` (the hub's ``server_log_max``) goes on to the launcher, whose log
keeper bounds the job's output file as it bounds a local server's log. Nothing from jupyter is
imported here.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence

from courtyard.singleuser import launcher
from courtyard.singleuser.contract import EXIT_BAD_ENVIRONMENT, SECRET_ENV


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, tuple[str, ...]]:
    ours, extra = launcher.split_extra_args(argv)
    parser = argparse.ArgumentParser(prog="python -m courtyard.spawners.slurm_job")
    parser.add_argument("--name", required=True)
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on; '' = node's")
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--endpoint-file", required=True)
    parser.add_argument("--notebook-dir", required=True)
    parser.add_argument("--default-url", default="/lab")
    parser.add_argument("--server", default="", help="the named server's name")
    parser.add_argument("--log-max", default="", help="bytes: bound the job's output file")
    return parser.parse_args(ours), extra


def node_address(bind: str) -> str:
    """The address to bind: the setting, or the node's own address when it is empty."""
    if bind and bind not in ("0.0.0.0", "::"):
        return bind
    return socket.gethostbyname(socket.gethostname())


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def write_endpoint(path: str, host: str, port: int) -> None:
    facts = {
        "host": host,
        "port": port,
        "node": os.environ.get("SLURMD_NODENAME", socket.gethostname()),
        "job_id": os.environ.get("SLURM_JOB_ID", ""),
    }
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(facts, f)
    os.replace(tmp, path)


def read_secret(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        os.environ[SECRET_ENV] = read_secret(args.secret_file)
    except OSError as exc:
        return launcher.fail(f"cannot read the server secret: {exc}", EXIT_BAD_ENVIRONMENT)
    host = node_address(args.bind)
    port = free_port(host)
    write_endpoint(args.endpoint_file, host, port)
    # the launcher's --sock "" leaves ServerApp.sock empty, which means TCP
    tcp = [
        f"--ServerApp.ip={host}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
    ]
    base = ["--name", args.name, "--sock", "", "--notebook-dir", args.notebook_dir]
    base += ["--default-url", args.default_url]
    if args.server:
        base += ["--server", args.server]
    if args.log_max:
        base += ["--log-max", args.log_max]
    return launcher.main([*base, "--", *tcp, *extra])


if __name__ == "__main__":
    raise SystemExit(main())
