"""pysync's engine: rclone's copy and sync semantics over local paths and fsspec backends.

The public API is re-exported here; implementation modules are private to the package.
Imports are lazy so ``pysync --version`` starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "copy",
    "sync",
    "plan",
    "check",
    "list_files",
    "Filter",
    "FilterOptions",
    "SyncOptions",
    "ListOptions",
    "CheckOptions",
    "RunResult",
    "CheckResult",
    "Stats",
    "errors",
]

TYPE_CHECKING = False  # typing itself is not imported: start-up stays lean
if TYPE_CHECKING:
    from typing import Any

    from . import errors
    from .accounting import Stats
    from .api import check, copy, list_files, plan, sync
    from .checker import CheckOptions, CheckResult
    from .engine import RunResult
    from .filter import Filter
    from .options import FilterOptions, ListOptions, SyncOptions

_LAZY = {
    "copy": ("api", "copy"),
    "sync": ("api", "sync"),
    "plan": ("api", "plan"),
    "check": ("api", "check"),
    "list_files": ("api", "list_files"),
    "SyncOptions": ("options", "SyncOptions"),
    "CheckOptions": ("checker", "CheckOptions"),
    "RunResult": ("engine", "RunResult"),
    "CheckResult": ("checker", "CheckResult"),
    "Stats": ("accounting", "Stats"),
    "Filter": ("filter", "Filter"),
    "FilterOptions": ("options", "FilterOptions"),
    "ListOptions": ("options", "ListOptions"),
    "errors": ("errors", None),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'syncengine' has no attribute {name!r}") from None
    import importlib

    mod = importlib.import_module(f".{module}", __name__)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value
