"""How a server's kernels run: over unix sockets of their own, and first to go when memory runs out.

Kernels listen on ``ipc`` (unix domain) sockets, not TCP: jupyter_client picks a kernel's five
TCP ports by binding and closing them and lets the kernel bind them a moment later, so with
many servers on one machine another server's kernel or any loopback connection takes a port in
between. The kernel then dies at start (``Address already in use``, a "Kernel does not exist"
404 for the notebook), or its client talks to someone else's kernel, which refuses the
messages (``Invalid Signature``). Unix sockets in the server's private runtime directory
(JUPYTER_RUNTIME_DIR, 0700, the person's own) are named after the kernel, so they cannot
collide, and nobody else can reach them. A socket path must fit in 107 bytes: where the
runtime directory is too deep for that, the kernel uses TCP as jupyter_client would.

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
MAX_IPC_PATH = 107  # bytes: sun_path holds 108 on Linux, with the final NUL
LONGEST_PORT = "-99"  # jupyter_client appends "-<n>" to the prefix, n counting up from 1
ID_CHARS = 8  # of the kernel id (a uuid4): unique enough among one server's kernels


def ipc_prefix(connection_file: str) -> str | None:
    """``<runtime dir>/<first 8 of the kernel id>`` for the kernel whose connection file is
    ``<runtime dir>/kernel-<id>.json``; None when its sockets' paths would not fit."""
    directory, name = os.path.split(os.path.abspath(connection_file))
    kernel_id = name.removeprefix("kernel-").removesuffix(".json")
    prefix = os.path.join(directory, kernel_id[:ID_CHARS])
    if len(os.fsencode(prefix + LONGEST_PORT)) > MAX_IPC_PATH:
        return None
    return prefix


def prefer_as_oom_victim(pid: int | None, adj: str | None) -> None:
    if pid is None or not adj:
        return
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write(adj)
    except OSError:
        return  # the kernel is already gone, or the kernel refuses: the limit still holds


class CourtyardKernelManager(ServerKernelManager):
    """jupyter_server's kernel manager, with the sockets and the OOM preference above."""

    def _transport_default(self) -> str:  # traitlets' dynamic default, by its name
        if not self.connection_file:
            return "tcp"  # jupyter_client's own default, for a manager without a kernel file
        if ipc_prefix(self.connection_file) is not None:
            return "ipc"
        self.log.warning("Kernel over TCP: %s is too deep for unix sockets", self.connection_file)
        return "tcp"

    def _ip_default(self) -> str:
        if self.transport == "ipc":
            prefix = ipc_prefix(self.connection_file)
            if prefix is not None:
                return prefix
        return super()._ip_default()

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        await super()._async_launch_kernel(kernel_cmd, **kw)
        prefer_as_oom_victim(getattr(self.provisioner, "pid", None), os.environ.get(OOM_SCORE_ENV))
