"""``[culler] users``: a real hub with local accounts deletes the ones idle past the limit.

The accounts are put in the hub's store before it starts, with a store clock two hours in the
past, so "idle past the limit" needs no waiting; the culler checks every second.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from courtyard.auth.passwords import hash_password
from courtyard.store.store import Store
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

LIMIT = 600  # ten minutes: the fresh account cannot expire while the test runs
PASSWORD = "Expiry-pw-5c1v"


def make_accounts(state_dir: Path) -> str:
    url = f"sqlite:///{state_dir / 'courtyard.sqlite'}"
    two_hours_ago = time.time() - 7200
    old = Store.open(url, clock=lambda: two_hours_ago)
    hashed = hash_password(PASSWORD)
    for name, admin in (("idler", False), ("active", False), ("boss", True)):
        old.add_user(name, admin=admin, password_hash=hashed)
    old.record_activity({"active": datetime.now(timezone.utc)}, servers=False)
    old.close()
    return url


async def test_culler_deletes_local_accounts_idle_past_the_limit(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    url = make_accounts(state_dir)
    hub = HubProcess(
        state_dir, f'auth = "local"\n[culler]\ntimeout = 3600\nevery = 1\nusers = {LIMIT}\n'
    )
    hub.start()
    try:
        hub.wait_for_output(r"deleted local account idler: idle past culler\.users", 60)
        store = Store.open(url)
        try:  # the same pass looked at every account and kept the others
            assert [u.name for u in store.list_users()] == ["active", "boss"]
        finally:
            store.close()
        async with HubClient(hub.url) as client:
            assert (await client.login("idler", PASSWORD, "/hub/home")).status == 403
            assert (await client.login("active", PASSWORD, "/hub/home")).status == 302
            assert (await client.login("boss", PASSWORD, "/hub/home")).status == 302
        store = Store.open(url)
        try:  # a login is a person's activity: it restarts the account's idle clock
            boss = store.require_user("boss")
            assert boss.last_activity is not None
            assert time.time() - boss.last_activity.timestamp() < 60
        finally:
            store.close()
        assert not any("deleted local account active" in line for line in hub.output)
        assert not any("deleted local account boss" in line for line in hub.output)
    finally:
        hub.stop()
