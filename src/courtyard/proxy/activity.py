"""Which traffic to a user's server is a person's activity, and which is a tab polling alone.

The idle culler stops servers nobody uses; an open JupyterLab tab polls on its own every ten
seconds, so "any request" would keep every forgotten tab's server alive forever. The rules
below come from watching JupyterLab 4 with jupyter_server 2 (docs/culling.md has the log):

HTTP (``request_activity``): a label for requests that count, None for the rest.

- methods that change something count, except ``PUT /lab/api/workspaces/...`` (an idle tab
  saves its layout every ten seconds);
- GETs count only for content a person asked for: pages (``/lab``, ``/lab/tree/...``,
  ``/tree``, ``/notebooks``, ``/edit``, ``/doc``, ``/view``), ``/files/...``, ``/nbconvert/...``
  and ``/api/contents/<path>`` with content - but not the file browser's listing poll
  (``content=1&hash=0`` without ``type``), metadata checks (``content=0``) or checkpoints;
- everything else does not: ``/api/kernels``, ``/api/sessions``, ``/api/terminals``,
  ``/api/kernelspecs``, ``/api/me``, ``/api/status``, ``/lab/api/*`` reads, static files,
  ``/api/events``, WebSocket upgrades themselves, HEAD and OPTIONS.

WebSocket (``FrameScanner``): client-to-server frames only, on kernel channels and terminals.
A kernel message counts when its ``msg_type`` is one a person causes (``execute_request``,
``input_reply``, ``comm_msg``, ``complete_request``, ``inspect_request``), in both the legacy
JSON text protocol and the ``v1.kernel.websocket.jupyter.org`` binary one (JupyterLab 4
negotiates the latter). A terminal message counts when it is ``["stdin", ...]``. Pings, pongs,
``kernel_info_request`` and the rest do not. The scanner reads each frame's header and at most
``PREFIX_MAX`` bytes of the first fragment of each message, never holds the stream, and does a
bounded amount of work per frame.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs

PREFIX_MAX = 1024
KERNEL_TYPES = frozenset(
    {b"execute_request", b"input_reply", b"comm_msg", b"complete_request", b"inspect_request"}
)
PAGES = frozenset({b"lab", b"tree", b"notebooks", b"edit", b"doc", b"view", b"consoles"})
NOT_PAGES = frozenset({b"api", b"extensions", b"static"})
CONTENT = frozenset({b"files", b"nbconvert"})
SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
MSG_TYPE = re.compile(rb'"msg_type"\s*:\s*"(\w{1,40})"')
KERNEL_CHANNELS = re.compile(rb"^api/kernels/[^/]+/channels$")
Classifier = Callable[[int, bytes], "str | None"]


def server_path(path: bytes) -> bytes:
    """``/user/<name>/rest`` -> ``rest`` (still percent-encoded, no query)."""
    parts = path.split(b"/", 3)
    return parts[3] if len(parts) > 3 else b""


def request_activity(method: bytes, target: bytes) -> str | None:
    """A short label if this request to a user's server is a person's activity, else None."""
    path, _, query = target.partition(b"?")
    rest = server_path(path)
    segments = rest.split(b"/", 2)
    head = segments[0]
    second = segments[1] if len(segments) > 1 else b""
    if method not in SAFE_METHODS:
        if head == b"lab" and second == b"api" and rest.startswith(b"lab/api/workspaces"):
            return None
        return f"{method.decode('latin-1')} {label_path(segments)}"
    if method != b"GET":
        return None
    if head in CONTENT or (head in PAGES and second not in NOT_PAGES):
        return f"GET {label_path(segments)}"
    if head == b"api" and second == b"contents" and len(segments) > 2:
        wanted = asks_for_content(query) and not path.endswith(b"/checkpoints")
        return "GET api/contents" if wanted else None
    return None


def asks_for_content(query: bytes) -> bool:
    """An ``/api/contents/<path>`` read a person asked for (not a poll or metadata check)."""
    params = parse_qs(query.decode("latin-1"), max_num_fields=20)
    if params.get("content", ["1"])[0] == "0":
        return False
    return not (params.get("hash", [""])[0] == "0" and "type" not in params)


def label_path(segments: list[bytes]) -> str:
    """The first two path segments, for a log line (never the whole, unbounded path)."""
    return b"/".join(segments[:2]).decode("latin-1")[:60]


def scanner_for(target: bytes) -> FrameScanner | None:
    """A scanner for a WebSocket upgrade to a kernel's channels or a terminal, else None."""
    rest = server_path(target.partition(b"?")[0])
    if KERNEL_CHANNELS.match(rest):
        return FrameScanner(kernel_activity)
    if rest.startswith(b"terminals/websocket/"):
        return FrameScanner(terminal_activity)
    return None


def kernel_activity(opcode: int, prefix: bytes) -> str | None:
    match = MSG_TYPE.search(prefix)
    if match is not None and match.group(1) in KERNEL_TYPES:
        return match.group(1).decode()
    return None


def terminal_activity(opcode: int, prefix: bytes) -> str | None:
    if opcode == 1 and prefix.lstrip(b"[ ").startswith(b'"stdin"'):
        return "terminal input"
    return None


def unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    size = len(data)
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


class FrameScanner:
    """Reads client-to-server WebSocket frames as they pass and reports counted messages.

    ``feed`` returns a label when the bytes it was given completed a message that counts.
    State between calls: the partial frame header (at most 14 bytes), the bytes left in the
    current frame, and a prefix of at most ``PREFIX_MAX`` bytes of a message being inspected.
    Compressed data frames (permessage-deflate, which jupyter_server does not negotiate by
    default) cannot be read cheaply and count as activity: a person is never culled because
    the scanner could not see them. A stream that is not valid client framing makes the
    scanner give up quietly (it never touches the pipe; it only stops finding activity).
    """

    __slots__ = ("_classify", "_head", "_mask", "_opcode", "_prefix", "_skip", "_want", "dead")

    def __init__(self, classify: Classifier) -> None:
        self._classify = classify
        self._head = b""
        self._skip = 0  # payload bytes of the current frame still to pass
        self._want = 0  # prefix bytes still to collect before classifying
        self._prefix = b""
        self._mask = b""
        self._opcode = 0
        self.dead = False

    def feed(self, data: bytes) -> str | None:
        found: str | None = None
        pos, end = 0, len(data)
        while pos < end and not self.dead:
            if self._skip:
                pos, label = self._payload(data, pos, end)
            else:
                pos, label = self._header(data, pos, end)
            found = found or label
        return found

    def _payload(self, data: bytes, pos: int, end: int) -> tuple[int, str | None]:
        take = min(self._skip, end - pos)
        self._skip -= take
        if not self._want:
            return pos + take, None
        grab = min(self._want, take)
        self._prefix += data[pos : pos + grab]
        self._want -= grab
        if self._want:
            return pos + take, None
        prefix, self._prefix = self._prefix, b""
        return pos + take, self._classify(self._opcode, unmask(prefix, self._mask))

    def _header(self, data: bytes, pos: int, end: int) -> tuple[int, str | None]:
        head = self._head + data[pos : pos + 14 - len(self._head)]
        need = 6
        if len(head) >= 2:
            size_code = head[1] & 0x7F
            need += 2 if size_code == 126 else 8 if size_code == 127 else 0
        if len(head) < need:
            self._head = head
            return end, None
        used = need - len(self._head)
        self._head = b""
        return pos + used, self._start_frame(head[:need])

    def _start_frame(self, head: bytes) -> str | None:
        first, second = head[0], head[1]
        if not second & 0x80:  # client frames are always masked: this is not one
            self.dead = True
            return None
        size = second & 0x7F
        if size >= 126:
            size = int.from_bytes(head[2:-4], "big")
        self._mask = head[-4:]
        self._opcode = first & 0x0F
        self._skip = size
        self._want = 0
        if self._opcode not in (1, 2):  # continuation and control frames: pings, pongs, close
            return None
        if first & 0x40:
            return "compressed message"
        self._want = min(size, PREFIX_MAX)
        if size == 0:
            return self._classify(self._opcode, b"")
        return None
