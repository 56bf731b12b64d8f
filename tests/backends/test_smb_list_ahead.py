"""``SmbBackend.list_ahead`` against the real smbd: a listing sent from the caller's thread
gives what ``list_dir`` gives, errors as ``list_dir`` raises them, and leaves the shared
connection as it found it (credits in order, given back)."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncengine.backends.smb import ListingAhead, SmbBackend
from syncengine.errors import DirNotFoundError

from .smbd import SmbdServer, running_smbd, smbd_server  # noqa: F401 - the module-scoped fixture

OLD = 1_600_000_000_000_000_000


def _backend(server: SmbdServer, sub: str, **kw: object) -> SmbBackend:
    return SmbBackend(server.host, f"{server.share}/{sub}", user=server.user,
                      password=server.password, port=server.port, **kw)  # type: ignore[arg-type]


@pytest.fixture
def tree(smbd_server: SmbdServer) -> Iterator[tuple[SmbBackend, Path]]:  # noqa: F811
    """(an SmbBackend rooted at a fresh folder of the share, that folder on disk) with a
    few files and folders in it."""
    sub = f"la-{uuid.uuid4().hex[:12]}"
    root = smbd_server.share_path / sub
    for rel, size in {"a.txt": 3, "B.dat": 70_000, "d/x.bin": 1, "d/e/y.bin": 2,
                      "empty/": 0, "Ünï cödé.txt": 5}.items():
        p = root / rel
        if rel.endswith("/"):
            p.mkdir(parents=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(size))
        os.utime(p, ns=(OLD, OLD + 123_456_700))
    b = _backend(smbd_server, sub)
    try:
        yield b, root
    finally:
        b.close()
        shutil.rmtree(root, ignore_errors=True)


def _taken(b: SmbBackend, path: str) -> list[object] | OSError:
    pending = b.list_ahead(path)
    assert isinstance(pending, ListingAhead)
    return pending.result()


def _shared_users(b: SmbBackend) -> int:
    shared = b._pool._shared
    return 0 if shared is None else shared.users


def test_gives_what_list_dir_gives(tree: tuple[SmbBackend, Path]) -> None:
    """Entries, sizes, 100 ns times and order are list_dir's, for the root and subfolders;
    several sent before the first is taken; each given back once taken."""
    b, _ = tree
    paths = ["", "d", "d/e", "empty"]
    pending = [b.list_ahead(p) for p in paths]
    assert all(isinstance(p, ListingAhead) for p in pending)
    assert _shared_users(b) == len(paths)
    got = [p.result() for p in pending]  # type: ignore[union-attr]
    assert _shared_users(b) == 0
    for path, entries in zip(paths, got, strict=True):
        assert entries == list(b.list_dir(path)), path
    assert [e.path for e in got[0]] == ["B.dat", "a.txt", "d", "empty",  # type: ignore[union-attr]
                                        "Ünï cödé.txt"]
    assert got[0][1].mtime_ns == OLD + 123_456_700  # type: ignore[index]
    assert got[3] == []
    again = pending[0]
    assert again.done() and again.result() is got[0]  # type: ignore[union-attr]


def test_errors_are_list_dirs(tree: tuple[SmbBackend, Path]) -> None:
    """A missing folder and a file are DirNotFoundError, as list_dir raises; the result is
    the error, not raised, and the connection is given back and still serves."""
    b, _ = tree
    for path in ("nothing-here", "a.txt", "d/nothing/deeper"):
        got = _taken(b, path)
        assert isinstance(got, DirNotFoundError), (path, got)
        with pytest.raises(DirNotFoundError) as raised:
            list(b.list_dir(path))
        assert str(got) == str(raised.value)
    assert _shared_users(b) == 0
    assert [e.path for e in _taken(b, "d")] == ["d/e", "d/x.bin"]  # type: ignore[union-attr]


def test_cancel_takes_the_answers_off(tree: tuple[SmbBackend, Path]) -> None:
    """A listing dropped unheard is received all the same: no request is left waiting on
    the connection, the connection is given back, and the next listings are right."""
    b, _ = tree
    first = b.list_ahead("d")
    assert first is not None
    conn = first._sent[0]
    assert first.cancel()
    assert _shared_users(b) == 0
    assert not conn.outstanding_requests
    assert [e.path for e in _taken(b, "d/e")] == ["d/e/y.bin"]  # type: ignore[union-attr]
    assert not conn.outstanding_requests


def test_a_folder_larger_than_one_answer(tree: tuple[SmbBackend, Path]) -> None:
    """A folder whose listing does not fit the answer a listing sent ahead asks for
    (256 KiB) is listed again in batches: all of it, as list_dir has it."""
    b, root = tree
    big = root / "big"
    big.mkdir()
    name = "n" * 120
    for i in range(2600):  # ~2600 * (104 + 2 * 126) bytes: over 256 KiB
        (big / f"{name}-{i:05d}").touch()
    got = _taken(b, "big")
    assert isinstance(got, list) and len(got) == 2600
    assert got == list(b.list_dir("big"))
    assert _shared_users(b) == 0


def test_not_sent_ahead_on_a_signing_session(tmp_path_factory: pytest.TempPathFactory
                                             ) -> None:
    """A session that signs (the server requires it) is not packed by smbraw: None, so the
    caller lists the usual way (through smbprotocol, signed); nothing is left held."""
    for server in running_smbd(tmp_path_factory.mktemp("smbd-sign-ahead"),
                               signing="mandatory"):
        sub = f"la-{uuid.uuid4().hex[:12]}"
        (server.share_path / sub / "d").mkdir(parents=True)
        b = _backend(server, sub)
        try:
            assert b.list_ahead("") is None
            assert _shared_users(b) == 0
            assert [e.path for e in b.list_dir("")] == ["d"]
        finally:
            b.close()



def test_no_connection_is_left_to_the_usual_listing(smbd_server: SmbdServer  # noqa: F811
                                                    ) -> None:
    """Nothing listens at the port: None (not raised on the march's thread), and the usual
    listing raises the connection error where the march counts it; from then on the
    backend leaves its listings to the listing threads."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = SmbBackend("127.0.0.1", f"{smbd_server.share}/x", user=smbd_server.user,
                   password=smbd_server.password, port=port)
    try:
        assert b.list_ahead("") is None
        with pytest.raises(ConnectionError, match="refused"):
            list(b.list_dir(""))
        # and no more tries from the caller's thread (a timeout each, one after the other)
        tried: list[int] = []
        b._pool.acquire_shared = lambda: tried.append(1)  # type: ignore[method-assign]
        assert b.list_ahead("") is None and tried == []
    finally:
        b.close()
