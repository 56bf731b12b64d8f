"""The SMB backend (rclone's ``smb`` remote type) over smbprotocol's ``smbclient`` API.

Paths: the backend path is ``share/dir/...`` (rclone's); the first segment is the share, the
rest is encoded with rclone's default SMB name encoding (``:*?"<>|`` and ``\\`` to their
FULLWIDTH forms, control characters to the SYMBOL FOR block, trailing space/period, ``.``
and ``..`` names, invalid UTF-8), composed with rclone's local ``Base`` encoding, so the
names on the share are byte-identical to what ``rclone copy`` from the same local tree writes.

Connections: a pool of ``(TCP connection, SMB session)`` pairs, each in its own ``smbclient``
connection cache (nothing shared with other users of ``smbclient`` or other backends) and with
its own client GUID (Samba then serves each in its own process). An operation borrows a pair
for its duration (a reader or writer keeps it until closed), so threads work in parallel on
separate connections; listings running at the same time share one pair instead (each is
one compound request; answers are matched by message id), so the walker's parallel listings
cost one session set-up; pairs idle for ``idle_timeout`` are logged off; a pair whose
connection broke is dropped; :meth:`SmbBackend.close` logs them all off.

Listings: one round trip per directory. :meth:`SmbBackend.list_dir` sends one related
compound request: CREATE (the directory), QUERY_DIRECTORY (restart scan, up to 1 MiB, credits
permitting), a second QUERY_DIRECTORY and CLOSE. When the second one answers
``STATUS_NO_MORE_FILES`` the first answer held the whole directory; otherwise (a directory
larger than one answer) the compound's entries are dropped and the directory is listed again
on an open handle, one ``QUERY_DIRECTORY`` exchange per batch - as are directories on a DFS
share (smbclient resolves the referrals) or when the connection is short of credits.

Times: SMB carries FILETIMEs (100 ns units). Listings parse the raw ``QUERY_DIRECTORY``
records, because ``smbclient.scandir``'s ``smb_info`` rounds them to datetimes (1 us); Samba
keeps the full 100 ns (measured: a time set over SMB reads back exact to 100 ns).

Errors are raised as OSError subclasses with an errno (``STATUS_OBJECT_NAME_NOT_FOUND`` is a
FileNotFoundError, a lost connection a ConnectionResetError...). Credentials never appear in
messages or logs: the password is revealed only when a session is set up.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import getpass
import io
import logging
import os
import re
import select
import socket
import stat as _stat
import struct
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO, TypeVar

from . import _spnego_lean  # before smbclient: spnego without CredSSP, x509, Kerberos...

# isort: split
import smbclient
from smbclient._io import SMBFileIO, SMBFileTransaction, SMBRawIO, set_info
from smbclient._pool import get_smb_tree
from smbprotocol import MAX_PAYLOAD_SIZE
from smbprotocol.connection import (
    Commands,
    Connection,
    Dialects,
    SMB2Echo,
    SMB2TransformHeader,
)
from smbprotocol.exceptions import (
    NoMoreFiles,
    NoSuchFile,
    SMBAuthenticationError,
    SMBConnectionClosed,
    SMBException,
    SMBOSError,
    SMBResponseException,
)
from smbprotocol.file_info import (
    FileAttributes,
    FileBasicInformation,
    FileInformationClass,
    FileRenameInformation,
)
from smbprotocol.header import NtStatus, SMB2HeaderResponse
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    DirectoryAccessMask,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    Open,
    QueryDirectoryFlags,
    ShareAccess,
    SMB2CloseRequest,
    SMB2CreateRequest,
    SMB2QueryDirectoryRequest,
    SMB2QueryDirectoryResponse,
    SMB2ReadRequest,
    SMB2SetInfoRequest,
    SMB2WriteRequest,
)
from smbprotocol.session import Session
from smbprotocol.structure import DateTimeField
from smbprotocol.transport import Tcp

from .. import log
from ..confvalues import parse_bool
from ..confvalues import reveal as _reveal
from ..errors import ConfigError, DirNotFoundError, RetryableError, worded
from ..units import parse_duration
from . import smbraw
from .base import Entry, Features

_spnego_lean.no_default_backend()  # no OpenSSL backend module for NTLM, signing, keys

_T = TypeVar("_T")

__all__ = ["SmbBackend", "ListingAhead", "open_remote", "SmbAuthError", "SmbConnectionError",
           "SmbUnsupportedError", "NameEncoder",
           "DEFAULT_ENCODING", "ENCODER_FLAGS", "parse_encoding", "reveal"]

# smbprotocol, smbclient and spnego log to their own loggers; without a handler Python's
# last-resort handler would print their warnings (e.g. "socket aborted by peer (ECONNRESET),
# treating as EOF" when the server dies) bare on stderr. Applications may still add one.
for _name in ("smbprotocol", "smbclient", "spnego"):
    logging.getLogger(_name).addHandler(logging.NullHandler())
del _name

#: FILETIME of the Unix epoch (100 ns units since 1601-01-01 UTC).
EPOCH_FILETIME = 116_444_736_000_000_000
#: The chunk readall() uses (the engine reads 4 MiB too).
IO_CHUNK = 4 * 1024 * 1024
#: Bytes per READ/WRITE request (credits and the server's limit permitting), and the most
#: bytes of requests in flight per open file.
_IO_REQUEST = 1024 * 1024
_IO_WINDOW = 8 * 1024 * 1024
#: Files listed smaller than this are read whole in one round trip (:meth:`SmbBackend.open_whole`).
_WHOLE_READ = 1024 * 1024
#: Small files' compounds sent on one connection before their answers are read
#: (:meth:`SmbBackend.read_small`).
_READS_IN_FLIGHT = 16
#: Files to be written with fewer bytes than this are sent whole at close.
_WHOLE_WRITE = 1024 * 1024
#: The largest QUERY_DIRECTORY answer asked for (credits permitting).
_LIST_BUFFER = 1024 * 1024
#: The answer size of the compound's second QUERY_DIRECTORY (one credit): it only tells
#: whether the first answer held the whole directory (STATUS_NO_MORE_FILES).
_PROBE_BUFFER = MAX_PAYLOAD_SIZE
#: [MS-SMB2] 3.2.4.1.4: the FileId that means "the open of this compound's CREATE".
_CHAINED_FILE_ID = b"\xff" * 16
_DEFAULT_PORT = 445
_DEFAULT_IDLE_NS = 60 * 1_000_000_000
_CONNECT_TIMEOUT = 60
_SENDMSG = hasattr(socket.socket, "sendmsg")
_MSG_MORE = getattr(socket, "MSG_MORE", 0)  # Linux
#: The most the receiving thread reads from an SMB socket at once (several answers).
_RECV_CHUNK = 256 * 1024
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
#: What a failed send of a file's data means the connection failed (any other errno: the
#: file could not be read).
_SOCKET_ERRNOS = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED, errno.ENOTCONN,
                            errno.ESHUTDOWN, errno.ETIMEDOUT, errno.EBADF, errno.EAGAIN})

# FILE_ID_FULL_DIRECTORY_INFORMATION ([MS-FSCC] 2.4.18): next entry offset, file index, four
# FILETIMEs, end of file, allocation size, attributes, name length, EA size, reserved,
# file id; then the UTF-16 name.
_FULL_DIR = struct.Struct("<IIqqqqqqIIIIQ")
_ATTR_DIRECTORY = 0x10

# rclone's fs/config/obscure key (AES-256-CTR; the IV is the first block of the value).


# ----- errors ------------------------------------------------------------------------------


class SmbAuthError(ConfigError, PermissionError):
    """The server refused the credentials (exit 1, not retried: retrying cannot cure it)."""

    reference = "smb-authentication"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.errno = errno.EACCES
        self.strerror = message


class SmbUnsupportedError(ConfigError, OSError):
    """Something the SMB backend cannot do, e.g. list the shares of a server (exit 1)."""

    reference = "smb-unsupported"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.errno = errno.EOPNOTSUPP
        self.strerror = message


class SmbConnectionError(RetryableError, ConnectionResetError):
    """The SMB server could not be reached or the connection broke (retried, exit 5)."""

    reference = "smb-connection"

    def __init__(self, message: str, *, path: str | None = None,
                 code: int = errno.ECONNRESET) -> None:
        super().__init__(message, path=path)
        self.errno = code
        self.strerror = message


def _status_errno() -> dict[int, int]:
    pairs = {
        "STATUS_OBJECT_NAME_NOT_FOUND": errno.ENOENT,
        "STATUS_OBJECT_PATH_NOT_FOUND": errno.ENOENT,
        "STATUS_NO_SUCH_FILE": errno.ENOENT,
        "STATUS_NOT_FOUND": errno.ENOENT,
        "STATUS_DELETE_PENDING": errno.ENOENT,
        "STATUS_BAD_NETWORK_NAME": errno.ENOENT,
        "STATUS_OBJECT_NAME_COLLISION": errno.EEXIST,
        "STATUS_FILE_IS_A_DIRECTORY": errno.EISDIR,
        "STATUS_NOT_A_DIRECTORY": errno.ENOTDIR,
        "STATUS_DIRECTORY_NOT_EMPTY": errno.ENOTEMPTY,
        "STATUS_ACCESS_DENIED": errno.EACCES,
        "STATUS_CANNOT_DELETE": errno.EACCES,
        "STATUS_PRIVILEGE_NOT_HELD": errno.EACCES,
        "STATUS_SHARING_VIOLATION": errno.EBUSY,
        "STATUS_DISK_FULL": errno.ENOSPC,
        "STATUS_OBJECT_NAME_INVALID": errno.EINVAL,
        "STATUS_OBJECT_PATH_SYNTAX_BAD": errno.EINVAL,
        "STATUS_OBJECT_PATH_INVALID": errno.EINVAL,
        "STATUS_INVALID_PARAMETER": errno.EINVAL,
        "STATUS_NOT_SUPPORTED": errno.EOPNOTSUPP,
        "STATUS_END_OF_FILE": errno.ENODATA,
        "STATUS_FILE_CLOSED": errno.EBADF,
        "STATUS_IO_TIMEOUT": errno.ETIMEDOUT,
        "STATUS_NETWORK_NAME_DELETED": errno.ECONNRESET,
        "STATUS_USER_SESSION_DELETED": errno.ECONNRESET,
        "STATUS_NETWORK_SESSION_EXPIRED": errno.ECONNRESET,
        "STATUS_INSUFF_SERVER_RESOURCES": errno.EAGAIN,
        "STATUS_INSUFFICIENT_RESOURCES": errno.EAGAIN,
    }
    out: dict[int, int] = {}
    for name, code in pairs.items():
        value = getattr(NtStatus, name, None)
        if isinstance(value, int):
            out[value] = code
    return out


_STATUS_ERRNO = _status_errno()
_AUTH_STATUSES = frozenset(getattr(NtStatus, n) for n in (
    "STATUS_LOGON_FAILURE", "STATUS_WRONG_PASSWORD", "STATUS_PASSWORD_EXPIRED",
    "STATUS_ACCOUNT_DISABLED", "STATUS_ACCOUNT_RESTRICTION", "STATUS_ACCOUNT_LOCKED_OUT",
    "STATUS_NO_SUCH_USER", "STATUS_PASSWORD_MUST_CHANGE") if hasattr(NtStatus, n))
_CONNECTION_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED,
                                errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EHOSTUNREACH,
                                errno.ENETUNREACH})


def _status_name(status: int) -> str:
    """``STATUS_...`` name of an NTSTATUS value."""
    for name, value in vars(NtStatus).items():
        if value == status and name.startswith("STATUS_"):
            return name
    return f"NTSTATUS 0x{status:08x}"


# ----- rclone's obscured values ----------------------------------------------------------


def reveal(value: str) -> str:
    """The clear text of a value obscured by ``rclone obscure`` (rclone's ``obscure.Reveal``).

    Raises ConfigError (without echoing the value) when it is not an obscured string.
    """
    try:
        return _reveal(value)
    except ValueError as err:
        raise ConfigError(str(err)) from None


# ----- rclone's name encoding (lib/encoder) ------------------------------------------------

_FULL_OFFSET = 0xFEE0
_SYMBOL_OFFSET = 0x2400  # SYMBOL FOR NULL
_QUOTE = "\u201b"  # SINGLE HIGH-REVERSED-9 QUOTATION MARK
_FW_DOT = "\uff0e"  # FULLWIDTH FULL STOP
_SYM_SPACE = "\u2420"  # SYMBOL FOR SPACE
_FW_TILDE = "\uff5e"

#: rclone's MultiEncoder bits, by name (``encoding`` option values).
ENCODER_FLAGS: dict[str, int] = {
    "None": 0, "Raw": 1 << 0, "Slash": 1 << 1, "LtGt": 1 << 2, "DoubleQuote": 1 << 3,
    "SingleQuote": 1 << 4, "BackQuote": 1 << 5, "Dollar": 1 << 6, "Colon": 1 << 7,
    "Question": 1 << 8, "Asterisk": 1 << 9, "Pipe": 1 << 10, "Hash": 1 << 11,
    "Percent": 1 << 12, "BackSlash": 1 << 13, "CrLf": 1 << 14, "Del": 1 << 15, "Ctl": 1 << 16,
    "LeftSpace": 1 << 17, "LeftPeriod": 1 << 18, "LeftTilde": 1 << 19,
    "LeftCrLfHtVt": 1 << 20, "RightSpace": 1 << 21, "RightPeriod": 1 << 22,
    "RightCrLfHtVt": 1 << 23, "InvalidUtf8": 1 << 24, "Dot": 1 << 25,
    "SquareBracket": 1 << 26, "Semicolon": 1 << 27, "Exclamation": 1 << 28,
}
_F = ENCODER_FLAGS
#: rclone's ``encoder.Base``: the local backend's encoding on Linux (``encoder.OS``).
BASE_ENCODING = _F["Slash"] | _F["Dot"]
#: The smb backend's default ``encoding``: Slash, BackSlash, Win (``:?"*<>|``), Ctl, Dot,
#: RightSpace, RightPeriod, InvalidUtf8.
DEFAULT_ENCODING = (_F["Slash"] | _F["BackSlash"] | _F["Colon"] | _F["Question"]
                    | _F["DoubleQuote"] | _F["Asterisk"] | _F["LtGt"] | _F["Pipe"] | _F["Ctl"]
                    | _F["Dot"] | _F["RightSpace"] | _F["RightPeriod"] | _F["InvalidUtf8"])

# Characters mapped by a flag to the FULLWIDTH form (+0xFEE0).
_FULLWIDTH_CHARS = {
    "Slash": "/", "LtGt": "<>", "DoubleQuote": '"', "SingleQuote": "'", "BackQuote": "`",
    "Dollar": "$", "Colon": ":", "Question": "?", "Asterisk": "*", "Pipe": "|", "Hash": "#",
    "Percent": "%", "BackSlash": "\\", "SquareBracket": "[]", "Semicolon": ";",
    "Exclamation": "!",
}
_CRLFHTVT = "\t\n\v\r"
_CRLFHTVT_SYMBOLS = {chr(ord(c) + _SYMBOL_OFFSET): c for c in _CRLFHTVT}
#: ASCII characters an edge rule of some mask encodes at the start or end of a name
_ASCII_EDGE = frozenset(" .~" + _CRLFHTVT)


def parse_encoding(text: str) -> int:
    """An ``encoding`` option value (names joined by commas, or numbers) as a bit mask."""
    mask = 0
    for part in text.split(","):
        part = part.strip()
        if part in ENCODER_FLAGS:
            mask |= ENCODER_FLAGS[part]
            continue
        try:
            mask |= int(part, 0)
        except ValueError:
            valid = ", ".join(sorted(ENCODER_FLAGS))
            raise ConfigError(f'bad encoding "{part}": possible values are: {valid}') from None
    return mask


class NameEncoder:
    """rclone's ``encoder.MultiEncoder`` for one mask: :meth:`encode` a standard name,
    :meth:`decode` an encoded one. Invalid UTF-8 is carried as surrogate escapes (as
    ``os.fsdecode`` gives them) and encoded as ``‛XX``."""

    def __init__(self, mask: int = DEFAULT_ENCODING) -> None:
        self.mask = mask
        self.raw = mask == _F["Raw"]
        enc: dict[str, str] = {"\x00": chr(_SYMBOL_OFFSET)}
        for flag, chars in _FULLWIDTH_CHARS.items():
            if mask & _F[flag]:
                for c in chars:
                    enc[c] = chr(ord(c) + _FULL_OFFSET)
        if mask & _F["CrLf"]:
            for c in "\r\n":
                enc[c] = chr(ord(c) + _SYMBOL_OFFSET)
        if mask & _F["Del"]:
            enc["\x7f"] = "\u2421"
        if mask & _F["Ctl"]:
            for i in range(1, 0x20):
                enc[chr(i)] = chr(i + _SYMBOL_OFFSET)
        self._enc = enc
        self._dec = {v: k for k, v in enc.items()}
        # encoded forms met in a raw name are quoted; SYMBOL FOR NULL and the quote always
        self._quoted = set(self._dec) | {_QUOTE}
        self._bad_utf8 = bool(mask & _F["InvalidUtf8"])
        # the ASCII characters this mask encodes anywhere in a name
        self._ascii_encoded = frozenset(c for c in enc if c.isascii())

    def _has(self, flag: str) -> bool:
        return bool(self.mask & _F[flag])

    def encode(self, name: str) -> str:
        """The server's form of one path segment."""
        if self.raw or not name:
            return name
        # most names are ASCII with nothing to encode: no character of the mask's, and no
        # first or last character that an edge rule (space, period, tilde, CR/LF/HT/VT)
        # may take - whichever flags are set
        if name.isascii() and name[0] not in _ASCII_EDGE and name[-1] not in _ASCII_EDGE \
                and self._ascii_encoded.isdisjoint(name):
            return name
        return self._encode(name)

    def _encode(self, name: str) -> str:
        if self._has("Dot"):
            special = {".": _FW_DOT, "..": _FW_DOT * 2, _FW_DOT: _QUOTE + _FW_DOT,
                       _FW_DOT * 2: (_QUOTE + _FW_DOT) * 2}.get(name)
            if special is not None:
                return special
        prefix = suffix = ""
        if self._has("LeftSpace"):
            if name[0] == " ":
                prefix, name = _SYM_SPACE, name[1:]
            elif name[0] == _SYM_SPACE:
                prefix, name = _QUOTE + _SYM_SPACE, name[1:]
        if self._has("LeftPeriod") and not prefix:
            if name[0] == ".":
                prefix, name = _FW_DOT, name[1:]
            elif name[0] == _FW_DOT:
                prefix, name = _QUOTE + _FW_DOT, name[1:]
        if self._has("LeftTilde") and not prefix:
            if name[0] == "~":
                prefix, name = _FW_TILDE, name[1:]
            elif name[0] == _FW_TILDE:
                prefix, name = _QUOTE + _FW_TILDE, name[1:]
        if self._has("LeftCrLfHtVt") and not prefix:
            if name[0] in _CRLFHTVT:
                prefix, name = chr(ord(name[0]) + _SYMBOL_OFFSET), name[1:]
            elif name[0] in _CRLFHTVT_SYMBOLS:
                prefix, name = _QUOTE + name[0], name[1:]
        if name:
            if self._has("RightSpace"):
                if name[-1] == " ":
                    suffix, name = _SYM_SPACE, name[:-1]
                elif name[-1] == _SYM_SPACE:
                    suffix, name = _QUOTE + _SYM_SPACE, name[:-1]
            if self._has("RightPeriod") and not suffix:
                if name[-1] == ".":
                    suffix, name = _FW_DOT, name[:-1]
                elif name[-1] == _FW_DOT:
                    suffix, name = _QUOTE + _FW_DOT, name[:-1]
            if self._has("RightCrLfHtVt") and not suffix:
                if name[-1] in _CRLFHTVT:
                    suffix, name = chr(ord(name[-1]) + _SYMBOL_OFFSET), name[:-1]
                elif name[-1] in _CRLFHTVT_SYMBOLS:
                    suffix, name = _QUOTE + name[-1], name[:-1]
        out: list[str] = [prefix]
        enc, quoted = self._enc, self._quoted
        for c in name:
            if c in enc:
                out.append(enc[c])
            elif c in quoted:
                out.append(_QUOTE + c)
            elif "\udc80" <= c <= "\udcff" and self._bad_utf8:
                out.append(f"{_QUOTE}{ord(c) - 0xDC00:02X}")
            else:
                out.append(c)
        out.append(suffix)
        return "".join(out)

    def decode(self, name: str) -> str:
        """The standard form of one segment listed by the server."""
        if self.raw or not name or name.isascii():
            # every encoded form and the quote are non-ASCII: an ASCII name decodes as is
            return name
        return self._decode(name)

    def _decode(self, name: str) -> str:
        if self._has("Dot"):
            special = {_FW_DOT: ".", _FW_DOT * 2: "..", _QUOTE + _FW_DOT: _FW_DOT,
                       (_QUOTE + _FW_DOT) * 2: _FW_DOT * 2}.get(name)
            if special is not None:
                return special
        prefix = suffix = ""
        first = name[0]
        lefts = {"LeftSpace": (_SYM_SPACE, " "), "LeftPeriod": (_FW_DOT, "."),
                 "LeftTilde": (_FW_TILDE, "~")}
        for flag, (sym, plain) in lefts.items():
            if self._has(flag) and first == sym:
                prefix, name = plain, name[1:]
                break
        else:
            if self._has("LeftCrLfHtVt") and first in _CRLFHTVT_SYMBOLS:
                prefix, name = _CRLFHTVT_SYMBOLS[first], name[1:]
            elif first == _QUOTE and len(name) > 1:
                nxt = name[1]
                if any(self._has(f) and nxt == s for f, (s, _) in lefts.items()) or (
                        self._has("LeftCrLfHtVt") and nxt in _CRLFHTVT_SYMBOLS):
                    prefix, name = nxt, name[2:]
        if name:
            last = name[-1]
            rights = {"RightSpace": (_SYM_SPACE, " "), "RightPeriod": (_FW_DOT, ".")}
            done = False
            for flag, (sym, plain) in rights.items():
                if self._has(flag) and last == sym:
                    name = name[:-1]
                    if name.endswith(_QUOTE):
                        suffix, name = sym, name[:-1]
                    else:
                        suffix = plain
                    done = True
                    break
            if not done and self._has("RightCrLfHtVt") and last in _CRLFHTVT_SYMBOLS:
                name = name[:-1]
                if name.endswith(_QUOTE):
                    suffix, name = last, name[:-1]
                else:
                    suffix = _CRLFHTVT_SYMBOLS[last]
        out: list[str] = [prefix]
        dec = self._dec
        unquote = skip = False
        for i, c in enumerate(name):
            if skip:
                skip = False
                continue
            if unquote:
                unquote = False
                if c in dec or c == _QUOTE:
                    out.append(c)
                    continue
                pair = name[i:i + 2]
                if self._bad_utf8 and re.fullmatch(r"[0-9A-Fa-f]{2}", pair):
                    b = int(pair, 16)
                    out.append(chr(0xDC00 + b) if b >= 0x80 else chr(b))
                    skip = True
                    continue
                out.append(_QUOTE + c)
                continue
            if c == _QUOTE:
                unquote = True
            elif c in dec:
                out.append(dec[c])
            else:
                out.append(c)
        if unquote:
            out.append(_QUOTE)
        out.append(suffix)
        return "".join(out)


# ----- options ------------------------------------------------------------------------------


def _parse_bool(key: str, value: str) -> bool:
    return parse_bool(key, value)


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


# ----- the connection pool ------------------------------------------------------------------


class _Tcp(Tcp):
    """smbprotocol's Direct TCP transport with fewer copies of each message.

    ``send`` hands the length prefix and the message to one ``sendmsg`` (no packed copy, no
    ``data = data[sent:]`` re-copy after a partial send); ``_recv`` reads straight into
    the message's buffer with ``recv_into`` (smbprotocol copies each piece once more)."""

    def send(self, header: Any) -> None:
        """Send one SMB2 message (or compound) with its 4-byte length prefix."""
        self.send_parts(b"", header)

    def send_parts(self, head: bytes, data: Any) -> None:
        """Send one SMB2 message given as its head (header and body up to the data) and
        its data (bytes or a view, not copied), with the 4-byte length prefix."""
        length = len(head) + len(data)
        if length > self.MAX_SIZE:
            raise ValueError(f"Data to be sent over Direct TCP size {length} exceeds the max "
                             f"length allowed {self.MAX_SIZE}")
        parts = [struct.pack(">L", length) + head, memoryview(data).cast("B")]
        with self._sock_lock:
            if not _SENDMSG:  # Windows
                self._sock.sendall(b"".join(parts))
                return
            sent = self._sock.sendmsg(parts)
            first = len(parts[0])
            if sent < length + 4:
                if sent < first:
                    self._sock.sendall(parts[0][sent:])
                    sent = first
                self._sock.sendall(parts[1][sent - first:])

    def send_file_parts(self, head: bytes, source: Any, offset: int, count: int) -> int:
        """:meth:`send_parts` with ``count`` bytes of the file ``source`` from ``offset`` as
        the data, sent by the kernel (``socket.sendfile``). Returns the bytes the file gave;
        when it ends early, zeros complete the message (its length is announced)."""
        length = len(head) + count
        if length > self.MAX_SIZE:
            raise ValueError(f"Data to be sent over Direct TCP size {length} exceeds the max "
                             f"length allowed {self.MAX_SIZE}")
        try:
            with self._sock_lock:
                # MSG_MORE: the head waits for the data (one segment, not a small one first)
                self._sock.sendall(struct.pack(">L", length) + head,
                                   _MSG_MORE if count else 0)
                sent = self._sock.sendfile(source, offset, count) if count else 0
                if sent < count:
                    self._sock.sendall(bytes(count - sent))
        except BaseException:
            # a message cut short (the file could not be read, the socket failed): the
            # connection cannot carry another one, and no answer to it will come
            self.close()
            raise
        return sent

    def recv(self, timeout: float) -> bytes:
        """The next message (without its 4-byte length prefix), b"" once the connection is
        closed. What the socket holds is read in one go, up to ``_RECV_CHUNK`` bytes, and
        cut into messages: answers that arrive together (a compound's, the files read
        together by ``read_small``) cost one system call, not two selects and two reads
        each. A message larger than what is buffered is read straight into its own buffer
        (its data is not copied through the buffer)."""
        pending: bytearray = self.__dict__.setdefault("_pending", bytearray())
        while True:
            if len(pending) >= 4:
                end = 4 + int.from_bytes(pending[:4], "big")
                if len(pending) >= end:
                    message = bytes(memoryview(pending)[4:end])
                    del pending[:end]
                    return message
                if end - len(pending) > _RECV_CHUNK:
                    buffer = bytearray(end - 4)
                    buffer[:len(pending) - 4] = memoryview(pending)[4:]
                    offset = len(pending) - 4
                    pending.clear()
                    data, timeout = self._recv_into(buffer, offset, timeout)
                    return data or b""
            room = self.__dict__.get("_room")
            if room is None:
                room = self.__dict__["_room"] = memoryview(bytearray(_RECV_CHUNK))
            n, timeout = self._recv_some(room, timeout)
            if not n:
                return b""
            pending += room[:n]

    def _recv(self, length: int, timeout: float) -> tuple[bytes | None, float]:
        """smbprotocol's ``_recv``: ``length`` bytes (None once closed)."""
        return self._recv_into(bytearray(length), 0, timeout)

    def _recv_into(self, buffer: bytearray, offset: int, timeout: float
                   ) -> tuple[bytes | None, float]:
        """Fill ``buffer`` from ``offset`` on; its bytes, or None once closed."""
        view = memoryview(buffer)
        while offset < len(buffer):
            n, timeout = self._recv_some(view[offset:], timeout)
            if not n:
                return None, timeout
            offset += n
        return bytes(buffer), timeout

    def _recv_some(self, view: memoryview, timeout: float) -> tuple[int, float]:
        """What the socket has, up to ``len(view)`` bytes, into ``view``: once something
        arrived within ``timeout`` (TimeoutError after it), 0 once closed."""
        sock = self._sock
        with self._close_lock:
            if not self.connected:
                return 0, timeout
            try:
                try:  # already there: no select
                    if not _DONTWAIT:
                        raise BlockingIOError
                    n = sock.recv_into(view, len(view), _DONTWAIT)
                except BlockingIOError:
                    start = time.monotonic()
                    ready = select.select([sock], [], [], max(timeout, 1))[0]
                    elapsed = time.monotonic() - start
                    timeout -= elapsed
                    if not ready:
                        raise TimeoutError(f"recv idle for {elapsed:.1f}s") from None
                    n = sock.recv_into(view, len(view))
            except OSError as e:  # Windows: a shut-down socket raises (Linux: b"")
                if e.errno not in (errno.ESHUTDOWN, errno.ECONNRESET, errno.ECONNABORTED):
                    raise  # TimeoutError too (errno None)
                n = 0
        if not n:
            self.close()
        return n, timeout


class _Connection(Connection):
    """smbprotocol's connection over :class:`_Tcp`, signing every TREE_CONNECT of an SMB 3
    session.

    With signing off (the server does not require it), SMB 3.1.1 still wants the TREE_CONNECT
    signed ([MS-SMB2] 3.2.4.1.1; Samba refuses an unsigned one: "reject request to share ...
    without encryption or signing"), as Windows' and Samba's clients do; the rest goes
    unsigned."""

    def connect(self, *args: Any, **kwargs: Any) -> None:
        """``Connection.connect``; the transport is then a :class:`_Tcp` (the receiving
        thread picks the new methods up with its next message)."""
        super().connect(*args, **kwargs)
        if type(self.transport) is Tcp:
            self.transport.__class__ = _Tcp

    def _process_message_thread(self) -> None:
        """smbprotocol's receiving loop (``Connection._process_message_thread``: receive,
        decrypt, split a compound, hand each answer to its request; an echo after 10 idle
        minutes), with each answer given to :meth:`_deliver`."""
        try:
            while True:
                try:
                    b_msg = self.transport.recv(self._receive_timeout)
                except TimeoutError as ex:
                    self._keep_alive(ex)
                    continue
                if not b_msg:
                    return
                encrypted = b_msg[:4] == b"\xfdSMB"
                if encrypted:
                    transform = SMB2TransformHeader()
                    transform.unpack(b_msg)
                    b_msg = self._decrypt(transform)
                start = 0
                while True:
                    fields = smbraw.reply_fields(memoryview(b_msg)[start:])
                    next_command = fields[4]
                    end = start + next_command if next_command else len(b_msg)
                    self._deliver(b_msg[start:end], fields, encrypted)
                    if not next_command:
                        break
                    start = end
        except Exception as exc:
            logging.getLogger("smbprotocol.connection").exception(
                "SMB receive worker died (outstanding=%d)", len(self.outstanding_requests))
            self._t_exc = exc  # raised by the next send or receive
            self.disconnect(False)
        finally:  # nobody is left waiting for an answer
            for request in self.outstanding_requests.values():
                request.response_event.set()

    def _deliver(self, message: bytes, fields: tuple[int, int, int, int, int, int],
                 encrypted: bool) -> None:
        """Hand one answer to its request, as smbprotocol's loop does; a success (or a
        listing's end) to a request packed by :mod:`.smbraw` (unsigned, unencrypted) gets a
        :class:`smbraw.Reply` instead of a parsed ``SMB2HeaderResponse`` (about 60 us of
        ``Structure`` work per answer, a third of a small listing's receiving cost)."""
        status, command, credit_response, flags, _next, message_id = fields
        request = self.outstanding_requests[message_id]
        lean = not encrypted and smbraw.is_lean(request, status, command, flags)
        if lean:
            header: Any = smbraw.Reply(message, status)
        else:
            header = SMB2HeaderResponse()
            header.unpack(message)
            # SESSION_SETUP's answer names the session; any other's is the request's
            session_id = header["session_id"].get_value() \
                if command == Commands.SMB2_SESSION_SETUP else request.session_id
            if not encrypted:  # a decrypted one was checked as a whole
                self.verify_signature(header, session_id)
        if credit_response == 0 and not self.supports_multi_credit:
            credit_response = 1  # SMB 2.0.2 grants one per answer (a compound's may say 0)
        with self.sequence_lock:
            self.sequence_window["high"] += credit_response
        if command == Commands.SMB2_NEGOTIATE:
            self.preauth_integrity_hash_value.append(message)
        elif command == Commands.SMB2_SESSION_SETUP \
                and status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED:
            self.preauth_integrity_session_hash_value[message_id].append(message)
        with request.response_event_lock:
            answer_async = smbraw.async_id(message, flags)
            if answer_async is not None:
                request.async_id = answer_async
            request.response = header
            request.response_event.set()
            if not lean and request.message["reserved"].get_value() == 1:
                self.outstanding_requests.pop(message_id, None)  # our keep-alive echo

    def _keep_alive(self, idle: TimeoutError) -> None:
        """After ``_receive_timeout`` without an answer: fail the connection when an echo
        sent by the last such pause is still unanswered, else send one per session (as
        smbprotocol does, so that the server keeps an idle connection)."""
        for request in self.outstanding_requests.values():
            if request.response is None \
                    and request.message["command"].get_value() == Commands.SMB2_ECHO \
                    and request.message["reserved"].get_value() == 1:
                raise SMBConnectionClosed(
                    "Connection timed out. Server did not respond within timeout.") from idle
        for sid in list(self.session_table):
            echo = self.send(SMB2Echo(), sid=sid)
            echo.message["reserved"] = 1

    def send(self, message: Any, sid: Any = None, tid: Any = None, credit_request: Any = None,
             message_id: Any = None, async_id: Any = None, force_signature: bool = False
             ) -> Any:
        """``Connection.send``; a TREE_CONNECT on an SMB 3 connection is signed."""
        if message.COMMAND == Commands.SMB2_TREE_CONNECT and self.dialect is not None \
                and self.dialect >= Dialects.SMB_3_0_0:
            force_signature = True
        return super().send(message, sid=sid, tid=tid, credit_request=credit_request,
                            message_id=message_id, async_id=async_id,
                            force_signature=force_signature)


class _Slot:
    """One TCP connection with one authenticated session, in its own smbclient cache.

    ``users``: the listings sharing it (see :meth:`_Pool.acquire_shared`); ``lock``
    serialises what they must not do at once on it (a tree connect, working out the
    credits a compound may spend and sending it); ``doomed``: a sharer found it broken, so
    it is closed when the last one gives it back."""

    __slots__ = ("cache", "kwargs", "last_used", "users", "lock", "doomed", "__weakref__")

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.cache: dict[str, Connection] = {}
        self.kwargs = {**kwargs, "connection_cache": self.cache}
        self.last_used = time.monotonic()
        self.users = 0
        self.lock = threading.Lock()
        self.doomed = False


class _Pool:
    """Borrowable connections to one server for one user; thread-safe; idle ones drained."""

    def __init__(self, host: str, port: int, login: str, password: str, auth: str,
                 spn_host: str | None, idle_timeout_s: float, who: str = "",
                 require_signing: bool = False) -> None:
        self.host = host
        self.who = who or login
        self.port = port
        self.key = f"{host.lower()}:{port}"
        self._login = login
        self._password = password
        self._secret = _ntlm_secret(password) if auth == "ntlm" else password
        self._auth = auth
        self._spn_host = spn_host
        self.require_signing = require_signing
        self.idle_timeout_s = idle_timeout_s
        self._kwargs: dict[str, Any] = {
            "username": login, "password": password, "port": port, "auth_protocol": auth,
            "connection_timeout": _CONNECT_TIMEOUT,
        }
        lock = threading.RLock()
        self._cond = threading.Condition(lock)  # a connection was given back, or set up
        # the drainer's own: not woken by every connection given back (a thread hand-off
        # per file), it looks again at least every 5 s
        self._drain_cond = threading.Condition(lock)
        self._idle: list[_Slot] = []
        self._live: set[_Slot] = set()
        self._connecting = 0  # set-ups under way (at most one at a time)
        self._shared: _Slot | None = None  # the connection concurrent listings share
        self._sharing = False  # a thread is getting the shared connection
        self._drainer: threading.Thread | None = None
        self._stopping = False

    def __repr__(self) -> str:  # never shows the password
        return f"_Pool({self.host}:{self.port}, user={self._login!r})"

    @property
    def size(self) -> int:
        """Connections currently open (busy or idle)."""
        with self._cond:
            return len(self._live)

    def acquire(self) -> _Slot:
        """An idle connection, or a new one (SmbAuthError, SmbConnectionError).

        One connection is set up at a time: a set-up (NTLM and key derivation in Python) costs
        the CPU of a dozen listings, and several at once only queue for the GIL. A thread that
        finds no idle connection while another one is being set up waits for whichever comes
        first, a connection given back or its own turn to connect.
        """
        dead: list[_Slot] = []
        found: _Slot | None = None
        with self._cond:
            self._stopping = False
            while True:
                while self._idle:
                    slot = self._idle.pop()
                    if self._alive(slot):
                        found = slot
                        break
                    self._live.discard(slot)
                    dead.append(slot)
                if found is not None or not self._connecting:
                    break
                self._cond.wait()
            if found is None:
                self._connecting += 1
        for slot in dead:  # the server or the network dropped them while idle
            _disconnect(slot, self.host, self.port, logoff=False)
        if found is not None:
            return found
        slot = _Slot(self._kwargs)
        try:
            self._connect(slot)
        finally:
            with self._cond:
                self._connecting -= 1
                self._cond.notify_all()
        with self._cond:
            self._live.add(slot)
        return slot

    def acquire_shared(self) -> _Slot:
        """A connection for a listing, shared with the listings running at the same time
        (give it back with :meth:`release_shared`).

        A listing is one compound request and its answer: several threads' listings
        interleave on one connection (smbprotocol matches answers to requests by message
        id) and the walker's parallel listings need one session set-up, not one each. The
        shared connection is an idle one or a new one; when its last listing gives it back
        it is an idle connection again (a transfer may take it).
        """
        with self._cond:
            while True:
                shared = self._shared
                if shared is not None and not shared.doomed:
                    shared.users += 1
                    return shared
                if not self._sharing:
                    self._sharing = True
                    break
                self._cond.wait()
        try:
            slot = self.acquire()
        except BaseException:
            with self._cond:
                self._sharing = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._sharing = False
            slot.users = 1
            slot.doomed = False
            self._shared = slot
            self._cond.notify_all()
        return slot

    def release_shared(self, slot: _Slot, broken: bool = False) -> None:
        """Give back a connection of :meth:`acquire_shared`; ``broken``: no new listing
        gets it, and the last one to give it back closes it."""
        with self._cond:
            slot.users -= 1
            if broken:
                slot.doomed = True
            if slot.users > 0 and not slot.doomed:
                return
            if self._shared is slot:
                self._shared = None
            if slot.users > 0:
                return
        self.release(slot, broken=slot.doomed)

    def release(self, slot: _Slot, broken: bool = False) -> None:
        """Give ``slot`` back; a ``broken`` one (connection trouble) is closed instead."""
        if broken or not self._alive(slot):
            with self._cond:
                self._live.discard(slot)
            _disconnect(slot, self.host, self.port)
            return
        with self._cond:
            slot.last_used = time.monotonic()
            self._idle.append(slot)
            if self.idle_timeout_s > 0 and (self._drainer is None
                                            or not self._drainer.is_alive()):
                self._drainer = threading.Thread(
                    target=_drain_loop, args=(weakref.ref(self),),
                    name=f"smb-idle-{self.key}", daemon=True)
                self._drainer.start()
            self._cond.notify_all()  # wakes a waiting acquire()

    def _alive(self, slot: _Slot) -> bool:
        conn = slot.cache.get(self.key)
        return conn is not None and bool(conn.transport.connected) and bool(conn.session_table)

    def _connect(self, slot: _Slot) -> None:
        """Open ``slot``'s TCP connection and authenticate its session."""
        # A client GUID per connection: Samba hands connections that share a GUID over to
        # the one process serving that client (multi-channel), which serialises them and,
        # under concurrent session set-ups, was seen to stall one for a minute.
        # Signing as Windows' and Samba's clients (and rclone's go-smb2) do by default: only
        # when the server requires it (smbprotocol turns it on when the NEGOTIATE answer says
        # so) or the remote asks for it (``require_signing``).
        conn = _Connection(uuid.uuid4(), self.host, self.port,
                           require_signing=self.require_signing)
        try:
            conn.connect(timeout=_CONNECT_TIMEOUT)
        except (ValueError, OSError, SMBException) as err:
            raise _connect_error(err, self.host, self.port, self._password) from None
        try:
            session = Session(conn, username=self._login, password=self._secret,
                              require_encryption=False, hostname_override=self._spn_host,
                              auth_protocol=self._auth)  # type: ignore[arg-type]
            session.connect()
        except BaseException as err:
            try:
                conn.disconnect(close=False)
            except Exception:  # the transport may already be gone
                pass
            status = getattr(err, "status", None)
            if isinstance(err, SMBAuthenticationError) or status in _AUTH_STATUSES \
                    or status == NtStatus.STATUS_ACCESS_DENIED:
                raise _auth_error(err, self.who, self.host, self.port,
                                  self._password, self._secret) from None
            if isinstance(err, (ValueError, OSError, SMBException)):
                raise _connect_error(err, self.host, self.port, self._password,
                                     self._secret) from None
            raise
        slot.cache[self.key] = conn

    def drain_idle(self, older_than_s: float) -> int:
        """Log off idle connections unused for ``older_than_s`` seconds; how many."""
        now = time.monotonic()
        with self._cond:
            old = [s for s in self._idle if now - s.last_used >= older_than_s]
            self._idle = [s for s in self._idle if s not in old]
            for s in old:
                self._live.discard(s)
        for s in old:
            _disconnect(s, self.host, self.port)
        return len(old)

    def close(self) -> None:
        """Log off every connection of this pool (busy ones too) and stop the drainer."""
        with self._cond:
            self._stopping = True
            slots = list(self._live)
            self._live.clear()
            self._idle.clear()
            self._shared = None
            self._cond.notify_all()
            self._drain_cond.notify_all()
            drainer, self._drainer = self._drainer, None
        for s in slots:
            _disconnect(s, self.host, self.port)
        if drainer is not None and drainer is not threading.current_thread():
            drainer.join(timeout=5)


def _drain_loop(ref: weakref.ref[_Pool]) -> None:
    """Close connections left idle for the pool's idle_timeout (rclone's drainPool)."""
    while True:
        pool = ref()
        if pool is None:
            return
        with pool._cond:
            if pool._stopping:
                return
            timeout = pool.idle_timeout_s
            if pool._idle:
                oldest = min(s.last_used for s in pool._idle)
                wait = max(0.01, oldest + timeout - time.monotonic())
            else:
                wait = timeout
            pool._drain_cond.wait(min(wait, 5.0))
            if pool._stopping:
                return
        pool.drain_idle(timeout)
        del pool


def _disconnect(slot: _Slot, host: str, port: int, logoff: bool = True) -> None:
    """Log off and close ``slot``'s connection (smbclient.delete_session on its cache)."""
    try:
        if logoff:
            smbclient.delete_session(host, port=port, connection_cache=slot.cache, timeout=5)
        else:
            for conn in list(slot.cache.values()):
                conn.disconnect(close=False)
    except Exception:  # closing a dead connection: nothing more to do
        pass
    slot.cache.clear()


def _ntlm_secret(password: str) -> str:
    """``password`` in spnego's ``LM:NT`` hash form for an NTLM session set-up, worked out
    once per server and user. spnego otherwise works out both one-way functions of the
    password at every session set-up, the LM one with its pure-Python DES (2.2-2.7 ms of
    CPU per connection here), which the NTLMv2 it sends by default never uses: with
    ``LM_COMPAT_LEVEL`` at 2 or more (spnego's default is 3) an initiator sends no LM
    response. The LM half is then zeros. As given when empty, already a hash, or when
    ``LM_COMPAT_LEVEL`` is below 2 or not a number (spnego reports that one)."""
    if not password:
        return password
    from spnego._ntlm_raw.crypto import is_ntlm_hash, ntowfv1

    try:
        level = int(os.environ.get("LM_COMPAT_LEVEL", "3"))
    except ValueError:
        return password
    if level < 2 or is_ntlm_hash(password):
        return password
    return "0" * 32 + ":" + ntowfv1(password).hex()


def _scrub(text: str, *secrets: str) -> str:
    """``text`` with every secret replaced by ``***``."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def _connect_error(err: BaseException, host: str, port: int, password: str,
                   *secrets: str) -> SmbConnectionError:
    """A failure to reach or set up the server as a (retryable) SmbConnectionError."""
    cause = err.__cause__ if isinstance(err, ValueError) and err.__cause__ else err
    code = getattr(cause, "errno", None) or errno.ECONNRESET
    if isinstance(cause, ConnectionRefusedError):
        code = errno.ECONNREFUSED
    elif isinstance(cause, TimeoutError):
        code = errno.ETIMEDOUT
    detail = _scrub(str(cause), password, *secrets)
    return SmbConnectionError(f"couldn't connect SMB: {host}:{port}: {detail}", code=code)


def _auth_error(err: BaseException, login: str, host: str, port: int, password: str,
                *secrets: str) -> SmbAuthError:
    """A refused session set-up as SmbAuthError (the password never in the message)."""
    status = getattr(err, "status", None)
    why = _status_name(status) if isinstance(status, int) else "STATUS_LOGON_FAILURE"
    detail = _scrub(str(err), password, *secrets)
    msg = (f'couldn\'t connect SMB: authentication failed for {login} on {host}:{port} '
           f"- wrong user name or password? ({why})")
    if status is None and detail:
        msg += f": {detail}"
    return SmbAuthError(msg)


# ----- file objects -------------------------------------------------------------------------


def _forget(raw: Any) -> None:
    """Mark an SMB handle whose close failed (connection gone) as closed locally."""
    try:
        raw.fd._connected = False
    except AttributeError:
        pass


class _Handle(io.RawIOBase):
    """An open SMB file that gives its pooled connection back when closed."""

    def __init__(self, backend: SmbBackend, raw: Any, slot: _Slot, where: str) -> None:
        super().__init__()
        self._backend = backend
        self._raw = raw
        self._slot: _Slot | None = slot
        self._where = where
        self._broken = False
        self.name = where

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._where!r}>"

    def _abandon(self) -> None:
        """After a failed request: receive the answers still in flight (a connection that
        cannot is dropped at close, as one whose request failed mid-way)."""
        pipe = getattr(self, "_pipe", None)
        if pipe is None:
            return
        try:
            pipe.drain()
        except Exception:
            self._broken = True

    def _fail(self, err: BaseException) -> BaseException:
        mapped = self._backend._map_error(err, self._where)
        if isinstance(mapped, ConnectionError):
            self._broken = True
        return mapped

    def close(self) -> None:
        """Close the SMB handle and release the connection."""
        if self.closed:
            return
        slot, self._slot = self._slot, None
        broken = self._broken
        err: BaseException | None = None
        try:
            self._close_raw()
        except Exception as e:  # mapped and raised below, after the release
            if not broken:
                err = self._fail(e)
            broken = True
            _forget(self._raw)
        finally:
            super().close()
            if slot is not None:
                self._backend._pool.release(slot, broken=broken)
        if err is not None:
            raise err

    def _close_raw(self) -> None:
        """Close the SMB handle (one CLOSE)."""
        self._raw.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # a finaliser must not raise
            pass

    def seekable(self) -> bool:
        """SMB handles are seekable (the offset travels with each request)."""
        return True

    def tell(self) -> int:
        """The current offset."""
        return int(self._raw.tell())

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the offset (no request is sent); returns the new offset."""
        return int(self._raw.seek(offset, whence))


class _Pipe:
    """READ or WRITE requests in flight on one open file, oldest first.

    Up to ``_IO_WINDOW`` bytes in requests of up to ``_IO_REQUEST`` (the server's maximum and
    64 KiB without multi-credit support), as far as the connection's credits allow: each
    request is charged one credit per 64 KiB when sent, and asks for as many back plus what
    the window still lacks, so the server's grant grows to the window. A request's answer
    is received in order, when the window is full or its data is needed. The connection
    is this file's alone (borrowed from the pool until close), so nothing else waits on it.
    """

    __slots__ = ("fd", "conn", "sid", "tid", "pending", "in_flight", "request_size",
                 "multi_credit", "raw_ok")

    def __init__(self, raw: Any, op: str) -> None:
        self.fd = raw.fd
        self.conn = self.fd.connection
        self.sid = self.fd.tree_connect.session.session_id
        self.tid = self.fd.tree_connect.tree_connect_id
        self.pending: deque[tuple[Any, Any, int, int]] = deque()  # request, answer, off, len
        self.in_flight = 0
        self.multi_credit = bool(self.conn.supports_multi_credit)
        self.raw_ok = isinstance(self.conn.transport, _Tcp) and \
            smbraw.can_send(self.conn, self.fd.tree_connect)
        limit = int(getattr(self.conn, f"max_{op}_size"))
        self.request_size = min(_IO_REQUEST, limit) if self.multi_credit else \
            min(MAX_PAYLOAD_SIZE, limit)

    def _credits(self) -> int:
        window = self.conn.sequence_window
        return int(window["high"] - window["low"])

    def room(self, length: int) -> int:
        """How much of ``length`` (at most one request) may go out now without waiting:
        0 while the window is full or the credits are short and requests are in flight."""
        length = min(length, self.request_size)
        if self.pending and self.in_flight + length > _IO_WINDOW:
            return 0
        if not self.multi_credit:
            return length if self._credits() >= 1 or not self.pending else 0
        credits = self._credits()
        charge = (length - 1) // MAX_PAYLOAD_SIZE + 1
        if credits >= charge:
            return length
        if self.pending:
            return 0
        return min(length, max(1, credits) * MAX_PAYLOAD_SIZE)  # what the credits allow

    def send(self, message: Any, answer: Any, offset: int, length: int) -> None:
        """Send one request (``answer`` unpacks its response)."""
        request = self.conn.send(message, sid=self.sid, tid=self.tid,
                                 credit_request=self._credit_request(length))
        self._sent(request, answer, offset, length)

    def _sent(self, request: Any, answer: Any, offset: int, length: int) -> None:
        """Keep ``request`` (of ``length`` bytes at ``offset``) as the newest in flight."""
        self.pending.append((request, answer, offset, length))
        self.in_flight += length

    def _credit_request(self, length: int) -> int:
        """What a request of ``length`` bytes asks back: its charge, plus up to as much
        again of what the window lacks."""
        charge = (length - 1) // MAX_PAYLOAD_SIZE + 1 if self.multi_credit else 1
        want = _IO_WINDOW // MAX_PAYLOAD_SIZE if self.multi_credit else _IO_WINDOW // _IO_REQUEST
        lacking = max(0, want - self._credits() - self.in_flight // MAX_PAYLOAD_SIZE)
        return charge + min(lacking, charge)

    def write(self, data: Any, offset: int) -> None:
        """Send a WRITE of ``data`` at ``offset``: packed by :mod:`.smbraw` with the data
        not copied, when the session neither signs nor encrypts; else by smbprotocol."""
        fd = self.fd
        if self.raw_ok:
            request = smbraw.send_write(self.conn, self.sid, self.tid, fd.file_id, offset,
                                        data, self._credit_request(len(data)))
            self._sent(request, fd._write_response, offset, len(data))
            return
        message, answer = fd.write(data, offset=offset, send=False)
        self.send(message, answer, offset, len(data))

    def write_file(self, source: Any, source_offset: int, length: int, offset: int) -> int:
        """Send a WRITE at ``offset`` of ``length`` bytes of the file ``source`` from
        ``source_offset``, sent by the kernel (``raw_ok`` only); the bytes the file gave
        (fewer: it ended early, and zeros were written in their place)."""
        fd = self.fd
        request, sent = smbraw.send_write_file(self.conn, self.sid, self.tid, fd.file_id,
                                               offset, source, source_offset, length,
                                               self._credit_request(length))
        self._sent(request, fd._write_response, offset, length)
        return int(sent)

    def receive(self) -> tuple[Any, int, int]:
        """(answer, offset, length) of the oldest request in flight."""
        request, answer, offset, length = self.pending.popleft()
        self.in_flight -= length
        return answer(request), offset, length

    def drain(self) -> None:
        """Receive every answer still in flight, ignoring them (errors included)."""
        while self.pending:
            with contextlib.suppress(SMBResponseException):
                self.receive()


class _Reader(_Handle):
    """A reader with READ requests in flight ahead of the position (see :class:`_Pipe`),
    up to the size the file had when opened (as ``smbclient``'s reader)."""

    def __init__(self, backend: SmbBackend, raw: Any, slot: _Slot, where: str) -> None:
        super().__init__(backend, raw, slot, where)
        self._pipe = _Pipe(raw, "read")
        self._next = int(raw.tell())  # where the next request reads from
        self._data = memoryview(b"")  # received, not yet handed out

    def readable(self) -> bool:
        """A reader reads."""
        return True

    def _fill(self) -> None:
        pipe, end = self._pipe, int(self._raw.fd.end_of_file)
        while self._next < end:
            length = pipe.room(end - self._next)
            if not length:
                return
            message, answer = self._raw.fd.read(self._next, length, send=False)
            pipe.send(message, answer, self._next, length)
            self._next += length

    def readinto(self, b: Any) -> int:
        """Read up to ``len(b)`` bytes into ``b``; 0 at end of file."""
        out = memoryview(b).cast("B")
        want = len(out)
        got = 0
        try:
            while got < want:
                if not self._data:
                    self._fill()
                    if not self._pipe.pending:
                        break
                    data, offset, length = self._pipe.receive()
                    self._data = memoryview(data)
                    if len(data) < length:  # a short read: ask again from where it ended
                        self._pipe.drain()
                        self._next = offset + len(data)
                    if not data:
                        break
                n = min(want - got, len(self._data))
                out[got:got + n] = self._data[:n]
                self._data = self._data[n:]
                got += n
        except (SMBException, OSError, ValueError) as e:
            self._abandon()
            raise self._fail(e) from None
        self._raw.seek(got, io.SEEK_CUR)
        return got

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the offset (requests in flight are dropped); returns the new offset."""
        try:
            self._pipe.drain()
        except (SMBException, OSError, ValueError) as e:
            self._broken = True
            raise self._fail(e) from None
        self._data = memoryview(b"")
        pos = int(self._raw.seek(offset, whence))
        self._next = pos
        return pos

    def close(self) -> None:
        """Receive what is still in flight, close the handle, release the connection."""
        if not self.closed and not self._broken:
            try:
                self._pipe.drain()
            except Exception:  # the connection failed: it is dropped by the close
                self._broken = True
        self._data = memoryview(b"")
        super().close()

    def readall(self) -> bytes:
        """Everything from the current offset, read in large chunks."""
        out = bytearray()
        buf = bytearray(IO_CHUNK)
        view = memoryview(buf)
        while True:
            n = self.readinto(view)
            if not n:
                return bytes(out)
            out += view[:n]


class _Unread(Exception):
    """The local file ``err`` came from could not be read while its data was sent."""

    def __init__(self, err: OSError) -> None:
        super().__init__(str(err))
        self.err = err


class _Writer(_Handle):
    """A writer with WRITE requests in flight (see :class:`_Pipe`): ``write`` returns once
    all of ``b`` is sent, or waiting for the server; a failed write raises from a later
    ``write``, ``flush`` or ``close``, which waits for every answer."""

    def __init__(self, backend: SmbBackend, raw: Any, slot: _Slot, where: str) -> None:
        super().__init__(backend, raw, slot, where)
        self._pipe = _Pipe(raw, "write")
        self._mtime_ns: int | None = None
        self._torn = False  # send_file met the source's end early (see there)
        #: The file's size as the server reported it at close (-1: not asked, or not closed).
        self.closed_size = -1

    def writable(self) -> bool:
        """A writer writes."""
        return True

    def time_at_close(self, mtime_ns: int) -> None:
        """Have :meth:`close` set the file's last-write and last-access time to ``mtime_ns``
        (as ``set_mtime`` would, after every write is answered) and learn the file's size
        (``closed_size``): SET_INFO and CLOSE in one compound, one round trip instead of
        the three of a close, a ``set_mtime`` and a ``stat``. A failed SET_INFO fails the
        close."""
        self._mtime_ns = mtime_ns

    def _close_raw(self) -> None:
        mtime_ns = self._mtime_ns
        if self._broken:
            self._raw.close()
            return
        if mtime_ns is None:  # (smbclient's close: a FLUSH first when data was written)
            self._raw.close()
            return
        fd = self._raw.fd
        if self._pipe.raw_ok and _spare_credits(self._pipe.conn, 2) >= 2:
            self._close_lean(fd, mtime_ns)
            return
        filetime = mtime_ns // 100 + DateTimeField.EPOCH_FILETIME  # as smbclient.utime(ns=)
        basic = FileBasicInformation()
        basic["last_access_time"] = filetime
        basic["last_write_time"] = filetime
        transaction = SMBFileTransaction(self._raw)
        set_info(transaction, basic)
        transaction += fd.close(get_attributes=True, send=False)
        transaction.commit()
        self.closed_size = int(fd.end_of_file)

    def _close_lean(self, fd: Any, mtime_ns: int) -> None:
        """:meth:`_close_raw`'s compound (SET_INFO and CLOSE with the post-query flag)
        packed by :mod:`.smbraw`."""
        pipe = self._pipe
        try:
            answers = _lean_compound(pipe.conn, [
                _times_part(fd.file_id, mtime_ns),
                (smbraw.CLOSE, 1, smbraw.close_body(
                    fd.file_id, smbraw.CLOSE_FLAG_POSTQUERY_ATTRIB), SMB2CloseRequest)],
                pipe.sid, pipe.tid, self._raw.name)
        finally:  # the handle is gone whatever the answer (as smbprotocol's close has it)
            _closed(fd)
        self.closed_size = smbraw.close_answer_size(answers[-1]["data"].get_value())

    def _settle(self) -> None:
        """Receive the oldest write's answer: it must have written all its bytes."""
        count, offset, length = self._pipe.receive()
        if count != length:
            raise OSError(errno.EIO, f"short write ({count} of {length} bytes at {offset})",
                          self._where)

    def write(self, b: Any) -> int:
        """Send all of ``b``; returns its length."""
        view = memoryview(b).cast("B")
        pipe = self._pipe

        def send(done: int, n: int, offset: int) -> int:
            pipe.write(view[done:done + n], offset)
            return n

        try:
            self._pump(len(view), send)
        except (SMBException, OSError, ValueError) as e:
            self._abandon()
            raise self._fail(e) from None
        return len(view)

    def _pump(self, total: int, send: Callable[[int, int, int], int]) -> int:
        """Send ``total`` bytes as the requests the window admits, waiting for answers
        when it is full: ``send(done, n, offset)`` sends the ``n`` bytes from ``done`` as
        one WRITE at the file's ``offset`` and returns how many of them were the data's
        (fewer: the data ended, nothing more is sent). Returns the data's bytes sent."""
        raw, pipe = self._raw, self._pipe
        done = 0
        while done < total:
            n = pipe.room(total - done)
            if not n:
                self._settle()
                continue
            offset = int(raw.tell())
            got = send(done, n, offset)
            raw.seek(n, io.SEEK_CUR)
            raw.fd.end_of_file = max(raw.fd.end_of_file, offset + n)
            raw._flush = True
            done += got
            if got < n:
                break
        return done

    def send_file(self, source: Any, source_offset: int, length: int) -> int:
        """Write ``length`` bytes of the local file ``source`` (a binary file object) from
        ``source_offset``, sent from the page cache by the kernel, never copied into this
        process; returns the bytes written: fewer when the file ended early, after which
        this writer sends nothing more (its last request was completed with zeros: the
        file is not what the source held and must not be kept). Sessions that sign or
        encrypt read the data and :meth:`write` it."""
        if self._torn:
            return 0
        if not self._pipe.raw_ok:
            data = os.pread(source.fileno(), length, source_offset)
            if data:
                self.write(data)
            return len(data)
        pipe = self._pipe

        def send(done: int, n: int, offset: int) -> int:
            try:
                return pipe.write_file(source, source_offset + done, n, offset)
            except OSError as e:
                if isinstance(e, (ConnectionError, TimeoutError)) or e.errno in _SOCKET_ERRNOS:
                    raise
                raise _Unread(e) from None  # the source's error: raised as it is, below

        try:
            done = self._pump(length, send)
        except _Unread as unread:
            self._broken = True  # the connection went with the message it cut short
            raise unread.err from None
        except (SMBException, OSError, ValueError) as e:
            self._abandon()
            raise self._fail(e) from None
        if done < length:
            self._torn = True
        return done

    def flush(self) -> None:
        """Wait until the server has answered every write sent so far (raises its error)."""
        if self.closed:
            return
        try:
            while self._pipe.pending:
                self._settle()
        except (SMBException, OSError, ValueError) as e:
            self._abandon()
            raise self._fail(e) from None

    def close(self) -> None:
        """Wait for every write's answer, close the handle, release the connection; raises
        the first write error not raised yet."""
        if self.closed:
            return
        err: BaseException | None = None
        if not self._broken:
            try:
                self.flush()
            except BaseException as e:  # raised after the handle is closed
                err = e
        try:
            super().close()
        finally:
            if err is not None:
                raise err


class _WholeWriter(io.RawIOBase):
    """A writer of a small file that sends it whole when closed (see
    :meth:`SmbBackend.open_write_whole`): the data is kept until then, and the file is
    created, written, given its time and closed in one round trip. More data than
    ``_WHOLE_WRITE`` (a source that grew), or a session whose messages smbraw cannot pack,
    turns it into a plain :class:`_Writer` (the file created then, the data kept so far
    written first)."""

    def __init__(self, backend: SmbBackend, path: str,
                 guard: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        super().__init__()
        self._backend = backend
        self._path = path
        self._guard = guard
        self._data = bytearray()
        self._mtime_ns: int | None = None
        self._real: _Writer | None = None
        self._failed = False
        self.name = backend._where(path)
        #: The file's size as the server reported it at close (-1: not asked, or not closed).
        self.closed_size = -1

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def writable(self) -> bool:
        """A writer writes."""
        return True

    def time_at_close(self, mtime_ns: int) -> None:
        """Have :meth:`close` set the file's last-write and last-access time to
        ``mtime_ns`` and learn its size (``closed_size``), as :class:`_Writer`'s does."""
        self._mtime_ns = mtime_ns
        if self._real is not None:
            self._real.time_at_close(mtime_ns)

    def write(self, b: Any) -> int:
        """Keep ``b`` to send at close (or write it, once this is a plain writer)."""
        if self.closed:
            raise ValueError("write to a closed file")
        if self._real is not None:
            return self._real.write(b)
        view = memoryview(b).cast("B")
        if len(self._data) + len(view) > _WHOLE_WRITE:
            try:
                self._become_plain()
            except BaseException:
                self._failed = True  # the close then sends nothing of a file that failed
                raise
            return self._real.write(view)  # type: ignore[union-attr]
        self._data += view
        return len(view)

    def _become_plain(self) -> None:
        """Create the file as :meth:`SmbBackend.open_write` does and write what is kept."""
        with self._guard():
            real = self._backend.open_write(self._path)
        self._real = real  # type: ignore[assignment]
        if self._mtime_ns is not None:
            real.time_at_close(self._mtime_ns)  # type: ignore[attr-defined]
        data, self._data = self._data, bytearray()
        if data:
            real.write(data)

    def flush(self) -> None:
        """Nothing is sent before close (a plain writer's flush waits for its writes)."""
        if self._real is not None and not self._real.closed:
            self._real.flush()

    def close(self) -> None:
        """Send the file whole (CREATE, WRITE, SET_INFO and CLOSE in one compound, the
        parents made when missing); raises the first failure, mapped as the backend's."""
        if self.closed:
            return
        try:
            if self._real is None and not self._failed:
                self._send_whole()
            if self._real is not None:
                self._real.close()
                self.closed_size = self._real.closed_size
        finally:
            self._data = bytearray()
            super().close()

    def __del__(self) -> None:
        """Dropped without a close: a file not created yet is not sent (nothing is made);
        a plain writer's handle is closed, as :class:`_Handle` closes it."""
        try:
            if self._real is None:
                self._data = bytearray()
                io.RawIOBase.close(self)
            else:
                self.close()
        except Exception:  # a finaliser must not raise
            pass

    def _send_whole(self) -> None:
        """The close's compound, on a connection borrowed for it, inside the guard."""
        backend = self._backend
        share, inner = backend._split(self._path)
        unc = backend._unc(self._path)
        pool = backend._pool
        with self._guard():
            for attempt in (1, 2):
                slot = pool.acquire()
                try:
                    size = _write_whole(unc, slot.kwargs, self._data, self._mtime_ns)
                except SMBOSError as err:
                    pool.release(slot)
                    if attempt == 1 and err.errno == errno.ENOENT and len(inner) >= 2:
                        backend._make_parents(share, inner)
                        continue
                    raise backend._write_open_error(backend._map_error(err, self.name),
                                                    inner) from None
                except (SMBException, OSError, ValueError) as err:
                    raise backend._open_failed(slot, err, self.name) from None
                except BaseException:
                    pool.release(slot, broken=True)  # a request may still be in flight
                    raise
                pool.release(slot)
                if size is not None:
                    self.closed_size = size
                    backend._dir_seen(share, inner[:-1])
                    return
                break
        self._become_plain()  # not packable here: smbprotocol's own messages


# ----- the backend --------------------------------------------------------------------------


class SmbBackend:
    """Files under ``share/dir`` on an SMB server, rclone's ``smb`` remote.

    ``path`` is ``share/dir/...`` ("" is the server itself: only shares live there).
    ``password`` is the clear-text password (:func:`open_remote` reveals the obscured
    ``pass`` option). The backend is safe to use from several threads: every operation
    borrows its own connection from the pool.

    Messages are signed when the server requires it (as Windows', Samba's and rclone's
    clients do by default), or always with ``require_signing`` (pysync's own option: it
    protects the data against tampering on the network when the server does not insist, at
    the cost of a signature over every message).
    """

    features: Features

    def __init__(self, host: str, path: str = "", *, user: str | None = None,
                 password: str = "", port: int = _DEFAULT_PORT, domain: str = "WORKGROUP",
                 spn: str = "", use_kerberos: bool = False, case_insensitive: bool = True,
                 hide_special_share: bool = True, idle_timeout_ns: int = _DEFAULT_IDLE_NS,
                 encoding: int = DEFAULT_ENCODING, name: str = "",
                 require_signing: bool = False) -> None:
        if not host:
            raise ConfigError('smb: the "host" option is required')
        self.name = name
        self.host = host
        self.port = int(port)
        self.user = _current_user() if user is None else user
        self.domain = domain
        self.hide_special_share = hide_special_share
        self.enc = NameEncoder(encoding)
        self._local_enc = NameEncoder(BASE_ENCODING)
        clean = path.strip("/")
        share, _, rest = clean.partition("/")
        #: The share of the root ("" at the server level) and the root directory in it.
        self.share = share
        self.base = "/".join(p for p in rest.split("/") if p) if rest else ""
        login = f"{domain}\\{self.user}" if domain and self.user else self.user
        spn_host = None
        if spn:
            spn_host = spn.partition("/")[2] or spn
            spn_host = spn_host.rsplit(":", 1)[0] if ":" in spn_host else spn_host
        auth = "kerberos" if use_kerberos else "ntlm"
        self._password = password
        who = f'user "{self.user}"' + (f' (domain "{domain}")' if domain else "")
        # listings are sent ahead (list_ahead) until a connection for them fails: then the
        # listing threads try in parallel, not the march's thread one after the other
        self._send_ahead = True
        self._pool = _Pool(host, self.port, login, password, auth, spn_host,
                           idle_timeout_ns / 1e9, who, require_signing=require_signing)
        self._finalizer = weakref.finalize(self, _Pool.close, self._pool)
        #: Folders known to exist (share and encoded segments): listed, made or written in.
        self._dirs: set[tuple[str, ...]] = set()
        self._dirs_lock = threading.Lock()
        self.features = Features(
            # Samba keeps 100 ns, but rclone compares SMB times with a 1 ms window: do the same
            name="smb", precision_ns=1_000_000, hashes=(), can_set_mtime=True,
            partial_uploads=True,
            writer_at=False, server_side_copy=False, case_insensitive=case_insensitive,
            # rclone's smb backend has no DirSetModTime or MkdirMetadata and its directories
            # are no SetModTimers: rclone never sets a directory's time on SMB (sync.go's
            # setDirModTime is false), so "dir_set_mtime" tells the engine to do the same
            extra={"host": host, "port": self.port, "share": self.share,
                   "mtime_resolution_ns": 100, "rclone_precision_ns": 1_000_000,
                   "dir_set_mtime": False})

    # ----- naming ---------------------------------------------------------------------

    def describe(self) -> str:
        """rclone's name of the Fs: ``smb://user@host:port/share/path``."""
        prefix = f"smb://{self.user}@{self.host}:{self.port}/"
        if not self.share:
            return prefix
        return f"{prefix}{self.share}/{self.base}"

    def __repr__(self) -> str:
        return f"SmbBackend({self.describe()!r})"

    def _split(self, path: str) -> tuple[str, list[str]]:
        """(share, encoded segments inside the share) of ``path`` under the root."""
        rel = [p for p in path.split("/") if p] if path else []
        if self.share:
            share = self.share
            inner = (self.base.split("/") if self.base else []) + rel
        elif rel:
            share, inner = rel[0], rel[1:]
        else:
            return "", []
        return share, [self.to_server(p) for p in inner]

    def to_server(self, name: str) -> str:
        """A path segment as stored on the server.

        pysync names are local file names; rclone reads those through its local backend's
        encoding (``Base``) before encoding for SMB, so the same is done here: a local file
        named ``．`` lands on the share as ``．``, exactly as rclone writes it."""
        return self.enc.encode(self._local_enc.decode(name))

    def from_server(self, name: str) -> str:
        """A name listed by the server as a pysync (local-style) name."""
        return self._local_enc.encode(self.enc.decode(name))

    def _unc_of(self, share: str, inner: list[str]) -> str:
        unc = f"\\\\{self.host}\\{share}"
        if inner:
            unc += "\\" + "\\".join(inner)
        return unc

    def _unc(self, path: str) -> str:
        """The UNC path (``\\\\host\\share\\dir``) of ``path``."""
        share, inner = self._split(path)
        if not share:
            raise SmbUnsupportedError(f"{self.describe()}: a file or directory needs a share "
                                      "(remote:share/path)")
        return self._unc_of(share, inner)

    def _where(self, path: str) -> str:
        """``share/dir/path`` for messages."""
        parts = [p for p in (self.share, self.base, path.strip("/")) if p]
        return "/".join(parts)

    # ----- plumbing -------------------------------------------------------------------

    def _map_error(self, err: BaseException, where: str) -> BaseException:
        """``err`` from smbclient/smbprotocol as an OSError subclass with an errno."""
        pw = self._password
        if isinstance(err, (SmbAuthError, SmbConnectionError, SmbUnsupportedError,
                            DirNotFoundError)):
            return err
        if isinstance(err, SMBOSError):
            status = int(err.ntstatus)
            if status in _AUTH_STATUSES:
                return _auth_error(err, self._pool.who, self.host, self.port, pw)
            code = _STATUS_ERRNO.get(status, err.errno or errno.EIO)
            return _os_error(code, _status_name(status), where)
        if isinstance(err, SMBResponseException):
            status = int(err.status)
            if status in _AUTH_STATUSES:
                return _auth_error(err, self._pool.who, self.host, self.port, pw)
            return _os_error(_STATUS_ERRNO.get(status, errno.EIO), _status_name(status), where)
        if isinstance(err, SMBAuthenticationError):
            return _auth_error(err, self._pool.who, self.host, self.port, pw)
        if isinstance(err, SMBConnectionClosed):
            return SmbConnectionError(f"SMB connection to {self.host}:{self.port} lost "
                                      f"({where})")
        if isinstance(err, ValueError) and str(err).startswith("Failed to connect"):
            return _connect_error(err, self.host, self.port, pw)
        if isinstance(err, OSError) and (isinstance(err, ConnectionError)
                                         or err.errno in _CONNECTION_ERRNOS):
            return SmbConnectionError(
                f"SMB connection to {self.host}:{self.port} failed ({where}): "
                f"{_scrub(str(err), pw)}", code=err.errno or errno.ECONNRESET)
        if isinstance(err, OSError):
            return err
        if isinstance(err, SMBException):
            text = _scrub(str(err), pw)
            if "timeout" in text.lower():
                return SmbConnectionError(f"SMB request to {self.host}:{self.port} timed out "
                                          f"({where}): {text}", code=errno.ETIMEDOUT)
            return OSError(errno.EIO, f"SMB error: {text}", where)
        return err

    def _on_shared(self, where: str, unc: str,
                   run: Callable[[str, _Slot, _ListState], _T],
                   taken: tuple[_Slot, _ListState] | None = None) -> _T:
        """``run(unc, slot, state)`` on a connection shared with the listings running at
        the same time, errors mapped; _Missing when its open found nothing at ``unc`` (or
        a file on the way). The connection is dropped when ``run`` found it broken or a
        CLOSE failed (a handle may linger on the server). ``taken``: the shared connection
        (and its state) a listing sent ahead holds already; given back here too."""
        slot, state = taken if taken is not None else (self._pool.acquire_shared(),
                                                       _ListState())
        broken = False
        try:
            try:
                return run(unc, slot, state)
            except _OpenError as failed:
                mapped = self._map_error(failed.err, where)
                broken = isinstance(mapped, ConnectionError)
                if getattr(mapped, "errno", None) in (errno.ENOENT, errno.ENOTDIR):
                    raise _Missing() from None
                raise mapped from None
            except (SMBException, OSError, ValueError) as err:
                mapped = self._map_error(err, where)
                broken = isinstance(mapped, ConnectionError)
                raise mapped from None
        finally:
            self._pool.release_shared(slot, broken=broken or state.drop)

    def _call(self, where: str, fn: Any, *args: Any, **kw: Any) -> Any:
        """``fn(*args, **kw, **session kwargs)`` on a borrowed connection, errors mapped."""
        slot = self._pool.acquire()
        broken = False
        try:
            return fn(*args, **kw, **slot.kwargs)
        except (SMBException, OSError, ValueError) as err:
            mapped = self._map_error(err, where)
            broken = isinstance(mapped, ConnectionError)
            if mapped is err:
                raise
            raise mapped from None
        finally:
            self._pool.release(slot, broken=broken)

    # ----- listing --------------------------------------------------------------------

    def list_dir(self, path: str, want_stat: bool = True) -> Iterator[Entry]:
        """The direct children of ``path``; raises DirNotFoundError if it is no directory.

        One round trip (a CREATE, QUERY_DIRECTORY, QUERY_DIRECTORY, CLOSE compound) for a
        directory whose entries fit one (up to 1 MiB) answer; a larger one is listed again
        with one QUERY_DIRECTORY exchange per batch. No stat per entry; times keep the full
        100 ns FILETIME resolution. ``want_stat`` is accepted for the walker's names-only
        listings: sizes and times come at no extra cost here. Entries come sorted by their
        server names, as rclone's SMB client lists them.
        """
        share, _ = self._split(path)
        if not share:
            raise SmbUnsupportedError(f"{self.describe()}: listing the shares of a server is not "
                                      "supported - give the share in the path "
                                      "(remote:share/dir)")
        yield from self._listing(path, self._unc(path), _list_records)

    def _listing(self, path: str, unc: str,
                 run: Callable[[str, _Slot, _ListState], list[_Record]],
                 taken: tuple[_Slot, _ListState] | None = None) -> list[Entry]:
        """The entries of directory ``path`` (``unc``) whose records ``run`` gets on the
        shared connection (``taken``: see :meth:`_on_shared`); DirNotFoundError when
        nothing (or a file) is there."""
        where = self._where(path)
        try:
            records = self._on_shared(where, unc, run, taken)
        except _Missing:
            raise DirNotFoundError("directory not found", path=where) from None
        share, inner = self._split(path)
        self._dir_seen(share, inner)
        return self._entries(path, records)

    def _entries(self, path: str, records: list[_Record]) -> list[Entry]:
        """The entries of directory ``path`` from its listing's ``records``, sorted by
        their server names as rclone's SMB client lists them."""
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        decode = self.from_server
        entries: list[Entry] = []
        # rclone's SMB client (go-smb2's ReadDir) sorts a listing by the server's names:
        # of case or NFC/NFD twins the march keeps the first in that order, so must pysync
        for name, attrs, write_time, size in sorted(records, key=_record_name):
            if name in (".", ".."):
                continue
            rel = prefix + decode(name)
            mtime = (write_time - EPOCH_FILETIME) * 100
            if attrs & _ATTR_DIRECTORY:
                entries.append(Entry(rel, -1, mtime, True))
            else:
                entries.append(Entry(rel, size, mtime, False))
        return entries

    def list_ahead(self, path: str) -> ListingAhead | None:
        """Send the listing of directory ``path`` now, from the caller's thread, and return
        at once: :meth:`ListingAhead.result` is then what :meth:`list_dir` gives (as a
        list) or the OSError it raises. The march sends the listings it will take next
        this way, so that many are on the wire at once without a thread hand-off per
        directory (one per listing and per answer under the GIL, measured: an SMB no-op
        sync's march of 81 folders).

        None when it cannot be sent so (a signed or encrypted session, a DFS share, too
        few credits spare without waiting, the share list, an error on the way): the
        caller lists the usual way, which meets that error again."""
        share, inner = self._split(path)
        if not share or not self._send_ahead:
            return None
        unc = self._unc(path)
        try:
            slot = self._pool.acquire_shared()
        except Exception:  # no connection (refused, timed out, authentication...)
            self._send_ahead = False
            return None
        state = _ListState()
        try:
            sent = _send_list(unc, slot, state, wait=False)
        except Exception:
            sent = None
        if sent is None:
            self._pool.release_shared(slot, broken=state.drop)
            return None
        return ListingAhead(self, path, unc, slot, state, sent)

    def stat(self, path: str) -> Entry | None:
        """The entry at ``path`` or None (one compound request: CREATE and CLOSE, whose
        CREATE answer carries the attributes, size and times; smbclient's seven-request
        stat on signed, encrypted or DFS shares)."""
        rel = path.strip("/")
        share, _ = self._split(path)
        if not share:
            return Entry(rel, -1, 0, True)
        where, unc = self._where(path), self._unc(path)
        try:
            got = self._on_shared(where, unc, _stat_compound)
        except _Missing:
            return None
        if got is not None:
            write_time, size, attrs = got
            mtime = (write_time - EPOCH_FILETIME) * 100
            if attrs & _ATTR_DIRECTORY:
                return Entry(rel, -1, mtime, True)
            return Entry(rel, size, mtime, False)
        try:
            st = self._call(where, smbclient.stat, unc)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if _stat.S_ISDIR(st.st_mode):
            return Entry(rel, -1, int(st.st_mtime_ns), True)
        return Entry(rel, int(st.st_size), int(st.st_mtime_ns), False)

    def is_file(self, path: str) -> bool:
        """True when a file is at ``path``."""
        try:
            e = self.stat(path)
        except OSError:
            return False
        return e is not None and not e.is_dir

    # ----- data -----------------------------------------------------------------------

    def _open_failed(self, slot: _Slot, err: BaseException, where: str) -> BaseException:
        """The mapped error of a failed open; ``slot`` is given back (dropped when the
        connection is in trouble)."""
        mapped = self._map_error(err, where)
        self._pool.release(slot, broken=isinstance(mapped, ConnectionError))
        return mapped

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        """An unbuffered reader positioned at ``offset`` (keeps a connection until closed)."""
        where = self._where(path)
        unc = self._unc(path)
        slot = self._pool.acquire()
        try:
            raw = smbclient.open_file(unc, mode="rb", buffering=0, share_access="rwd",
                                      **slot.kwargs)
        except (SMBException, OSError, ValueError) as err:
            raise self._open_failed(slot, err, where) from None
        reader = _Reader(self, raw, slot, where)
        if offset:
            reader.seek(offset)
        return reader  # type: ignore[return-value]

    def open_whole(self, path: str, size: int) -> BinaryIO:
        """A reader of ``path`` from its start, as :meth:`open_read` gives, for a file the
        listing gave ``size`` bytes. A small one (under 1 MiB) is read whole in one round
        trip (CREATE, READ and CLOSE in one compound, against three round trips and a
        connection kept until close) and handed out from memory; the size and data are
        those the server had when it opened the file, as a reader's are."""
        if not 0 < size < _WHOLE_READ:
            return self.open_read(path)
        where = self._where(path)
        unc = self._unc(path)
        slot = self._pool.acquire()
        try:
            data = _read_whole(unc, slot.kwargs, size)
        except (SMBException, OSError, ValueError) as err:
            raise self._open_failed(slot, err, where) from None
        self._pool.release(slot)
        if data is None:
            return self.open_read(path)
        return io.BytesIO(data)

    def read_small(self, items: Sequence[tuple[str, int]]) -> list[bytes | None]:
        """The data of the files ``items`` (path, size listed), each read whole as
        :meth:`open_whole` reads a small one, on one connection with up to
        ``_READS_IN_FLIGHT`` files' compounds sent before their answers are read (one
        round trip for many files). An item is None where it was not read so: a size
        outside (0, 1 MiB), a file grown past its READ, any error (the caller reads it the
        usual way, which reports it), and the rest once the connection failed."""
        out: list[bytes | None] = [None] * len(items)
        slot = self._pool.acquire()
        broken = False
        try:
            todo = [i for i, (_, size) in enumerate(items) if 0 < size < _WHOLE_READ]
            pos = 0
            while pos < len(todo):
                sent: list[tuple[int, str, Any, list[Any]]] = []
                try:
                    while pos < len(todo) and len(sent) < _READS_IN_FLIGHT:
                        i = todo[pos]
                        unc = self._unc(items[i][0])
                        one = _send_read_whole(unc, slot.kwargs, items[i][1])
                        if one is None:  # too few credits: sent again once answers are in
                            pos += not sent  # ... or it cannot be read so at all
                            break
                        sent.append((i, unc, *one))
                        pos += 1
                finally:  # every answer sent for is taken off the connection
                    if sent:  # answers come in order: one wake-up for them all, not one each
                        sent[-1][3][-1].response_event.wait()
                    for i, unc, tree, requests in sent:
                        answers = _lean_receive(tree.session.connection, requests, unc)
                        with contextlib.suppress(SMBException, OSError, ValueError):
                            out[i] = _read_whole_answer(unc, tree, answers)
        except (SMBException, OSError, ValueError):
            broken = True  # what is left is read the usual way, which reports the error
        finally:
            self._pool.release(slot, broken=broken)
        return out

    def open_write_whole(self, path: str, size: int,
                         guard: Callable[[], contextlib.AbstractContextManager[Any]]
                         = contextlib.nullcontext) -> BinaryIO:
        """A writer like :meth:`open_write`'s for a file that will hold ``size`` bytes. A
        small one (under 1 MiB) is sent whole when the writer is closed: created, written,
        its time set (``time_at_close``) and closed in one round trip, against three and a
        connection kept meanwhile. Nothing is on the server before that close: ``guard()``
        is entered around the file's creation (the run's interruption clean-up waits for
        it). The first file of a folder not known to exist yet is created at once, with
        its missing parents, as rclone makes them before the data (which of two clashing
        names a case-insensitive share gets first stays rclone's)."""
        share, inner = self._split(path)
        if not 0 <= size < _WHOLE_WRITE or not self._dir_known(share, inner[:-1]):
            with guard():
                return self.open_write(path)
        return _WholeWriter(self, path, guard)  # type: ignore[return-value]

    def open_write(self, path: str) -> BinaryIO:
        """An unbuffered writer that truncates or creates ``path``; parents are created."""
        where = self._where(path)
        share, inner = self._split(path)
        unc = self._unc(path)
        slot = self._pool.acquire()
        raw: Any = None
        try:
            try:
                raw = _open_write(unc, slot.kwargs)
            except SMBOSError as err:
                if err.errno != errno.ENOENT or len(inner) < 2:
                    raise
                self._make_parents(share, inner)
                raw = _open_write(unc, slot.kwargs)
        except (SMBException, OSError, ValueError) as err:
            mapped = self._write_open_error(self._open_failed(slot, err, where), inner)
            if mapped is err:
                raise
            raise mapped from None
        self._dir_seen(share, inner[:-1])
        return _Writer(self, raw, slot, where)  # type: ignore[return-value]

    @staticmethod
    def _write_open_error(mapped: BaseException, inner: list[str]) -> BaseException:
        """A file to be written that is a folder, worded as rclone's SMB client words it
        (go-smb2 opens it without FILE_NON_DIRECTORY_FILE, and Samba answers
        STATUS_INVALID_PARAMETER): ``failed to open: open <share-relative path>: response
        error: An invalid parameter ...``; any other error as it is."""
        if not isinstance(mapped, IsADirectoryError) or getattr(mapped, "worded", False):
            return mapped
        shown = "\\".join(inner)
        return worded(errno.EISDIR, f"failed to open: open {shown}: response error: An "
                      "invalid parameter was passed to a service or function.")

    def open_write_at(self, path: str, offset: int) -> BinaryIO:
        """An unbuffered writer of the existing file ``path``, cut to ``offset`` bytes and
        writing from there (resuming a partial file)."""
        where = self._where(path)
        slot = self._pool.acquire()
        raw: Any = None
        try:
            raw = smbclient.open_file(self._unc(path), mode="r+b", buffering=0,
                                      share_access="rwd", **slot.kwargs)
            raw.truncate(offset)
            raw.seek(offset)
        except (SMBException, OSError, ValueError) as err:
            if raw is not None:
                with contextlib.suppress(Exception):
                    raw.close()
            mapped = self._open_failed(slot, err, where)
            if mapped is err:
                raise
            raise mapped from None
        return _Writer(self, raw, slot, where)  # type: ignore[return-value]

    def rename(self, src: str, dst: str) -> None:
        """Move file ``src`` over ``dst`` (SMB rename with replace-if-exists)."""
        where = self._where(src)
        try:
            try:
                self._call(where, _replace, self._unc(src), self._unc(dst))
            except FileNotFoundError:
                share, inner = self._split(dst)
                if len(inner) < 2 or self.stat(src) is None:
                    raise
                self._make_parents(share, inner)
                self._call(where, _replace, self._unc(src), self._unc(dst))
        except FileExistsError as err:
            raise self._rename_error(err, self, src, dst) from None

    def _rename_error(self, err: OSError, other: SmbBackend, src: str, dst: str) -> OSError:
        """A rename refused for an existing target, worded as rclone's SMB client (go-smb2)
        words it: ``rename <src> <dst>: file already exists``, share-relative paths."""
        if getattr(err, "worded", False):
            return err
        old = "\\".join(other._split(src)[1])
        new = "\\".join(self._split(dst)[1])
        return worded(errno.EEXIST, f"rename {old} {new}: file already exists")

    # ----- server-side move (optional, see base.ServerSideMove) ---------------------------

    def same_remote(self, other: object) -> bool:
        """The same config entry (rclone's SameConfig) on the same server and login."""
        if not isinstance(other, SmbBackend):
            return False
        return self.name == other.name and (self.host, self.port, self.user) == (
            other.host, other.port, other.user)

    def overlap_root(self) -> tuple[str, str]:
        """The server and ``share/dir`` of the root, lowercase where the share ignores case."""
        root = "/".join(p for p in (self.share, self.base) if p)
        return (f"smb://{self.host.lower()}:{self.port}",
                root.lower() if self.features.case_insensitive else root)

    def move_from(self, other: object, path: str, target: str) -> bool:
        """An SMB rename on the share of ``other``'s file to ``target`` here, parents made
        (rclone's smb Move); False across shares, where SMB cannot rename."""
        assert isinstance(other, SmbBackend)
        src_share, _ = other._split(path)
        share, inner = self._split(target)
        if not share or src_share != share:
            return False
        if len(inner) > 1:
            self._make_parents(share, inner)
        try:
            self._call(other._where(path), _replace, other._unc(path), self._unc(target))
        except FileExistsError as err:
            raise self._rename_error(err, other, path, target) from None
        return True

    def remove(self, path: str) -> None:
        """Delete the file at ``path`` (IsADirectoryError for a directory)."""
        self._call(self._where(path), smbclient.remove, self._unc(path))

    def _dir_seen(self, share: str, inner: list[str]) -> None:
        """The folder ``inner`` of ``share`` exists (and so do its parents)."""
        with self._dirs_lock:
            if (share, *inner) in self._dirs:  # (its parents were added with it)
                return
            for k in range(len(inner) + 1):
                self._dirs.add((share, *inner[:k]))

    def _dir_known(self, share: str, inner: list[str]) -> bool:
        with self._dirs_lock:
            return (share, *inner) in self._dirs

    def _dir_gone(self, share: str, inner: list[str]) -> None:
        """The folder ``inner`` of ``share`` was removed (and so was what it held)."""
        gone = (share, *inner)
        with self._dirs_lock:
            self._dirs = {d for d in self._dirs if d[:len(gone)] != gone}

    def mkdir(self, path: str) -> None:
        """Create directory ``path`` and its parents; fine if it exists as a directory."""
        share, inner = self._split(path)
        if not inner:
            return  # the share itself (or the server): nothing to create, as rclone
        self._mkdirs(share, inner)

    def _make_parents(self, share: str, inner: list[str]) -> None:
        """The parents of ``inner`` made; errors worded as rclone's smb Put and Move."""
        try:
            self._mkdirs(share, inner[:-1])
        except OSError as err:
            if not getattr(err, "worded", False):
                raise
            raise worded(err.errno or errno.EIO, f"failed to make parent directories: {err}",
                         like=type(err).__mro__[1]) from None

    def _mkdirs(self, share: str, inner: list[str]) -> None:
        """Create ``inner`` (encoded segments) in ``share`` and the missing parents.

        Tries the leaf first (one round trip when only it is missing), climbs while the
        parent is missing, then creates back down. Concurrent creators are fine. A file in
        the way fails as rclone's SMB client (go-smb2's MkdirAll) does: ``mkdir <that file,
        share-relative, \\-separated>: not a directory``.
        """
        try:
            self._mkdirs_once(share, inner)
            self._dir_seen(share, inner)
        except (FileExistsError, FileNotFoundError):
            for k in range(1, len(inner) + 1):
                try:
                    st = self._call("/".join([share, *inner[:k]]), smbclient.stat,
                                    self._unc_of(share, inner[:k]))
                except FileNotFoundError:
                    break
                if not _stat.S_ISDIR(st.st_mode):
                    shown = "\\".join(inner[:k])
                    raise worded(errno.ENOTDIR, f"mkdir {shown}: not a directory") from None
            raise

    def _mkdirs_once(self, share: str, inner: list[str]) -> None:
        where = "/".join([share, *inner])
        level = len(inner)
        descending = False
        while True:
            unc = self._unc_of(share, inner[:level])
            try:
                self._call(where, smbclient.mkdir, unc)
            except FileExistsError:
                if level == len(inner):
                    st = self._call(where, smbclient.stat, unc)
                    if not _stat.S_ISDIR(st.st_mode):
                        raise _os_error(errno.EEXIST, "STATUS_OBJECT_NAME_COLLISION",
                                        where) from None
                    return
            except FileNotFoundError:
                if descending or level <= 1:
                    raise
                level -= 1
                continue
            if level == len(inner):
                return
            descending = True
            level += 1

    def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path`` (the share root itself is left, as rclone)."""
        share, inner = self._split(path)
        if not inner:
            return
        self._call(self._where(path), smbclient.rmdir, self._unc(path))
        self._dir_gone(share, inner)

    def set_mtime(self, path: str, mtime_ns: int) -> None:
        """Set last-write and last-access time of ``path`` (100 ns resolution)."""
        share, _ = self._split(path)
        if not share:
            return
        self._call(self._where(path), smbclient.utime, self._unc(path),
                   ns=(mtime_ns, mtime_ns))

    def hash(self, path: str, kind: str) -> str | None:
        """Always None: SMB has no hashes."""
        return None

    def close(self) -> None:
        """Log off every session and close every connection of this backend."""
        self._pool.close()

    @property
    def connections(self) -> int:
        """Connections currently open to the server (for tests and diagnostics)."""
        return self._pool.size


#: A file opened to be written (``smbclient.open_file(mode="wb", share_access="rwd")``).
_WRITE_OPEN = (ImpersonationLevel.Impersonation,
               FilePipePrinterAccessMask.FILE_WRITE_DATA
               | FilePipePrinterAccessMask.FILE_WRITE_ATTRIBUTES
               | FilePipePrinterAccessMask.FILE_WRITE_EA,
               FileAttributes.FILE_ATTRIBUTE_NORMAL,
               ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE
               | ShareAccess.FILE_SHARE_DELETE,
               CreateDisposition.FILE_OVERWRITE_IF, CreateOptions.FILE_NON_DIRECTORY_FILE)
#: A file opened to be read (``smbclient.open_file(mode="rb", share_access="rwd")``).
_READ_OPEN = (ImpersonationLevel.Impersonation,
              FilePipePrinterAccessMask.FILE_READ_DATA
              | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
              | FilePipePrinterAccessMask.FILE_READ_EA,
              FileAttributes.FILE_ATTRIBUTE_NORMAL,
              ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE
              | ShareAccess.FILE_SHARE_DELETE,
              CreateDisposition.FILE_OPEN, CreateOptions.FILE_NON_DIRECTORY_FILE)
#: A file opened to be renamed (``smbclient.replace``'s open): DELETE, the link itself.
_RENAME_OPEN = (ImpersonationLevel.Impersonation, FilePipePrinterAccessMask.DELETE,
                FileAttributes.FILE_ATTRIBUTE_NORMAL,
                ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE
                | ShareAccess.FILE_SHARE_DELETE,
                CreateDisposition.FILE_OPEN, CreateOptions.FILE_OPEN_REPARSE_POINT)


def _lean_tree(unc: str, kwargs: dict[str, Any], credits: int) -> tuple[Any, str] | None:
    """(TreeConnect, path in the tree) of ``unc`` when requests on it can be packed by
    :mod:`.smbraw` (plain TCP, unsigned and unencrypted, no DFS, ``credits`` to spend),
    else None. A failed tree connect raises SMBOSError, as smbclient's open does."""
    try:
        tree, name = get_smb_tree(unc, **kwargs)
    except SMBResponseException as exc:
        raise SMBOSError(exc.status, unc) from None
    conn = tree.session.connection
    if tree.is_dfs_share or not isinstance(conn.transport, _Tcp) \
            or not smbraw.can_send(conn, tree) or _spare_credits(conn, credits) < credits:
        return None
    return tree, str(name)


def _lean_compound(conn: Any, parts: list[tuple[int, int, bytes, type]], session_id: int,
                   tree_id: int, path: str) -> list[Any]:
    """Send ``parts`` as one compound packed by :mod:`.smbraw` and receive every answer;
    the first failed one raises ``SMBOSError(status, path)``, as smbclient's
    SMBFileTransaction raises it. A compound that could not be sent whole leaves the
    connection's sequence window off: ConnectionResetError (the connection is dropped)."""
    answers = _lean_answers(conn, parts, session_id, tree_id, path)
    for answer in answers:
        if isinstance(answer, SMBOSError):
            raise answer
    return answers


def _lean_answers(conn: Any, parts: list[tuple[int, int, bytes, type]], session_id: int,
                  tree_id: int, path: str) -> list[Any]:
    """:func:`_lean_compound`'s answers, each failed one as its ``SMBOSError(status, path)``
    in its place (not raised)."""
    return _lean_receive(conn, _lean_send(conn, parts, session_id, tree_id), path)


def _lean_receive(conn: Any, requests: list[Any], path: str) -> list[Any]:
    """The answers to ``requests`` (one compound's), every one taken off the connection so
    that the credits stay in order; each failed one as its ``SMBOSError(status, path)``
    in its place (not raised)."""
    return [SMBOSError(a.status, path) if isinstance(a, SMBResponseException) else a
            for a in smbraw.receive_all(conn, requests)]


def _lean_send(conn: Any, parts: list[tuple[int, int, bytes, type]], session_id: int,
               tree_id: int) -> list[Any]:
    """Send ``parts`` as one compound packed by :mod:`.smbraw`; its requests. One that
    could not be sent whole leaves the connection's sequence window off:
    ConnectionResetError (the connection is to be dropped)."""
    try:
        return smbraw.send_compound(conn, parts, session_id, tree_id, 0)
    except SMBException as err:
        raise ConnectionResetError(errno.ECONNRESET,
                                   f"SMB request not sent whole: {err}") from None


def _closed(fd: Any) -> None:
    """Mark smbprotocol's ``Open`` closed, as its close does."""
    if fd._connected:
        fd._connected = False
        fd.tree_connect.session.open_table.pop(fd.file_id, None)


def _open_write(unc: str, kwargs: dict[str, Any]) -> Any:
    """``smbclient.open_file(unc, mode="wb", buffering=0, share_access="rwd")``: the CREATE
    packed by :mod:`.smbraw` where it can be (the answer read for its file id and size
    only), the file object smbclient's own."""
    lean = _lean_tree(unc, kwargs, 1)
    if lean is None:
        return smbclient.open_file(unc, mode="wb", buffering=0, share_access="rwd", **kwargs)
    tree, name = lean
    session = tree.session
    (opened,) = _lean_compound(session.connection, [
        (smbraw.CREATE, 1, smbraw.create_dir_body(name, *_WRITE_OPEN), SMB2CreateRequest)],
        session.session_id, tree.tree_connect_id, unc)
    body = opened["data"].get_value()
    raw = SMBFileIO(unc, mode="wb", share_access="rwd", **kwargs)
    fd = raw.fd
    fd.file_id = smbraw.created_file_id(body)
    fd.end_of_file = smbraw.create_answer(body)[1]
    fd._connected = True
    session.open_table[fd.file_id] = fd
    return raw


def _close_orphan(tree: Any, file_id: bytes, unc: str) -> None:
    """CLOSE ``file_id``, which a compound opened and a server that failed its CLOSE after
    an error left open (answers ignored: the file is what the caller reports on)."""
    session = tree.session
    with contextlib.suppress(SMBException, OSError):
        _lean_compound(session.connection, [
            (smbraw.CLOSE, 1, smbraw.close_body(file_id), SMB2CloseRequest)],
            session.session_id, tree.tree_connect_id, unc)


def _times_part(file_id: bytes, mtime_ns: int) -> tuple[int, int, bytes, type]:
    """A compound's SET_INFO of ``file_id``'s last-access and last-write time (the 100 ns
    FILETIME smbclient.utime(ns=) sets)."""
    filetime = mtime_ns // 100 + DateTimeField.EPOCH_FILETIME
    return (smbraw.SET_INFO, 1, smbraw.set_info_body(
        smbraw.FILE_BASIC_INFORMATION, file_id, smbraw.basic_info(filetime, filetime)),
        SMB2SetInfoRequest)


def _lean_io_tree(unc: str, kwargs: dict[str, Any], payload: int, others: int,
                  limit: str) -> tuple[Any, str] | None:
    """:func:`_lean_tree` for a compound with one READ or WRITE of ``payload`` bytes
    beside ``others`` one-credit requests; None also when the connection's ``limit``
    (``max_read_size``, ``max_write_size``) is below it, or a payload over 64 KiB needs
    multi-credit requests the server lacks."""
    charge = max(1, (payload - 1) // MAX_PAYLOAD_SIZE + 1)
    lean = _lean_tree(unc, kwargs, charge + others)
    if lean is None:
        return None
    conn = lean[0].session.connection
    if payload > getattr(conn, limit) or (charge > 1 and not conn.supports_multi_credit):
        return None
    return lean


def _read_whole(unc: str, kwargs: dict[str, Any], size: int) -> bytes | None:
    """All of the file ``unc``, listed with ``size`` bytes (0 < size < _WHOLE_READ), in one
    round trip: CREATE, a READ of ``size`` rounded up to the next 64 KiB (a file that grew
    a little still fits) and CLOSE, one related compound packed by :mod:`.smbraw`. None when
    that cannot be done (no lean tree, too few credits, a server without multi-credit
    reads for more than 64 KiB) or the file was larger than the READ: the caller then reads
    it as any other file. A failed CREATE or READ raises its SMBOSError, as smbclient's
    open and read do."""
    sent = _send_read_whole(unc, kwargs, size)
    if sent is None:
        return None
    tree, requests = sent
    return _read_whole_answer(unc, tree, _lean_receive(tree.session.connection, requests, unc))


def _send_read_whole(unc: str, kwargs: dict[str, Any], size: int
                     ) -> tuple[Any, list[Any]] | None:
    """Send :func:`_read_whole`'s compound; (tree, its requests), or None when it cannot
    be sent (see there). Raises ConnectionResetError when it was not sent whole."""
    length = (size // MAX_PAYLOAD_SIZE + 1) * MAX_PAYLOAD_SIZE
    lean = _lean_io_tree(unc, kwargs, length, 2, "max_read_size")
    if lean is None:
        return None
    tree, name = lean
    session = tree.session
    return tree, _lean_send(session.connection, [
        (smbraw.CREATE, 1, smbraw.create_dir_body(name, *_READ_OPEN), SMB2CreateRequest),
        (smbraw.READ, length, smbraw.read_body(_CHAINED_FILE_ID, 0, length),
         SMB2ReadRequest),
        (smbraw.CLOSE, 1, smbraw.close_body(_CHAINED_FILE_ID), SMB2CloseRequest)],
        session.session_id, tree.tree_connect_id)


def _read_whole_answer(unc: str, tree: Any, answers: list[Any]) -> bytes | None:
    """The data of :func:`_read_whole`'s answers (CREATE, READ, CLOSE, as
    :func:`_lean_receive` gives them), or None when the file was larger than the READ."""
    opened, read, closed = answers
    if isinstance(opened, SMBOSError):
        raise opened  # nothing was opened (the READ and CLOSE failed with it)
    body = opened["data"].get_value()
    if isinstance(closed, SMBOSError):  # a server that failed the CLOSE after the READ
        _close_orphan(tree, smbraw.created_file_id(body), unc)
    end = smbraw.create_answer(body)[1]
    if isinstance(read, SMBOSError):
        if end == 0 and read.ntstatus == NtStatus.STATUS_END_OF_FILE:
            return b""  # emptied since it was listed
        raise read
    data = smbraw.read_answer_data(read)
    return data if len(data) == end else None


def _write_whole(unc: str, kwargs: dict[str, Any], data: bytearray,
                 mtime_ns: int | None) -> int | None:
    """Create (or truncate) ``unc`` with ``data`` in one round trip: CREATE, WRITE, with
    ``mtime_ns`` a SET_INFO of its times, and CLOSE (post-query: the size), one related
    compound packed by :mod:`.smbraw`; returns the size the server reports (-1 without
    ``mtime_ns``). None when that cannot be done (no lean tree, too few credits, more than
    64 KiB for a server without multi-credit writes). The first failure raises its
    SMBOSError (a CREATE's as smbclient's open raises it); a handle left open by a server
    that failed the CLOSE after an error is closed on its own."""
    lean = _lean_io_tree(unc, kwargs, len(data), 3, "max_write_size")
    if lean is None:
        return None
    tree, name = lean
    session = tree.session
    conn = session.connection
    parts = [(smbraw.CREATE, 1, smbraw.create_dir_body(name, *_WRITE_OPEN), SMB2CreateRequest)]
    if data:
        parts.append((smbraw.WRITE, len(data), smbraw.write_body_head(
            _CHAINED_FILE_ID, 0, len(data)) + data, SMB2WriteRequest))
    flags = 0
    if mtime_ns is not None:
        parts.append(_times_part(_CHAINED_FILE_ID, mtime_ns))
        flags = smbraw.CLOSE_FLAG_POSTQUERY_ATTRIB
    parts.append((smbraw.CLOSE, 1, smbraw.close_body(_CHAINED_FILE_ID, flags),
                  SMB2CloseRequest))
    answers = _lean_answers(conn, parts, session.session_id, tree.tree_connect_id, unc)
    opened, closed = answers[0], answers[-1]
    if isinstance(opened, SMBOSError):
        raise opened  # nothing was created (what follows failed with it)
    if isinstance(closed, SMBOSError):  # a server that failed the CLOSE after an error
        _close_orphan(tree, smbraw.created_file_id(opened["data"].get_value()), unc)
    for answer in answers[1:]:
        if isinstance(answer, SMBOSError):
            raise answer
    if data:
        written = smbraw.write_answer_count(answers[1])
        if written != len(data):
            raise OSError(errno.EIO, f"short write ({written} of {len(data)} bytes at 0)",
                          unc)
    if mtime_ns is None:
        return -1
    return smbraw.close_answer_size(closed["data"].get_value())


def _replace(src: str, dst: str, **kwargs: Any) -> None:
    """``smbclient.replace(src, dst)`` (UNC paths on one share) in one round trip: CREATE of
    ``src`` for DELETE, SET_INFO FileRenameInformation (replace if exists), CLOSE, one
    compound, packed by :mod:`.smbraw` where it can be. smbclient first opens ``dst`` in a
    round trip of its own, to learn its name on a DFS share: a DFS share still goes that
    way; on any other the name is the UNC path's part after ``\\\\host\\share\\``."""
    lean = _lean_tree(src, kwargs, 3)
    if lean is not None:
        tree, name = lean
        target = dst.lstrip("\\").split("\\", 2)[2]
        _lean_compound(tree.session.connection, [
            (smbraw.CREATE, 1, smbraw.create_dir_body(name, *_RENAME_OPEN), SMB2CreateRequest),
            (smbraw.SET_INFO, 1, smbraw.set_info_body(
                smbraw.FILE_RENAME_INFORMATION, _CHAINED_FILE_ID,
                smbraw.rename_info(target, True)), SMB2SetInfoRequest),
            (smbraw.CLOSE, 1, smbraw.close_body(_CHAINED_FILE_ID), SMB2CloseRequest)],
            tree.session.session_id, tree.tree_connect_id, src)
        return
    raw = SMBRawIO(src, mode="r", share_access="rwd",
                   desired_access=FilePipePrinterAccessMask.DELETE,
                   create_options=CreateOptions.FILE_OPEN_REPARSE_POINT, **kwargs)
    if raw.fd.tree_connect.is_dfs_share:
        smbclient.replace(src, dst, **kwargs)
        return
    info = FileRenameInformation()
    info["replace_if_exists"] = True
    info["file_name"] = dst.lstrip("\\").split("\\", 2)[2]
    with SMBFileTransaction(raw) as transaction:
        set_info(transaction, info)


def _os_error(code: int, status: str, where: str) -> OSError:
    """``OSError(code, ...)``: Python picks FileNotFoundError & co from the errno."""
    return OSError(code, f"{os.strerror(code)} ({status})", where)


_Record = tuple[str, int, int, int]


def _record_name(record: _Record) -> str:
    return record[0]


class ListingAhead:
    """A directory listing sent by :meth:`SmbBackend.list_ahead`, its answers on their way.

    Shaped as the ``concurrent.futures.Future`` of a listing read ahead on a thread, as
    the march keeps it: ``result()`` is the listing (a list of entries) or the OSError
    listing failed with (not raised); any other exception is raised by ``result()`` and
    told by ``exception()``, as a Future's. ``done()`` tells whether the answers are in;
    ``cancel()`` takes them off the connection unheard. Used by one thread (the march's).
    """

    __slots__ = ("_backend", "_path", "_unc", "_taken", "_sent", "_result", "_error")

    def __init__(self, backend: SmbBackend, path: str, unc: str, slot: _Slot,
                 state: _ListState, sent: _Sent) -> None:
        self._backend = backend
        self._path = path
        self._unc = unc
        self._taken: tuple[_Slot, _ListState] | None = (slot, state)
        self._sent = sent
        self._result: list[Entry] | OSError | None = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        """Whether every answer has come (or the connection failed)."""
        return self._taken is None or self._sent[1][-1].response_event.is_set()

    def exception(self) -> BaseException | None:
        """What listing raised other than an OSError (waited for), else None."""
        self._finish()
        return self._error

    def result(self) -> list[Entry] | OSError:
        """The listing, or the OSError it failed with (the answers waited for and received
        here, the connection given back)."""
        self._finish()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def cancel(self) -> bool:
        """Receive the answers unheard (they keep the connection's credits in order) and
        give the connection back."""
        self._finish()
        return True

    def _finish(self) -> None:
        taken, self._taken = self._taken, None
        if taken is None:
            return
        try:
            self._result = self._backend._listing(
                self._path, self._unc, functools.partial(_list_records, sent=self._sent),
                taken)
        except OSError as err:  # DirNotFoundError among them
            self._result = err
        except Exception as err:  # told as a listing thread's Future tells it
            self._error = err


class _OpenError(Exception):
    """Opening the directory to list failed with ``err`` (DirNotFoundError if not found)."""

    def __init__(self, err: BaseException) -> None:
        super().__init__(str(err))
        self.err = err


class _Missing(Exception):
    """The open of :meth:`SmbBackend._on_shared` found nothing at the path."""


class _ListState:
    """What a listing leaves behind: ``drop`` when its connection should not be reused."""

    __slots__ = ("drop",)

    def __init__(self) -> None:
        self.drop = False


def _answer_size(conn: Any, credits: int) -> int:
    """How large a QUERY_DIRECTORY answer to ask for with ``credits`` to spend: one credit
    per 64 KiB, up to _LIST_BUFFER and the server's limit (without multi-credit, 64 KiB)."""
    if not conn.supports_multi_credit:
        return MAX_PAYLOAD_SIZE
    return min(_LIST_BUFFER, conn.max_transact_size, credits * MAX_PAYLOAD_SIZE)


def _spare_credits(conn: Any, wanted: int = 4, wait_s: float = 5.0) -> int:
    """The credits ``conn`` has left to spend; when fewer than ``wanted`` and answers are
    still on their way (other listings' on a shared connection), waits up to ``wait_s``
    for those answers to bring credits back."""
    window = conn.sequence_window
    spare = window["high"] - window["low"]
    if spare >= wanted or not conn.outstanding_requests:
        return spare
    deadline = time.monotonic() + wait_s
    while spare < wanted and conn.outstanding_requests and time.monotonic() < deadline:
        time.sleep(0.0005)
        spare = window["high"] - window["low"]
    return spare


def _tree_of(unc: str, kwargs: dict[str, Any]) -> tuple[Any, str]:
    """(TreeConnect, path in the tree) of ``unc`` on the slot's connection (``kwargs``);
    failures as _OpenError, like ``smbclient.open_file``'s."""
    try:
        tree, name = get_smb_tree(unc, **kwargs)
    except SMBResponseException as exc:
        raise _OpenError(SMBOSError(exc.status, unc)) from None
    except (SMBException, OSError, ValueError) as err:
        raise _OpenError(err) from None
    return tree, str(name)


#: The credits each request of a listing asks back: a full listing's.
_LIST_CREDITS = _LIST_BUFFER // MAX_PAYLOAD_SIZE
#: The most credits a listing sent ahead spends on its answer (256 KiB, some 2,000 entries;
#: a larger directory is listed again in batches), so that many can be on their way.
_AHEAD_CREDITS = 4
#: A listing's CREATE: the directory opened to list and read its attributes, shared.
_LIST_OPEN = (ImpersonationLevel.Impersonation,
              DirectoryAccessMask.FILE_LIST_DIRECTORY | DirectoryAccessMask.FILE_READ_ATTRIBUTES,
              FileAttributes.FILE_ATTRIBUTE_DIRECTORY,
              ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE
              | ShareAccess.FILE_SHARE_DELETE,
              CreateDisposition.FILE_OPEN, CreateOptions.FILE_DIRECTORY_FILE)
_LIST_CLASS = FileInformationClass.FILE_ID_FULL_DIRECTORY_INFORMATION
_STAT_OPEN = (ImpersonationLevel.Impersonation, FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES,
              0, ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE
              | ShareAccess.FILE_SHARE_DELETE, CreateDisposition.FILE_OPEN, 0)


def _list_messages(tree: Any, name: str, out_len: int) -> list[Any]:
    """A listing's compound as smbprotocol's request structures: CREATE of ``name``,
    QUERY_DIRECTORY (restart, ``out_len`` bytes), QUERY_DIRECTORY (one credit), CLOSE."""
    fd = Open(tree, name)
    fd.file_id = _CHAINED_FILE_ID  # the related requests act on the CREATE's open
    create, _ = fd.create(*_LIST_OPEN, send=False)
    query, _ = fd.query_directory("*", _LIST_CLASS,
                                  flags=QueryDirectoryFlags.SMB2_RESTART_SCANS,
                                  max_output=out_len, send=False)
    probe, _ = fd.query_directory("*", _LIST_CLASS, flags=0, max_output=_PROBE_BUFFER,
                                  send=False)
    close, _ = fd.close(send=False)
    return [create, query, probe, close]


def _list_parts(name: str, out_len: int) -> list[tuple[int, int, bytes, type]]:
    """The same compound as :func:`_list_messages`, packed by :mod:`.smbraw`."""
    return [
        (smbraw.CREATE, 1, smbraw.create_dir_body(name, *_LIST_OPEN), SMB2CreateRequest),
        (smbraw.QUERY_DIRECTORY, out_len,
         smbraw.query_dir_body(_LIST_CLASS, QueryDirectoryFlags.SMB2_RESTART_SCANS,
                               _CHAINED_FILE_ID, "*", out_len), SMB2QueryDirectoryRequest),
        (smbraw.QUERY_DIRECTORY, _PROBE_BUFFER,
         smbraw.query_dir_body(_LIST_CLASS, 0, _CHAINED_FILE_ID, "*", _PROBE_BUFFER),
         SMB2QueryDirectoryRequest),
        (smbraw.CLOSE, 1, smbraw.close_body(_CHAINED_FILE_ID), SMB2CloseRequest),
    ]


def _list_compound(unc: str, slot: _Slot, state: _ListState) -> list[_Record] | None:
    """The records of directory ``unc`` from one related compound request (one round trip):
    CREATE, QUERY_DIRECTORY (restart), QUERY_DIRECTORY, CLOSE.

    None when that cannot tell the whole listing: the second QUERY_DIRECTORY found more
    entries (the directory is larger than one answer), the share is a DFS root (smbclient
    resolves its referrals) or the connection lacks the credits; the caller then lists with
    :func:`_list_batches`. Raises _OpenError when the CREATE failed, the QUERY_DIRECTORY
    error otherwise. Every request's response is received, errors or not, so that the
    connection's credits and pending requests stay in order. Other listings may use the
    slot's connection at the same time: the tree connect and the credit count with the send
    happen under the slot's lock, the wait for the answers outside it.
    """
    sent = _send_list(unc, slot, state)
    return None if sent is None else _listed(unc, state, sent)


#: A listing compound on its way: (connection, its requests, packed by smbraw).
_Sent = tuple[Any, list[Any], bool]


def _send_list(unc: str, slot: _Slot, state: _ListState, wait: bool = True) -> _Sent | None:
    """Send :func:`_list_compound`'s compound; None when it cannot tell the whole listing
    (see there). ``wait=False``: only a compound packed by :mod:`.smbraw` (unsigned,
    unencrypted) and only with the credits spare now (else None: not wait for answers
    of other listings to bring some)."""
    with slot.lock:
        tree, name = _tree_of(unc, slot.kwargs)
        if tree.is_dfs_share:
            return None
        conn = tree.session.connection
        raw = smbraw.can_send(conn, tree)
        if not (wait or raw):
            return None
        # Each request of the compound is charged its credits when sent (and asks as many
        # back): CREATE, CLOSE and the second QUERY_DIRECTORY (64 KiB) one each, the first
        # QUERY_DIRECTORY one per 64 KiB of answer - what is left, up to _LIST_BUFFER.
        # (Without multi-credit, SMB 2.0.2, every request takes one message id and answers
        # 64 KiB.)
        spare = _spare_credits(conn, wait_s=5.0 if wait else 0.0) - 3
        if not wait:  # many are sent at once: each gets a share of the credits
            spare = min(spare, _AHEAD_CREDITS)
        if spare < 1:
            return None
        out_len = _answer_size(conn, spare)
        try:
            # each request asks for a full listing's credits back (more than it is
            # charged): the window grows towards the server's limit, as Windows clients
            # ask for more, so that listings sharing the connection do not drain it
            if raw:
                requests = smbraw.send_compound(conn, _list_parts(name, out_len),
                                                tree.session.session_id,
                                                tree.tree_connect_id, _LIST_CREDITS)
            else:  # signed or encrypted: smbprotocol packs it
                requests = conn._send(_list_messages(tree, name, out_len),
                                      tree.session.session_id, tree.tree_connect_id,
                                      related=True, credit_request=_LIST_CREDITS)
        except BaseException:
            state.drop = True  # nothing or not all of it went out: the sequence window is off
            raise
    return conn, requests, raw


def _listed(unc: str, state: _ListState, sent: _Sent) -> list[_Record] | None:
    """The records the answers to :func:`_send_list`'s compound bring (received here);
    None when they are not the whole listing (see :func:`_list_compound`)."""
    conn, requests, raw = sent
    _opened, listed, more, _closed = _opened_answers(unc, conn, requests, state, raw)
    if _listing_ended(listed):
        return []
    if isinstance(listed, Exception):
        raise listed
    if isinstance(more, Exception) and not isinstance(more, SMBResponseException):
        raise more  # the connection failed
    if not _listing_ended(more):
        return None  # more entries (or an odd answer): list again, in batches
    if isinstance(listed, smbraw.Reply):
        return list(_records(smbraw.query_dir_buffer(listed.message)))
    answer = SMB2QueryDirectoryResponse()
    answer.unpack(listed["data"].get_value())
    return list(_records(answer["buffer"].get_value()))


def _opened_answers(unc: str, conn: Any, requests: list[Any], state: _ListState,
                    raw: bool) -> list[Any]:
    """Every answer to a compound that opens ``unc`` first and closes it last (received
    through :func:`smbraw.receive` when ``raw``): an exception stands for a failed request.
    Raises _OpenError when the open failed; a failed close marks the connection to be
    dropped (a handle may linger on the server). All are received, errors or not, so that
    the connection's credits and pending requests stay in order."""
    receive = functools.partial(smbraw.receive, conn) if raw else conn.receive
    answers: list[Any] = []
    try:
        for request in requests:
            try:
                answers.append(receive(request))
            except Exception as err:  # a failed open fails the rest too: looked at below
                answers.append(err)
    except BaseException:  # interrupted: answers left pending
        state.drop = True
        raise
    opened, closed = answers[0], answers[-1]
    if isinstance(opened, SMBResponseException):
        raise _OpenError(SMBOSError(opened.status, unc))
    if isinstance(opened, Exception):
        raise _OpenError(opened)
    if isinstance(closed, Exception):
        state.drop = True
    return answers


def _listing_ended(answer: Any) -> bool:
    """Whether a QUERY_DIRECTORY's answer says there is nothing (more) to list."""
    if isinstance(answer, smbraw.Reply):
        return answer.status == smbraw.NO_MORE_FILES
    return isinstance(answer, (NoMoreFiles, NoSuchFile))


def _stat_compound(unc: str, slot: _Slot, state: _ListState) -> tuple[int, int, int] | None:
    """(last write time as FILETIME, end of file, attributes) of ``unc`` from one related
    compound packed by :mod:`.smbraw`: a CREATE for FILE_READ_ATTRIBUTES and a CLOSE.

    None when it cannot be sent so (signed or encrypted session, DFS share, short of
    credits): the caller asks smbclient. Raises _OpenError when the CREATE failed, as
    :func:`_list_compound` does; the connection is shared with listings the same way."""
    with slot.lock:
        tree, name = _tree_of(unc, slot.kwargs)
        conn = tree.session.connection
        if tree.is_dfs_share or not smbraw.can_send(conn, tree) or _spare_credits(conn) < 2:
            return None
        try:
            requests = smbraw.send_compound(conn, _stat_parts(name), tree.session.session_id,
                                            tree.tree_connect_id, 0)
        except BaseException:
            state.drop = True  # nothing or not all of it went out: the sequence window is off
            raise
    opened, _closed = _opened_answers(unc, conn, requests, state, True)
    return smbraw.create_answer(opened["data"].get_value())


def _stat_parts(name: str) -> list[tuple[int, int, bytes, type]]:
    """The stat compound of :func:`_stat_compound` (as smbclient's stat opens a path:
    attributes only, shared for read, write and delete, symbolic links followed)."""
    return [(smbraw.CREATE, 1, smbraw.create_dir_body(name, *_STAT_OPEN), SMB2CreateRequest),
            (smbraw.CLOSE, 1, smbraw.close_body(_CHAINED_FILE_ID), SMB2CloseRequest)]


def _list_records(unc: str, slot: _Slot, state: _ListState, sent: _Sent | None = None
                  ) -> list[_Record]:
    """The records of directory ``unc``: one compound, or batches when that cannot tell
    them all (larger than one answer, a DFS share, short of credits). ``sent``: the
    compound went out already (:meth:`SmbBackend.list_ahead`): its answers are taken."""
    records = _list_compound(unc, slot, state) if sent is None else _listed(unc, state, sent)
    if records is None:
        records = _list_batches(unc, slot, state)
    return records


def _list_batches(unc: str, slot: _Slot, state: _ListState) -> list[_Record]:
    """The records of directory ``unc``: opened, one QUERY_DIRECTORY exchange per batch,
    closed. Raises _OpenError when the open failed, the listing's error otherwise."""
    try:
        with slot.lock:
            raw = smbclient.open_file(unc, mode="rb", buffering=0, file_type="dir",
                                      share_access="rwd", **slot.kwargs)
    except (SMBException, OSError, ValueError) as err:
        raise _OpenError(err) from None
    try:
        return list(_query_directory(raw, slot.lock))
    finally:
        try:
            raw.close()
        except Exception:  # the listing is complete (or failed) already
            state.drop = True
            _forget(raw)


def _query_directory(raw: Any, lock: threading.Lock) -> Iterator[_Record]:
    """``(name, attributes, last write FILETIME, size)`` of every entry of an open directory.

    Sends SMB2 QUERY_DIRECTORY (FileIdFullDirectoryInformation) itself and parses the raw
    records, so that times keep their 100 ns resolution. The credit count and the send of
    each request happen under ``lock`` (the connection's other users count too).
    """
    fd = raw.fd
    conn = fd.connection
    tree = fd.tree_connect
    flags = QueryDirectoryFlags.SMB2_RESTART_SCANS
    info_class = FileInformationClass.FILE_ID_FULL_DIRECTORY_INFORMATION
    while True:
        with lock:
            out_len = _answer_size(conn, max(1, _spare_credits(conn)))
            credits = _LIST_BUFFER // MAX_PAYLOAD_SIZE if conn.supports_multi_credit else 1
            query, _ = fd.query_directory("*", info_class, flags=flags, max_output=out_len,
                                          send=False)
            request = conn.send(query, sid=tree.session.session_id,
                                tid=tree.tree_connect_id, credit_request=credits)
        try:
            response = conn.receive(request)
        except (NoMoreFiles, NoSuchFile):
            return
        flags = 0
        answer = SMB2QueryDirectoryResponse()
        answer.unpack(response["data"].get_value())
        buf = answer["buffer"].get_value()
        if not buf:
            return
        yield from _records(buf)


def _records(buf: bytes) -> Iterator[_Record]:
    """The records of one QUERY_DIRECTORY (FileIdFullDirectoryInformation) answer."""
    if not buf:
        return
    off = 0
    size = _FULL_DIR.size
    while True:
        (next_off, _index, _created, _accessed, written, _changed, eof, _alloc, attrs,
         name_len, _ea, _reserved, _file_id) = _FULL_DIR.unpack_from(buf, off)
        name = bytes(buf[off + size:off + size + name_len]).decode("utf-16-le", "surrogatepass")
        yield name, attrs, written, eof
        if not next_off:
            break
        off += next_off


# ----- opening from a config section --------------------------------------------------------

_KNOWN_OPTIONS = frozenset({
    "type", "host", "user", "port", "pass", "domain", "spn", "use_kerberos", "idle_timeout",
    "hide_special_share", "case_insensitive", "kerberos_ccache", "encoding", "description",
    "require_signing",
})


def open_remote(name: str, options: Mapping[str, str], path: str) -> SmbBackend:
    """An SmbBackend for remote ``name`` (options as in rclone.conf, ``pass`` obscured) at
    ``path`` (``share/dir``). Raises ConfigError for a bad option value."""
    opts = {k: v for k, v in options.items() if not k.startswith("_")}
    host = opts.get("host", "").strip()
    if not host:
        raise ConfigError('smb: the "host" option is required')
    port_text = opts.get("port", "").strip() or str(_DEFAULT_PORT)
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f'smb: bad "port" value "{port_text}"') from None
    if not 0 < port < 65536:
        raise ConfigError(f'smb: bad "port" value "{port_text}"')
    password = reveal(opts["pass"]) if opts.get("pass") else ""
    idle_text = opts.get("idle_timeout", "").strip()
    idle_ns = _DEFAULT_IDLE_NS
    if idle_text:
        try:
            idle_ns = max(0, parse_duration(idle_text))
        except Exception as err:  # UsageError with rclone's wording
            raise ConfigError(f"smb: idle_timeout: {err}") from None
    use_kerberos = _parse_bool("use_kerberos", opts.get("use_kerberos", "false"))
    if opts.get("kerberos_ccache"):
        raise ConfigError("smb: kerberos_ccache is not supported - set KRB5CCNAME instead")
    encoding = parse_encoding(opts["encoding"]) if opts.get("encoding") else DEFAULT_ENCODING
    unknown = sorted(set(opts) - _KNOWN_OPTIONS)
    if unknown:
        log.debug(None, f"smb remote {name!r}: ignoring unknown options {', '.join(unknown)}")
    return SmbBackend(
        host, path, user=opts.get("user") or None, password=password, port=port,
        domain=opts.get("domain", "WORKGROUP"), spn=opts.get("spn", ""),
        use_kerberos=use_kerberos,
        case_insensitive=_parse_bool("case_insensitive", opts.get("case_insensitive", "true")),
        hide_special_share=_parse_bool("hide_special_share",
                                       opts.get("hide_special_share", "true")),
        idle_timeout_ns=idle_ns, encoding=encoding, name=name,
        require_signing=_parse_bool("require_signing", opts.get("require_signing", "false")))
