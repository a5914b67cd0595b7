"""store room: the hub's database (SQLAlchemy 2, Alembic migrations shipped in the package).

``Store.open(url)`` opens and migrates; its methods return frozen records (``records.py``).
"""

from courtyard.store.records import (
    SERVER_STATES,
    ServerRecord,
    ServerState,
    SessionRecord,
    UserRecord,
)
from courtyard.store.store import UNREACHABLE, UNSET, Store, store_unavailable

__all__ = [
    "SERVER_STATES",
    "UNREACHABLE",
    "UNSET",
    "ServerRecord",
    "ServerState",
    "SessionRecord",
    "Store",
    "UserRecord",
    "store_unavailable",
]
