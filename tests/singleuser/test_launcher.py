"""The command line the launcher builds, and how it fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import courtyard
from courtyard.singleuser.contract import (
    EXIT_BAD_ENVIRONMENT,
    EXIT_JUPYTER_MISSING,
    MESSAGE_PREFIX,
    base_url_for,
)
from courtyard.singleuser.launcher import LaunchOptions, build_argv, parse_args

SRC = str(Path(courtyard.__file__).parents[1])


def test_argv_serves_the_users_prefix_on_a_private_socket() -> None:
    argv = build_argv(LaunchOptions("alice", "/run/cy/alice/s.sock", "/home/alice"), as_root=False)
    assert "--ServerApp.base_url=/user/alice/" in argv
    assert "--ServerApp.sock=/run/cy/alice/s.sock" in argv
    assert "--ServerApp.sock_mode=0600" in argv
    assert "--ServerApp.open_browser=False" in argv
    assert "--ServerApp.root_dir=/home/alice" in argv
    assert (
        "--ServerApp.identity_provider_class="
        "courtyard.singleuser.identity.CourtyardIdentityProvider"
    ) in argv
    assert not any("allow_root" in arg for arg in argv)


def test_argv_allows_root_only_for_roots_own_server() -> None:
    argv = build_argv(LaunchOptions("root", "/s.sock", "/root"), as_root=True)
    assert "--ServerApp.allow_root=True" in argv


def test_extra_args_come_after_ours() -> None:
    options = parse_args(["--name", "a", "--sock", "/s", "--notebook-dir", "/d", "--", "--debug"])
    assert options.extra_args == ("--debug",)
    assert build_argv(options, as_root=False)[-1] == "--debug"


def test_base_url_quotes_unusual_names() -> None:
    assert base_url_for("a b@c") == "/user/a%20b@c/"


def launch(python: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "courtyard.singleuser", "--name", "a", "--sock", "/tmp/cy-no.sock"]
    command += ["--notebook-dir", "/tmp"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_launcher_without_the_secret_refuses_to_start() -> None:
    done = launch(sys.executable, {"PATH": "/usr/bin:/bin"})
    assert done.returncode == EXIT_BAD_ENVIRONMENT
    assert done.stderr.startswith(MESSAGE_PREFIX)


def test_launcher_without_jupyter_server_says_so() -> None:
    python = "/usr/bin/python3"
    probe = subprocess.run([python, "-c", "import jupyter_server"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("/usr/bin/python3 has jupyter_server")
    done = launch(python, {"PYTHONPATH": SRC, "COURTYARD_SERVER_SECRET": "s"})
    assert done.returncode == EXIT_JUPYTER_MISSING
    assert "jupyter_server is not importable" in done.stderr
