"""Host key checks of the sftp backend: known_hosts files (OpenSSH's matching), pinned keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import threading

import paramiko

from ... import log
from ...errors import ConfigError
from ...record import record
from .errors import (
    HostKeyError,
)


@record(frozen=True)
class _KnownKey:
    """One known_hosts line: ``marker`` is "", ``@revoked`` or ``@cert-authority``."""

    marker: str
    patterns: str
    keytype: str
    blob: bytes
    file: str
    line: int


def _read_known_hosts(path: str) -> list[_KnownKey]:
    """The parsable lines of one known_hosts file ([] when it does not exist)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as err:
        raise ConfigError(f'couldn\'t read known_hosts file "{path}": '
                          f"{err.strerror or err}") from None
    out: list[_KnownKey] = []
    for n, raw in enumerate(lines, 1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = ""
        if fields[0].startswith("@"):
            marker, fields = fields[0], fields[1:]
        if len(fields) < 3:
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            log.debug(None, f"{path}:{n}: skipping malformed known_hosts line")
            continue
        out.append(_KnownKey(marker, fields[0], fields[1], blob, path, n))
    return out


def _wildcard(pattern: str, text: str) -> bool:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.IGNORECASE) is not None


def _host_matches(patterns: str, host_id: str) -> bool:
    """OpenSSH's known_hosts host matching: hashed ``|1|salt|hash``, wildcards, ``!``."""
    if patterns.startswith("|1|"):
        parts = patterns.split("|")
        if len(parts) != 4:
            return False
        try:
            salt, digest = base64.b64decode(parts[2]), base64.b64decode(parts[3])
        except (binascii.Error, ValueError):
            return False
        mac = hmac.new(salt, host_id.encode("utf-8"), hashlib.sha1).digest()
        return hmac.compare_digest(mac, digest)
    matched = False
    for pat in patterns.split(","):
        negate = pat.startswith("!")
        if negate:
            pat = pat[1:]
        if _wildcard(pat, host_id):
            if negate:
                return False
            matched = True
    return matched


def _blob_type(blob: bytes) -> str:
    try:
        n = struct.unpack(">I", blob[:4])[0]
        return blob[4:4 + n].decode("ascii")
    except (struct.error, UnicodeDecodeError):
        return "unknown"


def _fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _type_label(keytype: str) -> str:
    if keytype.startswith("ssh-ed25519"):
        return "ED25519"
    if keytype.startswith("ecdsa-"):
        return "ECDSA"
    if keytype.startswith(("ssh-rsa", "rsa-")):
        return "RSA"
    if keytype.startswith("ssh-dss"):
        return "DSA"
    return keytype.upper()


# Host key algorithms paramiko may negotiate, per public-key blob type.
_ALGOS_FOR_TYPE = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


class _HostKeyVerifier:
    """Checks server keys for one host id against known_hosts files or pinned keys."""

    def __init__(self, *, host_id: str, mode: str, read_files: list[str], write_file: str,
                 pinned: list[bytes], accept_new: bool, subject: str) -> None:
        self.host_id = host_id
        self.mode = mode  # "known_hosts", "pinned" or "none"
        self.read_files = read_files
        self.write_file = write_file
        self.accept_new = accept_new
        self.subject = subject
        self._lock = threading.Lock()
        self._entries: list[_KnownKey] = []
        if mode == "known_hosts":
            for path in read_files:
                self._entries.extend(_read_known_hosts(path))
        elif mode == "pinned":
            self._entries = [_KnownKey("", host_id, _blob_type(b), b, "host_keys", i)
                             for i, b in enumerate(pinned, 1)]

    def _for_host(self) -> list[_KnownKey]:
        return [e for e in self._entries
                if e.marker == "" and _host_matches(e.patterns, self.host_id)]

    def preferred_algorithms(self, available: tuple[str, ...]) -> tuple[str, ...]:
        """``available`` with the algorithms of the keys known for this host first."""
        with self._lock:
            types = [_blob_type(e.blob) for e in self._for_host()]
        first: list[str] = []
        for t in types:
            for algo in _ALGOS_FOR_TYPE.get(t, (t,)):
                if algo in available and algo not in first:
                    first.append(algo)
        return tuple(first) + tuple(a for a in available if a not in first)

    def _where(self) -> str:
        if self.mode == "pinned":
            return "host_keys"
        names = ", ".join(self.read_files) or "no file"
        missing = [f for f in self.read_files if not os.path.exists(f)]
        if missing and len(missing) == len(self.read_files):
            names += " (not found)"
        return f"known_hosts ({names})"

    def check(self, key: paramiko.PKey) -> bytes | None:
        """Accept ``key`` (None), or return its blob when it is new and may be added once
        authentication succeeds; raise HostKeyError otherwise."""
        if self.mode == "none":
            return None
        blob = key.asbytes()
        keytype = _blob_type(blob)
        offered = f"{_type_label(keytype)} key {_fingerprint(blob)}"
        with self._lock:
            for e in self._entries:
                if e.marker == "@revoked" and e.blob == blob:
                    raise HostKeyError(
                        f"host key for {self.host_id} is REVOKED in {e.file}:{e.line}: the "
                        f"server offered {offered} - refusing to connect")
            known = self._for_host()
        if any(e.blob == blob for e in known):
            return None
        same_type = [e for e in known if _blob_type(e.blob) == keytype]
        if same_type or known:
            e = (same_type or known)[0]
            raise HostKeyError(
                f"host key for {self.host_id} has CHANGED (possible man-in-the-middle "
                f"attack): the server offered {offered} but {e.file}:{e.line} has "
                f"{_type_label(_blob_type(e.blob))} key {_fingerprint(e.blob)} - if the change "
                f"is legitimate, remove the old key from {e.file}")
        if self.accept_new and self.mode == "known_hosts":
            return blob
        raise HostKeyError(
            f"host key for {self.host_id} is not in {self._where()}: the server offered "
            f"{offered} (check the fingerprint, then set known_hosts_file or accept it with "
            f"accept_new_host_key = true / --sftp-accept-new-host-key)")

    def commit(self, blob: bytes) -> None:
        """Append an accepted new key to the known_hosts file (after authentication)."""
        keytype = _blob_type(blob)
        line = f"{self.host_id} {keytype} {base64.b64encode(blob).decode()}\n"
        with self._lock:
            current = _read_known_hosts(self.write_file)
            if not any(e.marker == "" and e.blob == blob and
                       _host_matches(e.patterns, self.host_id) for e in current):
                parent = os.path.dirname(self.write_file)
                if parent:
                    os.makedirs(parent, mode=0o700, exist_ok=True)
                fd = os.open(self.write_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as fh:
                    _lock_file(fh.fileno())
                    if fh.tell() > 0:
                        with open(self.write_file, "rb") as rd:
                            rd.seek(-1, os.SEEK_END)
                            if rd.read(1) != b"\n":
                                fh.write("\n")
                    fh.write(line)
                log.notice(self.subject, f"Added {_type_label(keytype)} host key "
                                         f"{_fingerprint(blob)} for {self.host_id} to "
                                         f"{self.write_file}")
            self._entries.append(_KnownKey("", self.host_id, keytype, blob, self.write_file, 0))


def _lock_file(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
    except (ImportError, OSError):
        pass
