"""The sftp backend: rclone's ``sftp`` remote over paramiko, one pooled SSH connection per thread.

Options carry rclone's names (``host``, ``user``, ``port``, ``pass``, ``key_file``, ...);
see :class:`SftpOptions`. Secrets (``pass``, ``key_file_pass``) arrive obscured as rclone
stores them and are revealed with :func:`reveal`; they never reach a log line, an exception
message or a process argument list.

Security: the server's host key is checked against known_hosts before any credential is
sent (``known_hosts_file``, else the ssh config's ``UserKnownHostsFile``, else
``~/.ssh/known_hosts``, plus the global ``/etc/ssh/ssh_known_hosts``). An unknown key is
refused (:class:`HostKeyError`) unless ``accept_new_host_key`` is set, which appends it to
the known_hosts file once authentication succeeded; a changed or revoked key is always
refused. ``known_hosts_file = none`` switches checking off (with a NOTICE), ``host_keys``
pins keys as rclone does.

External ssh (rclone's ``ssh`` option): each SFTP session runs through the OpenSSH client
(``<ssh> -s sftp``, remote commands as ``<ssh> <command>``), which then checks the host key
(``StrictHostKeyChecking=yes`` forced first on its command line) and authenticates.

Performance: reads and writes are pipelined here rather than through paramiko's
``prefetch()``/``set_pipelined()`` (prefetch rescans its whole buffer on each read and
keeps everything the server sends; pipelined writes drop the late error statuses of a
file). Up to ``concurrency`` requests of ``chunk_size`` bytes (the server's own limit from
``limits@openssh.com`` when ``chunk_size`` is not set, at most 255 KiB) are in flight per
file, with large SSH windows and packets.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import csv
import errno
import getpass
import hashlib
import hmac
import logging
import os
import posixpath
import re
import select
import shlex
import socket
import stat as _stat
import struct
import subprocess
import tempfile
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, cast

import paramiko
from paramiko.message import Message
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_DATA,
    CMD_EXTENDED,
    CMD_EXTENDED_REPLY,
    CMD_FSETSTAT,
    CMD_FSTAT,
    CMD_HANDLE,
    CMD_INIT,
    CMD_NAME,
    CMD_OPEN,
    CMD_OPENDIR,
    CMD_READ,
    CMD_READDIR,
    CMD_STATUS,
    CMD_VERSION,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_READ,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    SFTPError,
    int64,
)
from paramiko.sftp_attr import SFTPAttributes

from .. import log
from ..confvalues import obscure, parse_bool, reveal
from ..errors import ConfigError, DirNotFoundError, PysyncError, worded
from ..hashing import canonical
from ..record import field, record
from ..units import go_quote
from .base import Entry, Features
from .pool import Lease, Pool

__all__ = ["SftpBackend", "SftpOptions", "HostKeyError", "SftpConnectionLost", "open_remote",
           "reveal", "obscure", "OPTION_NAMES"]

# paramiko logs to "paramiko.*"; without a handler Python's last-resort handler would print
# its transport errors (dropped connections...) on stderr. Applications may still add one.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

_KIB = 1024
_MIB = 1024 * 1024
_WINDOW = 32 * _MIB  # SSH channel window we grant the server
_PACKET = 128 * _KIB  # largest SSH channel packet we accept
_DEFAULT_CHUNK = 32 * _KIB  # SFTP read/write payload when the server states no limits
_MAX_CHUNK = 255 * _KIB  # what OpenSSH accepts (256 KiB packets with headroom)
_IN_FLIGHT = 8 * _MIB  # bytes requested ahead per open file
_KEEPALIVE = 60  # seconds of silence before an SSH keepalive (long remote hash commands)
#: preferred first when the ``ciphers`` option is not set (those paramiko knows)
_AEAD_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
# errnos the engine retries at low level (kept as they are); other network errnos of a dead
# connection become ECONNRESET
_TRANSIENT_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT,
                               errno.ECONNABORTED, errno.ECONNREFUSED, errno.EHOSTUNREACH,
                               errno.ENETUNREACH})
_NETWORK_ERRNOS = _TRANSIENT_ERRNOS | {errno.ENOTCONN, errno.ESHUTDOWN, errno.ENETDOWN,
                                       errno.EHOSTDOWN, errno.ENETRESET}


# ----- rclone's obscure/reveal -----------------------------------------------------------------

# rclone's fixed, public key for obscuring config values (fs/config/obscure). Obscuring keeps a
# secret from being read over a shoulder; it is not encryption.
class _Secret:
    """A revealed secret that never shows itself in a repr, str or traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The clear text."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


# ----- errors ----------------------------------------------------------------------------------


class HostKeyError(ConfigError):
    """The server's host key is unknown, changed or revoked (never retried; stops the run
    with the fatal exit code 7)."""

    reference = "sftp-host-key"
    exit_code = 7


#: pkg/sftp's names of the SFTP status codes (its StatusError text)
_FX_NAMES = {1: "SSH_FX_EOF", 2: "SSH_FX_NO_SUCH_FILE", 3: "SSH_FX_PERMISSION_DENIED",
             4: "SSH_FX_FAILURE", 5: "SSH_FX_BAD_MESSAGE", 6: "SSH_FX_NO_CONNECTION",
             7: "SSH_FX_CONNECTION_LOST", 8: "SSH_FX_OP_UNSUPPORTED"}


def _status_text(code: int, text: str) -> str:
    """An SFTP status error as rclone prints it: pkg/sftp turns "no such file" and
    "permission denied" into Go's os errors, anything else reads ``sftp: "<text>" (SSH_FX_...)``."""
    if code == 2:
        return "file does not exist"
    if code == 3:
        return "permission denied"
    return f"sftp: {go_quote(text)} ({_FX_NAMES.get(code, f'SSH_FX_UNKNOWN({code})')})"


def _rclone_error(what: str, err: OSError) -> OSError:
    """``err`` worded as rclone's sftp backend wraps it: ``<what>: <pkg/sftp's text>``, of
    the same class and errno (an error already worded keeps its own text after ``what``).
    Anything else (a lost connection...) is returned as it is."""
    text = getattr(err, "sftp_text", None)
    if text is None:
        if not getattr(err, "worded", False):
            return err
        text = str(err)
    if err.errno is None:
        return worded(errno.EIO, f"{what}: {text}")
    return worded(err.errno, f"{what}: {text}", like=type(err) if not getattr(
        err, "worded", False) else type(err).__mro__[1])


def _errno_error(code: int, message: str, path: str | None = None) -> OSError:
    """``OSError(code, ...)``, which Python turns into its subclass (FileNotFoundError...)."""
    return OSError(code, message, path) if path is not None else OSError(code, message)


class SftpConnectionLost(PysyncError, ConnectionResetError):
    """The SSH connection died under a request (``errno`` ECONNRESET, so the engine retries it
    on a new connection).

    rclone's pkg/sftp answers every request in flight on a dead connection with its
    ``connection lost`` error, which is no syscall error and none of the errors rclone's
    ``fserrors.ShouldRetry`` knows: when it is the last error of a run rclone exits with 1,
    not 5. So does this error.
    """

    reference = "sftp-connection-lost"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.errno = errno.ECONNRESET
        self.strerror = message


_LOST = "connection lost"


def _conn_error(exc: BaseException, what: str = _LOST) -> OSError:
    """A transient OSError for the engine (errno kept when it retries it, else ECONNRESET).

    A connection that died under a request (``what`` is the default) is SftpConnectionLost,
    unless it timed out or its errno says more than "reset".
    """
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        message = f"{what}: {exc.strerror or exc}"
        if exc.errno == errno.ECONNRESET and what == _LOST:
            return SftpConnectionLost(message)
        return _errno_error(exc.errno, message)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return _errno_error(errno.ETIMEDOUT, f"{what}: i/o timeout")
    message = f"{what}: {exc}" if str(exc) else f"{what} ({type(exc).__name__})"
    if what == _LOST:
        return SftpConnectionLost(message)
    return _errno_error(errno.ECONNRESET, message)


# ----- options ---------------------------------------------------------------------------------


def _parse_bool(key: str, value: str) -> bool:
    return parse_bool(key, value)


def _parse_int(key: str, value: str) -> int:
    try:
        return int(value.strip(), 0)
    except ValueError:
        raise ConfigError(f'couldn\'t parse config item "{key}" = "{value}" as int: '
                          f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _parse_size(key: str, value: str) -> int:
    from ..units import parse_size

    try:
        return parse_size(value)
    except PysyncError as err:
        raise ConfigError(f'couldn\'t parse config item "{key}" = "{value}": {err}') from None


def _parse_seconds(key: str, value: str) -> float:
    from ..units import parse_duration

    try:
        return max(0, parse_duration(value)) / 1e9
    except PysyncError as err:
        raise ConfigError(f'couldn\'t parse config item "{key}" = "{value}": {err}') from None


def _reveal_option(key: str, value: str) -> _Secret:
    if not value:
        return _Secret("")
    try:
        return _Secret(reveal(value))
    except ValueError as err:
        raise ConfigError(f"{key}: {err}") from None


def _space_list(key: str, value: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(value))
    except ValueError as err:
        raise ConfigError(f'couldn\'t parse config item "{key}": {err}') from None


def _space_sep_list(key: str, value: str) -> tuple[str, ...]:
    """rclone's ``SpaceSepList``: words split on spaces, "double quotes" around a word with
    spaces (Go's encoding/csv with ' ' as separator)."""
    if not value.strip():
        return ()
    try:
        rows = list(csv.reader([value.strip()], delimiter=" ", skipinitialspace=True,
                               strict=True))
    except csv.Error as err:
        raise ConfigError(f"{key}: {err}") from None
    return tuple(w for w in rows[0] if w) if rows else ()


def _expand(path: str) -> str:
    return os.path.expanduser(os.path.expandvars(path)) if path else ""


def _current_user() -> str:
    for var in ("USER", "LOGNAME", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:
        return "root" if hasattr(os, "getuid") and os.getuid() == 0 else "user"


#: Every option name :func:`open_remote` understands (rclone's, plus pysync's own
#: ``accept_new_host_key``, ``ssh_config_file``, ``connect_timeout`` and ``timeout``).
OPTION_NAMES = frozenset({
    "type", "description", "host", "user", "port", "pass", "key_pem", "key_file",
    "key_file_pass", "pubkey", "pubkey_file", "known_hosts_file", "pin_host_key", "host_keys",
    "accept_new_host_key", "key_use_agent", "use_insecure_cipher", "disable_hashcheck",
    "ask_password", "path_override", "encoding", "set_modtime", "shell_type", "hashes",
    "md5sum_command", "sha1sum_command", "crc32sum_command", "sha256sum_command",
    "blake3sum_command", "xxh3sum_command", "xxh128sum_command", "skip_links", "subsystem",
    "server_command", "use_fstat", "disable_concurrent_reads", "disable_concurrent_writes",
    "idle_timeout", "chunk_size", "concurrency", "connections", "set_env", "ciphers",
    "key_exchange", "macs", "host_key_algorithms", "ssh", "socks_proxy", "http_proxy",
    "copy_is_hardlink", "ssh_config_file", "connect_timeout", "timeout",
})


@record
class SftpOptions:
    """The parsed options of one sftp remote (rclone's names; see rclone's sftp docs).

    ``port``/``user`` of 0/"" mean "from the ssh config, else 22/the current user".
    Secrets are :class:`_Secret` holders. Build one with :meth:`from_mapping`.
    """

    host: str = ""
    user: str = ""
    port: int = 0
    password: _Secret = field(default_factory=lambda: _Secret(""), repr=False)
    key_pem: str = field(default="", repr=False)
    key_file: str = ""
    key_file_pass: _Secret = field(default_factory=lambda: _Secret(""), repr=False)
    pubkey: str = ""
    pubkey_file: str = ""
    known_hosts_file: str = ""
    accept_new_host_key: bool = False
    pin_host_key: bool = False
    host_keys: tuple[str, ...] = ()
    key_use_agent: bool = False
    use_insecure_cipher: bool = False
    disable_hashcheck: bool = False
    ask_password: bool = False
    path_override: str = ""
    set_modtime: bool = True
    shell_type: str = ""
    hashes: tuple[str, ...] = ()
    hash_commands: dict[str, str] = field(default_factory=dict)
    skip_links: bool = False
    subsystem: str = "sftp"
    server_command: str = ""
    disable_concurrent_reads: bool = False
    disable_concurrent_writes: bool = False
    idle_timeout: float = 60.0
    chunk_size: int = 0
    concurrency: int = 64
    connections: int = 0
    set_env: tuple[str, ...] = ()
    ciphers: tuple[str, ...] = ()
    key_exchange: tuple[str, ...] = ()
    macs: tuple[str, ...] = ()
    host_key_algorithms: tuple[str, ...] = ()
    ssh_config_file: str = "~/.ssh/config"
    ssh: tuple[str, ...] = ()
    connect_timeout: float = 60.0
    timeout: float = 300.0
    explicit: frozenset[str] = frozenset()

    @classmethod
    def from_mapping(cls, options: Mapping[str, str], *,
                     environ: Mapping[str, str] | None = None) -> SftpOptions:
        """Parse an rclone config section (merged with connection-string overrides).

        A missing option falls back to ``RCLONE_SFTP_<NAME>`` / ``PYSYNC_SFTP_<NAME>`` from
        ``environ`` (default ``os.environ``), as rclone's backend flags do, then to its
        default. Raises ConfigError for values that do not parse or options pysync cannot
        honour safely (proxies).
        """
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for key in OPTION_NAMES:
            if key in options:
                values[key] = options[key]
                continue
            for prefix in ("PYSYNC_SFTP_", "RCLONE_SFTP_"):
                if prefix + key.upper() in env:
                    values[key] = env[prefix + key.upper()]
                    break
        o = cls(explicit=frozenset(values))
        get = values.get
        o.host = get("host", "").strip()
        o.user = get("user", "").strip()
        port = get("port", "").strip()
        o.port = _parse_int("port", port) if port else 0
        o.password = _reveal_option("pass", get("pass", ""))
        o.key_pem = get("key_pem", "")
        o.key_file = _expand(get("key_file", ""))
        o.key_file_pass = _reveal_option("key_file_pass", get("key_file_pass", ""))
        o.pubkey = get("pubkey", "")
        o.pubkey_file = _expand(get("pubkey_file", ""))
        khf = get("known_hosts_file", "")
        o.known_hosts_file = khf if khf == "none" else _expand(khf)
        bools = ("accept_new_host_key", "pin_host_key", "key_use_agent", "use_insecure_cipher",
                 "disable_hashcheck", "ask_password", "set_modtime", "skip_links",
                 "disable_concurrent_reads", "disable_concurrent_writes")
        for key in bools:
            if key in values:
                setattr(o, key, _parse_bool(key, values[key]))
        o.host_keys = tuple(k.strip() for k in get("host_keys", "").split(",") if k.strip())
        o.path_override = get("path_override", "")
        o.shell_type = get("shell_type", "").strip().lower()
        if o.shell_type not in ("", "unix", "powershell", "cmd", "none"):
            raise ConfigError(f'shell_type "{o.shell_type}" must be one of unix, powershell, '
                              "cmd or none")
        hashes: list[str] = []
        for name in get("hashes", "").split(","):
            if name.strip():
                try:
                    hashes.append(canonical(name.strip()))
                except ValueError:
                    log.info(None, f'Invalid token "{name.strip()}" in hash string '
                                   f'"{get("hashes", "")}"')
        o.hashes = tuple(dict.fromkeys(hashes))
        for kind, key in _COMMAND_OPTIONS.items():
            if get(key, "").strip():
                o.hash_commands[kind] = get(key, "").strip()
        o.subsystem = get("subsystem", "").strip() or "sftp"
        o.server_command = get("server_command", "").strip()
        if "idle_timeout" in values:
            o.idle_timeout = _parse_seconds("idle_timeout", values["idle_timeout"])
        if get("chunk_size", "").strip():
            o.chunk_size = _parse_size("chunk_size", values["chunk_size"])
            if not 1 <= o.chunk_size <= _MAX_CHUNK:
                raise ConfigError(f"chunk_size must be between 1 and {_MAX_CHUNK} bytes")
        if get("concurrency", "").strip():
            o.concurrency = max(1, _parse_int("concurrency", values["concurrency"]))
        if get("connections", "").strip():
            o.connections = max(0, _parse_int("connections", values["connections"]))
        o.set_env = _space_list("set_env", get("set_env", ""))
        for key in ("ciphers", "key_exchange", "macs", "host_key_algorithms"):
            setattr(o, key, _space_list(key, get(key, "")))
        if o.use_insecure_cipher and (o.ciphers or o.key_exchange):
            raise ConfigError("use_insecure_cipher must be false if ciphers or key_exchange "
                              "are set in advanced configuration")
        if "ssh_config_file" in values:
            scf = values["ssh_config_file"].strip()
            o.ssh_config_file = scf if scf in ("", "none") else _expand(scf)
        if get("connect_timeout", "").strip():
            o.connect_timeout = _parse_seconds("connect_timeout", values["connect_timeout"]
                                               ) or 60.0
        if get("timeout", "").strip():
            o.timeout = _parse_seconds("timeout", values["timeout"])
        o.ssh = _space_sep_list("ssh", get("ssh", ""))
        if o.ssh and o.known_hosts_file == "none":
            raise ConfigError("known_hosts_file = none cannot be used with the ssh option: "
                              "the ssh program always checks host keys here "
                              "(StrictHostKeyChecking=yes)")
        for key in ("socks_proxy", "http_proxy"):
            if get(key, "").strip():
                raise ConfigError(f"{key} is not supported by pysync's sftp backend")
        return o


# ----- known_hosts -----------------------------------------------------------------------------


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


# ----- SFTP protocol helpers -------------------------------------------------------------------


class _SftpClient(paramiko.SFTPClient):
    """paramiko's client, keeping the extensions the server announces in its VERSION, with
    fewer copies per packet: a packet read in pieces is joined once (paramiko: ``out += x``
    per piece), a partial send resumes on a view (paramiko: ``out = out[n:]``). A status
    error carries ``sftp_text``, the words rclone's SFTP client (pkg/sftp) has for it."""

    extensions: dict[str, bytes]

    def _read_all(self, n: int) -> bytes:
        parts: list[bytes] = []
        recv = self.sock.recv
        while n > 0:
            x = recv(n)
            if not x:
                raise EOFError()
            parts.append(x)
            n -= len(x)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _write_all(self, out: bytes) -> None:
        view = memoryview(out)
        send = self.sock.send
        while view:
            n = send(view if len(view) < len(out) else out)
            if n <= 0:
                raise EOFError()
            view = view[n:]

    def _convert_status(self, msg: Message) -> None:
        """paramiko's errors for a status (EOFError, OSError with ENOENT, EACCES or no
        errno), the OSErrors with ``sftp_text``."""
        code = msg.get_int()
        text = msg.get_text()
        if code == 0:
            return
        if code == 1:
            raise EOFError(text)
        err = OSError(errno.ENOENT, text) if code == 2 else \
            OSError(errno.EACCES, text) if code == 3 else OSError(text)
        err.sftp_text = _status_text(code, text)  # type: ignore[attr-defined]
        raise err

    def _send_version(self) -> int:
        m = Message()
        m.add_int(3)
        self._send_packet(CMD_INIT, m)
        t, data = self._read_packet()
        if t != CMD_VERSION:
            raise SFTPError("Incompatible sftp protocol")
        version = int(struct.unpack(">I", data[:4])[0])
        exts: dict[str, bytes] = {}
        pos = 4
        while pos + 4 <= len(data):
            (n,) = struct.unpack(">I", data[pos:pos + 4])
            name = data[pos + 4:pos + 4 + n]
            pos += 4 + n
            if pos + 4 > len(data):
                break
            (m2,) = struct.unpack(">I", data[pos:pos + 4])
            exts[name.decode("ascii", "replace")] = bytes(data[pos + 4:pos + 4 + m2])
            pos += 4 + m2
        self.extensions = exts
        return version


class _Conn:
    """One SSH connection with its SFTP session."""

    def __init__(self, transport: paramiko.Transport, chan: paramiko.Channel,
                 client: _SftpClient, serial: int) -> None:
        self.transport = transport
        self.chan = chan
        self.client = client
        self.serial = serial

    def alive(self) -> bool:
        """True while the transport and the SFTP channel are open."""
        return bool(self.transport.is_active()) and not self.chan.closed

    def close(self) -> None:
        """Close the SFTP session and the SSH connection."""
        try:
            self.client.close()
        finally:
            self.transport.close()


class _PipeChannel:
    """The SFTP byte stream of an external ssh process: its stdin and stdout, with the few
    socket-like methods paramiko's SFTPClient uses (send, recv, close, get_name)."""

    def __init__(self, proc: subprocess.Popen[bytes], errors: BinaryIO,
                 timeout: float | None) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self._errors = errors  # ssh's stderr
        self._in = proc.stdin.fileno()
        self._out = proc.stdout.fileno()
        self._timeout = timeout
        self.closed = False

    def get_name(self) -> str:
        """A name for paramiko's log lines."""
        return f"ssh-{self.proc.pid}"

    def settimeout(self, timeout: float | None) -> None:
        """Longest wait for data in :meth:`recv` (None: no limit)."""
        self._timeout = timeout

    def send(self, data: Any) -> int:
        """Write what the pipe takes of ``data``; the count (0 once closed)."""
        if self.closed:
            return 0
        try:
            return os.write(self._in, data)
        except BrokenPipeError:
            return 0

    def recv(self, n: int) -> bytes:
        """Up to ``n`` bytes; b"" at end of stream. socket.timeout after the timeout."""
        if self.closed:
            return b""
        if self._timeout is not None:
            ready = select.select([self._out], [], [], self._timeout)[0]
            if not ready:
                raise TimeoutError(f"no data from ssh for {self._timeout:g}s")
        return os.read(self._out, n)

    def alive(self) -> bool:
        """True while the ssh process runs and the stream is open."""
        return not self.closed and self.proc.poll() is None

    def stop(self) -> str:
        """Close the pipes and end the ssh process (by its PID); the last two lines it
        printed on stderr (why it failed; ssh prints no secrets)."""
        self.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = b""
        with contextlib.suppress(OSError, ValueError):
            self._errors.seek(0)
            err = self._errors.read()
            self._errors.close()
        lines = [ln.strip() for ln in (err or b"").decode("utf-8", "replace").splitlines()
                 if ln.strip()]
        return " ".join(lines[-2:])

    def close(self) -> None:
        """Close our end of both pipes: ssh sees end of input and exits."""
        if self.closed:
            return
        self.closed = True
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


class _ExternalConn(_Conn):
    """An SFTP session over an external ssh process (the ``ssh`` option)."""

    def __init__(self, chan: _PipeChannel, client: _SftpClient, serial: int) -> None:
        self.transport = None  # type: ignore[assignment]
        self.chan = chan  # type: ignore[assignment]
        self.client = client
        self.serial = serial

    def alive(self) -> bool:
        """True while the ssh process runs."""
        return self.chan.alive()  # type: ignore[attr-defined, no-any-return]

    def close(self) -> None:
        """End the SFTP session and the ssh process."""
        self.chan.stop()  # type: ignore[attr-defined]


def _close_conn(conn: _Conn) -> None:
    conn.close()  # the class's own (an _ExternalConn ends its ssh process)


def _conn_alive(conn: _Conn) -> bool:
    return conn.alive()


class _EOF:
    """Marker result: the server answered a read with SSH_FX_EOF."""


def _attr_entry(rel: str, attr: SFTPAttributes) -> Entry | None:
    mode = attr.st_mode or 0
    mtime = int(attr.st_mtime or 0) * 1_000_000_000
    if _stat.S_ISDIR(mode):
        return Entry(rel, -1, mtime, True)
    if _stat.S_ISREG(mode) or not mode:
        return Entry(rel, int(attr.st_size or 0), mtime, False)
    return None


def _readdir(client: _SftpClient, path: bytes) -> list[tuple[bytes, SFTPAttributes]]:
    """The entries of directory ``path`` (names as bytes, without . and ..)."""
    t, msg = client._request(CMD_OPENDIR, path)
    if t != CMD_HANDLE:
        raise SFTPError("Expected handle")
    handle = msg.get_binary()
    out: list[tuple[bytes, SFTPAttributes]] = []
    try:
        while True:
            try:
                t, msg = client._request(CMD_READDIR, handle)
            except EOFError:
                break
            if t != CMD_NAME:
                raise SFTPError("Expected name response")
            for _ in range(msg.get_int()):
                name = msg.get_string()
                msg.get_string()  # ls -l style long name
                attr = SFTPAttributes._from_msg(msg)
                if name not in (b".", b".."):
                    out.append((name, attr))
    finally:
        if client.sock is not None and not client.sock.closed:
            try:  # no need to wait for the answer
                client._async_request(type(None), CMD_CLOSE, handle)
            except Exception:
                pass
    return out


class _Reader:
    """A file opened for reading with up to ``depth`` read requests in flight.

    The first two requests go out with an FSTAT, before the size is known; then requests
    cover the rest of the file plus one at its end that confirms EOF, so a whole small file
    takes one round trip after the open. Short reads and files that grow are handled by
    re-requesting from the current position.
    """

    def __init__(self, backend: SftpBackend, lease: Lease[_Conn], handle: bytes, path: str,
                 offset: int, chunk: int, depth: int) -> None:
        self._backend = backend
        self._lease = lease
        self._client = lease.conn.client
        self._handle = handle
        self.name = path
        self._pos = offset
        self._next = offset
        self._chunk = chunk
        self._depth = max(1, depth)
        self._size: int | None = None
        self._blind = False  # no size from FSTAT: read ahead without a bound
        self._initial = 0
        self._pending: deque[tuple[int, int, int]] = deque()
        self._results: dict[int, object] = {}
        self._view = memoryview(b"")
        self._eof = False
        self._closed = False
        self._fstat = self._client._async_request(self, CMD_FSTAT, handle)
        self._fill()

    # paramiko calls this for each answer to one of our requests
    def _async_response(self, t: int, msg: Message, num: int) -> None:
        if num == self._fstat:
            size = SFTPAttributes._from_msg(msg).st_size if t == CMD_ATTRS else None
            if size is None:
                self._blind = True
            elif self._size is None:
                self._size = int(size)
            return
        if t == CMD_DATA:
            self._results[num] = msg.get_string()
        elif t == CMD_STATUS:
            try:
                self._client._convert_status(msg)
                self._results[num] = _EOF
            except EOFError:
                self._results[num] = _EOF
            except Exception as err:
                self._results[num] = err
        else:
            self._results[num] = SFTPError(f"Expected data, got packet type {t}")

    def _request(self, off: int, length: int, front: bool = False) -> None:
        num = self._client._async_request(self, CMD_READ, self._handle, int64(off), length)
        if front:
            self._pending.appendleft((num, off, length))
        else:
            self._pending.append((num, off, length))

    def _fill(self) -> None:
        while len(self._pending) < self._depth and not self._eof:
            off = self._next
            if self._size is None:
                if self._initial >= 2 and not self._blind:
                    break
                self._initial += 1
                length = self._chunk
            elif off > self._size:
                break
            elif off == self._size:
                length = self._chunk  # the request that sees EOF (or growth)
            else:
                length = min(self._chunk, self._size - off)
            self._request(off, length)
            self._next = off + length

    def _wait(self, num: int) -> object:
        while num not in self._results:
            self._client._read_response()
        return self._results.pop(num)

    def _next_chunk(self) -> bool:
        """Make the data at the current position available; False at EOF."""
        while True:
            self._fill()
            if not self._pending:
                self._request(self._pos, self._chunk)
                self._next = max(self._next, self._pos + self._chunk)
            num, off, length = self._pending.popleft()
            res = self._wait(num)
            if isinstance(res, BaseException):
                raise res
            data = res if isinstance(res, bytes) else b""
            if not data:
                past_size = self._size is not None and self._pos >= self._size
                if off <= self._pos or past_size:
                    self._eof = True
                    self._pending.clear()
                    return False
                self._request(self._pos, off - self._pos, front=True)  # a hole before EOF
                continue
            if off > self._pos:  # a short read left a hole: fetch it first, keep this data
                self._results[num] = data
                self._pending.appendleft((num, off, length))
                self._request(self._pos, off - self._pos, front=True)
                continue
            if off < self._pos:
                data = data[self._pos - off:]
                if not data:
                    continue
            end = self._pos + len(data)
            if self._size is not None and end > self._size:
                self._size = end  # the file grew: keep reading
            self._view = memoryview(data)
            self._pos = end
            return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` (until it is full or the file ends); the byte count."""
        if self._closed:
            raise ValueError("I/O operation on closed file")
        out = memoryview(buffer).cast("B")
        want, got = len(out), 0
        try:
            while got < want:
                if not self._view:
                    if self._eof or not self._next_chunk():
                        break
                    continue
                n = min(len(self._view), want - got)
                out[got:got + n] = self._view[:n]
                self._view = self._view[n:]
                got += n
        except BaseException as err:
            raise self._backend._io_error(err, self._lease, self.name) from err
        return got

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (everything left when ``size`` < 0)."""
        if size is None or size < 0:
            parts: list[bytes] = []
            buf = bytearray(4 * _MIB)
            while True:
                n = self.readinto(buf)
                if not n:
                    return b"".join(parts)
                parts.append(bytes(buf[:n]))
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf[:n])

    def readable(self) -> bool:
        """Always True."""
        return True

    def seekable(self) -> bool:
        """Always False: open again with an offset instead."""
        return False

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    def close(self) -> None:
        """Close the handle (without waiting for the answer) and release the connection."""
        if self._closed:
            return
        self._closed = True
        broken = False
        try:
            if self._lease.conn.alive():
                self._client._async_request(type(None), CMD_CLOSE, self._handle)
            else:
                broken = True
        except Exception:
            broken = True
        finally:
            self._lease.release(broken=broken)

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            with contextlib.suppress(Exception):
                self._lease.release(broken=True)  # outstanding requests: don't reuse


class _Writer:
    """A file opened for writing with up to ``depth`` write requests in flight.

    Every write status is collected: an error is raised by the next ``write`` or by
    ``close``, which waits for all of them and for the CLOSE answer.
    """

    def __init__(self, backend: SftpBackend, lease: Lease[_Conn], handle: bytes, path: str,
                 chunk: int, depth: int, offset: int = 0) -> None:
        self._backend = backend
        self._lease = lease
        self._client = lease.conn.client
        self._handle = handle
        self.name = path
        self._chunk = chunk
        self._depth = max(1, depth)
        self._off = offset
        self._outstanding: set[int] = set()
        self._error: BaseException | None = None
        self._failed = False
        self._closed = False

    def _async_response(self, t: int, msg: Message, num: int) -> None:
        self._outstanding.discard(num)
        if t == CMD_STATUS:
            try:
                self._client._convert_status(msg)
            except BaseException as err:
                if self._error is None:
                    self._error = err
        elif self._error is None:
            self._error = SFTPError(f"Expected status, got packet type {t}")

    def _raise_pending(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def write(self, data: Any) -> int:
        """Send ``data`` (pipelined); returns its length."""
        if self._closed:
            raise ValueError("I/O operation on closed file")
        view = memoryview(data).cast("B")
        total = len(view)
        client, chunk = self._client, self._chunk
        try:
            self._raise_pending()
            for i in range(0, total, chunk):
                piece = view[i:i + chunk]
                num = client._async_request(self, CMD_WRITE, self._handle, int64(self._off),
                                            piece)
                self._outstanding.add(num)
                self._off += len(piece)
                while len(self._outstanding) >= self._depth:
                    client._read_response()
                self._raise_pending()
        except BaseException as err:
            self._failed = True
            raise self._backend._io_error(err, self._lease, self.name) from err
        return total

    def flush(self) -> None:
        """Wait until the server has answered every write sent so far (raises its error)."""
        if self._closed:
            return
        try:
            while self._outstanding:
                self._client._read_response()
            self._raise_pending()
        except BaseException as err:
            self._failed = True
            raise self._backend._io_error(err, self._lease, self.name) from err

    def writable(self) -> bool:
        """Always True."""
        return True

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    def close(self) -> None:
        """Wait for every write, close the handle, release the connection.

        Raises the first error the server reported for a write or the close (unless
        ``write`` raised one already).
        """
        if self._closed:
            return
        self._closed = True
        client = self._client
        error: BaseException | None = None
        try:
            while self._outstanding:
                client._read_response()
            client._request(CMD_CLOSE, self._handle)
            if not self._failed:
                self._raise_pending()
        except BaseException as err:
            error = err
        if error is None:
            self._lease.release()
            return
        mapped = self._backend._io_error(error, self._lease, self.name)  # marks it broken
        self._lease.release()
        if not self._failed:
            raise mapped from error

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            with contextlib.suppress(Exception):
                self._lease.release(broken=True)


# ----- hash commands ---------------------------------------------------------------------------

_COMMAND_OPTIONS = {"md5": "md5sum_command", "sha1": "sha1sum_command",
                    "crc32": "crc32sum_command", "sha256": "sha256sum_command",
                    "xxh3": "xxh3sum_command", "xxh128": "xxh128sum_command"}
_EMPTY_HASH = {
    "md5": "d41d8cd98f00b204e9800998ecf8427e",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "crc32": "00000000",
    "xxh3": "2d06800538d394c2",
    "xxh128": "99aa06d3014798d86001c324468d497f",
}
# rclone's candidate commands, tried in order on stdin (the empty input)
_HASH_CANDIDATES: dict[str, tuple[str, ...]] = {
    "md5": ("md5sum", "md5 -r", "rclone md5sum"),
    "sha1": ("sha1sum", "sha1 -r", "rclone sha1sum"),
    "sha256": ("sha256sum", "sha256 -r", "rclone hashsum sha256"),
    "crc32": ("crc32", "rclone hashsum crc32"),
    "xxh3": ("rclone hashsum xxh3",),
    "xxh128": ("xxh128sum", "xxhsum -H2", "rclone hashsum xxh128"),
}
_POWERSHELL_ALGO = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256"}
#: Hashes looked for when the ``hashes`` option is empty: rclone's MD5 and SHA-1, plus
#: XXH128 where the server has a native ``xxh128sum``/``xxhsum`` (pysync prefers XXH128, and
#: starting ``rclone hashsum`` once per file would be far slower than ``md5sum``).
DEFAULT_HASHES = ("md5", "sha1", "xxh128")
_NATIVE_ONLY = {"xxh128": ("xxh128sum", "xxhsum -H2")}


def _powershell_commands(kind: str) -> tuple[str, str]:
    algo = _POWERSHELL_ALGO[kind]
    file_cmd = (f"&{{param($Path);Get-FileHash -Algorithm {algo} -LiteralPath $Path "
                f"-ErrorAction Stop|Select-Object -First 1 -ExpandProperty Hash|"
                f'ForEach-Object{{"$($_.ToLower())  ${{Path}}"}}}}')
    empty_cmd = (f"Get-FileHash -Algorithm {algo} -InputStream ([System.IO.MemoryStream]::new()) "
                 "-ErrorAction Stop|Select-Object -First 1 -ExpandProperty Hash|"
                 "ForEach-Object{$_.ToLower()}")
    return file_cmd, empty_cmd


def _quote_shell_path(shell: str, path: str) -> str:
    """``path`` as one argument for the remote shell (rclone's quoteOrEscapeShellPath)."""
    if shell == "powershell":
        for q in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
            path = path.replace(q, q + q)
        return f"'{path}'"
    if shell == "cmd":
        if any(c in path for c in "\"%!\r\n"):
            raise OSError(errno.EINVAL, f"path is not valid in shell type cmd: {path!r}")
        return f'"{path}"'
    return shlex.quote(path)


def _parse_hash(output: bytes) -> str:
    text = output.decode("utf-8", "replace").lstrip("\\").strip()
    return text.split()[0].lower() if text else ""


# ----- the backend -----------------------------------------------------------------------------

_LIVE: weakref.WeakSet[SftpBackend] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:  # send proper disconnects rather than dropping TCP connections
    for backend in list(_LIVE):
        try:
            backend.close()
        except Exception:
            pass


class SftpBackend:
    """Files under ``root`` on an SFTP server.

    ``options`` is an :class:`SftpOptions` or an rclone config mapping (values as rclone
    stores them, secrets obscured). ``root`` is absolute, or relative to the login
    directory. The first connection is made here, so that an unreachable host, a refused
    host key or failed authentication raise ConfigError (HostKeyError) at once.

    Thread safety: every thread works on its own pooled connection (see :mod:`.pool`); an
    open reader or writer holds its thread's connection until closed, so it must be used and
    closed by the thread that opened it (as the engine's transfers do).
    """

    def __init__(self, options: SftpOptions | Mapping[str, str], root: str = "", *,
                 name: str = "") -> None:
        self.opts = options if isinstance(options, SftpOptions) else \
            SftpOptions.from_mapping(options)
        o = self.opts
        self.name = name
        if not o.host and not o.ssh:
            raise ConfigError("sftp remote needs a host")
        self._ssh_cfg = self._ssh_config(o.host)
        self.hostname = str(self._ssh_cfg.get("hostname") or o.host)
        self.port = o.port or _parse_int("port", str(self._ssh_cfg.get("port") or "22"))
        self.user = o.user or str(self._ssh_cfg.get("user") or "") or _current_user()
        shown = "/" if root.startswith("/") and not root.strip("/") else root.rstrip("/")
        self._url = f"sftp://{self.user}@{o.host}:{self.port}/{shown}"
        self._env = self._parse_env(o.set_env)
        if o.ssh:  # the ssh program checks host keys and authenticates
            self._verifier = _HostKeyVerifier(
                host_id=self.hostname, mode="none", read_files=[], write_file="", pinned=[],
                accept_new=False, subject=self.describe())
            self._keys = []
        else:
            self._verifier = self._make_verifier()
            self._keys = self._load_keys()
        self._password: _Secret = o.password
        self._password_lock = threading.Lock()
        self._serial = 0
        self._serial_lock = threading.Lock()
        self._features: Features | None = None
        self._features_lock = threading.Lock()
        self._shell = ""
        self._hash_cmds: dict[str, str] = {}
        self._chunk = o.chunk_size
        self._posix_rename = True
        max_idle = o.connections or 64
        self._pool: Pool[_Conn] = Pool(self._connect, close=_close_conn, alive=_conn_alive,
                                       is_broken=self._is_broken, max_idle=max_idle,
                                       max_open=o.connections, idle_timeout=o.idle_timeout)
        try:
            lease = self._pool.lease()
        except PysyncError as err:  # host key or authentication refused
            raise type(err)(f"NewFs: couldn't connect SSH: {err}") from None
        except Exception as err:
            raise ConfigError("NewFs: couldn't connect SSH: "
                              f"{_describe_exc(err, self.hostname, self.port)}") from None
        try:
            conn = lease.conn
            self._posix_rename = "posix-rename@openssh.com" in conn.client.extensions
            if not self._chunk:
                self._chunk = self._negotiate_chunk(conn.client)
            self.root = self._resolve_root(conn.client, root)
        except Exception as err:
            lease.release(broken=True)
            raise ConfigError(f"NewFs: {_describe_exc(err, self.hostname, self.port)}"
                              ) from None
        lease.release()
        log.debug(self, f"Using root directory {self.root!r} (chunk size {self._chunk})")
        _LIVE.add(self)

    # ----- set-up helpers ---------------------------------------------------------------

    def _ssh_config(self, host: str) -> dict[str, Any]:
        path = self.opts.ssh_config_file
        if not path or path == "none":
            return {}
        path = _expand(path)
        if not os.path.isfile(path):
            return {}
        try:
            cfg = paramiko.SSHConfig.from_path(path)
            found = dict(cfg.lookup(host))
        except Exception as err:
            log.debug(None, f"ignoring ssh config {path}: {err}")
            return {}
        for key in ("proxycommand", "proxyjump"):
            if found.get(key):
                log.notice(None, f"sftp: ignoring {key} for {host} from {path} (not supported)")
        return found

    @staticmethod
    def _parse_env(items: tuple[str, ...]) -> dict[str, str]:
        env: dict[str, str] = {}
        for item in items:
            name, eq, value = item.partition("=")
            if not eq:
                raise ConfigError(f'no = found in env var "{name}"')
            env[name] = value
        return env

    def _make_verifier(self) -> _HostKeyVerifier:
        o = self.opts
        host_id = str(self._ssh_cfg.get("hostkeyalias") or self.hostname)
        if self.port != 22:
            host_id = f"[{host_id}]:{self.port}"
        subject = self.describe()
        if o.known_hosts_file == "none":
            log.notice(subject, "No host key validation is being performed "
                                "(known_hosts_file = none)")
            return _HostKeyVerifier(host_id=host_id, mode="none", read_files=[], write_file="",
                                    pinned=[], accept_new=False, subject=subject)
        if o.pin_host_key:
            log.notice(subject, "pin_host_key is not supported by pysync - ignored (use "
                                "accept_new_host_key)")
        if o.known_hosts_file:
            files = [o.known_hosts_file]
            return _HostKeyVerifier(host_id=host_id, mode="known_hosts", read_files=files,
                                    write_file=files[0], pinned=[],
                                    accept_new=o.accept_new_host_key, subject=subject)
        if o.host_keys:
            pinned: list[bytes] = []
            for i, item in enumerate(o.host_keys, 1):
                fields = item.split()
                try:
                    if len(fields) != 2:
                        raise ValueError
                    blob = base64.b64decode(fields[1], validate=True)
                except (binascii.Error, ValueError):
                    raise ConfigError(f'couldn\'t parse host_keys: entry {i}: expected '
                                      '"<algo> <base64>"') from None
                if _blob_type(blob) != fields[0]:
                    raise ConfigError(f"couldn't parse host_keys: entry {i}: stated algorithm "
                                      f'"{fields[0]}" doesn\'t match the key\'s type '
                                      f'"{_blob_type(blob)}"')
                pinned.append(blob)
            return _HostKeyVerifier(host_id=host_id, mode="pinned", read_files=[],
                                    write_file="", pinned=pinned, accept_new=False,
                                    subject=subject)
        user_files = [_expand(p) for p in
                      str(self._ssh_cfg.get("userknownhostsfile") or "").split()] or \
            [_expand("~/.ssh/known_hosts"), _expand("~/.ssh/known_hosts2")]
        global_files = [_expand(p) for p in
                        str(self._ssh_cfg.get("globalknownhostsfile") or "").split()] or \
            ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"]
        return _HostKeyVerifier(host_id=host_id, mode="known_hosts",
                                read_files=user_files + global_files, write_file=user_files[0],
                                pinned=[], accept_new=o.accept_new_host_key, subject=subject)

    def _load_keys(self) -> list[tuple[str, paramiko.PKey]]:
        """The private keys to offer (explicit key, else ssh config / default identities)."""
        o = self.opts
        keys: list[tuple[str, paramiko.PKey]] = []
        passphrase = o.key_file_pass.get() or None
        if o.key_pem:
            try:
                text = o.key_pem.encode("latin-1", "backslashreplace").decode("unicode_escape")
            except UnicodeDecodeError:
                raise ConfigError("pem key not formatted properly") from None
            keys.append(("key_pem", _load_private_key(text.encode(), passphrase, "key_pem")))
        elif o.key_file and not o.key_use_agent:
            keys.append((o.key_file, _load_key_file(o.key_file, passphrase)))
        if keys and (o.pubkey or o.pubkey_file):
            cert = o.pubkey or o.pubkey_file
            try:
                keys[0][1].load_certificate(cert)
            except Exception as err:
                raise ConfigError(f"unable to load certificate: {err}") from None
        explicit = bool(o.password or o.key_file or o.key_pem or o.ask_password)
        if not explicit:
            names = [str(p) for p in self._ssh_cfg.get("identityfile") or []] or \
                ["~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"]
            for name in names:
                path = _expand(name)
                if not os.path.isfile(path):
                    continue
                try:
                    keys.append((path, paramiko.PKey.from_path(path)))
                except Exception as err:  # encrypted without passphrase, unknown type...
                    log.debug(None, f"sftp: skipping identity {path}: {type(err).__name__}")
        return keys

    def _use_agent(self) -> bool:
        o = self.opts
        return o.key_use_agent or not (o.password or o.key_file or o.key_pem or o.ask_password)

    def _agent_keys(self, agent: paramiko.Agent) -> list[tuple[str, paramiko.PKey]]:
        keys = list(agent.get_keys())
        o = self.opts
        if o.key_file and keys:
            pub = _read_public_blob(o.key_file)
            keys = [k for k in keys if k.asbytes() == pub]
            if not keys:
                raise ConfigError("private key not found in the ssh-agent")
        return [(f"agent key {k.get_name()}", k) for k in keys]

    def _negotiate_chunk(self, client: _SftpClient) -> int:
        """The SFTP payload size: the server's stated limits, else rclone's 32 KiB."""
        if "limits@openssh.com" not in client.extensions:
            return _DEFAULT_CHUNK
        try:
            t, msg = client._request(CMD_EXTENDED, "limits@openssh.com")
            if t != CMD_EXTENDED_REPLY:
                return _DEFAULT_CHUNK
            msg.get_int64()  # max packet length
            max_read, max_write = msg.get_int64(), msg.get_int64()
        except (OSError, SFTPError, EOFError):
            return _DEFAULT_CHUNK
        limits = [x for x in (max_read, max_write) if x > 0]
        return max(_DEFAULT_CHUNK, min([_MAX_CHUNK, *limits]))

    def _resolve_root(self, client: _SftpClient, root: str) -> str:
        if root.startswith("/"):
            return posixpath.normpath(root) if root.strip("/") else "/"
        home = client.normalize(".")
        return posixpath.normpath(posixpath.join(home, root)) if root else home

    # ----- connections ------------------------------------------------------------------

    def _ssh_command(self, *extra: str) -> list[str]:
        """The external ssh command (the ``ssh`` option) with ``extra`` arguments appended.

        Host keys stay checked whatever the user's ssh config says: pysync's options go
        first, and ssh keeps the first value it gets for an option: ``BatchMode=yes`` (no
        prompt: fail instead), ``StrictHostKeyChecking=yes`` (``accept-new`` with
        ``accept_new_host_key``), and the remote's ``known_hosts_file`` if set.
        """
        o = self.opts
        strict = "accept-new" if o.accept_new_host_key else "yes"
        args = [o.ssh[0], "-o", "BatchMode=yes", "-o", f"StrictHostKeyChecking={strict}"]
        if o.known_hosts_file:
            args += ["-o", f"UserKnownHostsFile={o.known_hosts_file}"]
        return args + list(o.ssh[1:]) + list(extra)

    def _spawn_ssh(self, *extra: str, stderr: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
        cmd = self._ssh_command(*extra)
        log.debug(self, f"ssh external: running: {' '.join(cmd)}")
        try:
            return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=stderr, bufsize=0, start_new_session=True)
        except OSError as err:
            raise ConfigError(f"ssh external: start process: {err.strerror or err}: "
                              f"{cmd[0]}") from None

    def _connect_external(self) -> _Conn:
        """Start SFTP over the ``ssh`` program: ``<ssh option> -s <subsystem>`` (rclone's
        external ssh), the SFTP packets going through its stdin and stdout."""
        o = self.opts
        # ssh's messages go to a file: a pipe nobody reads during the session could fill
        errors = tempfile.TemporaryFile()
        try:
            if o.server_command:
                proc = self._spawn_ssh(o.server_command, stderr=errors)
            else:
                proc = self._spawn_ssh("-s", o.subsystem, stderr=errors)
        except BaseException:
            errors.close()
            raise
        chan = _PipeChannel(proc, errors, o.timeout or None)
        try:
            client = _SftpClient(chan)
        except BaseException as err:
            reason = chan.stop()
            if isinstance(err, (EOFError, OSError, SFTPError, paramiko.SSHException)):
                if "host key verification failed" in reason.lower() or \
                        "host key" in reason.lower() and "known_hosts" in reason.lower():
                    raise HostKeyError(f"ssh external: {reason}") from None
                raise ConfigError(f"ssh external: {reason or err or 'connection closed'}"
                                  ) from None
            raise
        with self._serial_lock:
            self._serial += 1
            serial = self._serial
        log.debug(self, f"New connection #{serial} through {o.ssh[0]} (pid {proc.pid})")
        return _ExternalConn(chan, client, serial)

    def _connect(self) -> _Conn:
        """Open, verify, authenticate and start SFTP on one new SSH connection."""
        o = self.opts
        if o.ssh:
            return self._connect_external()
        sock = socket.create_connection((self.hostname, self.port), timeout=o.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            disabled: dict[str, list[str]] = {}
            if not o.use_insecure_cipher:
                disabled = {"ciphers": ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"],
                            "kex": ["diffie-hellman-group-exchange-sha1",
                                    "diffie-hellman-group1-sha1",
                                    "diffie-hellman-group14-sha1"]}
            transport = paramiko.Transport(sock, default_window_size=_WINDOW,
                                           default_max_packet_size=_PACKET,
                                           disabled_algorithms=disabled)
        except BaseException:
            sock.close()
            raise
        try:
            self._configure(transport)
            transport.banner_timeout = o.connect_timeout
            transport.handshake_timeout = o.connect_timeout
            transport.auth_timeout = o.connect_timeout
            transport.start_client(timeout=o.connect_timeout)
            transport.set_keepalive(_KEEPALIVE)
            new_key = self._verifier.check(transport.get_remote_server_key())
            self._authenticate(transport)
            if new_key is not None:
                self._verifier.commit(new_key)
            chan = transport.open_session(window_size=_WINDOW, max_packet_size=_PACKET,
                                          timeout=o.connect_timeout)
            if self._env:
                chan.update_environment(self._env)
            if o.server_command:
                chan.exec_command(o.server_command)
            else:
                chan.invoke_subsystem(o.subsystem)
            chan.settimeout(o.timeout or None)
            client = _SftpClient(chan)
        except BaseException:
            transport.close()
            raise
        with self._serial_lock:
            self._serial += 1
            serial = self._serial
        log.debug(self, f"New connection #{serial} to {self.hostname}:{self.port} "
                        f"({transport.remote_cipher})")
        return _Conn(transport, chan, client, serial)

    def _configure(self, transport: paramiko.Transport) -> None:
        o = self.opts
        so = transport.get_security_options()
        try:
            if o.ciphers:
                so.ciphers = tuple(c for c in o.ciphers if c in so.ciphers) or o.ciphers
            else:
                # the AEAD ciphers first, as rclone (Go's x/crypto/ssh) prefers them: one
                # AES-GCM call per packet instead of AES-CTR plus an HMAC-SHA2 over it, which
                # costs paramiko about a fifth of its CPU time on bulk transfers
                aead = tuple(c for c in _AEAD_CIPHERS if c in so.ciphers)
                so.ciphers = aead + tuple(c for c in so.ciphers if c not in aead)
            if o.key_exchange:
                so.kex = tuple(k for k in o.key_exchange if k in so.kex) or o.key_exchange
            if o.macs:
                so.digests = tuple(m for m in o.macs if m in so.digests) or o.macs
            if o.host_key_algorithms:
                so.key_types = tuple(k for k in o.host_key_algorithms if k in so.key_types) \
                    or o.host_key_algorithms
            else:
                so.key_types = self._verifier.preferred_algorithms(tuple(so.key_types))
        except ValueError as err:
            raise ConfigError(f"unsupported algorithm setting: {err}") from None

    def _authenticate(self, transport: paramiko.Transport) -> None:
        """Try keys (agent, key file, identities), then the password; ConfigError if none."""
        user = self.user
        tried: list[str] = []
        allowed: list[str] | None = None
        agent: paramiko.Agent | None = None
        try:
            keys = list(self._keys)
            if self._use_agent():
                agent = paramiko.Agent()
                keys = self._agent_keys(agent) + keys
            for label, key in keys:
                if allowed is not None and "publickey" not in allowed:
                    break
                if "publickey" not in tried:
                    tried.append("publickey")
                try:
                    transport.auth_publickey(user, key)
                except paramiko.BadAuthenticationType as err:
                    allowed = list(err.allowed_types)
                except paramiko.AuthenticationException:
                    log.debug(self, f"sftp: {label} refused")
                if transport.is_authenticated():
                    return
        except paramiko.SSHException as err:
            if isinstance(err, paramiko.AuthenticationException):
                raise ConfigError(f"ssh: authentication failed: {err}") from None
            raise
        finally:
            if agent is not None:
                agent.close()
        password = self._get_password()
        if password:
            if allowed is None or "password" in allowed:
                tried.append("password")
                try:
                    transport.auth_password(user, password.get(), fallback=False)
                except paramiko.BadAuthenticationType as err:
                    allowed = list(err.allowed_types)
                except paramiko.AuthenticationException:
                    pass
            if not transport.is_authenticated() and (
                    allowed is None or "keyboard-interactive" in allowed):
                tried.append("keyboard-interactive")
                try:
                    transport.auth_interactive(
                        user, lambda title, instr, prompts: [password.get() for _ in prompts])
                except paramiko.AuthenticationException:
                    pass
        if transport.is_authenticated():
            return
        methods = " ".join(dict.fromkeys(tried)) or "none"
        hint = "" if tried else " (no key, password or ssh-agent key to offer)"
        raise ConfigError(f"ssh: handshake failed: ssh: unable to authenticate as {user}, "
                          f"attempted methods [{methods}], no supported methods remain{hint}")

    def _get_password(self) -> _Secret:
        if self._password or not self.opts.ask_password:
            return self._password
        with self._password_lock:
            while not self._password:
                self._password = _Secret(getpass.getpass("Enter SFTP password: "))
        return self._password

    @staticmethod
    def _is_broken(exc: BaseException) -> bool:
        if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
            return True
        return isinstance(exc, (EOFError, paramiko.SSHException, SFTPError, socket.timeout,
                                TimeoutError, struct.error))

    def _lease(self) -> Lease[_Conn]:
        try:
            return self._pool.lease()
        except PysyncError:
            raise
        except (OSError, EOFError, paramiko.SSHException) as err:
            raise _conn_error(err, "couldn't connect SSH") from err

    def _map_error(self, err: BaseException, conn: _Conn, path: str | None) -> BaseException:
        """A paramiko/socket exception as the OSError (or PysyncError) the engine expects."""
        if isinstance(err, (PysyncError, KeyboardInterrupt, SystemExit)) or getattr(
                err, "worded", False):
            return err
        alive = conn.alive()
        if isinstance(err, OSError) and err.errno in (errno.ENOENT, errno.EACCES) and alive:
            return _errno_error(err.errno, err.strerror or os.strerror(err.errno), path)
        if not alive or self._is_broken(err):
            return _conn_error(err)
        if isinstance(err, OSError) and err.errno is None:  # an SFTP status: "Failure"...
            return _errno_error(errno.EIO, str(err) or "Failure", path)
        return err

    def _io_error(self, err: BaseException, lease: Lease[_Conn], path: str) -> BaseException:
        mapped = self._map_error(err, lease.conn, path)
        if self._is_broken(mapped) or not lease.conn.alive():
            lease.mark_broken()
        return mapped

    @contextlib.contextmanager
    def _client(self, path: str | None = None) -> Iterator[_SftpClient]:
        """This thread's SFTP client; errors leaving the block are mapped (see _map_error)."""
        lease = self._lease()
        try:
            yield lease.conn.client
        except BaseException as err:
            mapped = self._map_error(err, lease.conn, path)
            lease.release(broken=self._is_broken(mapped) or not lease.conn.alive())
            if mapped is err:
                raise
            raise mapped from err
        lease.release()

    # ----- naming -----------------------------------------------------------------------

    def describe(self) -> str:
        """rclone's name of this Fs: ``sftp://user@host:port/path``."""
        return self._url

    def __repr__(self) -> str:
        return f"SftpBackend({self._url!r})"

    def __str__(self) -> str:
        return self._url

    def full(self, path: str) -> str:
        """The server path of ``path`` (relative to the root)."""
        if not path:
            return self.root
        return posixpath.join(self.root, path)

    @staticmethod
    def _b(full: str) -> bytes:
        return full.encode("utf-8", "surrogateescape")

    # ----- features ---------------------------------------------------------------------

    @property
    def features(self) -> Features:
        """What this remote can do; hash support is detected on first use (rclone's way)."""
        if self._features is None:
            with self._features_lock:
                if self._features is None:
                    self._features = self._detect_features()
        return self._features

    @features.setter
    def features(self, value: Features) -> None:
        self._features = value

    def _detect_features(self) -> Features:
        hashes = self._detect_hashes()
        return Features(name="sftp", precision_ns=1_000_000_000, hashes=hashes,
                        can_set_mtime=self.opts.set_modtime, partial_uploads=True,
                        writer_at=False, server_side_copy=False, case_insensitive=False,
                        extra={"protocol": "sftp", "shell_type": self._shell,
                               "hash_commands": dict(self._hash_cmds), "chunk_size": self._chunk,
                               "posix_rename": self._posix_rename,
                               "connections": self.opts.connections})

    @staticmethod
    def _shell_from_output(out: bytes) -> str:
        """rclone's reading of ``echo ${ShellId}%ComSpec%``: unix, powershell or cmd."""
        text = out.decode("utf-8", "replace").strip()
        if text.startswith("Microsoft.PowerShell"):
            return "powershell"
        if text and not text.endswith("%ComSpec%") and (".exe" in text.lower() or
                                                         ".com" in text.lower()):
            return "cmd"
        return "unix"

    def _detect_hashes(self) -> tuple[str, ...]:
        """Detect the shell and the hash commands (one remote command for a POSIX shell)."""
        o = self.opts
        if o.disable_hashcheck or o.shell_type == "none":
            self._shell = o.shell_type or self._shell
            return ()
        kinds = o.hashes or DEFAULT_HASHES
        candidates = {k: (_NATIVE_ONLY.get(k, _HASH_CANDIDATES.get(k, ())) if not o.hashes
                          else _HASH_CANDIDATES.get(k, ())) for k in kinds}
        found: dict[str, str] = {}
        probe: list[str] = []
        for kind in kinds:
            cmd = o.hash_commands.get(kind, "")
            if cmd == "none":
                continue
            if cmd:
                found[kind] = cmd
            elif candidates[kind]:
                probe.append(kind)
        shell = o.shell_type
        if not shell or shell == "unix":
            # the shell test and the probes of a POSIX shell in one command; other shells
            # fail to parse it and are then detected alone
            script = self._probe_script(probe, candidates)
            cmd = "echo ${ShellId}%ComSpec%" + (f"; {script}" if script else "")
            try:
                out, _, status = self._run(cmd, timeout=60)
            except OSError as err:
                log.debug(self, f"Failed to run shell type detection command: {err}")
                self._shell = shell or "none"
                return ()
            first = out.split(b"\n", 1)[0].strip()
            if not shell and first.endswith(b"%ComSpec%") and first != b"%ComSpec%":
                shell = self._shell_from_output(first)
            elif not shell and not first.endswith(b"%ComSpec%"):
                try:  # not a POSIX shell: detect it on its own, as rclone does
                    again, _, status = self._run("echo ${ShellId}%ComSpec%", timeout=30)
                except OSError:
                    again, status = b"", 1
                shell = self._shell_from_output(again) if status == 0 else "unix"
            shell = shell or "unix"
            if shell == "unix":
                got, absent = self._parse_probe(out, probe, candidates)
                found.update(got)
                probe = [k for k in probe if k not in found and k not in absent]
            if not o.shell_type:
                log.debug(self, f'Shell type "{shell}" detected (set option shell_type to '
                                "override)")
        self._shell = shell
        for kind in probe:
            cmd = self._probe_one(kind, candidates[kind])
            if cmd:
                found[kind] = cmd
        self._hash_cmds = {k: found[k] for k in kinds if k in found}
        for kind, cmd in self._hash_cmds.items():
            log.debug(self, f'Hash command for {kind} is "{cmd}" (set {_COMMAND_OPTIONS[kind]} '
                            "to override)")
        return tuple(self._hash_cmds)

    @staticmethod
    def _probe_script(kinds: list[str], candidates: Mapping[str, tuple[str, ...]]) -> str:
        """A POSIX shell script testing each candidate on the empty input, printing
        ``<kind>:<index>`` for the first that works or ``<kind>:-``."""
        parts = []
        for kind in kinds:
            expr = f"echo {kind}:-"
            for i, cmd in reversed(list(enumerate(candidates[kind]))):
                expr = (f'case "$({cmd} </dev/null 2>/dev/null)" in {_EMPTY_HASH[kind]}*) '
                        f"echo {kind}:{i};; *) {expr};; esac")
            parts.append(expr)
        return "; ".join(parts)

    @staticmethod
    def _parse_probe(out: bytes, kinds: list[str], candidates: Mapping[str, tuple[str, ...]]
                     ) -> tuple[dict[str, str], set[str]]:
        """The commands found by :meth:`_probe_script` and the kinds it found none for."""
        found: dict[str, str] = {}
        absent: set[str] = set()
        for line in out.decode("utf-8", "replace").split():
            kind, _, index = line.partition(":")
            if kind not in kinds:
                continue
            if index == "-":
                absent.add(kind)
            elif index.isdigit() and int(index) < len(candidates[kind]):
                found[kind] = candidates[kind][int(index)]
        return found, absent

    def _probe_one(self, kind: str, commands: tuple[str, ...]) -> str:
        """rclone's probing: run each candidate on the empty input, keep the first right one."""
        candidates = [(c, c) for c in commands]
        if self._shell == "powershell" and kind in _POWERSHELL_ALGO:
            candidates.append(_powershell_commands(kind))
        for file_cmd, empty_cmd in candidates:
            try:
                out, _, status = self._run(empty_cmd, timeout=60)
            except OSError as err:
                log.debug(self, f"Hash command skipped: {err}")
                continue
            if status == 0 and _parse_hash(out) == _EMPTY_HASH[kind]:
                return file_cmd
        return ""

    # ----- remote commands --------------------------------------------------------------

    def _run(self, cmd: str, *, timeout: float | None = None) -> tuple[bytes, bytes, int]:
        """Run ``cmd`` through this thread's SSH connection: (stdout, stderr, exit status).

        ``timeout`` bounds each wait for output (None: wait as long as it takes, as for a
        hash of a huge file; the connection's keepalives keep it open meanwhile).
        """
        log.debug(self, f"Running remote command: {cmd}")
        if self.opts.ssh:
            return self._run_external(cmd, timeout)
        lease = self._lease()
        chan: paramiko.Channel | None = None
        try:
            chan = lease.conn.transport.open_session(timeout=self.opts.connect_timeout)
            if self._env:
                chan.update_environment(self._env)
            chan.settimeout(timeout)
            chan.exec_command(cmd.encode("utf-8", "surrogateescape"))
            chan.shutdown_write()
            out = chan.makefile("rb").read()
            err = chan.makefile_stderr("rb").read()
            status = chan.recv_exit_status()
        except BaseException as exc:
            mapped = self._map_error(exc, lease.conn, None)
            lease.release(broken=self._is_broken(mapped) or not lease.conn.alive())
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            if chan is not None:
                chan.close()
        lease.release()
        log.debug(self, f"Remote command result: {out.strip()[:200]!r} (exit {status})")
        return out, err, status

    def _run_external(self, cmd: str, timeout: float | None) -> tuple[bytes, bytes, int]:
        """``cmd`` through a new run of the ssh program (rclone's external ssh does the
        same: one process per remote command)."""
        proc = self._spawn_ssh(cmd)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise _conn_error(TimeoutError(f"remote command timed out after {timeout:g}s"),
                              "ssh external") from None
        status = proc.returncode
        if status == 255:  # ssh itself failed (connection, host key, authentication)
            reason = err.decode("utf-8", "replace").strip().splitlines()
            raise _conn_error(ConnectionResetError(errno.ECONNRESET,
                                                   reason[-1] if reason else "ssh failed"),
                              "ssh external")
        log.debug(self, f"Remote command result: {out.strip()[:200]!r} (exit {status})")
        return out, err, status

    def _shell_path(self, path: str) -> str:
        override = self.opts.path_override
        if override:
            if override.startswith("@"):
                return posixpath.join(override[1:], self.root.lstrip("/"), path)
            return posixpath.join(override, path) if path else override
        full = self.full(path)
        if self._shell in ("powershell", "cmd") and re.match(r"^/[A-Za-z]:($|/)", full):
            return full[1:]
        return full

    # ----- listing ----------------------------------------------------------------------

    def list_dir(self, path: str, *, want_stat: bool = True) -> Iterator[Entry]:
        """The children of ``path`` (symlinks followed unless ``skip_links``).

        Raises DirNotFoundError when ``path`` is not a directory. ``want_stat`` is accepted
        for the engine's sake: READDIR carries sizes and times anyway.
        """
        full = self.full(path)
        prefix = path + "/" if path else ""
        entries: list[Entry] = []
        with self._client(full) as client:
            try:
                items = _readdir(client, self._b(full))
            except FileNotFoundError:
                raise DirNotFoundError("directory not found", path=full) from None
            except OSError as err:
                if err.errno is None and self._is_not_dir(client, full):
                    raise DirNotFoundError("directory not found", path=full) from None
                raise
            for raw, attr in items:
                name = raw.decode("utf-8", "surrogateescape")
                rel = prefix + name
                mode = attr.st_mode or 0
                if _stat.S_ISLNK(mode) or (mode and not _stat.S_ISDIR(mode)
                                            and not _stat.S_ISREG(mode)):
                    if self.opts.skip_links:
                        continue
                    if _stat.S_ISLNK(mode):
                        try:
                            attr = client.stat(self._b(posixpath.join(full, name)))
                        except FileNotFoundError:
                            log.notice(rel, "Can't follow symlink: broken link")
                            continue
                        except OSError as err:
                            log.error(rel, f"stat of non-regular file failed: {err}")
                            continue
                entry = _attr_entry(rel, attr)
                if entry is None:
                    log.notice(rel, "Can't transfer non file/directory")
                    continue
                entries.append(entry)
        return iter(entries)

    def _is_not_dir(self, client: _SftpClient, full: str) -> bool:
        try:
            return not _stat.S_ISDIR(client.stat(self._b(full)).st_mode or 0)
        except FileNotFoundError:
            return True

    def stat(self, path: str) -> Entry | None:
        """The entry at ``path`` (symlinks followed) or None."""
        full = self.full(path)
        with self._client(full) as client:
            try:
                attr = client.stat(self._b(full))
            except FileNotFoundError:
                return None
        return _attr_entry(path, attr)

    # ----- data -------------------------------------------------------------------------

    def _open_handle(self, client: _SftpClient, full: str, flags: int) -> bytes:
        t, msg = client._request(CMD_OPEN, self._b(full), flags, SFTPAttributes())
        if t != CMD_HANDLE:
            raise SFTPError("Expected handle")
        return bytes(msg.get_binary())

    def _depth(self, disabled: bool) -> int:
        if disabled:
            return 1
        return max(1, min(self.opts.concurrency, _IN_FLIGHT // self._chunk))

    def _opened(self, full: str, make: Callable[[Lease[_Conn], _SftpClient], BinaryIO]
                ) -> BinaryIO:
        """``make(lease, client)`` on a leased connection: a reader or writer that keeps the
        lease; on failure the lease is released (broken when the connection is) and the
        error translated once, here."""
        lease = self._lease()
        try:
            return make(lease, lease.conn.client)
        except BaseException as err:
            mapped = self._map_error(err, lease.conn, full)
            lease.release(broken=self._is_broken(mapped) or not lease.conn.alive())
            if mapped is err:
                raise
            raise mapped from err

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        """A reader positioned at ``offset`` with read-ahead (``concurrency`` requests)."""
        full = self.full(path)

        def make(lease: Lease[_Conn], client: _SftpClient) -> BinaryIO:
            handle = self._open_handle(client, full, SFTP_FLAG_READ)
            return cast(BinaryIO, _Reader(self, lease, handle, full, max(0, offset), self._chunk,
                                          self._depth(self.opts.disable_concurrent_reads)))

        return self._opened(full, make)

    def open_write(self, path: str) -> BinaryIO:
        """A pipelined writer that truncates or creates ``path`` (parents created)."""
        full = self.full(path)
        flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_TRUNC

        def make(lease: Lease[_Conn], client: _SftpClient) -> BinaryIO:
            # errors worded as rclone's Put: mkParentDir, then Update's create
            try:
                try:
                    handle = self._open_handle(client, full, flags)
                except FileNotFoundError:
                    try:
                        self._mkdirs(client, posixpath.dirname(full))
                    except OSError as err:
                        raise _rclone_error("Put mkParentDir failed", err) from None
                    handle = self._open_handle(client, full, flags)
            except OSError as err:
                if getattr(err, "worded", False) or not hasattr(err, "sftp_text"):
                    raise
                raise _rclone_error("Update Create failed", err) from None
            return cast(BinaryIO, _Writer(self, lease, handle, full, self._chunk,
                                          self._depth(self.opts.disable_concurrent_writes)))

        return self._opened(full, make)

    def open_write_at(self, path: str, offset: int) -> BinaryIO:
        """A pipelined writer of the existing file ``path``, cut to ``offset`` bytes and
        writing from there (resuming a partial file)."""
        full = self.full(path)

        def make(lease: Lease[_Conn], client: _SftpClient) -> BinaryIO:
            handle = self._open_handle(client, full, SFTP_FLAG_WRITE)
            attr = SFTPAttributes()
            attr.st_size = offset
            try:
                client._request(CMD_FSETSTAT, handle, attr)
            except BaseException:
                with contextlib.suppress(Exception):
                    client._request(CMD_CLOSE, handle)
                raise
            return cast(BinaryIO, _Writer(self, lease, handle, full, self._chunk,
                                          self._depth(self.opts.disable_concurrent_writes),
                                          offset))

        return self._opened(full, make)

    # ----- changes ----------------------------------------------------------------------

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` over ``dst`` (posix-rename@openssh.com, else remove + rename)."""
        self._rename_full(self.full(src), self.full(dst))

    def _rename_full(self, fsrc: str, fdst: str) -> None:
        """Rename server path ``fsrc`` over ``fdst``, creating ``fdst``'s parents; errors
        worded as rclone's Move (``Move Rename failed: ...``)."""
        bsrc, bdst = self._b(fsrc), self._b(fdst)
        with self._client(fsrc) as client:
            try:
                try:
                    self._rename_once(client, bsrc, bdst)
                except FileNotFoundError:
                    try:
                        client.stat(bsrc)
                    except FileNotFoundError:
                        raise
                    try:
                        self._mkdirs(client, posixpath.dirname(fdst))
                    except OSError as err:
                        raise _rclone_error("Move mkParentDir failed", err) from None
                    self._rename_once(client, bsrc, bdst)
            except OSError as err:
                if getattr(err, "worded", False) or not hasattr(err, "sftp_text"):
                    raise
                raise _rclone_error("Move Rename failed", err) from None

    def _rename_once(self, client: _SftpClient, bsrc: bytes, bdst: bytes) -> None:
        if self._posix_rename:
            client.posix_rename(bsrc, bdst)
            return
        try:
            client.rename(bsrc, bdst)
        except FileNotFoundError:
            raise
        except OSError:
            try:
                client.remove(bdst)
            except FileNotFoundError:
                pass
            client.rename(bsrc, bdst)

    # ----- server-side move (optional, see base.ServerSideMove) ---------------------------

    def same_remote(self, other: object) -> bool:
        """The same config entry (rclone's SameConfig) and the same server and login (two
        on-the-fly ``:sftp,host=...:`` remotes share a name, not a server)."""
        if not isinstance(other, SftpBackend):
            return False
        return self.name == other.name and (self.hostname, self.port, self.user) == (
            other.hostname, other.port, other.user)

    def overlap_root(self) -> tuple[str, str]:
        """The server and the absolute root on it."""
        return f"sftp://{self.hostname}:{self.port}", self.root.strip("/")

    def move_from(self, other: object, path: str, target: str) -> bool:
        """A rename ON THE SERVER of ``other``'s file to ``target`` under this root, its
        parent directories created there (rclone's sftp Move)."""
        assert isinstance(other, SftpBackend)
        self._rename_full(other.full(path), self.full(target))
        return True

    def remove(self, path: str) -> None:
        """Delete the file at ``path``."""
        full = self.full(path)
        with self._client(full) as client:
            try:
                client.remove(self._b(full))
            except (FileNotFoundError, PermissionError):
                raise
            except OSError:
                attr = client.stat(self._b(full))
                if _stat.S_ISDIR(attr.st_mode or 0):
                    raise IsADirectoryError(errno.EISDIR, "Is a directory", full) from None
                raise

    def mkdir(self, path: str) -> None:
        """Create ``path`` and its parents; fine if it exists as a directory."""
        full = self.full(path)
        with self._client(full) as client:
            self._mkdirs(client, full)

    def _mkdirs(self, client: _SftpClient, full: str) -> None:
        """Make directory ``full`` and its parents. Errors read as rclone's sftp mkdir's:
        ``mkdir dirExists failed: is a file not a directory`` when a file is in the way,
        ``mkdir "<path>" failed: <reason>`` when the server refuses."""
        if full in ("", "/", "."):
            return
        try:
            client.mkdir(self._b(full))
            return
        except FileNotFoundError:
            parent = posixpath.dirname(full)
            if parent == full:
                raise
            self._mkdirs(client, parent)
        except OSError as err:
            try:
                attr = client.stat(self._b(full))
            except FileNotFoundError:
                raise _rclone_error(f"mkdir {go_quote(full)} failed", err) from None
            if _stat.S_ISDIR(attr.st_mode or 0):
                return
            raise worded(errno.ENOTDIR, "mkdir dirExists failed: is a file not a directory"
                         ) from None
        try:
            client.mkdir(self._b(full))
        except OSError as err:
            if not _stat.S_ISDIR(client.stat(self._b(full)).st_mode or 0):
                raise _rclone_error(f"mkdir {go_quote(full)} failed", err) from None

    def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path`` (checked empty first, as rclone does)."""
        full = self.full(path)
        with self._client(full) as client:
            try:
                items = _readdir(client, self._b(full))
            except FileNotFoundError:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", full
                                        ) from None
            if items:
                raise OSError(errno.ENOTEMPTY, "Directory not empty", full)
            client.rmdir(self._b(full))

    def set_mtime(self, path: str, mtime_ns: int) -> None:
        """Set atime and mtime of ``path`` (whole seconds; a no-op when ``set_modtime`` is
        false)."""
        if not self.opts.set_modtime:
            return
        secs = min(max(mtime_ns // 1_000_000_000, 0), 0xFFFFFFFF)
        full = self.full(path)
        with self._client(full) as client:
            try:
                client.utime(self._b(full), (secs, secs))
            except OSError as err:
                if not hasattr(err, "sftp_text"):
                    raise
                raise _rclone_error("SetModTime failed", err) from None

    def hash(self, path: str, kind: str) -> str | None:
        """The ``kind`` hash of ``path`` computed by the server's hash command, or None.

        None when the kind is not supported (or hashing is disabled) and when ``path`` is
        missing or a directory. Raises OSError when the command fails on a file.
        """
        try:
            kind = canonical(kind)
        except ValueError:
            return None
        if kind not in self.features.hashes:
            return None
        cmd = self._hash_cmds[kind]
        full = self.full(path)
        arg = _quote_shell_path(self._shell, self._shell_path(path))
        out, err, status = self._run(f"{cmd} {arg}")
        value = _parse_hash(out) if status == 0 else ""
        if status == 0 and re.fullmatch(r"[0-9a-f]+", value) and \
                len(value) == len(_EMPTY_HASH[kind]):
            return value
        entry = self.stat(path)
        if entry is None or entry.is_dir:
            return None
        reason = err.decode("utf-8", "replace").strip() or f"exit status {status}"
        if status == 0:
            reason = f"unexpected output {out[:80]!r}"
        raise OSError(errno.EIO, f"failed to calculate {kind} hash: {reason}", full)

    def close(self) -> None:
        """Close every pooled connection (in-use ones when they are released)."""
        n = self._pool.close()
        if n:
            log.debug(self, f"Closed {n} unused connection{'s' if n != 1 else ''}")


# ----- key loading -----------------------------------------------------------------------------


def _load_private_key(data: bytes, passphrase: str | None, source: str) -> paramiko.PKey:
    """A paramiko key from PEM/OpenSSH private key ``data``; ConfigError (no secret in it)."""
    import io

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    pw = passphrase.encode("utf-8") if passphrase else None
    try:
        try:
            loaded = serialization.load_ssh_private_key(data, password=pw)
        except ValueError as err:
            if "not openssh" not in str(err).lower() and b"OPENSSH PRIVATE KEY" in data:
                raise
            loaded = serialization.load_pem_private_key(data, password=pw)
    except TypeError:
        if pw:
            raise ConfigError(f"failed to parse private key file {source}: the key is not "
                              "encrypted but key_file_pass is set") from None
        raise ConfigError(f"failed to parse private key file {source}: the key is encrypted - "
                          "set key_file_pass") from None
    except ValueError:
        what = "wrong passphrase or unsupported key" if pw else "unsupported key format"
        raise ConfigError(f"failed to parse private key file {source}: {what}") from None
    cls: type[paramiko.PKey]
    if isinstance(loaded, rsa.RSAPrivateKey):
        cls = paramiko.RSAKey
    elif isinstance(loaded, ed25519.Ed25519PrivateKey):
        cls = paramiko.Ed25519Key
    elif isinstance(loaded, ec.EllipticCurvePrivateKey):
        cls = paramiko.ECDSAKey
    else:
        raise ConfigError(f"failed to parse private key file {source}: unsupported key type")
    try:
        return cls.from_private_key(io.StringIO(data.decode("utf-8")), password=passphrase)
    except (paramiko.SSHException, ValueError, TypeError, UnicodeDecodeError):
        raise ConfigError(f"failed to parse private key file {source}") from None


def _load_key_file(path: str, passphrase: str | None) -> paramiko.PKey:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise ConfigError(f"failed to read private key file: open {path}: "
                          f"{err.strerror or err}") from None
    return _load_private_key(data, passphrase, path)


def _read_public_blob(key_file: str) -> bytes:
    """The public key blob for ``key_file`` (from ``key_file.pub``, else ``key_file``)."""
    for candidate in (key_file + ".pub", key_file):
        try:
            with open(candidate, encoding="utf-8") as fh:
                fields = fh.read().split()
        except FileNotFoundError:
            continue
        except OSError as err:
            raise ConfigError(f"failed to read public key file: {err}") from None
        for i, value in enumerate(fields[:3]):
            if i and fields[i - 1].startswith(("ssh-", "ecdsa-")):
                try:
                    return base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    break
    raise ConfigError(f"failed to read public key file: {key_file}.pub")


def _describe_exc(err: BaseException, host: str, port: int) -> str:
    """An error of the first connection, worded like Go's net errors where it is one."""
    if isinstance(err, socket.gaierror):
        return f"dial tcp: lookup {host}: {err.strerror or err}"
    if isinstance(err, (socket.timeout, TimeoutError)):
        return f"dial tcp {host}:{port}: i/o timeout"
    if isinstance(err, ConnectionError) and err.strerror:
        return f"dial tcp {host}:{port}: connect: {err.strerror.lower()}"
    return str(err) or type(err).__name__


def open_remote(name: str, options: dict[str, str], path: str) -> SftpBackend:
    """The sftp remote ``name`` (its config section merged with connection-string options)
    rooted at ``path``; what :mod:`syncengine.remotes` calls for ``type = sftp``."""
    return SftpBackend(options, path, name=name)

