"""Ask a user's server whether one of its kernels is computing right now.

The hub talks to the server directly on its endpoint with the server's secret (the same
header the proxy injects), so the question neither passes the proxy nor counts as activity.
"""

from __future__ import annotations

import logging

import aiohttp

from courtyard.proxy.routes import Route
from courtyard.singleuser.contract import SECRET_HEADER, USER_HEADER, base_url_for

log = logging.getLogger("courtyard.culler")
PROBE_TIMEOUT = 10.0


async def busy_kernels(route: Route, timeout: float = PROBE_TIMEOUT) -> int:
    """How many of ``route``'s kernels report ``execution_state == "busy"``; 0 if the server
    cannot say (a server that does not answer is not kept alive by this)."""
    endpoint = route.endpoint
    connector: aiohttp.BaseConnector
    if endpoint.unix_path is not None:
        connector = aiohttp.UnixConnector(path=endpoint.unix_path)
        host = "localhost"
    else:
        connector = aiohttp.TCPConnector()
        host = f"{endpoint.host}:{endpoint.port}"
    url = f"http://{host}{base_url_for(route.user, route.server)}api/kernels"
    headers = {SECRET_HEADER: route.secret, USER_HEADER: route.user}
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as http,
            http.get(url, headers=headers) as response,
        ):
            if response.status != 200:
                log.warning(
                    "%s's server answered %d to its kernel list", route.user, response.status
                )
                return 0
            kernels = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        log.warning("cannot ask %s's server for its kernels: %s", route.user, e)
        return 0
    if not isinstance(kernels, list):
        return 0
    return sum(1 for k in kernels if isinstance(k, dict) and k.get("execution_state") == "busy")
