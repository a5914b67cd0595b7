"""The hub's GPUs and who holds each: found with nvidia-smi, or ``[limits] gpu_devices``.

A server gets whole GPUs, exclusively, for as long as it runs: the pool is in the hub's memory,
rebuilt at start from the servers it re-attaches (their spawner state names their GPUs).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass

from courtyard.errors import N_, ConfigError, SpawnError
from courtyard.spawners.limits.base import Device

NO_GPU_FREE = N_("No GPU free right now: {count} in use by {holders}. Try again later.")
NVIDIA_SMI_TIMEOUT = 10.0


@dataclass(frozen=True)
class Gpu:
    index: str  # what CUDA_VISIBLE_DEVICES names it by
    device: Device


def device_of(path: str, key: str) -> Device:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"setting {key!r}: cannot use {path!r}: {exc.strerror}.") from exc
    if not stat.S_ISCHR(info.st_mode):
        raise ConfigError(f"setting {key!r}: {path!r} is not a character device.")
    return Device(path, os.major(info.st_rdev), os.minor(info.st_rdev))


def index_of(path: str, position: int) -> str:
    """/dev/nvidia3 -> "3"; a node without a number is named by its place in the list."""
    digits = re.search(r"(\d+)$", os.path.basename(path))
    return digits.group(1) if digits else str(position)


def discover(configured: list[str]) -> list[Gpu]:
    """The configured device nodes, else the GPUs nvidia-smi lists (none without it)."""
    if configured:
        return [
            Gpu(index_of(p, i), device_of(p, f"limits.gpu_devices[{i}]"))
            for i, p in enumerate(configured)
        ]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    listed = subprocess.run(
        [smi, "--query-gpu=index", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=NVIDIA_SMI_TIMEOUT,
        check=False,
    )
    indexes = [line.strip() for line in listed.stdout.splitlines() if line.strip().isdigit()]
    return [Gpu(i, device_of(f"/dev/nvidia{i}", "nvidia-smi")) for i in indexes]


class GpuPool:
    def __init__(self, gpus: list[Gpu]) -> None:
        self.gpus = gpus
        self.holders: dict[str, str] = {}  # device path -> server key

    def claim(self, key: str, count: int) -> list[Gpu]:
        """``count`` free GPUs for ``key`` (its own first); SpawnError when too few are free."""
        mine = [g for g in self.gpus if self.holders.get(g.device.path) == key]
        free = [g for g in self.gpus if g.device.path not in self.holders]
        chosen = (mine + free)[:count]
        if len(chosen) < count:
            held = sorted(set(self.holders.values()) - {key})
            raise SpawnError(
                NO_GPU_FREE,
                params={"count": len(self.holders), "holders": ", ".join(held) or "nobody"},
                detail=f"{key} asked for {count} GPU(s); pool {len(self.gpus)}",
            )
        for gpu in chosen:
            self.holders[gpu.device.path] = key
        return chosen

    def reclaim(self, key: str, paths: list[str]) -> None:
        for path in paths:
            if any(g.device.path == path for g in self.gpus):
                self.holders[path] = key

    def release(self, key: str) -> None:
        self.holders = {p: k for p, k in self.holders.items() if k != key}

    def others(self, key: str) -> list[Device]:
        """Every GPU node not held by ``key``: its devices cgroup denies them."""
        return [g.device for g in self.gpus if self.holders.get(g.device.path) != key]

    def table(self) -> list[tuple[str, str, str | None]]:
        """(index, device path, holder or None) of every GPU, for the admin page."""
        return [(g.index, g.device.path, self.holders.get(g.device.path)) for g in self.gpus]
