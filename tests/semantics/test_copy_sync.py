"""Scenario tests of copy and sync: write src, write dst, run, check every item."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import syncengine.api as api
from syncengine.backends.local import LocalBackend
from tests.semantics.conftest import OLD, files_only, pysync, read_tree, write_tree


def test_copy_creates_files_with_mtimes_and_never_deletes(src: Path, dst: Path) -> None:
    write_tree(src, {"a.txt": "aaa", "sub/b.dat": "bb", "empty/": ""})
    write_tree(dst, {"only-dst.txt": "x", "sub/old.txt": "o"})
    res = api.copy(str(src), str(dst))
    assert res.exit_code == 0 and res.errors == []
    tree = read_tree(dst)
    assert files_only(tree) == {"a.txt": b"aaa", "sub/b.dat": b"bb", "only-dst.txt": b"x",
                                "sub/old.txt": b"o"}
    assert "empty/" not in tree  # empty source dirs only with --create-empty-src-dirs
    assert (dst / "a.txt").stat().st_mtime_ns == OLD
    assert not [p for p in dst.rglob("*.partial")]


def test_sync_deletes_destination_only_files_and_dirs(src: Path, dst: Path) -> None:
    write_tree(src, {"keep.txt": "k", "d/keep2.txt": "k2"})
    write_tree(dst, {"keep.txt": "k", "gone.txt": "g", "olddir/deep/x": "x", "d/extra": "e"})
    res = api.sync(str(src), str(dst))
    assert res.exit_code == 0
    assert read_tree(dst) == {"keep.txt": b"k", "d/": b"", "d/keep2.txt": b"k2"}
    assert res.deletes == 3


def test_create_empty_src_dirs(src: Path, dst: Path) -> None:
    write_tree(src, {"a/b/": "", "f": "1"})
    api.copy(str(src), str(dst), create_empty_src_dirs=True)
    assert "a/b/" in read_tree(dst)


def test_same_size_same_content_new_mtime_only_updates_time(src: Path, dst: Path,
                                                             caplog) -> None:
    write_tree(src, {"f.txt": "same"}, mtime_ns=OLD + 10**9)
    write_tree(dst, {"f.txt": "same"}, mtime_ns=OLD)
    ino = (dst / "f.txt").stat().st_ino
    res = api.sync(str(src), str(dst))
    assert res.exit_code == 0 and res.transfers == 0
    st = (dst / "f.txt").stat()
    assert st.st_mtime_ns == OLD + 10**9 and st.st_ino == ino  # not rewritten


def test_same_size_different_content_is_transferred(src: Path, dst: Path) -> None:
    write_tree(src, {"f.txt": "new!"}, mtime_ns=OLD + 10**9)
    write_tree(dst, {"f.txt": "old!"}, mtime_ns=OLD)
    res = api.sync(str(src), str(dst))
    assert res.transfers == 1 and (dst / "f.txt").read_text() == "new!"


def test_zero_length_source_replaces_non_empty_destination(src: Path, dst: Path) -> None:
    write_tree(src, {"f": ""}, mtime_ns=OLD + 10**9)
    write_tree(dst, {"f": "content"})
    api.sync(str(src), str(dst))
    assert (dst / "f").read_bytes() == b""


@pytest.mark.parametrize("flag,expect_copied", [
    ({"ignore_existing": True}, False), ({"size_only": True}, False),
    ({"checksum": True}, True), ({"ignore_times": True}, True), ({}, True)])
def test_compare_flags(src: Path, dst: Path, flag: dict, expect_copied: bool) -> None:
    write_tree(src, {"f": "AAAA"}, mtime_ns=OLD)
    write_tree(dst, {"f": "BBBB"}, mtime_ns=OLD + 5 * 10**9)
    api.copy(str(src), str(dst), **flag)
    assert ((dst / "f").read_text() == "AAAA") is expect_copied


def test_update_skips_newer_destination_even_if_size_differs(src: Path, dst: Path) -> None:
    write_tree(src, {"f": "short"}, mtime_ns=OLD)
    write_tree(dst, {"f": "much longer"}, mtime_ns=OLD + 10**9)
    api.copy(str(src), str(dst), update=True)
    assert (dst / "f").read_text() == "much longer"


def test_dry_run_changes_nothing_and_logs_notices(src: Path, dst: Path) -> None:
    write_tree(src, {"new.txt": "12345678901"})
    write_tree(dst, {"gone.txt": "x" * 21})
    before = read_tree(dst)
    out = pysync("sync", "--dry-run", str(src), str(dst))
    assert out.returncode == 0, out.stderr
    assert read_tree(dst) == before
    assert "new.txt: Skipped copy as --dry-run is set (size 11)" in out.stderr
    assert "gone.txt: Skipped delete as --dry-run is set (size 21)" in out.stderr


def test_max_delete_is_fatal_exit_7_even_in_dry_run(src: Path, dst: Path) -> None:
    write_tree(src, {"k": "k"})
    write_tree(dst, {"k": "k", "a": "1", "b": "2", "c": "3"})
    out = pysync("sync", "--max-delete", "1", "--delete-during", str(src), str(dst))
    assert out.returncode == 7, out.stderr
    assert "--max-delete threshold reached" in out.stderr
    assert len(files_only(read_tree(dst))) == 3  # exactly one deletion allowed
    write_tree(dst, {"a": "1"})
    out = pysync("sync", "--dry-run", "--max-delete", "0", str(src), str(dst))
    assert out.returncode == 7


def test_backup_dir_keeps_replaced_and_deleted_files(src: Path, dst: Path,
                                                    tmp_path: Path) -> None:
    write_tree(src, {"f.txt": "new"}, mtime_ns=OLD + 10**9)
    write_tree(dst, {"f.txt": "old", "del.txt": "d"})
    bak = tmp_path / "bak"
    res = api.sync(str(src), str(dst), backup_dir=str(bak), suffix=".1")
    assert res.exit_code == 0, res.errors
    assert files_only(read_tree(dst)) == {"f.txt": b"new"}
    assert files_only(read_tree(bak)) == {"f.txt.1": b"old", "del.txt.1": b"d"}


def test_suffix_keep_extension(src: Path, dst: Path) -> None:
    write_tree(src, {"test.txt": "new"}, mtime_ns=OLD + 10**9)
    write_tree(dst, {"test.txt": "old"})
    api.copy(str(src), str(dst), suffix="-2020", suffix_keep_extension=True)
    assert files_only(read_tree(dst)) == {"test.txt": b"new", "test-2020.txt": b"old"}


def test_overlapping_sync_is_refused_exit_7(src: Path) -> None:
    write_tree(src, {"f": "1"})
    out = pysync("sync", str(src), str(src / "inner"))
    assert out.returncode == 7
    assert "can't sync or move files on overlapping remotes" in out.stderr


def test_copy_to_itself_does_nothing(src: Path) -> None:
    write_tree(src, {"f": "1"})
    out = pysync("copy", str(src), str(src))
    assert out.returncode == 0
    assert "Nothing to do as source and destination are the same" in out.stderr


def test_missing_source_exits_3(tmp_path: Path) -> None:
    out = pysync("copy", str(tmp_path / "nope"), str(tmp_path / "dst"))
    assert out.returncode == 3, out.stderr
    assert "directory not found" in out.stderr


def test_copy_single_file_source(src: Path, dst: Path) -> None:
    write_tree(src, {"one.txt": "1", "two.txt": "2"})
    out = pysync("copy", str(src / "one.txt"), str(dst))
    assert out.returncode == 0, out.stderr
    assert files_only(read_tree(dst)) == {"one.txt": b"1"}


def test_second_identical_run_logs_only_nothing_to_transfer(src: Path, dst: Path) -> None:
    write_tree(src, {"a/b.txt": "b", "c.txt": "c"})
    assert pysync("sync", str(src), str(dst)).returncode == 0
    out = pysync("sync", "-v", "--stats", "0", str(src), str(dst))
    lines = [ln.split(" : ", 1)[-1] for ln in out.stderr.splitlines()
             if "INFO" in ln or "NOTICE" in ln]
    assert [ln for ln in lines if ln.strip()] == ["There was nothing to transfer"]


def test_error_on_no_transfer_exit_9(src: Path, dst: Path) -> None:
    write_tree(src, {"a": "1"})
    assert pysync("copy", str(src), str(dst)).returncode == 0
    assert pysync("copy", "--error-on-no-transfer", str(src), str(dst)).returncode == 9


def test_sync_min_age_deletes_old_copy_of_fresh_source_and_warns(src: Path, dst: Path) -> None:
    """rclone's unsafe behaviour, reproduced by default but announced loudly."""
    write_tree(src, {"db.fdb": "v2"}, mtime_ns=time.time_ns())
    write_tree(dst, {"db.fdb": "v1"})
    out = pysync("sync", "--min-age", "1d", str(src), str(dst))
    assert out.returncode == 0, out.stderr
    assert not (dst / "db.fdb").exists()
    assert "WARNING" in out.stderr and "db.fdb" in out.stderr


def test_symlinks_skipped_by_default_followed_with_L(src: Path, dst: Path) -> None:
    write_tree(src, {"real.txt": "r"})
    os.symlink(src / "real.txt", src / "link.txt")
    out = pysync("copy", str(src), str(dst))
    assert "link.txt: Can't follow symlink without -L/--copy-links" in out.stderr
    assert files_only(read_tree(dst)) == {"real.txt": b"r"}
    pysync("copy", "-L", str(src), str(dst / "L"))
    assert (dst / "L" / "link.txt").read_text() == "r"


def test_json_log_final_stats_has_rclone_fields(src: Path, dst: Path) -> None:
    import json

    write_tree(src, {"a": "12345"})
    out = pysync("copy", "--use-json-log", "-v", str(src), str(dst))
    objs = [json.loads(ln) for ln in out.stderr.splitlines() if ln.startswith("{")]
    stats = [o["stats"] for o in objs if "stats" in o]
    assert stats, out.stderr
    for key in ("bytes", "checks", "transfers", "deletes", "errors", "elapsedTime"):
        assert key in stats[-1]
    assert stats[-1]["bytes"] == 5 and stats[-1]["transfers"] == 1


def test_library_api_returns_errors_not_swallowed(src: Path, dst: Path) -> None:
    write_tree(src, {"a": "1", "b": "2"})

    class Failing(LocalBackend):
        def open_read(self, path: str, offset: int = 0):  # type: ignore[override]
            if path == "b":
                raise PermissionError(13, "Permission denied")
            return super().open_read(path, offset)

    res = api.copy(Failing(str(src)), str(dst), retries=1)
    assert res.exit_code == 1
    assert [e.path for e in res.errors] == ["b"]
    assert files_only(read_tree(dst)) == {"a": b"1"}


def test_links_round_trip_as_symlinks(src: Path, dst: Path) -> None:
    write_tree(src, {"real.txt": "r", "sub/deeper/x": "x"})
    os.symlink("real.txt", src / "link.txt")
    # a link below the root: its target is read in its own folder (listings go through a
    # descriptor of each folder)
    os.symlink("../../real.txt", src / "sub" / "deeper" / "up.txt")
    os.symlink("x", src / "sub" / "deeper" / "same")
    out = pysync("sync", "-l", str(src), str(dst))
    assert out.returncode == 0, out.stderr
    assert os.readlink(dst / "link.txt") == "real.txt"
    assert os.readlink(dst / "sub" / "deeper" / "up.txt") == "../../real.txt"
    assert os.readlink(dst / "sub" / "deeper" / "same") == "x"
    # a second run sees the link as the same .rclonelink file: nothing to do
    out = pysync("sync", "-l", "-v", "--stats", "0", str(src), str(dst))
    assert "There was nothing to transfer" in out.stderr, out.stderr


def test_progress_draws_a_bar_on_a_terminal_and_plain_stats_otherwise(src: Path,
                                                                     dst: Path) -> None:
    import pty
    import sys

    write_tree(src, {f"d/f{i}": "x" * 1000 for i in range(50)})
    pid, fd = pty.fork()
    if pid == 0:  # child: run pysync on a pseudo-terminal
        os.execvp(sys.executable, [sys.executable, "-m", "syncengine", "copy", "-P",
                                   str(src), str(dst / "tty")])
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert "%|" in text and "Transferred:" in text  # the tqdm bar, then the stats block
    piped = pysync("copy", "-P", str(src), str(dst / "pipe"))
    assert "%|" not in piped.stderr  # no bar when stderr is not a terminal
    assert "Transferred:" in piped.stderr and "50 / 50, 100%" in piped.stderr


def test_multi_thread_streams_copy_identical_big_file(src: Path, dst: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 12345)
    write_tree(src, {"big.dat": data, "small.txt": "s"})
    out = pysync("copy", "-v", "--multi-thread-streams", "3", "--multi-thread-cutoff", "1M",
                 str(src), str(dst))
    assert out.returncode == 0, out.stderr
    assert "big.dat: Multi-thread Copied (new)" in out.stderr
    assert "small.txt: Copied (new)" in out.stderr
    assert (dst / "big.dat").read_bytes() == data
    assert (dst / "big.dat").stat().st_mtime_ns == OLD
    assert not list(dst.rglob("*.partial"))
    # without the flag, local to local stays single-stream as in rclone
    out = pysync("copy", "-v", "--multi-thread-cutoff", "1M", str(src), str(dst / "b"))
    assert "big.dat: Copied (new)" in out.stderr
