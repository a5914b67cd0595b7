"""The Unix account a server runs as, and what that account may reach in the file system.

The checks answer with the classic owner/group/other bits (ACLs are not consulted), before a
process is started, so a server that could never start fails at once with a useful message.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from courtyard.config.settings import Settings
from courtyard.errors import N_, InterpreterError, SpawnError


@dataclass(frozen=True)
class TargetUser:
    name: str  # the Unix account name
    uid: int
    gid: int
    groups: tuple[int, ...]  # every group id, the primary one included
    home: str
    shell: str

    @property
    def is_root(self) -> bool:
        return self.uid == 0


def from_passwd(entry: pwd.struct_passwd) -> TargetUser:
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    shell = entry.pw_shell or "/bin/sh"
    return TargetUser(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir, shell)


def lookup_target_user(name: str) -> TargetUser:
    """As root, the Unix account ``name``; otherwise the hub's own account, whatever ``name``."""
    if os.geteuid() != 0:
        return from_passwd(pwd.getpwuid(os.geteuid()))
    try:
        return from_passwd(pwd.getpwnam(name))
    except KeyError:
        raise SpawnError(
            f"there is no Unix account named {name!r} to run the server as.",
            detail=f"pwd.getpwnam({name!r}) failed; create the account or use local auth",
        ) from None


def spawnable_user(name: str, settings: Settings) -> TargetUser:
    """The account a server for ``name`` runs as, refusing system accounts (uid outside
    ``min_uid``..``max_uid``, root included) unless ``admin_users`` or ``allowed_users`` name
    them: an admin who adds a user called ``daemon`` in the hub must not get a server, and
    through ``admin_access`` a shell, as that account. The seed's ``admin_users = ["root"]``
    keeps root's own server."""
    target = lookup_target_user(name)
    if os.geteuid() != 0 or settings.min_uid <= target.uid <= settings.max_uid:
        return target
    if name in settings.admin_users or name in settings.allowed_users:
        return target
    raise SpawnError(
        N_(
            "{name!r} is a system account (uid {uid}, outside {low}..{high}): Courtyard starts"
            " servers for it only when admin_users or allowed_users name it."
        ),
        params={"name": name, "uid": target.uid, "low": settings.min_uid, "high": settings.max_uid},
    )


def may_access(path: str, user: TargetUser, want: int) -> bool:
    """Whether ``user`` has every permission in ``want`` (a mask of R_OK/W_OK/X_OK) on ``path``."""
    info = os.stat(path)
    if user.is_root:
        # root may read and search anything, and execute a file with any execute bit.
        is_dir = stat.S_ISDIR(info.st_mode)
        return not want & os.X_OK or is_dir or bool(info.st_mode & 0o111)
    if info.st_uid == user.uid:
        bits = (info.st_mode >> 6) & 0o7
    elif info.st_gid in user.groups:
        bits = (info.st_mode >> 3) & 0o7
    else:
        bits = info.st_mode & 0o7
    return bits & want == want


def first_unsearchable_dir(path: str, user: TargetUser) -> str | None:
    """The first directory on the way to ``path`` that ``user`` may not enter, if any."""
    parents = list(reversed(Path(path).parents))
    for directory in parents:
        if not may_access(str(directory), user, os.X_OK):
            return str(directory)
    return None


def unreachable_reason(path: str, user: TargetUser, want: int) -> str | None:
    """Why ``user`` cannot use ``path`` with permissions ``want``; None if they can."""
    if not os.path.exists(path):
        return f"{path!r} does not exist"
    for candidate in dict.fromkeys([os.path.abspath(path), os.path.realpath(path)]):
        blocked = first_unsearchable_dir(candidate, user)
        if blocked is not None:
            return f"user {user.name!r} may not enter {blocked!r}"
    if not may_access(os.path.realpath(path), user, want):
        return f"user {user.name!r} lacks permission on {os.path.realpath(path)!r}"
    return None


def require_interpreter(python: str, user: TargetUser) -> None:
    """Raise InterpreterError unless ``user`` can execute ``python``."""
    reason = unreachable_reason(python, user, os.X_OK)
    if reason is None and os.path.isdir(os.path.realpath(python)):
        reason = f"{python!r} is a directory"
    if reason is None:
        return
    raise InterpreterError(
        f"The Python interpreter {python!r} cannot be run by user {user.name!r}: {reason}. "
        f'Set python = "..." to an interpreter in a world-readable place, e.g. a venv made '
        f"from /usr/bin/python3 under /opt with courtyard[lab] installed.",
        detail=f"interpreter check for uid {user.uid}: {reason}",
    )


def require_directory(path: str, user: TargetUser) -> None:
    """Raise SpawnError unless ``user`` can list and enter the directory ``path``."""
    reason = unreachable_reason(path, user, os.R_OK | os.X_OK)
    if reason is None and not os.path.isdir(path):
        reason = f"{path!r} is not a directory"
    if reason is None:
        return
    raise SpawnError(
        f"The notebook directory {path!r} cannot be used by user {user.name!r}: {reason}. "
        f"Check the setting notebook_dir.",
        detail=f"notebook_dir check for uid {user.uid}: {reason}",
    )
