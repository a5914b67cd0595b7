"""Kernels go first when a server runs out of memory.

Under a memory limit the kernel's OOM killer picks the process with the highest score in the
server's cgroup. The hub asks (``COURTYARD_KERNEL_OOM_SCORE_ADJ``, set when the server has a
memory limit) that every kernel this server starts raise its ``oom_score_adj`` (raising needs
no privilege), so a kernel, not jupyter_server and the person's open notebooks, is stopped.

Loaded by jupyter_server (``kernel_manager_class``) only; imports jupyter at import time.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

OOM_SCORE_ENV = "COURTYARD_KERNEL_OOM_SCORE_ADJ"
CLASS_NAME = "courtyard.singleuser.kernels.CourtyardKernelManager"


def prefer_as_oom_victim(pid: int | None, adj: str | None) -> None:
    if pid is None or not adj:
        return
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write(adj)
    except OSError:
        return  # the kernel is already gone, or the kernel refuses: the limit still holds


class CourtyardKernelManager(ServerKernelManager):
    """jupyter_server's kernel manager, plus the OOM preference above."""

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        await super()._async_launch_kernel(kernel_cmd, **kw)
        prefer_as_oom_victim(getattr(self.provisioner, "pid", None), os.environ.get(OOM_SCORE_ENV))
