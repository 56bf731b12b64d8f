"""Pipelined SFTP file I/O: a reader and a writer with many requests in flight per open file."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from paramiko.message import Message
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_DATA,
    CMD_FSETSTAT,
    CMD_FSTAT,
    CMD_READ,
    CMD_STATUS,
    SFTPError,
    int64,
)
from paramiko.sftp_attr import SFTPAttributes

from ..pool import Lease
from .options import _MIB
from .transport import _Conn

_SEND_AHEAD = 4 * _MIB  # bytes a writer's sender thread may have queued (one engine chunk)
_BACKGROUND = 512 * 1024  # writes of this size or more go through the sender thread

if TYPE_CHECKING:
    from .backend import SftpBackend

_IN_FLIGHT = 8 * _MIB  # bytes requested ahead per open file


class _EOF:
    """Marker result: the server answered a read with SSH_FX_EOF."""



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

    def _data_response(self, num: int, data: memoryview) -> None:
        """The data answering read request ``num``, as a view of its packet."""
        self._results[num] = data

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
            data = res if isinstance(res, (bytes, memoryview)) else b""
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


class _Sender:
    """A thread that sends a writer's WRITE requests, so that the caller reads and hashes
    its next block while this one goes out (the server's window paces the sending).

    Only this thread sends WRITEs and only the caller reads the answers; ``put`` copies the
    data (the caller reuses its buffer) and waits while ``_SEND_AHEAD`` bytes are queued.
    """

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer
        self._cond = threading.Condition()
        self._jobs: deque[tuple[int, Any, Any]] = deque()
        self._queued = 0
        self._busy = False
        self._stopping = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sftp-write", daemon=True)
        self._thread.start()

    def put(self, offset: int, data: Any, sent: Any = None) -> None:
        """Queue ``data`` for ``offset`` (returns at once unless too much is queued);
        ``sent()`` is called once it went out (``data`` may be reused then)."""
        with self._cond:
            while self._queued >= _SEND_AHEAD and self.error is None:
                self._cond.wait()
            if self.error is None:
                self._jobs.append((offset, data, sent))
                self._queued += len(data)
                self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopping:
                    self._cond.wait()
                if not self._jobs:
                    return
                offset, data, sent = self._jobs[0]
                self._busy = True
            try:
                self._writer._send(offset, data)
            except BaseException as err:
                with self._cond:
                    self.error = err
                    self._jobs.clear()
                    self._queued = 0
                    self._busy = False
                    self._cond.notify_all()
                return
            if sent is not None:
                sent()
            with self._cond:
                self._jobs.popleft()
                self._queued -= len(data)
                self._busy = False
                self._cond.notify_all()

    def wait_idle(self) -> None:
        """Wait until everything queued went out (or the sending failed: see ``error``)."""
        with self._cond:
            while (self._jobs or self._busy) and self.error is None:
                self._cond.wait()

    def stop(self, *, wait: bool = True) -> None:
        """End the thread once the queue is empty (at once after an error); with ``wait``,
        wait for it to end."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if wait and threading.current_thread() is not self._thread:
            self._thread.join()


#: Free send buffers of _SEND_AHEAD bytes, reused across files (a new buffer's pages cost
#: a page fault each on first touch); at most _FREE_MAX kept.
_FREE: list[bytearray] = []
_FREE_LOCK = threading.Lock()
_FREE_MAX = 16


def _take() -> bytearray:
    with _FREE_LOCK:
        if _FREE:
            return _FREE.pop()
    return bytearray(_SEND_AHEAD)


def _give(buf: bytearray) -> None:
    with _FREE_LOCK:
        if len(_FREE) < _FREE_MAX:
            _FREE.append(buf)


class _WriteSink:
    """Writes a file through a :class:`_Writer`'s sender thread without copying the data:
    the caller reads each block straight into ``space()`` (a free send buffer), then
    ``commit(n)`` hands the buffer to the sender, which gives it back once sent. (``write``
    must copy each block instead: its caller reuses its buffer at once.) The same protocol
    as ``directio.DirectSink``; ``finish()`` gives back a buffer taken but not committed.
    """

    __slots__ = ("_writer", "_buf")

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer
        self._buf: bytearray | None = None

    def space(self) -> memoryview:
        """Where the next block goes (up to _SEND_AHEAD bytes)."""
        if self._buf is None:
            self._buf = _take()
        return memoryview(self._buf)

    def commit(self, n: int) -> None:
        """Send the first ``n`` bytes of the block in :meth:`space`."""
        buf, self._buf = self._buf, None
        assert buf is not None
        self._writer._put_owned(buf, n)

    def finish(self) -> None:
        """The file's data is all committed."""
        if self._buf is not None:
            _give(self._buf)
            self._buf = None


class _Writer:
    """A file opened for writing with up to ``depth`` write requests in flight.

    Blocks of ``_BACKGROUND`` bytes or more go out through a :class:`_Sender` thread (when
    ``depth`` > 1), smaller ones from the caller's thread. Every write status is collected:
    an error is raised by the next ``write`` or by ``close``, which waits for all of them
    and for the CLOSE answer.
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
        self._sender: _Sender | None = None
        self._mtime_ns: int | None = None
        self._setstat = -1  # request numbers of the close's FSETSTAT and FSTAT
        self._fstat = -1
        self._setstat_failed = False
        self._held: tuple[int, bytes] | None = None  # a small file's WRITE, sent at close
        #: The file's size as the server reported it at close (-1: not asked, or unknown).
        self.closed_size = -1

    def time_at_close(self, mtime_ns: int) -> None:
        """Have :meth:`close` set the file's access and modification time to ``mtime_ns``
        (FSETSTAT, whole seconds, as ``set_mtime``; not with ``set_modtime = false``) and
        learn its size (FSTAT, ``closed_size``), both sent behind the writes with the
        CLOSE: no round trip of their own, against the two of a ``set_mtime`` and a
        ``stat`` by name. A server that refuses the FSETSTAT gets ``set_mtime`` after the
        close (its error, worded as rclone's, fails the close)."""
        self._mtime_ns = mtime_ns

    def _send(self, offset: int, data: bytes) -> None:
        """Send ``data`` at ``offset`` as WRITE requests of ``chunk`` bytes (sender thread)."""
        client, chunk, handle = self._client, self._chunk, self._handle
        view = memoryview(data)
        for i in range(0, len(view), chunk):
            num = client._register(self)
            self._outstanding.add(num)  # before the answer can come
            client._send_write(num, handle, offset + i, view[i:i + chunk])

    def _drain_ready(self) -> None:
        """Read the answers that are already here (without waiting for more)."""
        ready = getattr(self._client.sock, "recv_ready", None)
        while self._outstanding and ready is not None and ready():
            self._client._read_response()

    def _finish_sending(self) -> None:
        """Wait for the sender thread to send everything; raise its error."""
        sender = self._sender
        if sender is not None:
            sender.wait_idle()
            if sender.error is not None:
                err, sender.error = sender.error, None
                raise err

    def _async_response(self, t: int, msg: Message, num: int) -> None:
        self._outstanding.discard(num)
        if num == self._fstat:  # a failed FSTAT leaves the size to be looked up by name
            if t == CMD_ATTRS:
                size = SFTPAttributes._from_msg(msg).st_size
                self.closed_size = -1 if size is None else int(size)
            return
        if num == self._setstat:
            try:
                if t != CMD_STATUS:
                    raise SFTPError(f"Expected status, got packet type {t}")
                self._client._convert_status(msg)
            except BaseException:
                self._setstat_failed = True
            return
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
            if self._held is not None:
                self._send_held()
            elif not self._off and 0 < total <= chunk and self._sender is None \
                    and total < _BACKGROUND:
                # a small file's one write: held, to go out with the close's requests
                self._held = (0, bytes(view))
                self._off = total
                return total
            if self._sender is not None or self._depth > 1 and total >= _BACKGROUND:
                self._enqueue(bytes(view))
                return total
            for i in range(0, total, chunk):
                piece = view[i:i + chunk]
                num = client._async_write(self, self._handle, self._off, piece)
                self._outstanding.add(num)
                self._off += len(piece)
                while len(self._outstanding) >= self._depth:
                    client._read_response()
                self._raise_pending()
        except BaseException as err:
            self._failed = True
            raise self._backend._io_error(err, self._lease, self.name) from err
        return total

    def _send_held(self) -> None:
        """Send the held WRITE (more data came, or the writer is flushed)."""
        assert self._held is not None
        offset, data = self._held
        self._held = None
        num = self._client._async_write(self, self._handle, offset, data)
        self._outstanding.add(num)

    def _enqueue(self, data: Any, sent: Any = None) -> None:
        """Queue ``data`` at the current offset on the sender thread (started now if need
        be; its earlier failure raised first); ``sent()`` once it went out."""
        if self._sender is None:
            self._sender = _Sender(self)
        elif self._sender.error is not None:
            self._finish_sending()
        self._sender.put(self._off, data, sent)
        self._off += len(data)
        self._drain_ready()

    def sink(self, size: int) -> _WriteSink | None:
        """A zero-copy way to write a file of ``size`` bytes (see :class:`_WriteSink`), or
        None when its blocks would not go through the sender thread."""
        if self._depth <= 1 or size < _SEND_AHEAD or self._closed:
            return None
        return _WriteSink(self)

    def _put_owned(self, buf: bytearray, n: int) -> None:
        """Send the first ``n`` bytes of ``buf`` through the sender thread, which gives
        ``buf`` back to the free buffers once they went out."""
        try:
            self._raise_pending()
            if self._held is not None:
                self._send_held()
            self._enqueue(memoryview(buf)[:n], lambda: _give(buf))
        except BaseException as err:
            self._failed = True
            raise self._backend._io_error(err, self._lease, self.name) from err

    def flush(self) -> None:
        """Wait until the server has answered every write sent so far (raises its error)."""
        if self._closed:
            return
        try:
            if self._held is not None:
                self._send_held()
            self._finish_sending()
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
            try:
                self._finish_sending()
            finally:
                if self._sender is not None:
                    self._sender.stop()
            # the held WRITE, FSETSTAT and FSTAT (time_at_close) and the CLOSE go out
            # together behind the writes (the server answers in order: no round trip of
            # their own); the writes' answers are read on the way to the CLOSE's
            pieces: list[Any] = []
            if self._held is not None:
                offset, data = self._held
                self._held = None
                num = client._register(self)
                self._outstanding.add(num)
                pieces = client._write_pieces(num, self._handle, offset, data)
            requests: list[tuple[object, int, tuple[Any, ...]]] = []
            if self._mtime_ns is not None and not self._failed and self._error is None:
                requests = self._time_and_size_requests()
            requests.append((type(None), CMD_CLOSE, (self._handle,)))
            nums = client._send_requests(requests, pieces)
            for (_, kind, _), num in zip(requests, nums[:-1], strict=False):
                if kind == CMD_FSETSTAT:
                    self._setstat = num
                else:
                    self._fstat = num
                self._outstanding.add(num)
            client._read_response(nums[-1])
            while self._outstanding:  # a server that answered out of order
                client._read_response()
            if not self._failed:
                self._raise_pending()
        except BaseException as err:
            error = err
        if error is None:
            self._lease.release()
            if self._setstat_failed:  # by name, as rclone's SetModTime (its error)
                assert self._mtime_ns is not None
                self._backend.set_mtime_full(self.name, self._mtime_ns)
            return
        mapped = self._backend._io_error(error, self._lease, self.name)  # marks it broken
        self._lease.release()
        if not self._failed:
            raise mapped from error

    def _time_and_size_requests(self) -> list[tuple[object, int, tuple[Any, ...]]]:
        """The close's FSETSTAT (with ``set_modtime``) and FSTAT."""
        assert self._mtime_ns is not None
        out: list[tuple[object, int, tuple[Any, ...]]] = []
        if self._backend.opts.set_modtime:
            secs = min(max(self._mtime_ns // 1_000_000_000, 0), 0xFFFFFFFF)
            attr = SFTPAttributes()
            attr.st_atime = attr.st_mtime = secs
            out.append((self, CMD_FSETSTAT, (self._handle, attr)))
        out.append((self, CMD_FSTAT, (self._handle,)))
        return out

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            with contextlib.suppress(Exception):
                if self._sender is not None:
                    self._sender.stop(wait=False)
                self._lease.release(broken=True)
