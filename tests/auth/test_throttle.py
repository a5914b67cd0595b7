"""Failed-login throttling with a hand-moved clock."""

from __future__ import annotations

import asyncio

import pytest

from courtyard.auth.throttle import LoginThrottle

IP = "192.0.2.1"


@pytest.fixture
def throttle(clock) -> LoginThrottle:
    return LoginThrottle(clock)


def fail(throttle: LoginThrottle, times: int, name: str = "ada", ip: str = IP) -> None:
    for _ in range(times):
        throttle.record_failure(name, ip)


def test_first_five_failures_are_free(throttle: LoginThrottle) -> None:
    fail(throttle, 4)
    assert throttle.check("ada", IP) == 0
    fail(throttle, 1)
    assert throttle.check("ada", IP) == 1.0


def test_backoff_doubles_and_counts_down(throttle: LoginThrottle, clock) -> None:
    fail(throttle, 7)
    assert throttle.check("ada", IP) == 4.0
    clock.advance(3)
    assert throttle.check("ada", IP) == 1.0
    clock.advance(1)
    assert throttle.check("ada", IP) == 0


def test_backoff_is_capped(throttle: LoginThrottle) -> None:
    fail(throttle, 2000)
    assert throttle.check("ada", IP) == 300.0


def test_name_counter_ignores_case_and_spaces(throttle: LoginThrottle) -> None:
    fail(throttle, 5, name=" Ada ")
    assert throttle.check("ada", "198.51.100.7") == 1.0


def test_other_names_from_other_addresses_are_unaffected(throttle: LoginThrottle) -> None:
    fail(throttle, 10)
    assert throttle.check("bob", "198.51.100.7") == 0


def test_address_is_throttled_across_names(throttle: LoginThrottle) -> None:
    for index in range(20):
        throttle.record_failure(f"user{index}", IP)
    assert throttle.check("someone-new", IP) == 1.0
    assert throttle.check("someone-new", "198.51.100.7") == 0


def test_success_clears_the_name_but_not_the_address(throttle: LoginThrottle) -> None:
    for index in range(20):
        throttle.record_failure(f"user{index}", IP)
    fail(throttle, 5)
    throttle.record_success("ada", IP)
    assert throttle.check("ada", "198.51.100.7") == 0
    assert throttle.check("ada", IP) > 0


def test_counters_are_forgotten_after_a_quiet_hour(throttle: LoginThrottle, clock) -> None:
    fail(throttle, 12)
    clock.advance(3600)
    assert throttle.check("ada", IP) == 0
    fail(throttle, 1)
    assert throttle.check("ada", IP) == 0


def test_memory_is_bounded(clock) -> None:
    throttle = LoginThrottle(clock, free_per_name=1, free_per_address=1, max_entries=3)
    for index in range(100):
        throttle.record_failure(f"user{index}", f"10.0.0.{index}")
    assert len(throttle.names.entries) == 3
    assert len(throttle.addresses.entries) == 3
    assert throttle.check("user99", "10.0.0.99") == 1.0
    assert throttle.check("user0", "10.0.0.0") == 0


async def test_concurrent_attempts_each_use_up_budget(throttle: LoginThrottle) -> None:
    """Ten guesses sent at once, all waiting on a slow password check: only the five free
    ones begin; the rest are refused before any of the five has finished."""
    checking = asyncio.Event()
    begun: list[int] = []

    async def attempt(index: int) -> None:
        if throttle.begin_attempt("ada", IP) > 0:
            return
        begun.append(index)
        await checking.wait()  # the password check (PAM / argon2) takes a while

    tasks = [asyncio.create_task(attempt(index)) for index in range(10)]
    await asyncio.sleep(0)  # every task has reached the check
    assert len(begun) == 5
    checking.set()
    await asyncio.gather(*tasks)
    assert throttle.check("ada", IP) == 1.0


def test_a_successful_attempt_is_taken_back(throttle: LoginThrottle) -> None:
    for _ in range(30):
        assert throttle.begin_attempt("ada", IP) == 0
        throttle.record_success("ada", IP)
    assert throttle.check("ada", IP) == 0
    assert throttle.check("someone-else", IP) == 0  # the address was refunded each time


def test_a_lecture_hall_behind_one_address_logs_in_at_once(throttle: LoginThrottle) -> None:
    """Forty people behind one NAT address begin their logins within the same second, each
    password check still running: none is refused, and their successes leave nothing."""
    for index in range(40):
        assert throttle.begin_attempt(f"student{index}", IP) == 0
    for index in range(40):
        throttle.end_attempt(f"student{index}", IP, ok=True)
    assert throttle.in_flight == {}
    assert throttle.check("latecomer", IP) == 0


def test_guesses_in_flight_from_one_address_are_capped(clock) -> None:
    throttle = LoginThrottle(clock, max_in_flight_per_address=10)
    begun = [n for n in range(30) if throttle.begin_attempt(f"user{n}", IP) == 0]
    assert len(begun) == 10  # the rest were refused while ten were being checked
    assert throttle.check("other", "198.51.100.7") == 0
    for n in begun:
        throttle.end_attempt(f"user{n}", IP, ok=False)
    assert throttle.check("someone", IP) == 0  # 10 failures: still within the free 20
    for n in range(10):
        assert throttle.begin_attempt(f"again{n}", IP) == 0
        throttle.end_attempt(f"again{n}", IP, ok=False)
    assert throttle.check("someone", IP) == 1.0  # 20 failed: the address backs off
