"""Issue #14: the Dask executor, with a real ``dask scheduler`` and 2 ``dask worker`` processes
(``dask_cluster.py``), from the real sshd to the real smbd.

The four migration phases (``test_migration_remote.PHASES``) run three times side by side,
each tool into its own folder of the SMB share: rclone, pysync with its own threads, and
pysync with ``--dask-scheduler``. After every phase the exit codes, the destination trees,
the logged changes and the final stats must agree. A worker SIGKILLed in the middle of a
large file leaves no torn file, blocks the sync's deletions, fails the run as a failed
transfer does, and the rerun converges.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .dask_cluster import DaskCluster, dask_cluster  # noqa: F401 - the fixture
from .smbd import SmbdServer, smbd_server  # noqa: F401 - the module-scoped fixture
from .sshd import SshdServer, sshd_server  # noqa: F401 - the session-scoped fixture
from .test_migration_remote import (
    PHASES,
    _obscure,
    assert_same_tree,
    copied_names,
    declared_precision,
    files_only,
    make_source,
    mutate_source,
    read_tree,
    stamp_dirs,
    tool_env,
)


@dataclass
class Setup:
    """A source folder on the sshd and a folder of the smbd's share, one rclone.conf."""

    conf: Path
    origin: Path  # the source tree (served by the sshd)
    share_dir: Path  # the folder of the share that holds the destinations (on disk)
    dst_prefix: str  # "dst:share/folder"
    precision_ns: int

    def src(self) -> str:
        """The ``src:`` spelling of the source tree."""
        return f"src:{self.origin}"

    def dst(self, name: str) -> str:
        """The ``dst:`` spelling of destination folder ``name``."""
        return f"{self.dst_prefix}/{name}"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private HOME for every tool (no ~/.ssh, no ~/.config/rclone of the caller)."""
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def setup(tmp_path: Path, home: Path, sshd_server: SshdServer,  # noqa: F811
          smbd_server: SmbdServer) -> Iterator[Setup]:  # noqa: F811
    conf = tmp_path / "rclone.conf"
    conf.write_text(sshd_server.section("src") + "\n"
                    + smbd_server.rclone_section("dst", _obscure(smbd_server.password)))
    conf.chmod(0o600)
    tag = uuid.uuid4().hex[:8]
    share_dir = smbd_server.share_path / f"dask-{tag}"
    share_dir.mkdir()
    prefix = f"dst:{smbd_server.share}/dask-{tag}"
    try:
        yield Setup(conf, tmp_path / "origin", share_dir, prefix,
                    declared_precision(prefix, conf, home))
    finally:
        import shutil

        shutil.rmtree(share_dir, ignore_errors=True)


def run(tool: str, args: list[str], home: Path, *, scheduler: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    """rclone, or pysync (with ``--dask-scheduler`` when ``scheduler`` is given)."""
    cmd = ["rclone"] if tool == "rclone" else [sys.executable, "-m", "syncengine"]
    extra = ["--dask-scheduler", scheduler] if scheduler else []
    return subprocess.run([*cmd, *args, *extra], capture_output=True, text=True, timeout=300,
                          env=tool_env(home), stdin=subprocess.DEVNULL)


_COUNT = re.compile(r"^(Transferred|Checks|Deleted|Errors):\s+(.*)$")


def final_stats(stderr: str) -> dict[str, str]:
    """The counters of the last stats block (``-v`` prints it at the end): files, bytes,
    checks, deletions and errors, without speeds, ETAs and times."""
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        body = line.split(" : ", 1)[1] if " : " in line else line
        m = _COUNT.match(body.strip())
        if not m:
            continue
        key, value = m.groups()
        value = re.split(r",\s*\d+%|,\s*-", value)[0].strip()  # "1 / 2" or "5 KiB / 5 KiB"
        if key == "Transferred" and "B" in value:
            key = "Transferred bytes"
        out[key] = value
    return out


def test_four_phases_through_dask_match_threads_and_rclone(
        setup: Setup, home: Path, dask_cluster: DaskCluster) -> None:  # noqa: F811
    """sshd -> smbd, the four phases: the Dask run agrees with the thread run and rclone on
    exit codes, trees, logged changes; with the thread run on the final stats."""
    make_source(setup.origin)
    names = {"rclone": "rc", "threads": "py", "dask": "dk"}
    for phase, (command, flags) in enumerate(PHASES, start=1):
        src_tree = read_tree(setup.origin)
        res = {}
        for label, name in names.items():
            tool = "rclone" if label == "rclone" else "pysync"
            res[label] = run(tool, [command, setup.src(), setup.dst(name), "--config",
                                    str(setup.conf), "-v", *flags], home,
                             scheduler=dask_cluster.address if label == "dask" else None)
        rc, th, dk = res["rclone"], res["threads"], res["dask"]
        assert rc.returncode == 0, f"phase {phase} rclone: {rc.stderr}"
        assert th.returncode == 0, f"phase {phase} threads: {th.stderr}"
        assert dk.returncode == 0, f"phase {phase} dask: {dk.stderr}"
        assert "Traceback" not in dk.stderr + th.stderr
        want = read_tree(setup.share_dir / names["rclone"])
        for label in ("threads", "dask"):
            got = read_tree(setup.share_dir / names[label])
            assert_same_tree(got, want, src_tree, setup.precision_ns, f"{label} phase {phase}")
        assert copied_names(rc.stderr), f"phase {phase}: rclone changed nothing"
        assert copied_names(dk.stderr) == copied_names(rc.stderr), f"phase {phase}"
        assert copied_names(th.stderr) == copied_names(rc.stderr), f"phase {phase}"
        assert final_stats(dk.stderr) == final_stats(th.stderr), f"phase {phase}"
        assert final_stats(dk.stderr)["Transferred"] != "0 / 0", dk.stderr
        mutate_source(setup.origin, phase)
        stamp_dirs(setup.origin, phase)
    final = files_only(read_tree(setup.share_dir / names["dask"]))
    source = files_only(read_tree(setup.origin))
    assert {k: v[:2] for k, v in final.items()} == {k: v[:2] for k, v in source.items()}


def _processing_worker(cluster: DaskCluster, prefix: str, deadline: float) -> int:
    """The index of the worker that runs a task whose key starts with ``prefix``."""
    from distributed import Client

    with Client(cluster.address, timeout="30s", set_as_default=False) as client:
        while time.monotonic() < deadline:
            names = {addr: w["name"] for addr, w in
                     client.scheduler_info()["workers"].items()}
            for addr, keys in client.processing().items():
                if any(str(k).startswith(prefix) for k in keys):
                    return int(str(names[addr]).lstrip("w"))
            time.sleep(0.05)
    raise AssertionError("no worker took the task")


def _wait_partial(folder: Path, name: str, deadline: float) -> Path:
    """The partial file of ``name`` once it holds some bytes."""
    while time.monotonic() < deadline:
        for p in folder.glob(f"{name}.*.partial"):
            try:
                if p.stat().st_size > 0:
                    return p
            except FileNotFoundError:
                pass
        time.sleep(0.02)
    raise AssertionError(f"no partial file of {name} appeared in {folder}")


def test_worker_killed_mid_file_leaves_no_torn_file_and_no_deletions(
        setup: Setup, home: Path, dask_cluster: DaskCluster) -> None:  # noqa: F811
    """SIGKILL the worker copying a large file: nothing under its final name, the sync
    deletes nothing, exits as for a failed transfer (5, retryable); the rerun converges."""
    origin = setup.origin
    origin.mkdir()
    big = os.urandom(1024 * 1024) * 24  # 24 MiB, sent at 2 MiB/s by each worker
    (origin / "big.dat").write_bytes(big)
    (origin / "small.txt").write_bytes(b"small file\n")
    dest = setup.share_dir / "dk"
    dest.mkdir()
    (dest / "stale.txt").write_bytes(b"only on the destination\n")
    args = ["sync", setup.src(), setup.dst("dk"), "--config", str(setup.conf), "-v"]
    proc = subprocess.Popen([sys.executable, "-m", "syncengine", *args, "--retries", "1",
                             "--bwlimit", "2M", "--dask-scheduler", dask_cluster.address],
                            env=tool_env(home),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        _wait_partial(dest, "big.dat", deadline)
        while not (dest / "small.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.02)  # done first: the one copy task left is big.dat's
        worker = _processing_worker(dask_cluster, "pysync-copy-", deadline)
        dask_cluster.kill_worker(worker)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 5, err
    assert "Traceback" not in err
    assert "big.dat: Failed to copy:" in err and "worker" in err, err
    assert "not deleting files as there were IO errors" in err, err
    assert (dest / "stale.txt").exists(), "the sync deleted after a failed transfer"
    final = dest / "big.dat"
    assert not final.exists() or final.read_bytes() == big, "torn file under the final name"
    # the rerun (on the worker left) converges to the source, partial files gone; as with
    # rclone after a killed run, its first attempt may fail to delete the killed copy's
    # partial file (a destination-only file the new copy renamed away), the second succeeds
    res = run("pysync", args, home, scheduler=dask_cluster.address)
    assert res.returncode == 0, res.stderr
    assert "big.dat: Copied (new)" in res.stderr, res.stderr
    tree = files_only(read_tree(dest))
    assert {k: v[:2] for k, v in tree.items()} == \
        {k: v[:2] for k, v in files_only(read_tree(origin)).items()}, sorted(tree)


# ----- local paths (the workers run on this machine): the scheduler, live stats, LocalCluster


def _local_tree(root: Path) -> None:
    for i in range(12):
        write_file(root / f"d{i % 3}" / f"f{i}.txt", f"file {i}\n".encode() * (i + 1))
    write_file(root / "big.bin", os.urandom(12 * 1024 * 1024))


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(1_600_000_000 * 10**9,) * 2)


def test_lost_scheduler_ends_the_run_with_one_clear_error(
        tmp_path: Path, home: Path, dask_cluster: DaskCluster) -> None:  # noqa: F811
    src, dst = tmp_path / "src", tmp_path / "dst"
    _local_tree(src)
    write_file(dst / "stale.txt", b"only here\n")
    proc = subprocess.Popen([sys.executable, "-m", "syncengine", "sync", str(src), str(dst),
                             "--bwlimit", "1M", "--dask-scheduler", dask_cluster.address],
                            env=tool_env(home), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_partial(dst, "big.bin", time.monotonic() + 120)
        os.kill(dask_cluster.scheduler.pid, signal.SIGKILL)
        dask_cluster.scheduler.wait(timeout=30)
        _out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 7, err
    assert "Traceback" not in err
    lost = [line for line in err.splitlines() if "lost the dask scheduler" in line]
    assert lost and all(line.startswith("20") for line in lost), err  # whole log lines
    assert "Fatal error received - not attempting retries" in err
    assert (dst / "stale.txt").exists()
    # a worker left without a scheduler may finish its file: whole, or not at all
    big = dst / "big.bin"
    assert not big.exists() or big.read_bytes() == (src / "big.bin").read_bytes()


def test_stats_show_the_workers_bytes_while_a_file_is_copied(
        tmp_path: Path, home: Path, dask_cluster: DaskCluster) -> None:  # noqa: F811
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_file(src / "big.bin", os.urandom(12 * 1024 * 1024))  # 4 MiB reads at 2 MiB/s
    res = run("pysync", ["copy", str(src), str(dst), "-v", "--bwlimit", "2M", "--stats",
                         "250ms", "--stats-one-line"], home, scheduler=dask_cluster.address)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    done = next(i for i, line in enumerate(lines) if "big.bin: Copied (new)" in line)
    percents = [int(m.group(1)) for line in lines[:done]
                for m in [re.search(r" (\d+)%, ", line)] if m]
    assert any(0 < p < 100 for p in percents), res.stderr
    assert (dst / "big.bin").read_bytes() == (src / "big.bin").read_bytes()


def test_local_worker_processes_copy_as_the_threads_do(tmp_path: Path, home: Path) -> None:
    """``--dask-workers 2`` starts (and stops) a local cluster of 2 processes."""
    src = tmp_path / "src"
    _local_tree(src)
    res = {}
    for label, extra in (("threads", []), ("dask", ["--dask-workers", "2"])):
        res[label] = subprocess.run(
            [sys.executable, "-m", "syncengine", "copy", str(src), str(tmp_path / label),
             "-v", *extra], capture_output=True, text=True, timeout=300, env=tool_env(home),
            stdin=subprocess.DEVNULL)
        assert res[label].returncode == 0, res[label].stderr
    assert copied_names(res["dask"].stderr) == copied_names(res["threads"].stderr)
    assert len(copied_names(res["dask"].stderr)) == 13
    assert final_stats(res["dask"].stderr) == final_stats(res["threads"].stderr)
    want = files_only(read_tree(tmp_path / "threads"))
    assert files_only(read_tree(tmp_path / "dask")) == want


def test_time_updates_and_new_directories_run_on_the_workers_as_on_the_threads(
        tmp_path: Path, home: Path) -> None:
    """``--dask-workers 2``: an empty source directory (--create-empty-src-dirs) and a file
    whose time alone changed are made and updated by the workers, logged as the threads
    log them, and leave the same tree."""
    src = tmp_path / "src"
    _local_tree(src)
    (src / "empty" / "inner").mkdir(parents=True)
    os.utime(src / "empty" / "inner", ns=(1_500_000_000 * 10**9,) * 2)
    lines: dict[str, list[str]] = {}
    for label, extra in (("threads", []), ("dask", ["--dask-workers", "2"])):
        dst = tmp_path / label
        args = [sys.executable, "-m", "syncengine", "copy", str(src), str(dst), "-v",
                "--create-empty-src-dirs", *extra]
        first = subprocess.run(args, capture_output=True, text=True, timeout=300,
                               env=tool_env(home), stdin=subprocess.DEVNULL)
        assert first.returncode == 0, first.stderr
        os.utime(dst / "d1" / "f1.txt", ns=(1_700_000_000 * 10**9,) * 2)  # same bytes
        again = subprocess.run(args, capture_output=True, text=True, timeout=300,
                               env=tool_env(home), stdin=subprocess.DEVNULL)
        assert again.returncode == 0, again.stderr
        lines[label] = sorted(
            line.split("INFO  : ", 1)[1] for line in (first.stderr + again.stderr).splitlines()
            if "INFO  : " in line and ("irectory" in line or "modification time" in line))
        assert (dst / "empty" / "inner").is_dir()
        assert (dst / "d1" / "f1.txt").stat().st_mtime_ns == 1_600_000_000 * 10**9
    assert "d1/f1.txt: Updated modification time in destination" in lines["dask"]
    assert any(line.startswith("empty/inner: Made directory") for line in lines["dask"])
    assert lines["dask"] == lines["threads"]
    assert read_tree(tmp_path / "dask") == read_tree(tmp_path / "threads")


def test_metadata_is_written_by_the_workers_as_by_the_threads(tmp_path: Path,
                                                              home: Path) -> None:
    """-M through ``--dask-workers 2``: each worker reads the source's metadata and writes it
    on its copy (the run's options travel with the batches), so modes, owners, access times
    and user xattrs come out as the threads make them; directories get theirs too."""
    src = tmp_path / "src"
    _local_tree(src)
    for i, f in enumerate(sorted(src.rglob("f*.txt"))):
        os.chmod(f, 0o600 + i % 4 * 0o10)
        os.setxattr(f, "user.n", str(i).encode())
        os.utime(f, ns=(1_900_000_000 * 10**9 + i, 1_600_000_000 * 10**9))
    os.chmod(src / "d1", 0o750)
    os.setxattr(src / "d1", "user.dir", b"yes")
    os.utime(src / "d1", ns=(1_900_000_000 * 10**9, 1_500_000_000 * 10**9))
    got = {}
    for label, extra in (("threads", []), ("dask", ["--dask-workers", "2"])):
        dst = tmp_path / label
        res = subprocess.run([sys.executable, "-m", "syncengine", "copy", str(src), str(dst),
                              "-M", "-v", *extra], capture_output=True, text=True,
                             timeout=300, env=tool_env(home), stdin=subprocess.DEVNULL)
        assert res.returncode == 0, res.stderr
        assert "d1: Updated directory metadata" in res.stderr
        got[label] = {
            str(p.relative_to(dst)): (p.stat().st_mode, p.stat().st_atime_ns,
                                      p.stat().st_mtime_ns, sorted(os.listxattr(p)))
            for p in dst.rglob("*")}
    assert got["dask"] == got["threads"]
    f0 = got["dask"]["d0/f0.txt"]
    assert oct(f0[0] & 0o777) == "0o600" and f0[1] == 1_900_000_000 * 10**9
    assert f0[3] == ["user.n"] and got["dask"]["d1"][3] == ["user.dir"]
    assert oct(got["dask"]["d1"][0] & 0o777) == "0o750"


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        out.update(int(c) for c in text.split())
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) is not running
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_sigint_removes_the_workers_partial_files_and_stops_the_local_workers(
        tmp_path: Path, home: Path) -> None:
    """As a local copy does on SIGINT: ``Removing failed copy`` for the partial file a
    worker was writing, exit 130; the local worker processes end with the run."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_file(src / "big.bin", os.urandom(12 * 1024 * 1024))
    proc = subprocess.Popen([sys.executable, "-m", "syncengine", "copy", str(src), str(dst),
                             "-v", "--bwlimit", "1M", "--dask-workers", "1"],
                            env=tool_env(home), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        partial = _wait_partial(dst, "big.bin", time.monotonic() + 120)
        children = _children(proc.pid)
        assert children
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert f"{partial.name}: Removing failed copy" in err, err
    assert not list(dst.glob("*.partial")) and not (dst / "big.bin").exists()
    deadline = time.monotonic() + 60
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [c for c in children if _alive(c)], "worker processes outlived the run"


@pytest.mark.parametrize("flags", [["--dry-run"], ["--max-transfer", "40K"],
                                   ["--max-delete", "0"]])
def test_dry_run_and_budgets_stay_on_the_coordinator(
        tmp_path: Path, home: Path, dask_cluster: DaskCluster,  # noqa: F811
        flags: list[str]) -> None:
    """The same exit code, log of changes and tree as the thread executor: --dry-run sends
    nothing to the workers, --max-transfer and --max-delete are decided before."""
    src = tmp_path / "src"
    for i in range(6):
        write_file(src / f"f{i}.bin", bytes([i]) * 20_000)
    res = {}
    for label in ("threads", "dask"):
        dst = tmp_path / label
        write_file(dst / "extra.txt", b"only on the destination\n")
        res[label] = run("pysync", ["sync", str(src), str(dst), "-v", "--transfers", "1",
                                    *flags], home,
                         scheduler=dask_cluster.address if label == "dask" else None)
    th, dk = res["threads"], res["dask"]
    assert dk.returncode == th.returncode, dk.stderr
    assert "Traceback" not in dk.stderr
    assert copied_names(dk.stderr) == copied_names(th.stderr)
    assert log_lines(dk.stderr.replace(str(tmp_path / "dask"), "DST")) == \
        log_lines(th.stderr.replace(str(tmp_path / "threads"), "DST"))
    assert final_stats(dk.stderr) == final_stats(th.stderr)
    assert read_tree(tmp_path / "dask").keys() == read_tree(tmp_path / "threads").keys()


def log_lines(stderr: str) -> list[str]:
    """The log lines without their time stamps (and without the stats block), sorted."""
    return sorted(line[20:] for line in stderr.splitlines()
                  if line[:2] == "20" and " : " in line and line.rstrip()[-1:] != ":")


def test_a_local_cluster_that_cannot_start_is_one_clear_error(tmp_path: Path,
                                                               home: Path) -> None:
    """A program read from stdin cannot be re-imported by spawned worker processes, so
    Dask's nanny fails: the set-up error is ExecutorLostError (exit 7) naming the local
    cluster, not a RuntimeError from inside distributed."""
    src = tmp_path / "src"
    write_file(src / "a.txt", b"a")
    program = (
        "import syncengine\n"
        "from syncengine.executors import DaskExecutor\n"
        "try:\n"
        f"    syncengine.copy({str(src)!r}, {str(tmp_path / 'dst')!r},\n"
        "                    executor=DaskExecutor(workers=1))\n"
        "except Exception as err:\n"
        "    print('RAISED', err.exit_code, type(err).__name__, err)\n")
    res = subprocess.run([sys.executable, "-"], input=program, capture_output=True, text=True,
                         timeout=300, env=tool_env(home))
    want = "RAISED 7 ExecutorLostError can't start the local cluster of 1 workers"
    assert want in res.stdout, res.stdout + res.stderr
    assert not (tmp_path / "dst" / "a.txt").exists()


def test_the_local_cluster_runs_without_the_workers_profiler(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pysync's local workers get LOCAL_CLUSTER_CONFIG (no statistical profiler, slower
    monitors); a DASK_* variable of the user's for one of the keys wins."""
    import dask

    from syncengine.executors.dask_executor import DaskExecutor, local_config
    from syncengine.executors.worker import Job, Location
    from syncengine.options import SyncOptions
    from syncengine.remotes import open_backend

    monkeypatch.setenv("DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL", "250ms")
    # as in a program started with the variable set (dask reads it at import; this test
    # process may have imported dask already, and the nanny hands its config to workers)
    dask.config.refresh()
    assert "distributed.admin.tick.interval" not in local_config()
    assert local_config()["distributed.worker.profile.enabled"] is False
    (tmp_path / "empty").mkdir()
    loc = Location.capture(str(tmp_path / "empty"), open_backend(str(tmp_path / "empty")))
    ex = DaskExecutor(workers=1, transfers=1)
    try:
        ex.start(Job("cfg", loc, loc, SyncOptions(), None))

        def settings() -> tuple[object, object]:
            return (dask.config.get("distributed.worker.profile.enabled"),
                    dask.config.get("distributed.admin.tick.interval"))

        got = list(ex._client.run(settings).values())
    finally:
        ex.close()
        monkeypatch.delenv("DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL")
        dask.config.refresh()
    assert got == [(False, "250ms")]
