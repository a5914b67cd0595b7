"""``courtyard logs -f`` on a background hub whose log rotates (small ``log_max_bytes``):
lines appear as the hub writes them, across rotations, and Ctrl-C ends it."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.hubclient import XSRF
from tests.ops.conftest import courtyard
from tests.ops.test_daemon import start

BATCH = 4  # failed logins per batch (< 1024 bytes of log): at most one rotation each


def fail_logins(url: str, names: list[str]) -> None:
    """Failed logins through the form, each one a line in the hub's log."""
    with httpx.Client(base_url=url, headers={"Origin": url.rstrip("/")}, timeout=10) as client:
        for name in names:
            xsrf = XSRF.search(client.get("/hub/login").text)
            assert xsrf
            data = {"username": name, "password": "wrong", "_xsrf": xsrf.group(1)}
            assert client.post("/hub/login", data=data).status_code in (401, 403, 429)


def lines_of(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    seen: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            seen.put(line)

    threading.Thread(target=read, daemon=True).start()
    return seen


def wait_for(seen: queue.Queue[str], text: str, got: list[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in got):
        left = deadline - time.monotonic()
        assert left > 0, f"{text!r} never followed; got {got[-5:]}"
        try:
            got.append(seen.get(timeout=left))
        except queue.Empty:
            continue


def test_logs_follow_across_rotations_and_stop_on_ctrl_c(state_dir: Path) -> None:
    config = state_dir.parent / "courtyard.toml"
    config.write_text("log_max_bytes = 1024\nlog_backups = 2\n")
    url, _ = start(state_dir, "--config", str(config))
    log = state_dir / "logs" / "courtyard.log"
    follow = subprocess.Popen(
        [sys.executable, "-m", "courtyard", "logs", "-f", "-n", "1", "--state-dir",
         str(state_dir), "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
    )  # fmt: skip
    try:
        seen, got = lines_of(follow), []
        wait_for(seen, "", got)  # the last line of the log so far: it is following now
        batch = 0
        while sum(map(len, got)) < 3.5 * 1024:  # enough for three rotations
            assert batch < 30, "the log does not grow"
            names = [f"marker{batch}x{i}" for i in range(BATCH)]
            fail_logins(url, names)
            for name in names:  # every line, rotation or not
                wait_for(seen, f"'{name}'", got)
            batch += 1
        assert (state_dir / "logs" / "courtyard.log.1").is_file()
        assert (state_dir / "logs" / "courtyard.log.2").is_file()
        assert not (state_dir / "logs" / "courtyard.log.3").exists()  # log_backups = 2
        assert log.stat().st_size <= 1024 + 200  # rotated before a line would pass the size
    finally:
        follow.send_signal(signal.SIGINT)
        code = follow.wait(10)
    assert code == 130  # what a shell reports for Ctrl-C
    assert "Traceback" not in follow.stderr.read()  # type: ignore[union-attr]
    assert courtyard("stop", "--state-dir", str(state_dir)).returncode == 0
