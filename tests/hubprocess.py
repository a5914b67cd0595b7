"""A real hub in a subprocess: `python -m courtyard up --port 0`, ready when it says so."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

READY = re.compile(r"Courtyard \S+ is ready at (https?://\S+)")


@dataclass
class HubProcess:
    state_dir: Path
    config: str = ""
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # run the hub as this Unix user (local-accounts tests)
    listen_port: int = 0
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    output: list[str] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        """The settings file ``start`` writes and the hub reads (beside the state dir)."""
        return self.state_dir.parent / f"{self.state_dir.name}.toml"

    def start(self, timeout: float = 30.0) -> HubProcess:
        config_path = self.config_path
        config_path.write_text(self.config)
        config_path.chmod(0o644)
        cmd = [
            sys.executable,
            "-m",
            "courtyard",
            "up",
            "--port",
            str(self.listen_port),
            "--state-dir",
            str(self.state_dir),
            "--config",
            str(config_path),
        ]
        self.output = []  # this run's lines only
        env = {k: v for k, v in os.environ.items() if not k.startswith("COURTYARD_")}
        env.update(self.env)
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            user=self.user,
            cwd="/",
            # A session of its own, as `courtyard start` and systemd give it: the hub's
            # priority (hub_nice, its session's scheduling group) is then its own and not
            # shared with the tests, or the bench client, that started it.
            start_new_session=True,
        )
        self.url = self._wait_for_ready(timeout)
        return self

    def _wait_for_ready(self, timeout: float) -> str:
        assert self.proc is not None
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(timeout=0.2):
                    continue
                line = self.proc.stdout.readline()
                if not line:
                    break
                self.output.append(line.rstrip("\n"))
                match = READY.search(line)
                if match:
                    threading.Thread(target=self._drain, daemon=True).start()
                    return match.group(1).rstrip("/")
        self.stop()
        raise RuntimeError("hub did not become ready:\n" + "\n".join(self.output[-40:]))

    def restart_reattaching(self, user: str) -> None:
        """Stop the hub and start it again on the same port; return once it says it
        re-attached ``user``'s server (the user's browser keeps its URL and cookie)."""
        self.listen_port = self.port
        self.stop()
        self.start()
        self.wait_for_output(f"re-attached .*{user}")

    def _drain(self) -> None:
        """Keep reading the hub's output so a full pipe never blocks its logging."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            return
        for line in proc.stdout:
            self.output.append(line.rstrip("\n"))

    def wait_for_output(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.output):
                if regex.search(line):
                    return line
            time.sleep(0.05)
        raise AssertionError(
            f"no output line matched {pattern!r}:\n" + "\n".join(self.output[-30:])
        )

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code
