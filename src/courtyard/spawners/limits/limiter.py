"""Limiter: the one object the hub and the local spawner use for limits (see __init__).

Per server: ``allowance`` (rules, then the chosen profile) -> ``place`` (claim GPUs, make the
cgroups; a Placement, persisted in the spawner state) -> ``command`` (the launcher in front of
the server's command) -> ``release`` when the server is gone. ``reclaim`` re-holds a
re-attached server's GPUs; ``sweep`` removes cgroups no server owns.
"""

from __future__ import annotations

import grp
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from courtyard.config.limits import (
    Allowance,
    LimitSettings,
    SizedProfile,
    allowance_for,
    apply_profile,
    configured,
    fits,
    unix_groups,
)
from courtyard.errors import ConfigError
from courtyard.spawners.limits import gpus as gpumod
from courtyard.spawners.limits.base import LimitBackend, Measured
from courtyard.spawners.limits.cgroup1 import CgroupV1Backend
from courtyard.spawners.limits.cgroup2 import CgroupV2Backend
from courtyard.spawners.limits.cgroupfs import cgroup_name
from courtyard.spawners.limits.enter import enter_command
from courtyard.spawners.limits.rlimits import RlimitBackend

log = logging.getLogger("courtyard.limits")
KERNEL_OOM_ENV = "COURTYARD_KERNEL_OOM_SCORE_ADJ"  # see singleuser/kernels.py
KERNEL_OOM_SCORE_ADJ = "500"  # kernels score half the limit higher than jupyter_server


@dataclass(frozen=True)
class Placement:
    """Where one server's limits live: persisted so a restarted hub keeps them."""

    key: str
    allowance: Allowance
    paths: dict[str, str] = field(default_factory=dict)
    gpus: tuple[str, ...] = ()  # device paths held
    gpu_indexes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        a = self.allowance
        return {
            "key": self.key,
            "memory": a.memory,
            "cpus": a.cpus,
            "tasks": a.tasks,
            "gpus": list(self.gpus),
            "gpu_indexes": list(self.gpu_indexes),
            "paths": dict(self.paths),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Placement:
        allowance = Allowance(
            data.get("memory"), data.get("cpus"), data.get("tasks"), len(data.get("gpus", []))
        )
        return cls(
            key=str(data["key"]),
            allowance=allowance,
            paths={str(k): str(v) for k, v in data.get("paths", {}).items()},
            gpus=tuple(data.get("gpus", [])),
            gpu_indexes=tuple(data.get("gpu_indexes", [])),
        )


def choose_backend(limits: LimitSettings) -> tuple[LimitBackend, list[str]]:
    """The backend ``limits.backend`` names ('auto': the first that works here), and why each
    one tried before it was passed over."""
    tried: list[str] = []
    order = ["cgroup2", "cgroup1", "rlimits"] if limits.backend == "auto" else [limits.backend]
    for name in order:
        try:
            if name == "cgroup2":
                return CgroupV2Backend.discover(limits.cgroup_parent), tried
            if name == "cgroup1":
                if os.geteuid() != 0:
                    raise ConfigError("cgroup v1 needs the hub to run as root.")
                return CgroupV1Backend.discover(limits.cgroup_parent), tried
            return RlimitBackend(), tried
        except (ConfigError, OSError) as exc:
            if limits.backend != "auto":
                raise ConfigError(f"setting 'limits.backend' = {name!r}: {exc}") from exc
            tried.append(f"{name}: {exc}")
    raise AssertionError("rlimits always works")  # pragma: no cover


class Limiter:
    def __init__(
        self,
        settings: LimitSettings,
        backend: LimitBackend | None,
        pool: gpumod.GpuPool,
        profiles: Sequence[SizedProfile] = (),
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.pool = pool
        self.profiles = list(profiles)  # the [[profiles]] people pick from

    @classmethod
    def start(cls, settings: LimitSettings, profiles: Sequence[SizedProfile] = ()) -> Limiter:
        """Choose the backend and find the GPUs; warn about what is not enforced."""
        check_rule_groups(settings)
        if not configured(settings, profiles):
            return cls(settings, None, gpumod.GpuPool([]), profiles)
        backend, tried = choose_backend(settings)
        for reason in tried:
            log.info("limits: not using %s", reason)
        pool = gpumod.GpuPool(gpumod.discover(settings.gpu_devices))
        limiter = cls(settings, backend, pool, profiles)
        if backend.unenforced():
            log.warning(
                "limits: %s cannot enforce: %s", backend.name, "; ".join(backend.unenforced())
            )
        return limiter

    def describe(self) -> str:
        if self.backend is None:
            return "none configured"
        gpus = f"; {len(self.pool.gpus)} GPU(s)" if self.pool.gpus else ""
        return self.backend.describe() + gpus

    def warning(self) -> str | None:
        """What the banner must say is not enforced, if anything."""
        if self.backend is None or not self.backend.unenforced():
            return None
        return f"limits ({self.backend.name}) do not enforce: " + "; ".join(
            self.backend.unenforced()
        )

    def allowance(self, user: str, profile: str = "") -> Allowance:
        """What ``user``'s server of ``profile`` may use: their rules, then the profile's
        sizes ("" is the first profile, as for its environment). A profile asking for more
        than the rules allow this person gives them only what the rules allow."""
        allowed = allowance_for(self.settings, user, unix_groups(user))
        chosen = next((p for p in self.profiles if p.name == profile or not profile), None)
        if chosen is None or not fits(chosen, allowed):
            return allowed
        return apply_profile(allowed, chosen)

    def place(self, user: str, allowance: Allowance, server: str = "") -> Placement | None:
        """Claim the server's GPUs and make its cgroups (SpawnError if no GPU is free)."""
        if self.backend is None:
            return None
        key = cgroup_name(user, server)
        held = self.pool.claim(key, allowance.gpus) if allowance.gpus else []
        try:
            paths = self.backend.create(key, allowance, self.pool.others(key))
        except BaseException:
            self.pool.release(key)
            raise
        return Placement(
            key, allowance, paths, tuple(g.device.path for g in held), tuple(g.index for g in held)
        )

    def command(
        self, placement: Placement, command: list[str], ids: tuple[int, int, list[int]] | None
    ) -> list[str]:
        """``command`` behind the launcher that joins the cgroups and (with ``ids``: uid,
        gid, groups) becomes the user."""
        assert self.backend is not None  # a placement exists only with a backend
        return enter_command(
            command, self.backend.enter_args(placement.paths, placement.allowance), ids
        )

    def environment(self, placement: Placement | None) -> dict[str, str]:
        """CUDA_VISIBLE_DEVICES (when there are GPUs) and, under a memory limit, the OOM
        preference for kernels (singleuser/kernels.py)."""
        if placement is None or self.backend is None:
            return {}
        env = {}
        if self.pool.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(placement.gpu_indexes)
        if placement.allowance.memory is not None:
            env[KERNEL_OOM_ENV] = KERNEL_OOM_SCORE_ADJ
        return env

    def measure(self, placement: Placement | None) -> Measured | None:
        if placement is None or self.backend is None:
            return None
        return self.backend.measure(placement.paths)

    def reclaim(self, placement: Placement) -> None:
        self.pool.reclaim(placement.key, list(placement.gpus))

    def release(self, placement: Placement | None) -> None:
        if placement is None or self.backend is None:
            return
        self.pool.release(placement.key)
        self.backend.remove(placement.paths)

    def sweep(self, keep: set[str]) -> list[str]:
        if self.backend is None:
            return []
        removed = self.backend.sweep(keep)
        if removed:
            log.info("limits: removed the cgroups of ended servers: %s", ", ".join(removed))
        return removed


def check_rule_groups(settings: LimitSettings) -> None:
    for i, rule in enumerate(settings.rules):
        for group in rule.groups:
            try:
                grp.getgrnam(group)
            except KeyError:
                raise ConfigError(
                    f"setting 'limits.rules[{i}].groups' names {group!r}, which is not a "
                    f"group on this machine (getent group {group})."
                ) from None
