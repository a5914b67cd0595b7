"""What counts as a person's activity: the requests JupyterLab 4 really makes (docs/culling.md)
and real WebSocket frames (masked by the websockets library, kernel messages serialized by
jupyter_server's own v1 serializer)."""

from __future__ import annotations

import json

import pytest
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
from websockets.frames import Frame, Opcode

from courtyard.proxy.activity import (
    FrameScanner,
    kernel_activity,
    request_activity,
    scanner_for,
    terminal_activity,
)

U = b"/user/ada/"


@pytest.mark.parametrize(
    ("method", "target"),
    [  # an idle JupyterLab tab, every ten seconds
        (b"GET", b"api/kernels?1795451579385"),
        (b"GET", b"api/sessions?1795451579396"),
        (b"GET", b"api/terminals?1795451579390"),
        (b"GET", b"lab/api/workspaces?1795451579405"),
        (b"GET", b"api/contents?content=1&hash=0&1795451582502"),
        (b"GET", b"api/contents/sub/dir?content=1&hash=0&1795451582502"),
        (b"PUT", b"lab/api/workspaces/default?1795451583027"),
        (b"GET", b"api/me?1795451691494"),
        (b"GET", b"api/kernelspecs?1795451691502"),
        # loading the page's parts, metadata checks, the hub's and others' status checks
        (b"GET", b"static/lab/main.efd36b46f3b45eb8.js?v=efd36b46f3b45eb8"),
        (b"GET", b"lab/api/settings?1795451568325"),
        (b"GET", b"lab/extensions/jupyterlab_pygments/static/remoteEntry.js"),
        (b"GET", b"api/contents/Untitled.ipynb?content=0&hash=0&1795451648507"),
        (b"GET", b"api/contents/Untitled.ipynb/checkpoints?1795451648817"),
        (b"GET", b"api/status"),
        (b"GET", b"api/events/subscribe"),
        (b"GET", b"api/kernels/4fe4/channels?session_id=8e42"),
        (b"HEAD", b"files/data.csv"),
        (b"OPTIONS", b"api/contents"),
    ],
)
def test_polling_and_plumbing_do_not_count(method: bytes, target: bytes) -> None:
    assert request_activity(method, U + target) is None


@pytest.mark.parametrize(
    ("method", "target", "label"),
    [
        (b"GET", b"lab?reset", "GET lab"),
        (b"GET", b"lab/tree/work/a.ipynb", "GET lab/tree"),
        (b"GET", b"tree", "GET tree"),
        (b"GET", b"files/data.csv", "GET files/data.csv"),
        (b"GET", b"nbconvert/html/a.ipynb?download=true", "GET nbconvert/html"),
        (
            b"GET",
            b"api/contents/Untitled.ipynb?type=notebook&content=1&hash=1&contentProviderId=x",
            "GET api/contents",
        ),
        (b"GET", b"api/contents/notes.txt", "GET api/contents"),
        (b"POST", b"api/contents?1795451648328", "POST api/contents"),
        (b"PUT", b"api/contents/Untitled.ipynb", "PUT api/contents"),
        (b"POST", b"api/sessions", "POST api/sessions"),
        (b"PATCH", b"api/sessions/064c", "PATCH api/sessions"),
        (b"DELETE", b"api/kernels/4fe4", "DELETE api/kernels"),
        (b"PUT", b"lab/api/settings/@jupyterlab/x", "PUT lab/api"),
    ],
)
def test_a_persons_requests_count(method: bytes, target: bytes, label: str) -> None:
    assert request_activity(method, U + target) == label


def test_labels_are_bounded() -> None:
    label = request_activity(b"POST", U + b"x" * 10_000 + b"/y")
    assert label is not None
    assert len(label) < 70


def kernel_message(msg_type: str, code: str = "") -> dict[str, object]:
    header = {"msg_id": "m1", "msg_type": msg_type, "session": "s1", "version": "5.3"}
    header |= {"username": "ada", "date": "2026-01-01T00:00:00Z"}
    return {
        "header": header,
        "parent_header": {},
        "metadata": {},
        "content": {"code": code},
        "buffers": [],
        "channel": "shell",
    }


def v1(msg_type: str, code: str = "") -> bytes:
    pack = lambda part: json.dumps(part, separators=(",", ":")).encode()  # noqa: E731 - as JS does
    return bytes(serialize_msg_to_ws_v1(kernel_message(msg_type, code), "shell", pack))


def legacy(msg_type: str, code: str = "") -> bytes:
    return json.dumps(kernel_message(msg_type, code)).encode()


def frame(payload: bytes, opcode: Opcode = Opcode.BINARY, *, fin: bool = True) -> bytes:
    return Frame(opcode, payload, fin=fin).serialize(mask=True)


def scan(data: bytes, scanner: FrameScanner | None = None, step: int = 0) -> list[str]:
    scanner = scanner or FrameScanner(kernel_activity)
    chunks = [data] if step == 0 else [data[i : i + step] for i in range(0, len(data), step)]
    return [label for chunk in chunks if (label := scanner.feed(chunk)) is not None]


def test_v1_execute_request_counts() -> None:
    assert scan(frame(v1("execute_request", "import time; time.sleep(100)"))) == ["execute_request"]


def test_legacy_json_execute_request_counts() -> None:
    assert scan(frame(legacy("execute_request", "1+1"), Opcode.TEXT)) == ["execute_request"]


@pytest.mark.parametrize(
    "msg_type", ["kernel_info_request", "comm_info_request", "history_request", "shutdown_reply"]
)
def test_plumbing_kernel_messages_do_not_count(msg_type: str) -> None:
    assert scan(frame(v1(msg_type)) + frame(legacy(msg_type), Opcode.TEXT)) == []


def test_pings_pongs_and_close_do_not_count() -> None:
    data = frame(b"", Opcode.PING) + frame(b"x", Opcode.PONG) + frame(b"\x03\xe8", Opcode.CLOSE)
    assert scan(data) == []


@pytest.mark.parametrize("step", [1, 2, 3, 7, 13, 100])
def test_frames_split_anywhere_are_still_read(step: int) -> None:
    data = frame(v1("kernel_info_request")) + frame(b"", Opcode.PING)
    data += frame(v1("execute_request", "x" * 300))
    assert scan(data, step=step) == ["execute_request"]


def test_large_frames_are_skipped_not_buffered() -> None:
    big = v1("execute_request", "y" * 200_000)  # 64-bit length form
    huge_text = frame(b"z" * 70_000, Opcode.TEXT)  # 16-bit length form is under 65536
    assert scan(huge_text + frame(big) + frame(v1("comm_msg")), step=4096) == [
        "execute_request",
        "comm_msg",
    ]


def test_a_message_split_into_fragments_is_read_from_its_first() -> None:
    payload = v1("execute_request", "a" * 2000)
    first = frame(payload[:100], fin=False)
    rest = Frame(Opcode.CONT, payload[100:]).serialize(mask=True)
    assert scan(first + rest) == []  # only the first fragment is read: 100 bytes cut the header
    assert scan(frame(payload[:400], fin=False) + rest) == ["execute_request"]


def test_unmasked_frames_stop_the_scanner() -> None:
    scanner = FrameScanner(kernel_activity)
    unmasked = Frame(Opcode.BINARY, v1("execute_request")).serialize(mask=False)
    assert scan(unmasked + frame(v1("execute_request")), scanner) == []
    assert scanner.dead


def test_compressed_messages_count() -> None:
    data = bytearray(frame(b"\x00\x01compressed"))
    data[0] |= 0x40
    assert scan(bytes(data)) == ["compressed message"]


def test_terminal_input_counts_and_resizes_do_not() -> None:
    stdin = frame(b'["stdin", "ls\\r"]', Opcode.TEXT)
    resize = frame(b'["set_size", 24, 80, 600, 800]', Opcode.TEXT)
    scanner = FrameScanner(terminal_activity)
    assert scan(resize, scanner) == []
    assert scan(stdin, scanner) == ["terminal input"]


def test_scanners_only_for_kernel_channels_and_terminals() -> None:
    assert scanner_for(U + b"api/kernels/4fe4/channels?session_id=1") is not None
    assert scanner_for(U + b"terminals/websocket/1") is not None
    assert scanner_for(U + b"api/events/subscribe") is None
    assert scanner_for(U + b"api/collaboration/room/x") is None
