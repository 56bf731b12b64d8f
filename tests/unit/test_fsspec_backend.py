"""Backend conformance (LocalBackend on tmp_path, FsspecBackend on memory://) and fsspec bits."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from fsspec.spec import AbstractFileSystem

from syncengine.backends.base import Backend, Entry, Features, is_backend
from syncengine.backends.fsspec import (
    MODTIME_NOT_SUPPORTED_NS,
    FsspecBackend,
    mtime_to_ns,
    normalise_info,
)
from syncengine.backends.local import LocalBackend
from syncengine.errors import EXIT_DIR_NOT_FOUND, DirNotFoundError

# A microsecond-aligned time: representable exactly by every backend under test.
T1 = 1_600_000_000_123_456_000
T2 = 1_500_000_000_000_000_000


def _memory_cleanup(prefix: str) -> None:
    store, dirs = MemoryFileSystem.store, MemoryFileSystem.pseudo_dirs
    for key in [k for k in store if k == prefix or k.startswith(prefix + "/")]:
        del store[key]
    for d in [d for d in dirs if d == prefix or d.startswith(prefix + "/")]:
        dirs.remove(d)


@pytest.fixture
def memory_root() -> Iterator[str]:
    """A unique root in the global memory store, emptied after the test."""
    root = f"/pysync-test-{uuid.uuid4().hex}"
    yield root
    _memory_cleanup(root)
    assert not any(k.startswith(root) for k in MemoryFileSystem.store)


@pytest.fixture(params=["local", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The backend under test, rooted at an empty directory."""
    b: Backend
    if request.param == "local":
        (tmp_path / "root").mkdir()
        b = LocalBackend(str(tmp_path / "root"))
        yield b
        b.close()
        return
    root = f"/pysync-test-{uuid.uuid4().hex}"
    b = FsspecBackend("memory", root)
    b.mkdir("")
    try:
        yield b
    finally:
        b.close()
        _memory_cleanup(root)


def write(b: Backend, path: str, data: bytes) -> None:
    with b.open_write(path) as fh:
        fh.write(data)


def read(b: Backend, path: str, offset: int = 0) -> bytes:
    with b.open_read(path, offset) as fh:
        return fh.read()


def listing(b: Backend, path: str = "") -> list[tuple[str, int, bool]]:
    return sorted((e.path, e.size, e.is_dir) for e in b.list_dir(path))


class TestConformance:
    """What every Backend must do, whatever is behind it."""

    def test_is_a_backend(self, backend: Backend) -> None:
        assert is_backend(backend)
        assert not is_backend(object()) and not is_backend(backend.features)
        assert isinstance(backend.features, Features)
        assert backend.describe()
        assert backend.features.precision_ns >= 1

    def test_empty_root(self, backend: Backend) -> None:
        assert listing(backend) == []
        root = backend.stat("")
        assert root is not None and root.is_dir

    def test_write_read_stat(self, backend: Backend) -> None:
        write(backend, "f.txt", b"hello world")
        assert read(backend, "f.txt") == b"hello world"
        e = backend.stat("f.txt")
        assert e == Entry("f.txt", 11, e.mtime_ns, False)
        assert e.name == "f.txt"

    def test_open_read_with_offset(self, backend: Backend) -> None:
        write(backend, "f", bytes(range(100)))
        assert read(backend, "f", 90) == bytes(range(90, 100))
        assert read(backend, "f", 100) == b""

    def test_open_write_creates_parents_and_truncates(self, backend: Backend) -> None:
        write(backend, "a/b/c.bin", b"long content")
        write(backend, "a/b/c.bin", b"short")
        assert read(backend, "a/b/c.bin") == b"short"
        assert listing(backend) == [("a", -1, True)]
        assert listing(backend, "a") == [("a/b", -1, True)]
        assert listing(backend, "a/b") == [("a/b/c.bin", 5, False)]

    def test_list_dir_mixed(self, backend: Backend) -> None:
        write(backend, "x.txt", b"1")
        write(backend, "d/y.txt", b"22")
        backend.mkdir("empty")
        assert listing(backend) == [("d", -1, True), ("empty", -1, True), ("x.txt", 1, False)]
        assert listing(backend, "empty") == []

    @pytest.mark.parametrize("path", ["missing", "missing/deeper"])
    def test_list_missing_dir(self, backend: Backend, path: str) -> None:
        with pytest.raises(DirNotFoundError) as info:
            list(backend.list_dir(path))
        assert info.value.exit_code == EXIT_DIR_NOT_FOUND
        assert isinstance(info.value, FileNotFoundError)

    def test_list_a_file_is_dir_not_found(self, backend: Backend) -> None:
        write(backend, "file", b"x")
        with pytest.raises(DirNotFoundError):
            list(backend.list_dir("file"))

    def test_stat(self, backend: Backend) -> None:
        write(backend, "d/f", b"abc")
        assert backend.stat("missing") is None
        assert backend.stat("d/missing") is None
        d = backend.stat("d")
        assert d is not None and d.is_dir and d.size == -1
        f = backend.stat("d/f")
        assert f is not None and not f.is_dir and f.size == 3 and f.path == "d/f"

    def test_rename_and_replace(self, backend: Backend) -> None:
        write(backend, "src", b"new data")
        write(backend, "dst", b"old")
        backend.rename("src", "dst")
        assert backend.stat("src") is None
        assert read(backend, "dst") == b"new data"
        assert listing(backend) == [("dst", 8, False)]

    def test_rename_keeps_mtime(self, backend: Backend) -> None:
        if not backend.features.can_set_mtime:
            pytest.skip("no settable mtimes")
        write(backend, "a", b"x")
        backend.set_mtime("a", T1)
        backend.rename("a", "b")
        e = backend.stat("b")
        assert e is not None and abs(e.mtime_ns - T1) < backend.features.precision_ns

    def test_rename_missing_source(self, backend: Backend) -> None:
        with pytest.raises(FileNotFoundError):
            backend.rename("nope", "other")

    def test_remove(self, backend: Backend) -> None:
        write(backend, "d/f", b"x")
        backend.remove("d/f")
        assert backend.stat("d/f") is None
        with pytest.raises(FileNotFoundError):
            backend.remove("d/f")

    def test_remove_directory_fails(self, backend: Backend) -> None:
        backend.mkdir("d")
        with pytest.raises(OSError):
            backend.remove("d")
        assert backend.stat("d") is not None

    def test_mkdir_rmdir(self, backend: Backend) -> None:
        backend.mkdir("p/q/r")
        backend.mkdir("p/q/r")  # exists: fine
        assert listing(backend, "p/q") == [("p/q/r", -1, True)]
        backend.rmdir("p/q/r")
        assert listing(backend, "p/q") == []
        backend.rmdir("p/q")
        backend.rmdir("p")
        assert listing(backend) == []

    def test_mkdir_over_file_fails(self, backend: Backend) -> None:
        write(backend, "f", b"x")
        with pytest.raises(OSError):
            backend.mkdir("f")

    def test_rmdir_not_empty(self, backend: Backend) -> None:
        write(backend, "d/f", b"x")
        with pytest.raises(OSError) as info:
            backend.rmdir("d")
        assert info.value.errno in (errno.ENOTEMPTY, errno.EEXIST)
        assert read(backend, "d/f") == b"x"

    def test_rmdir_after_emptying(self, backend: Backend) -> None:
        write(backend, "d/f", b"x")
        backend.remove("d/f")
        backend.rmdir("d")
        assert listing(backend) == []

    def test_rmdir_missing(self, backend: Backend) -> None:
        with pytest.raises(FileNotFoundError):
            backend.rmdir("missing")

    @pytest.mark.parametrize("when", [T1, T2])
    def test_set_mtime(self, backend: Backend, when: int) -> None:
        if not backend.features.can_set_mtime:
            pytest.skip("no settable mtimes")
        write(backend, "d/f", b"x")
        backend.set_mtime("d/f", when)
        precision = backend.features.precision_ns
        e = backend.stat("d/f")
        assert e is not None and abs(e.mtime_ns - when) < precision
        (listed,) = list(backend.list_dir("d"))
        assert abs(listed.mtime_ns - when) < precision

    def test_set_mtime_missing(self, backend: Backend) -> None:
        with pytest.raises(FileNotFoundError):
            backend.set_mtime("missing", T1)

    def test_mtime_is_recent_after_write(self, backend: Backend) -> None:
        write(backend, "f", b"x")
        e = backend.stat("f")
        now = datetime.now(timezone.utc).timestamp() * 1e9
        assert e is not None and abs(e.mtime_ns - now) < 120e9

    def test_hash(self, backend: Backend) -> None:
        write(backend, "f", b"some content")
        digest = backend.hash("f", "md5")
        if "md5" in backend.features.hashes:
            assert digest == hashlib.md5(b"some content").hexdigest()
        else:
            assert digest is None
        assert backend.hash("missing", "md5") is None

    def test_unicode_and_spaces(self, backend: Backend) -> None:
        write(backend, "dir with space/ünï cödé.txt", b"u")
        assert listing(backend, "dir with space") == [("dir with space/ünï cödé.txt", 1, False)]


# ----- FsspecBackend specifics ---------------------------------------------------------------


class TestMemory:
    """Details of FsspecBackend on memory:// that the conformance tests do not pin down."""

    def test_features_and_names(self, memory_root: str) -> None:
        b = FsspecBackend("memory", memory_root)
        f = b.features
        assert (f.name, f.precision_ns, f.hashes, f.can_set_mtime) == ("memory", 1000, (), True)
        assert b.describe() == f"memory://{memory_root.lstrip('/')}"
        assert b.root == f"memory://{memory_root}"
        assert b.full("a/b") == f"{memory_root}/a/b"
        assert repr(b).startswith("FsspecBackend(")

    def test_fresh_filesystem_instance_per_backend(self, memory_root: str) -> None:
        a, b = FsspecBackend("memory", memory_root), FsspecBackend("memory", memory_root)
        assert a.fs is not b.fs
        write(a, "shared", b"global store")  # fsspec's memory store is process-wide
        assert read(b, "shared") == b"global store"

    def test_private_store(self) -> None:
        a = FsspecBackend("memory", "/x", storage_options={"global_store": False})
        b = FsspecBackend("memory", "/x", storage_options={"global_store": False})
        write(a, "f", b"1")
        assert b.stat("f") is None
        assert "/x/f" not in MemoryFileSystem.store

    def test_root_of_the_store(self, memory_root: str) -> None:
        b = FsspecBackend("memory", "")
        assert b.describe() == "memory://"
        write(b, memory_root.lstrip("/") + "/f", b"z")
        assert (memory_root.lstrip("/"), -1, True) in listing(b)

    def test_accepts_an_instance_and_a_url_root(self, memory_root: str) -> None:
        fs = MemoryFileSystem(skip_instance_cache=True)
        b = FsspecBackend(fs, f"memory://{memory_root}")
        assert b.fs is fs and b.path == memory_root
        with pytest.raises(TypeError):
            FsspecBackend(fs, "", storage_options={"a": 1})

    def test_readers_do_not_share_a_cursor(self, memory_root: str) -> None:
        b = FsspecBackend("memory", memory_root)
        write(b, "f", b"0123456789")
        r1, r2 = b.open_read("f"), b.open_read("f", 5)
        assert r1.read(3) == b"012"
        assert r2.read() == b"56789"
        assert r1.read() == b"3456789"

    def test_concurrent_writers_and_readers(self, memory_root: str) -> None:
        b = FsspecBackend("memory", memory_root)
        errors: list[Exception] = []

        def work(n: int) -> None:
            try:
                for i in range(20):
                    write(b, f"t{n}/f{i}", bytes([n]) * i)
                    b.set_mtime(f"t{n}/f{i}", T1)
                    assert read(b, f"t{n}/f{i}") == bytes([n]) * i
                    b.rename(f"t{n}/f{i}", f"t{n}/g{i}")
            except Exception as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(listing(b, "t3")) == 20

    def test_set_mtime_on_directory_is_ignored(self, memory_root: str) -> None:
        b = FsspecBackend("memory", memory_root)
        b.mkdir("d")
        b.set_mtime("d", T1)
        assert b.stat("d") == Entry("d", -1, 0, True)

    def test_mtime_stored_where_info_reports_it(self, memory_root: str) -> None:
        b = FsspecBackend("memory", memory_root)
        write(b, "f", b"x")
        b.set_mtime("f", T1)
        info = b.fs.info(b.full("f"))
        assert mtime_to_ns(info["created"]) == T1
        assert mtime_to_ns(b.fs.modified(b.full("f"))) == T1

    def test_rename_onto_directory_fails(self, memory_root: str) -> None:
        b = FsspecBackend("memory", memory_root)
        write(b, "f", b"x")
        b.mkdir("d")
        with pytest.raises(IsADirectoryError):
            b.rename("f", "d")
        with pytest.raises(IsADirectoryError):
            b.rename("d", "e")

    def test_hash_kinds(self, memory_root: str) -> None:
        b = FsspecBackend("memory", memory_root)
        write(b, "f", b"x")
        assert b.hash("f", "sha1") is None
        assert b.hash("f", "no-such-hash") is None


class _NoTimeFS(AbstractFileSystem):
    """A tiny read-only filesystem whose info dicts carry no times."""

    protocol = "pysync-notime"
    root_marker = "/"

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        if path in ("", "/"):
            items = [{"name": "/a.txt", "size": 3, "type": "file"},
                     {"name": "/sub/", "size": 0, "type": "directory"}]
            return items if detail else [i["name"] for i in items]
        raise FileNotFoundError(path)


class _NoReplaceLocalFS(LocalFileSystem):
    """A local filesystem whose mv refuses to replace, as SMB's does."""

    calls = 0

    def mv(self, path1: str, path2: str, **kwargs: Any) -> None:
        type(self).calls += 1
        if os.path.exists(path2):
            raise FileExistsError(errno.EEXIST, "exists", path2)
        os.rename(path1, path2)


class TestOtherFilesystems:
    """Feature detection and fallbacks on filesystems other than memory."""

    def test_no_mtime_means_zero_and_no_set(self) -> None:
        b = FsspecBackend(_NoTimeFS(skip_instance_cache=True), "/")
        assert b.features.can_set_mtime is False
        assert b.features.precision_ns == MODTIME_NOT_SUPPORTED_NS
        entries = sorted(b.list_dir(""), key=lambda e: e.path)
        assert entries == [Entry("a.txt", 3, 0, False), Entry("sub", -1, 0, True)]
        with pytest.raises(DirNotFoundError):
            list(b.list_dir("nope"))
        with pytest.raises(NotImplementedError):
            b.set_mtime("a.txt", T1)

    def test_fsspec_local_filesystem(self, tmp_path: Path) -> None:
        b = FsspecBackend("file", str(tmp_path))
        assert b.features.can_set_mtime and b.features.precision_ns == 1000
        write(b, "d/f", b"abc")
        b.set_mtime("d/f", T1 + 789)
        assert os.stat(tmp_path / "d" / "f").st_mtime_ns == T1 + 789
        e = b.stat("d/f")
        assert e is not None and abs(e.mtime_ns - T1) < 1000
        assert listing(b) == [("d", -1, True)]

    def test_fsspec_local_symlink_skipped(self, tmp_path: Path) -> None:
        (tmp_path / "t").write_bytes(b"x")
        (tmp_path / "l").symlink_to(tmp_path / "t")
        b = FsspecBackend("file", str(tmp_path))
        assert listing(b) == [("t", 1, False)]

    def test_rename_when_mv_does_not_replace(self, tmp_path: Path) -> None:
        b = FsspecBackend(_NoReplaceLocalFS(skip_instance_cache=True), str(tmp_path))
        write(b, "a", b"new")
        write(b, "b", b"old")
        b.rename("a", "b")
        assert read(b, "b") == b"new" and b.stat("a") is None
        assert _NoReplaceLocalFS.calls == 2


# ----- info normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (1_600_000_000, 1_600_000_000 * 10**9),
    (1_600_000_000.123456, 1_600_000_000_123_456_000),
    (1_600_000_000_123, 1_600_000_000_123_000_000),  # milliseconds
    (1_600_000_000_123_456_789, 1_600_000_000_123_456_789),  # nanoseconds
    (datetime(2020, 9, 13, 12, 26, 40, 123456, tzinfo=timezone.utc), 1_600_000_000_123_456_000),
    (datetime(2020, 9, 13, 12, 26, 40), 1_600_000_000 * 10**9),  # naive: UTC
    ("2020-09-13T12:26:40Z", 1_600_000_000 * 10**9),
    ("2020-09-13T12:26:40.123456789Z", 1_600_000_000_123_456_789),
    ("2020-09-13T14:26:40.5+02:00", 1_600_000_000_500_000_000),
    ("Sun, 13 Sep 2020 12:26:40 GMT", 1_600_000_000 * 10**9),
    ("1600000000.25", 1_600_000_000_250_000_000),
    ("not a time", None),
    (None, None),
    (True, None),
    (float("nan"), None),
])
def test_mtime_to_ns(value: object, expected: int | None) -> None:
    assert mtime_to_ns(value) == expected


@pytest.mark.parametrize(("info", "expected"), [
    ({"name": "f", "type": "file", "size": 3, "mtime": 10.5}, ("file", 3, 10_500_000_000)),
    ({"name": "f", "type": "file", "size": 3, "LastModified": "1970-01-01T00:00:10Z"},
     ("file", 3, 10 * 10**9)),
    ({"name": "f", "type": "file", "size": 3, "last_modified": 10}, ("file", 3, 10 * 10**9)),
    ({"name": "f", "type": "file", "size": 3, "created": 10}, ("file", 3, 10 * 10**9)),
    ({"name": "f", "type": "file", "size": 3, "modified": 10}, ("file", 3, 10 * 10**9)),
    ({"name": "f", "type": "file", "size": 3, "time": 10}, ("file", 3, 10 * 10**9)),
    ({"name": "f", "type": "file", "size": 3, "mtime": 20, "created": 10},
     ("file", 3, 20 * 10**9)),
    ({"name": "f", "type": "file", "size": None}, ("file", -1, None)),
    ({"name": "d", "type": "directory", "size": 0}, ("directory", -1, None)),
    ({"name": "l", "type": "other", "size": 0}, ("other", 0, None)),
    ({"name": "x", "type": "bucket", "size": 7}, ("directory", -1, None)),
])
def test_normalise_info(info: dict[str, Any], expected: tuple[str, int, int | None]) -> None:
    assert normalise_info(info) == expected
