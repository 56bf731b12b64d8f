"""Hostile names from a remote listing never escape the destination root (issue #6 item 5).

The scenario is a broken or malicious *backend*: an fsspec filesystem whose listing carries
crafted names, and real SFTP/SMB servers holding awkward names. pysync itself is not mocked.
Every test puts sentinel files next to the destination root and checks they are untouched.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from fsspec.implementations.memory import MemoryFileSystem

import syncengine.api as api
from syncengine.backends.base import Entry
from syncengine.backends.fsspec import FsspecBackend
from syncengine.backends.local import LocalBackend
from syncengine.names import UnsafeNameError, unsafe_name_reason
from tests.backends.smbd import SmbdServer, smbd_server  # noqa: F401 - the module fixture
from tests.backends.sshd import SshdServer
from tests.backends.sshd import sshd_server as sshd_server  # the session-scoped fixture
from tests.logcapture import captured_log as _captured_log
from tests.semantics.conftest import OLD, files_only, pysync, read_tree, write_tree

# ----- helpers ---------------------------------------------------------------------------------

#: crafted names a hostile listing returns, each with the data of its file (None: a directory)
HOSTILE: dict[str, bytes | None] = {
    "..": None,
    ".": None,
    "": b"empty name",
    "../victim.txt": b"evil",
    "a/../../victim.txt": b"evil",
    "nul\x00.txt": b"evil",
    "new\nline.txt": b"evil",
    "esc\x1b[2J.txt": b"evil",
    "csi\x9b.txt": b"evil",
}


def captured_log() -> contextlib.AbstractContextManager[io.StringIO]:
    """Everything the syncengine logger emits at INFO and up inside the block."""
    return _captured_log(logging.INFO)


class HostileFs(FsspecBackend):
    """A memory:// backend whose listings also carry ``crafted`` names (directory path →
    name → file data, None for a directory), as a broken or malicious server would."""

    def __init__(self, root: str, crafted: dict[str, dict[str, bytes | None]]) -> None:
        super().__init__("memory", root)
        self.crafted = {d: {(f"{d}/{n}" if d else n): v for n, v in names.items()}
                        for d, names in crafted.items()}
        self.opened: list[str] = []

    def _find(self, path: str) -> tuple[bool, bytes | None]:
        for names in self.crafted.values():
            if path in names:
                return True, names[path]
        return False, None

    def list_dir(self, path: str) -> Iterator[Entry]:  # type: ignore[override]
        yield from super().list_dir(path)
        for rel, data in self.crafted.get(path, {}).items():
            yield Entry(rel, -1 if data is None else len(data), OLD, data is None)

    def stat(self, path: str) -> Entry | None:
        found, data = self._find(path)
        if found:
            return Entry(path, -1 if data is None else len(data), OLD, data is None)
        return super().stat(path)

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        self.opened.append(path)
        found, data = self._find(path)
        if found and data is not None:
            return io.BytesIO(data[offset:])
        return super().open_read(path, offset)


@pytest.fixture
def memroot() -> Iterator[str]:
    """A unique directory in the global memory:// store, emptied afterwards."""
    root = f"/name-safety-{uuid.uuid4().hex[:10]}"
    yield root
    for key in [k for k in MemoryFileSystem.store if k.startswith(root)]:
        del MemoryFileSystem.store[key]
    MemoryFileSystem.pseudo_dirs[:] = [d for d in MemoryFileSystem.pseudo_dirs
                                       if not d.startswith(root)]


@pytest.fixture
def outer(tmp_path: Path) -> Path:
    """A directory holding the destination root ``dst`` and sentinels next to it."""
    out = tmp_path / "outer"
    write_tree(out, {"victim.txt": "sentinel", "dst/keep.txt": "dst only", "sub/x": "x"})
    return out


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every path under ``root`` (directories too) with its content and mtime."""
    out: dict[str, tuple[bytes, int]] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (p.read_bytes() if p.is_file() else b"", st.st_mtime_ns)
    return out


def outside(outer: Path) -> dict[str, tuple[bytes, int]]:
    return {k: v for k, v in snapshot(outer).items() if not k.startswith("dst")}


def hostile_source(memroot: str, outer: Path, at: str = "") -> HostileFs:
    fs = MemoryFileSystem()
    fs.pipe_file(f"{memroot}/good.txt", b"good")
    fs.pipe_file(f"{memroot}/d/inner.txt", b"inner")
    crafted = dict(HOSTILE)
    crafted[str(outer / "victim.txt")] = b"evil"  # an absolute path
    return HostileFs(memroot, {at: crafted})


# ----- the name rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE) + ["/etc/passwd", "a/b", "del\x7f", "tab\t"])
def test_unsafe_names_have_a_reason(name: str) -> None:
    assert unsafe_name_reason(name) is not None


@pytest.mark.parametrize("name", ["a", "...", "a..b", "..a", "a.", " lead", "tail ", "ü",
                                  "ｆｕｌｌ＼ｗｉｄｔｈ", "．．", "emoji-\U0001f600", "bad\udcff"])
def test_safe_names_pass(name: str) -> None:
    assert unsafe_name_reason(name) is None


@pytest.mark.parametrize(("name", "refused"), [
    ("a\\b", False), ("y\\", False), ("\\lead", False), ("a\\\\b", False),
    ("new\nline", False), ("..\\x", True), ("a\\.\\b", True), ("x\\..", True),
    ("\\", True), ("\\\\", True), ("..", True), ("a/b", True), ("nul\x00", True)])
def test_destination_listing_names(name: str, refused: bool) -> None:
    """A destination's own listing (strict=False): only what could leave the directory, read
    with backslashes as separators, is refused; an empty segment ('y\\') stays inside."""
    assert (unsafe_name_reason(name, strict=False) is not None) is refused


@pytest.mark.parametrize("path", ["..", "../x", "a/../../x", "a/..", "/etc/passwd", "/"])
def test_local_full_refuses_paths_leaving_the_root(tmp_path: Path, path: str) -> None:
    b = LocalBackend(str(tmp_path / "root"))
    with pytest.raises(UnsafeNameError):
        b.full(path)
    assert b.full("a..b/...") == str(tmp_path / "root" / "a..b" / "...")


# ----- a hostile source ------------------------------------------------------------------------


@pytest.mark.parametrize("at", ["", "d"])
def test_copy_refuses_hostile_source_names(memroot: str, outer: Path, at: str) -> None:
    before = outside(outer)
    src = hostile_source(memroot, outer, at)
    with captured_log() as buf:
        res = api.copy(src, str(outer / "dst"))
    assert res.exit_code != 0
    refused = [e for e in res.errors if isinstance(e.error, UnsafeNameError)]
    assert len(refused) == len(HOSTILE) + 1
    assert len(res.errors) == len(refused)  # nothing else went wrong
    assert res.attempts == 1  # not retried: another listing would say the same
    assert outside(outer) == before
    assert files_only(read_tree(outer / "dst")) == {
        "keep.txt": b"dst only", "good.txt": b"good", "d/inner.txt": b"inner"}
    assert not any(p in src.opened for p in src.crafted[at])  # never even read
    text = buf.getvalue()
    for name in HOSTILE:  # named escaped: the log line cannot be forged or garbled
        assert f"refusing unsafe name {name!r}" in text
    assert "\x1b" not in text and "\x00" not in text and "new\nline" not in text
    assert "Failed to copy with" in text and "refusing unsafe name" in str(res.error)


def test_sync_deletes_nothing_after_a_refused_name(memroot: str, outer: Path) -> None:
    before = outside(outer)
    with captured_log() as buf:
        res = api.sync(hostile_source(memroot, outer), str(outer / "dst"))
    assert res.exit_code != 0 and res.deletes == 0
    assert "not deleting files as there were IO errors" in buf.getvalue()
    assert outside(outer) == before
    assert (outer / "dst" / "keep.txt").read_bytes() == b"dst only"
    assert (outer / "dst" / "good.txt").read_bytes() == b"good"


@pytest.mark.parametrize("mode", ["copy", "sync"])
def test_names_refused_with_every_option(memroot: str, outer: Path, mode: str) -> None:
    """--delete-excluded (no filter pass) and names-only paths go through the same check."""
    before = outside(outer)
    run = api.copy if mode == "copy" else api.sync
    res = run(hostile_source(memroot, outer), str(outer / "dst"), delete_excluded=True,
              exclude=["nothing-matches"], size_only=True)
    assert res.exit_code != 0 and res.deletes == 0
    assert outside(outer) == before


def test_listing_command_drops_hostile_names(memroot: str, outer: Path) -> None:
    with captured_log() as buf:
        names = {e.path for e in api.list_files(hostile_source(memroot, outer))}
    assert names == {"good.txt", "d", "d/inner.txt"}
    assert buf.getvalue().count("refusing unsafe name") == len(HOSTILE) + 1


# ----- a hostile destination -------------------------------------------------------------------


def test_sync_to_hostile_destination_deletes_nothing_outside(memroot: str,
                                                             tmp_path: Path) -> None:
    """A destination listing naming files outside its root: nothing there is deleted."""
    fs = MemoryFileSystem()
    fs.pipe_file(f"{memroot}/victim.txt", b"sentinel")
    fs.pipe_file(f"{memroot}/dst/stale.txt", b"dst only")
    dst = HostileFs(f"{memroot}/dst", {"": {"../victim.txt": b"x", "..": None,
                                            "a/../../victim.txt": b"x",
                                            f"{memroot}/victim.txt": b"x"}})
    write_tree(tmp_path / "src", {"new.txt": "n"})
    res = api.sync(str(tmp_path / "src"), dst)
    assert res.exit_code != 0 and res.deletes == 0
    assert fs.cat_file(f"{memroot}/victim.txt") == b"sentinel"
    assert fs.cat_file(f"{memroot}/dst/stale.txt") == b"dst only"
    assert fs.cat_file(f"{memroot}/dst/new.txt") == b"n"


# ----- real servers ----------------------------------------------------------------------------


def test_sftp_newline_names_are_refused_backslash_names_copied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        sshd_server: SshdServer) -> None:  # noqa: F811
    """Files named with a backslash and a newline on a real SFTP server, copied to a local
    (POSIX) disk: the backslash names are ordinary names there and are copied verbatim, as
    rclone does (``..\\victim.txt`` lands inside the destination); the newline name is
    refused (an error naming it escaped, the run fails) and sync deletes nothing.

    rclone copies the newline name too; pysync refuses control characters from any remote
    listing because they garble logs and line-oriented listings.
    """
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    from syncengine.backends.sftp import SftpBackend
    server = sshd_server
    remote = tmp_path / "remote"
    write_tree(remote, {"plain.txt": "p", "back\\slash.txt": "b", "new\nline.txt": "n",
                        "..\\victim.txt": "evil"})
    outer = tmp_path / "outer"
    write_tree(outer, {"victim.txt": "sentinel", "dst/keep.txt": "dst only"})
    before = outside(outer)
    for run in (api.copy, api.sync):
        src = SftpBackend(server.options(), str(remote))
        try:
            with captured_log() as buf:
                res = run(src, str(outer / "dst"))
        finally:
            src.close()
        assert res.exit_code != 0 and res.deletes == 0
        text = buf.getvalue()
        assert "refusing unsafe name 'new\\nline.txt'" in text
        assert text.count("ERROR : refusing unsafe name") == 1
        assert sorted(os.listdir(outer / "dst")) == ["..\\victim.txt", "back\\slash.txt",
                                                     "keep.txt", "plain.txt"]
        assert outside(outer) == before


def test_names_pysync_wrote_do_not_fail_later_runs(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   sshd_server: SshdServer) -> None:  # noqa: F811
    """A destination's own listing is checked only for names that could leave it: local
    files named with a backslash or a newline, copied to a real SFTP server, are listed back
    by every later run without an error (a destination-only one is even deleted by sync),
    while a ``..\\`` name there is still refused."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    from syncengine.backends.sftp import SftpBackend
    src = tmp_path / "src"
    write_tree(src, {"back\\slash.txt": "b", "new\nline.txt": "n", "plain.txt": "p"})
    remote = tmp_path / "remote"
    remote.mkdir()

    def run(fn, *args: object, **kw: object):  # type: ignore[no-untyped-def]
        dst = SftpBackend(sshd_server.options(), str(remote))
        try:
            return fn(str(src), dst, *args, **kw)
        finally:
            dst.close()

    assert run(api.copy).exit_code == 0
    assert sorted(os.listdir(remote)) == ["back\\slash.txt", "new\nline.txt", "plain.txt"]
    again = run(api.sync)
    assert again.exit_code == 0 and again.errors == [] and again.transfers == 0
    (remote / "dst\\only.txt").write_bytes(b"x")  # written by someone, destination-only
    assert run(api.sync).exit_code == 0
    assert not (remote / "dst\\only.txt").exists()
    (remote / "..\\evil.txt").write_bytes(b"x")
    with captured_log() as buf:
        res = run(api.sync)
    assert res.exit_code != 0 and res.deletes == 0
    assert "refusing unsafe name '..\\\\evil.txt'" in buf.getvalue()
    assert (remote / "..\\evil.txt").exists()


def test_smb_names_stay_inside_or_are_refused(tmp_path: Path,
                                             smbd_server: SmbdServer) -> None:  # noqa: F811
    """On a real share, ``．．`` (rclone's encoding of a ``..`` name, kept by the local Base
    encoding) is an ordinary name that lands inside the destination; ``back＼slash`` decodes
    to a backslash name, an ordinary name on a local POSIX disk (copied, as rclone does); a
    control character is still refused."""
    from syncengine.backends.smb import SmbBackend
    server = smbd_server
    sub = f"t-{uuid.uuid4().hex[:12]}"
    write_tree(server.share_path / sub, {"．．/victim.txt": "evil", "ok.txt": "ok",
                                         "back＼slash.txt": "b", "new␊line.txt": "n"})
    outer = tmp_path / "outer"
    write_tree(outer, {"victim.txt": "sentinel", "dst/keep.txt": "dst only"})
    before = outside(outer)
    src = SmbBackend(server.host, f"{server.share}/{sub}", user=server.user,
                     password=server.password, port=server.port)
    try:
        with captured_log() as buf:
            res = api.sync(src, str(outer / "dst"))
    finally:
        src.close()
    assert res.exit_code != 0 and res.deletes == 0
    assert "refusing unsafe name 'new\\nline.txt'" in buf.getvalue()
    assert files_only(read_tree(outer / "dst")) == {
        "keep.txt": b"dst only", "ok.txt": b"ok", "．．/victim.txt": b"evil",
        "back\\slash.txt": b"b"}
    assert outside(outer) == before


def test_backslash_names_are_fullwidth_on_an_smb_destination(memroot: str, outer: Path,
                                                             smbd_server: SmbdServer  # noqa: F811
                                                             ) -> None:
    """A remote source's backslash name is an ordinary name on an SMB share: the name
    encoding writes it as ``＼`` (FULLWIDTH REVERSE SOLIDUS), one file inside the
    destination, as rclone's SMB backend does; a local POSIX disk gets it verbatim."""
    from syncengine.backends.smb import SmbBackend
    server = smbd_server
    sub = f"t-{uuid.uuid4().hex[:12]}"
    (server.share_path / sub).mkdir()
    crafted: dict[str, bytes | None] = {"..\\..\\victim.txt": b"evil",
                                        "back\\slash.txt": b"b"}
    fs = MemoryFileSystem()
    fs.pipe_file(f"{memroot}/good.txt", b"good")
    dst = SmbBackend(server.host, f"{server.share}/{sub}", user=server.user,
                     password=server.password, port=server.port)
    try:
        with captured_log() as buf:
            res = api.copy(HostileFs(memroot, {"": crafted}), dst)
        assert res.exit_code == 0, buf.getvalue()
        assert "refusing" not in buf.getvalue()
        assert sorted(os.listdir(server.share_path / sub)) == [
            "..＼..＼victim.txt", "back＼slash.txt", "good.txt"]
        assert (server.share_path / sub / "back＼slash.txt").read_bytes() == b"b"
        assert not (server.share_path / "victim.txt").exists()
        assert not (server.share_path.parent / "victim.txt").exists()
        # listed back, the names are the source's: nothing left to copy
        with captured_log() as buf:
            res = api.copy(HostileFs(memroot, {"": crafted}), dst)
        assert res.exit_code == 0 and res.transfers == 0, buf.getvalue()
    finally:
        dst.close()
    res = api.copy(HostileFs(memroot, {"": crafted}), str(outer / "dst"))
    assert res.exit_code == 0
    assert sorted(os.listdir(outer / "dst")) == ["..\\..\\victim.txt", "back\\slash.txt",
                                                 "good.txt", "keep.txt"]


# ----- symlinks --------------------------------------------------------------------------------


def test_symlinks_out_of_the_tree_are_not_followed(tmp_path: Path) -> None:
    """Links in a local source to a file and a directory outside it are skipped with
    rclone's NOTICE; -L is the explicit request to follow them."""
    write_tree(tmp_path / "secret", {"key": "private"})
    write_tree(tmp_path / "src", {"a.txt": "a"})
    os.symlink(tmp_path / "secret", tmp_path / "src" / "dirlink")
    os.symlink(tmp_path / "secret" / "key", tmp_path / "src" / "filelink")
    os.symlink("../secret/key", tmp_path / "src" / "rellink")
    out = pysync("sync", str(tmp_path / "src"), str(tmp_path / "dst"))
    assert out.returncode == 0, out.stderr
    for name in ("dirlink", "filelink", "rellink"):
        assert f"{name}: Can't follow symlink without -L/--copy-links" in out.stderr
    assert read_tree(tmp_path / "dst") == {"a.txt": b"a"}
    out = pysync("copy", "-L", str(tmp_path / "src"), str(tmp_path / "followed"))
    assert out.returncode == 0, out.stderr
    assert files_only(read_tree(tmp_path / "followed"))["dirlink/key"] == b"private"


@pytest.mark.parametrize("mode", ["--delete-during", "--delete-before", "--delete-after"])
def test_refused_source_name_protects_its_destination_twin(memroot: str, outer: Path,
                                                           mode: str) -> None:
    """A refused source entry is not "absent": its destination twin (a name the
    destination's own listing accepts) is never deleted, whatever the delete mode. (A
    backslash name is no refused one on a local POSIX disk: it is copied, except with
    --delete-before, whose delete pass failed, so rclone's copy pass never runs.)"""
    fs = MemoryFileSystem()
    fs.pipe_file(f"{memroot}/good.txt", b"good")
    src = HostileFs(memroot, {"": {"new\nline.txt": b"evil", "back\\slash.txt": b"src"}})
    write_tree(outer / "dst", {"new\nline.txt": "twin", "back\\slash.txt": "twin2",
                               "gone.txt": "dst only"})
    flag = {"--delete-during": "delete_during", "--delete-before": "delete_before",
            "--delete-after": "delete_after"}[mode]
    res = api.sync(src, str(outer / "dst"), retries=1, **{flag: True})
    assert res.exit_code != 0
    tree = files_only(read_tree(outer / "dst"))
    assert tree["new\nline.txt"] == b"twin"
    if mode == "--delete-before":
        assert tree["back\\slash.txt"] == b"twin2" and "good.txt" not in tree
    else:
        assert tree["back\\slash.txt"] == b"src" and tree["good.txt"] == b"good"


def test_lsf_and_check_count_refused_names(memroot: str, outer: Path) -> None:
    """Listing and check report a refused name as an error (exit code 1), not silently."""
    from syncengine import listing
    from syncengine.filter import Filter
    from syncengine.options import ListOptions

    out = io.StringIO()
    with captured_log():
        code = listing.lsf(hostile_source(memroot, outer), Filter(), ListOptions(recursive=True),
                           max_depth=-1, out=out)
    assert code == 1
    assert sorted(out.getvalue().splitlines()) == ["d/", "d/inner.txt", "good.txt"]
    write_tree(outer / "same", {"good.txt": "good", "d/inner.txt": "inner"})
    with captured_log():
        res = api.check(hostile_source(memroot, outer), str(outer / "same"))
    assert res.errors == len(HOSTILE) + 1 and res.differences == 0 and res.matches == 2
    assert res.error is not None
