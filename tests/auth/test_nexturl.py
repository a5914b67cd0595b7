"""next= only ever leads to a local path."""

from __future__ import annotations

import pytest

from courtyard.auth.nexturl import safe_next

DEFAULT = "/hub/home"

UNSAFE = [
    None,
    "",
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "http://evil.example/hub/home",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "hub/home",
    "%2F%2Fevil.example",
    "/%2Fevil.example",
    "/%2F/evil.example",
    "%2f%2fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "%5C%5Cevil.example",
    "/%252F%252Fevil.example",
    "%252F%252Fevil.example",
    "/%25252F%25252Fevil.example",
    "/%2525252F%2525252Fevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/hub/home\r\nSet-Cookie: x=1",
    "/%0d%0aSet-Cookie:x=1",
    "/%09/evil.example",
    "/%00",
    "/ /evil.example",
    "\t//evil.example",
    " /hub/home",
    "/hub/\u2028home",
    "/hub/\u00a0home",
    "/hub/\u200bhome",
    "/" + "a" * 3000,
]

SAFE = [
    "/",
    "/hub/home",
    "/user/ada/lab",
    "/user/ada/lab/tree/notes.ipynb?reset=1#cell-3",
    "/user/ada/lab/tree/%E6%95%B0%E6%8D%AE.ipynb",
    "/user/ada/lab/tree/数据.ipynb",
    "/hub/spawn?next=%2Fuser%2Fada",
    "/user/ada/api/kernels;x=y",
    "/./user/ada",
    "/user/ada/../bob",
]


@pytest.mark.parametrize("value", UNSAFE)
def test_unsafe_next_falls_back_to_default(value: str | None) -> None:
    assert safe_next(value, DEFAULT) == DEFAULT


@pytest.mark.parametrize("value", SAFE)
def test_local_paths_are_kept_unchanged(value: str) -> None:
    assert safe_next(value, DEFAULT) == value
