"""Regular expressions compiled on first use, so importing a module does not compile them.

A run uses few of the module-level patterns (a no-op sync of local folders none of these),
and each compile is a fraction of a millisecond of start-up.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing itself is not imported: start-up stays lean
if TYPE_CHECKING:
    from typing import Any

__all__ = ["LazyPattern"]


class LazyPattern:
    """``re.compile(pattern, flags)`` on the first attribute use, then the compiled
    pattern's ``match``/``search``/... as if this were it (bound on this object then, so
    later calls do not come back through ``__getattr__``)."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_source":
            raise AttributeError(name)
        compiled = re.compile(*self._source)
        for attr in ("match", "fullmatch", "search", "sub", "subn", "split", "findall",
                     "finditer", "pattern", "flags", "groups", "groupindex"):
            setattr(self, attr, getattr(compiled, attr))
        return getattr(compiled, name)
