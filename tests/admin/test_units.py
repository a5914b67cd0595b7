"""The pieces under the admin page: store queries, Unix accounts, usage from /proc, JupyterLab
language preset."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from courtyard.auth import unixaccounts
from courtyard.errors import AuthError, ProtectedAccountError, UserExistsError
from courtyard.hub.usage import UsageMeter, children_listed, scan, tree_of, walk_tree
from courtyard.singleuser.labsettings import SETTINGS_FILE, preset_lab_language
from courtyard.store.store import Store, UserQuery
from tests.admin.conftest import random_name, remove_account

USER_UIDS = range(1000, 60001)  # the default min_uid..max_uid


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for i in range(120):
        opened.add_user(f"user{i:03d}", admin=i % 10 == 0)
        if i % 3 == 0:
            opened.record_activity({f"user{i:03d}": base + timedelta(minutes=i)}, servers=False)
    for i in (5, 50, 115):
        opened.save_server(f"user{i:03d}", state="running")
    opened.save_server("user006", state="stopped")
    return opened


def test_find_users_pages_by_name(store: Store) -> None:
    page = store.find_users(UserQuery(offset=50, limit=50))
    assert page.total == 120
    assert [u.name for u, _ in page.rows][:2] == ["user050", "user051"]
    assert len(store.find_users(UserQuery(offset=100, limit=50)).rows) == 20


def test_find_users_searches_a_substring_literally(store: Store) -> None:
    assert store.find_users(UserQuery(search="r11")).total == 10
    assert store.find_users(UserQuery(search="%")).total == 0
    assert store.find_users(UserQuery(search="_")).total == 0


def test_find_users_running_only_and_sort_by_activity(store: Store) -> None:
    running = store.find_users(UserQuery(running_only=True))
    assert [(u.name, s.state if s else None) for u, s in running.rows] == [
        ("user005", "running"),
        ("user050", "running"),
        ("user115", "running"),
    ]
    recent = store.find_users(UserQuery(sort="activity", limit=3))
    assert [u.name for u, _ in recent.rows] == ["user117", "user114", "user111"]
    last = store.find_users(UserQuery(sort="activity", offset=119, limit=1))
    assert last.rows[0][0].last_activity is None


def test_rename_user_keeps_the_row_and_refuses_a_taken_name(store: Store) -> None:
    store.rename_user("user001", "renamed")
    assert store.get_user("user001") is None
    assert store.require_user("renamed").id
    with pytest.raises(UserExistsError):
        store.rename_user("renamed", "user002")


@pytest.mark.parametrize(
    "name", ["Root", "-rf", "a b", "x;id", "a" * 33, "1abc", "_x", "a.b", "", "é"]
)
def test_unix_names_are_strict(name: str) -> None:
    with pytest.raises(AuthError):
        unixaccounts.check_unix_name(name)


@pytest.mark.root
def test_unix_account_is_created_with_home_given_a_password_and_removed() -> None:
    name = random_name()
    try:
        unixaccounts.create_account(name, "Secret-pw-123", uids=USER_UIDS)
        entry = pwd.getpwnam(name)
        assert Path(entry.pw_dir).is_dir()
        assert entry.pw_uid >= 1000
        assert unixaccounts.has_usable_password(name) is True
        with pytest.raises(UserExistsError):
            unixaccounts.create_account(name, uids=USER_UIDS)
        unixaccounts.set_password(name, "Another-pw-456", uids=USER_UIDS)
        assert unixaccounts.delete_account(name, uids=USER_UIDS) is True
        assert unixaccounts.uid_of(name) is None
        assert not Path(entry.pw_dir).exists()
        assert unixaccounts.delete_account(name, uids=USER_UIDS) is False
    finally:
        remove_account(name)


@pytest.mark.root
def test_password_with_a_newline_is_refused_before_chpasswd() -> None:
    with pytest.raises(AuthError, match="line breaks"):
        unixaccounts.set_password("root", "x\nroot:owned", uids=USER_UIDS)


@pytest.mark.root
def test_root_and_system_accounts_are_never_changed_or_removed() -> None:
    """The hub runs as root: an admin must not reach root's or a service account's password,
    nor userdel them. A throwaway ``useradd -r`` account (uid below 1000) stands in."""
    name = random_name()
    subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        uid = pwd.getpwnam(name).pw_uid
        assert uid < 1000
        before = shadow_line(name)
        with pytest.raises(ProtectedAccountError, match="outside the user range"):
            unixaccounts.set_password(name, "Taken-over-123", uids=USER_UIDS)
        with pytest.raises(ProtectedAccountError):
            unixaccounts.delete_account(name, uids=USER_UIDS)
        assert pwd.getpwnam(name).pw_uid == uid
        assert shadow_line(name) == before
        for to_root in (range(0, 60001), USER_UIDS):  # min_uid = 0 does not expose root
            with pytest.raises(ProtectedAccountError):
                unixaccounts.set_password("root", "Taken-over-123", uids=to_root)
            with pytest.raises(ProtectedAccountError):
                unixaccounts.delete_account("root", uids=to_root)
        assert unixaccounts.check_managed_uid(name, range(uid, uid + 1)) == uid
    finally:
        remove_account(name)


@pytest.mark.root
def test_a_created_account_outside_the_range_is_removed_again() -> None:
    name = random_name()
    try:
        with pytest.raises(ProtectedAccountError):
            unixaccounts.create_account(name, "Secret-pw-123", uids=range(1, 2))
        assert unixaccounts.uid_of(name) is None
    finally:
        remove_account(name)


def shadow_line(name: str) -> str:
    lines = Path("/etc/shadow").read_text(encoding="utf-8").splitlines()
    return next(line for line in lines if line.startswith(f"{name}:"))


CHILD = "import time; b = bytearray(60 * 2**20); t = time.time() + 30\nwhile time.time() < t: pass"


def test_usage_counts_the_server_and_its_children() -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {CHILD!r}])",
        ]
    )
    try:
        meter = UsageMeter()
        deadline = time.monotonic() + 15
        usage = meter.measure([parent.pid]).get(parent.pid)
        while (usage is None or usage.rss_bytes < 60 * 2**20) and time.monotonic() < deadline:
            time.sleep(0.1)
            usage = meter.measure([parent.pid]).get(parent.pid)
        assert usage is not None
        assert usage.processes == 2
        assert usage.rss_bytes >= 60 * 2**20
        time.sleep(0.5)  # a measuring interval, not a wait for a condition
        second = meter.measure([parent.pid])[parent.pid]
        assert 5 < second.cpu_percent < 250  # one busy child: up to a core (less if loaded)
    finally:
        parent.kill()
        parent.wait()
    assert meter.measure([parent.pid]) == {}


TREE = """
import subprocess, sys, threading, time
sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
grand = [sys.executable, "-c", "import subprocess, sys, time; "
         "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"]
subprocess.Popen(sleep)
threading.Thread(target=lambda: subprocess.Popen(grand)).start()  # forked by another thread
time.sleep(60)
"""


def test_walking_down_from_a_server_finds_what_a_whole_scan_finds() -> None:
    assert children_listed()  # Debian's kernels list children; else the meter scans /proc
    parent = subprocess.Popen([sys.executable, "-c", TREE])
    try:
        deadline = time.monotonic() + 15
        while len(tree_of(parent.pid, scan())) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        scanned = {s.pid for s in tree_of(parent.pid, scan())}
        walked = {s.pid for s in walk_tree(parent.pid)}
        assert len(scanned) == 4  # the server, its two children, a grandchild
        assert walked == scanned
        assert walk_tree(2**22 + 7) == []  # no such process
    finally:
        for pid in sorted({s.pid for s in tree_of(parent.pid, scan())} - {parent.pid}):
            os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_lab_language_is_preset_once_and_never_overwritten(tmp_path: Path) -> None:
    written = preset_lab_language("zh_CN", tmp_path)
    assert written == tmp_path / SETTINGS_FILE
    assert json.loads(written.read_text()) == {"locale": "zh_CN"}
    written.write_text('{"locale": "en"}')  # the user picked English in JupyterLab
    assert preset_lab_language("zh_CN", tmp_path) is None
    assert json.loads(written.read_text()) == {"locale": "en"}


def test_english_needs_no_lab_setting(tmp_path: Path) -> None:
    assert preset_lab_language("en", tmp_path) is None
    assert not (tmp_path / SETTINGS_FILE).exists()
