"""Differential tests of the rclone copy/sync flags of issue #15 and of ``copyto``.

Each test runs the real ``rclone`` and ``python -m syncengine`` on twin sandboxes (see
``sync_harness``) and compares exit codes, trees down to ns mtimes, INFO/NOTICE messages
and, for the report flags, the report files (their lines sorted: rclone writes them from
concurrent checkers, so their order is not fixed).
"""

from __future__ import annotations

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


@pytest.mark.parametrize("flag", [["--metadata"], ["-M"], ["--interactive"], ["-i"],
                                  ["--name-transform", "all,uppercase"]],
                         ids=lambda f: f[0])
@pytest.mark.parametrize("command", ["sync", "copy", "copyto"])
def test_unsupported_flags_refused(tmp_path: Path, command: str, flag: list[str]) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_text("a")
    p = _pysync(command, *flag, "src", "dst", cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    long = {"-M": "--metadata", "-i": "--interactive"}.get(flag[0], flag[0])
    assert len(lines) == 1 and lines[0].endswith(f"CRITICAL: {long} is not supported yet")
    assert not (tmp_path / "dst").exists()


# --- copyto


def _fixed(tmp_path: Path, src: dict[str, object], dst: dict[str, object] | None
           ) -> tuple[Path, dict[str, sh.Snapshot]]:
    now_ns = time.time_ns()
    proto = tmp_path / "proto"
    proto.mkdir()
    sh.make_files(proto / "src", src, now_ns)
    if dst is not None:
        sh.make_files(proto / "dst", dst, now_ns)
    start = {"src": sh.snapshot(proto / "src"), "dst": sh.snapshot(proto / "dst"), "bak": {}}
    return proto, start


def _run(tmp_path: Path, src: dict[str, object], dst: dict[str, object] | None, mode: str,
         flags: list[str], *, src_arg: str = "src", dst_arg: str = "dst",
         compare_logs: bool = True) -> tuple[sh.Run, sh.Run, Path, Path]:
    proto, start = _fixed(tmp_path, src, dst)
    sand_r, sand_p = sh.prepare_sandboxes(proto, start, tmp_path / "work")
    r, p, window = sh.run_pair(mode, flags, sand_r, sand_p, src=src_arg, dst=dst_arg)
    out = sh.compare_runs(r, p, window, sand_r, sand_p, start,
                          dry_run="--dry-run" in flags, compare_logs=compare_logs)
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
