"""Third-party imports that a starting server pays for and never uses, deferred to first use.

jupyter_server imports jupyter_events, which imports jsonschema's format checkers. When
``rfc3987-syntax`` is installed (``jsonschema[format-nongpl]``, which nbformat and
jupyter_events ask for), jsonschema imports it for its ``iri`` and ``iri-reference`` checks,
and that import compiles 39 Earley parsers with Lark: 1.1-1.4 s of CPU, about 70 % of a
JupyterLab server's start on the hub's machine (py-spy: 287 of 409 samples). No schema in
jupyter_server, jupyter_events or JupyterLab uses either format; forty people logging in at
9:00 paid 40 of those seconds on two cores. Upstream: python-jsonschema/jsonschema#1428.

``defer_iri_grammar()`` puts a stand-in module under that name before jupyter is imported. It
answers ``is_valid_syntax`` (all jsonschema takes from it) and any other attribute by importing
the real module on first use, once, under a lock; so an ``iri`` check still gives the real
answer, it is only paid for by whoever asks for one. Nothing happens when the package is not
installed (jsonschema then skips those checks itself) or has been imported already.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

IRI_GRAMMAR = "rfc3987_syntax"


class DeferredModule(types.ModuleType):
    """Stands in for module ``name`` until one of its attributes is asked for."""

    def __init__(self, name: str) -> None:
        super().__init__(name, f"{name}, imported on first use (courtyard.singleuser.deferred)")
        self._lock = threading.Lock()
        self._real: types.ModuleType | None = None

    def _load(self) -> types.ModuleType:
        with self._lock:
            if self._real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                self._real = importlib.import_module(self.__name__)
            return self._real

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # import machinery probing the stand-in
            raise AttributeError(attr)
        return getattr(self._load(), attr)

    def is_valid_syntax(self, term: str, value: str) -> bool:
        """rfc3987_syntax.is_valid_syntax, loading the grammar on the first call."""
        return bool(self._load().is_valid_syntax(term, value))


def defer_iri_grammar() -> bool:
    """Defer rfc3987_syntax's import (see the module's doc); True when it was deferred."""
    if IRI_GRAMMAR in sys.modules or importlib.util.find_spec(IRI_GRAMMAR) is None:
        return False
    sys.modules[IRI_GRAMMAR] = DeferredModule(IRI_GRAMMAR)
    return True
