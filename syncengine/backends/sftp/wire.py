"""Lean SSH packet paths for the sftp backend: fewer copies per packet than paramiko's own.

paramiko copies every byte of a bulk transfer eight to ten times on its way between the
socket and an SFTP message (``out += x`` per ``recv``, slices before and after AES-GCM,
``Message`` buffers, an ``array`` that is cut from the front on each channel read). Here,
on the SFTP channel of a connection this backend opens:

- :class:`LeanPacketizer` (paramiko's ``Packetizer`` with its class swapped in place, so
  its state and locks stay paramiko's) reads the socket into one 1 MiB buffer with
  ``recv_into`` and decrypts AES-GCM packets straight from it; a channel-data payload
  reaches the channel as a view of the decrypted packet. Packets are built in one buffer
  and encrypted into another (``encrypt_into``). Other ciphers and compression take
  paramiko's own paths, with the buffered socket reads.
- :class:`LeanPipe` holds the channel's incoming data as a queue of those views instead of
  paramiko's ``array`` (which moves what is left on every read).
- :class:`LeanChannel` sends a message given as pieces (SFTP header, then a view of the
  caller's data) without joining them first.
"""

from __future__ import annotations

import errno
import os
import struct
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import paramiko
from paramiko.buffered_pipe import BufferedPipe, PipeTimeout
from paramiko.common import MSG_CHANNEL_DATA, MSG_CHANNEL_WINDOW_ADJUST, MSG_IGNORE
from paramiko.message import Message
from paramiko.packet import NeedRekeyException, Packetizer

_RECV_BUFFER = 1024 * 1024  # socket bytes read ahead per connection
_RANDOM_POOL = 4096  # random padding bytes drawn at once
_BATCH_PACKETS = 16  # channel packets sealed and written together (16 x 32 KiB)
_UINT = struct.Struct(">I")
_CHANNEL_INTS = struct.Struct(">II")  # recipient channel, then data length or window bytes
_DATA_HEADER = struct.Struct(">BII")  # MSG_CHANNEL_DATA, recipient channel, data length


class Parts:
    """An SSH message given as pieces (bytes or views) to be sent as one packet."""

    __slots__ = ("parts", "size")

    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts = parts
        self.size = sum(len(p) for p in parts)

    def asbytes(self) -> bytes:
        """The message as one bytes object (paramiko's own send path)."""
        return b"".join(self.parts)


class Batch:
    """Several SSH messages, sent by :class:`LeanPacketizer` as consecutive packets with one
    socket write; passed through paramiko's ``Transport._send_user_message`` as one
    message, so that a key exchange holds them back (and waits for them) as it does one."""

    __slots__ = ("messages",)

    def __init__(self, messages: Sequence[Any]) -> None:
        self.messages = messages


class _ViewMessage(Message):  # type: ignore[misc]
    """A channel-data message over a decrypted packet: its data is a view, not a copy."""

    def __init__(self, raw: bytes, start: int) -> None:
        super().__init__(raw)  # BytesIO over bytes shares them until written to
        self.packet.seek(start)
        self._raw = raw

    def get_binary(self) -> Any:
        """The next string as a view of the packet (only :class:`LeanPipe` is fed it)."""
        n = self.get_int()
        pos = self.packet.tell()
        self.packet.seek(pos + n)
        return memoryview(self._raw)[pos:pos + n]


class LeanPacketizer(Packetizer):  # type: ignore[misc]
    """paramiko's Packetizer with buffered socket reads and copy-lean AES-GCM packets.

    Installed with :func:`install` on a new Transport (before its handshake); it reads and
    writes paramiko's own (name-mangled) state, so rekeying and keepalives stay paramiko's.
    """

    _rbuf: bytearray
    _rpos: int
    _rend: int
    _wplain: bytearray
    _wout: bytearray
    _wrand: bytes
    _wrand_pos: int
    lean_channels: dict[int, Any]  # channel id -> LeanChannel
    lean_transport: Any  # the Transport this packetizer serves
    # paramiko's own state (set by Packetizer.__init__ and its cipher setters)
    _Packetizer__aead_in: Any
    _Packetizer__aead_out: Any
    _Packetizer__block_engine_in: Any
    _Packetizer__block_engine_out: Any
    _Packetizer__block_size_out: Any
    _Packetizer__closed: Any
    _Packetizer__compress_engine_in: Any
    _Packetizer__compress_engine_out: Any
    _Packetizer__dump_packets: Any
    _Packetizer__iv_in: Any
    _Packetizer__iv_out: Any
    _Packetizer__mac_size_in: Any
    _Packetizer__mac_size_out: Any
    _Packetizer__need_rekey: Any
    _Packetizer__received_bytes: Any
    _Packetizer__received_bytes_overflow: Any
    _Packetizer__received_packets: Any
    _Packetizer__received_packets_overflow: Any
    _Packetizer__remainder: Any
    _Packetizer__sent_bytes: Any
    _Packetizer__sent_packets: Any
    _Packetizer__sequence_number_in: Any
    _Packetizer__sequence_number_out: Any
    _Packetizer__socket: Any
    _Packetizer__write_lock: Any

    def _lean_init(self) -> None:
        self._rbuf = bytearray(_RECV_BUFFER)
        self._rpos = 0
        self._rend = 0
        self.lean_channels = {}
        self.lean_transport = None
        self._wplain = bytearray(0)
        self._wout = bytearray(0)
        self._wrand = b""
        self._wrand_pos = 0

    # ----- reading ---------------------------------------------------------------------

    def _fill(self, n: int, check_rekey: bool) -> None:
        """Make ``n`` bytes available at ``_rpos`` (paramiko's read_all semantics: EOFError
        on a closed socket, NeedRekeyException between messages, keepalives on timeouts)."""
        remainder = self._Packetizer__remainder
        if remainder:  # read past the banner line
            self._Packetizer__remainder = b""
            self._append(remainder)
        buf = self._rbuf
        while self._rend - self._rpos < n:
            if len(buf) - self._rpos < n:  # no room behind: move what is left to the front
                left = self._rend - self._rpos
                if self._rpos:
                    buf[:left] = buf[self._rpos:self._rend]
                self._rpos, self._rend = 0, left
                if len(buf) < n:
                    buf.extend(bytes(n - len(buf)))
            got_timeout = False
            if self.handshake_timed_out():
                raise EOFError()
            try:
                with memoryview(buf) as view:
                    got = self._Packetizer__socket.recv_into(view[self._rend:])
                if got == 0:
                    raise EOFError()
                self._rend += got
            except TimeoutError:
                got_timeout = True
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    got_timeout = True
                elif self._Packetizer__closed:
                    raise EOFError() from None
                else:
                    raise
            if got_timeout:
                if self._Packetizer__closed:
                    raise EOFError()
                if check_rekey and self._rend == self._rpos and self._Packetizer__need_rekey:
                    raise NeedRekeyException()
                self._check_keepalive()

    def _append(self, data: bytes) -> None:
        left = self._rend - self._rpos
        self._rbuf[:left] = self._rbuf[self._rpos:self._rend]
        self._rpos, self._rend = 0, left
        if len(self._rbuf) < left + len(data):
            self._rbuf.extend(bytes(left + len(data) - len(self._rbuf)))
        self._rbuf[left:left + len(data)] = data
        self._rend = left + len(data)

    def read_all(self, n: int, check_rekey: bool = False) -> bytes:
        """``n`` bytes from the connection (as paramiko's, from the read-ahead buffer)."""
        if n <= 0:
            return b""
        self._fill(n, check_rekey)
        pos = self._rpos
        self._rpos = pos + n
        return bytes(self._rbuf[pos:pos + n])

    def read_message(self) -> tuple[int, Message]:
        """The next message; AES-GCM packets decrypted straight from the read buffer.

        Data and window adjustments for a lean channel are handled here, without a
        ``Message`` and without a round through ``Transport.run``'s dispatch (an upload of
        3 GiB receives ~61,000 window adjustments and ~17,000 SFTP replies, each ~30 µs of
        Python on that path): the data goes to the channel's pipe, the window grows under
        the channel's lock, as paramiko's handlers do, and the next packet is read. Not
        while a key exchange is under way (paramiko checks the order of messages then).
        """
        if not self._Packetizer__aead_in or self._Packetizer__compress_engine_in is not None \
                or self._Packetizer__dump_packets:
            return super().read_message()  # type: ignore[no-any-return]
        lean = self.lean_channels
        while True:
            self._fill(4, True)
            (packet_size,) = _UINT.unpack_from(self._rbuf, self._rpos)
            mac_size = self._Packetizer__mac_size_in
            total = 4 + packet_size + mac_size
            if packet_size < 2:
                raise paramiko.SSHException("Invalid packet length")
            self._fill(total, False)
            pos = self._rpos
            with memoryview(self._rbuf) as view:
                packet = self._Packetizer__block_engine_in.decrypt(
                    self._Packetizer__iv_in, view[pos + 4:pos + total], view[pos:pos + 4])
            self._rpos = pos + total
            self._Packetizer__iv_in = self._inc_iv_counter(self._Packetizer__iv_in)
            padding = packet[0]
            cmd = packet[1]
            chan = None
            if (cmd == MSG_CHANNEL_DATA or cmd == MSG_CHANNEL_WINDOW_ADJUST) \
                    and len(packet) >= 10:
                chanid, value = _CHANNEL_INTS.unpack_from(packet, 2)
                chan = lean.get(chanid)
            if chan is not None and not chan.closed and self._inline_ok():
                self._count_raw(total)
                if cmd == MSG_CHANNEL_DATA:
                    end = min(10 + value, packet_size - padding)
                    chan.in_buffer.feed(memoryview(packet)[10:end])
                else:
                    with chan.lock:
                        chan.out_window_size += value
                        chan.out_buffer_cv.notify_all()
                if self._Packetizer__need_rekey:  # Transport.run starts the key exchange
                    return MSG_IGNORE, Message()
                continue
            if cmd == MSG_CHANNEL_DATA and len(packet) >= 6 and \
                    _UINT.unpack_from(packet, 2)[0] in lean:
                msg: Message = _ViewMessage(packet, 2)
            else:
                msg = Message(packet[2:packet_size - padding])
            msg.seqno = self._count_raw(total)
            return cmd, msg

    def _inline_ok(self) -> bool:
        """Whether channel messages may skip ``Transport.run`` now: the first key exchange
        is done and no key exchange expects its own messages next."""
        transport = self.lean_transport
        return bool(self._initial_kex_done) and transport is not None \
            and not transport._expected_packet and not transport.in_kex

    def _count_raw(self, raw_size: int) -> int:
        """paramiko's sequence number and rekey bookkeeping for a received packet of
        ``raw_size`` bytes; returns the packet's sequence number."""
        seqno: int = self._Packetizer__sequence_number_in
        next_seq = (self._Packetizer__sequence_number_in + 1) & 0xFFFFFFFF
        if next_seq == 0 and not self._initial_kex_done:
            raise paramiko.SSHException("Sequence number rolled over during initial kex!")
        self._Packetizer__sequence_number_in = next_seq
        self._Packetizer__received_bytes += raw_size
        self._Packetizer__received_packets += 1
        if self._Packetizer__need_rekey:
            self._Packetizer__received_bytes_overflow += raw_size
            self._Packetizer__received_packets_overflow += 1
            if self._Packetizer__received_packets_overflow >= self.REKEY_PACKETS_OVERFLOW_MAX \
                    or self._Packetizer__received_bytes_overflow >= \
                    self.REKEY_BYTES_OVERFLOW_MAX:
                raise paramiko.SSHException("Remote transport is ignoring rekey requests")
        elif self._Packetizer__received_packets >= self.REKEY_PACKETS or \
                self._Packetizer__received_bytes >= self.REKEY_BYTES:
            self._Packetizer__received_bytes_overflow = 0
            self._Packetizer__received_packets_overflow = 0
            self._trigger_rekey()
        return seqno

    # ----- writing ---------------------------------------------------------------------

    def lean_send(self) -> bool:
        """Whether messages go out on the lean path (AES-GCM, no compression, no dump)."""
        return bool(self._Packetizer__aead_out) and \
            self._Packetizer__compress_engine_out is None and not self._Packetizer__dump_packets

    def send_message(self, data: Any) -> None:
        """Send one message (or a :class:`Batch`); under AES-GCM built in one buffer and
        encrypted into another."""
        messages = data.messages if isinstance(data, Batch) else (data,)
        if not self.lean_send():  # paramiko's own path, one by one
            for m in messages:
                super().send_message(m)  # Parts has asbytes() too
            return
        self.send_messages(messages)

    def send_messages(self, messages: Sequence[Any]) -> None:
        """Send ``messages`` (``Parts`` or paramiko Messages) as consecutive packets with
        one socket write (AES-GCM only: see :meth:`lean_send`); each packet's sequence
        number, IV and rekey counters are paramiko's, in order."""
        sealed = []
        bsize = self._Packetizer__block_size_out
        mac = self._Packetizer__mac_size_out
        need = body_max = 0
        for data in messages:
            parts = data.parts if isinstance(data, Parts) else (data.asbytes(),)
            size = data.size if isinstance(data, Parts) else len(parts[0])
            padding = 3 + bsize - ((size + 4) % bsize)
            body = 1 + size + padding
            sealed.append((parts, padding, body))
            need += 4 + body + mac
            body_max = max(body_max, body)
        with self._Packetizer__write_lock:  # the send buffers are this lock's
            plain, out = self._send_buffers(body_max, need)
            with memoryview(plain) as pview, memoryview(out) as oview:
                at = 0
                for parts, padding, body in sealed:
                    plain[0] = padding
                    pos = 1
                    for part in parts:
                        end = pos + len(part)
                        pview[pos:end] = part
                        pos = end
                    pview[pos:body] = self._padding(padding)
                    header = _UINT.pack(body)
                    total = 4 + body + mac
                    oview[at:at + 4] = header
                    self._Packetizer__block_engine_out.encrypt_into(
                        self._Packetizer__iv_out, pview[:body], header,
                        oview[at + 4:at + total])
                    self._Packetizer__iv_out = self._inc_iv_counter(self._Packetizer__iv_out)
                    next_seq = (self._Packetizer__sequence_number_out + 1) & 0xFFFFFFFF
                    if next_seq == 0 and not self._initial_kex_done:
                        raise paramiko.SSHException(
                            "Sequence number rolled over during initial kex!")
                    self._Packetizer__sequence_number_out = next_seq
                    at += total
                self.write_all(oview[:at])
            self._Packetizer__sent_bytes += at
            self._Packetizer__sent_packets += len(sealed)
            if (self._Packetizer__sent_packets >= self.REKEY_PACKETS or
                    self._Packetizer__sent_bytes >= self.REKEY_BYTES) and \
                    not self._Packetizer__need_rekey:
                self._Packetizer__received_bytes_overflow = 0
                self._Packetizer__received_packets_overflow = 0
                self._trigger_rekey()

    def _send_buffers(self, body: int, total: int) -> tuple[bytearray, bytearray]:
        """The plaintext buffer for a packet body of ``body`` bytes and the out buffer for
        ``total`` bytes of sealed packets, kept and reused (a new pair of zeroed 32 KiB
        buffers per packet was 2-3% of an upload's CPU); grown when a send needs more.
        Called under the write lock."""
        plain, out = self._wplain, self._wout
        if len(plain) < body:
            plain = self._wplain = bytearray(body)
        if len(out) < total:
            out = self._wout = bytearray(total)
        return plain, out

    def _padding(self, n: int) -> bytes:
        """``n`` random padding bytes, cut from a pool drawn from ``os.urandom`` 4 KiB at a
        time (one system call per some hundreds of packets, not one per packet). Called
        under the write lock."""
        pos = self._wrand_pos
        if pos + n > len(self._wrand):
            self._wrand, pos = os.urandom(_RANDOM_POOL), 0
        self._wrand_pos = pos + n
        return self._wrand[pos:pos + n]

    def write_all(self, out: Any) -> None:
        """paramiko's write_all, resuming a partial send on a view instead of a copy."""
        with memoryview(out) as view:
            super().write_all(view)


class LeanPipe(BufferedPipe):  # type: ignore[misc]
    """A channel's incoming data as a queue of pieces (bytes or views of packets).

    paramiko's BufferedPipe keeps one ``array`` and deletes what is read from its front,
    moving the rest each time; here a read takes whole pieces and joins them once.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pieces: deque[Any] = deque()
        self._size = 0

    def set_event(self, event: threading.Event) -> None:
        """Set ``event`` while data is ready or the pipe is closed (paramiko's contract)."""
        with self._lock:
            self._event = event
            if self._closed or self._size > 0:
                event.set()
            else:
                event.clear()

    def feed(self, data: Any) -> None:
        """Queue ``data`` (bytes or a view; not copied)."""
        with self._lock:
            if self._event is not None:
                self._event.set()
            if len(data):
                self._pieces.append(data)
                self._size += len(data)
            self._cv.notify_all()

    def read_ready(self) -> bool:
        """True when a read would return data at once."""
        with self._lock:
            return self._size > 0

    def read(self, nbytes: int, timeout: float | None = None) -> bytes:
        """Up to ``nbytes`` queued bytes; b"" once closed and drained; PipeTimeout when
        nothing came within ``timeout`` seconds."""
        with self._lock:
            if self._size == 0:
                if self._closed:
                    return b""
                if timeout == 0.0:
                    raise PipeTimeout()
                while self._size == 0 and not self._closed:
                    then = time.time()
                    self._cv.wait(timeout)
                    if timeout is not None:
                        timeout -= time.time() - then
                        if timeout <= 0.0:
                            raise PipeTimeout()
                if self._size == 0:
                    return b""
            pieces = self._pieces
            taken: list[Any] = []
            want = nbytes
            while want > 0 and pieces:
                first = pieces[0]
                if len(first) <= want:
                    taken.append(pieces.popleft())
                    want -= len(first)
                else:
                    view = first if isinstance(first, memoryview) else memoryview(first)
                    taken.append(view[:want])
                    pieces[0] = view[want:]
                    want = 0
            got = nbytes - want
            self._size -= got
            if self._size == 0 and self._event is not None and not self._closed:
                self._event.clear()
        if len(taken) == 1 and type(taken[0]) is bytes:
            return taken[0]  # type: ignore[no-any-return]
        return b"".join(taken)

    def empty(self) -> bytes:
        """Everything queued (and clear the queue)."""
        with self._lock:
            out = b"".join(self._pieces)
            self._pieces.clear()
            self._size = 0
            if self._event is not None and not self._closed:
                self._event.clear()
            return out

    def __len__(self) -> int:
        return self._size


class LeanChannel(paramiko.Channel):  # type: ignore[misc]
    """paramiko's Channel (class swapped in place) with :meth:`send_parts`."""

    def send_parts(self, parts: Sequence[Any]) -> None:
        """Send the concatenation of ``parts`` (bytes or views), as many channel packets as
        the window and packet size allow, without joining the pieces first. The packets
        the open window takes at once (up to ``_BATCH_PACKETS``) go out together as a
        :class:`Batch`: one turn of the transport's send lock and one socket write.

        Raises socket.timeout as ``send`` does, OSError on a closed channel and EOFError
        when the channel ends before everything went out.
        """
        queue = deque(p if isinstance(p, memoryview) else memoryview(p) for p in parts if len(p))
        left = sum(len(p) for p in queue)
        transport = self.transport
        batching = isinstance(transport.packetizer, LeanPacketizer)
        while left:
            with self.lock:
                if self.closed:
                    raise OSError("Socket is closed")
                size = self._wait_for_send_window(left)
                if size == 0:
                    raise EOFError()
                sizes = [size]
                more = left - size
                while batching and more and self.out_window_size > 0 \
                        and len(sizes) < _BATCH_PACKETS:
                    size = self._wait_for_send_window(more)  # the window is open: no wait
                    if size == 0:
                        break
                    sizes.append(size)
                    more -= size
            messages = []
            for size in sizes:
                pieces: list[Any] = [_DATA_HEADER.pack(MSG_CHANNEL_DATA, self.remote_chanid,
                                                       size)]
                want = size
                while want:
                    first = queue[0]
                    if len(first) <= want:
                        pieces.append(queue.popleft())
                        want -= len(first)
                    else:
                        pieces.append(first[:want])
                        queue[0] = first[want:]
                        want = 0
                messages.append(Parts(pieces))
            transport._send_user_message(messages[0] if len(messages) == 1
                                         else Batch(messages))
            left -= sum(sizes)


def install(transport: paramiko.Transport) -> None:
    """Swap the lean packetizer into a new ``transport`` (before ``start_client``)."""
    packetizer = transport.packetizer
    packetizer.__class__ = LeanPacketizer
    packetizer._lean_init()
    packetizer.lean_transport = transport


def lean_channel(transport: paramiko.Transport, chan: paramiko.Channel) -> None:
    """Make ``chan`` (just opened, before any data) a :class:`LeanChannel` whose incoming
    data arrives as views; a no-op when ``transport`` has no lean packetizer."""
    packetizer = transport.packetizer
    if not isinstance(packetizer, LeanPacketizer):
        return
    with chan.lock:
        chan.in_buffer = LeanPipe()
        chan.__class__ = LeanChannel
    packetizer.lean_channels[chan.chanid] = chan
