"""courtyard.singleuser runs in people's own environments, which have only that package
(through the shim, environments.ensure_shim): it may import nothing else of Courtyard's."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import courtyard.singleuser
from courtyard.spawners.environments import ensure_shim

PACKAGE = Path(courtyard.singleuser.__file__).parent


def courtyard_imports(source: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] == "courtyard")
    return found


def test_the_singleuser_package_imports_only_itself() -> None:
    outside = {
        f"{source.relative_to(PACKAGE)}: {name}"
        for source in PACKAGE.rglob("*.py")
        for name in courtyard_imports(source)
        if name != "courtyard.singleuser" and not name.startswith("courtyard.singleuser.")
    }
    assert not outside, f"singleuser modules import from outside their package: {outside}"


def test_the_launcher_imports_through_the_shim_in_an_interpreter_without_courtyard(
    tmp_path: Path,
) -> None:
    shim = ensure_shim(tmp_path)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import courtyard.singleuser.launcher as m;"
        " assert m.__file__.startswith(sys.argv[1]), m.__file__"
    )
    # /usr/bin/python3 is the system's: Courtyard is not installed there (-s: nor per user)
    done = subprocess.run(
        ["/usr/bin/python3", "-s", "-c", probe, str(shim)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
