"""HTTPS with a generated self-signed certificate: trusted client, Secure __Host- cookies,
and plain HTTP on the same port answered with a pointer to https://."""

from __future__ import annotations

import http.client
import re
import ssl
from pathlib import Path

import aiohttp

from courtyard.tls import fingerprint
from tests.ops.conftest import courtyard

RUNNING = re.compile(r"running in the background at (https://\S+) ")
ACCOUNT = re.compile(r"Created your account '(\S+)' with password: (\S+)")
XSRF = re.compile(r'name="_xsrf"\s+value="([^"]+)"')


async def test_https_hub_with_a_generated_certificate(state_dir: Path) -> None:
    done = courtyard(
        "start", "--https", "--state-dir", str(state_dir), "--port", "0", "--auth", "local"
    )
    assert done.returncode == 0, done.stderr
    url = RUNNING.search(done.stdout).group(1)  # type: ignore[union-attr]
    name, password = ACCOUNT.search(done.stdout).groups()  # type: ignore[union-attr]
    cert = state_dir / "tls" / "cert.pem"
    assert oct((state_dir / "tls" / "key.pem").stat().st_mode & 0o777) == "0o600"
    log = courtyard("logs", "-n", "20", "--state-dir", str(state_dir)).stdout
    assert f"SHA-256 fingerprint {fingerprint(cert)}" in log

    trusting = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=trusting),
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Origin": url.rstrip("/")},
    ) as session:
        async with session.get(url + "hub/login") as r:
            assert r.status == 200
            page = await r.text()
            login_cookie = r.headers["Set-Cookie"]
        assert login_cookie.startswith("__Host-courtyard-login=")
        assert "Secure" in login_cookie
        assert "Path=/;" in login_cookie + ";"
        token = XSRF.search(page).group(1)  # type: ignore[union-attr]
        form = {"username": name, "password": password, "_xsrf": token, "next": "/hub/home"}
        async with session.post(url + "hub/login", data=form, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            session_cookie = r.headers["Set-Cookie"]
        assert session_cookie.startswith("__Host-courtyard-session=")
        assert "Secure" in session_cookie
        assert "HttpOnly" in session_cookie
        async with session.get(url + "hub/home", allow_redirects=False) as r:
            assert r.status == 200

    port = int(url.rsplit(":", 1)[1].strip("/"))
    plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    plain.request("GET", "/hub/home?x=1")
    answer = plain.getresponse()
    assert answer.status == 307
    assert answer.getheader("Location") == f"https://127.0.0.1:{port}/hub/home?x=1"
    assert b"speaks HTTPS" in answer.read()

    untrusting = ssl.create_default_context()
    strict = http.client.HTTPSConnection("127.0.0.1", port, context=untrusting, timeout=10)
    try:
        strict.request("GET", "/hub/login")
        raise AssertionError("an unknown self-signed certificate was accepted")
    except ssl.SSLCertVerificationError:
        pass


def test_every_proxy_worker_speaks_the_same_https(state_dir: Path) -> None:
    """With workers = 3, any process may take a connection: each has the certificate and
    answers plain HTTP with the same pointer."""
    done = courtyard(
        "start", "--https", "--workers", "3", "--state-dir", str(state_dir), "--port", "0",
        "--auth", "local",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    url = RUNNING.search(done.stdout).group(1)  # type: ignore[union-attr]
    port = int(url.rsplit(":", 1)[1].strip("/"))
    assert (
        "the hub and 2 proxy workers" in courtyard("status", "--state-dir", str(state_dir)).stdout
    )
    trusting = ssl.create_default_context(cafile=str(state_dir / "tls" / "cert.pem"))
    for _ in range(24):  # (2/3)^23 that any one process is never reached
        secure = http.client.HTTPSConnection("127.0.0.1", port, context=trusting, timeout=10)
        secure.request("GET", "/hub/login")
        assert secure.getresponse().status == 200
        secure.close()
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        plain.request("GET", "/hub/login")
        assert plain.getresponse().status == 307
        plain.close()
