"""The directory listing's SMB2 compound packed with ``struct``, not smbprotocol's structures.

A listing sends one related compound (CREATE, QUERY_DIRECTORY, QUERY_DIRECTORY, CLOSE; see
``smb._list_compound``). smbprotocol builds each request and each 64-byte header from
per-field ``Structure`` objects: about 0.6 ms of the caller's CPU per directory, most of a
no-op sync to a share of many small directories (81 directories: 45-55 ms of the 60-80 ms
the listings cost). Here the same bytes come from a few ``struct.pack`` calls (the unit
tests compare them with smbprotocol's, field for field), and the requests are registered
with smbprotocol's connection as its own ``_send`` does (message ids from its sequence
window under its lock, a ``Request`` per message in ``outstanding_requests``), so that its
receiving thread, credits and ``receive`` work unchanged.

Only unsigned, unencrypted messages are packed here: :func:`can_send` tells when; otherwise
the caller goes through smbprotocol (signing and encryption stay its business).
"""

from __future__ import annotations

import struct
from typing import Any

from smbprotocol import MAX_PAYLOAD_SIZE
from smbprotocol.connection import Commands, Request

__all__ = ["can_send", "create_dir_body", "query_dir_body", "close_body", "header",
           "send_compound", "credit_charge", "write_body_head", "send_write", "Reply",
           "reply_fields", "is_lean", "async_id", "receive", "NO_MORE_FILES",
           "query_dir_buffer", "create_answer", "set_info_body",
           "basic_info", "rename_info", "created_file_id", "close_answer_size", "SET_INFO",
           "CLOSE_FLAG_POSTQUERY_ATTRIB", "FILE_BASIC_INFORMATION", "FILE_RENAME_INFORMATION",
           "READ", "read_body", "read_answer_data", "write_answer_count"]

#: [MS-SMB2] 2.2.1.2 SMB2 Packet Header - SYNC: protocol id, structure size (64), credit
#: charge, channel sequence, reserved, command, credit request, flags, next command,
#: message id, process id (reserved), tree id, session id, signature.
_HEADER = struct.Struct("<4sHHHHHHIIQIIQ16s")
_PROTOCOL = b"\xfeSMB"
_NO_SIGNATURE = b"\x00" * 16
_FLAG_RELATED = 0x00000004  # SMB2_FLAGS_RELATED_OPERATIONS
#: [MS-SMB2] 2.2.13 SMB2 CREATE Request up to its buffer (56 bytes; the name at offset 120).
_CREATE = struct.Struct("<HBBIQQIIIIIHHII")
#: [MS-SMB2] 2.2.33 SMB2 QUERY_DIRECTORY Request up to its buffer (32 bytes; name at 96).
_QUERY = struct.Struct("<HBBI16sHHI")
#: [MS-SMB2] 2.2.15 SMB2 CLOSE Request (24 bytes).
_CLOSE = struct.Struct("<HHI16s")
#: [MS-SMB2] 2.2.21 SMB2 WRITE Request up to its data (48 bytes; the data at offset 0x70).
_WRITE = struct.Struct("<HHIQ16sIIHHI")
#: [MS-SMB2] 2.2.19 SMB2 READ Request up to its one-byte buffer (48 bytes).
_READ = struct.Struct("<HBBIQ16sIIIHH")
#: [MS-SMB2] 2.2.39 SMB2 SET_INFO Request up to its buffer (32 bytes; the buffer at 0x60).
_SET_INFO = struct.Struct("<HBBIHHI16s")
#: [MS-FSCC] 2.4.7 FileBasicInformation: four FILETIMEs (0: not changed), attributes, reserved.
_BASIC = struct.Struct("<QQQQII")
#: [MS-FSCC] 2.4.37.2 FileRenameInformation for SMB2: replace if exists, reserved (7), root
#: directory, the name's length; the name follows.
_RENAME = struct.Struct("<B7xQI")
SMB2_0_INFO_FILE = 1
FILE_BASIC_INFORMATION = 4
FILE_RENAME_INFORMATION = 10
CLOSE_FLAG_POSTQUERY_ATTRIB = 0x0001


def can_send(conn: Any, tree: Any) -> bool:
    """Whether a compound on ``tree`` goes unsigned and unencrypted (smbprotocol's ``_send``
    would sign it when the session requires signing, encrypt it when the session or the tree
    encrypts), so that it can be packed here."""
    session = tree.session
    if session.signing_required and session.signing_key:
        return False
    return not (session.encrypt_data or tree.encrypt_data)


def create_dir_body(name: str, impersonation: int, access: int, attributes: int, share: int,
                    disposition: int, options: int) -> bytes:
    """The body of a CREATE of ``name`` (path in the tree; "" is the share's root) without
    oplock or create contexts, as smbprotocol's ``Open.create`` packs it."""
    path = name.encode("utf-16-le") if name else b""
    buffer = path or b"\x00\x00"  # an empty name still sends two zero bytes (length 0)
    return _CREATE.pack(57, 0, 0, impersonation, 0, 0, access, attributes, share,
                        disposition, options, 120, len(path), 0, 0) + buffer


def query_dir_body(info_class: int, flags: int, file_id: bytes, pattern: str,
                   out_len: int) -> bytes:
    """The body of a QUERY_DIRECTORY of ``pattern`` answering up to ``out_len`` bytes."""
    name = pattern.encode("utf-16-le")
    return _QUERY.pack(33, info_class, flags, 0, file_id, 96 if name else 0, len(name),
                       out_len) + name


def close_body(file_id: bytes, flags: int = 0) -> bytes:
    """The body of a CLOSE of ``file_id`` (``flags``: CLOSE_FLAG_POSTQUERY_ATTRIB asks the
    file's times and size back)."""
    return _CLOSE.pack(24, flags, 0, file_id)


def read_body(file_id: bytes, offset: int, length: int) -> bytes:
    """The body of a READ of ``length`` bytes at ``offset``, as smbprotocol's ``Open.read``
    packs it (padding 0x50, no minimum, no channel, the one zero byte of buffer)."""
    return _READ.pack(49, 0x50, 0, length, offset, file_id, 0, 0, 0, 0, 0) + b"\x00"


def set_info_body(info_class: int, file_id: bytes, buffer: bytes) -> bytes:
    """The body of a SET_INFO of file information ``info_class`` (``buffer`` packed)."""
    return _SET_INFO.pack(33, SMB2_0_INFO_FILE, info_class, len(buffer), 0x60, 0, 0,
                          file_id) + buffer


def basic_info(last_access: int, last_write: int) -> bytes:
    """FileBasicInformation setting the last access and last write times (FILETIMEs) only,
    as smbclient.utime packs it."""
    return _BASIC.pack(0, last_access, last_write, 0, 0, 0)


def rename_info(name: str, replace_if_exists: bool) -> bytes:
    """FileRenameInformation to ``name`` (its path in the share)."""
    encoded = name.encode("utf-16-le")
    return _RENAME.pack(1 if replace_if_exists else 0, 0, len(encoded)) + encoded


def write_body_head(file_id: bytes, offset: int, length: int) -> bytes:
    """The body of a WRITE of ``length`` bytes at ``offset`` up to its data, as
    smbprotocol's ``Open.write`` packs it (no channel info, no flags)."""
    return _WRITE.pack(49, 0x70, length, offset, file_id, 0, 0, 0, 0, 0)


def send_write(conn: Any, session_id: int, tree_id: int, file_id: bytes, offset: int,
               data: Any, credit_request: int) -> Request:
    """Send one WRITE of ``data`` (bytes or a view, not copied: its length prefix, header
    and body head go out in one ``sendmsg`` with it); its registered ``Request``.

    As smbprotocol's ``send`` of the same request (message id from the sequence window
    under its lock; SMBException when short of credits, nothing sent)."""
    head, request = _write_request(conn, session_id, tree_id, file_id, offset, len(data),
                                   credit_request)
    conn.transport.send_parts(head, data)
    return request


def send_write_file(conn: Any, session_id: int, tree_id: int, file_id: bytes, offset: int,
                    source: Any, source_offset: int, length: int, credit_request: int
                    ) -> tuple[Request, int]:
    """:func:`send_write` of ``length`` bytes of the file ``source`` (a binary file object)
    from ``source_offset``, which the kernel sends from the page cache (``sendfile``: the
    data never enters this process). Returns the request and the bytes the file gave: fewer
    than ``length`` when it ended early, the rest of the message then being zeros (its
    length was announced) - the caller must not count that write as the file's data."""
    head, request = _write_request(conn, session_id, tree_id, file_id, offset, length,
                                   credit_request)
    sent = conn.transport.send_file_parts(head, source, source_offset, length)
    return request, sent


def _write_request(conn: Any, session_id: int, tree_id: int, file_id: bytes, offset: int,
                   length: int, credit_request: int) -> tuple[bytes, Request]:
    """The header and body head of a WRITE of ``length`` bytes, and its ``Request``
    registered with ``conn`` (a message id spent)."""
    from smbprotocol.open import SMB2WriteRequest

    charge = credit_charge(conn, length)
    message_id = _message_id(conn, charge)
    head = header(charge, WRITE, credit_request or charge, 0, 0, message_id, tree_id,
                  session_id) + write_body_head(file_id, offset, length)
    request = Request(_Sent(WRITE, message_id, tree_id, head[64:]), SMB2WriteRequest, conn,
                      session_id=session_id)
    conn.outstanding_requests[message_id] = request
    conn._check_worker_running()
    return head, request


def _message_id(conn: Any, charge: int) -> int:
    """The next message id of ``conn``'s sequence window, ``charge`` credits spent (one id
    without multi-credit), under its lock as smbprotocol's ``_send`` takes it; raises its
    SMBException when the window lacks the credits."""
    from smbprotocol.exceptions import SMBException

    with conn.sequence_lock:
        window = conn.sequence_window
        available = window["high"] - window["low"]
        if charge > available:
            raise SMBException(f"Request requires {charge} credits but only {available} "
                               "credits are available")
        message_id = window["low"]
        window["low"] += charge if charge > 0 else 1
    return int(message_id)


def credit_charge(conn: Any, payload: int) -> int:
    """The credits a request with ``payload`` bytes of answer (or request) costs, as
    smbprotocol's ``_calculate_credit_charge`` works it out (0 without multi-credit)."""
    if not conn.supports_multi_credit:
        return 0
    return (max(0, payload - 1) // MAX_PAYLOAD_SIZE) + 1


def header(charge: int, command: int, credit_request: int, flags: int, next_command: int,
           message_id: int, tree_id: int, session_id: int) -> bytes:
    """A 64-byte SYNC header, unsigned."""
    return _HEADER.pack(_PROTOCOL, 64, charge, 0, 0, command, credit_request, flags,
                        next_command, message_id, 0, tree_id, session_id, _NO_SIGNATURE)


#: [MS-SMB2] 2.2.1.2 from offset 8 of an answer's header: status, command, credit response,
#: flags, next command, message id.
_REPLY = struct.Struct("<IHHIIQ")
_FLAG_ASYNC = 0x00000002  # SMB2_FLAGS_ASYNC_COMMAND
_FLAG_SIGNED = 0x00000008  # SMB2_FLAGS_SIGNED


def reply_fields(message: Any) -> tuple[int, int, int, int, int, int]:
    """(status, command, credit response, flags, next command, message id) of the answer
    whose header starts ``message``."""
    return _REPLY.unpack_from(message, 8)  # type: ignore[return-value]


#: [MS-SMB2] 2.2.34 SMB2 QUERY_DIRECTORY Response: structure size, output buffer offset
#: (from the header's start) and length.
_QUERY_ANSWER = struct.Struct("<HHI")


def query_dir_buffer(message: bytes) -> bytes:
    """The entries' buffer of a successful QUERY_DIRECTORY answer (header and body)."""
    _size, offset, length = _QUERY_ANSWER.unpack_from(message, 64)
    if offset + length > len(message):
        raise ValueError(f"QUERY_DIRECTORY answer of {len(message)} bytes names a buffer "
                         f"of {length} bytes at {offset}")
    return message[offset:offset + length]


#: [MS-SMB2] 2.2.14 SMB2 CREATE Response, from its start: last write time, end of file,
#: file attributes.
_CREATE_ANSWER = struct.Struct("<24xQ16xQI")


def create_answer(body: Any) -> tuple[int, int, int]:
    """(last write time as FILETIME, end of file, attributes) of a CREATE answer's body."""
    return _CREATE_ANSWER.unpack_from(body, 0)  # type: ignore[return-value]


def created_file_id(body: Any) -> bytes:
    """The file id of a CREATE answer's body."""
    return bytes(body[64:80])


#: [MS-SMB2] 2.2.16 SMB2 CLOSE Response, from its start: end of file (with the post-query
#: flag; zero without).
_CLOSE_ANSWER = struct.Struct("<48xQ")


def close_answer_size(body: Any) -> int:
    """The end of file a CLOSE answer (post-query flag) reports."""
    return int(_CLOSE_ANSWER.unpack_from(body, 0)[0])


#: [MS-SMB2] 2.2.20 SMB2 READ Response: structure size, data offset (from the header's
#: start), reserved, data length.
_READ_ANSWER = struct.Struct("<HBxI")


def read_answer_data(answer: Any) -> bytes:
    """The data of a successful READ answer: a :class:`Reply` (the whole message) or
    smbprotocol's parsed header (``data``: the body, from byte 64)."""
    if type(answer) is Reply:
        message, base = answer.message, 0
    else:
        message, base = answer["data"].get_value(), 64
    _size, offset, length = _READ_ANSWER.unpack_from(message, 64 - base)
    start = offset - base
    if start < 0 or start + length > len(message):
        raise ValueError(f"READ answer of {len(message) + base} bytes names {length} bytes "
                         f"at {offset}")
    return bytes(message[start:start + length])


#: [MS-SMB2] 2.2.22 SMB2 WRITE Response, from its start: the count of bytes written.
_WRITE_ANSWER = struct.Struct("<4xI")


def write_answer_count(answer: Any) -> int:
    """The bytes a successful WRITE answer (a :class:`Reply` or smbprotocol's parsed
    header) says were written."""
    return int(_WRITE_ANSWER.unpack_from(answer["data"].get_value(), 0)[0])


#: STATUS_NO_MORE_FILES: a QUERY_DIRECTORY's "the listing is complete".
NO_MORE_FILES = 0x80000006


def is_lean(request: Any, status: int, command: int, flags: int) -> bool:
    """Whether the answer to ``request`` can be a :class:`Reply`: not signed (nothing to
    verify), to a request sent by this module (whose callers read only its status and
    data), a success or a QUERY_DIRECTORY's NO_MORE_FILES (no STATUS_PENDING, no error for
    smbprotocol's exceptions to read)."""
    return (not status or (status == NO_MORE_FILES and command == QUERY_DIRECTORY)) \
        and not flags & _FLAG_SIGNED and type(request.message) is _Sent


def receive(conn: Any, request: Any) -> Any:
    """The answer to ``request`` (sent by this module): a :class:`Reply` as it is (a
    success, or a QUERY_DIRECTORY's NO_MORE_FILES, which the caller reads from
    ``Reply.status``), anything else through smbprotocol's ``receive`` (STATUS_PENDING,
    symbolic links, errors raised as its exceptions, a failed connection)."""
    request.response_event.wait()
    response = request.response
    if type(response) is Reply:
        conn.outstanding_requests.pop(request.message["message_id"].get_value(), None)
        return response
    return conn.receive(request)


def receive_all(conn: Any, requests: list[Any]) -> list[Any]:
    """The answers to ``requests`` (a compound's), in order, each received as
    :func:`receive` does; a failed one is its ``SMBResponseException`` in its place, so that
    every answer is taken off the connection and the credits stay in order."""
    from smbprotocol.exceptions import SMBResponseException

    answers: list[Any] = []
    for request in requests:
        try:
            answers.append(receive(conn, request))
        except SMBResponseException as exc:
            answers.append(exc)
    return answers


def async_id(message: Any, flags: int) -> bytes | None:
    """The async id of an answer's header (ASYNC flag), else None."""
    return bytes(message[32:40]) if flags & _FLAG_ASYNC else None


class Reply:
    """An answer to a request sent by this module (see :func:`is_lean`), as smbprotocol's
    ``receive`` and response readers read its header: ``status`` and ``data`` (the body) without
    parsing its 15 fields into ``Structure`` objects; any other field (not read on these
    paths) parses the whole header as smbprotocol would."""

    __slots__ = ("message", "status")

    def __init__(self, message: bytes, status: int = 0) -> None:
        self.message = message
        self.status = status

    def __getitem__(self, key: str) -> Any:
        if key == "status":
            return _Field(self.status)
        if key == "data":
            return _Field(self.message[64:])
        return self._parsed()[key]

    def __getattr__(self, name: str) -> Any:
        if name in ("message", "status"):  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self._parsed(), name)

    def _parsed(self) -> Any:
        from smbprotocol.header import SMB2HeaderResponse

        header = SMB2HeaderResponse()
        header.unpack(self.message)
        return header


class _Field:
    """A packed field as smbprotocol's ``Request`` users read it (``get_value()``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def get_value(self) -> Any:
        return self.value


class _Sent:
    """The sent header as smbprotocol's connection reads it back from a ``Request``: the
    message id, tree id, command and reserved fields (the receiving thread and ``receive``),
    and the body (``Request.get_message_data``)."""

    __slots__ = ("fields",)

    def __init__(self, command: int, message_id: int, tree_id: int, body: bytes) -> None:
        self.fields = {"command": _Field(command), "message_id": _Field(message_id),
                       "tree_id": _Field(tree_id), "reserved": _Field(0), "data": _Field(body)}

    def __getitem__(self, key: str) -> _Field:
        return self.fields[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.fields[key] = _Field(value)


def send_compound(conn: Any, parts: list[tuple[int, int, bytes, type]], session_id: int,
                  tree_id: int, credit_request: int) -> list[Request]:
    """Send ``parts`` (command, payload size for the credit charge, body, smbprotocol's
    request class for ``Request.get_message_data``) as one related compound; the
    ``Request`` of each, registered with ``conn`` as smbprotocol's ``_send`` does.

    Raises smbprotocol's SMBException when the sequence window lacks the credits (nothing
    is sent then, but the message ids taken so far are spent, as in ``_send``)."""
    out: list[bytes] = []
    requests: list[Request] = []
    last = len(parts) - 1
    outstanding = conn.outstanding_requests
    for i, (command, payload, body, kind) in enumerate(parts):
        charge = credit_charge(conn, payload)
        message_id = _message_id(conn, charge)
        if i == last:
            next_command = 0
            padding = b""
        else:  # each message of a compound starts on an 8-byte boundary
            size = 64 + len(body)
            pad = -size % 8
            next_command = size + pad
            padding = b"\x00" * pad
        flags = _FLAG_RELATED if i else 0
        out.append(header(charge, command, credit_request or charge, flags, next_command,
                          message_id, tree_id, session_id))
        out.append(body)
        out.append(padding)
        request = Request(_Sent(command, message_id, tree_id, body), kind, conn,
                          session_id=session_id)
        outstanding[message_id] = request
        requests.append(request)
    requests[0].related_ids = [r.message["message_id"].get_value() for r in requests[1:]]
    conn._check_worker_running()
    conn.transport.send(b"".join(out))
    return requests


#: The commands of a listing's compound.
CREATE = Commands.SMB2_CREATE
QUERY_DIRECTORY = Commands.SMB2_QUERY_DIRECTORY
CLOSE = Commands.SMB2_CLOSE
WRITE = Commands.SMB2_WRITE
SET_INFO = Commands.SMB2_SET_INFO
READ = Commands.SMB2_READ
