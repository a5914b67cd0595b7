"""Facts about Unix accounts for the system login policy: uid, groups, usable password.

Reading /etc/shadow needs root; when it is not readable, ``has_usable_password`` answers
None (unknown) and PAM alone decides.
"""

from __future__ import annotations

import grp
import logging
import pwd
from collections.abc import Iterable
from pathlib import Path

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
