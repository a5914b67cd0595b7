"""A fault scenario that crashes is a failed verdict, not the end of the run: bench/load.py
used to lose every verdict and the whole report to one scenario's exception (the flood
scenario's fixed 60 s wait on a kernel whose output jupyter_server's rate limit was
dropping)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from loadbench import faults  # noqa: E402


def test_a_crashing_scenario_is_a_failed_verdict(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def crash(*args: object) -> faults.Verdict:
        raise TimeoutError("no message in 60 s")

    monkeypatch.setattr(faults, "run_scenario", crash)
    verdict = faults.run("flood", [], tmp_path, argparse.Namespace(duration=30))
    why = "the scenario itself failed: TimeoutError: no message in 60 s"
    assert verdict == ("flood", False, why)
    out, err = capsys.readouterr()
    assert "FAIL  flood: the scenario itself failed" in out
    assert "Traceback" in err
    assert "no message in 60 s" in err


def test_a_verdict_is_printed_when_known(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(faults, "run_scenario", lambda *a: ("sigstop", True, "3 stopped"))
    assert faults.run("sigstop", [], tmp_path, argparse.Namespace(duration=30))[1] is True
    assert "PASS  sigstop: 3 stopped" in capsys.readouterr().out
