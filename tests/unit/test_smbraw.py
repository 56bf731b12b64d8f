"""The listing compound packed by syncengine.backends.smbraw is byte for byte the one
smbprotocol packs, and is registered with the connection as smbprotocol registers it."""

from __future__ import annotations

import struct
import uuid
from typing import Any

import pytest
from smbprotocol.connection import Connection, Dialects

from syncengine.backends import smb, smbraw

NAMES = ["", "a", "store\\2025-06\\x.dat", "Ordner é ü 漢字", "d" * 300]


class _Wire:
    """Stands in for the TCP transport: keeps what would go on the wire."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sent.append(bytes(data))

    def send_parts(self, head: bytes, data: object) -> None:
        self.sent.append(head + bytes(memoryview(data).cast("B")))  # type: ignore[arg-type]


def _connection(multi_credit: bool) -> Connection:
    conn = Connection(uuid.UUID(int=1), "127.0.0.1", 445)
    conn.transport = _Wire()
    conn.supports_multi_credit = multi_credit
    conn.dialect = Dialects.SMB_3_1_1 if multi_credit else Dialects.SMB_2_0_2
    conn.max_write_size = 8 * 1024 * 1024
    conn.sequence_window = {"low": 7, "high": 200}
    conn._check_worker_running = lambda: None
    return conn


class _Tree:
    """What ``Open`` reads of a tree connect."""

    def __init__(self, conn: Connection) -> None:
        self.session = type("S", (), {"connection": conn, "session_id": 0x1122334455,
                                      "signing_required": False, "signing_key": None,
                                      "encrypt_data": False})()
        self.tree_connect_id = 9
        self.share_name = "\\\\127.0.0.1\\pysync"
        self.is_dfs_share = False
        self.encrypt_data = False


def _times_request(file_id: bytes, filetime: int) -> object:
    """smbprotocol's SET_INFO FileBasicInformation of the access and write times (what
    smbclient.utime sends)."""
    from smbprotocol.file_info import FileBasicInformation

    basic = FileBasicInformation()
    basic["last_access_time"] = filetime
    basic["last_write_time"] = filetime
    return _set_info_request(basic, file_id)


def _set_info_request(info: Any, file_id: bytes) -> object:
    """smbprotocol's SET_INFO of the file information structure ``info`` on ``file_id``."""
    from smbprotocol.open import SMB2SetInfoRequest

    set_req = SMB2SetInfoRequest()
    set_req["info_type"] = info.INFO_TYPE
    set_req["file_info_class"] = info.INFO_CLASS
    set_req["file_id"] = file_id
    set_req["buffer"] = info
    return set_req


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("out_len", [65536, 1024 * 1024, 3 * 65536 + 5])
@pytest.mark.parametrize("multi_credit", [True, False])
def test_compound_bytes_match_smbprotocol(name: str, out_len: int, multi_credit: bool) -> None:
    theirs, ours = _connection(multi_credit), _connection(multi_credit)
    tree = _Tree(theirs)
    sid, tid = tree.session.session_id, tree.tree_connect_id
    want = theirs._send(smb._list_messages(tree, name, out_len), sid, tid, related=True,
                        credit_request=smb._LIST_CREDITS)
    got = smbraw.send_compound(ours, smb._list_parts(name, out_len), sid, tid,
                               smb._LIST_CREDITS)
    assert ours.transport.sent == theirs.transport.sent
    assert len(ours.transport.sent) == 1  # one compound, one send
    assert ours.sequence_window == theirs.sequence_window
    assert sorted(ours.outstanding_requests) == sorted(theirs.outstanding_requests)
    for a, b in zip(want, got, strict=True):
        for field in ("message_id", "tree_id", "command", "reserved", "data"):
            assert b.message[field].get_value() == a.message[field].get_value(), field
        assert b._message_type is a._message_type
        assert b.session_id == a.session_id
    assert got[0].related_ids == want[0].related_ids
    # smbprotocol rebuilds a request from its message (to resend after a symlink)
    assert got[0].get_message_data().pack() == want[0].get_message_data().pack()


def test_short_of_credits_raises_before_sending() -> None:
    conn = _connection(True)
    conn.sequence_window = {"low": 7, "high": 10}  # 3 credits; the first QUERY wants 16
    with pytest.raises(Exception, match="credits"):
        smbraw.send_compound(conn, smb._list_parts("x", 1024 * 1024), 1, 2, 16)
    assert conn.transport.sent == []


@pytest.mark.parametrize("signing,encrypt,tree_encrypt,ok", [
    (False, False, False, True),
    (True, False, False, False),
    (False, True, False, False),
    (False, False, True, False),
])
def test_can_send_only_unsigned_unencrypted(signing: bool, encrypt: bool, tree_encrypt: bool,
                                             ok: bool) -> None:
    tree = _Tree(_connection(True))
    tree.session.signing_required = signing
    tree.session.signing_key = b"k" * 16 if signing else None
    tree.session.encrypt_data = encrypt
    tree.encrypt_data = tree_encrypt
    assert smbraw.can_send(tree.session.connection, tree) is ok


@pytest.mark.parametrize("size", [1, 65536, 65537, 1024 * 1024])
@pytest.mark.parametrize("multi_credit", [True, False])
def test_write_bytes_match_smbprotocol(size: int, multi_credit: bool) -> None:
    """A WRITE sent by smbraw (data not copied) is smbprotocol's, byte for byte."""
    from smbprotocol.open import Open

    theirs, ours = _connection(multi_credit), _connection(multi_credit)
    tree = _Tree(theirs)
    sid, tid = tree.session.session_id, tree.tree_connect_id
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    fd = Open(tree, "f.dat")
    fd.file_id = bytes(range(16))
    message, _ = fd.write(data, offset=123_456_789, send=False)
    want = theirs.send(message, sid=sid, tid=tid, credit_request=17)
    got = smbraw.send_write(ours, sid, tid, fd.file_id, 123_456_789, memoryview(data), 17)
    assert ours.transport.sent == theirs.transport.sent
    assert ours.sequence_window == theirs.sequence_window
    assert sorted(ours.outstanding_requests) == sorted(theirs.outstanding_requests)
    for field in ("message_id", "tree_id", "command"):
        assert got.message[field].get_value() == want.message[field].get_value(), field


@pytest.mark.parametrize("flags", [0, 0x2, 0x4])
@pytest.mark.parametrize("body", [b"", b"\x11" * 9, bytes(range(256)) * 5])
def test_reply_reads_as_smbprotocols_header(flags: int, body: bytes) -> None:
    """A successful answer read through smbraw (the fields the receiving thread needs, and
    a Reply's status, data and any other field) is what smbprotocol's parse gives."""
    from smbprotocol.header import SMB2HeaderResponse

    message = struct.pack("<4sHHIHHIIQ8sQ16s", b"\xfeSMB", 64, 1, 0, 14, 33, flags, 0,
                          0x0102030405, b"\x01" * 8, 0x1122334455, b"\x00" * 16) + body
    want = SMB2HeaderResponse()
    want.unpack(message)
    status, command, credits, got_flags, next_command, message_id = \
        smbraw.reply_fields(message)
    assert (status, command, credits, got_flags, next_command, message_id) == (
        want["status"].get_value(), want["command"].get_value(),
        want["credit_response"].get_value(), want["flags"].get_value(),
        want["next_command"].get_value(), want["message_id"].get_value())
    assert smbraw.async_id(message, flags) == (b"\x01" * 8 if flags & 0x2 else None)
    reply = smbraw.Reply(message)
    for field in ("status", "data", "message_id", "session_id", "credit_response"):
        assert reply[field].get_value() == want[field].get_value(), field
    assert reply.pack() == want.pack()  # anything else: smbprotocol's parse


@pytest.mark.parametrize("entries", [b"", b"\x22" * 104, bytes(range(256)) * 3])
def test_query_dir_buffer_is_smbprotocols(entries: bytes) -> None:
    """The entries of a QUERY_DIRECTORY answer, read by offset and length from the header's
    start, are those smbprotocol's response structure gives."""
    from smbprotocol.open import SMB2QueryDirectoryResponse

    body = struct.pack("<HHI", 9, 72 if entries else 0, len(entries)) + entries
    message = struct.pack("<4sHHIHHIIQ8sQ16s", b"\xfeSMB", 64, 1, 0, 14, 1, 1, 0, 3,
                          b"\x00" * 8, 5, b"\x00" * 16) + body
    want = SMB2QueryDirectoryResponse()
    want.unpack(message[64:])
    assert smbraw.query_dir_buffer(message) == want["buffer"].get_value() == entries
    with pytest.raises(ValueError, match="names a buffer"):
        smbraw.query_dir_buffer(message[:-1] if entries else message[:64] +
                                struct.pack("<HHI", 9, 72, 5))


def test_reply_status_and_lean_choice() -> None:
    """Only unsigned answers to requests sent by smbraw are lean: successes, and a
    QUERY_DIRECTORY's NO_MORE_FILES (carried in Reply.status); never another error."""
    conn = _connection(True)
    (request,) = smbraw.send_compound(conn, [(smbraw.QUERY_DIRECTORY, 1, b"q", object)],
                                      1, 2, 1)
    theirs = type("R", (), {"message": object()})()
    no_more = smbraw.NO_MORE_FILES
    assert smbraw.is_lean(request, 0, smbraw.CLOSE, 0)
    assert smbraw.is_lean(request, no_more, smbraw.QUERY_DIRECTORY, 0)
    assert not smbraw.is_lean(request, no_more, smbraw.CREATE, 0)
    assert not smbraw.is_lean(request, 0xC0000034, smbraw.CREATE, 0)  # not found
    assert not smbraw.is_lean(request, 0x103, smbraw.CREATE, 0)  # STATUS_PENDING
    assert not smbraw.is_lean(request, 0, smbraw.CLOSE, 0x8)  # signed: verified
    assert not smbraw.is_lean(theirs, 0, smbraw.CLOSE, 0)  # packed by smbprotocol
    message = struct.pack("<4sHHIHHIIQ8sQ16s", b"\xfeSMB", 64, 1, no_more, 14, 1, 1, 0, 3,
                          b"\x00" * 8, 5, b"\x00" * 16) + b"\x00" * 9
    reply = smbraw.Reply(message, no_more)
    assert reply.status == reply["status"].get_value() == no_more


def _same_as_smbprotocol(theirs: Connection, ours: Connection, want: list, got: list) -> None:
    assert ours.transport.sent == theirs.transport.sent
    assert len(ours.transport.sent) == 1  # one message, one send
    assert ours.sequence_window == theirs.sequence_window
    assert sorted(ours.outstanding_requests) == sorted(theirs.outstanding_requests)
    for a, b in zip(want, got, strict=True):
        for field in ("message_id", "tree_id", "command", "data"):
            assert b.message[field].get_value() == a.message[field].get_value(), field
        assert b._message_type is a._message_type
    assert got[0].related_ids == want[0].related_ids


def test_write_and_rename_opens_are_smbclients(monkeypatch: pytest.MonkeyPatch) -> None:
    """_WRITE_OPEN is what smbclient.open_file(mode="wb", share_access="rwd") asks for, and
    _RENAME_OPEN what smbclient.replace's SMBRawIO asks for."""
    from smbclient import _io

    tree = _Tree(_connection(True))
    monkeypatch.setattr(_io, "get_smb_tree", lambda path, **kw: (tree, "f.dat"))
    for raw, want in ((_io.SMBFileIO("\\\\h\\s\\f.dat", mode="wb", share_access="rwd"),
                       smb._WRITE_OPEN),
                      (_io.SMBRawIO("\\\\h\\s\\f.dat", mode="r", share_access="rwd",
                                    desired_access=smb._RENAME_OPEN[1],
                                    create_options=smb._RENAME_OPEN[5]), smb._RENAME_OPEN)):
        assert (raw._desired_access, raw._file_attributes, raw._create_options) == \
            (want[1], want[2], want[5])


@pytest.mark.parametrize("name", NAMES[1:])
@pytest.mark.parametrize("multi_credit", [True, False])
def test_write_open_bytes_match_smbprotocol(name: str, multi_credit: bool) -> None:
    """The CREATE of a file to be written (smbclient.open_file(mode="wb",
    share_access="rwd")) packed by smbraw is smbprotocol's, byte for byte."""
    from smbclient._io import _parse_mode, _parse_share_access
    from smbprotocol.open import Open, SMB2CreateRequest

    theirs, ours = _connection(multi_credit), _connection(multi_credit)
    tree = _Tree(theirs)
    sid, tid = tree.session.session_id, tree.tree_connect_id
    # smbclient's own choices for mode "wb", share "rwd"
    assert _parse_mode("wb") == smb._WRITE_OPEN[4]
    assert _parse_share_access("rwd", "wb") == smb._WRITE_OPEN[3]
    message, _ = Open(tree, name).create(*smb._WRITE_OPEN, send=False)
    want = theirs._send([message], sid, tid, related=True)
    got = smbraw.send_compound(ours, [(smbraw.CREATE, 1, smbraw.create_dir_body(
        name, *smb._WRITE_OPEN), SMB2CreateRequest)], sid, tid, 0)
    _same_as_smbprotocol(theirs, ours, want, got)


@pytest.mark.parametrize("target", ["b.txt", "x\\y\\Ordner é 漢字.dat.partial"])
@pytest.mark.parametrize("multi_credit", [True, False])
def test_rename_compound_bytes_match_smbprotocol(target: str, multi_credit: bool) -> None:
    """The rename compound (CREATE for DELETE, SET_INFO FileRenameInformation, CLOSE) is
    the one smbclient's SMBFileTransaction packs for smbclient.replace."""
    from smbprotocol.file_info import FileRenameInformation
    from smbprotocol.open import (
        Open,
        SMB2CloseRequest,
        SMB2CreateRequest,
        SMB2SetInfoRequest,
    )

    theirs, ours = _connection(multi_credit), _connection(multi_credit)
    tree = _Tree(theirs)
    sid, tid = tree.session.session_id, tree.tree_connect_id
    fd = Open(tree, "a\\src.txt")
    fd.file_id = smb._CHAINED_FILE_ID
    create, _ = fd.create(*smb._RENAME_OPEN, send=False)
    info = FileRenameInformation()
    info["replace_if_exists"] = True
    info["file_name"] = target
    set_req = _set_info_request(info, fd.file_id)
    close, _ = fd.close(send=False)
    want = theirs._send([create, set_req, close], sid, tid, related=True)
    got = smbraw.send_compound(ours, [
        (smbraw.CREATE, 1, smbraw.create_dir_body("a\\src.txt", *smb._RENAME_OPEN),
         SMB2CreateRequest),
        (smbraw.SET_INFO, 1, smbraw.set_info_body(
            smbraw.FILE_RENAME_INFORMATION, smb._CHAINED_FILE_ID,
            smbraw.rename_info(target, True)), SMB2SetInfoRequest),
        (smbraw.CLOSE, 1, smbraw.close_body(smb._CHAINED_FILE_ID), SMB2CloseRequest)],
        sid, tid, 0)
    _same_as_smbprotocol(theirs, ours, want, got)


@pytest.mark.parametrize("mtime_ns", [0, 1_600_000_000_123_456_789])
def test_time_and_close_compound_bytes_match_smbprotocol(mtime_ns: int) -> None:
    """The close that sets the time (SET_INFO FileBasicInformation, CLOSE with the
    post-query flag) is the one smbclient's SMBFileTransaction packs, and the size is
    read from the CLOSE answer as smbprotocol reads it."""
    from smbprotocol.open import (
        Open,
        SMB2CloseRequest,
        SMB2CloseResponse,
        SMB2SetInfoRequest,
    )
    from smbprotocol.structure import DateTimeField

    theirs, ours = _connection(True), _connection(True)
    tree = _Tree(theirs)
    sid, tid = tree.session.session_id, tree.tree_connect_id
    fd = Open(tree, "f.dat")
    fd.file_id = bytes(range(16))
    filetime = mtime_ns // 100 + DateTimeField.EPOCH_FILETIME
    set_req = _times_request(fd.file_id, filetime)
    close, _ = fd.close(get_attributes=True, send=False)
    want = theirs._send([set_req, close], sid, tid, related=True)
    got = smbraw.send_compound(ours, [
        (smbraw.SET_INFO, 1, smbraw.set_info_body(
            smbraw.FILE_BASIC_INFORMATION, fd.file_id,
            smbraw.basic_info(filetime, filetime)), SMB2SetInfoRequest),
        (smbraw.CLOSE, 1, smbraw.close_body(fd.file_id, smbraw.CLOSE_FLAG_POSTQUERY_ATTRIB),
         SMB2CloseRequest)], sid, tid, 0)
    _same_as_smbprotocol(theirs, ours, want, got)
    answer = SMB2CloseResponse()
    answer["flags"] = 1
    answer["end_of_file"] = 123_456_789_012
    assert smbraw.close_answer_size(answer.pack()) == 123_456_789_012


@pytest.mark.parametrize("length", [65536, 2 * 65536, 16 * 65536])
@pytest.mark.parametrize("multi_credit", [True, False])
def test_read_whole_compound_bytes_match_smbprotocol(length: int, multi_credit: bool) -> None:
    """The compound that reads a small file whole (CREATE as smbclient.open_file(mode="rb",
    share_access="rwd"), READ from 0, CLOSE) is what smbprotocol packs for them, byte for
    byte, credit charges included."""
    from smbclient._io import _parse_mode, _parse_share_access
    from smbprotocol.open import Open, SMB2CloseRequest, SMB2CreateRequest, SMB2ReadRequest

    theirs, ours = _connection(multi_credit), _connection(multi_credit)
    theirs.max_read_size = ours.max_read_size = 8 * 1024 * 1024
    tree = _Tree(theirs)
    sid, tid = tree.session.session_id, tree.tree_connect_id
    assert _parse_mode("rb") == smb._READ_OPEN[4]
    assert _parse_share_access("rwd", "rb") == smb._READ_OPEN[3]
    fd = Open(tree, "a\\f.dat")
    fd.file_id = smb._CHAINED_FILE_ID
    create, _ = fd.create(*smb._READ_OPEN, send=False)
    read, _ = fd.read(0, length, send=False)
    close, _ = fd.close(send=False)
    want = theirs._send([create, read, close], sid, tid, related=True)
    got = smbraw.send_compound(ours, [
        (smbraw.CREATE, 1, smbraw.create_dir_body("a\\f.dat", *smb._READ_OPEN),
         SMB2CreateRequest),
        (smbraw.READ, length, smbraw.read_body(smb._CHAINED_FILE_ID, 0, length),
         SMB2ReadRequest),
        (smbraw.CLOSE, 1, smbraw.close_body(smb._CHAINED_FILE_ID), SMB2CloseRequest)],
        sid, tid, 0)
    _same_as_smbprotocol(theirs, ours, want, got)


def test_read_opens_are_smbclients(monkeypatch: pytest.MonkeyPatch) -> None:
    """_READ_OPEN is what smbclient.open_file(mode="rb", share_access="rwd") asks for."""
    from smbclient import _io

    tree = _Tree(_connection(True))
    monkeypatch.setattr(_io, "get_smb_tree", lambda path, **kw: (tree, "f.dat"))
    raw = _io.SMBFileIO("\\\\h\\s\\f.dat", mode="rb", share_access="rwd")
    assert (raw._desired_access, raw._file_attributes, raw._create_options) == \
        (smb._READ_OPEN[1], smb._READ_OPEN[2], smb._READ_OPEN[5])


@pytest.mark.parametrize("data", [b"x", bytes(range(256)) * 300])
def test_read_answer_data_is_smbprotocols(data: bytes) -> None:
    """The data of a READ answer, read by offset and length from the header's start, is
    what smbprotocol's READ response gives, from a lean Reply or from its parsed header;
    an answer naming more data than it holds is refused."""
    from smbprotocol.header import SMB2HeaderResponse
    from smbprotocol.open import SMB2ReadResponse

    body = struct.pack("<HBxIII", 17, 80, len(data), 0, 0) + data
    message = struct.pack("<4sHHIHHIIQ8sQ16s", b"\xfeSMB", 64, 1, 0, 8, 1, 1, 0, 3,
                          b"\x00" * 8, 5, b"\x00" * 16) + body
    want = SMB2ReadResponse()
    want.unpack(message[64:])
    parsed = SMB2HeaderResponse()
    parsed.unpack(message)
    assert smbraw.read_answer_data(smbraw.Reply(message)) == want["buffer"].get_value() == data
    assert smbraw.read_answer_data(parsed) == data
    with pytest.raises(ValueError, match="READ answer"):
        smbraw.read_answer_data(smbraw.Reply(message[:-1]))


@pytest.mark.parametrize("size", [1, 65536, 65537, 1024 * 1024 - 1])
@pytest.mark.parametrize("multi_credit", [True, False])
def test_write_whole_compound_bytes_match_smbprotocol(size: int, multi_credit: bool) -> None:
    """The compound that writes a small file whole (CREATE as smbclient.open_file(mode="wb",
    share_access="rwd"), WRITE at 0, SET_INFO of the times, CLOSE with the post-query
    flag) is what smbprotocol packs for them, byte for byte."""
    from smbprotocol.open import (
        Open,
        SMB2CloseRequest,
        SMB2CreateRequest,
        SMB2SetInfoRequest,
        SMB2WriteRequest,
    )
    from smbprotocol.structure import DateTimeField

    data = bytes(range(256)) * (size // 256) + b"\x07" * (size % 256)
    theirs, ours = _connection(multi_credit), _connection(multi_credit)
    tree = _Tree(theirs)
    sid, tid = tree.session.session_id, tree.tree_connect_id
    fd = Open(tree, "a\\f.dat.partial")
    fd.file_id = smb._CHAINED_FILE_ID
    create, _ = fd.create(*smb._WRITE_OPEN, send=False)
    write, _ = fd.write(data, 0, send=False)
    filetime = 1_600_000_000_123_456_789 // 100 + DateTimeField.EPOCH_FILETIME
    set_req = _times_request(fd.file_id, filetime)
    close, _ = fd.close(get_attributes=True, send=False)
    want = theirs._send([create, write, set_req, close], sid, tid, related=True)
    got = smbraw.send_compound(ours, [
        (smbraw.CREATE, 1, smbraw.create_dir_body("a\\f.dat.partial", *smb._WRITE_OPEN),
         SMB2CreateRequest),
        (smbraw.WRITE, size, smbraw.write_body_head(smb._CHAINED_FILE_ID, 0, size) + data,
         SMB2WriteRequest),
        (smbraw.SET_INFO, 1, smbraw.set_info_body(
            smbraw.FILE_BASIC_INFORMATION, smb._CHAINED_FILE_ID,
            smbraw.basic_info(filetime, filetime)), SMB2SetInfoRequest),
        (smbraw.CLOSE, 1, smbraw.close_body(smb._CHAINED_FILE_ID,
                                            smbraw.CLOSE_FLAG_POSTQUERY_ATTRIB),
         SMB2CloseRequest)], sid, tid, 0)
    _same_as_smbprotocol(theirs, ours, want, got)


@pytest.mark.parametrize("count", [0, 1, 1024 * 1024])
def test_write_answer_count_is_smbprotocols(count: int) -> None:
    """The count of a WRITE answer, from a lean Reply or smbprotocol's parsed header, is
    what smbprotocol's WRITE response gives."""
    from smbprotocol.header import SMB2HeaderResponse
    from smbprotocol.open import SMB2WriteResponse

    body = struct.pack("<HHIIHH", 17, 0, count, 0, 0, 0) + b"\x00"
    message = struct.pack("<4sHHIHHIIQ8sQ16s", b"\xfeSMB", 64, 1, 0, 9, 1, 1, 0, 3,
                          b"\x00" * 8, 5, b"\x00" * 16) + body
    want = SMB2WriteResponse()
    want.unpack(message[64:])
    parsed = SMB2HeaderResponse()
    parsed.unpack(message)
    assert smbraw.write_answer_count(smbraw.Reply(message)) == want["count"].get_value()
    assert smbraw.write_answer_count(parsed) == count
