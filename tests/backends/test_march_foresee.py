"""The march lists a remote side's subdirectories ahead (``Planner._foresee``), against the
real smbd: more listings in flight, and nothing heard of a listing the march does not use.

Each test records the destination backend's ``list_dir`` calls (the real SmbBackend's, slowed
down so that listings overlap whatever the machine's speed) and runs the planner alone.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syncengine import planner as planner_mod
from syncengine.accounting import Stats
from syncengine.backends.base import Backend, Entry
from syncengine.backends.smb import SmbBackend
from syncengine.compare import Comparer
from syncengine.filter import Filter
from syncengine.options import FilterOptions, SyncOptions
from syncengine.planner import Planner
from syncengine.pools import Pool
from syncengine.remotes import open_backend
from tests.logcapture import captured_log

from .smbd import SmbdServer, smbd_server  # noqa: F401 - the module-scoped fixture

OLD_NS = 1_600_000_000 * 10**9
MONTHS = [f"2025-{m:02d}" for m in range(1, 9)]
SUBS = ["Content", "Index", "Recovery Records"]


class Recorder:
    """Wraps a backend's ``list_dir`` and ``list_ahead``: each listing is noted, with the
    most listings of depth 2 that were in flight at once. A ``list_dir`` call is slowed by
    ``delay`` seconds (so that listings on threads overlap whatever the machine's speed);
    a listing sent ahead is in flight until the march takes it (or drops it)."""

    def __init__(self, backend: Backend, delay: float = 0.03) -> None:
        self.inner = backend.list_dir
        self.inner_ahead = backend.list_ahead  # type: ignore[attr-defined]
        self.delay = delay
        self.calls: list[str] = []
        self.ahead: list[str] = []  # the listings sent ahead (in calls too)
        self.lock = threading.Lock()
        self.deep_now = 0
        self.deep_most = 0
        backend.list_dir = self.list_dir  # type: ignore[method-assign]
        backend.list_ahead = self.list_ahead  # type: ignore[attr-defined]

    def _start(self, path: str) -> None:
        with self.lock:
            self.calls.append(path)
            if path.count("/") == 1:
                self.deep_now += 1
                self.deep_most = max(self.deep_most, self.deep_now)

    def _end(self, path: str) -> None:
        if path.count("/") == 1:
            with self.lock:
                self.deep_now -= 1

    def list_dir(self, path: str, want_stat: bool = True) -> Iterator[Entry]:
        self._start(path)
        try:
            time.sleep(self.delay)
            return iter(list(self.inner(path, want_stat)))  # type: ignore[call-arg]
        finally:
            self._end(path)

    def list_ahead(self, path: str) -> object:
        pending = self.inner_ahead(path)
        if pending is None:
            return None  # listed on a thread, by list_dir
        self._start(path)
        self.ahead.append(path)
        return _Taken(pending, lambda: self._end(path))


class _Taken:
    """A listing sent ahead whose first result() or cancel() calls ``taken``."""

    def __init__(self, pending: Any, taken: Callable[[], None]) -> None:
        self.pending = pending
        self.taken: Callable[[], None] | None = taken

    def _take(self) -> None:
        taken, self.taken = self.taken, None
        if taken is not None:
            taken()

    def done(self) -> bool:
        return self.pending.done()  # type: ignore[no-any-return]

    def exception(self) -> BaseException | None:
        return self.pending.exception()  # type: ignore[no-any-return]

    def result(self) -> Any:
        self._take()
        return self.pending.result()

    def cancel(self) -> bool:
        self._take()
        return self.pending.cancel()  # type: ignore[no-any-return]


class NoSink:
    """A planner sink that keeps the decisions (nothing is changed)."""

    def __init__(self) -> None:
        self.got: list[object] = []

    def put(self, action: object) -> None:
        self.got.append(action)

    def put_batch(self, batch: list[object]) -> None:
        self.got.extend(batch)

    def make_dir(self, action: object) -> bool | None:
        self.got.append(action)
        return False

    def remove_partial(self, path: str, what: str) -> None:
        self.got.append(("remove-partial", path))


def _tree(root: Path, extra: dict[str, bytes] | None = None) -> None:
    files = {f"{m}/{s}/000001.dat": m.encode() for m in MONTHS for s in SUBS}
    files.update({f"{m}/MailStore.fdb": b"fdb" for m in MONTHS})
    files.update(extra or {})
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, ns=(OLD_NS, OLD_NS))
    for d in sorted((d for d in root.rglob("*") if d.is_dir()), reverse=True):
        os.utime(d, ns=(OLD_NS, OLD_NS))


@pytest.fixture
def pair(smbd_server: SmbdServer, tmp_path: Path  # noqa: F811
         ) -> Iterator[tuple[Path, Path, SmbBackend]]:
    """(local source folder, the share's folder on disk, an SmbBackend rooted there)."""
    sub = f"f-{uuid.uuid4().hex[:12]}"
    on_disk = smbd_server.share_path / sub
    on_disk.mkdir()
    b = SmbBackend(smbd_server.host, f"{smbd_server.share}/{sub}", user=smbd_server.user,
                   password=smbd_server.password, port=smbd_server.port)
    try:
        yield tmp_path / "src", on_disk, b
    finally:
        b.close()
        shutil.rmtree(on_disk, ignore_errors=True)


def _lines(text: str) -> list[str]:
    """The log lines without their date and time, sorted (checks end in any order)."""
    return sorted(line.split(" ", 2)[2] for line in text.splitlines())


def _march(src: Path, dst: SmbBackend, *, sync: bool, filt: FilterOptions | None = None
           ) -> tuple[Stats, NoSink, list[tuple[object, ...]], str]:
    s = open_backend(str(src))
    opts = SyncOptions()
    stats, sink, errors = Stats(), NoSink(), []
    planner = Planner(sync=sync, src=s, dst=dst, filt=Filter(filt or FilterOptions()),
                      opts=opts, stats=stats, comparer=Comparer(s, dst, opts), sink=sink,
                      error=lambda *a, **k: errors.append(a), cancel=threading.Event(),
                      stopping=threading.Event(), set_dir_times=True, partials=True)
    checkers = Pool(2, "checker", 16)
    with captured_log() as out:
        try:
            planner.march(checkers=checkers)
            checkers.wait()
            sink.got.extend(planner.to_delete)  # --delete-after's, decided by the march
        finally:
            checkers.shutdown()
            planner.close()
    return stats, sink, errors, out.getvalue()


def test_subfolders_of_queued_folders_are_listed_together(
        pair: tuple[Path, Path, SmbBackend]) -> None:
    """A no-op sync of 8 folders of 3 subfolders each: the subfolders of every month whose
    listing is in are listed ahead. Listed only when the march queued them, at most one
    month's 3 were in flight at once."""
    src, on_disk, dst = pair
    _tree(src)
    _tree(on_disk)
    rec = Recorder(dst)
    stats, sink, errors, _ = _march(src, dst, sync=True)
    assert errors == [] and sink.got == []
    assert stats.checks == len(MONTHS) * (len(SUBS) + 1)
    assert sorted(rec.calls) == sorted(["", *MONTHS, *(f"{m}/{s}" for m in MONTHS
                                                        for s in SUBS)])
    assert rec.deep_most > len(SUBS)
    # sent from the march's thread, not handed to listing threads (the root's is the
    # first listing: the stat before opened the shared connection)
    assert sorted(rec.ahead) == sorted(rec.calls)


def test_listings_sent_ahead_decide_as_listings_on_threads(
        pair: tuple[Path, Path, SmbBackend], monkeypatch: pytest.MonkeyPatch) -> None:
    """The march decides the same with the listings sent from its own thread
    (``SmbBackend.list_ahead``) as with listings on threads: a sync with new, changed,
    destination-only and missing folders on both sides, and a filter."""
    src, on_disk, dst = pair
    _tree(src, {"new/a.txt": b"a", "2025-02/Index/changed.txt": b"one"})
    _tree(on_disk, {"gone/b.txt": b"b", "2025-02/Index/changed.txt": b"two!",
                    "2025-03/Content/only-here.dat": b"x", "skip/c.txt": b"c"})
    filt = FilterOptions(exclude=("/skip/**",))
    rec = Recorder(dst)
    ahead = _march(src, dst, sync=True, filt=filt)
    assert rec.ahead, "nothing was sent ahead: the test does not test what it says"
    del dst.list_dir, dst.list_ahead  # type: ignore[attr-defined]  # the recorder's
    monkeypatch.setattr(SmbBackend, "list_ahead", lambda self, path: None)
    rec = Recorder(dst)
    threads = _march(src, dst, sync=True, filt=filt)
    assert rec.ahead == [] and rec.calls
    assert ahead[2] == threads[2] == []
    assert (ahead[0].checks, ahead[0].snapshot().listed) == \
        (threads[0].checks, threads[0].snapshot().listed)
    assert [repr(a) for a in ahead[1].got] == [repr(a) for a in threads[1].got]
    assert _lines(ahead[3]) == _lines(threads[3])
    assert any("gone" in repr(a) for a in ahead[1].got)
    assert any("changed.txt" in repr(a) for a in ahead[1].got)


def test_what_a_copy_does_not_enter_leaves_no_trace(
        pair: tuple[Path, Path, SmbBackend], monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy does not enter the destination's own folders: their listings, read ahead,
    are dropped unheard (the same checks, counts, log lines and decisions as a march that
    does not read ahead), and a folder the filter excludes is not listed at all."""
    src, on_disk, dst = pair
    _tree(src, {"new/file.txt": b"new"})
    _tree(on_disk, {f"{m}/old-{i}/x.bin": b"x" for m in MONTHS for i in range(3)} |
          {"skip/y.bin": b"y", "2025-01/Content/000002.dat": b"extra"})
    filt = FilterOptions(exclude=("/skip/**",))
    rec = Recorder(dst)
    got = _march(src, dst, sync=False, filt=filt)
    foreseen = [c for c in rec.calls if "/old-" in c]
    assert foreseen, "nothing was read ahead: the test does not test what it says"
    assert not any(c.startswith("skip") for c in rec.calls)
    monkeypatch.setattr(planner_mod, "FORESEE", 0)
    rec.calls.clear()
    plain = _march(src, dst, sync=False, filt=filt)
    assert not any("/old-" in c for c in rec.calls)
    stats, sink, errors, text = got
    assert errors == plain[2] == []
    assert (stats.checks, stats.snapshot().listed) == (plain[0].checks, plain[0].snapshot().listed)
    assert [repr(a) for a in sink.got] == [repr(a) for a in plain[1].got]
    assert _lines(text) == _lines(plain[3])
    assert "old-" not in text
