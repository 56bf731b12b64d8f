"""Issue #14 without servers: the plan's actions, events, the worker side of a batch (run
in this process), error records that keep class, text and retry class across a pickle,
Locations that never show a secret, and the CLI's Dask flags."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

import syncengine
from syncengine import actions
from syncengine.errors import FatalError, MaxTransferError, SourceChangedError
from syncengine.events import FAILED, FINISHED, STARTED, TransferEvent
from syncengine.executors import ThreadExecutor, executor_for
from syncengine.executors.worker import (
    Job,
    Location,
    decode_error,
    encode_error,
    run_batch,
)
from syncengine.options import SyncOptions
from syncengine.remotes import open_backend
from syncengine.transfer import SourceOpenError

OLD = 1_600_000_000 * 10**9


def write(path: Path, data: bytes, mtime_ns: int = OLD) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    """A source and a destination with one of every action to take."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write(src / "new.txt", b"new file")
    write(src / "dir/changed.txt", b"changed contents")
    write(dst / "dir/changed.txt", b"old")
    write(src / "touched.txt", b"same bytes", OLD)
    write(dst / "touched.txt", b"same bytes", OLD + 5 * 10**9)
    write(src / "same.txt", b"same")
    write(dst / "same.txt", b"same")
    write(dst / "gone.txt", b"only on the destination")
    (src / "empty").mkdir()
    (dst / "olddir").mkdir()
    return src, dst


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


# ----- plan() -----------------------------------------------------------------------------


def test_plan_yields_every_action_with_rclones_reason_and_changes_nothing(
        trees: tuple[Path, Path]) -> None:
    src, dst = trees
    before = snapshot(dst)
    got = list(syncengine.plan(str(src), str(dst), create_empty_src_dirs=True))
    assert snapshot(dst) == before and not (dst / "empty").exists()
    by_kind = {(type(a).__name__, a.path) for a in got}
    assert by_kind == {("Copy", "new.txt"), ("Replace", "dir/changed.txt"),
                       ("SetMtime", "touched.txt"), ("Delete", "gone.txt"),
                       ("Mkdir", "empty"), ("Rmdir", "olddir")}
    replace = next(a for a in got if isinstance(a, actions.Replace))
    assert replace.reason == "sizes differ" and replace.old_size == 3
    assert replace.size == len(b"changed contents")
    # deletions come after every copy and time update, removals last
    kinds = [a.kind for a in got]
    assert kinds.index("delete") > max(kinds.index("copy"), kinds.index("replace"),
                                       kinds.index("set-mtime"))
    assert kinds[-1] == "rmdir"
    assert all(pickle.loads(pickle.dumps(a)) == a for a in got)


def test_plan_matches_what_dry_run_logs(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    res = subprocess.run([sys.executable, "-m", "syncengine", "sync", str(src), str(dst),
                          "--dry-run"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    logged = {(m.group(2), m.group(1)) for m in re.finditer(
        r"NOTICE: (.+?): Skipped (copy|delete|update modification time) as --dry-run",
        res.stderr)}
    kind = {"copy": "copy", "replace": "copy", "delete": "delete",
            "set-mtime": "update modification time"}
    planned = {(kind[a.kind], a.path) for a in syncengine.plan(str(src), str(dst))
               if a.kind in kind}
    assert planned == logged


def test_plan_copy_mode_deletes_nothing(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    kinds = {a.kind for a in syncengine.plan(str(src), str(dst), mode="copy")}
    assert kinds == {"copy", "replace", "set-mtime"}


@pytest.mark.parametrize("mode", ["after", "during"])
def test_plan_past_max_delete_ends_with_rclones_error_instead_of_hanging(
        tmp_path: Path, mode: str) -> None:
    """The fatal "failed to delete N files" stops the planner; the stream still ends (it
    once waited forever for the end marker the stopped planner would not queue)."""
    import threading

    src, dst = tmp_path / "src", tmp_path / "dst"
    write(src / "kept.txt", b"kept")
    for i in range(5):
        write(dst / f"old{i}.txt", b"old")
    got: list[object] = []
    raised: list[BaseException] = []

    def consume() -> None:
        try:
            got.extend(syncengine.plan(str(src), str(dst), max_delete=2,
                                       **{f"delete_{mode}": True}))
        except Exception as err:
            raised.append(err)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    t.join(120)  # a guard against a hang, not a timing: it ends at once when right
    assert not t.is_alive(), "plan() hung past --max-delete"
    assert [str(e) for e in raised] == ["failed to delete 3 files"]
    assert getattr(raised[0], "fatal", False)
    deletes = [a for a in got if isinstance(a, actions.Delete)]
    assert len(deletes) == 2  # the first two counted; the other three fail the count
    assert all(a.mtime_ns == OLD and a.size == 3 for a in deletes)  # as listed


def test_plan_of_a_missing_source_raises_its_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(syncengine.plan(str(tmp_path / "nope"), str(tmp_path / "dst")))


# ----- events -----------------------------------------------------------------------------


def test_events_tell_each_file_started_and_finished_or_failed(trees: tuple[Path, Path]
                                                              ) -> None:
    src, dst = trees
    write(src / "vanishing.txt", b"here when listed")
    seen: list[TransferEvent] = []

    def on_event(event: TransferEvent) -> None:
        seen.append(event)
        if event.kind == STARTED and event.path == "vanishing.txt":
            (src / "vanishing.txt").unlink()  # gone before the copy opens it

    result = syncengine.sync(str(src), str(dst), on_event=on_event, retries=1)
    assert result.exit_code != 0
    started = [e.path for e in seen if e.kind == STARTED]
    finished = {e.path: e for e in seen if e.kind == FINISHED}
    failed = {e.path: e for e in seen if e.kind == FAILED}
    assert set(finished) == {"new.txt", "dir/changed.txt"}
    assert set(failed) == {"vanishing.txt"}
    assert sorted(started) == sorted([*finished, *failed])
    assert finished["new.txt"].bytes == len(b"new file") == finished["new.txt"].size
    assert "no such file or directory" in failed["vanishing.txt"].error
    assert (dst / "gone.txt").exists()  # the failure blocked the deletions


# ----- error records ------------------------------------------------------------------------


@pytest.mark.parametrize("err", [
    SourceChangedError("can't copy - source file is being updated (size changed from 1 to 2)"),
    SourceOpenError(2, "failed to open source object: lstat /x: no such file or directory"),
    ConnectionResetError(104, "Connection reset by peer"),
    OSError(28, "No space left on device"),
])
def test_an_error_crosses_as_a_record_with_its_class_text_and_retry_class(
        err: BaseException) -> None:
    rec = pickle.loads(pickle.dumps(encode_error(err)))
    back = decode_error(rec)
    assert isinstance(back, type(err))
    assert str(back) == str(err)
    assert getattr(back, "errno", None) == getattr(err, "errno", None)
    assert getattr(back, "retryable", True) == getattr(err, "retryable", True)
    assert syncengine.engine.exit_code_for(back) == syncengine.engine.exit_code_for(err)


def test_instance_retry_classes_survive_and_foreign_classes_are_not_imported() -> None:
    soft = MaxTransferError("max transfer limit reached as set by --max-transfer")
    soft.fatal = False
    assert decode_error(encode_error(soft)).fatal is False
    noted = OSError(5, "write failed")
    noted.partial_note = ("a.partial", "Removing failed copy")  # type: ignore[attr-defined]
    noted.logged = True  # type: ignore[attr-defined]
    back = decode_error(pickle.loads(pickle.dumps(encode_error(noted))))
    assert back.partial_note == ("a.partial", "Removing failed copy")  # type: ignore[attr-defined]
    assert back.logged is True  # type: ignore[attr-defined]
    assert getattr(decode_error(encode_error(OSError(5, "x"))), "logged", False) is False
    rec = encode_error(ValueError("odd"))
    assert str(decode_error(rec)) == "odd"
    forged = type(rec)("subprocess:CalledProcessError", "boom")
    back = decode_error(forged)
    assert type(back).__name__ == "PysyncError" and str(back) == "boom"


# ----- locations and jobs ---------------------------------------------------------------------


def test_location_never_shows_its_secrets_and_pickles(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text("[box]\ntype = sftp\nhost = h\npass = OBSCURED-SECRET\n")
    conf.chmod(0o600)
    monkeypatch.setenv("RCLONE_CONFIG_BOX_KEY_FILE_PASS", "ENV-SECRET")
    local = open_backend(str(tmp_path))
    loc = Location.capture("box:data", local, config_path=str(conf))
    job = Job("r", loc, loc, SyncOptions(), None)
    for text in (repr(loc), str(loc), repr(job), str(job)):
        assert "SECRET" not in text
    back = pickle.loads(pickle.dumps(job))
    assert back.src.sections["box"]["pass"] == "OBSCURED-SECRET"
    assert back.src.environ["RCLONE_CONFIG_BOX_KEY_FILE_PASS"] == "ENV-SECRET"


def test_a_relative_local_location_is_made_absolute(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path)
    loc = Location.capture("here", open_backend("here"))
    assert loc.spec == str(tmp_path / "here")


def test_run_batch_copies_and_reports_each_file(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    job = Job("t1", Location.capture(str(src), open_backend(str(src))),
              Location.capture(str(dst), open_backend(str(dst))), SyncOptions(), None)
    batch = [actions.Copy("new.txt", "new.txt", 8, OLD),
             actions.Replace("dir/changed.txt", "dir/changed.txt", 16, OLD, 3, OLD),
             actions.Copy("missing.txt", "missing.txt", 4, OLD)]
    out = run_batch(job, batch, capture=False)
    assert [o.path for o in out] == ["new.txt", "dir/changed.txt", "missing.txt"]
    assert [o.ok for o in out] == [True, True, False]
    assert out[0].bytes == 8 and out[1].bytes == 16
    assert (dst / "dir/changed.txt").read_bytes() == b"changed contents"
    assert (dst / "new.txt").stat().st_mtime_ns == OLD
    assert out[2].error is not None and "no such file" in out[2].error.message
    assert not list(dst.rglob("*.partial"))


# ----- executors and the CLI ------------------------------------------------------------------


def test_the_default_executor_is_the_thread_pool(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    assert isinstance(executor_for("", 0), ThreadExecutor)
    res = syncengine.copy(str(src), str(dst), executor=ThreadExecutor())
    assert res.exit_code == 0 and (dst / "new.txt").read_bytes() == b"new file"


def test_dask_flags_together_are_a_usage_error(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    res = subprocess.run([sys.executable, "-m", "syncengine", "copy", str(src), str(dst),
                          "--dask-workers", "2", "--dask-scheduler", "tcp://127.0.0.1:1"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "--dask-scheduler and --dask-workers" in res.stderr


@pytest.mark.parametrize("flags,env", [(["--dask-workers", "2"], {}),
                                       ([], {"PYSYNC_DASK_SCHEDULER": "tcp://127.0.0.1:1"})])
def test_without_dask_one_line_says_how_to_install_it(
        trees: tuple[Path, Path], tmp_path: Path, flags: list[str], env: dict[str, str]
        ) -> None:
    """A ``distributed`` that cannot be imported (a stand-in package first on the path
    raising ImportError, as a missing one does): exit 2, one line, nothing copied."""
    src, dst = trees
    shadow = tmp_path / "shadow"
    (shadow / "distributed").mkdir(parents=True)
    (shadow / "distributed" / "__init__.py").write_text(
        "raise ImportError('No module named distributed')\n")
    path = os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])
    res = subprocess.run([sys.executable, "-m", "syncengine", "copy", str(src), str(dst),
                          *flags], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": path, **env})
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'pysync[dask]'" in lines[0], res.stderr
    assert not (dst / "new.txt").exists()


class InProcessExecutor:
    """A remote executor whose "workers" are this process: each batch goes through the
    worker side (``run_batch``) as a Dask task's does; it records what it was given."""

    remote = True

    def __init__(self) -> None:
        self.job: Job | None = None
        self.kinds: list[str] = []

    def start(self, job: Job) -> None:
        self.job = job

    def slots(self) -> int:
        return 2

    def run(self, batch, on_bytes=None, budget=-1):  # type: ignore[no-untyped-def]
        assert self.job is not None
        self.kinds.extend(a.kind for a in batch)
        return run_batch(self.job, batch, capture=False, budget=budget)

    def stop(self, *, running: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def test_time_updates_and_new_directories_go_through_the_executor(
        trees: tuple[Path, Path], tmp_path: Path) -> None:
    """A remote executor gets the set-mtime and mkdir actions too (not only the copies),
    and the destination ends as the thread executor leaves it."""
    import shutil

    src, dst = trees
    twin = tmp_path / "twin"
    shutil.copytree(dst, twin)
    ex = InProcessExecutor()
    res = syncengine.sync(str(src), str(dst), executor=ex, create_empty_src_dirs=True)
    ref = syncengine.sync(str(src), str(twin), create_empty_src_dirs=True)
    assert res.exit_code == ref.exit_code == 0
    assert sorted(ex.kinds) == ["copy", "mkdir", "replace", "set-mtime"]
    assert (dst / "touched.txt").stat().st_mtime_ns == OLD
    assert (dst / "empty").is_dir()
    files = {k: v for k, v in snapshot(dst).items() if not (dst / k).is_dir()}
    assert files == {k: v for k, v in snapshot(twin).items() if not (twin / k).is_dir()}
    assert (res.transfers, res.deletes) == (ref.transfers, ref.deletes)


# ----- the planner on its own -------------------------------------------------------------------


class RecordingSink:
    """A planner sink that keeps every decision (as a dry run would, nothing is changed)."""

    def __init__(self) -> None:
        self.got: list[actions.Action] = []
        self.removed: list[str] = []

    def put(self, action: actions.Action) -> None:
        self.got.append(action)

    def put_batch(self, batch: list[actions.Copy]) -> None:
        self.got.extend(batch)

    def make_dir(self, action: actions.Mkdir) -> bool | None:
        self.got.append(action)
        return False

    def remove_partial(self, path: str, what: str) -> None:
        self.removed.append(path)


def test_the_planner_alone_streams_its_decisions_to_a_sink(trees: tuple[Path, Path]) -> None:
    """Planner without a coordinator: copies, the time update, --delete-during's deletion
    and the new directory come as actions; a directory whose time differs gets a
    SetDirTime at once, and the delayed directory times name the changed directories."""
    import threading

    from syncengine.accounting import Stats
    from syncengine.compare import Comparer
    from syncengine.filter import Filter
    from syncengine.options import FilterOptions
    from syncengine.planner import Planner
    from syncengine.pools import Pool

    src, dst = trees
    os.utime(src / "dir", ns=(OLD, OLD))  # the destination's dir/ has another time
    s, d = open_backend(str(src)), open_backend(str(dst))
    opts = SyncOptions(delete_during=True, create_empty_src_dirs=True)
    sink = RecordingSink()
    errors: list[object] = []
    planner = Planner(sync=True, src=s, dst=d, filt=Filter(FilterOptions()), opts=opts,
                      stats=Stats(), comparer=Comparer(s, d, opts), sink=sink,
                      error=lambda *a, **k: errors.append(a), cancel=threading.Event(),
                      stopping=threading.Event(), set_dir_times=True, partials=True)
    checkers = Pool(2, "checker", 16)
    try:
        planner.march(checkers=checkers)
        checkers.wait()
    finally:
        checkers.shutdown()
        planner.close()
    assert errors == []
    by_kind = {(a.kind, a.path) for a in sink.got}
    assert by_kind == {("copy", "new.txt"), ("replace", "dir/changed.txt"),
                       ("set-mtime", "touched.txt"), ("delete", "gone.txt"),
                       ("mkdir", "empty"), ("set-dir-time", "dir")}
    now = next(a for a in sink.got if isinstance(a, actions.SetDirTime))
    assert (now.mtime_ns, now.existed) == (OLD, True)
    gone = next(a for a in sink.got if isinstance(a, actions.Delete))
    assert (gone.size, gone.mtime_ns) == (len(b"only on the destination"), OLD)
    assert planner.dirs_to_remove == ["olddir"] and planner.to_delete == []
    later = planner.dir_times(create_empty=True)
    assert sorted(a.path for a in later) == ["dir", "empty"]  # both changed, one level
    assert all(a.reason == "contents changed" for a in later)


def test_plan_with_compare_dest_and_copy_dest(tmp_path: Path) -> None:
    """plan() applies --compare-dest as copy() does (a file equal there is not planned);
    --copy-dest on a remote without server-side copy raises rclone's error, as copy()
    refuses the run."""
    src, dst, cmp = tmp_path / "src", tmp_path / "dst", tmp_path / "cmp"
    write(src / "same.txt", b"same")
    write(src / "other.txt", b"other")
    write(cmp / "same.txt", b"same")
    write(cmp / "other.txt", b"changed")
    dst.mkdir()
    got = {(a.kind, a.path) for a in syncengine.plan(str(src), str(dst), mode="copy",
                                                     compare_dest=[str(cmp)])}
    assert got == {("copy", "other.txt")}
    assert {(a.kind, a.path) for a in syncengine.plan(str(src), str(dst), mode="copy")} == \
        {("copy", "other.txt"), ("copy", "same.txt")}
    with pytest.raises(FatalError, match="doesn't support server side copy"):
        list(syncengine.plan(str(src), str(dst), mode="copy", copy_dest=[str(cmp)]))
    assert sorted(p.name for p in dst.iterdir()) == []
