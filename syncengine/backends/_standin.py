"""Stand-in modules: a name in ``sys.modules`` that loads the real module when first used.

A protocol library imports, at start, modules that a pysync run rarely or never uses (spnego's
CredSSP, paramiko's ``importlib.metadata``). A stand-in holds the few names the import itself
asks for; any other name asked of it imports the real module, which then replaces the
stand-in everywhere it is looked up by name (``sys.modules``, its parent package).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["StandIn", "real", "stand_in", "held"]


def real(name: str) -> types.ModuleType:
    """The real module ``name`` (imported now, replacing its stand-in)."""
    current = sys.modules.get(name)
    if isinstance(current, StandIn):
        del sys.modules[name]
    module = importlib.import_module(name)
    parent, _, child = name.rpartition(".")
    if parent and isinstance(getattr(sys.modules.get(parent), child, None), StandIn):
        setattr(sys.modules[parent], child, module)
    return module


class StandIn(types.ModuleType):
    """A module until used: any attribute it does not hold itself loads the real one."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name not in ("__file__", "__all__"):
            raise AttributeError(name)
        module = real(self.__name__)
        vars(self).update(vars(module))  # who kept the stand-in finds the real names now
        return getattr(module, name)


def stand_in(name: str, owner: str, **attrs: Any) -> bool:
    """Put a stand-in for ``name`` (holding ``attrs``) in ``sys.modules`` and on its parent
    package, unless ``name`` is imported already; True when it was put there. ``owner``
    names the module that explains why (its docstring)."""
    if name in sys.modules:
        return False
    module = StandIn(name, f"Stand-in for {name} until it is used (see {owner}).")
    for key, value in attrs.items():
        setattr(module, key, value)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return True


@contextmanager
def held(name: str, owner: str, **attrs: Any) -> Iterator[None]:
    """A stand-in for ``name`` during the ``with`` block only: afterwards an import of
    ``name`` finds the real module (what kept the stand-in still gets the real names
    through it)."""
    placed = stand_in(name, owner, **attrs)
    try:
        yield
    finally:
        if placed and isinstance(sys.modules.get(name), StandIn):
            del sys.modules[name]
            parent, _, child = name.rpartition(".")
            if isinstance(getattr(sys.modules.get(parent), child, None), StandIn):
                delattr(sys.modules[parent], child)
