"""The hub's CPU priority: ahead of users' servers (``hub_nice``).

Forty servers starting at once take every core, and a hub at their priority gets one
share in forty: its pages, logins and every request it proxies wait their turn behind
Python imports. The hub's own CPU is small (about 5 % of a core at 40 people), so running
it ahead of the servers costs them little and keeps the hub answering.

Linux ranks by nice value only within a scheduling group. With autogroup
(``/proc/sys/kernel/sched_autogroup_enabled``, on in Debian's kernels) every session is a
group, and every user's server and kernel is a session of its own, so the hub's session's
group gets the nice value too (``/proc/self/autogroup``); without autogroup the hub's
threads carry it. Users' servers put their own nice value back to 0 when they start
(``reset_server_priority`` in courtyard.singleuser.launcher, which runs in
environments that have only that package), so they never inherit the hub's.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")


def apply_hub_priority(nice: int) -> str | None:
    """Give this process (and the threads and children it starts later) the nice value
    ``nice``, and its session's scheduling group too where the kernel has one. Call before
    any thread starts. Returns what was done, for the log; None when nothing was asked or
    allowed (a negative value needs root: a personal hub stays as it is)."""
    if nice == 0 or (nice < 0 and os.geteuid() != 0):
        return None
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as e:
        log.warning("hub_nice = %d: could not set the hub's priority: %s", nice, e.strerror)
        return None
    done = f"hub priority: nice {nice}"
    try:
        AUTOGROUP.write_text(f"{nice}\n")
    except FileNotFoundError:  # a kernel without autogroup: the threads' nice value is enough
        return done
    except OSError as e:
        log.warning("hub_nice = %d: could not set the session's group: %s", nice, e.strerror)
        return done
    return done + " (and its session's scheduling group)"
