"""What the figures were measured on: the lines printed above every table."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def describe(chp_version: str | None, load_at_start: str) -> list[str]:
    wrk = _tool_version(["wrk", "-v"]).split(" [")[0]
    return [
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}",
        f"machine: {os.cpu_count()} CPUs, {_cpu_model()}, Linux {platform.release()}",
        f"python {platform.python_version()} ({sys.executable}), uvloop, "
        f"node {_tool_version(['node', '--version'])}, {wrk}, "
        f"configurable-http-proxy {chp_version or '(not run)'}",
        f"load average (1/5/15 min): {load_at_start} at start, {load_average()} at end "
        "(other work on the machine competes for the same cores)",
    ]
