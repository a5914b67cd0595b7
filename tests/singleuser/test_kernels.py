"""CourtyardKernelManager's sockets: unix sockets named after the kernel, TCP when too deep."""

from __future__ import annotations

import json
import os
from pathlib import Path

from courtyard.singleuser.kernels import MAX_IPC_PATH, CourtyardKernelManager
from courtyard.spawners.launch import MAX_SOCKET_PATH

KERNEL_ID = "0123abcd-4567-89ef-0123-456789abcdef"


def manager(runtime: Path) -> CourtyardKernelManager:
    return CourtyardKernelManager(connection_file=str(runtime / f"kernel-{KERNEL_ID}.json"))


def test_a_kernel_listens_on_unix_sockets_named_after_it(tmp_path: Path) -> None:
    km = manager(tmp_path)
    assert (km.transport, km.ip) == ("ipc", str(tmp_path / "0123abcd"))
    km.write_connection_file()
    info = json.loads(Path(km.connection_file).read_text())
    assert (info["transport"], info["ip"]) == ("ipc", str(tmp_path / "0123abcd"))
    ports = sorted(info[f"{name}_port"] for name in ("shell", "iopub", "stdin", "control", "hb"))
    assert ports == [1, 2, 3, 4, 5]


def test_two_kernels_of_one_server_never_share_a_socket(tmp_path: Path) -> None:
    other = CourtyardKernelManager(connection_file=str(tmp_path / "kernel-feedbeef-00.json"))
    assert other.ip != manager(tmp_path).ip


def test_a_runtime_directory_too_deep_for_unix_sockets_gets_tcp(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * (MAX_IPC_PATH - len(str(tmp_path))))
    km = manager(deep)
    assert (km.transport, km.ip) == ("tcp", "127.0.0.1")


def test_the_longest_socket_path_fits_when_the_server_socket_does(tmp_path: Path) -> None:
    """launch.check_socket_path admits a server directory D when D/server.sock has fewer
    than MAX_SOCKET_PATH bytes; its kernels' runtime directory is D/jupyter."""
    server_dir = "/" + "s" * (MAX_SOCKET_PATH - 1 - len("/server.sock") - 1)
    assert len(os.path.join(server_dir, "server.sock")) == MAX_SOCKET_PATH - 1
    km = CourtyardKernelManager(
        connection_file=os.path.join(server_dir, "jupyter", f"kernel-{KERNEL_ID}.json")
    )
    assert km.transport == "ipc"
