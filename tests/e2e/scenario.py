"""The live migration scenario shared by ``test_live_migration.py`` and
``tools/live_migration_demo.py``: the phases, the writer process, and the checks.

A MailStore-like archive (``syncengine.example.make_mailstore_tree``) is migrated with the
four phases while ``writer.py`` keeps changing it: phases 1-3 (``copy``, with
``--skip-changing``) run with the writer active; then the writer is stopped ("service
stopped") and phase 4 (``sync``) runs. What the destination held after each of phases 1-3 is
judged against the writer's journal and the final source once the writer has stopped:

* a file the writer never touched must equal the source byte for byte;
* a content file the writer appended to (or created) must be a prefix of its final content:
  content files are append-only, so every prefix is a state the file went through, and a
  torn copy (bytes of two states, or bytes that were never in the file) is not a prefix.
  (The destination size is not required to be one the journal lists: a reader may observe a
  file between two pages of one ``write()``, which is still a state of the file);
* no ``*.partial`` file is left anywhere, no database is copied by phases 1-3 (they exclude
  ``*.fdb``), phase 1 copies only content files, and no destination file is unknown to the
  source.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from syncengine.example import MailStoreShape

__all__ = ["SHAPE", "PHASES", "WRITER", "WRITER_ARGS", "Journal", "start_writer", "stop_writer",
           "read_tree", "partial_files", "snapshot_problems", "tree_problems", "tool_env"]

#: About 70 files, 4 MiB: 4 stores of 8 content files (~128 KiB each), index files,
#: recovery records and databases, a quarter of them changed within the last hour.
SHAPE = MailStoreShape(stores=4, dat_per_store=8, dat_size=128 * 1024, index_files=3,
                       recovery_records=4, seed=6)

#: Phases 1-3 (``copy``; ``--skip-changing`` is added by the caller) and phase 4 (``sync``).
PHASES: list[tuple[str, str, list[str]]] = [
    ("phase 1: pre-stage the content files older than a day", "copy",
     ["--filter", "- index*", "--filter", "+ *.dat", "--filter", "- **", "--min-age", "1d"]),
    ("phase 2: everything older than a day except the databases", "copy",
     ["--filter", "- *.fdb", "--min-age", "1d"]),
    ("phase 3: everything except the databases", "copy", ["--filter", "- *.fdb"]),
    ("phase 4: service stopped, final sync", "sync", []),
]

#: The writer script (``python writer.py ROOT ...``).
WRITER = Path(__file__).resolve().with_name("writer.py")

#: A change every 1-6 ms: an append each round, a database rewrite in 30% of the rounds, a
#: new content file of 256-768 KiB every 120 rounds; busy enough that phase 3 often (not
#: always) meets the newest content file growing while it copies it (exit code 11).
WRITER_ARGS = ["--min-sleep", "0.001", "--max-sleep", "0.006", "--new-every", "120",
               "--new-min", str(256 * 1024), "--new-max", str(768 * 1024)]

_CONTENT_RE = re.compile(r"(^|/)Content/\d{6}\.dat$")


@dataclass
class Journal:
    """What the writer did, per file: the operations and the size after each."""

    ops: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Journal:
        """Parse a ``--journal`` file (complete lines only)."""
        j = cls()
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # a line being written
            op, size, rel = line.rstrip("\n").split(" ", 2)
            j.ops.setdefault(rel, []).append((op, int(size)))
        return j

    def count(self, op: str) -> int:
        """How many ``op`` lines the journal holds."""
        return sum(1 for ops in self.ops.values() for o, _ in ops if o == op)

    def created(self) -> list[str]:
        """The files the writer created, in order."""
        return [rel for rel, ops in self.ops.items() if ops[0][0] == "create"]


def tool_env(home: Path) -> dict[str, str]:
    """The environment for pysync: a private HOME, no ssh-agent, no RCLONE_/PYSYNC_ variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RCLONE_", "PYSYNC_")) and k != "SSH_AUTH_SOCK"}
    env.update(HOME=str(home), LC_ALL="C")
    return env


def start_writer(root: Path, journal: Path, *, seed: int = 6,
                 extra: list[str] | None = None) -> subprocess.Popen[str]:
    """Start ``writer.py`` on ``root`` and wait until it printed ``ready``."""
    proc = subprocess.Popen([sys.executable, str(WRITER), str(root), "--seed", str(seed),
                             "--journal", str(journal), *(extra or [])],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        proc.wait(timeout=10)
        raise RuntimeError(f"writer did not start (exit {proc.returncode}): {line!r}")
    return proc


def stop_writer(proc: subprocess.Popen[str], timeout: float = 20.0) -> dict[str, int]:
    """Stop the writer by its PID (SIGTERM, wait) and return its summary; SIGKILL and raise
    RuntimeError when it does not stop cleanly (exit 0) in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        raise RuntimeError(f"writer (pid {proc.pid}) ignored SIGTERM for {timeout:g}s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"writer exited with status {proc.returncode}: {out!r}")
    last = out.strip().splitlines()[-1] if out.strip() else "{}"
    return dict(json.loads(last))


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root``: relative POSIX path -> content."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def partial_files(root: Path) -> list[str]:
    """Names under ``root`` that look like pysync's or rclone's temporary ``*.partial`` files."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if ".partial" in p.name)


def snapshot_problems(phase: int, snap: dict[str, bytes], final: dict[str, bytes],
                      journal: Journal) -> list[str]:
    """What is wrong with ``snap``, the destination after phase ``phase`` (1-3), given the
    source after the writer stopped (``final``) and the writer's ``journal``."""
    bad = []
    for rel, data in sorted(snap.items()):
        name = rel.rsplit("/", 1)[-1]
        if ".partial" in name:
            bad.append(f"phase {phase}: temporary file {rel} left at the destination")
            continue
        if rel not in final:
            bad.append(f"phase {phase}: {rel} at the destination is not in the source")
            continue
        if rel.endswith(".fdb"):
            bad.append(f"phase {phase}: database {rel} copied although --filter '- *.fdb'")
        if phase == 1 and (not rel.endswith(".dat") or name.startswith("index")):
            bad.append(f"phase 1: {rel} copied although only non-index *.dat files pass")
        ops = {op for op, _ in journal.ops.get(rel, [])}
        if not ops:
            if data != final[rel]:
                bad.append(f"phase {phase}: {rel} ({len(data)} bytes) differs from its source "
                           f"({len(final[rel])} bytes), which the writer never changed")
        elif ops <= {"append", "create"} and _CONTENT_RE.search(rel):
            if not final[rel].startswith(data):
                pairs = zip(data, final[rel], strict=False)
                at = next((i for i, (a, b) in enumerate(pairs) if a != b),
                          min(len(data), len(final[rel])))
                bad.append(f"phase {phase}: {rel} is torn: {len(data)} bytes, not a prefix of "
                           f"the {len(final[rel])} bytes the append-only source ended with "
                           f"(first difference at byte {at})")
        else:
            bad.append(f"phase {phase}: {rel} was rewritten by the writer ({sorted(ops)}) and "
                       "copied while it was live")
    return bad


def tree_problems(src: dict[str, bytes], dst: dict[str, bytes]) -> list[str]:
    """How ``dst`` differs from ``src``: missing, extra and different files."""
    bad = [f"missing at the destination: {rel}" for rel in sorted(set(src) - set(dst))]
    bad += [f"extra at the destination: {rel}" for rel in sorted(set(dst) - set(src))]
    for rel in sorted(set(src) & set(dst)):
        if src[rel] != dst[rel]:
            bad.append(f"different: {rel} (source {len(src[rel])} bytes, destination "
                       f"{len(dst[rel])} bytes)")
    return bad
