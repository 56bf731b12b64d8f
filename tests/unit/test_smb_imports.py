"""The SMB backend imports spnego without its CredSSP proxy (and cryptography's x509), its
Kerberos debugging structures, logging.config, inspect and cryptography's OpenSSL backend
module; each still works when asked for."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
import syncengine.backends.smb
print("x509" if "cryptography.x509" in sys.modules else "no-x509")
print("tls" if "spnego.tls" in sys.modules else "no-tls")
import spnego
ctx = spnego.client("user", "secret", hostname="h", protocol="credssp")
print(type(ctx).__module__, type(ctx).__name__)
ntlm = spnego.client("user", "secret", hostname="h", protocol="ntlm")
print(type(ntlm).__name__, len(ntlm.step()) > 0)
"""


_LATER = """
import sys
import syncengine.backends.smb
from syncengine.backends._standin import StandIn
lean = [m for m in ("inspect", "logging.config", "spnego._kerberos")
        if not isinstance(sys.modules[m], StandIn)]
print("real:", lean, "cryptography.hazmat.backends.openssl.backend" in sys.modules)
import inspect
import logging.config
from spnego import _spnego
print(inspect.isclass(int), inspect.isclass(1), callable(inspect.signature))
print(callable(logging.config.dictConfig), callable(_spnego.KerberosV5Msg.unpack))
import smbprotocol.session
smbprotocol.session.default_backend()  # nothing: cryptography ignores its backend argument
print("loaded:", all(type(sys.modules[m]) is not StandIn
                     for m in ("inspect", "logging.config", "spnego._kerberos")))
"""


def test_smb_backend_import_leaves_out_what_a_session_never_uses() -> None:
    """After importing the backend inspect, logging.config and spnego's Kerberos structures
    are stand-ins and cryptography's OpenSSL backend module is not loaded; asked for, each
    stand-in answers (its real module loaded then)."""
    res = subprocess.run([sys.executable, "-c", _LATER], capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:4] == ["real: [] False", "True False True", "True True",
                                          "loaded: True"]


def test_smb_backend_import_skips_credssp_and_x509_until_asked() -> None:
    """A fresh interpreter importing the backend has no x509 or spnego.tls loaded; asking
    spnego for CredSSP afterwards still gives the real proxy, and NTLM works."""
    res = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:4] == ["no-x509", "no-tls", "spnego._credssp CredSSPProxy",
                                          "NTLMProxy True"]
