"""What the hub, the proxy and a user's server agree on: names, headers, exit codes, URLs.

Importing this module imports nothing from jupyter, so the hub and the proxy can use it.
"""

from __future__ import annotations

from urllib.parse import quote

SECRET_ENV = "COURTYARD_SERVER_SECRET"  # noqa: S105 - the variable's name, not a secret
OWNER_ENV = "COURTYARD_USER"  # the Courtyard name the server belongs to

SECRET_HEADER = "X-Courtyard-Secret"  # noqa: S105 - the header's name
USER_HEADER = "X-Courtyard-User"  # who the proxy authenticated (may be an admin)
AUTH_KIND_HEADER = "X-Courtyard-Auth"  # "token" when the proxy saw an API token, not a cookie

EXIT_JUPYTER_MISSING = 69  # EX_UNAVAILABLE: jupyter_server cannot be imported
EXIT_BAD_ENVIRONMENT = 78  # EX_CONFIG: started without the secret
MESSAGE_PREFIX = "courtyard-singleuser:"


def base_url_for(name: str, server: str = "") -> str:
    """The URL prefix of a user's server (``server``: a named one); the proxy routes the
    same prefix."""
    base = f"/user/{quote(name, safe='@~')}/"
    return f"{base}{quote(server, safe='')}/" if server else base
