"""The cost of limits on spawn time, and how exactly CPU limits hold, one run.

    sudo /opt/courtyard/venv-limits/bin/python bench/limits.py [--rounds 5] [--user cyalice]

Needs root and cgroup v1 (or v2 with controllers). Spawn: a LocalSpawner starts the user's
server from "asked" to "answers on its socket", rounds alternating with and without
``[limits] memory/cpus/tasks`` (the limits add the cgroups and the launcher step,
enter.py); prints medians and the ratio. CPU: a busy loop joins a cgroup with cpus = N
through the same launcher (one loop per core asked, rounded up) and runs for --seconds of
wall time; achieved/asked is the CPU time
the cgroup counted (cpuacct.usage, or cpu.stat on v2) over wall time, divided by N.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from courtyard.config.limits import Allowance, LimitSettings
from courtyard.config.settings import Settings
from courtyard.spawners.limits.limiter import Limiter, Placement
from courtyard.spawners.local import LocalSpawner

BUSY = "import time\nt = time.time()\nwhile time.time() - t < {s}: pass\n"


async def spawn_once(user: str, root: Path, limiter: Limiter | None) -> float:
    settings = Settings(python=sys.executable, state_dir=str(root), stop_grace=3)
    spawner = LocalSpawner(user, settings, root / "run", root / "logs", limiter=limiter)
    began = time.perf_counter()
    await spawner.start(lambda p: None)
    took = time.perf_counter() - began
    await spawner.stop()
    return took


async def spawn_times(user: str, rounds: int, parent: str) -> tuple[list[float], list[float]]:
    root = Path(tempfile.mkdtemp(prefix="cyb", dir="/tmp"))
    root.chmod(0o711)
    limits = LimitSettings(memory="2G", cpus=2, tasks=512, cgroup_parent=parent)
    limiter = Limiter.start(limits)
    bare, limited = [], []
    await spawn_once(user, root, None)  # warm the page cache for both sides
    for _ in range(rounds):
        bare.append(await spawn_once(user, root, None))
        limited.append(await spawn_once(user, root, limiter))
    return bare, limited


def cpu_share(limiter: Limiter, asked: float, seconds: float) -> float:
    assert limiter.backend is not None
    key = f"cpu-{asked:g}"
    allowance = Allowance(None, asked, None, 0)
    paths = limiter.backend.create(key, allowance, [])
    try:
        before = limiter.backend.measure(paths)
        assert before is not None
        cmd = [sys.executable, "-c", BUSY.format(s=seconds)]
        command = limiter.command(Placement(key, allowance, paths), cmd, None)
        began = time.monotonic()
        loops = [subprocess.Popen(command) for _ in range(math.ceil(asked))]  # one per core
        for loop in loops:
            loop.wait()
        wall = time.monotonic() - began
        after = limiter.backend.measure(paths)
        assert after is not None
        return (after.cpu_seconds - before.cpu_seconds) / wall / asked
    finally:
        limiter.backend.remove(paths)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--user", default="cyalice")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/limits.py needs root (real cgroups, a real Unix user)", file=sys.stderr)
        return 2
    parent = f"cybench-{uuid.uuid4().hex[:8]}"
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bare, limited = asyncio.run(spawn_times(args.user, args.rounds, parent))
    limiter = Limiter.start(LimitSettings(cpus=1, cgroup_parent=parent))
    print(f"backend: {limiter.describe()}")
    mb, ml = statistics.median(bare), statistics.median(limited)
    print(f"spawn to ready, {args.rounds} rounds alternating (median):")
    print(f"  without limits  {mb * 1000:7.0f} ms   (all: {', '.join(f'{t:.2f}' for t in bare)})")
    print(
        f"  with limits     {ml * 1000:7.0f} ms   (all: {', '.join(f'{t:.2f}' for t in limited)})"
    )
    print(f"  ratio           {ml / mb:7.2f}x   (+{(ml - mb) * 1000:.0f} ms)")
    print(f"CPU throttling, a busy loop for {args.seconds:g} s wall (achieved/asked):")
    for asked in (0.25, 0.5, 1.0, 1.5):
        print(f"  cpus = {asked:<5g} {cpu_share(limiter, asked, args.seconds):.3f}")
    limiter.sweep(set())
    for folder in getattr(limiter.backend, "parents", {}).values():
        folder.rmdir()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
