"""Users' servers seen from outside a running hub: who runs one, and stopping them all
(``courtyard stop --servers``, after the hub itself has stopped)."""

from __future__ import annotations

from courtyard.app import Courtyard
from courtyard.config.settings import Settings
from courtyard.hub.servers import ServerManager
from courtyard.proxy.routes import RouteTable
from courtyard.store.store import Store


def running_users(settings: Settings) -> list[str]:
    store = Store.open(settings.resolved_database_url())
    try:
        return sorted(r.user for r in store.list_servers(states=("running", "starting")))
    finally:
        store.close()


async def stop_all_servers(settings: Settings) -> list[str]:
    """Re-attach every server the store says runs, then stop each; their owners' names."""
    store = Store.open(settings.resolved_database_url())
    try:
        hub = Courtyard(settings)
        manager = ServerManager(store, RouteTable(), hub.make_spawner)
        attached = await manager.reattach_all()
        for user in attached:
            await manager.stop(user, "stopped with the hub")
        return attached
    finally:
        store.close()
