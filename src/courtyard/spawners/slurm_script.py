"""The job script of a server: resources from ``[slurm]`` and a profile, through a template.

``JobResources`` is what sbatch is asked for; a profile overrides the ``[slurm]`` values it
sets. The template (built-in ``slurm_job.sh``, or ``[slurm] job_template``) is a Python
``string.Template`` with ``${directives}``, ``${user}``, ``${python}`` and ``${command}``.
"""

from __future__ import annotations

import math
import re
import shlex
import string
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from courtyard.config.limits import Allowance
from courtyard.config.settings import SlurmProfile, SlurmSettings
from courtyard.errors import ConfigError, SpawnError

DIRECTIVE = re.compile(r"^--[a-z][a-z-]*(=[^\n]*)?$")


@dataclass(frozen=True)
class JobResources:
    partition: str = ""
    time: str = ""
    cpus: int = 1
    memory: str = ""
    gres: str = ""
    account: str = ""
    qos: str = ""
    extra_directives: tuple[str, ...] = field(default=())


def base_resources(slurm: SlurmSettings) -> JobResources:
    return JobResources(
        slurm.partition, slurm.time, slurm.cpus, slurm.memory, slurm.gres,
        slurm.account, slurm.qos, tuple(slurm.extra_directives),
    )  # fmt: skip


def with_profile(base: JobResources, profile: SlurmProfile) -> JobResources:
    """``base`` with every value the profile sets (non-empty, non-zero) replaced."""
    changes: dict[str, object] = {
        name: getattr(profile, name)
        for name in ("partition", "time", "cpus", "memory", "gres", "account", "qos")
        if getattr(profile, name)
    }
    extra = base.extra_directives + tuple(profile.extra_directives)
    return replace(base, extra_directives=extra, **changes)  # type: ignore[arg-type]


def find_profile(slurm: SlurmSettings, name: str) -> SlurmProfile | None:
    """The profile called ``name``; "" means the first one (or None when there are none)."""
    if not name:
        return slurm.profiles[0] if slurm.profiles else None
    for profile in slurm.profiles:
        if profile.name == name:
            return profile
    raise SpawnError(
        f"There is no resource profile named {name[:64]!r}. Pick one from the list.",
        detail=f"unknown profile {name[:64]!r}",
    )


def with_limits(base: JobResources, allowed: Allowance | None) -> JobResources:
    """``[limits]`` as sbatch options where ``[slurm]`` leaves them at their defaults:
    memory -> --mem (MiB), cpus -> --cpus-per-task (rounded up), gpus -> --gres=gpu:N."""
    if allowed is None:
        return base
    changes: dict[str, object] = {}
    if allowed.memory is not None and not base.memory:
        changes["memory"] = f"{max(1, allowed.memory // (1024 * 1024))}M"
    if allowed.cpus is not None and base.cpus == 1:
        changes["cpus"] = max(1, math.ceil(allowed.cpus))
    if allowed.gpus and not base.gres:
        changes["gres"] = f"gpu:{allowed.gpus}"
    return replace(base, **changes)  # type: ignore[arg-type]


def resources_for(
    slurm: SlurmSettings, profile_name: str, allowed: Allowance | None = None
) -> JobResources:
    """[slurm], then [limits] where [slurm] says nothing, then the chosen profile."""
    profile = find_profile(slurm, profile_name)
    base = with_limits(base_resources(slurm), allowed)
    return base if profile is None else with_profile(base, profile)


def directives(res: JobResources, user: str, output: Path, workdir: str) -> list[str]:
    """The ``#SBATCH`` lines for ``res``; a malformed extra directive is a ConfigError."""
    options = [f"--job-name=courtyard-{user}", f"--output={output}", f"--chdir={workdir}"]
    options += ["--nodes=1", "--ntasks=1", f"--cpus-per-task={res.cpus}"]
    named = {"partition": res.partition, "time": res.time, "mem": res.memory}
    named |= {"gres": res.gres, "account": res.account, "qos": res.qos}
    options += [f"--{name}={value}" for name, value in named.items() if value]
    for extra in res.extra_directives:
        if not DIRECTIVE.match(extra):
            raise ConfigError(
                f"setting 'slurm.extra_directives' holds {extra!r}; each item must be one "
                f"sbatch option like '--constraint=avx2'."
            )
        options.append(extra)
    return [f"#SBATCH {option}" for option in options]


def load_template(path: str) -> string.Template:
    if not path:
        text = resources.files("courtyard.spawners").joinpath("slurm_job.sh").read_text()
        return string.Template(text)
    try:
        return string.Template(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(
            f"setting 'slurm.job_template' names {path!r}, which cannot be read: {exc.strerror}."
        ) from exc


def render_script(
    template: string.Template, lines: list[str], user: str, command: list[str]
) -> str:
    values = {
        "directives": "\n".join(lines),
        "user": user,
        "python": shlex.quote(command[0]),
        "command": shlex.join(command),
    }
    try:
        return template.substitute(values)
    except (KeyError, ValueError) as exc:
        raise ConfigError(
            f"the Slurm job template has an unknown or malformed placeholder ({exc}); "
            f"use ${{directives}}, ${{user}}, ${{python}}, ${{command}} and $$ for a dollar sign."
        ) from exc
