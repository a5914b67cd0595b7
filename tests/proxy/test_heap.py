"""keep_heap_warm: fixed glibc malloc thresholds, unless the environment already sets them."""

from __future__ import annotations

import os
import subprocess
import sys

CALL = "from courtyard.proxy.heap import keep_heap_warm; print(keep_heap_warm())"


def _run(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CALL], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_thresholds_are_set_on_glibc_linux() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    assert _run(env) == "True"


def test_an_operators_malloc_setting_is_left_alone() -> None:
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "131072"}
    assert _run(env) == "False"
