"""A package's names imported on first use (PEP 562), so importing the package costs only what the
caller touches: ``import indexer.transformer`` loads no faiss, ``indexer.stores.embedded.job_table``
no FAISS either. Each package lists name -> module and sets ``__getattr__ = exports(__name__, table)``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def exports(package: str, table: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``table[name]`` on first use and keeps the
    value in the package, so later lookups skip it."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
