"""A re-armable timeout that costs one float store per re-arm.

The timer handle is only replaced when the new deadline is earlier than the scheduled one;
otherwise the handle fires, sees the deadline moved, and schedules itself again. Connections
re-arm on every request, so this keeps timer churn off the hot path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Deadline:
    __slots__ = ("_at", "_callback", "_handle", "_handle_at", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._at: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._handle_at = 0.0

    def arm(self, delay: float) -> None:
        at = self._loop.time() + delay
        self._at = at
        if self._handle is None or self._handle_at > at:
            self._schedule(at)

    def disarm(self) -> None:
        self._at = None

    def cancel(self) -> None:
        self._at = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(at, self._fire)
        self._handle_at = at

    def _fire(self) -> None:
        self._handle = None
        at = self._at
        if at is None:
            return
        if self._loop.time() < at:
            self._schedule(at)
            return
        self._at = None
        self._callback()
