"""Faults other than signals: an unreadable source file, a file that vanishes between the
listing and its copy. Each runs against the real rclone too, pinning its exit code and lines.

rclone 1.75: ``<file>: Failed to copy: failed to open source object: open <path>: permission
denied`` (``lstat <path>: no such file or directory`` for a vanished file), then ``not
deleting files as there were IO errors``, exit code 1; a later attempt or rerun converges.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import syncengine.api as api
from syncengine.backends.local import LocalBackend
from syncengine.transfer import SourceOpenError
from tests.semantics.conftest import files_only, read_tree, write_tree
from tests.semantics.procs import TOOLS, partials, run, started, wait_for_partial

NOT_DELETING = "not deleting files as there were IO errors"
# Root reads any file whatever its mode: drop the two capabilities that allow it (the uid
# stays 0, so the tree the test made stays ours to write).
_NO_DAC = "-dac_override,-dac_read_search"


def _unprivileged() -> tuple[str, ...]:
    """A command prefix under which file permissions apply to the child."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop root's file capabilities"
    return (setpriv, f"--inh-caps={_NO_DAC}", f"--bounding-set={_NO_DAC}", "--")


def _scene(root: Path) -> tuple[Path, Path]:
    src, dst = root / "src", root / "dst"
    write_tree(src, {"locked.txt": "secret", "ok.txt": "ok", "sub/fine.txt": "fine"})
    write_tree(dst, {"locked.txt": "old locked", "extra.txt": "extra", "olddir/x.txt": "x"})
    return src, dst


@pytest.mark.parametrize("tool", TOOLS)
def test_unreadable_source_file_fails_the_run_and_deletes_nothing(tool: str,
                                                                  tmp_path: Path) -> None:
    src, dst = _scene(tmp_path)
    locked = src / "locked.txt"
    locked.chmod(0)
    prefix = _unprivileged()
    probe = subprocess.run([*prefix, sys.executable, "-c", f"open({str(locked)!r}).read()"],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "PermissionError" in probe.stderr  # the fault is real
    try:
        done = run(tool, "sync", str(src), str(dst), prefix=prefix)
    finally:
        locked.chmod(0o644)
    assert done.returncode == 1, done.stderr
    err = done.stderr
    assert (f"ERROR : locked.txt: Failed to copy: failed to open source object: open "
            f"{locked}: permission denied\n") in err
    assert f"ERROR : Local file system at {dst}: {NOT_DELETING}\n" in err
    assert (f"ERROR : Local file system at {dst}: not deleting directories as there were IO "
            "errors\n") in err
    # the refusals are not counted: one error, reported alone
    assert ("NOTICE: Failed to sync: failed to open source object: open "
            f"{locked}: permission denied\n") in err
    assert files_only(read_tree(dst)) == {
        "locked.txt": b"old locked", "extra.txt": b"extra", "olddir/x.txt": b"x",
        "ok.txt": b"ok", "sub/fine.txt": b"fine"}  # the readable files copied, none deleted
    rerun = run(tool, "sync", str(src), str(dst))
    assert rerun.returncode == 0, rerun.stderr
    assert read_tree(dst) == read_tree(src)


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("retries", ["1", "3"])
def test_file_vanishing_between_listing_and_copy(tool: str, retries: str,
                                                 tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    big = os.urandom(8 * 1024 * 1024)
    write_tree(src, {"a_big.bin": big, "z_small.txt": "small"})
    write_tree(dst, {"extra.txt": "extra", "olddir/x.txt": "x"})
    # one transfer at a time, slowly: z_small.txt is listed and queued behind a_big.bin
    args = ["sync", "--transfers", "1", "--checkers", "1", "--bwlimit", "4M",
            "--retries", retries, str(src), str(dst)]
    with started(tool, args, tmp_path / "log.txt") as child:
        wait_for_partial(child, dst, "a_big.bin")
        (src / "z_small.txt").unlink()
        done = child.wait()
    err = done.stderr
    assert (f"ERROR : z_small.txt: Failed to copy: failed to open source object: lstat "
            f"{src}/z_small.txt: no such file or directory\n") in err
    assert f"ERROR : Local file system at {dst}: {NOT_DELETING}\n" in err
    assert (dst / "a_big.bin").read_bytes() == big
    assert partials(dst) == []
    if retries == "1":
        assert done.returncode == 1, err
        assert "NOTICE: Failed to sync" in err
        assert "ERROR : Attempt 1/1 failed with 1 errors and: " in err  # after the last too
        assert files_only(read_tree(dst)) == {"a_big.bin": big, "extra.txt": b"extra",
                                              "olddir/x.txt": b"x"}  # nothing deleted
        rerun = run(tool, "sync", str(src), str(dst))
        assert rerun.returncode == 0, rerun.stderr
    else:  # the second attempt lists again, without the vanished file, and completes
        assert done.returncode == 0, err
        assert "ERROR : Attempt 1/3 failed with " in err
        assert "ERROR : Attempt 2/3 succeeded" in err
    assert read_tree(dst) == read_tree(src)


class _VanishingSource(LocalBackend):
    """A local source whose file ``victim`` is deleted just before it is opened."""

    def __init__(self, root: str, victim: str) -> None:
        super().__init__(root)
        self.victim = victim

    def open_read(self, path: str, offset: int = 0):  # type: ignore[override]
        if path == self.victim:
            Path(self.full(path)).unlink(missing_ok=True)
        return super().open_read(path, offset)


def test_vanished_file_in_library_sync_keeps_errno_and_deletes_nothing(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"a.txt": "a", "gone.txt": "g"})
    write_tree(dst, {"extra.txt": "extra"})
    result = api.sync(_VanishingSource(str(src), "gone.txt"), str(dst), retries=1)
    assert result.exit_code == 1
    errors = [e.error for e in result.errors if e.path == "gone.txt"]
    assert len(errors) == 1 and isinstance(errors[0], SourceOpenError)
    assert isinstance(errors[0], OSError) and errors[0].errno == 2
    assert str(errors[0]) == ("failed to open source object: lstat "
                              f"{src}/gone.txt: no such file or directory")
    assert files_only(read_tree(dst)) == {"a.txt": b"a", "extra.txt": b"extra"}
