"""bench/control_plane.py's smoke mode runs end to end through the real hub (a seeded store,
`courtyard up`, the admin page, login, two culler passes). It never asserts on speed: only that
the report is produced (figures are for docs/performance.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "control_plane.py"


def test_control_plane_bench_smoke_mode_prints_its_report() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=300
    )
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-4000:]
    assert "== Control plane ==" in out, out
    for label in ("users limit=200 offset=0", "users/{name}", "groups", "admin page sort=activity"):
        assert re.search(rf"{re.escape(label)}\s+[\d.]+ms\s+[\d.]+ms", out), out
    assert re.search(r"culler pass \(first\): 6 servers checked, 3 culled", out), out
    assert re.search(r"hub RSS \(hub \+ proxy workers\): [\d.]+ MiB", out), out
    assert "REPORT COMPLETE" in out, out
