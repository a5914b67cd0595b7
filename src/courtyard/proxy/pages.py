"""The few responses the data plane writes itself: framing errors and upstream faults.

Everything a person should read at length (login, 403, "server not running") comes from the
control plane; these pages stay small and carry no request data.
"""

from __future__ import annotations

import json

REASONS = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

MESSAGES = {
    400: "The request was malformed or used an ambiguous path or framing.",
    405: "This method is not supported here.",
    414: "The address is too long (at most 16 KiB).",
    431: (
        "The request's headers are too large: the hub accepts 16 KiB per header line and "
        "64 KiB in all. Too many cookies for this site is the usual cause; clear them and "
        "try again."
    ),
    502: "The server behind this address did not answer. It may have stopped; try again.",
    503: "The hub is shutting down. Try again in a moment.",
    504: "The server behind this address took too long to answer.",
}


def reason(status: int) -> bytes:
    return REASONS.get(status, "Error").encode()


def wants_json(accept: bytes | None) -> bool:
    if not accept:
        return False
    low = accept.lower()
    at_json = low.find(b"application/json")
    if at_json < 0:
        return False
    at_html = low.find(b"text/html")
    return at_html < 0 or at_json < at_html


def error_response(status: int, *, as_json: bool, keep_alive: bool) -> bytes:
    message = MESSAGES.get(status, REASONS.get(status, "Error"))
    if as_json:
        body = json.dumps({"status": status, "message": message}).encode()
        ctype = b"application/json"
    else:
        title = f"{status} {REASONS.get(status, 'Error')}"
        body = (
            f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{message}</p></body></html>\n"
        ).encode()
        ctype = b"text/html; charset=utf-8"
    head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
        status,
        reason(status),
        ctype,
        len(body),
    )
    connection = b"Cache-Control: no-store\r\n" + (b"" if keep_alive else b"Connection: close\r\n")
    return head + connection + b"\r\n" + body
