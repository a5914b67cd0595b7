"""A full disk under the state dir (a small tmpfs here): new logins get a clear 503 in the hub's
words, the hub logs it once, a person already logged in goes on, and it all recovers when space
is back, with the SQLite database intact. bench/load.py's disk-full scenario found the 500."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import UnixUser
from tests.e2e.conftest import hub_config, new_state_dir, stop_user_servers
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = pytest.mark.root


@pytest.fixture
def small_state_dir() -> Iterator[Path]:
    path = new_state_dir()
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(path)],
                   check=True)  # fmt: skip
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
        shutil.rmtree(path.parent, ignore_errors=True)


def fill(path: Path) -> Path:
    filler = path / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        for _ in range(64):  # 64 MiB at most: more than the 16 MiB mount holds
            f.write(b"\0" * 1024 * 1024)
            f.flush()
    return filler


async def test_a_full_disk_refuses_new_logins_clearly_and_recovers(
    small_state_dir: Path, alice: UnixUser, bob: UnixUser
) -> None:
    hub = HubProcess(small_state_dir, hub_config(alice.name, bob.name))
    hub.start()
    try:
        async with HubClient(hub.url) as before, HubClient(hub.url) as late:
            assert (await before.login(alice.name, alice.password)).status == 302
            filler = fill(small_state_dir)
            mark = len(hub.output)
            for _ in range(3):
                r = await late.login(bob.name, bob.password)
                page = await r.text()
                assert r.status == 503, page[:500]
                assert "no space left" in page
                assert "Traceback" not in page
            async with late.http.get(hub.url + "/hub/api/user",
                                     headers={"Authorization": "token nope"}) as r:  # fmt: skip
                assert r.status == 403  # refusing needs no write: still the usual answer
            status, _text, _headers = await before.get("/hub/home")
            assert status == 200  # a person already logged in goes on
            logged = [line for line in hub.output[mark:] if "disk full" in line]
            assert len(logged) == 1, logged  # once, not once per request
            filler.unlink()
            assert (await late.login(bob.name, bob.password)).status == 302
    finally:
        hub.stop()
        stop_user_servers(small_state_dir)
    with sqlite3.connect(small_state_dir / "courtyard.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
