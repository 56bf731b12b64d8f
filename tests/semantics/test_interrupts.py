"""SIGINT, SIGTERM and SIGKILL in the middle of a big transfer, then a rerun.

Each scenario runs the same way against the real rclone (pinning its behaviour) and against
pysync. rclone 1.75, on SIGINT/SIGTERM: ``Signal received: interrupt`` (``terminated``),
``<partial>: Removing failed copy``, ``Exiting...`` (all INFO), exit 128 + signal, the old
file under the final name untouched. SIGKILL leaves the partial file; the rerun writes the
same partial name again, so copy converges at once and sync converges on its second attempt
(the first fails to delete the stale partial, renamed away meanwhile).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from syncengine import interrupt
from syncengine.backends.local import LocalBackend
from tests.semantics.conftest import OLD, files_only, read_tree, write_tree
from tests.semantics.procs import TOOLS, partials, run, started, wait_for_partial

BIG = 24 * 1024 * 1024
RATE = "4M"  # a few seconds for the big file: it is still being written when signalled
OLD_BIG = b"the old version of big.bin, which must survive any interruption"


@pytest.fixture(scope="module")
def big() -> bytes:
    return os.urandom(BIG)


def _scene(root: Path, big: bytes) -> tuple[Path, Path]:
    src, dst = root / "src", root / "dst"
    write_tree(src, {"big.bin": big, "a.txt": "a", "sub/b.txt": "b"})
    write_tree(dst, {"big.bin": OLD_BIG, "extra.txt": "extra"}, mtime_ns=OLD + 10**9)
    return src, dst


def _expected(src: Path, mode: str) -> dict[str, bytes]:
    want = files_only(read_tree(src))
    if mode == "copy":
        want["extra.txt"] = b"extra"
    return want


def _interrupt(tool: str, mode: str, sig: int, root: Path, big: bytes
               ) -> tuple[Path, Path, Path, int, str]:
    """Start ``tool mode`` slowly, send ``sig`` once the big partial exists, wait for it."""
    src, dst = _scene(root, big)
    args = [mode, "-v", "--stats", "0", "--bwlimit", RATE, str(src), str(dst)]
    with started(tool, args, root / "log.txt") as child:
        partial = wait_for_partial(child, dst, "big.bin", done=("a.txt", "sub/b.txt"))
        child.signal(sig)
        done = child.wait()
    return src, dst, partial, done.returncode, done.stderr


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize(("mode", "sig"), [("copy", signal.SIGINT), ("sync", signal.SIGTERM),
                                           ("sync", signal.SIGINT), ("copy", signal.SIGTERM)])
def test_sigint_and_sigterm_remove_the_partial_file_and_exit_128_plus_signal(
        tool: str, mode: str, sig: int, tmp_path: Path, big: bytes) -> None:
    src, dst, partial, code, err = _interrupt(tool, mode, sig, tmp_path, big)
    assert code == 128 + sig, err
    name = "interrupt" if sig == signal.SIGINT else "terminated"
    assert f"INFO  : Signal received: {name}\n" in err
    assert f"INFO  : {partial.relative_to(dst)}: Removing failed copy\n" in err
    assert "INFO  : Exiting...\n" in err
    assert partials(dst) == []
    # no torn file under the final name, and nothing deleted
    assert (dst / "big.bin").read_bytes() == OLD_BIG
    assert (dst / "extra.txt").read_bytes() == b"extra"
    rerun = run(tool, mode, str(src), str(dst))
    assert rerun.returncode == 0, rerun.stderr
    assert files_only(read_tree(dst)) == _expected(src, mode)


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("mode", ["copy", "sync"])
def test_sigkill_leaves_only_a_partial_file_that_the_rerun_replaces(
        tool: str, mode: str, tmp_path: Path, big: bytes) -> None:
    src, dst, partial, code, err = _interrupt(tool, mode, signal.SIGKILL, tmp_path, big)
    assert code == 128 + signal.SIGKILL, err
    assert partials(dst) == [partial]  # a killed process cannot clean up...
    assert partial.stat().st_size < BIG
    assert (dst / "big.bin").read_bytes() == OLD_BIG  # ...but never tears the final name
    assert (dst / "extra.txt").read_bytes() == b"extra"
    rerun = run(tool, mode, str(src), str(dst))
    assert rerun.returncode == 0, rerun.stderr
    if mode == "sync":  # the stale partial is listed as extraneous, then renamed away
        assert f"ERROR : {partial.relative_to(dst)}: Couldn't delete: " in rerun.stderr
        assert "ERROR : Attempt 2/3 succeeded" in rerun.stderr
    assert files_only(read_tree(dst)) == _expected(src, mode)
    assert partials(dst) == []


def test_sigint_without_verbose_prints_nothing_like_rclone(tmp_path: Path, big: bytes) -> None:
    src, dst = _scene(tmp_path, big)
    args = ["copy", "--bwlimit", RATE, str(src), str(dst)]
    for tool in TOOLS:
        with started(tool, args, tmp_path / f"{tool}.log") as child:
            wait_for_partial(child, dst, "big.bin")
            child.signal(signal.SIGINT)
            done = child.wait()
        assert done.returncode == 130
        assert "Signal received" not in done.stderr and "ERROR" not in done.stderr
        assert partials(dst) == []


def test_cleanup_removes_live_partials_and_refuses_new_ones(tmp_path: Path) -> None:
    backend = LocalBackend(str(tmp_path))
    fh = interrupt.open_partial(backend, "d/a.partial", lambda: backend.open_write("d/a.partial"))
    try:
        fh.write(b"half")
        assert interrupt.live_partials() == ["d/a.partial"]
        interrupt.remove_partials()
        assert not (tmp_path / "d/a.partial").exists()
        assert interrupt.live_partials() == []
        with pytest.raises(interrupt.InterruptedRunError):
            interrupt.open_partial(backend, "b.partial", lambda: backend.open_write("b.partial"))
        assert not (tmp_path / "b.partial").exists()
    finally:
        fh.close()
        interrupt._reset_for_tests()


def test_finished_and_failed_transfers_unregister_their_partials(tmp_path: Path) -> None:
    import syncengine.api as api

    write_tree(tmp_path / "src", {"a.txt": "a", "b/c.txt": "c"})
    result = api.copy(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert result.exit_code == 0
    assert interrupt.live_partials() == []
    assert files_only(read_tree(tmp_path / "dst")) == {"a.txt": b"a", "b/c.txt": b"c"}


def _cleanup_waiting() -> threading.Thread:
    """Start the clean-up on a thread of its own; once it has begun, check that it waits
    (for a creation under way)."""
    cleaner = threading.Thread(target=interrupt.remove_partials)
    cleaner.start()
    for _ in range(1000):  # let the clean-up start (and wait) before the creation ends
        if interrupt._closing:
            break
        time.sleep(0.01)
    assert interrupt._closing
    cleaner.join(0.3)
    assert cleaner.is_alive()
    return cleaner


def test_cleanup_waits_for_a_partial_file_being_created(tmp_path: Path) -> None:
    backend = LocalBackend(str(tmp_path))
    inside, go_on = threading.Event(), threading.Event()
    handles: list[object] = []

    def slow_open():  # a network open still under way when the signal arrives
        inside.set()
        go_on.wait(10)
        return backend.open_write("slow.partial")

    opener = threading.Thread(target=lambda: handles.append(
        interrupt.open_partial(backend, "slow.partial", slow_open)))
    try:
        opener.start()
        assert inside.wait(10)
        cleaner = _cleanup_waiting()  # it waits for the creation under way...
        go_on.set()
        opener.join(10)
        cleaner.join(10)
        assert not cleaner.is_alive() and len(handles) == 1
        assert not (tmp_path / "slow.partial").exists()  # ...then removes the file
    finally:
        go_on.set()
        for h in handles:
            h.close()  # type: ignore[attr-defined]
        interrupt._reset_for_tests()


def test_cleanup_waits_for_a_late_creation_and_refuses_one_after(tmp_path: Path) -> None:
    """A partial registered when its writer opened but created at its close (an SMB file
    sent whole): the clean-up waits for the creation under way, then removes the file;
    once the clean-up has begun, a late creation is refused before anything is made."""
    backend = LocalBackend(str(tmp_path))
    inside, go_on = threading.Event(), threading.Event()
    interrupt.open_partial(backend, "late.partial", lambda: None)  # nothing made yet
    late = tmp_path / "late.partial"

    def create() -> None:
        with interrupt.late_creation():
            inside.set()
            go_on.wait(10)
            late.write_bytes(b"whole")

    creator = threading.Thread(target=create)
    try:
        creator.start()
        assert inside.wait(10)
        cleaner = _cleanup_waiting()  # it waits for the creation under way...
        go_on.set()
        creator.join(10)
        cleaner.join(10)
        assert not cleaner.is_alive()
        assert not late.exists()  # ...then removes the file
        with pytest.raises(interrupt.InterruptedRunError), interrupt.late_creation():
            late.write_bytes(b"too late")
        assert not late.exists()
    finally:
        go_on.set()
        interrupt._reset_for_tests()
