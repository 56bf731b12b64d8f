"""Run ``rclone copy|sync`` and ``pysync copy|sync`` from identical trees and compare.

A *scenario* is a prototype directory holding ``src/`` and ``dst/`` (and, for
``--backup-dir``, later a sibling ``bak/``).  For every case the prototype is cloned into
two sandboxes (``shutil.copytree`` with ``copy2``, then every file's and directory's
mtime is restored with ``os.utime(ns=...)`` and the clone is verified byte for byte and
nanosecond for nanosecond).  Both tools run at the same time, each in its own sandbox,
with the working directory set to the sandbox and the *relative* paths ``src``, ``dst``
and ``bak/...`` - so the two command lines, and the paths in their messages, are
identical.

What is compared (see :func:`compare_runs`):

* exit codes;
* the destination tree: relative paths (empty directories included), kinds, sizes,
  content hashes, file mtimes and directory mtimes (except the root's), in ns;
* the backup directory tree (``bak/``) the same way;
* that the source tree did not change, and with ``--dry-run`` that nothing changed;
* the set of INFO/NOTICE log messages and of the per-file ERROR ones (``-v --stats 0``;
  timestamps stripped; ERROR lines about the whole run, such as ``Attempt 1/3 failed``,
  are left to the exit code).  A
  curated set of messages that only echo an error (``Failed to sync ...``, partial
  files being cleaned up after a failure, the final stats block, pysync's own
  ``WARNING:`` notices) is compared *softly*: shown in a failure report, never a
  failure by itself.

Normalisations, each for an rclone behaviour that is not deterministic:

* an mtime that falls inside the run's time window (plus a margin) is "now" - e.g.
  a destination directory whose content changed and whose time no tool set;
* ``.<8 hex digits>.partial`` temporary names;
* ``--max-delete N`` when the limit is hit: *which* N files are deleted depends on
  rclone's concurrency, so for these paths only the number of deletions is compared
  (and the ``Deleted``/``Moved into backup dir`` messages are compared by count);
* ``--max-transfer`` with a budget that runs out (``0``, ``1``): which transfers, mtime
  updates and deletions happen before the stop is up to rclone's scheduling, so such a
  case (see :func:`compare_budget_runs`) checks that each tool left a consistent
  destination (every file as it was or as the source has it), the same exit code, and
  the same ``... - stopping transfers`` notice; a budget that is never reached (``1G``)
  is compared like any other case;
* one mix is not generated at all because rclone's result is a race: ``--delete-during``
  on a destination with file/directory conflicts (whether the conflicting file is deleted
  before the first copy into the directory of the same name is tried decides which retry
  succeeds, and the messages). (``--delete-during`` with ``--max-delete`` is no race:
  rclone tries every deletion and cancels the run only when deleting is over. With a
  ``--max-transfer`` budget that runs out as well it is: exit 7 or 8, see
  :func:`compare_budget_runs`.)
* refused flag values (``--cutoff-mode bogus``...): both tools must refuse them with the
  same exit code and change nothing.

Environment knobs (shared with the lsf suite): ``PYSYNC_DIFF_SELF=1`` runs rclone on both
sides (every case must then pass: anything else is a harness or generator bug);
``PYSYNC_DIFF_PYSYNC="cmd ..."`` overrides the pysync command.

``python tests/differential/sync_harness.py SEED DIR`` rebuilds the scenario of a random
case (``DIR/src`` and ``DIR/dst``) for debugging.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

try:  # imported as part of the package (pytest) or as a plain module
    from . import harness
    from .rules import pick_size, random_glob
    from .trees import DAY, HOUR, MARKERS, MINUTE, NS, build_tree
except ImportError:  # pragma: no cover - running the file directly
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import harness  # type: ignore[no-redef]
    from rules import pick_size, random_glob  # type: ignore[no-redef]
    from trees import DAY, HOUR, MARKERS, MINUTE, NS, build_tree  # type: ignore[no-redef]

RCLONE = harness.RCLONE
SELF_MODE = harness.SELF_MODE
TZ_NAME = harness.TZ_NAME
TIMEOUT = 120
# Margin around the run's time window inside which an mtime counts as "now".
NOW_MARGIN_NS = 5 * NS
NOW = -1  # the normalised "now" mtime
# Age filter values stay this far from every file's age (the tools run a few seconds
# after the trees are built; cached scenarios are rebuilt after TREE_MAX_AGE_NS).
AGE_MARGIN_NS = 20 * MINUTE
TREE_MAX_AGE_NS = 8 * MINUTE
STD_FLAGS = ["-v", "--stats", "0"]
# PYSYNC_SYNC_LOGS=soft reports log differences without failing (to look at tree and exit
# code differences first); =off skips the log comparison.  Default: hard.
LOG_MODE = os.environ.get("PYSYNC_SYNC_LOGS", "hard").strip().lower()


def tool_env() -> dict[str, str]:
    """No rclone config (and no warning about it), fixed TZ and locale, repo on the path."""
    return harness.tool_env()


# ---------------------------------------------------------------------------------------
# snapshots


@dataclass(frozen=True)
class Node:
    """One entry of a snapshot. ``mtime`` is ns, or ``NOW`` after normalisation."""

    kind: str  # "f" file, "d" directory, "l" symlink
    size: int
    digest: str
    mtime: int

    def show(self) -> str:
        t = "now" if self.mtime == NOW else _fmt_ns(self.mtime)
        if self.kind == "d":
            return f"dir mtime={t}"
        if self.kind == "l":
            return f"symlink -> {self.digest}"
        return f"file size={self.size} sha1={self.digest[:10]} mtime={t}"


def _fmt_ns(ns: int) -> str:
    s, frac = divmod(ns, NS)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


def _digest(path: str) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


Snapshot = dict[str, Node]  # "" is the root directory itself


def snapshot(root: Path | str) -> Snapshot:
    """Every entry under ``root`` (and ``root`` itself as ""); {} if it does not exist."""
    root = str(root)
    out: Snapshot = {}
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return out
    out[""] = Node("d", 0, "", st.st_mtime_ns)

    def walk(abs_dir: str, rel_dir: str) -> None:
        with os.scandir(abs_dir) as it:
            entries = list(it)
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            st = e.stat(follow_symlinks=False)
            if e.is_symlink():
                out[rel] = Node("l", 0, os.readlink(e.path), st.st_mtime_ns)
            elif e.is_dir(follow_symlinks=False):
                out[rel] = Node("d", 0, "", st.st_mtime_ns)
                walk(e.path, rel)
            else:
                out[rel] = Node("f", st.st_size, _digest(e.path), st.st_mtime_ns)

    walk(root, "")
    return out


def normalise_times(snap: Snapshot, window: tuple[int, int]) -> Snapshot:
    lo, hi = window[0] - NOW_MARGIN_NS, window[1] + NOW_MARGIN_NS
    return {
        rel: Node(n.kind, n.size, n.digest, NOW) if lo <= n.mtime <= hi else n
        for rel, n in snap.items()
    }


def clone_tree(src: Path, dst: Path, expect: Snapshot | None = None) -> None:
    """Copy ``src`` to ``dst`` keeping every mtime to the nanosecond (dirs included)."""
    shutil.copytree(src, dst, copy_function=shutil.copy2, symlinks=True)
    # copy2 goes through float seconds on some paths: restore the exact ns, files
    # first and each directory after its content (bottom-up walk).
    for dirpath, _dirnames, filenames in os.walk(src, topdown=False):
        rel = os.path.relpath(dirpath, src)
        target = dst / rel if rel != "." else dst
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            os.utime(target / name, ns=(st.st_atime_ns, st.st_mtime_ns),
                     follow_symlinks=False)
        st = os.stat(dirpath)
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    got = snapshot(dst)
    want = snapshot(src) if expect is None else expect
    if got != want:
        diff = diff_snapshots(want, got, "original", "clone")
        raise AssertionError(f"harness: clone of {src} is not identical:\n" + "\n".join(diff))


def show_name(text: str) -> str:
    """``repr`` of a path or message; non-NFC text also gets an escaped form, since NFC
    and NFD names look the same on screen."""
    if unicodedata.normalize("NFC", text) == text:
        return repr(text)
    return f"{text!r} (not NFC: {ascii(text)})"


def diff_snapshots(a: Snapshot, b: Snapshot, name_a: str = "rclone", name_b: str = "pysync",
                   *, skip: Iterable[str] = (), limit: int = 80) -> list[str]:
    """Human-readable differences between two snapshots."""
    skip = set(skip)
    out = []
    for rel in sorted(set(a) | set(b)):
        if rel in skip:
            continue
        na, nb = a.get(rel), b.get(rel)
        if na == nb:
            continue
        shown = show_name(rel) if rel else "(root)"
        sa = na.show() if na else "MISSING"
        sb = nb.show() if nb else "MISSING"
        out.append(f"    {shown}:\n        {name_a}: {sa}\n        {name_b}: {sb}")
    if len(out) > limit:
        out = out[:limit] + [f"    ... {len(out) - limit} more"]
    return out


def describe(snap: Snapshot, now_ns: int, limit: int = 200) -> str:
    """Listing of a starting tree (ages relative to ``now_ns``) for failure reports."""
    lines = []
    for rel in sorted(snap):
        n = snap[rel]
        age = (now_ns - n.mtime) / HOUR
        shown = show_name(rel) if rel else "(root)"
        if n.kind == "d":
            lines.append(f"    {shown}/  age={age:.4f}h")
        else:
            lines.append(f"    {shown}  size={n.size} sha1={n.digest[:8]} age={age:.4f}h "
                         f"mtime_ns={n.mtime}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"    ... {len(lines) - limit} more"]
    return "\n".join(lines) if lines else "    (does not exist)"


# ---------------------------------------------------------------------------------------
# logs

_LOG_RE = re.compile(
    r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)? "
    r"(DEBUG|INFO|NOTICE|WARNING|ERROR|CRITICAL|ALERT|EMERGENCY)\s*: ?(.*)$"
)
# the random part of the temporary name of a move that only changes a name's case or
# Unicode form (rclone's MoveCaseInsensitive)
_TMP_MOVE_RE = re.compile(r"-rclone-move-[a-z0-9]{8}")
_PARTIAL_RE = re.compile(r"\.[0-9a-f]{8}\.partial\b")
# INFO/NOTICE messages compared softly (reported, never a failure on their own).
SOFT_PATTERNS = (
    re.compile(r"^Failed to (sync|copy)\b"),  # echoes the error (which one is "last" varies)
    re.compile(r"\.XXXXXXXX\.partial: "),  # cleaning up after a failed transfer
    re.compile(r"^STATS$"),  # the final stats block (its presence is tested separately)
    re.compile(r"(^|: )WARNING: "),  # pysync's own extra warnings
)
# Messages compared by count only when --max-delete was hit (which files is random).
_COUNTED_RE = re.compile(
    r": (Deleted|Moved into backup dir|Moved \(server-side\).*"
    r"|Skipped (?:delete|move|move into backup dir) as --dry-run is set.*)$"
)


def _counted_key(msg: str) -> str | None:
    m = _COUNTED_RE.search(msg)
    return re.sub(r" \(size .*\)$| to: .*$", "", m.group(1)) if m else None


@dataclass(frozen=True)
class LogRecord:
    level: str
    msg: str


def parse_log(stderr: bytes) -> list[LogRecord]:
    """rclone-style log lines; continuation lines belong to the record before them."""
    records: list[list[str]] = []
    for line in stderr.decode("utf-8", "backslashreplace").splitlines():
        m = _LOG_RE.match(line)
        if m:
            records.append([m.group(1), m.group(2)])
        elif records:
            records[-1][1] += "\n" + line
        else:
            records.append(["RAW", line])
    out = []
    for level, msg in records:
        if msg.startswith("\n") and "Elapsed time:" in msg or msg.startswith("\nTransferred:"):
            msg = "STATS"
        msg = _PARTIAL_RE.sub(".XXXXXXXX.partial", msg)
        msg = _TMP_MOVE_RE.sub("-rclone-move-XXXXXXXX", msg)
        out.append(LogRecord(level, msg))
    return out


_LOG_LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")


def final_stats_counts(stderr: bytes, *, listed: bool = True) -> dict[str, str]:
    """The ``Errors:`` and ``Checks:`` lines of the last stats block ({} if none), and the
    file and directory counts of its ``Deleted:`` line (rclone counts a directory it tries
    to remove, s93026-c1); ``listed=False`` drops the ``Listed N`` count (and a ``Checks``
    line that held only it)."""
    out: dict[str, str] = {}
    lines = stderr.decode("utf-8", "backslashreplace").splitlines()
    # the block starts with the bytes line ("Transferred: ... ETA ..."); a second
    # "Transferred:" line in it counts the files (after any transfer)
    starts = [i for i, line in enumerate(lines)
              if line.startswith("Transferred:") and "ETA" in line]
    if not starts:
        return out
    for line in lines[starts[-1] + 1:]:
        if not line.strip() or _LOG_LINE.match(line):
            break  # the block ends at a blank line or the next log line
        key, sep, value = line.partition(":")
        if sep and key == "Deleted":  # the freed bytes depend on which files a limit let go
            out[key] = " ".join(value.split()[:4])
        if sep and key in ("Errors", "Checks"):
            out[key] = " ".join(value.split())
            if not listed:
                out[key] = re.sub(r",? ?Listed \d+$", "", out[key])
                if key == "Checks" and out[key] == "0 / 0, -":
                    del out[key]  # a line that only held the listing count
    return out


def is_soft(msg: str) -> bool:
    return any(p.search(msg) for p in SOFT_PATTERNS)


# ERROR lines about the whole run, not one file (compared by the exit code instead)
_RUN_ERROR_RE = re.compile(r"^(Attempt \d|Local file system at |Cancelling sync|Can't retry|"
                           r"Fatal error received)")


def info_notice(records: list[LogRecord]) -> list[str]:
    """The INFO/NOTICE messages and the per-file ERROR ones (``ERROR: <path>: ...``)."""
    return [r.msg if r.level != "ERROR" else "ERROR: " + r.msg for r in records
            if r.level in ("INFO", "NOTICE")
            or r.level == "ERROR" and not _RUN_ERROR_RE.match(r.msg)]


# ---------------------------------------------------------------------------------------
# running the tools


def rclone_cmd(mode: str, flags: list[str], src: str = "src", dst: str = "dst") -> list[str]:
    assert RCLONE is not None
    return [RCLONE, mode, src, dst, *flags, *_std(flags)]


def _std(flags: list[str]) -> list[str]:
    """STD_FLAGS, without ``--stats 0`` when the case sets ``--stats`` itself (to compare
    the final stats, which ``--stats 0`` leaves out)."""
    return ["-v"] if "--stats" in flags else STD_FLAGS


def pysync_cmd(mode: str, flags: list[str], src: str = "src", dst: str = "dst") -> list[str]:
    if SELF_MODE:
        return rclone_cmd(mode, flags, src, dst)
    override = os.environ.get("PYSYNC_DIFF_PYSYNC")
    base = shlex.split(override) if override else [sys.executable, "-m", "syncengine"]
    return [*base, mode, src, dst, *flags, *_std(flags)]


def fmt_cmd(cmd: list[str]) -> str:
    exe = "rclone" if cmd[0] == RCLONE else shlex.join(cmd[:1])
    if cmd[:3] == [sys.executable, "-m", "syncengine"]:
        exe, cmd = "python -m syncengine", cmd[2:]
    return f"TZ={TZ_NAME} RCLONE_CONFIG=/dev/null {exe} " + shlex.join(cmd[1:])


@dataclass
class Run:
    cmd: list[str]
    rc: int
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def records(self) -> list[LogRecord]:
        return parse_log(self.stderr)


def run_pair(mode: str, flags: list[str], sand_r: Path, sand_p: Path, *,
             src: str = "src", dst: str = "dst",
             envs: tuple[dict[str, str], dict[str, str]] | None = None,
             ) -> tuple[Run, Run, tuple[int, int]]:
    """Run rclone in ``sand_r`` and pysync in ``sand_p`` at the same time.

    ``envs`` gives each tool its own environment (e.g. its own ``RCLONE_CONFIG``).
    Returns both runs and the time window (ns) that contains them.
    """
    env = tool_env()
    env_r, env_p = envs if envs is not None else (env, env)
    cmds = [rclone_cmd(mode, flags, src, dst), pysync_cmd(mode, flags, src, dst)]
    t0 = time.time_ns()
    m0 = time.monotonic()
    procs = [
        subprocess.Popen(c, cwd=cwd, env=e, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for c, cwd, e in zip(cmds, (sand_r, sand_p), (env_r, env_p), strict=True)
    ]
    runs = []
    for cmd, proc in zip(cmds, procs, strict=True):
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += f"\n[harness] killed after {TIMEOUT}s".encode()
        runs.append(Run(cmd, proc.returncode, out, err, time.monotonic() - m0))
    return runs[0], runs[1], (t0, time.time_ns())


# ---------------------------------------------------------------------------------------
# comparing


@dataclass
class Outcome:
    """A comparison result: hard problems fail the case; soft ones are only shown."""

    problems: list[str] = field(default_factory=list)
    soft: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _tail(b: bytes, n: int = int(os.environ.get("PYSYNC_TAIL", "2500"))) -> str:
    s = b.decode("utf-8", "backslashreplace").strip()
    return s if len(s) <= n else "..." + s[-n:]


def _strip_root(snap: Snapshot) -> Snapshot:
    return {k: v for k, v in snap.items() if k != ""}


def _compare_logs(r: Run, p: Run, counted: bool, out: Outcome, *,
                  soft_only: bool = False) -> None:
    """``soft_only``: differences are shown, never a failure (a run cut short by
    --max-transfer logs whichever transfers happened to finish)."""
    soft_mode = LOG_MODE == "soft" or soft_only
    lr, lp = info_notice(r.records), info_notice(p.records)
    if counted:  # --max-delete hit: which files fail to be deleted is rclone's race
        lr = [m for m in lr if not m.startswith("ERROR: ")]
        lp = [m for m in lp if not m.startswith("ERROR: ")]
    hard_r = {m for m in lr if not is_soft(m)}
    hard_p = {m for m in lp if not is_soft(m)}
    if counted:
        cr = Counter(k for k in map(_counted_key, hard_r) if k)
        cp = Counter(k for k in map(_counted_key, hard_p) if k)
        if cr != cp:
            what = (f"log: numbers of delete messages differ: rclone {dict(cr)}, "
                    f"pysync {dict(cp)}")
            (out.soft if soft_mode else out.problems).append(what)
        hard_r = {m for m in hard_r if not _COUNTED_RE.search(m)}
        hard_p = {m for m in hard_p if not _COUNTED_RE.search(m)}
    only_r, only_p = sorted(hard_r - hard_p), sorted(hard_p - hard_r)
    if only_r or only_p:
        what = (f"log: INFO/NOTICE messages differ ({len(only_r)} only in rclone, "
                f"{len(only_p)} only in pysync)")
        lines = ["  log messages only in rclone:\n" + _show(only_r),
                 "  log messages only in pysync:\n" + _show(only_p)]
        if soft_mode:
            out.soft += [f"  (soft, PYSYNC_SYNC_LOGS=soft) {what}", *lines]
        else:
            out.problems.append(what)
            out.details += lines
    soft_r = {m for m in lr if is_soft(m)}
    soft_p = {m for m in lp if is_soft(m)}
    if soft_r != soft_p:
        out.soft.append("  (soft) messages only in rclone:\n" + _show(sorted(soft_r - soft_p)))
        out.soft.append("  (soft) messages only in pysync:\n" + _show(sorted(soft_p - soft_r)))


def _show(lines: list[str], limit: int = 40) -> str:
    out = [f"    {show_name(line)}" for line in lines[:limit]]
    if len(lines) > limit:
        out.append(f"    ... {len(lines) - limit} more")
    return "\n".join(out) if out else "    (none)"


_STOPPING = "max transfer limit reached as set by --max-transfer - stopping transfers"
# Errors a tool counts (retryable: it tries again and exits 1) when a graceful stop
# cancels rclone's march while it lists (context canceled), or when the time of a new
# directory whose files were never copied is set (chtimes: no such file, or not a
# directory below a file of that name): both depend on how far the march got
_RACE_RE = re.compile(r"context canceled|Failed to update directory timestamp or metadata: "
                      r"chtimes .*: (no such file or directory|not a directory)")


def compare_budget_runs(r: Run, p: Run, sand_r: Path, sand_p: Path,
                        start: dict[str, Snapshot], *, soft_cutoff: bool = False,
                        immutable: bool = False, deleting_during: bool = False) -> Outcome:
    """Compare two runs whose --max-transfer budget ran out (see the module docstring).

    ``soft_cutoff`` (--cutoff-mode soft or cautious): whether any transfer was refused, and
    so exit 8 or 0 and the 'stopping transfers' NOTICE, is up to rclone's scheduling (which
    transfers had started when the budget ran out; rclone against itself differs too)."""
    out = Outcome()
    if r.rc != p.rc:
        known = any(_RACE_RE.search(x.msg) for run in (r, p) for x in run.records
                    if x.level == "ERROR")
        what = f"exit codes differ: rclone={r.rc} pysync={p.rc}"
        # with --immutable, its refusals (exit 6) and the stop (8) are both no-retry
        # errors: rclone's checkers may still refuse files after the stop, so which
        # came last is its scheduling (s79000-c3)
        raced = soft_cutoff and {r.rc, p.rc} <= ({0, 6, 8} if immutable else {0, 8})
        # --delete-during with --max-delete: rclone's march goes on queueing deletions
        # while the cut-off's cancel reaches it; whether one of them is refused (a fatal
        # "failed to delete N files" at the end, exit 7) before the march stops is its
        # scheduling: rclone against itself gave 7 in 27 and 8 in 3 of 30 runs (s5026-c2)
        raced = raced or (deleting_during and {r.rc, p.rc} <= {7, 8})
        # rclone's march cancelled mid-listing counts ordinary errors (exit 1); pysync's
        # stops clean, its code then that of its last error: 8, or 6 after a no-retry one
        # (--immutable's) that the checks found before the stop (the README says so)
        (out.soft if raced or (known and {r.rc, p.rc} <= {1, 6, 8}) else out.problems).append(
            what + (" (errors of the stop's races)" if known else "")
            + (" (the soft cut-off's race)" if raced else ""))
    src = start["src"]
    old = {(n.kind, n.size, n.digest) for n in start["dst"].values()}  # backups move them
    # NFC/NFD twins in the source: the tools copy the one listed first ("Duplicate object
    # found in source - ignoring" the other), so either twin's content is the source's
    src_nfc: dict[str, set[tuple[str, int, str]]] = {}
    for k, v in src.items():
        src_nfc.setdefault(unicodedata.normalize("NFC", k), set()).add(
            (v.kind, v.size, v.digest))
    for who, sand in (("rclone", sand_r), ("pysync", sand_p)):
        if snapshot(sand / "src") != src:
            out.problems.append(f"{who} changed the source")
        for rel, node in snapshot(sand / "dst").items():
            if not rel or node.kind == "d":
                continue
            # an existing file keeps its destination spelling (NFC or NFD)
            want = src_nfc.get(unicodedata.normalize("NFC", rel), set())
            got = (node.kind, node.size, node.digest)
            if got not in old and got not in want:
                out.problems.append(f"{who} left {show_name(rel)} neither as it was nor as "
                                    "the source has it")
    stop_r = any(x.msg == _STOPPING for x in r.records)
    stop_p = any(x.msg == _STOPPING for x in p.records)
    if stop_r != stop_p and not (soft_cutoff and r.rc != p.rc):
        out.problems.append(f"'{_STOPPING}' logged by rclone: {stop_r}, by pysync: {stop_p}")
    return out


def reference_hung(r: Run, p: Run, cutoff: frozenset[int] | None) -> bool:
    """rclone, not pysync, was killed at the time limit after a --max-transfer graceful
    stop had cancelled its march ('context canceled'), or a hard one its run: rclone's
    own hang (s20011-c0 to
    SMB: every attempt waits ~60 s on its connection pool, on each rerun), not a
    deviation. pysync's run is still checked (its exit code one of ``cutoff``'s, the
    destination only its starting or the source's contents)."""
    stopped = (_STOPPING.encode() in r.stderr and b"context canceled" in r.stderr) or (
        # the hard cut-off's fatal cancel: its SMB pool redials for minutes (s24010-c1),
        # the error wrapped or not ("Update ReadFrom failed: max transfer limit reached",
        # s36019-c1; "dial tcp ...: operation was canceled" after it, s36056-c1)
        b"max transfer limit reached" in r.stderr
        and (b"Cancelling sync due to fatal error: " in r.stderr
             or b": operation was canceled" in r.stderr))
    return (cutoff is not None and b"[harness] killed after" in r.stderr
            and b"[harness] killed after" not in p.stderr and p.rc in cutoff and stopped)


def compare_runs(r: Run, p: Run, window: tuple[int, int], sand_r: Path, sand_p: Path,
                 start: dict[str, Snapshot], *, dry_run: bool = False,
                 max_delete: bool = False, compare_logs: bool = True,
                 roots: dict[str, tuple[Path, Path]] | None = None,
                 cutoff: frozenset[int] | None = None,
                 samba_parts: frozenset[str] = frozenset()) -> Outcome:
    """Compare the two runs; ``start`` holds the starting snapshots of src/dst/bak.

    ``samba_parts``: the parts served by smbd, where a file renamed under a name made
    from one of Samba's 8.3 mangled names may land under the unmangled name instead
    (:func:`samba_mangle_twins`); such a pair counts as equal, with a note.

    ``roots`` maps a part to the (rclone, pysync) directories that hold it (by default
    ``sand_r/part`` and ``sand_p/part``; a remote part lives in the server's directory).
    ``cutoff``: the run had ``--max-transfer``, and these exit codes are interchangeable
    (rclone itself returns any of them from run to run: 1 or 8 depending on which error
    came last, and with ``--cutoff-mode soft|cautious`` also 0 when every transfer had
    started before the limit was reached).  When a tool failed, which transfers finished
    is up to rclone's scheduling: each destination is then only checked to hold, for every
    path, its starting entry or the source's content (each backup one of the starting
    destination's contents), and the messages are compared softly.
    """
    out = Outcome()
    hung = reference_hung(r, p, cutoff)
    for who, run in (("rclone", r), ("pysync", p)):
        if b"[harness] killed after" in run.stderr:
            (out.soft if hung and run is r else out.problems).append(
                f"{who} did not finish within {TIMEOUT}s (killed)"
                + (" after its graceful stop cancelled its march (rclone's hang)" if hung
                   else ""))
    cut = cutoff is not None and (r.rc != 0 or p.rc != 0)
    if r.rc != p.rc and not hung and not (cut and cutoff is not None
                                          and {r.rc, p.rc} <= cutoff):
        out.problems.append(f"exit codes differ: rclone={r.rc} pysync={p.rc}")
    for part in ("src", "dst", "bak"):
        root_r, root_p = (roots or {}).get(part, (sand_r / part, sand_p / part))
        sr, sp = snapshot(root_r), snapshot(root_p)
        before = start.get(part, {})
        if part == "src" or dry_run:
            for who, s in (("rclone", sr), ("pysync", sp)):
                if s != before:
                    what = "the source" if part == "src" else f"{part} with --dry-run"
                    out.problems.append(f"{who} changed {what}")
                    out.details.append(f"  {who} changed {part}:\n"
                                       + "\n".join(diff_snapshots(before, s, "before", who)))
            continue
        nr = _strip_root(normalise_times(sr, window))
        np_ = _strip_root(normalise_times(sp, window))
        if cut:
            for who, snap in (("rclone", nr), ("pysync", np_)):
                if part == "dst":
                    bad = _cutoff_violations(snap, before, start.get("src", {}))
                else:
                    olds = {(n.size, n.digest) for n in start.get("dst", {}).values()
                            if n.kind == "f"}
                    bad = [f"{k}: {n.show()}" for k, n in snap.items()
                           if n.kind == "f" and (n.size, n.digest) not in olds]
                if bad:
                    out.problems.append(f"--max-transfer: {who}'s {part} holds {len(bad)} "
                                        "entries that are neither as before nor from src")
                    out.details.append(f"  {who}'s unexpected {part} entries:\n"
                                       + _show(bad))
            continue
        skip: set[str] = set()
        if max_delete and (r.rc == 7 or p.rc == 7):
            # Which files are deleted is up to rclone's scheduling: compare how many.
            before_keys = set(before)
            gone_r = {k for k in before_keys if k not in nr}
            gone_p = {k for k in before_keys if k not in np_}
            new_r, new_p = set(nr) - before_keys, set(np_) - before_keys
            if part == "dst":
                skip = (gone_r ^ gone_p) | {k for k in gone_r & gone_p}
                nf_r = sum(1 for k in gone_r if before[k].kind == "f")
                nf_p = sum(1 for k in gone_p if before[k].kind == "f")
                if nf_r != nf_p:
                    out.problems.append(f"--max-delete: rclone removed {nf_r} files from dst, "
                                        f"pysync {nf_p}")
                # parents of removed files changed mtime in one tree, not the other
                skip |= {k.rsplit("/", 1)[0] for k in gone_r ^ gone_p if "/" in k}
                # --suffix without --backup-dir: a "deleted" file is renamed beside itself,
                # so which backups exist follows which files went
                skip |= new_r ^ new_p
                if len([k for k in new_r if nr[k].kind == "f"]) != \
                        len([k for k in new_p if np_[k].kind == "f"]):
                    out.problems.append("--max-delete: different numbers of new files in dst")
            else:
                skip = new_r ^ new_p
                if len([k for k in new_r if nr[k].kind == "f"]) != \
                        len([k for k in new_p if np_[k].kind == "f"]):
                    out.problems.append(f"--max-delete: different numbers of backups in {part}")
                skip |= {k for k in new_r | new_p if (nr.get(k) or np_[k]).kind == "d"}
        if part in samba_parts:
            twins = samba_mangle_twins(nr, np_, start.get("dst", {}))
            if twins:
                skip |= twins
                out.soft.append(f"  {part}: Samba's mangle cache chose the name of "
                                f"{len(twins) // 2} renamed file(s): "
                                + ", ".join(sorted(show_name(k) for k in twins)))
        diff = diff_snapshots(nr, np_, skip=skip)
        if diff:
            out.problems.append(f"{part} trees differ ({len(diff)} entries)")
            out.details.append(f"  {part} tree differences (mtimes within the run = 'now'):\n"
                               + "\n".join(diff))
    if cut:
        if compare_logs and LOG_MODE != "off":
            _compare_logs(r, p, False, out, soft_only=True)
        return out
    if compare_logs and LOG_MODE != "off":
        _compare_logs(r, p, max_delete and (r.rc == 7 or p.rc == 7), out)
    return out


#: Samba's 8.3 mangled name (mangle method hash2): six characters, "~", one more, and up to
#: three of the extension, all upper case
_MANGLED = re.compile(r"[A-Z0-9_]{6}~[A-Z0-9_](?:\.[A-Z0-9_]{1,3})?")
_WINDOWS_ILLEGAL = frozenset('\\/:*?"<>|')


def _samba_mangles(name: str) -> bool:
    """Samba shows ``name`` to SMB clients under a mangled 8.3 name (``mangled names``
    at its default): a trailing space or period, a control character, or a character
    Windows refuses."""
    return name.endswith((" ", ".")) or any(c in _WINDOWS_ILLEGAL or ord(c) < 32
                                            for c in name)


def samba_mangle_twins(a: Snapshot, b: Snapshot, start_dst: Snapshot) -> set[str]:
    """Paths of files that differ between ``a`` and ``b`` only as Samba may name them.

    A destination file that smbd lists under a mangled 8.3 name ``M`` (its real name ``O``
    is one Samba must mangle) and that a tool renames to ``M`` + suffix (--suffix,
    --backup-dir) lands as ``O`` + suffix when the smbd process doing the rename has that
    name in its mangle cache (it listed the folder), else as ``M`` + suffix. Which process
    does it is up to each tool's connection pool: rclone itself gives either from run to
    run (3 of 6 identical runs each way, session 17). Such a pair (same folder, same
    suffix, same content) is returned, both paths."""
    originals = {k.rsplit("/", 1)[-1] for k, n in start_dst.items() if n.kind == "f"}
    originals = {o for o in originals if _samba_mangles(o)}
    if not originals:
        return set()
    only_a = {k: n for k, n in a.items() if k not in b and n.kind == "f"}
    only_b = {k: n for k, n in b.items() if k not in a and n.kind == "f"}
    twins: set[str] = set()
    for ka, na in only_a.items():
        for kb, nb in only_b.items():
            if kb in twins or (na.size, na.digest, na.mtime) != (nb.size, nb.digest, nb.mtime):
                continue
            da, _, la = ka.rpartition("/")
            db, _, lb = kb.rpartition("/")
            if da != db:
                continue
            for mangled, plain in ((la, lb), (lb, la)):
                m = _MANGLED.match(mangled)
                if m is None:
                    continue
                # the suffix may start with what reads as the 8.3 name's extension
                if any(plain == o + mangled[end:] for end in {8, m.end()} for o in originals):
                    twins.update((ka, kb))
                    break
            if ka in twins:
                break
    return twins


def _cutoff_violations(snap: Snapshot, before: Snapshot, src: Snapshot) -> list[str]:
    """Entries of a destination cut short by --max-transfer that are neither as they were
    before the run nor a copy of the source's content at that path."""
    # by content, not by path: a remote may store a name encoded (SMB: a trailing space
    # as U+2420 and so on), and both tools encode alike (the normal comparison checks that)
    contents = {(n.size, n.digest) for n in [*before.values(), *src.values()] if n.kind == "f"}
    return [f"{rel}: {n.show()}" for rel, n in snap.items()
            if n.kind != "d" and (n.size, n.digest) not in contents]


def report(title: str, r: Run, p: Run, out: Outcome, context: str = "") -> str:
    parts = [f"{title}: " + "; ".join(out.problems),
             f"  rclone: (cd SANDBOX && {fmt_cmd(r.cmd)})  -> exit {r.rc}",
             f"  pysync: (cd SANDBOX && {fmt_cmd(p.cmd)})  -> exit {p.rc}"]
    if SELF_MODE:
        parts.append("  (PYSYNC_DIFF_SELF=1: rclone on both sides - a harness bug or a race)")
    parts += out.details
    parts += out.soft
    parts.append("  rclone stderr:\n    " + _tail(r.stderr).replace("\n", "\n    "))
    parts.append("  pysync stderr:\n    " + _tail(p.stderr).replace("\n", "\n    "))
    if context:
        parts.append(context)
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------
# scenarios: a source tree and a mutated copy of it as the destination


@dataclass
class Item:
    """Duck-typed stand-in for ``trees.Entry`` (what rules.random_glob/pick_size use)."""

    rel: str
    is_dir: bool
    size: int
    age_ns: int

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]


@dataclass
class Scenario:
    seed: int
    proto: Path  # holds src/ and dst/
    built_ns: int
    start: dict[str, Snapshot]
    notes: list[str] = field(default_factory=list)

    def items(self, side: str) -> list[Item]:
        return [Item(rel, n.kind == "d", n.size, self.built_ns - n.mtime)
                for rel, n in self.start[side].items() if rel]

    def all_items(self) -> list[Item]:
        return self.items("src") + self.items("dst")

    def describe(self) -> str:
        return "\n".join([
            f"  scenario seed {self.seed}: {', '.join(self.notes) or 'plain'}",
            "  starting src (ages at build time):\n" + describe(self.start["src"],
                                                                 self.built_ns),
            "  starting dst:\n" + describe(self.start["dst"], self.built_ns),
        ])


def _other_form(name: str) -> str | None:
    nfc, nfd = unicodedata.normalize("NFC", name), unicodedata.normalize("NFD", name)
    if nfc == nfd:
        return None
    return nfd if name == nfc else nfc


_NEW_NAMES = ("new.txt", "extra.dat", "zz-only-in-dst.bin", "index.dat", "old.fdb",
              "Straße.txt", "café.dat", "x y.txt", "0.dat", "notes.md")
# mtime shifts for mutated destination files (some inside a 2s modify window)
_SHIFTS = (1, 1000, 999_999_999, NS, NS + 1, 2 * NS, 3 * NS, 90 * NS, HOUR, 2 * DAY,
           37 * DAY)


def _write(path: Path, data: bytes, mtime_ns: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def _flip(data: bytes, rng: random.Random) -> bytes:
    """Same size, different content."""
    if not data:
        return data
    b = bytearray(data)
    i = rng.randrange(len(b))
    b[i] ^= 0x5A
    return bytes(b)


def mutate_dst(dst: Path, src_snap: Snapshot, rng: random.Random, built_ns: int,
               notes: list[str], *, allow_conflicts: bool = True) -> None:
    """Turn ``dst`` (a clone of the source) into an out-of-date, messy destination."""
    files = sorted(r for r, n in src_snap.items() if r and n.kind == "f")
    dirs = sorted(r for r, n in src_snap.items() if r and n.kind == "d")
    conflicts = rng.random() < 0.2 and allow_conflicts
    kinds: Counter[str] = Counter()
    removed: set[str] = set()  # dst paths removed (and everything below)

    def gone(rel: str) -> bool:
        parts = rel.split("/")
        return any("/".join(parts[:i]) in removed for i in range(1, len(parts) + 1))

    # whole directories missing from dst
    for d in dirs:
        if rng.random() < 0.05 and not gone(d):
            shutil.rmtree(dst / d)
            removed.add(d)
            kinds["dir missing"] += 1
    for rel in files:
        if gone(rel):
            continue
        path = dst / rel
        st = path.stat()
        mt = st.st_mtime_ns
        r = rng.random()
        sign = rng.choice((-1, 1))
        shift = rng.choice(_SHIFTS)
        if r < 0.08:
            path.unlink()
            kind = "deleted"
        elif r < 0.14 and st.st_size:
            _write(path, _flip(path.read_bytes(), rng), mt)
            kind = "same size+mtime, other content"
        elif r < 0.20:
            data = path.read_bytes()
            data = data[: rng.randrange(len(data))] if data and rng.random() < 0.5 else \
                data + rng.randbytes(rng.randint(1, 3000))
            _write(path, data, mt if rng.random() < 0.5 else mt + sign * shift)
            kind = "other size"
        elif r < 0.28:
            os.utime(path, ns=(mt + sign * shift, mt + sign * shift))
            kind = "mtime only"
        elif r < 0.33:
            data = _flip(path.read_bytes(), rng) if rng.random() < 0.6 else b"newer " * 3
            _write(path, data, mt + shift)
            kind = "dst newer, other content"
        elif r < 0.37:
            data = _flip(path.read_bytes(), rng) if rng.random() < 0.6 else b"older"
            _write(path, data, mt - shift)
            kind = "dst older, other content"
        elif conflicts and r < 0.39:
            path.unlink()
            _write(path / "inner.txt", b"a directory where src has a file\n", mt - DAY)
            kind = "type conflict: dir in dst"
        else:
            continue
        kinds[kind] += 1
    if conflicts:
        # an empty source directory where the destination has a file of that name (with
        # --create-empty-src-dirs: made over the file, which sync then deletes)
        empty = [d for d in dirs if not gone(d)
                 and not any(r.startswith(d + "/") for r in src_snap)]
        for d in rng.sample(empty, k=min(len(empty), rng.choice((0, 1, 1, 2)))):
            shutil.rmtree(dst / d)
            _write(dst / d, b"a file where src has an empty directory\n",
                   built_ns - 2 * DAY)
            removed.add(d)
            kinds["type conflict: file in dst, empty dir in src"] += 1
        leafs = [d for d in dirs if not gone(d)]
        for d in rng.sample(leafs, k=min(len(leafs), rng.choice((0, 1, 1, 2)))):
            if gone(d):
                continue
            shutil.rmtree(dst / d)
            _write(dst / d, b"a file where src has a directory\n", built_ns - 3 * DAY)
            removed.add(d)
            kinds["type conflict: file in dst"] += 1
    # NFC <-> NFD: the same name in the other normal form on the destination side
    for rel in sorted(list(files) + dirs, key=lambda x: -x.count("/")):
        if gone(rel) or not (dst / rel).exists():
            continue
        name = rel.rsplit("/", 1)[-1]
        other = _other_form(name)
        if other is None or rng.random() < 0.5:
            continue
        parent = dst / rel.rsplit("/", 1)[0] if "/" in rel else dst
        if (parent / other).exists():
            continue
        pst = parent.stat()
        (parent / name).rename(parent / other)
        os.utime(parent, ns=(pst.st_atime_ns, pst.st_mtime_ns))
        removed.add(rel)
        kinds["NFC/NFD renamed"] += 1
    # destination-only files, directories and empty directories
    live_dirs = [""] + [d for d in dirs if not gone(d)]
    for _ in range(rng.choice((0, 1, 2, 3, 5))):
        parent = rng.choice(live_dirs)
        name = rng.choice(_NEW_NAMES)
        if rng.random() < 0.15 and name != _other_form(name):
            name = _other_form(name) or name
        path = dst / parent / name
        if path.exists() or (dst / parent).is_file():
            continue
        age = rng.choice((2 * HOUR, 3 * DAY, 40 * DAY, -3 * HOUR))
        _write(path, rng.randbytes(rng.choice((0, 5, 700, 5000))), built_ns - age)
        kinds["dst-only file"] += 1
    for _ in range(rng.choice((0, 0, 1, 2))):
        parent = rng.choice(live_dirs)
        sub = dst / parent / rng.choice(("only-in-dst", "Old Store", "tmp.d", "x"))
        if sub.exists():
            continue
        _write(sub / "f.dat", rng.randbytes(100), built_ns - 5 * DAY)
        if rng.random() < 0.5:
            (sub / "empty").mkdir()
        kinds["dst-only dir"] += 1
    for _ in range(rng.choice((0, 1, 2))):
        parent = rng.choice(live_dirs)
        sub = dst / parent / rng.choice(("empty-dst", "Empty", "e"))
        if sub.exists():
            continue
        sub.mkdir()
        kinds["dst-only empty dir"] += 1
    if rng.random() < 0.15:  # an exclude-if-present marker that only the dst has
        parent = rng.choice(live_dirs)
        path = dst / parent / rng.choice(MARKERS)
        if not path.exists() and not (dst / parent).is_file():
            _write(path, b"", built_ns - 4 * DAY)
            kinds["dst-only marker"] += 1
    # Directory mtimes, deterministically: most directories that the source has too get
    # the source's mtime (sometimes shifted), everything else an old random one.
    all_dirs = [dp for dp, _dn, _fn in os.walk(dst)]
    for abs_dir in sorted(all_dirs, key=lambda x: -x.count(os.sep)):
        d = os.path.relpath(abs_dir, dst).replace(os.sep, "/")
        if d == ".":
            continue
        sn = src_snap.get(d)
        if sn is not None and sn.kind == "d" and rng.random() < 0.7:
            mt = sn.mtime
            if rng.random() < 0.3:
                mt += rng.choice((-1, 1)) * rng.choice(_SHIFTS)
        else:
            mt = built_ns - rng.randint(HOUR, 60 * DAY)
        os.utime(abs_dir, ns=(mt, mt))
    notes.extend(f"{k} x{v}" for k, v in sorted(kinds.items()))


def _add_nfc_pair(src: Path, dst: Path, rng: random.Random, built_ns: int,
                  notes: list[str]) -> None:
    """A file whose name is NFC in the source and NFD in the destination (or reverse)."""
    nfc = rng.choice(("café.txt", "Résumé.dat", "naïve.md", "Ärger.fdb"))
    nfd = unicodedata.normalize("NFD", nfc)
    a, b = (nfc, nfd) if rng.random() < 0.5 else (nfd, nfc)
    data = rng.randbytes(rng.choice((10, 2000)))
    mt = built_ns - 6 * DAY
    _write(src / a, data, mt)
    r = rng.random()
    if r < 0.4:
        _write(dst / b, data, mt)  # identical
        notes.append(f"NFC/NFD pair {a!r}/{b!r} identical")
    elif r < 0.7:
        _write(dst / b, _flip(data, rng) + b"x", mt - DAY)
        notes.append(f"NFC/NFD pair {a!r}/{b!r} different")
    else:
        _write(dst / b, data, mt - HOUR)
        notes.append(f"NFC/NFD pair {a!r}/{b!r} mtime differs")


_TWINS = ("café", "Résumé", "naïve", "Ärger")


def _add_twins(root: Path, rng: random.Random, built_ns: int, notes: list[str],
               side: str) -> None:
    """Names equal after NFC normalisation in one directory of one side (both forms of a
    file, or of a directory): rclone keeps the first one the local disk lists."""
    base = rng.choice(_TWINS)
    forms = [unicodedata.normalize("NFC", base), unicodedata.normalize("NFD", base)]
    rng.shuffle(forms)  # which one is created first
    as_dir = rng.random() < 0.4
    if any((root / (n if as_dir else f"{n}.txt")).exists() and
           (root / (n if as_dir else f"{n}.txt")).is_dir() != as_dir for n in forms):
        return  # the tree already holds that name as the other kind (s97023)
    for i, name in enumerate(forms):
        data = rng.randbytes(rng.choice((7, 300))) + bytes([i])
        mt = built_ns - rng.choice((2, 5)) * DAY
        if as_dir:
            _write(root / name / "in.txt", data, mt)
            os.utime(root / name, ns=(mt, mt))
        else:
            _write(root / f"{name}.txt", data, mt)
    notes.append(f"NFC/NFD twin {'dirs' if as_dir else 'files'} {base!r} in {side}")


def build_scenario(proto: Path, seed: int, *, allow_conflicts: bool = True) -> Scenario:
    """Build ``proto/src`` (a random tree) and ``proto/dst`` (a mutated copy of it)."""
    rng = random.Random(f"sync-scenario-{seed}")
    size = rng.choice(("small", "small", "medium"))
    tree = build_tree(proto / "src", seed, size=size)
    built_ns = tree.built_ns
    notes = [f"{size} tree"]
    src_snap = snapshot(proto / "src")
    r = rng.random()
    if r < 0.04:
        notes.append("dst does not exist")
    elif r < 0.08:
        (proto / "dst").mkdir()
        notes.append("dst empty")
    else:
        clone_tree(proto / "src", proto / "dst", src_snap)
        mutate_dst(proto / "dst", src_snap, rng, built_ns, notes,
                   allow_conflicts=allow_conflicts)
        if rng.random() < 0.3:
            _add_nfc_pair(proto / "src", proto / "dst", rng, built_ns, notes)
        if rng.random() < 0.15:
            side = rng.choice(("src", "dst"))
            _add_twins(proto / side, rng, built_ns, notes, side)
    # restore the roots' mtimes to something old and different
    for part, age in (("src", 2 * DAY), ("dst", 9 * DAY)):
        if (proto / part).exists():
            os.utime(proto / part, ns=(built_ns - age, built_ns - age))
    start = {"src": snapshot(proto / "src"), "dst": snapshot(proto / "dst"), "bak": {}}
    return Scenario(seed, proto, built_ns, start, notes)


def fixed_proto(tmp_path: Path, src: dict[str, object] | None, dst: dict[str, object] | None,
                now_ns: int | None = None) -> tuple[Path, dict[str, Snapshot]]:
    """A prototype with hand-written src/dst trees under ``tmp_path/proto`` (None: that side
    does not exist) and its starting snapshots (``src``, ``dst``, an empty ``bak``)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    proto = tmp_path / "proto"
    proto.mkdir()
    for part, spec in (("src", src), ("dst", dst)):
        if spec is not None:
            make_files(proto / part, spec, now_ns)
    start = {"src": snapshot(proto / "src"), "dst": snapshot(proto / "dst"), "bak": {}}
    return proto, start


def make_files(root: Path, spec: dict[str, object], now_ns: int) -> None:
    """Create a hand-written tree: ``rel -> (content, age_ns)`` for a file, ``rel -> None``
    or ``rel -> age_ns`` (an int) for a directory.

    ``content`` is bytes, or an int size (deterministic bytes derived from the path).
    Directories (the root too) get an mtime of ``now_ns - age``, by default 3 days ago.
    """
    root.mkdir(parents=True, exist_ok=True)
    dir_age: dict[str, int] = {"": 3 * DAY}
    for rel, what in spec.items():
        rel = rel.strip("/")
        parts = rel.split("/")
        for i in range(1, len(parts)):
            dir_age.setdefault("/".join(parts[:i]), 3 * DAY)
        if what is None or isinstance(what, int):
            (root / rel).mkdir(parents=True, exist_ok=True)
            dir_age[rel] = 3 * DAY if what is None else what
            continue
        content, age = what  # type: ignore[misc]
        if isinstance(content, int):
            content = random.Random(f"content-{rel}-{content}").randbytes(content)
        _write(root / rel, content, now_ns - age)
    for d in sorted(dir_age, key=lambda x: -x.count("/") if x else 1):
        mt = now_ns - dir_age[d]
        os.utime(root / d if d else root, ns=(mt, mt))


# ---------------------------------------------------------------------------------------
# flag mixes

COMPARE_FLAGS = (
    [], [], [], ["--size-only"], ["--checksum"], ["--ignore-times"], ["--ignore-existing"],
    ["--update"], ["--ignore-size"], ["--no-update-modtime"], ["--modify-window", "2s"],
    ["--update", "--modify-window", "2s"], ["--checksum", "--update"],
    ["--ignore-size", "--checksum"], ["--size-only", "--update"],
    ["--no-update-modtime", "--modify-window", "2s"], ["--checksum", "--no-update-modtime"],
    ["--ignore-size", "--update"], ["--ignore-existing", "--checksum"],
)
AGES = (  # (flag value, ns)
    ("90m", 90 * MINUTE), ("2h", 2 * HOUR), ("12h", 12 * HOUR), ("36h", 36 * HOUR),
    ("1d", DAY), ("2d", 2 * DAY), ("3d", 3 * DAY), ("1w", 7 * DAY), ("10d", 10 * DAY),
    ("1M", 30 * DAY), ("3M", 90 * DAY), ("1y", 365 * DAY), ("-1d", -DAY), ("0", 0),
)


def pick_age(rng: random.Random, items: list[Item],
             lo: int | None = None) -> tuple[str, int] | None:
    files = [i for i in items if not i.is_dir]
    cands = [(s, d) for s, d in AGES
             if all(abs(d - f.age_ns) > AGE_MARGIN_NS for f in files)
             and (lo is None or d > lo)]
    return rng.choice(cands) if cands else None


@dataclass
class Case:
    mode: str
    flags: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def dry_run(self) -> bool:
        return "--dry-run" in self.flags

    @property
    def max_delete(self) -> bool:
        return "--max-delete" in self.flags

    @property
    def budget_runs_out(self) -> bool:
        """A --max-transfer budget smaller than the data (compared loosely)."""
        return budget_runs_out(self.flags)

    def line(self) -> str:
        return shlex.join([self.mode, "src", "dst", *self.flags, *STD_FLAGS])


BUDGETS = ("1G", "1G", "0", "1")  # never reached, or reached at once
CUTOFF_MODES = (None, "hard", "soft", "cautious", "SOFT", "Cautious")
# values rclone refuses (exit 2 or 1) while pysync once took them
INVALID_FLAGS = (
    ["--cutoff-mode", "bogus"], ["--max-transfer", "1x"], ["--bwlimit", "fast"],
    ["--bwlimit", "25:00,1M"], ["--stats-log-level", "LOUD"], ["--dump", "nothing"],
    ["--max-delete", "1.5"], ["--transfers", ""], ["--delete-before", "--delete-during"],
    ["--partial-suffix", ".a-very-long-suffix"], ["--stats", "1x"],
)


def refused_flags(flags: list[str]) -> bool:
    """True when ``flags`` hold one of ``INVALID_FLAGS``."""
    return any(flags[i:i + len(g)] == g for g in INVALID_FLAGS for i in range(len(flags)))


def first_error(stderr: bytes) -> str:
    """The line that says what was wrong with a command line: ``Error: ...`` (its first
    line: rclone's usage follows) or a CRITICAL message."""
    for rec in parse_log(stderr):
        if rec.level == "RAW" and rec.msg.startswith("Error: "):
            return rec.msg.splitlines()[0]
        if rec.level == "CRITICAL":
            return "CRITICAL: " + rec.msg.splitlines()[0]
    return ""


def compare_refused_runs(r: Run, p: Run, sand_r: Path, sand_p: Path,
                         start: dict[str, Snapshot]) -> Outcome:
    """Compare two runs given a value rclone refuses: exit code, error line, no change."""
    out = Outcome()
    if r.rc != p.rc:
        out.problems.append(f"exit codes differ: rclone={r.rc} pysync={p.rc}")
    if first_error(r.stderr) != first_error(p.stderr):
        out.problems.append("error lines differ")
        out.details.append(f"  rclone: {first_error(r.stderr)!r}\n"
                           f"  pysync: {first_error(p.stderr)!r}")
    for who, sand in (("rclone", sand_r), ("pysync", sand_p)):
        for part in ("src", "dst"):
            if snapshot(sand / part) != start[part]:
                out.problems.append(f"{who} changed {part} although it refused the flags")
    return out


def soft_cutoff(flags: list[str]) -> bool:
    """True when ``flags`` ask for --cutoff-mode soft or cautious (any case)."""
    if "--cutoff-mode" not in flags:
        return False
    i = flags.index("--cutoff-mode")
    return i + 1 < len(flags) and flags[i + 1].lower() in ("soft", "cautious")


def budget_runs_out(flags: list[str]) -> bool:
    """True when ``flags`` hold a --max-transfer budget the data will exceed (never with
    --dry-run: rclone skips a dry run's copies before it checks the budget)."""
    if "--max-transfer" not in flags or "--dry-run" in flags:
        return False
    i = flags.index("--max-transfer")
    return i + 1 < len(flags) and flags[i + 1] in ("0", "1")


def _filter_flags(rng: random.Random, items: list[Item]) -> list[list[str]]:
    groups: list[list[str]] = []
    n = rng.choice((1, 1, 2, 3))
    style = rng.random()
    for i in range(n):
        g = random_glob(rng, items)
        if style < 0.4:
            if i == n - 1 and rng.random() < 0.4:
                groups.append(["--filter", "- " + rng.choice(("**", "*"))])
            else:
                groups.append(["--filter", f"{rng.choice('+-')} {g}"])
        elif style < 0.65:
            groups.append(["--include", g])
        else:
            groups.append(["--exclude", g])
    return groups


def generate_case(scn: Scenario, case_no: int) -> Case:
    """A random ``copy``/``sync`` invocation for a scenario."""
    rng = random.Random(f"sync-case-{scn.seed}-{case_no}")
    mode = "sync" if rng.random() < 0.6 else "copy"
    items = scn.all_items()
    files = [i for i in items if not i.is_dir]
    groups: list[list[str]] = []
    notes: list[str] = []
    groups.append(list(rng.choice(COMPARE_FLAGS)))
    if rng.random() < 0.3:
        groups.append(["--create-empty-src-dirs"])
    filtered = False
    if rng.random() < 0.3:
        groups += _filter_flags(rng, items)
        filtered = True
    if rng.random() < 0.15:
        groups.append([rng.choice(("--min-size", "--max-size")), pick_size(rng, files)])
        filtered = True
    if rng.random() < 0.15:
        r = rng.random()
        if r < 0.45:
            a = pick_age(rng, items)
            if a:
                groups.append(["--min-age", a[0]])
                filtered = True
        elif r < 0.9:
            a = pick_age(rng, items)
            if a:
                groups.append(["--max-age", a[0]])
                filtered = True
        else:
            lo = pick_age(rng, items)
            hi = pick_age(rng, items, lo=lo[1]) if lo else None
            if lo and hi:
                groups += [["--min-age", lo[0]], ["--max-age", hi[0]]]
                filtered = True
    if rng.random() < 0.08:
        groups.append(["--exclude-if-present", rng.choice(MARKERS)])
        filtered = True
    if rng.random() < 0.1:
        groups.append(["--max-depth", str(rng.choice((1, 1, 2, 3)))])
    delete_mode = None
    if mode == "sync":
        if rng.random() < 0.4:
            delete_mode = rng.choice(("--delete-before", "--delete-during", "--delete-after"))
            if delete_mode == "--delete-during" and any("type conflict" in n for n in scn.notes):
                # rclone deletes the conflicting file while other checkers already copy
                # into the directory of the same name: which attempt succeeds is a race.
                delete_mode = "--delete-after"
            groups.append([delete_mode])
        if filtered and rng.random() < 0.35:
            groups.append(["--delete-excluded"])
        if rng.random() < 0.12:
            groups.append(["--max-delete", str(rng.choice((0, 0, 1, 2, 3, 5, 20)))])
    if rng.random() < 0.1:
        groups.append(["--dry-run"])
    r = rng.random()
    if r < 0.12:
        groups.append(["--backup-dir", "bak/old"])
        if rng.random() < 0.3:
            groups.append([rng.choice(("--suffix=.bak", "--suffix=-old", "--suffix=.1"))])
    elif r < 0.22:
        groups.append(["--suffix", rng.choice((".bak", ".bak", "~"))])
    if any(g and g[0].startswith("--suffix") for g in groups) and rng.random() < 0.4:
        groups.append(["--suffix-keep-extension"])
    if rng.random() < 0.1:
        groups.append(["--max-transfer", rng.choice(BUDGETS)])
        cutoff = rng.choice(CUTOFF_MODES)
        if cutoff is not None:
            groups.append(["--cutoff-mode", cutoff])
    if rng.random() < 0.06:
        groups.append(["--immutable"])
    if rng.random() < 0.03:
        groups.append(list(rng.choice(INVALID_FLAGS)))
    rng.shuffle(groups)
    flags = [a for g in groups for a in g] + extra_flags(scn, case_no, mode, flags_so_far=[
        a for g in groups for a in g])
    return Case(mode, flags, notes)


def _twin_contents(scn: Scenario) -> bool:
    """True when some contents (size and hash) are in both trees and twice in one of them:
    --track-renames then pairs those files in the order rclone's concurrent march happens
    to queue them (rclone against itself differs, s85019-c3)."""
    counts: list[dict[tuple[int, str], int]] = []
    for part in ("src", "dst"):
        c: dict[tuple[int, str], int] = {}
        for node in scn.start.get(part, {}).values():
            if node.kind == "f":
                key = (node.size, node.digest)
                c[key] = c.get(key, 0) + 1
        counts.append(c)
    src, dst = counts
    return any(k in dst and (n > 1 or dst[k] > 1) for k, n in src.items())


def extra_flags(scn: Scenario, case_no: int, mode: str, *, flags_so_far: list[str]
                ) -> list[str]:
    """Flags of the rest of rclone's copy/sync set mixed in (session 13): renames
    tracking, --no-traverse, --check-first with --order-by, --inplace, --ignore-errors,
    case handling, --error-on-no-transfer. Drawn from their own random stream, so the
    older part of a case (its seed's flags) stays as it was."""
    rng = random.Random(f"sync-extra-{scn.seed}-{case_no}")
    out: list[str] = []
    if mode == "sync" and rng.random() < 0.2 and "--delete-before" not in flags_so_far \
            and not _twin_contents(scn):
        out.append("--track-renames")
        if rng.random() < 0.5:
            out += ["--track-renames-strategy", rng.choice(("modtime", "leaf", "hash,leaf"))]
    if mode == "copy" and rng.random() < 0.08:
        out.append(rng.choice(("--no-traverse", "--no-traverse", "--no-check-dest")))
    if rng.random() < 0.08:
        out.append("--check-first")
        if rng.random() < 0.5:
            out += ["--order-by", rng.choice(("size,desc", "name", "modtime,asc"))]
    if rng.random() < 0.06:
        out.append("--inplace")
    if mode == "sync" and rng.random() < 0.06:
        out.append("--ignore-errors")
    if rng.random() < 0.05:
        out.append(rng.choice(("--fix-case", "--ignore-case-sync")))
    if rng.random() < 0.05:
        out.append("--error-on-no-transfer")
    return out


# ---------------------------------------------------------------------------------------
# running one case


def prepare_sandboxes(proto: Path, start: dict[str, Snapshot], work: Path) -> tuple[Path, Path]:
    sand_r, sand_p = work / "r", work / "p"
    for sand in (sand_r, sand_p):
        sand.mkdir(parents=True)
        for part in ("src", "dst"):
            if (proto / part).exists():
                clone_tree(proto / part, sand / part, start[part])
    return sand_r, sand_p


def run_case(scn_proto: Path, start: dict[str, Snapshot], mode: str, flags: list[str],
             work: Path, *, compare_logs: bool = True) -> tuple[Run, Run, Outcome]:
    sand_r, sand_p = prepare_sandboxes(scn_proto, start, work)
    r, p, window = run_pair(mode, flags, sand_r, sand_p)
    if refused_flags(flags):
        return r, p, compare_refused_runs(r, p, sand_r, sand_p, start)
    if budget_runs_out(flags):
        return r, p, compare_budget_runs(r, p, sand_r, sand_p, start,
                                         soft_cutoff=soft_cutoff(flags),
                                         immutable="--immutable" in flags,
                                         deleting_during="--delete-during" in flags
                                         and "--max-delete" in flags)
    out = compare_runs(r, p, window, sand_r, sand_p, start, dry_run="--dry-run" in flags,
                       max_delete="--max-delete" in flags, compare_logs=compare_logs)
    compare_final_stats(r, p, out)
    return r, p, out


def compare_final_stats(r: Run, p: Run, out: Outcome) -> None:
    """The final stats' Errors and Checks lines (with Listed N), when the exit codes agree.

    After an error, how much each attempt listed depends on when the march stopped (a fatal
    error cancels it; rclone lists both sides of a directory at once): Listed is then only
    compared softly."""
    if r.rc != p.rc:
        return
    listed = r.rc == 0
    got_r, got_p = (final_stats_counts(run.stderr, listed=listed) for run in (r, p))
    if got_r != got_p:
        out.problems.append(f"final stats differ: rclone {got_r}, pysync {got_p}")
    elif not listed and final_stats_counts(r.stderr) != final_stats_counts(p.stderr):
        out.soft.append("  (soft, the run had errors) Listed counts differ: rclone "
                        f"{final_stats_counts(r.stderr)}, pysync "
                        f"{final_stats_counts(p.stderr)}")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} SEED DIR", file=sys.stderr)
        return 2
    scn = build_scenario(Path(argv[2]), int(argv[1]))
    print(scn.describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
