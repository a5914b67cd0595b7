"""A starting server does not compile rfc3987_syntax's grammar, and an ``iri`` check still gives
the real answer (singleuser/deferred.py). Each case runs in a fresh interpreter: the point is
what importing jupyter does to sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("rfc3987_syntax")  # installed with jupyter_events' jsonschema extra
pytest.importorskip("jupyter_server")

CHECK = """
import jsonschema
checker = jsonschema.Draft7Validator.FORMAT_CHECKER
valid = jsonschema.Draft7Validator({"format": "iri"}, format_checker=checker)
answers = [valid.is_valid(v) for v in ("https://例え.jp/π?q=1#f", "not an iri", "http://[::1]:80/")]
"""
PROBE = """
import json, sys
from courtyard.singleuser.launcher import jupyter_app_class
jupyter_app_class()
compiled = "rfc3987_syntax.syntax_helpers" in sys.modules
""" + CHECK + """
print(json.dumps({"compiled_at_start": compiled, "answers": answers,
                  "compiled_after_check": "rfc3987_syntax.syntax_helpers" in sys.modules}))
"""


def run(code: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def probed() -> dict[str, object]:
    """One server-start import in a fresh interpreter (a second import would prove nothing)."""
    return run(PROBE)


def test_server_start_does_not_compile_the_iri_grammar(probed: dict[str, object]) -> None:
    assert probed["compiled_at_start"] is False


def test_an_iri_check_still_gives_the_real_answers(probed: dict[str, object]) -> None:
    got = probed
    eager = run("import json\n" + CHECK + "print(json.dumps({'answers': answers}))\n")
    assert got["answers"] == eager["answers"]
    assert got["answers"][:2] == [True, False]
    assert got["compiled_after_check"] is True


def test_the_real_module_is_in_place_after_first_use() -> None:
    got = run(
        "import json, sys\n"
        "from courtyard.singleuser.deferred import defer_iri_grammar\n"
        "first = defer_iri_grammar()\n"
        "import rfc3987_syntax\n"
        "ok = rfc3987_syntax.is_valid_syntax('iri', 'https://example.org/')\n"
        "real = sys.modules['rfc3987_syntax']\n"
        "print(json.dumps({'first': first, 'again': defer_iri_grammar(), 'ok': ok,\n"
        "                  'real': type(real).__name__, 'file': bool(real.__file__)}))\n"
    )
    assert got == {"first": True, "again": False, "ok": True, "real": "module", "file": True}
