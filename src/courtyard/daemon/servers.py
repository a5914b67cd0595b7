"""Users' servers seen from outside a running hub: who runs one, and stopping them all
(``courtyard stop --servers``, after the hub itself has stopped)."""

from __future__ import annotations

from courtyard.app import Courtyard
from courtyard.config.settings import Settings
from courtyard.hub.servers import ServerManager
from courtyard.proxy.routes import RouteTable
from courtyard.store.records import split_server_key
from courtyard.store.store import Store


def running_users(settings: Settings) -> list[str]:
    """The keys (``alice``, ``alice/torch``) of the servers the store says run."""
    store = Store.open(settings.resolved_database_url())
    try:
        return sorted(r.key for r in store.list_servers(states=("running", "starting")))
    finally:
        store.close()


async def stop_all_servers(settings: Settings) -> list[str]:
    """Re-attach every server the store says runs, then stop each; their keys."""
    store = Store.open(settings.resolved_database_url())
    try:
        hub = Courtyard(settings)
        manager = ServerManager(store, RouteTable(), hub.make_spawner)
        attached = await manager.reattach_all()
        for key in attached:
            user, server = split_server_key(key)
            await manager.stop(user, "stopped with the hub", server=server)
        return attached
    finally:
        store.close()
