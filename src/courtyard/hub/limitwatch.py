"""Watching servers against their limits: OOM kills become a notice for the person (home page,
REST API) and a line in the hub log; usage against limits feeds the admin page.

A spawner takes part by having ``measure()`` (the local spawner with limits): it returns the
server's Placement and what its cgroup counts (memory in use, CPU seconds, OOM kills).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

from courtyard.config.limits import format_size
from courtyard.errors import N_
from courtyard.spawners.limits.base import Measured
from courtyard.spawners.limits.limiter import Placement

log = logging.getLogger("courtyard.hub")

OOM_NOTICE = N_("Your server used more than {limit} and its kernel was stopped.")
OOM_NOTICE_NO_LIMIT = N_("Your server ran out of memory and its kernel was stopped.")


@runtime_checkable
class MeasuresLimits(Protocol):
    def measure(self) -> tuple[Placement, Measured | None] | None: ...


@dataclass(frozen=True)
class LimitNotice:
    """What happened, as a translatable template with its params."""

    template: str
    params: dict[str, object] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    kind: str = "oom"

    @property
    def message(self) -> str:
        return self.template.format(**self.params)


class LimitWatch:
    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, int]] = {}  # user -> (id of the spawner, OOM kills)
        self._notices: dict[str, LimitNotice] = {}

    def observe(self, user: str, spawner: object) -> None:
        """Read the spawner's counters; a new OOM kill makes a notice and a log line."""
        if not isinstance(spawner, MeasuresLimits):
            return
        found = spawner.measure()
        if found is None:
            return
        placement, measured = found
        if measured is None:
            return
        last_id, last_kills = self._seen.get(user, (id(spawner), 0))
        if last_id != id(spawner):
            last_kills = 0
        self._seen[user] = (id(spawner), measured.oom_kills)
        if measured.oom_kills <= last_kills:
            return
        memory = placement.allowance.memory
        if memory is None:
            self._notices[user] = LimitNotice(OOM_NOTICE_NO_LIMIT)
        else:
            self._notices[user] = LimitNotice(OOM_NOTICE, {"limit": format_size(memory)})
        log.warning(
            "%s's server reached its memory limit (%s): the kernel killed %d process(es) in it",
            user,
            format_size(memory) if memory is not None else "none",
            measured.oom_kills - last_kills,
        )

    def notice(self, user: str) -> LimitNotice | None:
        return self._notices.get(user)

    def clear(self, user: str) -> None:
        self._notices.pop(user, None)
        self._seen.pop(user, None)
