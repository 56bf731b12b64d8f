"""Import smbprotocol's authentication stack without the modules an SMB session never uses.

An NTLM or Kerberos session set-up needs little of what ``spnego`` and ``smbprotocol`` import
at start (measured with ``python -X importtime``, a tenth or more of a no-op sync to an SMB
share). Importing this module (the SMB backend does, before ``smbclient``) puts stand-ins in
``sys.modules`` for:

- ``spnego._credssp``: CredSSP (which imports ``spnego.tls`` and ``cryptography.x509``);
  its ``CredSSPProxy`` builds the real proxy when instantiated;
- ``spnego._kerberos``: Kerberos message structures that spnego only uses to describe a token
  for debugging (``KerberosV5Msg.unpack``);
- ``logging.config``: spnego configures its logging from a file named by
  ``PYSPNEGO_LOG_CFG`` (when unset, it is never used);
- ``inspect``: smbprotocol's structures ask ``inspect.isclass`` only.

After smbclient is imported, :func:`no_default_backend` makes smbprotocol and spnego pass
``backend=None`` to cryptography (which ignores the argument since 3.1) instead of calling
``default_backend()``, which imports cryptography's whole OpenSSL backend module (RSA, EC,
padding...) on the first session set-up.

Any other name asked of a stand-in imports the real module, which then replaces the stand-in
everywhere it is looked up by name (``sys.modules``, its parent package). A module already
imported is left alone, as is everything when spnego was imported already.
"""

from __future__ import annotations

import sys
from typing import Any

from ._standin import real as _real
from ._standin import stand_in


class CredSSPProxy:
    """Stands for ``spnego._credssp.CredSSPProxy``: instantiating it builds the real one."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real("spnego._credssp").CredSSPProxy(*args, **kwargs)


class _KerberosV5Msg:
    """Stands for ``spnego._kerberos.KerberosV5Msg``: any attribute (``unpack``) is the real
    class's."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_real("spnego._kerberos").KerberosV5Msg, name)


def _isclass(obj: object) -> bool:
    """``inspect.isclass``."""
    return isinstance(obj, type)


def _stand_in(name: str, **attrs: Any) -> None:
    stand_in(name, __name__, **attrs)


def _no_backend() -> None:
    """What ``default_backend()`` is to cryptography 3.1 and later: nothing it uses."""
    return None


def no_default_backend() -> None:
    """Let smbprotocol's and spnego's NTLM, key derivation and signing code skip
    ``cryptography.hazmat.backends.default_backend`` (call after importing smbclient)."""
    for name in ("smbprotocol.session", "smbprotocol.connection", "spnego._ntlm_raw.crypto"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "default_backend"):
            module.default_backend = _no_backend  # type: ignore[attr-defined]


def install() -> None:
    """Put the stand-ins in place unless spnego is loaded already."""
    if "spnego" in sys.modules:
        return
    _stand_in("spnego._credssp", CredSSPProxy=CredSSPProxy)
    _stand_in("spnego._kerberos", KerberosV5Msg=_KerberosV5Msg())
    if "logging" in sys.modules:  # the backend imports logging first
        _stand_in("logging.config")
    _stand_in("inspect", isclass=_isclass)


install()
