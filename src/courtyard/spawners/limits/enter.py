"""``python -m courtyard.spawners.limits.enter``: the privileged step before a server runs.

Run by the hub (as root) in place of the server's command::

    python -m courtyard.spawners.limits.enter --join /sys/fs/cgroup/memory/.../alice/cgroup.procs \\
        [--rlimit AS=209715200] [--oom-score-adj -500] --uid 1001 --gid 1001 --groups 1001,27 \\
        -- python -m courtyard.singleuser ...

It writes its own pid into each cgroup (so the server, every kernel and every child start
inside them, with no window in which they are not), sets the rlimits and OOM score, drops to
the user's uid and groups, and execs the command: the server keeps this process's pid.
Only the standard library is imported, to keep the step cheap (see bench/limits.py).
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Sequence

EXIT_CANNOT_ENTER = 71  # EX_OSERR: the limits could not be applied; the server did not run


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
        if "--uid" in values:
            groups = [int(g) for g in values.get("--groups", [""])[0].split(",") if g]
            os.setgroups(groups)
            os.setgid(int(values["--gid"][0]))
            os.setuid(int(values["--uid"][0]))
    except OSError as exc:
        print(f"courtyard-enter: cannot apply the limits: {exc}", file=sys.stderr)
        return EXIT_CANNOT_ENTER
    try:
        os.execvp(command[0], command)  # noqa: S606 - an argument list, never a shell
    except OSError as exc:
        print(f"courtyard-enter: cannot run {command[0]!r}: {exc}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
