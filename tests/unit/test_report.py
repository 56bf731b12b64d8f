"""The sync report files (syncengine.report): lines and rclone's WinningSide."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncengine.backends.base import Entry
from syncengine.options import ReportFlags, SyncOptions
from syncengine.report import DIFFER, ERROR, MATCH, MISSING_ON_DST, MISSING_ON_SRC, SyncReport

S = Entry("a/new.txt", 5, 1)
D = Entry("a/NEW.txt", 6, 2)


def _report(tmp_path: Path, opts: SyncOptions, *, deleting: bool) -> SyncReport:
    names = ("combined", "missing_on_dst", "missing_on_src", "match", "differ", "error",
             "dest_after")
    flags = ReportFlags(**{n: str(tmp_path / n) for n in names})
    return SyncReport(flags, opts, deleting=deleting)


def test_lines(tmp_path: Path) -> None:
    with _report(tmp_path, SyncOptions(), deleting=True) as rep:
        rep.log(MISSING_ON_DST, S, None)
        rep.log(MISSING_ON_SRC, None, D)
        rep.log(DIFFER, S, D)
        rep.log(MATCH, S, D)
        rep.log(ERROR, S, None)
        rep.log(MISSING_ON_DST, Entry("dir", -1, 0, True), None, is_dir=True)
    read = lambda n: (tmp_path / n).read_text()
    assert read("combined") == ("+ a/new.txt\n- a/NEW.txt\n* a/NEW.txt\n= a/NEW.txt\n"
                                "! a/new.txt\n")
    assert read("missing_on_dst") == "a/new.txt\n"
    assert read("missing_on_src") == "a/NEW.txt\n"
    assert read("differ") == read("match") == "a/NEW.txt\n"
    assert read("error") == "a/new.txt\n"
    # sync: the destination-only file goes; the others end as the source's (error: dst)
    assert read("dest_after") == "a/new.txt\na/new.txt\na/new.txt\na/new.txt\n"


@pytest.mark.parametrize(("sigil", "opts", "deleting", "want"), [
    (MISSING_ON_SRC, SyncOptions(), True, None),
    (MISSING_ON_SRC, SyncOptions(), False, "dst"),
    (MISSING_ON_SRC, SyncOptions(dry_run=True), True, "dst"),
    (MISSING_ON_DST, SyncOptions(dry_run=True), True, None),
    (MATCH, SyncOptions(size_only=True), True, "dst"),
    (MATCH, SyncOptions(), True, "src"),
    (DIFFER, SyncOptions(ignore_existing=True), True, "dst"),
    (DIFFER, SyncOptions(ignore_times=True), True, "src"),
    (DIFFER, SyncOptions(dry_run=True), True, "dst"),
    (ERROR, SyncOptions(), True, "dst"),
])
def test_winner(tmp_path: Path, sigil: str, opts: SyncOptions, deleting: bool,
                want: str | None) -> None:
    rep = SyncReport(ReportFlags(), opts, deleting=deleting)
    assert not rep.active
    assert rep.winner(sigil, S, D) == want
