"""The SMB backend imports spnego without its CredSSP proxy (and cryptography's x509)."""

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


def test_smb_backend_import_skips_credssp_and_x509_until_asked() -> None:
    """A fresh interpreter importing the backend has no x509 or spnego.tls loaded; asking
    spnego for CredSSP afterwards still gives the real proxy, and NTLM works."""
    res = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:4] == ["no-x509", "no-tls", "spnego._credssp CredSSPProxy",
                                          "NTLMProxy True"]
