"""SMB signing against the real smbd: off unless the server requires it or the remote asks.

Windows' and Samba's clients, and rclone's go-smb2, sign an SMB2 session only when the server
requires it; pysync does the same by default and signs always with ``require_signing = true``.
Each case looks at smbprotocol's session (``signing_required``), at the SIGNED flag of the
messages that really go out, and copies a file through the session.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from smbprotocol import transport as smb_transport

from syncengine.backends import smb as smb_mod
from syncengine.backends import smbraw
from syncengine.backends.smb import SmbBackend, open_remote
from syncengine.confvalues import obscure

from .smbd import SmbdServer, running_smbd, smbd_server  # noqa: F401 - the module-scoped fixture

REPO = Path(__file__).resolve().parents[2]
_SMB2_FLAGS_SIGNED = 0x8
_NEGOTIATE, _SESSION_SETUP, _TREE_CONNECT = 0, 1, 3
_CREATE, _CLOSE, _WRITE, _QUERY_DIRECTORY = 5, 6, 9, 14


@pytest.fixture(scope="module")
def signing_smbd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmbdServer]:
    """A private smbd with ``server signing = mandatory`` (stopped by PID afterwards)."""
    yield from running_smbd(tmp_path_factory.mktemp("smbd-sign"), signing="mandatory")


def _backend(server: SmbdServer, **options: str) -> SmbBackend:
    opts = {**server.options(obscure(server.password)), **options}
    return open_remote("smbt", opts, f"{server.share}/sig-{uuid.uuid4().hex[:8]}")


def _signed_flags(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """From now on, for every SMB2 message sent: (command, whether its header has the SIGNED
    flag)."""
    flags: list[tuple[int, bool]] = []
    real = smb_mod._Tcp.send

    def send(self: smb_transport.Tcp, data: bytes) -> None:
        view = memoryview(data)
        off = 0
        while off + 64 <= len(view) and bytes(view[off:off + 4]) == b"\xfeSMB":
            (flag_word,) = struct.unpack_from("<I", view, off + 16)
            (command,) = struct.unpack_from("<H", view, off + 12)
            flags.append((command, bool(flag_word & _SMB2_FLAGS_SIGNED)))
            (next_command,) = struct.unpack_from("<I", view, off + 20)
            if not next_command:
                break
            off += next_command
        real(self, data)

    monkeypatch.setattr(smb_mod._Tcp, "send", send)
    return flags


def _answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """From now on, for every answer the receiving thread hands to its request: (command,
    whether it was given as a lean :class:`smbraw.Reply`, its header not verified)."""
    seen: list[tuple[int, bool]] = []
    real = smb_mod._Connection._deliver

    def deliver(self: smb_mod._Connection, message: bytes,
                fields: tuple[int, int, int, int, int, int], encrypted: bool) -> None:
        request = self.outstanding_requests[fields[5]]
        real(self, message, fields, encrypted)
        seen.append((fields[1], isinstance(request.response, smbraw.Reply)))

    monkeypatch.setattr(smb_mod._Connection, "_deliver", deliver)
    return seen


def _after_setup(flags: list[tuple[int, bool]]) -> list[tuple[int, bool]]:
    """The messages of an authenticated session (not NEGOTIATE and SESSION_SETUP, which a
    new connection sends before it has a key to sign with)."""
    return [(c, signed) for c, signed in flags if c not in (_NEGOTIATE, _SESSION_SETUP)]


def _session(b: SmbBackend) -> object:
    slot = b._pool.acquire()
    try:
        (conn,) = slot.cache.values()
        (session,) = conn.session_table.values()
        return session
    finally:
        b._pool.release(slot)


def _copy_round_trip(b: SmbBackend) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    with b.open_write("d/f.bin") as fh:
        fh.write(data)
    with b.open_read("d/f.bin") as fh:
        assert fh.read() == data
    small = os.urandom(1000)  # read whole, by smbprotocol (signed) when the session signs
    with b.open_write("d/s.bin") as fh:
        fh.write(small)
    with b.open_whole("d/s.bin", len(small)) as fh:  # type: ignore[attr-defined]
        assert fh.read() == small
    with b.open_write_whole("d/w.bin", len(small)) as fh:  # type: ignore[attr-defined]
        fh.write(small)  # sent whole at close, or through smbprotocol when signing
    with b.open_read("d/w.bin") as fh:
        assert fh.read() == small
    assert sorted(e.name for e in b.list_dir("d")) == ["f.bin", "s.bin", "w.bin"]


def _cleanup(b: SmbBackend, server: SmbdServer) -> None:
    b.close()
    base = server.share_path / b.base
    for dirpath, dirs, files in os.walk(base, topdown=False):
        for f in files:
            os.remove(os.path.join(dirpath, f))
        for d in dirs:
            os.rmdir(os.path.join(dirpath, d))
    if base.exists():
        base.rmdir()


def test_signing_off_when_the_server_does_not_require_it(
        smbd_server: SmbdServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """The default server offers signing without requiring it: nothing is signed."""
    b = _backend(smbd_server)
    try:
        b.mkdir("")
        session = _session(b)
        assert session.signing_required is False  # type: ignore[attr-defined]
        assert session.connection.require_signing is False  # type: ignore[attr-defined]
        flags = _signed_flags(monkeypatch)
        answers = _answers(monkeypatch)
        _copy_round_trip(b)
        # only a new connection's TREE_CONNECT is signed (SMB 3.1.1 wants it so)
        assert [c for c, signed in flags if signed and c != _TREE_CONNECT] == []
        assert len([c for c, _ in flags if c != _TREE_CONNECT]) > 10
        # unsigned: the answers to the listing's compound (its NO_MORE_FILES probe too) and
        # to the WRITEs packed by smbraw skip smbprotocol's header parsing; the rest (READs,
        # opens by smbclient) is parsed as before
        lean = {c for c, is_lean in answers if is_lean}
        assert {_CREATE, _QUERY_DIRECTORY, _CLOSE, _WRITE} <= lean, answers
        assert all(is_lean for c, is_lean in answers if c == _QUERY_DIRECTORY), answers
        assert any(not is_lean for _, is_lean in answers), answers
    finally:
        _cleanup(b, smbd_server)


def test_require_signing_option_signs_every_message(
        smbd_server: SmbdServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """``require_signing = true`` signs although the server would not insist."""
    b = _backend(smbd_server, require_signing="true")
    try:
        b.mkdir("")
        session = _session(b)
        assert session.signing_required is True  # type: ignore[attr-defined]
        assert session.signing_key  # type: ignore[attr-defined]
        flags = _signed_flags(monkeypatch)
        answers = _answers(monkeypatch)
        _copy_round_trip(b)
        assert _after_setup(flags) and all(signed for _, signed in _after_setup(flags))
        # every answer is parsed and its signature verified, none taken as a lean Reply
        assert answers and not [c for c, is_lean in answers if is_lean], answers
    finally:
        _cleanup(b, smbd_server)


def test_server_requiring_signing_gets_signed_messages(
        signing_smbd: SmbdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``server signing = mandatory``: the client signs without being asked to."""
    b = _backend(signing_smbd)
    try:
        b.mkdir("")
        session = _session(b)
        assert session.signing_required is True  # type: ignore[attr-defined]
        assert session.connection.require_signing is True  # type: ignore[attr-defined]
        flags = _signed_flags(monkeypatch)
        answers = _answers(monkeypatch)
        _copy_round_trip(b)
        assert _after_setup(flags) and all(signed for _, signed in _after_setup(flags))
        # every answer is parsed and its signature verified, none taken as a lean Reply
        assert answers and not [c for c, is_lean in answers if is_lean], answers
    finally:
        _cleanup(b, signing_smbd)


def test_cli_copy_to_a_server_requiring_signing(signing_smbd: SmbdServer,
                                                 tmp_path: Path) -> None:
    """``pysync copy`` to and from the signing-only server: same bytes back."""
    conf = tmp_path / "rclone.conf"
    conf.write_text(signing_smbd.rclone_section("signed", obscure(signing_smbd.password)))
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    (src / "b.txt").write_bytes(b"b")
    remote = f"signed:{signing_smbd.share}/cli-{uuid.uuid4().hex[:8]}"
    back = tmp_path / "back"
    for a, b in ((str(src), remote), (remote, str(back))):
        res = subprocess.run([sys.executable, "-m", "syncengine", "copy", "--config", str(conf),
                              a, b], capture_output=True, text=True, timeout=120, cwd=REPO)
        assert res.returncode == 0, res.stderr
    assert {p.name: p.read_bytes() for p in back.iterdir()} == \
        {p.name: p.read_bytes() for p in src.iterdir()}


def test_require_signing_option_must_be_a_bool(smbd_server: SmbdServer) -> None:  # noqa: F811
    """A bad value is a config error naming the option."""
    from syncengine.errors import ConfigError

    with pytest.raises(ConfigError, match="require_signing"):
        _backend(smbd_server, require_signing="sometimes")
