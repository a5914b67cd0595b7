"""The limits room: how a local server is held to its memory, CPU, process and GPU limits.

One interface (``base.LimitBackend``), backends chosen once at hub start (``choose.py``):
cgroup v2 (a delegated subtree), cgroup v1 (memory, cpu, cpuacct, pids, devices controllers)
and rlimits (a last resort that cannot limit CPU or a whole server). ``Limiter`` (limiter.py)
is what the hub and the local spawner use: it resolves a person's allowance, hands out GPUs
(gpus.py), creates a server's cgroups and builds the privileged launcher step (enter.py) that
joins them before the server's program runs, so every kernel and child inherits them.
"""
