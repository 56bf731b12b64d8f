"""Differential tests of the rclone copy/sync flags of issue #15 and of ``copyto``.

Each test runs the real ``rclone`` and ``python -m syncengine`` on twin sandboxes (see
``sync_harness``) and compares exit codes, trees down to ns mtimes, INFO/NOTICE messages
and, for the report flags, the report files (their lines sorted: rclone writes them from
concurrent checkers, so their order is not fixed).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import sync_harness as sh
from .trees import DAY

if sh.RCLONE is None:
    pytest.fail("rclone is not on PATH: the differential tests need the real rclone",
                pytrace=False)


def _pysync(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncengine", *args], capture_output=True,
                          text=True, env=sh.tool_env(), cwd=cwd, timeout=120)


def _rclone(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert sh.RCLONE is not None
    return subprocess.run([sh.RCLONE, *args], capture_output=True, text=True,
                          env=sh.tool_env(), cwd=cwd, timeout=120)


def _flags(help_text: str) -> set[str]:
    """The long and short flag names of a ``--help`` text (rclone's or pysync's)."""
    found = set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", help_text))
    found |= set(re.findall(r"(?:^|\s)(-[a-zA-Z]),? ", help_text, re.M))
    return found - {"--help", "-h"}


# --- every flag of rclone's help, in pysync's help


@pytest.mark.parametrize("command", ["sync", "copy", "copyto"])
def test_help_lists_every_rclone_flag(command: str) -> None:
    r = _rclone(command, "--help")
    p = _pysync(command, "--help")
    assert r.returncode == 0 and p.returncode == 0, (r.stderr, p.stderr)
    usage = r.stdout.split("\nFlags:", 1)[1]  # the flag tables, not the prose above them
    want = _flags(usage)
    assert "--check-first" in want and "--track-renames-strategy" in want or command != "sync"
    missing = sorted(want - _flags(p.stdout))
    assert not missing, f"pysync {command} --help lacks {missing}"


# --- command-line errors worded as rclone's


@pytest.mark.parametrize("value", ["maybe", "yes", "2"])
def test_bool_flag_bad_value(tmp_path: Path, value: str) -> None:
    r = _rclone("sync", f"--fast-list={value}", "a", "b", cwd=tmp_path)
    p = _pysync("sync", f"--fast-list={value}", "a", "b", cwd=tmp_path)
    assert r.returncode == p.returncode == 2
    want = r.stderr.splitlines()[0]
    assert want.startswith("Error: invalid argument"), want
    assert p.stderr.splitlines()[0] == want


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "True", "0", "f", "FALSE", "False"])
def test_bool_flag_go_values(tmp_path: Path, value: str) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_text("a")
    p = _pysync("copy", f"--dry-run={value}", "src", "dst", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    dry = value in ("1", "t", "T", "TRUE", "True")
    assert (tmp_path / "dst" / "a").exists() is not dry


def test_default_time_bad_value(tmp_path: Path) -> None:
    p = _pysync("sync", "--default-time", "foo", "a", "b", cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.startswith('Error: invalid argument "foo" for "--default-time" flag: '
                               'parsing "foo" as fs.Time failed: ')


# --- copyto


_fixed = sh.fixed_proto


def _run(tmp_path: Path, src: dict[str, object], dst: dict[str, object] | None, mode: str,
         flags: list[str], *, src_arg: str = "src", dst_arg: str = "dst",
         compare_logs: bool = True) -> tuple[sh.Run, sh.Run, Path, Path]:
    proto, start = _fixed(tmp_path, src, dst)
    sand_r, sand_p = sh.prepare_sandboxes(proto, start, tmp_path / "work")
    r, p, window = sh.run_pair(mode, flags, sand_r, sand_p, src=src_arg, dst=dst_arg)
    out = sh.compare_runs(r, p, window, sand_r, sand_p, start,
                          dry_run="--dry-run" in flags, compare_logs=compare_logs,
                          max_delete=any(f.startswith("--max-delete") for f in flags))
    if r.rc == p.rc:  # the final stats' Checks/Errors lines too
        got_r, got_p = sh.final_stats_counts(r.stderr), sh.final_stats_counts(p.stderr)
        if got_r != got_p:
            out.problems.append(f"final stats differ: rclone {got_r}, pysync {got_p}")
    if not out.ok:
        pytest.fail(sh.report(f"{mode} {src_arg} {dst_arg} {flags}", r, p, out),
                    pytrace=False)
    return r, p, sand_r, sand_p


COPYTO_SRC = {"a.txt": (b"hello a", DAY), "d/b.dat": (b"bbbb", 2 * DAY), "d/e/c": (3, DAY)}


@pytest.mark.parametrize(("dst", "dst_arg"), [
    (None, "dst/new.txt"),
    ({"new.txt": (b"old content", 3 * DAY)}, "dst/new.txt"),
    ({"new.txt": (b"hello a", 3 * DAY)}, "dst/new.txt"),  # same size: time decides
    ({"new.txt": (b"hello a", DAY)}, "dst/new.txt"),  # identical: nothing to do
    ({"x": None}, "dst/x/y/z.txt"),  # parents made
    ({"a.txt": (b"other", 3 * DAY)}, "dst/a.txt"),  # the same name
    ({"new.txt": None}, "dst/new.txt"),  # a directory of that name: refused, exit 1
    (None, "dst/"),  # a directory path for a file: refused
], ids=["new", "replace", "mtime", "same", "parents", "same-name", "onto-dir", "slash"])
def test_copyto_file(tmp_path: Path, dst: dict[str, object] | None, dst_arg: str) -> None:
    _run(tmp_path, COPYTO_SRC, dst, "copyto", ["--retries", "1"], src_arg="src/a.txt",
         dst_arg=dst_arg)


@pytest.mark.parametrize("flags", [[], ["--create-empty-src-dirs"], ["--dry-run"]],
                         ids=lambda f: "+".join(f) or "none")
def test_copyto_directory(tmp_path: Path, flags: list[str]) -> None:
    src = dict(COPYTO_SRC, **{"empty": None})
    dst = {"d/b.dat": (b"older", 5 * DAY), "keep.txt": (2, DAY)}
    _run(tmp_path, src, dst, "copyto", flags, dst_arg="dst")


def test_copy_single_file_stats(tmp_path: Path) -> None:
    """A source naming one file: rclone's CopyFile lists nothing and counts no check, so
    the final stats have no Checks line (new, identical or time-only updated file)."""
    proto, _ = _fixed(tmp_path, COPYTO_SRC, {"a.txt": (b"hello a", 3 * DAY)})
    for tool, run in (("rclone", _rclone), ("pysync", _pysync)):
        for command in ("copy", "copyto"):
            for _ in range(2):
                got = run(command, "-v", "src/a.txt", "dst/" if command == "copy" else
                          "dst/a.txt", cwd=proto)
                assert got.returncode == 0, (tool, got.stderr)
                assert "Transferred:" in got.stderr and "Checks:" not in got.stderr, (
                    tool, command, got.stderr)


# --- --config "": rclone's in-memory config, even with $RCLONE_CONFIG set


def test_empty_config_flag_is_memory_only(tmp_path: Path) -> None:
    conf = tmp_path / "x.conf"
    conf.write_text("[foo]\ntype = local\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f1").write_text("1")
    env = dict(sh.tool_env(), RCLONE_CONFIG=str(conf), RCLONE_CONFIG_BAR_TYPE="local")
    runs = {}
    for tool, base in (("rclone", [sh.RCLONE]), ("pysync", [sys.executable, "-m",
                                                            "syncengine"])):
        for args in (["lsf", f"foo:{tmp_path}/d"], ["--config", "", "lsf", f"foo:{tmp_path}/d"],
                     ["--config", "", "lsf", f"bar:{tmp_path}/d"]):
            got = subprocess.run([*base, *args], capture_output=True, text=True, env=env,
                                 timeout=60)
            runs[tool, tuple(args)] = (got.returncode, got.stdout,
                                       re.sub(r"^\S+ \S+ ", "", got.stderr))
    for (tool, args), got in runs.items():
        if tool == "pysync":
            assert got == runs["rclone", args], (args, got, runs["rclone", args])
    assert runs["pysync", ("--config", "", "lsf", f"foo:{tmp_path}/d")][0] == 1


# --- report files (--combined, --differ, ..., --dest-after)

REPORTS = ["combined", "missing-on-dst", "missing-on-src", "match", "differ", "error",
           "dest-after"]


def _report_flags() -> list[str]:
    return [a for name in REPORTS for a in (f"--{name}", f"rep-{name}.txt")]


def _compare_reports(sand_r: Path, sand_p: Path) -> list[str]:
    """Problems: report files that differ (lines sorted, bytes otherwise)."""
    problems = []
    for name in REPORTS:
        got = []
        for sand in (sand_r, sand_p):
            f = sand / f"rep-{name}.txt"
            got.append(sorted(f.read_bytes().splitlines(keepends=True)) if f.exists()
                       else None)
        if got[0] != got[1]:
            problems.append(f"--{name} differs:\n  rclone {got[0]!r}\n  pysync {got[1]!r}")
    return problems


def _report_case(tmp_path: Path, proto: Path, start: dict[str, sh.Snapshot], mode: str,
                 flags: list[str]) -> None:
    sand_r, sand_p = sh.prepare_sandboxes(proto, start, tmp_path / "work")
    all_flags = [*_report_flags(), *flags]
    r, p, window = sh.run_pair(mode, all_flags, sand_r, sand_p)
    out = sh.compare_runs(r, p, window, sand_r, sand_p, start,
                          dry_run="--dry-run" in flags)
    out.problems.extend(_compare_reports(sand_r, sand_p))
    combined = (sand_r / "rep-combined.txt").read_bytes()
    assert combined, "rclone wrote an empty --combined report"
    if not out.ok:
        pytest.fail(sh.report(f"{mode} {all_flags}", r, p, out), pytrace=False)


_REPORT_RUNS = [
    ("sync", []), ("copy", []), ("sync", ["--dry-run"]), ("copy", ["--dry-run"]),
    ("sync", ["--size-only"]), ("sync", ["--checksum"]), ("copy", ["--ignore-existing"]),
    ("copy", ["--update"]), ("sync", ["--ignore-times"]), ("sync", ["--delete-before"]),
    ("sync", ["--delete-during", "--no-update-modtime"]),
    ("sync", ["--files-only=false", "--format", "psp"]),
    ("copy", ["--files-only=false", "--dir-slash=false", "--absolute", "--format", "sp"]),
    ("sync", ["--format", "ph", "--hash", "md5"]), ("copy", ["--format", "pt", "--csv"]),
    ("sync", ["--format", "tp", "--separator", "|", "--timeformat", "RFC3339"]),
    ("sync", ["--max-depth", "2", "--exclude", "*.dat"]),
]


@pytest.mark.parametrize("seed", [301, 302])
@pytest.mark.parametrize(("mode", "flags"), _REPORT_RUNS,
                         ids=[f"{m}-{'+'.join(f) or 'plain'}" for m, f in _REPORT_RUNS])
def test_report_files(tmp_path: Path, seed: int, mode: str, flags: list[str]) -> None:
    scn = sh.build_scenario(tmp_path / "proto", seed, allow_conflicts=False)
    _report_case(tmp_path, scn.proto, scn.start, mode, flags)


def test_report_files_with_errors(tmp_path: Path) -> None:
    """A file that cannot be copied (a directory in the way) is reported with ``!`` and
    the deletions sync holds back after it too."""
    src = {"a.txt": (b"aaa", DAY), "clash": (b"a file", DAY), "ok/b": (b"b", DAY)}
    dst = {"clash/inner": (b"dir in dst", 2 * DAY), "gone.txt": (b"g", DAY),
           "ok/b": (b"old b!", 2 * DAY)}
    proto, start = _fixed(tmp_path, src, dst)
    _report_case(tmp_path, proto, start, "sync", ["--retries", "1"])


def test_report_to_stdout(tmp_path: Path) -> None:
    proto, start = _fixed(tmp_path, COPYTO_SRC, {"a.txt": (b"old", 2 * DAY), "z": (1, DAY)})
    sand_r, sand_p = sh.prepare_sandboxes(proto, start, tmp_path / "work")
    r, p, _ = sh.run_pair("sync", ["--combined", "-"], sand_r, sand_p)
    assert r.rc == p.rc == 0
    assert sorted(p.stdout.splitlines()) == sorted(r.stdout.splitlines())
    assert sorted(r.stdout.splitlines()) == [b"* a.txt", b"+ d/b.dat", b"+ d/e/c", b"- z"]


# --- --check-first and --order-by

ORDER_SRC = {"a/small.dat": (b"1", 9 * DAY), "big.dat": (b"x" * 5000, 2 * DAY),
             "mid.txt": (b"y" * 300, 5 * DAY), "z/medium.dat": (b"m" * 1200, 7 * DAY),
             "tiny": (b"ab", 3 * DAY), "same.txt": (b"same", DAY)}
ORDER_DST = {"same.txt": (b"same", DAY), "mid.txt": (b"old", 6 * DAY), "old.txt": (5, DAY)}


def _copied_order(stderr: bytes) -> list[str]:
    return [r.msg.split(":")[0] for r in sh.parse_log(stderr) if "Copied" in r.msg]


@pytest.mark.parametrize("order", ["size,descending", "size", "name,desc", "name,asc",
                                   "modtime,ascending", "MODTIME,DESC", "size,mixed",
                                   "size,mixed,25"])
def test_check_first_order_by(tmp_path: Path, order: str) -> None:
    """With --check-first and one transfer the order is exact: the Copied lines come in
    --order-by's order, after 'Checks finished'."""
    r, p, _, _ = _run(tmp_path, ORDER_SRC, ORDER_DST, "sync",
                      ["--check-first", "--transfers", "1", "--order-by", order])
    assert _copied_order(r.stderr) == _copied_order(p.stderr), (r.stderr, p.stderr)
    for run in (r, p):
        msgs = [x.msg for x in sh.parse_log(run.stderr)]
        first = msgs.index("Local file system at dst: Checks finished, now starting transfers")
        assert all(i > first for i, m in enumerate(msgs) if "Copied" in m)


@pytest.mark.parametrize("flags", [["--check-first"], ["--check-first", "--delete-before"],
                                   ["--check-first", "--dry-run"], ["--order-by", "size"],
                                   ["--check-first", "--order-by", "name", "--transfers", "2"]],
                         ids=lambda f: "+".join(f))
@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_check_first_scenario(tmp_path: Path, mode: str, flags: list[str]) -> None:
    scn = sh.build_scenario(tmp_path / "proto", 311, allow_conflicts=False)
    sand_r, sand_p = sh.prepare_sandboxes(scn.proto, scn.start, tmp_path / "work")
    r, p, window = sh.run_pair(mode, flags, sand_r, sand_p)
    out = sh.compare_runs(r, p, window, sand_r, sand_p, scn.start,
                          dry_run="--dry-run" in flags)
    if not out.ok:
        pytest.fail(sh.report(f"{mode} {flags}", r, p, out, scn.describe()), pytrace=False)


@pytest.mark.parametrize("order", ["foo", "size,up", "size,mixed,x", "size,asc,3",
                                   "name,mixed,5,1", "pattern,*.dat"])
def test_order_by_refused(tmp_path: Path, order: str) -> None:
    _run(tmp_path, ORDER_SRC, ORDER_DST, "sync", ["--order-by", order])


# --- --no-traverse, --no-check-dest, --max-delete-size

NT_SRC = {"a.txt": (b"aaa", DAY), "d/b": (b"new b", DAY), "same": (b"same", 3 * DAY),
          "new/n/f": (b"f", 2 * DAY), "upd": (b"12345", 2 * DAY)}
NT_DST = {"d/b": (b"old b!", 2 * DAY), "same": (b"same", 3 * DAY), "upd": (b"12345", 4 * DAY),
          "gone": (b"gone", DAY), "x/y": (b"y", DAY)}


@pytest.mark.parametrize(("mode", "flags"), [
    ("copy", ["--no-traverse"]), ("copy", ["--no-check-dest"]),
    ("copy", ["--no-traverse", "--no-check-dest"]), ("sync", ["--no-traverse"]),
    ("sync", ["--no-check-dest"]), ("copy", ["--no-traverse", "--dry-run"]),
    ("copy", ["--no-check-dest", "--retries", "1", "--dry-run"]),
    ("copy", ["--no-traverse", "--combined", "-"]),
    # refused by rclone (every attempt, exit 1): --immutable would be overwritten (s73013-c1);
    # its --backup-dir refusal is checked before it knows its backup dir: never refused
    ("copy", ["--no-check-dest", "--immutable"]), ("copy", ["--no-check-dest", "--suffix",
                                                            ".bak"]),
    ("copy", ["--no-check-dest", "--backup-dir", "../bak"]),
    ("sync", ["--no-check-dest", "--no-traverse", "--track-renames-strategy", "bogus"]),
    # a refused --backup-dir (inside the destination): rclone says first what it says
    # before it makes its backup dir: --no-traverse's line, why --track-renames is ignored
    # (s43047-c2), --check-first's line
    ("copy", ["--track-renames", "--backup-dir", "dst/old"]),
    ("sync", ["--no-traverse", "--track-renames", "--check-first", "--backup-dir", "dst/old"]),
], ids=lambda v: "+".join(v) if isinstance(v, list) else v)
def test_no_traverse_no_check_dest(tmp_path: Path, mode: str, flags: list[str]) -> None:
    r, p, _, _ = _run(tmp_path, NT_SRC, NT_DST, mode, flags)
    if "-" in flags:
        assert sorted(p.stdout.splitlines()) == sorted(r.stdout.splitlines())


@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_inplace_target_cannot_be_opened(tmp_path: Path, mode: str) -> None:
    """--inplace onto a directory of the file's name: rclone's 'open <path>: is a
    directory', and nothing removed (pysync used to try to remove the target, s81006-c1)."""
    _run(tmp_path, {"x": (b"data", DAY), "y": (b"new y", DAY)},
         {"x/inner": (b"keep", DAY), "y": (b"old y!", 2 * DAY)}, mode,
         ["--inplace", "--retries", "1"])


# destination-only files of one size: how many a limit lets go does not depend on the
# order the concurrent deleters take them in (which ones does: compared by count)
MDS_DST = {"a.txt": (b"aaa", DAY), "x1": (b"x" * 40, DAY), "x2": (b"y" * 40, DAY),
           "sub/x3": (b"z" * 40, DAY), "gone/x4": (b"w" * 40, DAY)}


@pytest.mark.parametrize("flags", [
    ["--max-delete-size", "160"], ["--max-delete-size", "159"], ["--max-delete-size", "0"],
    ["--max-delete-size", "100", "--dry-run"], ["--max-delete-size", "1K", "--max-delete", "2"],
    ["--max-delete-size", "120", "--delete-before"], ["--max-delete-size", "60",
                                                      "--delete-during"],
    ["--max-delete-size", "100", "--backup-dir", "bak/old"],
], ids=lambda v: "+".join(v))
def test_max_delete_size(tmp_path: Path, flags: list[str]) -> None:
    r, _, _, _ = _run(tmp_path, {"a.txt": (b"aaa", DAY)}, MDS_DST, "sync",
                      ["--retries", "1", *flags])
    if flags[1] == "0":
        assert r.rc == 7  # rclone refuses the first deletion: a fatal error


# --- --ignore-case-sync and --fix-case (on a case-sensitive local disk, as rclone does there)

CASE_SRC = {"A.txt": (b"new", DAY), "Dir/S": (b"same", 2 * DAY), "Same.dat": (b"s", 3 * DAY),
            "Time.dat": (b"tt", 3 * DAY), "keep": (b"k", DAY)}
CASE_DST = {"a.txt": (b"old1", 2 * DAY), "dir/s": (b"same", 2 * DAY),
            "same.DAT": (b"s", 3 * DAY), "time.dat": (b"tt", 5 * DAY), "other": (b"x", DAY)}
CASE_FILES_DST = {k: v for k, v in CASE_DST.items() if "/" not in k}


@pytest.mark.parametrize(("flags", "dst"), [
    (["--ignore-case-sync"], CASE_DST), (["--ignore-case-sync", "--delete-before"], CASE_DST),
    (["--fix-case"], CASE_DST), (["--ignore-case-sync", "--fix-case"], CASE_DST),
    (["--ignore-case-sync", "--fix-case", "--dry-run"], CASE_FILES_DST),
    (["--ignore-case-sync", "--fix-case", "--immutable", "--retries", "1"], CASE_FILES_DST),
    (["--ignore-case-sync", "--combined", "-"], CASE_DST),
], ids=lambda v: "+".join(v) if isinstance(v, list) else "")
@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_case_flags(tmp_path: Path, mode: str, flags: list[str],
                    dst: dict[str, object]) -> None:
    src = CASE_SRC if dst is CASE_DST else {k: v for k, v in CASE_SRC.items() if "/" not in k}
    r, p, _, _ = _run(tmp_path, src, dst, mode, flags)
    if "-" in flags:
        assert sorted(p.stdout.splitlines()) == sorted(r.stdout.splitlines())


# --- --compare-dest and --copy-dest (rclone's local backend has no server-side copy)

CMP_SRC = {"a": (b"aaa", DAY), "b": (b"bbb", DAY), "c": (b"ccc", DAY), "d/e": (b"eee", DAY),
           "f": (b"fff", 2 * DAY)}
CMP_DST = {"c": (b"ccc", DAY), "f": (b"old f", 3 * DAY), "gone": (b"g", DAY)}


def _cmp_dir(root: Path) -> None:
    now = time.time_ns()
    sh.make_files(root / "cmp", {"a": (b"aaa", DAY), "b": (b"old", DAY), "d/e": (b"eee", DAY),
                                 "f": (b"fff", 2 * DAY)}, now)
    (root / "afile").write_bytes(b"x")


@pytest.mark.parametrize(("mode", "flags"), [
    ("sync", ["--compare-dest", "../cmp"]), ("copy", ["--compare-dest", "../cmp"]),
    ("sync", ["--compare-dest", "../cmp", "--compare-dest", "../nope"]),
    ("sync", ["--compare-dest", "../cmp", "--checksum"]),
    ("sync", ["--compare-dest", "../cmp", "--combined", "-"]),
    ("sync", ["--compare-dest", "../afile"]), ("sync", ["--copy-dest", "../cmp"]),
    ("sync", ["--compare-dest", "../cmp", "--copy-dest", "../cmp"]),
], ids=lambda v: "+".join(v) if isinstance(v, list) else v)
def test_compare_dest(tmp_path: Path, mode: str, flags: list[str]) -> None:
    _cmp_dir(tmp_path / "work")  # beside both sandboxes, read by both tools
    _run(tmp_path, CMP_SRC, CMP_DST, mode, flags, src_arg="src", dst_arg="dst")


# --- --track-renames

TR_SRC = {"new/moved.txt": (b"content one", 2 * DAY), "fresh": (b"unique", DAY),
          "b2": (b"other 9", DAY), "kept/x.dat": (b"x" * 40, 3 * DAY),
          "leaf.dat": (b"L" * 33, 4 * DAY)}
TR_DST = {"old/was.txt": (b"content one", 2 * DAY), "gone": (b"zz", DAY),
          "kept/x.dat": (b"x" * 40, 3 * DAY), "elsewhere/leaf.dat": (b"L" * 33, 4 * DAY),
          "timed.bin": (b"T" * 50, 6 * DAY)}


@pytest.mark.parametrize(("mode", "flags"), [
    ("sync", ["--track-renames"]), ("sync", ["--track-renames", "--dry-run"]),
    ("sync", ["--track-renames", "--track-renames-strategy", "modtime"]),
    ("sync", ["--track-renames", "--track-renames-strategy", "leaf"]),
    ("sync", ["--track-renames", "--track-renames-strategy", "modtime,leaf"]),
    ("sync", ["--track-renames", "--track-renames-strategy", "hash,leaf"]),
    ("sync", ["--track-renames", "--track-renames-strategy", "foo"]),
    ("sync", ["--track-renames", "--delete-before"]), ("copy", ["--track-renames"]),
    ("sync", ["--track-renames", "-v"]),  # the final stats: a check per move and hash
    ("sync", ["--track-renames", "--combined", "-"]),
], ids=lambda v: "+".join(v) if isinstance(v, list) else v)
def test_track_renames(tmp_path: Path, mode: str, flags: list[str]) -> None:
    r, p, _, _ = _run(tmp_path, TR_SRC, TR_DST, mode, flags)
    if "-" in flags:
        assert sorted(p.stdout.splitlines()) == sorted(r.stdout.splitlines())


# --- a source folder that cannot be listed


UNREADABLE_SRC = {"keep.txt": (b"keep", DAY), "sub/a.dat": (b"aaaa", DAY),
                  "sub/.ignore": None, "sub/deep/b": (b"bb", DAY)}
UNREADABLE_DST = {"keep.txt": (b"keep", DAY), "sub/a.dat": (b"aaaa", DAY),
                  "sub/old.txt": (b"only on the destination", DAY),
                  "sub/deep/c": (b"cc", DAY), "gone.txt": (b"gone", DAY)}


@pytest.mark.parametrize("flags", [["--delete-during"], ["--delete-before"],
                                   ["--delete-after"]], ids=lambda f: f[0])
def test_source_folder_that_cannot_be_listed(tmp_path: Path, flags: list[str]) -> None:
    """An --exclude-if-present marker that is a folder in ``sub`` makes listing the source
    root fail (rclone checks a folder's marker when it lists its parent; s94002-c1).
    rclone's march still takes the destination root's files as destination-only:
    --delete-during/--delete-before delete them, keep.txt too although the source has
    it, and nothing below them; --delete-after does not (the run had an error). pysync
    does the same, with a WARNING."""
    r, p, _, sand_p = _run(tmp_path, UNREADABLE_SRC, UNREADABLE_DST, "sync",
                           ["--exclude-if-present", ".ignore", "--retries", "1", "-v",
                            *flags])
    assert r.rc == p.rc == 1
    deletes = flags[0] != "--delete-after"
    dst = sand_p / "dst"
    assert (dst / "keep.txt").exists() is not deletes
    assert (dst / "gone.txt").exists() is not deletes
    assert (dst / "sub" / "old.txt").exists() and (dst / "sub" / "deep" / "c").exists()
    warned = b"WARNING: the source directory could not be read" in p.stderr
    assert warned is deletes


@pytest.mark.parametrize("flags", [["--delete-during"], ["--delete-before"]],
                         ids=lambda f: f[0])
def test_missing_source_root_with_delete_excluded(tmp_path: Path, flags: list[str]) -> None:
    """A missing source root, --delete-excluded: rclone deletes the destination root's
    files and nothing below them (its march returns no jobs after a listing error).
    pysync used to go on into the destination's folders (--delete-excluded lists them
    all) and deleted everything."""
    _, p, _, sand_p = _run(tmp_path, None, UNREADABLE_DST, "sync",
                           ["--delete-excluded", "--filter", "- *.tmp", "--retries", "1",
                            "-v", *flags])
    assert p.rc == 3
    dst = sand_p / "dst"
    assert not (dst / "keep.txt").exists() and not (dst / "gone.txt").exists()
    assert (dst / "sub" / "old.txt").exists() and (dst / "sub" / "deep" / "c").exists()


# --- a destination that is a file

@pytest.mark.parametrize(("command", "src_arg", "dst_arg"), [
    ("copy", "src", "afile"), ("sync", "src", "afile"), ("copy", "src/a.txt", "afile"),
    ("copyto", "src", "afile"), ("copyto", "src/a.txt", "afile/x"),
    # a file in the middle of the destination path: Go's MkdirAll and lstat wording
    ("copy", "src/a.txt", "afile/x"), ("copy", "src", "afile/x"), ("sync", "src", "afile/x"),
    ("copyto", "src/a.txt", "afile/x/y"), ("copy", "src/a.txt", "afile/x/y"),
    ("copy", "src", "afile/x/y"),
])
def test_destination_is_a_file(tmp_path: Path, command: str, src_arg: str,
                               dst_arg: str) -> None:
    proto, _ = _fixed(tmp_path, COPYTO_SRC, None)
    (proto / "afile").write_bytes(b"a file")
    r = _rclone(command, src_arg, dst_arg, cwd=proto)
    p = _pysync(command, src_arg, dst_arg, cwd=proto)
    assert r.returncode == p.returncode == 1
    strip = lambda text: [re.sub(r"^\S+ \S+ ", "", x) for x in text.splitlines()]
    # several files failing at once: which one the concurrent transfers log first varies
    assert sorted(strip(p.stderr)) == sorted(strip(r.stderr))
    assert (proto / "afile").read_bytes() == b"a file"


# --- --exclude-if-present with a directory of the marker's name: rclone's check of a child
# directory fails ("is a directory not a file"), and with it the listing of its parent, the
# root's logged against the remote ("error reading source root directory")

MARKER_DIR_SRC = {"a.txt": (b"a", DAY), "photos/p.jpg": (b"pp", DAY), "photos/NOBACKUP": None,
                  "keep/k.txt": (b"k", 2 * DAY)}
MARKER_DIR_DEEP = {"a.txt": (b"a", DAY), "d/e/f.txt": (b"f", DAY), "d/e/NOBACKUP": None,
                   "d/g.txt": (b"g", 2 * DAY), "h/i.txt": (b"i", DAY)}


@pytest.mark.parametrize(("mode", "src", "dst"), [
    ("copy", MARKER_DIR_SRC, None),
    ("sync", MARKER_DIR_SRC, {"old.txt": (b"o", DAY)}),
    ("copy", MARKER_DIR_DEEP, None),
    ("sync", MARKER_DIR_DEEP, {"d/old.txt": (b"o", DAY), "z.txt": (b"z", DAY)}),
    ("sync", {"a.txt": (b"a", DAY)}, {"x/NOBACKUP": None, "x/y.txt": (b"y", DAY)}),
], ids=["copy-root", "sync-root", "copy-deep", "sync-deep", "sync-dst-side"])
def test_exclude_if_present_marker_is_a_directory(tmp_path: Path, mode: str,
                                                  src: dict[str, object],
                                                  dst: dict[str, object] | None) -> None:
    _run(tmp_path, src, dst, mode, ["--exclude-if-present", "NOBACKUP", "--retries", "1"])


# --- --suffix-keep-extension: which extensions count (Go's mime table as rclone runs it here:
# its own types, the machine's shared-mime-info globs2 or mime.types, rclone's additions)

KEEP_EXT_NAMES = [" index.old.log", "b.tar.gz", "c.c.txt", "d.mkv.srt", "e.TXT.GZ",
                  "f.weird.dat", ".hidden.tar.gz", "g..h", "h.", "i.json.bak", "j.sik.x",
                  "k.mp3.flac", "l.Dat", "m.jpeg.PNG", "n.o.p.q.r.txt", "o.html.htm",
                  "p.ÄÖ.txt", "q.7z.zip", "r.docx.pdf", "sub.dir/s.deb.old", "t.webm.avi",
                  "u.wasm.mjs", "v.md.py", "w.ts.js", "x.sh.bash", "y.iso.img", "z.",
                  ".a", "noext"]


@pytest.mark.parametrize("flags", [
    ["--backup-dir", "bak/old", "--suffix", ".bak", "--suffix-keep-extension"],
    ["--suffix", "~1", "--suffix-keep-extension"],
], ids=["backup-dir", "suffix-in-place"])
def test_suffix_keep_extension_names(tmp_path: Path, flags: list[str]) -> None:
    # the destination's files are replaced (other content) or deleted (not in the source)
    src = {n: (b"new " + n.encode(), DAY) for n in KEEP_EXT_NAMES[::2]}
    dst = {n: (b"old", 3 * DAY) for n in KEEP_EXT_NAMES}
    _run(tmp_path, src, dst, "sync", flags)


@pytest.mark.parametrize("mode", ["copy", "sync"])
def test_backup_over_an_earlier_backup(tmp_path: Path, mode: str) -> None:
    """The backup's name holds an earlier backup: rclone's Move deletes it first, a
    delete of its own ("Deleted", and one more check in the final stats: a checking
    transfer "deleting" besides the "moving" one), then moves the file there."""
    src = {"a.txt": (b"new a", DAY), "d/b.dat": (b"new b", DAY), "c": (b"same", DAY)}
    dst = {"a.txt": (b"old a", 2 * DAY), "a.txt.bak": (b"older a", 3 * DAY),
           "d/b.dat": (b"old b", 2 * DAY), "d/b.dat.bak": (b"older b!", 3 * DAY),
           "c": (b"same", DAY)}
    r, p, _, _ = _run(tmp_path, src, dst, mode,
                      ["--suffix", ".bak", "--ignore-times", "--stats", "1h"])
    for run in (r, p):  # the earlier backups went, as deletions of their own
        assert {rec.msg for rec in run.records if rec.msg.endswith(": Deleted")} >= {
            "a.txt.bak: Deleted", "d/b.dat.bak: Deleted"}, run.stderr


# --- --list-cutoff: rclone's NOTICE, and the directory times its on-disk sort loses

LC_SRC = {"f1": (b"1", DAY), "f2": (b"22", DAY), "d1/x": (b"x", 2 * DAY), "d2": None,
          "d1/sub/y": (b"y", DAY)}


@pytest.mark.parametrize(("mode", "flags", "dst"), [
    ("sync", ["--list-cutoff", "3"], None), ("sync", ["--list-cutoff", "4"], None),
    ("sync", ["--list-cutoff", "5"], None), ("copy", ["--list-cutoff", "2"], None),
    ("sync", ["--list-cutoff", "3"],
     {"f1": (b"1", DAY), "old": (b"o", DAY), "d1/x": (b"x", 2 * DAY)}),
    ("sync", ["--list-cutoff", "3", "--default-time", "2011-02-03T04:05:06Z"], None),
], ids=lambda v: "+".join(v) if isinstance(v, list) else v if isinstance(v, str) else "")
def test_list_cutoff(tmp_path: Path, mode: str, flags: list[str],
                     dst: dict[str, object] | None) -> None:
    r, _, _, _ = _run(tmp_path, LC_SRC, dst, mode, flags)
    if flags[1] == "5":
        assert b"on disk sorting" not in r.stderr
    else:
        assert b"Switching to on disk sorting as more than" in r.stderr


# --- flags that change nothing for local disks: accepted, same result as rclone

def test_flags_without_effect(tmp_path: Path) -> None:
    scn = sh.build_scenario(tmp_path / "proto", 321, allow_conflicts=False)
    flags = ["--fast-list", "--multi-thread-chunk-size", "1M",
             "--multi-thread-write-buffer-size", "64Ki", "--streaming-upload-cutoff", "1K",
             "--server-side-across-configs", "--max-backlog", "5",
             "--default-time", "2020-01-01T00:00:00Z"]
    sand_r, sand_p = sh.prepare_sandboxes(scn.proto, scn.start, tmp_path / "work")
    r, p, window = sh.run_pair("sync", flags, sand_r, sand_p)
    out = sh.compare_runs(r, p, window, sand_r, sand_p, scn.start)
    if not out.ok:
        pytest.fail(sh.report(f"sync {flags}", r, p, out, scn.describe()), pytrace=False)


@pytest.mark.parametrize("dst", [None, {"new.txt": (b"old content", 3 * DAY)},
                                 {"new.txt": (b"hello a", DAY)}], ids=["new", "differ", "same"])
def test_copyto_report(tmp_path: Path, dst: dict[str, object] | None) -> None:
    r, p, _, _ = _run(tmp_path, COPYTO_SRC, dst, "copyto", ["--combined", "-"],
                      src_arg="src/a.txt", dst_arg="dst/new.txt")
    assert sorted(p.stdout.splitlines()) == sorted(r.stdout.splitlines())
    assert r.stdout


@pytest.mark.parametrize("flags", [["-L"], ["-L", "--exclude", "broken"], ["-L", "--dry-run"],
                                   ["-L", "--delete-before"], ["-L", "--delete-during"]],
                         ids=lambda f: "+".join(f))
@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_links_followed_to_nothing(tmp_path: Path, mode: str, flags: list[str]) -> None:
    """-L and a link to nothing, or a link loop: rclone's local listing logs a listing
    error for it, counts it (so sync deletes nothing) and lists the rest."""
    proto, _ = _fixed(tmp_path, {"a.txt": (b"aaa", DAY), "d/b.txt": (b"bb", DAY)},
                      {"old.txt": (b"old", DAY), "d/gone.txt": (b"g", DAY)})
    os.symlink("nowhere", proto / "src" / "broken")
    os.symlink("loop", proto / "src" / "d" / "loop")
    os.symlink("a.txt", proto / "src" / "good")
    start = {"src": sh.snapshot(proto / "src"), "dst": sh.snapshot(proto / "dst"), "bak": {}}
    sand_r, sand_p = sh.prepare_sandboxes(proto, start, tmp_path / "work")
    r, p, window = sh.run_pair(mode, flags, sand_r, sand_p)
    out = sh.compare_runs(r, p, window, sand_r, sand_p, start, dry_run="--dry-run" in flags)
    if not out.ok:
        pytest.fail(sh.report(f"{mode} {flags}", r, p, out), pytrace=False)


@pytest.mark.parametrize("args", [["-L"], ["-L", "--format", "ps"], ["-L", "-R"],
                                  ["-L", "--exclude", "broken"]],
                         ids=lambda a: "+".join(a))
def test_lsf_links_followed_to_nothing(tmp_path: Path, args: list[str]) -> None:
    """lsf -L: each link to nothing (or loop) is a listing error, the rest is listed, and
    the run fails as rclone's (its last error, exit 6)."""
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "f").write_text("hi")
    os.symlink("nowhere", src / "broken")
    os.symlink("loop", src / "d" / "loop")
    r, p = _rclone("lsf", *args, "src", cwd=tmp_path), _pysync("lsf", *args, "src",
                                                               cwd=tmp_path)

    def lines(text: str) -> list[str]:
        return sorted(re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "", t)
                      for t in text.splitlines())

    assert (p.returncode, sorted(p.stdout.splitlines()), lines(p.stderr)) == \
        (r.returncode, sorted(r.stdout.splitlines()), lines(r.stderr))


@pytest.mark.parametrize("args", [["-L"], ["-L", "--one-way"], ["-L", "--exclude", "broken"]],
                         ids=lambda a: "+".join(a))
def test_check_links_followed_to_nothing(tmp_path: Path, args: list[str]) -> None:
    """check -L: a link to nothing is an error while checking, and the run fails with it
    as rclone's (exit 6); an excluded one is skipped quietly."""
    for side in ("src", "dst"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "f").write_text("hi")
        os.utime(tmp_path / side / "f", (1_700_000_000, 1_700_000_000))
    os.symlink("nowhere", tmp_path / "src" / "broken")
    r = _rclone("check", *args, "src", "dst", cwd=tmp_path)
    p = _pysync("check", *args, "src", "dst", cwd=tmp_path)

    def lines(text: str) -> list[str]:
        return sorted(re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "", t)
                      for t in text.splitlines())

    assert (p.returncode, p.stdout, lines(p.stderr)) == \
        (r.returncode, r.stdout, lines(r.stderr))
