"""System authentication through PAM (python-pam), off the event loop, on a bounded pool."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import pam as python_pam

log = logging.getLogger(__name__)


def pam_check(name: str, password: str, service: str) -> bool:
    """Blocking: authenticate and check the account (expired, locked) with PAM."""
    if "\0" in name or "\0" in password or "\0" in service:
        return False
    handle = python_pam.PamAuthenticator()
    ok = bool(handle.authenticate(name, password, service=service, resetcreds=False))
    if not ok:
        log.debug("PAM refused %r (service %r): %s", name[:32], service, handle.reason)
    return ok


class PamPool:
    """PAM conversations on threads of their own, at most ``threads`` at once.

    Not asyncio's default executor: a crowd of logins (each a password hash that may take a
    core and 16 MiB or more, or a failed one sleeping in pam_faildelay) would fill it, and the
    hub's other blocking work (a server start's environment check) would queue behind them.
    The bound also bounds the hashes' memory: forty logins at once hold ``threads`` of them.
    """

    def __init__(self, threads: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pam")

    async def authenticate(self, name: str, password: str, service: str) -> bool:
        """True if PAM service ``service`` accepts ``name`` with ``password``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, pam_check, name, password, service)
