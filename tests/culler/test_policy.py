"""decide() and friends: every rule, every boundary, with ``now`` injected."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from courtyard.config.settings import CullerSettings
from courtyard.culler.policy import (
    Observation,
    account_expired,
    check_interval,
    decide,
    time_until_cull,
)

T0 = 1_700_000_000.0
S = CullerSettings(timeout=100, warn_before=30, max_age=0)


def obs(idle: float = 0.0, **kw: object) -> Observation:
    """A server started 1000 s before T0, last active ``idle`` seconds before T0."""
    base = Observation(user="ada", last_activity=T0 - idle, started=T0 - 1000)
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("idle", "action", "reason"),
    [
        (0, "keep", "active"),
        (69.5, "keep", "active"),
        (70, "warn", "idle"),
        (99.5, "warn", "idle"),
        (100, "cull", "idle"),
        (5000, "cull", "idle"),
    ],
)
def test_idle_boundaries(idle: float, action: str, reason: str) -> None:
    decision = decide(obs(idle), S, T0)
    assert (decision.action, decision.reason) == (action, reason)
    assert decision.cull_at == T0 - idle + 100
    assert decision.idle_for == idle


def test_activity_in_the_future_counts_as_now() -> None:
    decision = decide(obs(-50), S, T0)
    assert (decision.action, decision.idle_for) == ("keep", 0.0)


def test_disabled_culler_keeps_everything() -> None:
    off = replace(S, enabled=False, max_age=10)
    decision = decide(obs(10_000), off, T0)
    assert (decision.action, decision.reason, decision.cull_at) == ("keep", "disabled", None)


def test_admin_servers_are_spared_by_default() -> None:
    decision = decide(obs(10_000, admin=True), replace(S, max_age=10), T0)
    assert (decision.action, decision.reason, decision.cull_at) == ("keep", "admin", None)


def test_admin_servers_are_culled_when_configured() -> None:
    settings = replace(S, cull_admin_servers=True)
    assert decide(obs(100, admin=True), settings, T0).action == "cull"


def test_busy_kernel_is_activity_now() -> None:
    decision = decide(obs(10_000, busy=True), S, T0)
    assert (decision.action, decision.reason, decision.idle_for) == ("keep", "busy", 0.0)
    assert decision.cull_at == T0 + 100


def test_busy_kernel_ignored_when_configured() -> None:
    settings = replace(S, busy_kernels_are_active=False)
    assert decide(obs(100, busy=True), settings, T0).action == "cull"


def test_max_age_culls_an_active_server() -> None:
    settings = replace(S, max_age=1000)
    decision = decide(obs(0), settings, T0)
    assert (decision.action, decision.reason, decision.cull_at) == ("cull", "max_age", T0)


def test_max_age_culls_a_busy_server() -> None:
    settings = replace(S, max_age=1000)
    assert decide(obs(0, busy=True), settings, T0).reason == "max_age"


def test_max_age_warns_ahead() -> None:
    settings = replace(S, max_age=1010)
    decision = decide(obs(0), settings, T0)
    assert (decision.action, decision.reason, decision.cull_at) == ("warn", "max_age", T0 + 10)


def test_the_earlier_deadline_wins() -> None:
    settings = replace(S, max_age=1200)  # due at T0+200; idle deadline is T0+50
    decision = decide(obs(50), settings, T0)
    assert (decision.reason, decision.cull_at) == ("active", T0 + 50)
    assert decide(obs(100), settings, T0).reason == "idle"


def test_max_age_needs_a_start_time() -> None:
    settings = replace(S, max_age=1)
    assert decide(obs(0, started=None), settings, T0).action == "keep"


def test_no_warning_when_warn_before_is_zero() -> None:
    settings = replace(S, warn_before=0)
    assert decide(obs(99), settings, T0).action == "keep"
    assert decide(obs(100), settings, T0).action == "cull"


def test_warn_before_longer_than_timeout_warns_at_once() -> None:
    settings = replace(S, warn_before=500)
    assert decide(obs(0), settings, T0).action == "warn"


@pytest.mark.parametrize(
    ("enabled", "admin", "cull_admins", "busy", "busy_counts", "max_age", "idle"),
    list(
        itertools.product(
            [True, False],
            [True, False],
            [True, False],
            [True, False],
            [True, False],
            [0, 500, 1000],
            [0, 50, 80, 100, 400],
        )
    ),
)
def test_every_combination_is_consistent(
    enabled: bool,
    admin: bool,
    cull_admins: bool,
    busy: bool,
    busy_counts: bool,
    max_age: int,
    idle: float,
) -> None:
    settings = replace(
        S,
        enabled=enabled,
        cull_admin_servers=cull_admins,
        busy_kernels_are_active=busy_counts,
        max_age=max_age,
    )
    observation = obs(idle, admin=admin, busy=busy)
    decision = decide(observation, settings, T0)
    spared = not enabled or (admin and not cull_admins)
    aged = max_age > 0 and max_age <= 1000
    idle_due = idle >= 100 and not (busy and busy_counts)
    assert decision.culls == (not spared and (aged or idle_due))
    remaining = time_until_cull(observation, settings, T0)
    assert (remaining is None) == spared
    if decision.culls:
        assert remaining == 0
    elif remaining is not None:
        assert remaining > 0
        assert (decision.action == "warn") == (remaining <= 30)
    # the decision only depends on its inputs
    assert decide(observation, settings, T0) == decision


def test_time_until_cull_counts_down() -> None:
    assert time_until_cull(obs(0), S, T0) == 100
    assert time_until_cull(obs(0), S, T0 + 40) == 60
    assert time_until_cull(obs(0), S, T0 + 400) == 0


@pytest.mark.parametrize(
    ("timeout", "every", "expected"),
    [(3600, 0, 300), (20, 0, 5), (600, 0, 60), (100_000, 0, 300), (20, 2, 2), (3600, 7, 7)],
)
def test_check_interval(timeout: int, every: int, expected: float) -> None:
    assert check_interval(CullerSettings(timeout=timeout, every=every)) == expected


def test_accounts_expire_only_when_asked_for() -> None:
    on = replace(S, users=1000)
    common = {"has_server": False, "admin": False, "now": T0}
    assert not account_expired(T0 - 5000, T0 - 9000, settings=S, **common)  # type: ignore[arg-type]
    assert account_expired(T0 - 1000, T0 - 9000, settings=on, **common)  # type: ignore[arg-type]
    assert not account_expired(T0 - 999, T0 - 9000, settings=on, **common)  # type: ignore[arg-type]
    assert account_expired(None, T0 - 1000, settings=on, **common)  # type: ignore[arg-type]
    assert not account_expired(None, T0 - 10, settings=on, **common)  # type: ignore[arg-type]


def test_accounts_with_a_server_or_admin_never_expire() -> None:
    on = replace(S, users=10)
    old = T0 - 10_000
    assert not account_expired(old, old, has_server=True, admin=False, settings=on, now=T0)
    assert not account_expired(old, old, has_server=False, admin=True, settings=on, now=T0)
    off = replace(on, enabled=False)
    assert not account_expired(old, old, has_server=False, admin=False, settings=off, now=T0)
