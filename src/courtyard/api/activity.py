"""A user's API calls count as activity, as in JupyterHub: each call made with the user's
token or session moves the user's ``last_activity`` forward (at most one write a minute per
user), so ``jupyterhub-idle-culler --cull-users`` does not delete people who only use the API."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from courtyard.api.context import ApiContext, Caller

WRITE_EVERY = 60.0  # seconds between last_activity writes for one user


def note_activity(context: ApiContext, who: Caller, now: float | None = None) -> None:
    if who.kind != "user":
        return
    now = time.time() if now is None else now
    last = context.activity_written.get(who.name)
    if last is not None and now - last < WRITE_EVERY:
        return
    context.activity_written[who.name] = now
    stamp = datetime.fromtimestamp(now, timezone.utc)
    context.store.record_activity({who.name: stamp}, servers=False)
