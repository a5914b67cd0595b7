"""Everything a local server needs before its process starts: directories, log, environment.

Layout (the hub runs as root, or as the researcher's own account)::

    <runtime_dir>/               0711, the hub's       (others may pass, not list)
    <runtime_dir>/<user>/        0700, the user's      (nobody else may enter)
        server.sock              0600, the user's      (made by jupyter_server)
        jupyter/                 JUPYTER_RUNTIME_DIR  (kernel connection files)
        kernels/                 on JUPYTER_PATH with kernels_from_conda (conda kernelspecs)
    <runtime_dir>/<user>@<server>/   the same, for the named server <server>
    <runtime_dir>/shim/          0755, the hub's       (courtyard.singleuser for environments)
    <log_dir>/<user>.log         0600, the hub's       (server output, appended; cut past
    <log_dir>/<user>@<server>.log                       server_log_max by the log keeper)

User names never contain "@" (auth/credentials.py) and server names never contain "/", so
these names cannot collide.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from courtyard.config.settings import Settings
from courtyard.errors import SpawnError
from courtyard.singleuser.contract import OWNER_ENV, SECRET_ENV
from courtyard.singleuser.labsettings import LANGUAGE_ENV
from courtyard.spawners.unixuser import TargetUser, first_unsearchable_dir
from courtyard.spawners.userfiles import read_user_file

MAX_SOCKET_PATH = 100  # bytes; sun_path holds 108 on Linux, fewer elsewhere
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
LOG_TAIL_BYTES = 64 * 1024  # the most of a log read for an error message


def check_name(user: str) -> None:
    if not user or user in (".", "..") or "/" in user or "\0" in user:
        raise SpawnError(f"{user!r} cannot name a server directory.", detail="bad user name")


def dir_name(user: str, server: str = "") -> str:
    """``alice`` or ``alice@torch``: the server's directory and log file name."""
    return f"{user}@{server}" if server else user


def socket_path_for(runtime_dir: Path, user: str, server: str = "") -> Path:
    return runtime_dir / dir_name(user, server) / "server.sock"


def check_socket_path(path: Path) -> None:
    size = len(os.fsencode(str(path)))
    if size >= MAX_SOCKET_PATH:
        raise SpawnError(
            f"The server socket path {str(path)!r} is {size} bytes; unix sockets allow fewer "
            f"than {MAX_SOCKET_PATH}. Set state_dir to a shorter directory.",
            detail=f"socket path too long ({size} bytes)",
        )


def prepare_server_dir(runtime_dir: Path, user: str, target: TargetUser, server: str = "") -> Path:
    """Make ``<runtime_dir>`` (0711) and a fresh-enough ``<runtime_dir>/<user>`` (0700,
    theirs; ``<user>@<server>`` for a named server)."""
    runtime_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(runtime_dir, 0, 0)
    os.chmod(runtime_dir, 0o711)  # noqa: S103 - others may pass through, not list
    server_dir = runtime_dir / dir_name(user, server)
    blocked = first_unsearchable_dir(str(server_dir), target)
    if blocked is not None:
        raise SpawnError(
            f"User {target.name!r} may not enter {blocked!r}, so their server cannot create "
            f"its socket. Allow others to pass through it (chmod o+x) or choose another "
            f"state_dir.",
            detail=f"{blocked!r} not searchable by uid {target.uid}",
        )
    if server_dir.is_symlink() or (server_dir.exists() and not server_dir.is_dir()):
        server_dir.unlink()
    server_dir.mkdir(mode=0o700, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(server_dir, target.uid, target.gid)
    os.chmod(server_dir, 0o700)
    remove_stale_socket(socket_path_for(runtime_dir, user, server))
    return server_dir


def remove_stale_socket(path: Path) -> None:
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            path.unlink()
    except FileNotFoundError:
        return


def log_path_for(log_dir: Path, user: str, server: str = "") -> Path:
    return log_dir / f"{dir_name(user, server)}.log"


def open_log(log_dir: Path, user: str, server: str = "") -> int:
    """Open ``<log_dir>/<user>.log`` (``<user>@<server>.log``) for appending (0600); the
    caller closes the fd."""
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(log_path_for(log_dir, user, server), flags, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def read_log_tail(path: Path, offset: int, lines: int = 20, owner_uid: int | None = None) -> str:
    """The last ``lines`` lines written to the log after ``offset`` (from its last 64 KiB).

    The log must be a regular file (not a symlink) owned by ``owner_uid`` (default: the hub's
    own account) or root, see :func:`userfiles.read_user_file`. Blocking: from async code, call
    it with ``asyncio.to_thread``."""
    owner = os.geteuid() if owner_uid is None else owner_uid
    text = read_user_file(path, owner, LOG_TAIL_BYTES, tail=True, start=offset)
    if text is None:
        return f"(log {str(path)!r} missing, or not a regular file of uid {owner})"
    return "\n".join(text.splitlines()[-lines:])


def expand_notebook_dir(setting: str, target: TargetUser) -> str:
    if setting == "~" or setting.startswith("~/"):
        return target.home + setting[1:]
    return setting


def server_environment(
    settings: Settings, target: TargetUser, user: str, secret: str, server_dir: Path, python: str
) -> dict[str, str]:
    """A clean environment: kept variables, configured ones, then what Courtyard sets."""
    env = {key: os.environ[key] for key in settings.env_keep if key in os.environ}
    env["PATH"] = with_interpreter_dir(env.get("PATH", DEFAULT_PATH), python)
    env.update(settings.environment)
    env.update(
        {
            "HOME": target.home,
            "USER": target.name,
            "LOGNAME": target.name,
            "SHELL": target.shell,
            "JUPYTER_RUNTIME_DIR": str(server_dir / "jupyter"),
            OWNER_ENV: user,
            SECRET_ENV: secret,
            LANGUAGE_ENV: settings.language,
        }
    )
    return env


def with_interpreter_dir(path: str, python: str) -> str:
    """PATH with the interpreter's bin directory first, as an activated venv would have it."""
    bin_dir = os.path.dirname(os.path.abspath(python))
    parts = [part for part in path.split(os.pathsep) if part]
    return os.pathsep.join([bin_dir, *(part for part in parts if part != bin_dir)])


def server_command(
    python: str,
    user: str,
    sock: Path,
    notebook_dir: str,
    settings: Settings,
    server: str = "",
    shim: Path | None = None,
    log_max: int | None = None,
) -> list[str]:
    """The server's command line. With ``shim`` (an environment without Courtyard), the
    launcher is run from the shim directory, put first on ``sys.path`` for this process only
    (not through PYTHONPATH, which kernels would inherit). With ``log_max`` (bytes), the
    launcher's log keeper bounds the log (singleuser/logkeeper.py)."""
    if shim is None:
        command = [python, "-m", "courtyard.singleuser"]
    else:
        run = (
            f"import sys, runpy; sys.path.insert(0, {str(shim)!r}); "
            "runpy.run_module('courtyard.singleuser', run_name='__main__', alter_sys=True)"
        )
        command = [python, "-c", run]
    command += ["--name", user, "--sock", str(sock)]
    if server:
        command += ["--server", server]
    command += ["--notebook-dir", notebook_dir, "--default-url", settings.default_url]
    if log_max is not None:
        command += ["--log-max", str(log_max)]
    return [*command, "--", *settings.args]


def resolve_python(settings: Settings) -> str:
    """The configured interpreter as a path (a bare name is looked up on PATH)."""
    python = settings.resolved_python()
    if os.sep in python:
        return python
    return shutil.which(python) or python
