"""Failed-login throttling per user name and per client address.

Each key gets some free failures, then must wait ``base_delay * 2**n`` seconds (capped at
``max_delay``) after its latest failure. Addresses get more free failures than names because
many people may share one (NAT). A success clears the name's counter, not the address's (so
one valid account cannot launder guesses against others). Counters are forgotten after
``forget_after`` quiet seconds, and each table keeps at most ``max_entries`` keys (least
recently failed dropped first), so memory stays bounded under a flood of made-up names.

An attempt is counted as a failure when it begins, before the password is checked
(``begin_attempt``), so many requests sent at once cannot all pass the check while the
first ones are still being verified; ``record_success`` then takes it back.

The price of per-name throttling is that anyone can slow down logins for a known name; the
cap keeps that to ``max_delay`` per attempt.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from courtyard.auth.credentials import MAX_NAME


@dataclass
class Failures:
    count: int
    last: float


class FailureTable:
    """Failure counters for one kind of key, with backoff and an LRU bound."""

    def __init__(
        self, *, free: int, base_delay: float, max_delay: float, forget_after: float, cap: int
    ) -> None:
        self.free = free
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.cap = cap
        self.entries: OrderedDict[str, Failures] = OrderedDict()

    def wait(self, key: str, now: float) -> float:
        entry = self.current(key, now)
        if entry is None or entry.count < self.free:
            return 0.0
        delay = min(self.base_delay * 2.0 ** min(entry.count - self.free, 40), self.max_delay)
        return max(0.0, entry.last + delay - now)

    def fail(self, key: str, now: float) -> None:
        entry = self.current(key, now)
        self.entries[key] = Failures(entry.count + 1 if entry else 1, now)
        self.entries.move_to_end(key)
        while len(self.entries) > self.cap:
            self.entries.popitem(last=False)

    def clear(self, key: str) -> None:
        self.entries.pop(key, None)

    def refund(self, key: str) -> None:
        """Take back one failure (an attempt counted up front that succeeded)."""
        entry = self.entries.get(key)
        if entry is not None and entry.count > 1:
            entry.count -= 1
        elif entry is not None:
            del self.entries[key]

    def current(self, key: str, now: float) -> Failures | None:
        entry = self.entries.get(key)
        if entry is not None and now - entry.last >= self.forget_after:
            del self.entries[key]
            return None
        return entry


class LoginThrottle:
    """``begin_attempt`` before trying a password (it counts the attempt as failed);
    ``record_success`` after a right one. ``check`` only looks."""

    def __init__(
        self,
        now: Callable[[], float] = time.monotonic,
        *,
        free_per_name: int = 5,
        free_per_address: int = 20,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 3600.0,
        max_entries: int = 10_000,
    ) -> None:
        self.now = now
        common = {"base_delay": base_delay, "max_delay": max_delay, "forget_after": forget_after}
        self.names = FailureTable(free=free_per_name, cap=max_entries, **common)
        self.addresses = FailureTable(free=free_per_address, cap=max_entries, **common)

    def check(self, name: str, ip: str) -> float:
        """Seconds to wait before this attempt may be tried; 0 means go ahead."""
        now = self.now()
        return max(self.names.wait(name_key(name), now), self.addresses.wait(ip, now))

    def begin_attempt(self, name: str, ip: str) -> float:
        """Seconds to wait (nothing counted) or 0: go ahead, counted as a failure already."""
        wait = self.check(name, ip)
        if wait == 0:
            self.record_failure(name, ip)
        return wait

    def record_failure(self, name: str, ip: str) -> None:
        now = self.now()
        self.names.fail(name_key(name), now)
        self.addresses.fail(ip, now)

    def record_success(self, name: str, ip: str) -> None:
        """Clear the name's counter; take back the address's failure from ``begin_attempt``."""
        self.names.clear(name_key(name))
        self.addresses.refund(ip)


def name_key(name: str) -> str:
    return name.strip().lower()[: MAX_NAME + 1]
