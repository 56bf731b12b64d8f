"""The lean copy of new small local files (syncengine.smallcopy) against the general path:
the same files, times, counts and log lines; and every file it cannot finish handed back
with no partial file left."""

from __future__ import annotations

import errno
import logging
import os
import random
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

from syncengine import api, interrupt, smallcopy
from syncengine.accounting import Stats
from syncengine.actions import Copy
from syncengine.backends.local import LocalBackend
from syncengine.options import SyncOptions
from syncengine.planner import SMALL_FILE
from syncengine.transfer import Transferer, partial_name_for

from .conftest import OLD, write_tree
from .procs import partials, started


def _random_tree(root: Path, seed: int) -> None:
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for d in range(6):
        for f in range(rng.randrange(1, 30)):
            size = rng.choice([0, 1, 100, 4096, 65_537, SMALL_FILE - 1, SMALL_FILE + 10])
            files[f"d{d}/sub{f % 3}/f{f}.dat"] = rng.randbytes(size)
    write_tree(root, files)
    for i, p in enumerate(sorted(root.rglob("*.dat"))):  # distinct times, some sub-second
        os.utime(p, ns=(OLD + i * 1_000_000_123, OLD + i * 1_000_000_123))


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def test_lean_copy_matches_the_general_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "src"
    _random_tree(src, 7)
    used: list[int] = []
    real = smallcopy.copy_batch

    def counted(t, batch, stats, stop):  # type: ignore[no-untyped-def]
        left = real(t, batch, stats, stop)
        used.append(len(batch) - len(left))
        return left

    monkeypatch.setattr(smallcopy, "copy_batch", counted)
    with caplog.at_level(logging.INFO, logger="syncengine"):
        lean = api.copy(str(src), str(tmp_path / "lean"))
    lean_lines = sorted(r.getMessage() for r in caplog.records if "Copied" in r.getMessage())
    caplog.clear()
    assert sum(used) > 0  # the small files went the lean way
    monkeypatch.setattr(smallcopy, "lean_ok", lambda t: False)
    with caplog.at_level(logging.INFO, logger="syncengine"):
        general = api.copy(str(src), str(tmp_path / "general"))
    general_lines = sorted(r.getMessage() for r in caplog.records
                           if "Copied" in r.getMessage())
    assert lean.exit_code == general.exit_code == 0
    assert _snapshot(tmp_path / "lean") == _snapshot(tmp_path / "general") == _snapshot(src)
    assert lean.transfers == general.transfers == len(_snapshot(src))
    assert lean.stats.bytes == general.stats.bytes
    assert lean.stats.transfers == general.stats.transfers
    assert lean_lines == general_lines and len(lean_lines) == len(_snapshot(src))
    assert not list((tmp_path / "lean").rglob("*.partial"))


def _transferer(src: Path, dst: Path) -> Transferer:
    return Transferer(LocalBackend(str(src)), LocalBackend(str(dst)), SyncOptions(), Stats(),
                      None)


def _copies(src: Path, names: list[str], folder: str = "in") -> list[Copy]:
    out = []
    for n in names:
        p = src / folder / n
        st = p.stat() if p.exists() else None
        out.append(Copy(f"{folder}/{n}", f"{folder}/{n}", st.st_size if st else 3,
                        st.st_mtime_ns if st else OLD))
    return out


def test_files_it_cannot_copy_are_handed_back_and_leave_nothing(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"in/a": "aaa", "in/b": "bbbb", "in/adir/x": "x", "in/c": "c"})
    t = _transferer(src, dst)
    assert smallcopy.lean_ok(t)
    batch = _copies(src, ["a", "gone", "b", "adir", "c"])
    stats = t.stats
    stats.add_total_transfer(sum(a.size for a in batch), count=len(batch))
    left = smallcopy.copy_batch(t, batch, stats, lambda: False)
    assert [a.path for a in left] == ["in/gone", "in/adir"]
    assert sorted(os.listdir(dst / "in")) == ["a", "b", "c"]  # its folder made, no partial
    for n in ("a", "b", "c"):
        assert (dst / "in" / n).read_bytes() == (src / "in" / n).read_bytes()
        assert (dst / "in" / n).stat().st_mtime_ns == OLD
    snap = stats.snapshot()
    assert (snap.transfers, snap.bytes) == (3, 8)
    assert not stats._transferring  # the batch's transfer ended uncounted


def test_the_time_and_size_at_open_are_copied_not_the_listed_ones(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"in/a": "listed"})
    batch = _copies(src, ["a"])
    (src / "in" / "a").write_bytes(b"rewritten before the copy")
    os.utime(src / "in" / "a", ns=(OLD + 5, OLD + 5))
    t = _transferer(src, dst)
    assert smallcopy.copy_batch(t, batch, t.stats, lambda: False) == []
    assert (dst / "in" / "a").read_bytes() == b"rewritten before the copy"
    assert (dst / "in" / "a").stat().st_mtime_ns == OLD + 5


def test_a_source_changing_during_the_copy_is_handed_back(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"in/grows": "0123456789", "in/touched": "abc", "in/fine": "ok"})
    real = os.copy_file_range

    def writer_meanwhile(fi: int, fo: int, count: int) -> int:
        # another program writes to the source while the kernel copies it
        name = os.readlink(f"/proc/self/fd/{fi}")
        if name.endswith("grows"):
            with open(name, "ab") as fh:
                fh.write(b"more")
        elif name.endswith("touched"):
            os.utime(name, ns=(OLD + 1, OLD + 1))
        return real(fi, fo, count)

    monkeypatch.setattr(smallcopy.os, "copy_file_range", writer_meanwhile)
    t = _transferer(src, dst)
    left = smallcopy.copy_batch(t, _copies(src, ["grows", "touched", "fine"]), t.stats,
                                lambda: False)
    assert [a.path for a in left] == ["in/grows", "in/touched"]
    assert os.listdir(dst / "in") == ["fine"]  # no torn file, no partial file


def test_a_stopping_run_starts_no_file(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"in/a": "a", "in/b": "b"})
    t = _transferer(src, dst)
    batch = _copies(src, ["a", "b"])
    assert smallcopy.copy_batch(t, batch, t.stats, lambda: True) == batch
    t.cancel.set()
    assert smallcopy.copy_batch(t, batch, t.stats, lambda: False) == batch
    assert not (dst / "in").exists() or os.listdir(dst / "in") == []


def test_partial_name_is_the_general_paths(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_tree(src, {"in/a": "a"})
    (a,) = _copies(src, ["a"])
    from syncengine.transfer import partial_name

    assert partial_name_for(a.dst_path, a.size, a.mtime_ns, ".partial") == \
        partial_name(a.dst_path, a.source, ".partial")


def test_interrupt_cleanup_waits_for_a_batch_off_the_main_thread(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {"in/a": "a", "in/b": "b"})
    t = _transferer(src, dst)
    inside, go_on = threading.Event(), threading.Event()
    seen: list[bool] = []

    def batch_thread() -> None:
        with interrupt.creating(t.dst) as live:
            seen.append(live.closing())
            inside.set()
            go_on.wait(10)
            seen.append(live.closing())

    worker = threading.Thread(target=batch_thread)
    cleaner = threading.Thread(target=interrupt.remove_partials)
    try:
        worker.start()
        assert inside.wait(10)
        cleaner.start()
        for _ in range(1000):
            if interrupt._closing:
                break
            time.sleep(0.01)
        cleaner.join(0.2)
        assert cleaner.is_alive()  # the clean-up waits for the batch under way
        go_on.set()
        worker.join(10)
        cleaner.join(10)
        assert not cleaner.is_alive() and seen == [False, True]
        batch = _copies(src, ["a", "b"])
        assert smallcopy.copy_batch(t, batch, t.stats, lambda: False) == batch
        assert not (dst / "in").exists() or os.listdir(dst / "in") == []
    finally:
        go_on.set()
        interrupt._reset_for_tests()


def test_on_the_main_thread_the_file_in_hand_is_registered_not_waited_for(
        tmp_path: Path) -> None:
    # SIGINT's handler runs on the main thread, between two steps of the batch: waiting
    # for the batch would wait for ever, so the partial file in hand must be registered
    backend = LocalBackend(str(tmp_path))
    try:
        with interrupt.creating(backend) as live:
            live.register("a.partial")
            (tmp_path / "a.partial").write_bytes(b"half")
            live.register("b.partial")  # registered, not yet created
            interrupt.remove_partials()  # what the handler's clean-up does, from here
            assert live.closing()
        assert not (tmp_path / "a.partial").exists()
        assert interrupt.live_partials() == []
    finally:
        interrupt._reset_for_tests()


def test_sigint_during_small_file_copies_exits_at_once_without_partials(tmp_path: Path
                                                                         ) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {f"d{d}/f{i}": os.urandom(1000) for d in range(40) for i in range(250)})
    with started("pysync", ["copy", "-v", "--stats", "0", str(src), str(dst)],
                 tmp_path / "log.txt") as child:
        for _ in range(3000):  # until the copy is under way (a safety net, no timing)
            if dst.is_dir() and sum(len(f) for _, _, f in os.walk(dst)) > 200:
                break
            time.sleep(0.01)
        child.signal(signal.SIGINT)
        done = child.wait()  # hung for the clean-up's 60 s before the fix: WAIT_LIMIT fails
    assert done.returncode == 130, done.stderr
    assert "INFO  : Exiting...\n" in done.stderr
    assert partials(dst) == []
    copied = [p for p in dst.rglob("*") if p.is_file()]
    assert 0 < len(copied) < 10_000  # stopped in the middle
    for p in copied:  # every file under its final name is whole
        assert p.read_bytes() == (src / p.relative_to(dst)).read_bytes()


@pytest.mark.parametrize(("ns", "text"), [
    (0, "1970-01-01 00:00:00 +0000 UTC"),
    (1_500_000_000, "1970-01-01 00:00:01.5 +0000 UTC"),
    (-1, "1969-12-31 23:59:59.999999999 +0000 UTC"),
    (1_600_000_000 * 10**9 + 120, "2020-09-13 12:26:40.00000012 +0000 UTC"),
    (2**63 - 1, "2262-04-11 23:47:16.854775807 +0000 UTC"),
    (-(2**63), "1677-09-21 00:12:43.145224192 +0000 UTC"),
])
def test_go_time_utc_prints_as_go(ns: int, text: str) -> None:
    # Go: time.Unix(0, ns).UTC().String(), the fingerprint in rclone's partial names
    from syncengine.transfer import go_time_utc

    assert go_time_utc(ns) == text


def test_another_file_system_copies_with_sendfile(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # copy_file_range refuses two file systems (EXDEV, Linux 5.19+): every file of the batch
    # must still be copied here, not handed back one by one
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, {f"in/f{i}": os.urandom(i * 1000) for i in range(5)})
    calls: list[int] = []

    def refuse(fi: int, fo: int, count: int) -> int:
        calls.append(count)
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "copy_file_range", refuse)
    t = _transferer(src, dst)
    assert smallcopy.copy_batch(t, _copies(src, [f"f{i}" for i in range(5)]), t.stats,
                                lambda: False) == []
    assert len(calls) == 1  # asked once per batch
    for i in range(5):
        assert (dst / "in" / f"f{i}").read_bytes() == (src / "in" / f"f{i}").read_bytes()
        assert (dst / "in" / f"f{i}").stat().st_mtime_ns == OLD


def test_a_copy_between_two_mounted_file_systems(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    other = [d for d in ("/dev/shm", "/run", "/var/tmp", "/tmp")
             if os.path.isdir(d) and os.access(d, os.W_OK)
             and os.stat(d).st_dev != os.stat(tmp_path).st_dev]
    if not other:
        pytest.fail("no writable folder on another file system than the test folder")
    src = Path(tempfile.mkdtemp(dir=other[0]))
    left: list[int] = []
    real = smallcopy.copy_batch

    def counted(t, batch, stats, stop):  # type: ignore[no-untyped-def]
        rest = real(t, batch, stats, stop)
        left.append(len(rest))
        return rest

    monkeypatch.setattr(smallcopy, "copy_batch", counted)
    try:
        write_tree(src, {f"in/f{i}": os.urandom(2000 + i) for i in range(20)})
        res = api.copy(str(src), str(tmp_path / "dst"))
        assert res.exit_code == 0 and res.transfers == 20
        assert left and not any(left)  # all copied the lean way, none handed back
        assert _snapshot(tmp_path / "dst") == _snapshot(src)
    finally:
        shutil.rmtree(src)
