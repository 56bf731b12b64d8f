"""Values of rclone.conf options: obscured secrets (rclone's obscure/reveal) and Go booleans."""

from __future__ import annotations

import base64
import binascii
import os

from .errors import ConfigError
from .lazyre import LazyPattern

__all__ = ["reveal", "obscure", "parse_bool"]

# rclone's fixed, public key for obscuring (not encrypting) passwords in config files
_OBSCURE_KEY = bytes.fromhex("9c935b48730a554d6bfd7c63c886a92bd390198eb8128afbf4de162b8b95f638")
_B64URL = LazyPattern(r"[A-Za-z0-9_-]*\Z")


def _aes_ctr(iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    ctx = Cipher(algorithms.AES(_OBSCURE_KEY), modes.CTR(iv)).encryptor()
    return ctx.update(data) + ctx.finalize()


def reveal(value: str) -> str:
    """The clear text of an rclone-obscured ``value`` (rclone's ``obscure.Reveal``).

    Raises ValueError, worded as rclone, when ``value`` is not an obscured string; the
    message never contains ``value``.
    """
    if not _B64URL.match(value):
        raise ValueError("base64 decode failed when revealing password - is it obscured?")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("base64 decode failed when revealing password - is it obscured?"
                         ) from None
    if len(raw) < 16:
        raise ValueError("input too short when revealing password - is it obscured?")
    try:
        return _aes_ctr(raw[:16], raw[16:]).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("revealed value is not UTF-8 - is it obscured?") from None


def obscure(value: str) -> str:
    """``value`` obscured as rclone's ``obscure.Obscure`` does (random IV, AES-CTR)."""
    iv = os.urandom(16)
    return base64.urlsafe_b64encode(iv + _aes_ctr(iv, value.encode("utf-8"))).decode(
        "ascii").rstrip("=")


def parse_bool(key: str, value: str) -> bool:
    """A config value as Go's strconv.ParseBool reads it; ConfigError in rclone's words."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ConfigError(f'couldn\'t parse config item "{key}" = "{value}" as bool: '
                      f'parsing "{value}" as bool failed')
