"""Import spnego without its CredSSP proxy until CredSSP is really asked for.

``spnego.auth`` imports ``spnego._credssp`` at start, which imports ``spnego.tls`` and through
it ``cryptography.x509`` (~30 ms here, a tenth of a no-op sync to an SMB share). An SMB session
authenticates with NTLM or Kerberos only, never CredSSP. Importing this module (the SMB
backend does, before smbclient) puts a stand-in ``spnego._credssp`` in ``sys.modules`` whose
``CredSSPProxy``, when instantiated, imports the real module and builds the real proxy; any
other name asked of the stand-in does the same. When spnego was imported already, nothing
changes.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_NAME = "spnego._credssp"


def _real() -> types.ModuleType:
    """The real ``spnego._credssp`` (imported now, replacing the stand-in)."""
    current = sys.modules.get(_NAME)
    if isinstance(current, _StandIn):
        del sys.modules[_NAME]
    module = importlib.import_module(_NAME)
    spnego = sys.modules.get("spnego")
    if spnego is not None:
        spnego._credssp = module  # type: ignore[attr-defined]
    return module


class _StandIn(types.ModuleType):
    """``spnego._credssp`` until used: any attribute but ``CredSSPProxy`` loads the real one."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real(), name)


class CredSSPProxy:
    """Stands for ``spnego._credssp.CredSSPProxy``: instantiating it builds the real one."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real().CredSSPProxy(*args, **kwargs)


def install() -> None:
    """Put the stand-in in place unless spnego (or its CredSSP module) is loaded already."""
    if "spnego" in sys.modules or _NAME in sys.modules:
        return
    stand_in = _StandIn(_NAME, __doc__)
    stand_in.CredSSPProxy = CredSSPProxy  # type: ignore[attr-defined]
    sys.modules[_NAME] = stand_in


install()
