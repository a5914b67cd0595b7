"""``python -m courtyard user ...`` against the store of a running hub (system auth with
create_system_users): the hub sees every change, and PAM accepts the passwords set."""

from __future__ import annotations

import pwd
import stat
import subprocess
import sys
import time

import pytest

from tests.admin.conftest import NewUser, pids_of_uid, random_name
from tests.hubclient import HubClient
from tests.hubprocess import HubProcess

pytestmark = [pytest.mark.root]


def courtyard_user(
    hub: HubProcess, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    config = hub.state_dir.parent / f"{hub.state_dir.name}.toml"
    argv = [sys.executable, "-m", "courtyard", "user", args[0], *args[1:]]
    argv += ["--state-dir", str(hub.state_dir), "--config", str(config)]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)


async def test_cli_manages_users_while_the_hub_runs(
    admin_hub: HubProcess, made_names: list[str]
) -> None:
    name = random_name()
    made_names.append(name)
    added = courtyard_user(admin_hub, "add", name, "--password-stdin", stdin="Cli-pw-31415\n")
    assert added.returncode == 0, added.stderr
    assert pwd.getpwnam(name).pw_dir
    listed = courtyard_user(admin_hub, "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[0].split() == [
        "NAME",
        "ADMIN",
        "SERVER",
        "LAST",
        "ACTIVITY",
        "(UTC)",
    ]
    assert any(line.split()[:2] == [name, "stopped"] for line in listed.stdout.splitlines())

    assert courtyard_user(admin_hub, "admin", name, "on").returncode == 0
    async with HubClient(admin_hub.url) as client:
        assert (await client.login(name, "Cli-pw-31415", "/hub/admin")).status == 302
        async with client.http.get(admin_hub.url + "/hub/admin") as r:
            assert r.status == 200

    changed = courtyard_user(admin_hub, "passwd", name, "--stdin", stdin="Cli-pw-27182\n")
    assert changed.returncode == 0, changed.stderr
    async with HubClient(admin_hub.url) as client:
        assert (await client.login(name, "Cli-pw-31415", "/hub/home")).status == 403
        assert (await client.login(name, "Cli-pw-27182", "/hub/home")).status == 302

    generated = courtyard_user(admin_hub, "passwd", name, "--generate")
    assert "shown once" in generated.stdout

    removed = courtyard_user(admin_hub, "remove", name, "--unix-account")
    assert removed.returncode == 0, removed.stderr
    assert name not in {p.pw_name for p in pwd.getpwall()}
    assert name not in courtyard_user(admin_hub, "list").stdout


def test_cli_refuses_bad_names_and_explains(admin_hub: HubProcess) -> None:
    bad = courtyard_user(admin_hub, "add", "Bad;Name")
    assert bad.returncode != 0
    assert "not a valid user name" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = courtyard_user(admin_hub, "remove", "cyt-nosuchuser")
    assert missing.returncode != 0
    assert "no user named 'cyt-nosuchuser'" in missing.stderr


async def test_cli_removes_a_user_whose_server_runs_through_the_hub(
    admin_hub: HubProcess, new_unix_user: NewUser
) -> None:
    person = new_unix_user()
    uid = pwd.getpwnam(person.name).pw_uid
    admin_socket = admin_hub.state_dir / "run" / "admin.sock"
    assert stat.S_IMODE(admin_socket.stat().st_mode) == 0o600
    async with HubClient(admin_hub.url) as client:
        assert (await client.login(person.name, person.password, "")).status == 302
        await client.wait_until_ready(person.name)
        # the admin socket's command is not served on the public port, logged in or not
        for method in ("POST", "GET"):
            async with client.http.request(
                method, f"{admin_hub.url}/servers/{person.name}/stop", allow_redirects=False
            ) as r:
                assert r.status in (403, 404, 405), (method, r.status)
        async with client.http.get(f"{admin_hub.url}/user/{person.name}/api/status") as r:
            assert r.status == 200  # still running
    assert pids_of_uid(uid)

    removed = courtyard_user(admin_hub, "remove", person.name)
    assert removed.returncode == 0, removed.stderr
    assert f"the hub stopped {person.name}'s server" in removed.stdout
    deadline = time.monotonic() + 15
    while pids_of_uid(uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids_of_uid(uid) == []
    assert person.name not in courtyard_user(admin_hub, "list").stdout
    assert pwd.getpwnam(person.name)  # the Unix account is kept without --unix-account
    assert any(f"stopping {person.name}'s server" in line for line in admin_hub.output)
