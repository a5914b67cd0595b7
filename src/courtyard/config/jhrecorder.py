"""Evaluate a ``jupyterhub_config.py`` without JupyterHub: a stand-in ``c`` records every
``c.Section.name = value`` assignment, and imports of JupyterHub-family packages that are not
installed get stand-in modules whose names survive (``PAMAuthenticator`` stays a name).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from pathlib import Path
from typing import Any

from courtyard.errors import ConfigError

STUBBED_PACKAGES = (
    "jupyterhub", "oauthenticator", "dockerspawner", "kubespawner", "batchspawner",
    "wrapspawner", "sudospawner", "ldapauthenticator", "nativeauthenticator", "systemdspawner",
)  # fmt: skip


class Section:
    """``c.Spawner``: attribute assignments are recorded into the shared ``values``."""

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", values)

    def __setattr__(self, attr: str, value: Any) -> None:
        self._values[f"{self._name}.{attr}"] = value

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        key = f"{self._name}.{attr}"
        if key not in self._values:  # c.Spawner.environment["X"] = ... mutates a new dict
            self._values[key] = {}
        return self._values[key]


class ConfigRecorder:
    """The ``c`` object: ``c.JupyterHub`` is a Section."""

    values: dict[str, Any]

    def __init__(self) -> None:
        object.__setattr__(self, "values", {})

    def __getattr__(self, name: str) -> Section:
        if name.startswith("__"):
            raise AttributeError(name)
        return Section(name, self.values)


class StandIn:
    """A class or function from a package that is not installed, known by its dotted name."""

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname

    def __getattr__(self, name: str) -> StandIn:
        if name.startswith("__"):
            raise AttributeError(name)
        return StandIn(f"{self.qualname}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> StandIn:
        return self

    def __repr__(self) -> str:
        return self.qualname


class StandInModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return StandIn(f"{self.__name__}.{name}")


class StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname.split(".")[0] not in STUBBED_PACKAGES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = StandInModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def record_config(path: Path) -> dict[str, Any]:
    """Run the config file with a recording ``c``; {"Section.name": value}."""
    try:
        source = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {str(path)!r}: {e.strerror}") from e
    recorder = ConfigRecorder()
    namespace = {
        "c": recorder,
        "get_config": lambda: recorder,
        "load_subconfig": lambda *a, **k: None,
        "__file__": str(path),
        "__name__": "__jupyterhub_config__",
    }
    finder = StandInFinder()
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] in STUBBED_PACKAGES}
    sys.meta_path.append(finder)
    try:
        exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the admin's own file
    except Exception as e:
        raise ConfigError(f"{path} failed to run: {type(e).__name__}: {e}") from e
    finally:
        sys.meta_path.remove(finder)
        for name in [k for k in sys.modules if k.split(".")[0] in STUBBED_PACKAGES]:
            if name not in saved:
                del sys.modules[name]
    values: dict[str, Any] = recorder.values
    return values
