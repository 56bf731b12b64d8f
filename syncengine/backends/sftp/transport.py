"""The SSH side of the sftp backend: one connection with its SFTP session, key loading.

A connection runs over paramiko's transport or over an external ssh process (rclone's
``ssh`` option); :class:`_SftpClient` is paramiko's SFTP client with fewer copies per packet.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import logging
import os
import select
import socket
import struct
import subprocess
import threading
from typing import Any, BinaryIO

import paramiko
from paramiko.common import DEBUG
from paramiko.message import Message
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_DATA,
    CMD_HANDLE,
    CMD_INIT,
    CMD_NAME,
    CMD_OPENDIR,
    CMD_READDIR,
    CMD_STATUS,
    CMD_VERSION,
    CMD_WRITE,
    SFTPError,
)
from paramiko.sftp_attr import SFTPAttributes

from ...errors import ConfigError
from .errors import (
    _status_text,
)
from .options import (
    _KIB,
    _MIB,
)

# paramiko logs to "paramiko.*"; without a handler Python's last-resort handler would print
# its transport errors (dropped connections...) on stderr. Applications may still add one.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

_WINDOW = 32 * _MIB  # SSH channel window we grant the server
_PACKET = 128 * _KIB  # largest SSH channel packet we accept
_KEEPALIVE = 60  # seconds of silence before an SSH keepalive (long remote hash commands)
#: preferred first when the ``ciphers`` option is not set (those paramiko knows)
_AEAD_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
_UINT = struct.Struct(">I")
_PACKET_HEAD = struct.Struct(">IB")  # SFTP packet length, type
_WRITE_TAIL = struct.Struct(">QI")  # WRITE offset, data length


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

    def __init__(self, sock: Any) -> None:
        # one SFTP packet at a time on the channel: a writer's sender thread and its
        # caller (a stat, a reader on the same connection) never interleave their pieces
        self._send_lock = threading.Lock()
        super().__init__(sock)

    def _send_packet(self, t: int, packet: Message) -> None:
        data = packet.asbytes()
        self._send_pieces(_PACKET_HEAD.pack(len(data) + 1, t), data)

    def _send_pieces(self, head: bytes, data: Any) -> None:
        """Send one SFTP packet given as its head and its data (bytes or a view)."""
        self._send_all((head, data))

    def _send_all(self, pieces: Any) -> None:
        """Send SFTP packets given as consecutive pieces (bytes or views), in one channel
        message where they fit."""
        send_parts = getattr(self.sock, "send_parts", None)
        with self._send_lock:
            if send_parts is None:
                self._write_all(b"".join(pieces))
            else:
                send_parts(pieces)

    def _send_requests(self, requests: list[tuple[object, int, tuple[Any, ...]]],
                       pieces: list[Any] | None = None) -> list[int]:
        """Send ``requests`` (the object their answers go to, type, arguments: handles,
        paths and attributes, packed as paramiko's ``_async_request`` packs them) after the
        packets already in ``pieces``, all in one write; their request numbers."""
        out = list(pieces or ())
        nums: list[int] = []
        with self._lock:
            for fileobj, t, args in requests:
                msg = Message()
                num = self.request_number
                msg.add_int(num)
                for item in args:
                    if isinstance(item, SFTPAttributes):
                        item._pack(msg)
                    else:
                        msg.add_string(item)
                self._expecting[num] = fileobj
                self.request_number += 1
                nums.append(int(num))
                data = msg.asbytes()
                out += (_PACKET_HEAD.pack(len(data) + 1, t), data)
        self._send_all(out)
        return nums

    def _write_pieces(self, num: int, handle: bytes, offset: int, data: Any) -> list[Any]:
        """The pieces of WRITE request ``num`` (see :meth:`_send_write`), not sent."""
        n = len(data)
        head = b"".join((_PACKET_HEAD.pack(21 + len(handle) + n, CMD_WRITE),
                         _UINT.pack(num), _UINT.pack(len(handle)), handle,
                         _WRITE_TAIL.pack(offset, n)))
        return [head, data]

    def _register(self, fileobj: object) -> int:
        """A new request number whose answer goes to ``fileobj._async_response``."""
        with self._lock:
            num = self.request_number
            self._expecting[num] = fileobj
            self.request_number += 1
        return int(num)

    def _send_write(self, num: int, handle: bytes, offset: int, data: Any) -> None:
        """Send WRITE request ``num`` of ``data`` (bytes or a view) at ``offset`` without
        copying it into a message first."""
        self._send_all(self._write_pieces(num, handle, offset, data))

    def _async_write(self, fileobj: object, handle: bytes, offset: int, data: Any) -> int:
        """:meth:`_send_write` under a new request number for ``fileobj``; the number."""
        num = self._register(fileobj)
        self._send_write(num, handle, offset, data)
        return num

    def _read_response(self, waitfor: int | None = None) -> tuple[int | None, Message | None]:
        """paramiko's loop, except that a DATA answer to a request of an object with
        ``_data_response`` hands it a view of the packet (no Message, no copy)."""
        while True:
            try:
                head = self._read_all(4)
                if head[0]:
                    raise SFTPError("Garbage packet received")
                (size,) = _UINT.unpack(head)
                data = self._read_all(size) if size else b""
            except EOFError as e:
                raise paramiko.SSHException(f"Server connection dropped: {e}") from e
            if size < 5:
                raise SFTPError("Garbage packet received")
            t = data[0]
            (num,) = _UINT.unpack_from(data, 1)
            with self._lock:
                if num not in self._expecting:
                    self._log(DEBUG, f"Unexpected response #{num}")
                    if waitfor is None:
                        break
                    continue
                fileobj = self._expecting.pop(num)
            if t == CMD_DATA and num != waitfor and size >= 9:
                on_data = getattr(fileobj, "_data_response", None)
                (length,) = _UINT.unpack_from(data, 5)
                if on_data is not None and 9 + length <= size:
                    on_data(num, memoryview(data)[9:9 + length])
                    if waitfor is None:
                        break
                    continue
            msg = Message(data[5:])
            if num == waitfor:
                if t == CMD_STATUS:
                    self._convert_status(msg)
                return t, msg
            if fileobj is not type(None):
                fileobj._async_response(t, msg, num)  # type: ignore[attr-defined]
            if waitfor is None:
                break
        return None, None

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


def wait_or_kill(proc: subprocess.Popen[bytes], timeout: float = 5) -> None:
    """Wait for ``proc`` (told to end, its input closed) to exit; kill it by its PID if it
    has not after ``timeout`` s."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
        wait_or_kill(self.proc)
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
