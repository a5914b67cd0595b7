"""System authentication through PAM (python-pam), off the event loop."""

from __future__ import annotations

import asyncio
import logging

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


async def pam_authenticate(name: str, password: str, service: str) -> bool:
    """True if PAM service ``service`` accepts ``name`` with ``password``.

    Runs in a worker thread: PAM modules may sleep (pam_faildelay) or do network I/O.
    """
    return await asyncio.to_thread(pam_check, name, password, service)
