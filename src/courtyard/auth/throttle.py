"""Failed-login throttling per user name and per client address.

Each key gets some free failures, then must wait ``base_delay * 2**n`` seconds (capped at
``max_delay``) after its latest failure. Addresses get more free failures than names because
many people may share one (NAT). A success clears the name's counter, not the address's (so
one valid account cannot launder guesses against others). Counters are forgotten after
``forget_after`` quiet seconds, and each table keeps at most ``max_entries`` keys (least
recently failed dropped first), so memory stays bounded under a flood of made-up names.

Against a name, an attempt is counted as a failure when it begins, before the password is
checked (``begin_attempt``), so many guesses sent at once cannot all pass the check while the
first ones are still being verified; ``end_attempt`` takes it back on success. Against an
address, only attempts that failed count, and attempts in flight are capped separately
(``max_in_flight_per_address``): a lecture hall behind one NAT address logging in at 9:00 (40
people within a second, each password check taking a while) is not refused, while a burst of
guesses from one address is still bounded by that cap before the backoff starts.

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

    def current(self, key: str, now: float) -> Failures | None:
        entry = self.entries.get(key)
        if entry is not None and now - entry.last >= self.forget_after:
            del self.entries[key]
            return None
        return entry


class LoginThrottle:
    """``begin_attempt`` before trying a password (it counts the attempt as failed);
    ``end_attempt`` when the password check is over. ``check`` only looks."""

    def __init__(
        self,
        now: Callable[[], float] = time.monotonic,
        *,
        free_per_name: int = 5,
        free_per_address: int = 20,
        max_in_flight_per_address: int = 64,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 3600.0,
        max_entries: int = 10_000,
    ) -> None:
        self.now = now
        common = {"base_delay": base_delay, "max_delay": max_delay, "forget_after": forget_after}
        self.names = FailureTable(free=free_per_name, cap=max_entries, **common)
        self.addresses = FailureTable(free=free_per_address, cap=max_entries, **common)
        self.max_in_flight = max_in_flight_per_address
        self.in_flight: dict[str, int] = {}  # address -> attempts begun and not yet ended

    def check(self, name: str, ip: str) -> float:
        """Seconds to wait before this attempt may be tried; 0 means go ahead."""
        now = self.now()
        wait = max(self.names.wait(name_key(name), now), self.addresses.wait(ip, now))
        if wait == 0 and self.in_flight.get(ip, 0) >= self.max_in_flight:
            return 1.0
        return wait

    def begin_attempt(self, name: str, ip: str) -> float:
        """Seconds to wait (nothing counted) or 0: go ahead, counted against the name as a
        failure already and holding one of the address's in-flight slots until
        ``end_attempt``."""
        wait = self.check(name, ip)
        if wait == 0:
            self.names.fail(name_key(name), self.now())
            self.in_flight[ip] = self.in_flight.get(ip, 0) + 1
        return wait

    def end_attempt(self, name: str, ip: str, *, ok: bool) -> None:
        """The password check of a begun attempt is over: free its slot; on success clear the
        name's counter, on failure count it against the address."""
        left = self.in_flight.get(ip, 0) - 1
        if left > 0:
            self.in_flight[ip] = left
        else:
            self.in_flight.pop(ip, None)
        if ok:
            self.names.clear(name_key(name))
        else:
            self.addresses.fail(ip, self.now())

    def record_failure(self, name: str, ip: str) -> None:
        now = self.now()
        self.names.fail(name_key(name), now)
        self.addresses.fail(ip, now)

    def record_success(self, name: str, ip: str) -> None:
        """A begun attempt succeeded."""
        self.end_attempt(name, ip, ok=True)


def name_key(name: str) -> str:
    return name.strip().lower()[: MAX_NAME + 1]
