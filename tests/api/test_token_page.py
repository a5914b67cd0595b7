"""/hub/token as a person uses it: log in through the form, make a token with a note, an
expiry and scopes, copy it once, use it, find it listed without its value, revoke it."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.api.conftest import Api
from tests.conftest import UnixUser
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root
NEW_TOKEN = re.compile(r'<code id="new-token">([^<]+)</code>')
TOKEN_ID = re.compile(r'name="token_id" value="(\d+)"')


async def test_token_page_creates_shows_once_lists_and_revokes(
    api_hub: HubProcess, service: Api, bob: UnixUser
) -> None:
    async with HubClient(api_hub.url) as browser:
        assert (await browser.login(bob.name, bob.password)).status == 302
        status, page, _ = await browser.get("/hub/token")
        assert status == 200
        assert "new-token" not in page
        form = {
            "note": "nightly report",
            "expires_in": "3600",
            "scopes": f"read:users!user={bob.name}",
        }
        token = await created_token(browser, form)
        api = Api(api_hub.url, token)
        me = api.call("GET", "/user")
        assert me.status_code == 200, me.text
        assert me.json()["name"] == bob.name
        scopes = me.json()["scopes"]
        assert f"read:users!user={bob.name}" in scopes
        assert all(s.startswith("read:users") and s.endswith(f"!user={bob.name}") for s in scopes)
        assert api.call("GET", "/users").status_code == 403  # only what was asked for
        assert api.call("POST", f"/users/{bob.name}/tokens", json={}).status_code == 403

        status, page, _ = await browser.get("/hub/token")
        assert token not in page  # listed, never shown again
        assert "nightly report" in html.unescape(page)
        assert token[:4] in page
        assert "Expires" in page
        ids = TOKEN_ID.findall(page)
        assert len(ids) == 1
        listed = service.call("GET", f"/users/{bob.name}/tokens/a{ids[0]}").json()
        assert listed["note"] == "nightly report"
        expires = datetime.fromisoformat(listed["expires_at"].replace("Z", "+00:00"))
        left = expires - datetime.now(timezone.utc)
        assert timedelta(minutes=55) < left <= timedelta(hours=1)
        assert listed["last_activity"] is not None  # the use above was recorded
        revoked = await browser.post_form(
            "/hub/token/revoke", {"token_id": ids[0]}, token_from="/hub/token"
        )
        assert revoked.status == 302
        status, page, _ = await browser.get("/hub/token")
        assert TOKEN_ID.findall(page) == []
        refused = api.call("GET", "/user")
        assert refused.status_code == 403
        assert refused.json()["status"] == 403


async def created_token(browser: HubClient, form: dict[str, str]) -> str:
    """Post the form and read the token from the answer, the one place it appears."""
    xsrf = await browser.form_token("/hub/token")
    async with browser.http.post(
        browser.base + "/hub/token", data={**form, "_xsrf": xsrf}, allow_redirects=False
    ) as r:
        assert r.status == 200
        page = await r.text()
    match = NEW_TOKEN.search(page)
    assert match, page[:500]
    return html.unescape(match.group(1))
