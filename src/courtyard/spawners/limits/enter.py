"""``python -m courtyard.spawners.limits.enter``: the privileged step before a server runs.

Run by the hub (as root) in place of the server's command, with limits or without::

    python -m courtyard.spawners.limits.enter --join /sys/fs/cgroup/memory/.../alice/cgroup.procs \\
        [--rlimit AS=209715200] [--oom-score-adj -500] --uid 1001 --gid 1001 --groups 1001,27 \\
        -- python -m courtyard.singleuser ...

It writes its own pid into each cgroup (so the server, every kernel and every child start
inside them, with no window in which they are not), sets the rlimits and OOM score, drops to
the user's uid and groups, and execs the command: the server keeps this process's pid.
Only the standard library is imported, to keep the step cheap (see bench/limits.py).

Why a step of its own even without limits: ``subprocess.Popen(user=...)`` makes CPython fork
the hub (3.11 uses vfork only when no uid, gid or groups change). A fork copies the page
tables of a hub of 100+ MiB and blocks its event loop until the child has dropped its
privileges and exec'd: about 7 ms on a quiet machine, tens of milliseconds when forty servers
start at once on two cores. Without user= CPython vforks, and the loop waits ~0.3 ms.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Sequence

EXIT_CANNOT_ENTER = 71  # EX_OSERR: the limits could not be applied; the server did not run
EXIT_CANNOT_BECOME = 77  # EX_NOPERM: setuid/setgid/setgroups to the user failed
EXIT_CANNOT_RUN = 127  # as a shell says: the command could not be executed
CANNOT_RUN = "courtyard-enter: cannot run"  # the log line the spawner recognises
MODULE = "courtyard.spawners.limits.enter"


def enter_command(
    command: Sequence[str],
    options: Sequence[str] = (),
    ids: tuple[int, int, Sequence[int]] | None = None,
) -> list[str]:
    """``command`` behind this step, run by the hub's own interpreter (isolated: the
    server's environment variables do not reach it): ``options`` (--join, --rlimit,
    --oom-score-adj) first, then, with ``ids`` (uid, gid, groups), becoming that user."""
    step = [sys.executable, "-I", "-m", MODULE, *options]
    if ids is not None:
        uid, gid, groups = ids
        step += ["--uid", str(uid), "--gid", str(gid), "--groups", ",".join(map(str, groups))]
    return [*step, "--", *command]


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if "--" not in args:
        print("courtyard-enter: usage: enter [options] -- command ...", file=sys.stderr)
        return 64
    split = args.index("--")
    options, command = args[:split], args[split + 1 :]
    values: dict[str, list[str]] = {}
    for name, value in zip(options[::2], options[1::2], strict=False):
        values.setdefault(name, []).append(value)
    try:
        for procs in values.get("--join", []):
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        for item in values.get("--rlimit", []):
            name, _, limit = item.partition("=")
            number = getattr(resource, f"RLIMIT_{name}")
            resource.setrlimit(number, (int(limit), int(limit)))
        for adj in values.get("--oom-score-adj", []):
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(adj)
    except OSError as exc:
        print(f"courtyard-enter: cannot apply the limits: {exc}", file=sys.stderr)
        return EXIT_CANNOT_ENTER
    if "--uid" in values:
        try:
            groups = [int(g) for g in values.get("--groups", [""])[0].split(",") if g]
            os.setgroups(groups)
            os.setgid(int(values["--gid"][0]))
            os.setuid(int(values["--uid"][0]))
        except OSError as exc:
            uid = values["--uid"][0]
            print(f"courtyard-enter: cannot become uid {uid}: {exc}", file=sys.stderr)
            return EXIT_CANNOT_BECOME
    try:
        os.execvp(command[0], command)  # noqa: S606 - an argument list, never a shell
    except OSError as exc:
        print(f"{CANNOT_RUN} {command[0]!r}: {exc}", file=sys.stderr)
    return EXIT_CANNOT_RUN


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
