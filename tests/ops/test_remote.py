"""The lab-admin seed's JupyterHub config, imported and started as a background hub, reached
from "the laptop" with ``courtyard connect`` through a real sshd on 127.0.0.1, down to a
kernel running code as alice."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import UnixUser
from tests.hubclient import HubClient
from tests.ops.conftest import courtyard
from tests.ops.test_import_jupyterhub import seed_config

pytestmark = pytest.mark.root
TUNNEL = re.compile(r"Tunnel open: (http://127\.0\.0\.1:\d+)/")


@dataclass(frozen=True)
class Sshd:
    port: int
    client_key: Path

    def options(self) -> list[str]:
        opts = [
            f"Port={self.port}", f"IdentityFile={self.client_key}", "IdentitiesOnly=yes",
            "BatchMode=yes", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
        ]  # fmt: skip
        return [arg for opt in opts for arg in ("--ssh-option", opt)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert proc.poll() is None, "sshd exited"
            assert time.monotonic() < deadline, "sshd did not listen"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def sshd(alice: UnixUser) -> Iterator[Sshd]:
    root = Path(tempfile.mkdtemp(prefix="cysshd", dir="/tmp"))
    root.chmod(0o755)  # sshd reads authorized_keys as the user logging in
    keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", ""]
    subprocess.run([*keygen, "-f", str(root / "host_key")], check=True)
    subprocess.run([*keygen, "-f", str(root / "client_key")], check=True)
    (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
    (root / "authorized_keys").chmod(0o644)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    port = free_port()
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\n"
        f"PidFile {root}/sshd.pid\nAuthorizedKeysFile {root}/authorized_keys\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        f"AllowTcpForwarding yes\nAllowUsers {alice.name}\n"
    )
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(root / "sshd_config")])
    try:
        wait_listening(port, proc)
        yield Sshd(port, root / "client_key")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def seed_hub(state_dir: Path, alice: UnixUser, bob: UnixUser) -> Iterator[int]:
    """The seed's config converted, plus what a test machine needs, run with courtyard start."""
    state_dir.parent.joinpath("jupyterhub_config.py").write_text(seed_config())
    config = state_dir.parent / "courtyard.toml"
    done = courtyard(
        "import-jupyterhub-config",
        str(state_dir.parent / "jupyterhub_config.py"),
        "-o",
        str(config),
    )
    assert done.returncode == 0, done.stderr
    for key, value in (
        ("allowed_users", f"{alice.name},{bob.name}"),
        ("python", sys.executable),
        ("start_timeout", "90"),
    ):
        assert courtyard("config", "set", key, value, "--config", str(config)).returncode == 0
    started = courtyard(
        "start", "--config", str(config), "--state-dir", str(state_dir), "--port", "0"
    )
    assert started.returncode == 0, started.stderr
    port = int(re.search(r"127\.0\.0\.1:(\d+)/", started.stdout).group(1))  # type: ignore[union-attr]
    yield port
    courtyard("stop", "--servers", "--state-dir", str(state_dir), "--config", str(config))


async def test_connect_reaches_a_kernel_through_the_ssh_tunnel(
    sshd: Sshd, seed_hub: int, alice: UnixUser
) -> None:
    connect = subprocess.Popen(
        [sys.executable, "-m", "courtyard", "connect", f"{alice.name}@127.0.0.1",
         "--port", str(seed_hub), "--no-browser", *sshd.options()],
        stdout=subprocess.PIPE, text=True, cwd="/",
    )  # fmt: skip
    try:
        line = connect.stdout.readline()  # type: ignore[union-attr]
        match = TUNNEL.search(line)
        assert match, f"connect said {line!r} (exit {connect.poll()})"
        url = match.group(1)
        async with HubClient(url) as client:
            response = await client.login(alice.name, alice.password)
            assert response.status == 302
            await client.wait_until_ready(alice.name)
            kernel = await client.start_kernel(alice.name)
            result = await client.execute(alice.name, kernel, "import os; os.getuid()")
            assert int(result) == alice.uid
    finally:
        connect.send_signal(signal.SIGINT)
        assert connect.wait(15) == 0
    local_port = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", local_port), timeout=2).close()


@pytest.fixture
def remote_courtyard(alice: UnixUser) -> Iterator[tuple[Path, Path]]:
    """What ``courtyard`` is on "the remote machine" for alice: a stopped hub of her own.

    A wrapper script stands where ``--remote-courtyard`` points: it gives the hub a state
    dir in this test's temporary directory instead of alice's home."""
    root = Path(tempfile.mkdtemp(prefix="cyremote", dir="/tmp"))
    root.chmod(0o755)
    state = root / "state"
    wrapper = root / "courtyard"
    wrapper.write_text(
        f'#!/bin/sh\nexport COURTYARD_STATE_DIR={state}\nexec {sys.executable} -m courtyard "$@"\n'
    )
    wrapper.chmod(0o755)
    state.mkdir()
    shutil.chown(state, alice.name)
    try:
        yield wrapper, state
    finally:
        courtyard("stop", "--state-dir", str(state), "--timeout", "5")
        shutil.rmtree(root, ignore_errors=True)


def test_connect_start_starts_the_stopped_remote_hub(
    sshd: Sshd, remote_courtyard: tuple[Path, Path], alice: UnixUser
) -> None:
    wrapper, state = remote_courtyard
    assert not (state / "courtyard.pid").exists()  # no hub runs there yet
    port = free_port()
    connect = subprocess.Popen(
        [sys.executable, "-m", "courtyard", "connect", f"{alice.name}@127.0.0.1", "--start",
         "--port", str(port), "--remote-courtyard", str(wrapper), "--no-browser",
         *sshd.options()],
        stdout=subprocess.PIPE, text=True, cwd="/",
    )  # fmt: skip
    try:
        said = []
        for line in connect.stdout:  # type: ignore[union-attr]
            said.append(line)
            if TUNNEL.search(line) or len(said) > 20:
                break
        text = "".join(said)
        assert "Starting Courtyard on" in text, text
        assert f"-> {alice.name}@127.0.0.1:{port}" in text, text
        url = TUNNEL.search(text).group(1)  # type: ignore[union-attr]
        with urllib.request.urlopen(f"{url}/hub/login", timeout=10) as r:  # noqa: S310
            assert r.status == 200
        status = courtyard("status", "--state-dir", str(state))
        assert status.returncode == 0, status.stdout
        assert f"127.0.0.1:{port}/" in status.stdout
        pid = int(re.search(r"pid (\d+)", status.stdout).group(1))  # type: ignore[union-attr]
        assert Path(f"/proc/{pid}").stat().st_uid == alice.uid  # started by alice, over ssh
    finally:
        connect.send_signal(signal.SIGINT)
        assert connect.wait(15) == 0
