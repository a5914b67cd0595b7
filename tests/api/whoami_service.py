"""A real JupyterHub OAuth service (``jupyterhub.services.auth``, tornado), which the hub runs
as a managed service in tests/api/test_oauth.py: ``/`` answers the logged-in person's model,
``/alice-only`` lets only cyalice in (JupyterHub's ``hub_users``), ``/oauth_callback`` ends the
OAuth login. Everything it knows comes from the JUPYTERHUB_* environment the hub gives it."""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from tornado import ioloop, web


class WhoAmI(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.get_current_user()))


class AliceOnly(WhoAmI):
    hub_scopes = None  # JupyterHub's pre-2.0 rule: hub_users decides
    hub_users = {"cyalice"}


def main() -> None:
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    where = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    app = web.Application(
        [
            (prefix, WhoAmI),
            (prefix + "alice-only", AliceOnly),
            (prefix + "oauth_callback", HubOAuthCallbackHandler),
        ],
        cookie_secret=os.urandom(32),
    )
    app.listen(where.port or 80, where.hostname)
    env = {k: v for k, v in os.environ.items() if k.startswith("JUPYTERHUB_") and "TOKEN" not in k}
    print("whoami service env", json.dumps(env, sort_keys=True), flush=True)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
