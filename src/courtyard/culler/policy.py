"""The culler's decision: a pure function of what was observed about one server and ``now``.

Nothing here does I/O or reads a clock; the loop (loop.py) gathers an ``Observation`` per
running server, asks ``decide``, and acts. The admin page uses ``time_until_cull`` with the
same inputs, so what it shows is exactly what the culler will do.

Rules, in order:

1. culling disabled -> keep ("disabled");
2. an admin's server, unless ``cull_admin_servers`` -> keep ("admin");
3. a kernel busy right now, with ``busy_kernels_are_active`` -> keep ("busy"): it is activity now;
4. the server is due (``max_age`` after its start, or ``timeout`` after the last activity,
   whichever comes first) -> cull, reason "max_age" or "idle";
5. due within ``warn_before`` seconds -> warn (same reason);
6. otherwise keep ("active").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from courtyard.config.settings import CullerSettings

Action = Literal["keep", "warn", "cull"]
Reason = Literal["disabled", "admin", "busy", "active", "idle", "max_age"]
MIN_EVERY = 5.0
MAX_EVERY = 300.0


@dataclass(frozen=True)
class Observation:
    """What the culler knows about one running server (times are epoch seconds)."""

    user: str
    last_activity: float  # the last thing a person did (see proxy/activity.py)
    started: float | None = None  # None: unknown, max_age cannot apply
    busy: bool = False  # a kernel was computing when last asked (only asked when it matters)
    admin: bool = False
    activity_kind: str = ""  # what that last activity was, for the log


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason
    cull_at: float | None  # when the server is culled if nothing happens; None: never
    idle_for: float  # seconds since the last activity (0 if it is in the future)

    @property
    def culls(self) -> bool:
        return self.action == "cull"


def decide(observation: Observation, settings: CullerSettings, now: float) -> Decision:
    """What to do with one server at ``now``: keep, warn or cull, and why."""
    obs = observation
    idle_for = max(0.0, now - obs.last_activity)
    if not settings.enabled:
        return Decision("keep", "disabled", None, idle_for)
    if obs.admin and not settings.cull_admin_servers:
        return Decision("keep", "admin", None, idle_for)
    idle_at = obs.last_activity + settings.timeout
    if obs.busy and settings.busy_kernels_are_active:
        idle_for = 0.0
        idle_at = now + settings.timeout
    cull_at, reason = due(obs, settings, idle_at)
    if now >= cull_at:
        return Decision("cull", reason, cull_at, idle_for)
    if reason == "idle" and obs.busy and settings.busy_kernels_are_active:
        return Decision("keep", "busy", cull_at, idle_for)
    if settings.warn_before > 0 and now >= cull_at - settings.warn_before:
        return Decision("warn", reason, cull_at, idle_for)
    return Decision("keep", "active", cull_at, idle_for)


def due(obs: Observation, settings: CullerSettings, idle_at: float) -> tuple[float, Reason]:
    """The earlier of the idle deadline and the age limit, with the rule that set it."""
    if settings.max_age > 0 and obs.started is not None:
        aged_at = obs.started + settings.max_age
        if aged_at <= idle_at:
            return aged_at, "max_age"
    return idle_at, "idle"


def time_until_cull(observation: Observation, settings: CullerSettings, now: float) -> float | None:
    """Seconds until ``observation``'s server would be culled (0: at the next check), or
    None if it never will be (culler off, an admin's server). For the admin page."""
    cull_at = decide(observation, settings, now).cull_at
    return None if cull_at is None else max(0.0, cull_at - now)


def check_interval(settings: CullerSettings) -> float:
    """Seconds between checks: ``every``, or timeout/10 kept within [5, 300] seconds."""
    if settings.every > 0:
        return float(settings.every)
    return min(MAX_EVERY, max(MIN_EVERY, settings.timeout / 10))


def account_expired(
    last_activity: float | None,
    created: float,
    *,
    has_server: bool,
    admin: bool,
    settings: CullerSettings,
    now: float,
) -> bool:
    """Whether a local account is idle past ``settings.users`` (never with a server, never an
    admin, never when the setting is 0 or the culler is off)."""
    if not settings.enabled or settings.users <= 0 or has_server or admin:
        return False
    seen = created if last_activity is None else max(created, last_activity)
    return now - seen >= settings.users
