"""bench/load.py's smoke mode runs end to end through the real hub (`courtyard up`, real Unix
users, real servers). It never asserts on speed: only that the report is produced and that no
saved notebook was lost, and that the run lets go of the cyload users' lock at the end (figures
are for docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.test_bench_users_lock import lock_is_free

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"

pytestmark = pytest.mark.root


def test_load_bench_smoke_mode_reports_and_loses_no_save() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=240
    )
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-4000:]
    for heading in ("== Load:", "== Errors and saves ==", "== Resources ==", "login -> JupyterLab"):
        assert heading in out, out
    assert "REPORT COMPLETE: 0 saves lost" in out, out
    assert ", 0 lost or differing" in out, out
    assert lock_is_free("cyload")  # the run let go of its users' lock
