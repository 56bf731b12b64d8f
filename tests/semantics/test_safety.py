"""Safety rules: no torn files, source changes noticed, no deletions after errors."""

from __future__ import annotations

import threading
from pathlib import Path

import syncengine.api as api
from syncengine.backends.local import LocalBackend
from syncengine.errors import SourceChangedError
from tests.semantics.conftest import OLD, files_only, pysync, read_tree, write_tree


class GrowingSource(LocalBackend):
    """A real local backend whose file ``victim`` is appended to after it is opened,
    as a live service would do while pysync reads it."""

    def __init__(self, root: str, victim: str, times: int = 99) -> None:
        super().__init__(root)
        self.victim = victim
        self.left = times

    def open_read(self, path: str, offset: int = 0):  # type: ignore[override]
        fh = super().open_read(path, offset)
        if path != self.victim or self.left <= 0:
            return fh
        self.left -= 1
        return _AppendAfterFirstRead(fh, self.full(path))


class _AppendAfterFirstRead:
    """A reader that lets another writer append to its file after the first read."""

    def __init__(self, fh, full: str) -> None:
        self.fh, self.full, self.done = fh, full, False

    def readinto(self, buf) -> int:
        n = self.fh.readinto(buf)
        if not self.done:
            self.done = True
            with open(self.full, "ab") as w:
                w.write(b"appended while copying")
        return n

    def fileno(self) -> int:
        return self.fh.fileno()

    def close(self) -> None:
        self.fh.close()


class RecordingDest(LocalBackend):
    """Records the names files are written to."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.written: list[str] = []
        self.lock = threading.Lock()

    def open_write(self, path: str):  # type: ignore[override]
        with self.lock:
            self.written.append(path)
        return super().open_write(path)


def test_writes_go_to_partial_name_then_renamed(src: Path, dst: Path) -> None:
    write_tree(src, {"dir/file.dat": "x" * 1000})
    rec = RecordingDest(str(dst))
    assert api.copy(str(src), rec).exit_code == 0
    assert len(rec.written) == 1
    name = rec.written[0]
    assert name.startswith("dir/file.dat.") and name.endswith(".partial")
    assert len(name) == len("dir/file.dat.") + 8 + len(".partial")
    assert files_only(read_tree(dst)) == {"dir/file.dat": b"x" * 1000}


def test_inplace_writes_final_name(src: Path, dst: Path) -> None:
    write_tree(src, {"f": "1"})
    rec = RecordingDest(str(dst))
    api.copy(str(src), rec, inplace=True)
    assert rec.written == ["f"]


def test_source_changing_during_copy_fails_file_and_leaves_old_target(src: Path,
                                                                     dst: Path) -> None:
    write_tree(src, {"live.fdb": "v2" * 3_000_000, "static.dat": "s"}, mtime_ns=OLD + 10**9)
    write_tree(dst, {"live.fdb": "v1-old-content", "extra.txt": "must survive"})
    res = api.sync(GrowingSource(str(src), "live.fdb"), str(dst), retries=2)
    assert res.exit_code == 6  # no-retry class once the retries are used up
    assert res.attempts == 2
    assert all(isinstance(e.error, SourceChangedError) for e in res.errors if e.path)
    assert any("can't copy - source file is being updated (size changed from"
               in str(e.error) for e in res.errors)
    tree = files_only(read_tree(dst))
    assert tree["live.fdb"] == b"v1-old-content"  # old target intact, nothing torn
    assert tree["extra.txt"] == b"must survive"  # no deletion after an error
    assert tree["static.dat"] == b"s"  # other files still copied
    assert not list(dst.rglob("*.partial"))
    assert res.skipped_changing == ["live.fdb"]


def test_source_change_cured_by_whole_run_retry(src: Path, dst: Path) -> None:
    write_tree(src, {"live.fdb": "v2" * 1000})
    res = api.copy(GrowingSource(str(src), "live.fdb", times=1), str(dst), retries=3)
    assert res.exit_code == 0 and res.attempts == 2
    assert (dst / "live.fdb").read_bytes() == (src / "live.fdb").read_bytes()


def test_no_deletions_after_any_error_delete_after(src: Path, dst: Path, caplog) -> None:
    write_tree(src, {"ok": "1", "bad": "2"})
    write_tree(dst, {"dst-only": "keep me", "olddir/x": "keep"})

    class Failing(LocalBackend):
        def open_read(self, path: str, offset: int = 0):  # type: ignore[override]
            if path == "bad":
                raise OSError(5, "Input/output error")
            return super().open_read(path, offset)

    res = api.sync(Failing(str(src)), str(dst), retries=1)
    assert res.exit_code != 0
    tree = read_tree(dst)
    assert tree["dst-only"] == b"keep me" and tree["olddir/x"] == b"keep"
    assert tree["ok"] == b"1"
    # as rclone: the refusal is logged, not counted as a second error
    assert "not deleting files as there were IO errors" in caplog.text
    assert "not deleting directories as there were IO errors" in caplog.text
    assert len(res.errors) == 1 and "Input/output error" in str(res.errors[0].error)


def test_cli_reports_not_deleting(src: Path, dst: Path) -> None:
    write_tree(src, {"a": "new"}, mtime_ns=OLD + 10**9)
    write_tree(dst, {"a": "old", "z": "dst only"})
    out = pysync("sync", "--retries", "1", "--max-transfer", "0", "--cutoff-mode", "soft",
                 str(src), str(dst))
    # the transfer limit error (exit 8) blocks deletions too
    assert (dst / "z").exists()
    assert out.returncode == 8, out.stderr
    assert "not deleting files as there were IO errors" in out.stderr


def test_failed_copy_removes_partial(src: Path, dst: Path) -> None:
    write_tree(src, {"f": "data" * 1000})

    class BrokenWriter(LocalBackend):
        def set_mtime(self, path: str, mtime_ns: int) -> None:
            if path.endswith(".partial"):
                raise OSError(28, "No space left on device")
            super().set_mtime(path, mtime_ns)

    res = api.copy(str(src), BrokenWriter(str(dst)), retries=1)
    assert res.exit_code != 0
    assert read_tree(dst) == {}


def test_low_level_retry_is_not_counted(src: Path, dst: Path, caplog) -> None:
    """A transient error cured by a low-level retry is no error of the run (as rclone): the
    file is copied once, counted once, and the bytes of the failed try are not reported."""
    write_tree(src, {"a.dat": "x" * 5000, "b.dat": "y" * 10})
    fails = {"a.dat": 2}

    class Flaky(LocalBackend):
        def open_write(self, path: str):  # type: ignore[override]
            name = path.split("/")[-1].split(".")[0] + ".dat"
            if fails.get(name, 0) > 0:
                fails[name] -= 1
                raise ConnectionResetError(104, "Connection reset by peer")
            return super().open_write(path)

    caplog.set_level(5)
    res = api.copy(str(src), Flaky(str(dst)), retries=1)
    assert res.exit_code == 0 and res.errors == []
    assert res.stats.errors == 0 and res.stats.transfers == 2
    assert res.stats.bytes == 5010
    assert read_tree(dst) == {"a.dat": b"x" * 5000, "b.dat": b"y" * 10}
    assert "low level retry 1/10" in caplog.text and "low level retry 2/10" in caplog.text
    # a transient error on every try is counted once, after the last try
    fails["a.dat"] = 99
    (dst / "a.dat").unlink()
    res = api.copy(str(src), Flaky(str(dst)), retries=1, low_level_retries=3)
    assert res.exit_code != 0 and res.stats.errors == 1 and len(res.errors) == 1
    assert not (dst / "a.dat").exists()


def test_skip_changing_leaves_live_file_for_later(src: Path, dst: Path, caplog) -> None:
    """--skip-changing: the live file is skipped with a NOTICE, nothing torn, no error, the
    rest of the run (deletions included) goes on, and the exit code is 11."""
    write_tree(src, {"live.fdb": "v2" * 3_000_000, "static.dat": "s"}, mtime_ns=OLD + 10**9)
    write_tree(dst, {"live.fdb": "v1-old-content", "extra.txt": "dst only"})
    caplog.set_level(20)
    res = api.sync(GrowingSource(str(src), "live.fdb"), str(dst), retries=3,
                   skip_changing=True)
    assert res.exit_code == 11 and res.errors == [] and res.attempts == 1
    assert res.skipped_changing == ["live.fdb"]
    assert res.stats.errors == 0 and res.stats.skipped_changing == 1
    assert res.stats.transfers == 1  # static.dat only
    tree = files_only(read_tree(dst))
    assert tree == {"live.fdb": b"v1-old-content", "static.dat": b"s"}  # extra.txt deleted
    assert not list(dst.rglob("*.partial"))
    assert "Skipped copy: can't copy - source file is being updated" in caplog.text
    assert "1 file changed while being copied and left for a later run" in caplog.text
    from syncengine.accounting import format_stats_block, stats_json
    assert stats_json(res.stats)["skippedChanging"] == 1
    assert "Skipped:                1 (changing" in format_stats_block(res.stats)
    # the next run, with the file quiet again, copies it and exits 0
    res = api.sync(str(src), str(dst), skip_changing=True)
    assert res.exit_code == 0
    assert (dst / "live.fdb").read_bytes() == (src / "live.fdb").read_bytes()


def test_skip_changing_cli_exit_code(src: Path, dst: Path) -> None:
    write_tree(src, {"a": "1"})
    out = pysync("copy", "--skip-changing", str(src), str(dst))
    assert out.returncode == 0, out.stderr  # nothing changed: a plain success
    assert (dst / "a").read_bytes() == b"1"
    assert "exit code 11" in pysync("copy", "--help").stdout
