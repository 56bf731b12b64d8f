#!/usr/bin/env python3
"""Run the four migration phases while a stand-in service keeps changing the archive.

    python tools/live_migration_demo.py [--sftp] [--dir DIR] [--seed N] [--pause S] [--quiet]

The scenario of ``tests/e2e/test_live_migration.py``, by hand and with pysync's own output
(``-v --progress``): a MailStore-like archive is generated (``syncengine.example``), a writer
process (``tests/e2e/writer.py``) starts rewriting its ``.fdb`` databases, appending to the
newest ``.dat`` content file and creating new ones, and meanwhile

  1. pysync copy SRC DST --filter "- index*" --filter "+ *.dat" --filter "- **" --min-age 1d
  2. pysync copy SRC DST --filter "- *.fdb" --min-age 1d
  3. pysync copy SRC DST --filter "- *.fdb"

run, each with ``--skip-changing`` (exit code 0, or 11 when files that changed while being
copied were left for a later run). Then the writer is stopped ("service stopped"),

  4. pysync sync SRC DST

runs, ``pysync check SRC DST`` compares the trees, and the script compares them byte by byte
itself and checks that nothing phases 1-3 left at the destination was torn.

The destination is a local folder, or with ``--sftp`` a folder on a throwaway OpenSSH sshd on
127.0.0.1 (the machinery of ``tools/sshd_server.py``; needs tools/install-system-deps.sh).
Everything lives in ``--dir`` (kept) or in a temporary folder (removed at the end). The writer
and sshd are stopped by their PIDs on exit, Ctrl-C included. Exit status: 0 when the
migration ended with identical trees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from backends.sshd import SshdError, SshdServer, start_sshd  # noqa: E402
from e2e.scenario import (  # noqa: E402
    PHASES,
    SHAPE,
    WRITER_ARGS,
    Journal,
    partial_files,
    read_tree,
    snapshot_problems,
    start_writer,
    stop_writer,
    tool_env,
    tree_problems,
)

from syncengine.example import make_mailstore_tree  # noqa: E402

MEANING = {0: "done", 11: "done; files that changed while being copied were left for later"}


def show(args: list[str]) -> str:
    """A command line as one would type it."""
    return " ".join(f'"{a}"' if (" " in a or "*" in a) else a for a in args)


def writer_status(journal: Path) -> str:
    """What the writer did so far, from its journal."""
    j = Journal.read(journal)
    return (f"writer so far: {j.count('append')} appends, {j.count('rewrite')} database "
            f"rewrites, {len(j.created())} new content files")


class Demo:
    """One run: the folders, the destination spelling and the processes to clean up."""

    def __init__(self, work: Path, sftp: bool, quiet: bool) -> None:
        self.work = work
        self.src = work / "source"
        self.disk = work / "destination" / "mailarchive"  # where the destination is on disk
        self.home = work / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.journal = work / "writer.journal"
        self.quiet = quiet
        self.server: SshdServer | None = None
        self.conf: Path | None = None
        self.dst = str(self.disk)
        if sftp:
            print("starting a throwaway sshd on 127.0.0.1 ...", flush=True)
            self.server = start_sshd(work / "sshd")
            self.conf = work / "rclone.conf"
            self.conf.write_text(self.server.section("demo"))
            self.conf.chmod(0o600)
            self.dst = f"demo:{self.disk}"
            print(f"sshd pid {self.server.pid} on port {self.server.port}; config {self.conf}")
            self.disk.parent.mkdir(parents=True, exist_ok=True)

    def pysync(self, *args: str, output: bool = True) -> subprocess.CompletedProcess[str]:
        """Run pysync, its output going to the terminal (or captured when ``output`` is off)."""
        cmd = [*args, *(["--config", str(self.conf)] if self.conf else [])]
        print(f"$ pysync {show(cmd)}", flush=True)
        return subprocess.run([sys.executable, "-m", "syncengine", *cmd], env=tool_env(self.home),
                              stdin=subprocess.DEVNULL, text=True,
                              capture_output=not output)

    def stop(self) -> None:
        """Stop sshd by its PID."""
        if self.server is not None:
            self.server.stop()
            print(f"sshd (pid {self.server.pid}) stopped", flush=True)
            self.server = None


def run(demo: Demo, seed: int, pause: float) -> int:
    """The scenario; returns the exit status."""
    files = make_mailstore_tree(str(demo.src), SHAPE)
    size = sum(p.stat().st_size for p in demo.src.rglob("*") if p.is_file())
    print(f"generated {len(files)} files ({size / 2**20:.1f} MiB) under {demo.src}")
    print(f"destination: {demo.dst}\n")
    out = [] if demo.quiet else ["-v", "--progress"]
    writer = start_writer(demo.src, demo.journal, seed=seed, extra=WRITER_ARGS)
    snapshots: list[dict[str, bytes]] = []
    try:
        print(f"== the service is running: writer pid {writer.pid} (seed {seed})", flush=True)
        for title, cmd, flags in PHASES[:3]:
            time.sleep(pause)
            print(f"\n== {title}  [{writer_status(demo.journal)}]", flush=True)
            t0 = time.monotonic()
            rc = demo.pysync(cmd, str(demo.src), demo.dst, *flags, "--skip-changing", *out
                             ).returncode
            print(f"   exit code {rc} ({MEANING.get(rc, 'FAILED')}) after "
                  f"{time.monotonic() - t0:.1f} s", flush=True)
            if rc not in MEANING:
                return 1
            left = partial_files(demo.disk) if demo.disk.exists() else []
            if left:
                print(f"   temporary files left at the destination: {left}")
                return 1
            snapshots.append(read_tree(demo.disk) if demo.disk.exists() else {})
            print(f"   destination now holds {len(snapshots[-1])} files")
        time.sleep(pause)
        print("\n== service stopped: SIGTERM to the writer, waiting for it", flush=True)
        summary = stop_writer(writer)
        print(f"   writer done: {summary}")
    finally:
        if writer.poll() is None:  # a phase failed or was interrupted
            try:
                stop_writer(writer)
            except RuntimeError as err:
                print(f"   {err}", file=sys.stderr)

    title, cmd, flags = PHASES[3]
    print(f"\n== {title}", flush=True)
    rc = demo.pysync(cmd, str(demo.src), demo.dst, *flags, *out).returncode
    print(f"   exit code {rc} ({'done' if rc == 0 else 'FAILED'})", flush=True)
    if rc:
        return 1

    print("\n== verify with pysync check", flush=True)
    res = demo.pysync("check", str(demo.src), demo.dst, output=False)
    summary_line = next((ln for ln in res.stderr.splitlines() if "differences found" in ln),
                        res.stderr.strip()[-500:])
    print(f"   {summary_line}\n   exit code {res.returncode}", flush=True)

    print("\n== verify byte by byte (the destination read from disk)", flush=True)
    final = read_tree(demo.src)
    problems = tree_problems(final, read_tree(demo.disk))
    journal = Journal.read(demo.journal)
    problems += [p for n, snap in enumerate(snapshots, start=1)
                 for p in snapshot_problems(n, snap, final, journal)]
    for p in problems:
        print(f"   {p}")
    if not problems:
        print(f"   identical: {len(final)} files, {sum(map(len, final.values()))} bytes; "
              "nothing phases 1-3 left at the destination was torn")
    return 0 if res.returncode == 0 and not problems else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the demo, clean up; returns the exit status."""
    ap = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="Exit status 0 when the migration ended with identical trees, 1 otherwise.")
    ap.add_argument("--sftp", action="store_true",
                    help="migrate to a throwaway sshd on 127.0.0.1 instead of a local folder")
    ap.add_argument("--dir", type=Path,
                    help="work folder, kept afterwards (must not exist or be empty; default: "
                         "a temporary folder, removed)")
    ap.add_argument("--seed", type=int, default=6, help="the writer's seed (default 6)")
    ap.add_argument("--pause", type=float, default=1.0,
                    help="seconds the writer works alone before each phase (default 1)")
    ap.add_argument("--quiet", action="store_true",
                    help="no -v --progress for the phases: only the exit codes")
    args = ap.parse_args(argv)
    if args.dir is not None:
        if args.dir.exists() and any(args.dir.iterdir()):
            ap.error(f"--dir {args.dir} is not empty")
        work = args.dir.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="pysync-live-demo-"))
    demo: Demo | None = None
    try:
        demo = Demo(work, args.sftp, args.quiet)
        rc = run(demo, args.seed, args.pause)
    except SshdError as err:
        print(f"live_migration_demo: {err}", file=sys.stderr)
        rc = 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        rc = 130
    finally:
        if demo is not None:
            demo.stop()
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"files kept in {work}")
    print(f"\nmigration {'OK' if rc == 0 else 'FAILED'}")
    return rc


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
