"""Progress of one server start, as a replayable stream of JupyterHub-shaped events."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any

from courtyard.spawners.base import Progress

Event = dict[str, Any]


def ready_event(url: str) -> Event:
    """JupyterHub's last event of a start: ``url`` is the server's root (``/user/<name>/``)."""
    return {
        "progress": 100,
        "ready": True,
        "message": f"Server ready at {url}",
        "html_message": f'Server ready at <a href="{html.escape(url)}">{html.escape(url)}</a>',
        "url": url,
    }


class ProgressLog:
    """Events of one start. Late subscribers first get every event so far, then live ones."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._changed = asyncio.Event()
        self.finished = False

    def add(self, progress: Progress) -> None:
        self._append({"progress": progress.percent, "message": progress.message})

    def ready(self, url: str) -> None:
        self._append(ready_event(url))
        self.finished = True

    @property
    def failure(self) -> Event | None:
        """The last event, when the start it follows failed."""
        last = self._events[-1] if self._events else None
        return last if last is not None and last.get("failed") else None

    def failed(self, message: str) -> None:
        self._append({"progress": 100, "failed": True, "message": message})
        self.finished = True

    def _append(self, event: Event) -> None:
        self._events.append(event)
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self) -> AsyncIterator[Event]:
        seen = 0
        while True:
            waiter = self._changed
            while seen < len(self._events):
                seen += 1
                yield self._events[seen - 1]
            if self.finished:
                return
            await waiter.wait()
