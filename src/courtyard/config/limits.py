"""``[limits]``: memory, CPU, process and GPU limits per person, and what one person gets.

Pure functions of the settings and a person's name and groups (no I/O): the spawners enforce
the result (``spawners/limits``), the spawn form offers the profiles that fit it.

Rules (``[[limits.rules]]``) apply in order to whoever they name (``users``, or members of
``groups``); a later matching rule wins over an earlier one, field by field. In a rule or a
profile, an empty ``memory``, a ``cpus``/``tasks`` of 0 and a ``gpus`` of -1 keep the value
from before. ``memory = "unlimited"`` lifts a limit set earlier.
"""

from __future__ import annotations

import grp
import math
import os
import pwd
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from courtyard.errors import ConfigError

UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
UNLIMITED = "unlimited"


@dataclass(frozen=True)
class LimitRule:
    """One ``[[limits.rules]]`` table: limits for some users or groups."""

    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    memory: str = ""
    cpus: float = 0.0
    tasks: int = 0
    gpus: int = -1


class SizedProfile(Protocol):
    """What limits read of a ``[[profiles]]`` entry (settings.Profile): its resources. An
    empty ``memory``, a ``cpus`` of 0 and a ``gpus`` of -1 keep the person's allowance."""

    @property
    def name(self) -> str: ...
    @property
    def memory(self) -> str: ...
    @property
    def cpus(self) -> float: ...
    @property
    def gpus(self) -> int: ...


@dataclass(frozen=True)
class Allowance:
    """What one server may use; None is no limit."""

    memory: int | None = None  # bytes
    cpus: float | None = None
    tasks: int | None = None
    gpus: int = 0

    @property
    def limited(self) -> bool:
        return self.memory is not None or self.cpus is not None or self.tasks is not None

    def describe(self) -> str:
        parts = [
            f"memory {format_size(self.memory)}" if self.memory is not None else "",
            f"cpus {self.cpus:g}" if self.cpus is not None else "",
            f"tasks {self.tasks}" if self.tasks is not None else "",
            f"gpus {self.gpus}" if self.gpus else "",
        ]
        return ", ".join(p for p in parts if p) or "no limits"


def parse_size(text: str, key: str) -> int | None:
    """ "4G" -> bytes (powers of 1024; K, M, G, T, optionally with iB/B); "unlimited" -> None."""
    if text.strip().lower() == UNLIMITED:
        return None
    match = SIZE.match(text)
    if match is None:
        raise ConfigError(
            f"setting {key!r} must be a size such as '512M' or '4G' (or 'unlimited'), not {text!r}."
        )
    value = int(float(match.group(1)) * UNITS[match.group(2).upper()])
    if value < 1024 * 1024:
        raise ConfigError(f"setting {key!r} must be at least 1M, not {text!r}.")
    return value


def format_size(value: int) -> str:
    """Bytes as the person reads them: 209715200 -> "200 MiB"."""
    for unit, name in ((1024**4, "TiB"), (1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if value >= unit:
            shown = value / unit
            return f"{shown:.0f} {name}" if shown == int(shown) else f"{shown:.1f} {name}"
    return f"{value} B"


def check_cpus(value: float, key: str, *, keep_zero: bool) -> None:
    if value < 0 or math.isnan(value) or math.isinf(value):
        shown = "0 (no limit) or more" if not keep_zero else "0 (keep) or more"
        raise ConfigError(f"setting {key!r} must be {shown}, not {value!r}.")


@dataclass(frozen=True)
class LimitSettings:
    """``[limits]``: resources per server (local spawner; Slurm maps them to sbatch)."""

    memory: str = field(
        default="",
        metadata={"help": "Memory per server, e.g. '4G' (kernels included). Empty: no limit."},
    )
    cpus: float = field(
        default=0.0,
        metadata={"help": "CPU cores per server, e.g. 2 or 0.5. 0: no limit.", "min": 0},
    )
    tasks: int = field(
        default=0,
        metadata={
            "help": "Processes and threads per server (stops fork bombs). 0: no limit.",
            "min": 0,
        },
    )
    gpus: int = field(
        default=0, metadata={"help": "GPUs each server gets (exclusively).", "min": 0}
    )
    gpu_devices: list[str] = field(
        default_factory=list,
        metadata={
            "help": "GPU device nodes to hand out, e.g. ['/dev/nvidia0']. Empty: ask nvidia-smi."
        },
    )
    backend: str = field(
        default="auto",
        metadata={
            "help": "How limits are enforced: 'auto' (cgroup v2, else v1, else rlimits), 'cgroup2', 'cgroup1', 'rlimits'.",
            "choices": ("auto", "cgroup2", "cgroup1", "rlimits"),
        },
    )
    cgroup_parent: str = field(
        default="courtyard",
        metadata={
            "help": "Cgroup under which servers' cgroups are made (Courtyard owns it): relative to the hub's own cgroup in each hierarchy, or from the root if it starts with '/'. Two hubs on one machine need different ones."
        },
    )
    rules: list[LimitRule] = field(
        default_factory=list,
        metadata={
            "help": "Overrides for some users or groups, as [[limits.rules]] tables (users, groups, memory, cpus, tasks, gpus; see docs/admin.md)."
        },
    )


def check_limit_settings(limits: LimitSettings) -> None:
    """Raise ConfigError naming the key of the first bad value (groups are checked at start)."""
    if limits.memory:
        parse_size(limits.memory, "limits.memory")
    for i, rule in enumerate(limits.rules):
        where = f"limits.rules[{i}]"
        if not rule.users and not rule.groups:
            raise ConfigError(f"{where} names no users and no groups; add users = [...] or groups.")
        if rule.memory:
            parse_size(rule.memory, f"{where}.memory")
        check_cpus(rule.cpus, f"{where}.cpus", keep_zero=True)
        if rule.tasks < 0:
            raise ConfigError(
                f"setting '{where}.tasks' must be 0 (keep) or more, not {rule.tasks}."
            )
        if rule.gpus < -1:
            raise ConfigError(f"setting '{where}.gpus' must be -1 (keep) or more, not {rule.gpus}.")


def check_profiles(profiles: Sequence[SizedProfile]) -> None:
    """Raise ConfigError naming the key of the first bad name or size in ``[[profiles]]``."""
    names = [p.name for p in profiles]
    for i, profile in enumerate(profiles):
        where = f"profiles[{i}]"
        if not profile.name or profile.name in names[:i]:
            raise ConfigError(f"setting '{where}.name' must be a unique, non-empty name.")
        if profile.memory:
            parse_size(profile.memory, f"{where}.memory")
        check_cpus(profile.cpus, f"{where}.cpus", keep_zero=True)
        if profile.gpus < -1:
            raise ConfigError(f"setting '{where}.gpus' must be -1 (keep) or more.")


def allowance_for(limits: LimitSettings, user: str, groups: set[str]) -> Allowance:
    """What ``user`` (a member of ``groups``) may use, after every matching rule."""
    memory = parse_size(limits.memory, "limits.memory") if limits.memory else None
    cpus: float | None = limits.cpus or None
    tasks: int | None = limits.tasks or None
    gpus = limits.gpus
    for rule in limits.rules:
        if user not in rule.users and not groups.intersection(rule.groups):
            continue
        if rule.memory:
            memory = parse_size(rule.memory, "limits.rules.memory")
        cpus = rule.cpus or cpus
        tasks = rule.tasks or tasks
        gpus = gpus if rule.gpus < 0 else rule.gpus
    return Allowance(memory, cpus, tasks, gpus)


def fits(profile: SizedProfile, allowed: Allowance) -> bool:
    """Whether ``profile`` asks for no more than ``allowed``."""
    memory = parse_size(profile.memory, "profiles.memory") if profile.memory else None
    if memory is not None and allowed.memory is not None and memory > allowed.memory:
        return False
    if profile.memory and memory is None and allowed.memory is not None:
        return False  # asks for unlimited memory
    if profile.cpus and allowed.cpus is not None and profile.cpus > allowed.cpus:
        return False
    return profile.gpus <= allowed.gpus


def apply_profile(allowed: Allowance, profile: SizedProfile | None) -> Allowance:
    """The limits of a server started with ``profile`` (None: the allowance itself)."""
    if profile is None:
        return allowed
    memory = allowed.memory
    if profile.memory:
        memory = parse_size(profile.memory, "profiles.memory")
    return Allowance(
        memory=memory,
        cpus=profile.cpus or allowed.cpus,
        tasks=allowed.tasks,
        gpus=allowed.gpus if profile.gpus < 0 else profile.gpus,
    )


def sized(profile: SizedProfile) -> bool:
    """Whether ``profile`` asks for any resources of its own."""
    return bool(profile.memory or profile.cpus or profile.gpus >= 0)


def configured(limits: LimitSettings, profiles: Sequence[SizedProfile] = ()) -> bool:
    """Whether the admin asked for any limit (without any, servers start as before)."""
    return any(sized(p) for p in profiles) or bool(
        limits.memory
        or limits.cpus
        or limits.tasks
        or limits.gpus
        or limits.rules
        or limits.gpu_devices
    )


def unix_groups(user: str) -> set[str]:
    """The names of ``user``'s Unix groups (none for a name with no account)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return set()
    names = set()
    for gid in os.getgrouplist(user, entry.pw_gid):
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return names


P = TypeVar("P", bound=SizedProfile)


def offered_to(limits: LimitSettings, profiles: Sequence[P], user: str) -> list[P]:
    """The profiles ``user`` may pick: those that fit what the rules allow them."""
    if not any(sized(p) for p in profiles):
        return list(profiles)
    allowed = allowance_for(limits, user, unix_groups(user))
    return [p for p in profiles if fits(p, allowed)]
