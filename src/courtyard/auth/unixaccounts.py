"""Unix accounts: facts for the system login policy (uid, groups, usable password), and, as
root, creating them (``useradd -m``), setting passwords (``chpasswd``) and removing them
(``userdel -r``).

Reading /etc/shadow needs root; when it is not readable, ``has_usable_password`` answers
None (unknown) and PAM alone decides.
"""

from __future__ import annotations

import grp
import logging
import pwd
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from courtyard.auth.credentials import shown
from courtyard.errors import (
    N_,
    AuthError,
    ProtectedAccountError,
    UnknownUserError,
    UserExistsError,
)

log = logging.getLogger(__name__)

SHADOW = Path("/etc/shadow")


def uid_of(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def in_any_group(name: str, groups: Iterable[str]) -> bool:
    """True if ``name`` is a member (listed, or by primary gid) of one of ``groups``."""
    try:
        primary_gid = pwd.getpwnam(name).pw_gid
    except KeyError:
        return False
    for group_name in groups:
        try:
            group = grp.getgrnam(group_name)
        except KeyError:
            log.warning("allowed_groups names %r, which is not a Unix group", group_name)
            continue
        if name in group.gr_mem or group.gr_gid == primary_gid:
            return True
    return False


def has_usable_password(name: str, shadow: Path = SHADOW) -> bool | None:
    """True/False from /etc/shadow (locked "!..." or "*" or empty is unusable); None if the
    file cannot be read or has no entry for ``name``."""
    try:
        lines = shadow.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) > 1 and fields[0] == name:
            hashed = fields[1]
            return bool(hashed) and not hashed.startswith(("!", "*"))
    return None


# Creating, changing and removing accounts (root only). Names are checked against a strict
# pattern and passed as single arguments; no shell ever sees them. The flags are POSIX
# shadow-utils ones that Debian, Ubuntu and RHEL/Rocky share (no Debian-only ``adduser``).

UNIX_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
TOOL_TIMEOUT = 30.0


def check_unix_name(name: str) -> str:
    """``name`` if it may become a Unix account; AuthError saying the rule otherwise."""
    if not UNIX_NAME.fullmatch(name):
        raise AuthError(
            N_(
                "{name} cannot be a Unix account name: use 1 to 32 lower-case letters, "
                "digits, '-' and '_', starting with a letter."
            ),
            params={"name": shown(name)},
        )
    return name


def run_tool(argv: list[str], *, stdin: str | None = None) -> None:
    """Run an account tool; AuthError with its own message if it fails."""
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AuthError(
            N_("{tool} could not run: {reason}. Is Courtyard running as root?"),
            params={"tool": argv[0], "reason": str(exc)},
        ) from exc
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise AuthError(
            N_("{tool} failed (exit status {status}): {said}"),
            params={"tool": argv[0], "status": done.returncode, "said": said[-1] if said else "?"},
        )


def check_managed_uid(name: str, uids: range) -> int:
    """The uid of ``name`` if Courtyard may change it: never root (uid 0) and always inside
    ``uids`` (min_uid..max_uid). ProtectedAccountError otherwise, UnknownUserError if none."""
    uid = uid_of(name)
    if uid is None:
        raise UnknownUserError(N_("there is no Unix account named {name!r}"), params={"name": name})
    if uid == 0 or uid not in uids:
        raise ProtectedAccountError(
            N_(
                "the Unix account {name!r} (uid {uid}) is outside the user range "
                "{low}..{high}: Courtyard does not change or remove it."
            ),
            params={"name": name, "uid": uid, "low": uids.start, "high": uids.stop - 1},
        )
    return uid


def create_account(
    name: str, password: str | None = None, shell: str = "/bin/bash", *, uids: range
) -> None:
    """``useradd -m`` a new account (with its home), then set its password if given. If
    useradd picked a uid outside ``uids``, the account is removed again (refused)."""
    check_unix_name(name)
    if uid_of(name) is not None:
        raise UserExistsError(
            N_("a Unix account named {name!r} already exists"), params={"name": name}
        )
    run_tool(["useradd", "-m", "-s", shell, "--", name])
    log.info("created Unix account %r", name)
    try:
        check_managed_uid(name, uids)
    except ProtectedAccountError:
        run_tool(["userdel", "-r", "--", name])  # ours, made a moment ago
        log.warning("removed Unix account %r again: its uid is outside the user range", name)
        raise
    if password is not None:
        set_password(name, password, uids=uids)


def set_password(name: str, password: str, *, uids: range) -> None:
    """Set the password of an existing account with ``chpasswd`` (name:password on stdin);
    only for a uid in ``uids`` and never root."""
    check_unix_name(name)
    if any(c in password for c in "\n\r\0"):
        raise AuthError(N_("a password cannot contain line breaks or NUL characters."))
    check_managed_uid(name, uids)
    run_tool(["chpasswd"], stdin=f"{name}:{password}\n")
    log.info("set the password of Unix account %r", name)


def delete_account(name: str, *, uids: range) -> bool:
    """``userdel -r``: remove the account, its home and mail spool. False if there was none;
    ProtectedAccountError (nothing removed) for root or a uid outside ``uids``."""
    check_unix_name(name)
    if uid_of(name) is None:
        return False
    check_managed_uid(name, uids)
    run_tool(["userdel", "-r", "--", name])
    log.info("removed Unix account %r and its home", name)
    return True
