"""Differential tests: ``pysync check`` reports what ``rclone check`` reports.

Each case builds one source and one destination tree, runs both tools on them (check
changes nothing), and compares the exit code, the ``--combined`` report (one line per
file with rclone's sigils ``=`` ``*`` ``+`` ``-`` ``!``), the ERROR lines naming files and
the NOTICE summary lines ("N differences found", "N files missing", ...).
"""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from . import sync_harness as sh
from .trees import DAY

NFC = unicodedata.normalize("NFC", "Größe-é")
NFD = unicodedata.normalize("NFD", "Größe-é")

SRC = {
    "same.dat": (b"identical", DAY), "differ.dat": (b"content A", DAY),
    "size.dat": (b"short", DAY), "only-src.txt": (b"s", DAY),
    f"{NFC}/inner.txt": (b"unicode dir", DAY), f"{NFC}.txt": (b"unicode file", DAY),
    "d/deep/x.bin": (b"deep", DAY), "d/missing-dir/y.bin": (b"y", DAY),
    "conflict": (b"file on src", DAY), "empty-src/": None,
}
DST = {
    "same.dat": (b"identical", 2 * DAY), "differ.dat": (b"content B", DAY),
    "size.dat": (b"longer!", DAY), "only-dst.txt": (b"d", DAY),
    f"{NFD}/inner.txt": (b"unicode dir", DAY), f"{NFD}.txt": (b"unicode file", DAY),
    "d/deep/x.bin": (b"deep", DAY), "dst-dir/z.bin": (b"z", DAY),
    "conflict/in-dir.txt": (b"dir on dst", DAY),
}


def _run(tool: list[str], args: list[str], cwd: Path, combined: Path) -> tuple[int, list[str],
                                                                               list[str]]:
    cmd = [*tool, "check", "src", "dst", *args, "--combined", str(combined)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, env=sh.tool_env(), timeout=120)
    records = sh.parse_log(proc.stderr)
    # pysync hashes with xxh3 where both sides can (much faster than rclone's md5 choice for
    # local disks): the hash name in "<hash> differ" is the one intended difference
    errors = sorted(re.sub(r"^(.*): (md5|xxh3) differ$", r"\1: HASH differ", r.msg)
                    for r in records if r.level == "ERROR")
    notices = sorted(r.msg for r in records if r.level == "NOTICE")
    lines = sorted(combined.read_text().splitlines()) if combined.exists() else []
    return proc.returncode, lines, errors + notices


@pytest.mark.parametrize("args", [[], ["--one-way"], ["--size-only"], ["--download"],
                                  ["--checkers", "1"]],
                         ids=lambda a: "+".join(a) or "default")
def test_check_matches_rclone(tmp_path: Path, args: list[str]) -> None:
    now = sh.time.time_ns()
    sh.make_files(tmp_path / "src", SRC, now)
    sh.make_files(tmp_path / "dst", DST, now)
    rc_r, lines_r, log_r = _run([sh.RCLONE], args, tmp_path, tmp_path / "r.txt")
    rc_p, lines_p, log_p = _run([sys.executable, "-m", "syncengine"], args, tmp_path,
                                tmp_path / "p.txt")
    # rclone itself: the cases below must stay meaningful
    assert rc_r == 1 and "= same.dat" in lines_r, (rc_r, lines_r)
    assert f"= {NFC}.txt" in lines_r and f"= {NFC}/inner.txt" in lines_r, lines_r
    assert (rc_p, lines_p) == (rc_r, lines_r), (args, lines_p, lines_r)
    assert log_p == log_r, "\n".join(["pysync:", *log_p, "rclone:", *log_r])


def test_check_identical_trees_exit_0(tmp_path: Path) -> None:
    now = sh.time.time_ns()
    tree = {"a": (b"1", DAY), f"{NFC}/b": (b"2", DAY)}
    sh.make_files(tmp_path / "src", tree, now)
    sh.make_files(tmp_path / "dst", {"a": (b"1", DAY), f"{NFD}/b": (b"2", DAY)}, now)
    rc_r, lines_r, log_r = _run([sh.RCLONE], [], tmp_path, tmp_path / "r.txt")
    rc_p, lines_p, log_p = _run([sys.executable, "-m", "syncengine"], [], tmp_path,
                                tmp_path / "p.txt")
    assert rc_r == 0 and lines_r == sorted(["= a", f"= {NFC}/b"])
    assert (rc_p, lines_p, log_p) == (rc_r, lines_r, log_r)
