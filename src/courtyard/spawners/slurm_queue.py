"""Slurm's command-line tools as async calls: sbatch, squeue, scancel.

Every command gets an argument list (never a shell string). As root, ``sbatch`` runs as the
job's owner through ``runuser``, so Slurm charges and runs the job as that user; ``squeue`` and
``scancel`` run as the hub (root may see and cancel any job, a user their own).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from courtyard.errors import SpawnError

COMMAND_TIMEOUT = 30.0  # seconds; slurmctld answers in milliseconds when it is healthy
ACTIVE_STATES = frozenset(
    {"PENDING", "CONFIGURING", "RUNNING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING"}
)
TIME_LIMIT_REASONS = frozenset({"TimeLimit", "Deadline"})
# PENDING for one of these reasons waits forever (until an admin changes the cluster or the
# job): the job asks for more than its partition, account or QOS allows, or names a constraint
# no node has. Slurm accepts such jobs unless EnforcePartLimits is set.
HOPELESS_REASONS = frozenset(
    {
        "PartitionTimeLimit", "PartitionNodeLimit", "PartitionConfig", "BadConstraints",
        "AccountNotAllowed", "QOSNotAllowed", "InvalidAccount", "InvalidQOS",
        "AssocMaxWallDurationPerJobLimit", "QOSMaxWallDurationPerJobLimit",
        "DependencyNeverSatisfied",
    }
)  # fmt: skip
END_REASONS = {  # final job state -> the stop reason the hub records (see web/home.html)
    "TIMEOUT": "timelimit",
    "DEADLINE": "timelimit",
    "PREEMPTED": "preempted",
    "NODE_FAIL": "node_fail",
    "BOOT_FAIL": "node_fail",
    "OUT_OF_MEMORY": "out_of_memory",
    "CANCELLED": "cancelled",
}


@dataclass(frozen=True)
class JobInfo:
    """One line of ``squeue``: the job's state, Slurm's reason for it, and its node."""

    state: str
    reason: str
    node: str

    @property
    def active(self) -> bool:
        """Queued or running - or COMPLETING for a cause not known yet.

        A preempted or cancelled job shows COMPLETING (not PREEMPTED, CANCELLED) until its
        processes are gone, with no reason; its final state comes a few seconds later (at most
        KillWait), so it counts as active until then. A time limit is known at once (reason
        TimeLimit), so such a job has ended."""
        if self.state == "COMPLETING":
            return self.reason not in TIME_LIMIT_REASONS
        return self.state in ACTIVE_STATES

    @property
    def hopeless(self) -> bool:
        """PENDING for a reason that waiting will not fix (see HOPELESS_REASONS)."""
        return self.state == "PENDING" and self.reason in HOPELESS_REASONS

    @property
    def end_reason(self) -> str:
        if self.reason in TIME_LIMIT_REASONS:  # also while still COMPLETING
            return "timelimit"
        return END_REASONS.get(self.state, "exited")


@dataclass(frozen=True)
class CommandResult:
    status: int
    stdout: str
    stderr: str


async def run(argv: list[str], stdin: str = "", env: dict[str, str] | None = None) -> CommandResult:
    """Run ``argv`` with ``stdin``; raise SpawnError if it cannot start or hangs."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd="/",
        )
    except OSError as exc:
        raise SpawnError(
            f"Slurm's {argv[0]!r} cannot be run on the hub's machine: {exc.strerror}.",
            detail=f"{argv!r}: {exc}",
        ) from exc
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), COMMAND_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise SpawnError(
            f"Slurm did not answer {argv[0]!r} within {COMMAND_TIMEOUT:g} seconds.",
            detail=f"{argv!r} timed out",
        ) from None
    code = process.returncode if process.returncode is not None else -1
    return CommandResult(code, out.decode(errors="replace"), err.decode(errors="replace"))


def as_user(user: str, argv: list[str]) -> list[str]:
    """``argv`` run as Unix ``user`` when the hub is root; as the hub itself otherwise."""
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *argv]
    return argv


async def submit(script: str, unix_user: str, env: dict[str, str]) -> str:
    """``sbatch --parsable`` with the script on stdin, as ``unix_user``; the job id."""
    result = await run(as_user(unix_user, ["sbatch", "--parsable"]), stdin=script, env=env)
    job_id = result.stdout.strip().split(";")[0]
    if result.status != 0 or not job_id.isdigit():
        message = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise SpawnError(
            f"Slurm refused the job for {unix_user!r}: {message[0][:300]}",
            detail=f"sbatch exit {result.status}: {result.stderr.strip()[:2000]}",
        )
    return job_id


async def job_info(job_id: str) -> JobInfo | None:
    """The job as ``squeue`` sees it (finished jobs too, for MinJobAge); None once forgotten."""
    argv = ["squeue", "--noheader", "--states=all", "--jobs", job_id, "--format=%T|%r|%N"]
    result = await run(argv)
    line = result.stdout.strip().splitlines()[:1]
    if result.status != 0 or not line:
        return None  # "Invalid job id specified": slurmctld no longer knows it
    state, _, rest = line[0].partition("|")
    reason, _, node = rest.partition("|")
    return JobInfo(state.strip(), reason.strip(), node.strip())


async def cancel(job_id: str) -> None:
    """``scancel`` the job; a job that already ended is not an error."""
    result = await run(["scancel", job_id])
    if result.status != 0 and "already completing or completed" not in result.stderr:
        if "Invalid job id" in result.stderr:
            return
        raise SpawnError(
            f"Slurm could not cancel job {job_id}: {result.stderr.strip()[:300]}",
            detail=f"scancel exit {result.status}: {result.stderr.strip()[:2000]}",
        )
