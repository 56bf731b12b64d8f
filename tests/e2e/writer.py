#!/usr/bin/env python3
"""A stand-in for a live MailStore service: keeps changing an archive until SIGTERM.

    python tests/e2e/writer.py ROOT [--seed N] [--journal FILE] [--new-every N] ...

Works on a tree made by ``syncengine.example.make_mailstore_tree``. Each round it:

* appends a few KiB to the newest content file (``<store>/Content/NNNNNN.dat``, the highest
  store and number; content files are append-only, as MailStore's);
* with probability ``--fdb-rate``, rewrites a random ``*.fdb`` database in place (opened
  ``r+b``, new bytes from offset 0, sometimes the same size, sometimes smaller or larger,
  truncated to the new length);
* every ``--new-every`` rounds, creates the next content file of the newest store (that file
  becomes the newest);

then sleeps a random 5-30 ms (``--min-sleep``/``--max-sleep``). All choices and bytes come
from ``random.Random(--seed)``; only the timing is not deterministic.

Prints ``ready`` on stdout once it found its files (a caller waits for that line), and a JSON
summary (``{"rounds": .., "appends": .., "rewrites": .., "creates": ..}``) when it stops.
SIGTERM or SIGINT stops it cleanly after the current round: exit status 0.

``--journal FILE`` appends one line per change, ``<op> <size after> <relative path>`` with
``op`` one of ``append``, ``rewrite``, ``create``, flushed after each line, so a test knows
every file the writer touched and every size it left a file at.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sys
import time
from pathlib import Path

#: The content files the writer appends to: ``<store>/Content/NNNNNN.dat``.
CONTENT_RE = re.compile(r"^(?P<store>.+)/Content/(?P<num>\d{6})\.dat$")


def content_files(root: Path) -> list[str]:
    """The relative paths of the content files under ``root``, oldest store and number first."""
    found = []
    for p in root.rglob("*.dat"):
        rel = p.relative_to(root).as_posix()
        m = CONTENT_RE.match(rel)
        if m:
            found.append((m["store"], int(m["num"]), rel))
    return [rel for _, _, rel in sorted(found)]


class Writer:
    """The state of one writer: its random source, its files and its counters."""

    def __init__(self, root: Path, seed: int, journal: Path | None) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.dats = content_files(root)
        self.fdbs = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.fdb"))
        if not self.dats or not self.fdbs:
            raise SystemExit(f"writer: no content files or databases under {root}")
        self.journal = open(journal, "a", encoding="utf-8") if journal else None
        self.counts = {"rounds": 0, "appends": 0, "rewrites": 0, "creates": 0}

    def _log(self, op: str, rel: str) -> None:
        self.counts[op + "s"] += 1
        if self.journal:
            size = os.path.getsize(self.root / rel)
            self.journal.write(f"{op} {size} {rel}\n")
            self.journal.flush()

    def append(self, lo: int, hi: int) -> None:
        """Append ``lo``..``hi`` random bytes to the newest content file."""
        rel = self.dats[-1]
        with open(self.root / rel, "ab") as fh:
            fh.write(self.rng.randbytes(self.rng.randint(lo, hi)))
        self._log("append", rel)

    def rewrite(self) -> None:
        """Rewrite a random database in place: same size half of the time."""
        rel = self.rng.choice(self.fdbs)
        path = self.root / rel
        size = os.path.getsize(path)
        if self.rng.random() >= 0.5:
            size = max(1024, size + self.rng.randint(-4096, 4096))
        with open(path, "r+b") as fh:
            fh.write(self.rng.randbytes(size))
            fh.truncate(size)
        self._log("rewrite", rel)

    def create(self, lo: int, hi: int) -> None:
        """Create the next content file of the newest store; it becomes the newest."""
        m = CONTENT_RE.match(self.dats[-1])
        assert m is not None
        rel = f"{m['store']}/Content/{int(m['num']) + 1:06d}.dat"
        with open(self.root / rel, "xb") as fh:
            fh.write(self.rng.randbytes(self.rng.randint(lo, hi)))
        self.dats.append(rel)
        self._log("create", rel)

    def close(self) -> None:
        """Close the journal."""
        if self.journal:
            self.journal.close()


def main(argv: list[str] | None = None) -> int:
    """Run rounds until SIGTERM/SIGINT; returns the exit status."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("root", type=Path, help="the archive (made by make_mailstore_tree)")
    ap.add_argument("--seed", type=int, default=1, help="seed of every choice (default 1)")
    ap.add_argument("--journal", type=Path, help="append one line per change to this file")
    ap.add_argument("--new-every", type=int, default=25,
                    help="create a new content file every N rounds (default 25)")
    ap.add_argument("--fdb-rate", type=float, default=0.3,
                    help="probability of a database rewrite per round (default 0.3)")
    ap.add_argument("--append-min", type=int, default=1024, help="bytes (default 1024)")
    ap.add_argument("--append-max", type=int, default=8192, help="bytes (default 8192)")
    ap.add_argument("--new-min", type=int, default=16 * 1024, help="bytes (default 16384)")
    ap.add_argument("--new-max", type=int, default=96 * 1024, help="bytes (default 98304)")
    ap.add_argument("--min-sleep", type=float, default=0.005, help="seconds (default 0.005)")
    ap.add_argument("--max-sleep", type=float, default=0.03, help="seconds (default 0.03)")
    args = ap.parse_args(argv)
    stop = False

    def _on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    w = Writer(args.root, args.seed, args.journal)
    print("ready", flush=True)
    try:
        while not stop:
            w.counts["rounds"] += 1
            w.append(args.append_min, args.append_max)
            if w.rng.random() < args.fdb_rate:
                w.rewrite()
            if args.new_every > 0 and w.counts["rounds"] % args.new_every == 0:
                w.create(args.new_min, args.new_max)
            time.sleep(w.rng.uniform(args.min_sleep, args.max_sleep))
    finally:
        w.close()
    print(json.dumps(w.counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
