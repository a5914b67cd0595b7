"""System accounts through real PAM, with real Unix users (root only)."""

from __future__ import annotations

import asyncio
import grp
import logging
import pwd
import threading
import time
from pathlib import Path

import pytest

from courtyard.auth.authenticators import SystemAuthenticator
from courtyard.auth.pam import PamPool
from courtyard.auth.unixaccounts import has_usable_password
from courtyard.config.settings import Settings
from courtyard.store import Store
from tests.conftest import UnixUser


def system(**settings: object) -> SystemAuthenticator:
    return SystemAuthenticator(Settings(auth="system", **settings))  # type: ignore[arg-type]


def primary_group(name: str) -> str:
    return grp.getgrgid(pwd.getpwnam(name).pw_gid).gr_name


@pytest.mark.root
async def test_right_password_logs_in(alice) -> None:
    assert await system().authenticate(alice.name, alice.password) == alice.name


@pytest.mark.root
async def test_wrong_password_is_refused(alice) -> None:
    assert await system().authenticate(alice.name, alice.password + "x") is None


@pytest.mark.root
async def test_unknown_user_is_refused(alice) -> None:
    assert await system().authenticate("cynobody", alice.password) is None
    assert await PamPool(1).authenticate("cynobody", alice.password, "login") is False


@pytest.mark.root
async def test_nul_bytes_never_reach_pam(alice) -> None:
    assert await PamPool(1).authenticate(alice.name + "\0", alice.password, "login") is False
    assert await system().authenticate(alice.name, alice.password + "\0") is None


@pytest.mark.root
async def test_a_crowd_of_logins_takes_pam_threads_only(alice) -> None:
    """Eight logins at once run on pam_threads (2) threads of their own: each holds a password
    hash's core and memory, and the hub's other blocking work (asyncio's default executor)
    does not queue behind them."""
    auth = system(pam_threads=2)
    most, default_pool_waits = 0, []
    earlier = set(threading.enumerate())  # other tests' pools may not have ended yet

    async def watch(logins: asyncio.Future[list[str | None]]) -> None:
        nonlocal most
        while not logins.done():
            ours = set(threading.enumerate()) - earlier
            most = max(most, sum(t.name.startswith("pam") for t in ours))
            began = time.monotonic()
            await asyncio.to_thread(lambda: None)
            default_pool_waits.append(time.monotonic() - began)
            await asyncio.sleep(0.005)

    logins = asyncio.gather(*(auth.authenticate(alice.name, alice.password) for _ in range(8)))
    await asyncio.gather(logins, watch(logins))
    assert logins.result() == [alice.name] * 8
    assert most == 2
    assert max(default_pool_waits) < 0.5  # PAM never held asyncio's executor


@pytest.mark.root
async def test_huge_input_is_refused_before_pam(alice, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="courtyard.auth")
    auth = system()
    assert await auth.authenticate(alice.name + "q" * 100_000, alice.password) is None
    assert await auth.authenticate(alice.name, alice.password + "q" * 1024) is None
    assert caplog.text.count("out of bounds") == 2
    assert "PAM" not in caplog.text
    assert "q" * 40 not in caplog.text


@pytest.mark.root
async def test_allowed_users_excludes_everyone_else(alice, bob) -> None:
    auth = system(allowed_users=[bob.name])
    assert not auth.is_allowed(alice.name)
    assert auth.is_allowed(bob.name)
    assert await auth.authenticate(alice.name, alice.password) is None
    assert await auth.authenticate(bob.name, bob.password) == bob.name


@pytest.mark.root
async def test_admins_are_allowed_despite_allow_lists(alice, bob) -> None:
    auth = system(allowed_users=[bob.name], admin_users=[alice.name])
    assert await auth.authenticate(alice.name, alice.password) == alice.name


@pytest.mark.root
def test_allowed_groups_admit_members_by_primary_group(alice, bob) -> None:
    auth = system(allowed_groups=[primary_group(alice.name), "cy-no-such-group"])
    assert auth.is_allowed(alice.name)
    assert not auth.is_allowed(bob.name)
    assert "groups" in auth.describe_policy()


@pytest.mark.root
def test_uid_range_decides_without_allow_lists(alice) -> None:
    uid = alice.uid
    assert system(min_uid=uid, max_uid=uid).is_allowed(alice.name)
    assert not system(min_uid=uid + 1).is_allowed(alice.name)
    assert not system(max_uid=uid - 1).is_allowed(alice.name)
    assert not system().is_allowed("root")
    assert system(admin_users=["root"]).is_allowed("root")
    assert not system().is_allowed("cynobody")


@pytest.mark.root
def test_shadow_says_alice_has_a_usable_password(alice) -> None:
    assert has_usable_password(alice.name) is True


def test_locked_or_empty_shadow_entries_are_unusable(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text(
        "ada:$y$j9T$abc$def:19000:0:99999:7:::\n"
        "locked:!$y$j9T$abc$def:19000:0:99999:7:::\n"
        "nologin:*:19000:0:99999:7:::\n"
        "empty::19000:0:99999:7:::\n"
    )
    assert has_usable_password("ada", shadow) is True
    assert has_usable_password("locked", shadow) is False
    assert has_usable_password("nologin", shadow) is False
    assert has_usable_password("empty", shadow) is False
    assert has_usable_password("absent", shadow) is None
    assert has_usable_password("ada", tmp_path / "missing") is None


def test_policy_lines_say_who_can_log_in() -> None:
    assert "uid 1000-60000" in system().describe_policy()
    assert "'login'" in system().describe_policy()
    assert "only" in system(allowed_users=["ada"]).describe_policy()


def test_with_an_allow_list_users_an_admin_added_may_log_in(alice: UnixUser) -> None:
    store = Store.open("sqlite://")
    settings = Settings(auth="system", allowed_users=["somebody-else"])
    auth = SystemAuthenticator(settings, store)
    assert not auth.is_allowed(alice.name)
    store.add_user(alice.name)
    assert auth.is_allowed(alice.name)
