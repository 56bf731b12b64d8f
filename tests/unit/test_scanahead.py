"""The local destination listed ahead by a helper process (backends.scanahead).

The helper is started after PYSYNC_SCAN_AHEAD_AFTER local entries (4096 by default; 0 here:
from the start, -1: never). Whatever it lists must be what listing in line gives: the same
log lines (its notes logged where the march takes the listing), the same decisions, the same
tree afterwards; and when it cannot keep up with the march (held listings past HOLD) or
dies, the march lists in line. The in-line listing itself is compared with rclone by the
differential suites.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

import syncengine
from syncengine.backends import scanahead
from syncengine.backends.scanahead import ScanHelper
from syncengine.options import SyncOptions

NFD = unicodedata.normalize("NFD", "Äpfel")
NFC = unicodedata.normalize("NFC", "Äpfel")
_STAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")
T = 1_700_000_000_000_000_000
_PARTIAL = re.compile(r"\.[0-9a-f]{8}\.partial")


def make_tree(root: Path) -> tuple[Path, Path]:
    """A source and a destination that differ in every way a listing can show."""
    src, dst = root / "src", root / "dst"
    for base in (src, dst):
        for d in range(6):
            for sub in range(3):
                folder = base / f"d{d}" / f"s{sub}"
                folder.mkdir(parents=True)
                for f in range(4):
                    (folder / f"f{f}.txt").write_bytes(b"x" * (f + d))
    (src / "d1" / "s1" / "f2.txt").write_bytes(b"changed size")
    (dst / "d2" / "gone" / "deep").mkdir(parents=True)  # destination-only folders
    (dst / "d2" / "gone" / "deep" / "old.bin").write_bytes(b"old")
    (dst / "d3" / "only.log").write_bytes(b"log")
    (src / NFC).mkdir()  # the destination spells it decomposed
    (src / NFC / "a.txt").write_bytes(b"a")
    (dst / NFD).mkdir()
    (dst / NFD / "a.txt").write_bytes(b"a")
    (dst / "CaSe").mkdir()
    (dst / "CaSe" / "x.txt").write_bytes(b"x")
    (src / "case").mkdir()
    (src / "case" / "x.txt").write_bytes(b"x")
    for base in (src, dst):  # what a listing does not hand on: notes
        os.symlink("d0/s0/f0.txt", base / "link-to-file")
        os.symlink("d1", base / "link-to-dir")
        os.symlink("nowhere", base / "broken-link")
        os.mkfifo(base / "d4" / "a-fifo")
        for dirpath, dirnames, filenames in os.walk(base, topdown=False):
            for name in [*filenames, *dirnames, "."]:  # the same times in every run
                os.utime(Path(dirpath) / name, ns=(T, T), follow_symlinks=False)
    os.utime(src / "d0" / "s0" / "f1.txt", ns=(T + 10**9, T + 10**9))  # newer in the source
    return src, dst


def run(src: Path, dst: Path, mode: str, flags: list[str], after: int
        ) -> tuple[int, list[str]]:
    """pysync's exit code and its log lines (without their time stamps), sorted."""
    env = dict(os.environ, PYSYNC_SCAN_AHEAD_AFTER=str(after))
    proc = subprocess.run([sys.executable, "-m", "syncengine", mode, str(src), str(dst),
                           "-vv", "--stats", "0", *flags], env=env, capture_output=True,
                          text=True, timeout=120)
    lines = [_PARTIAL.sub(".partial", _STAMP.sub("", line))
             for line in proc.stderr.splitlines()]
    keep = [line for line in lines if ": " in line and not line.startswith(
        ("Transferred:", "Checks:", "Deleted:", "Elapsed", "Errors:", "Renamed:"))
        and "Elapsed time" not in line and "Starting" not in line]
    return proc.returncode, sorted(keep)


def tree(root: Path) -> list[tuple[str, int, int, str]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            st = p.lstat()
            kind = "l" if p.is_symlink() else "d" if p.is_dir() else "f"
            out.append((str(p.relative_to(root)), st.st_size if kind == "f" else 0,
                        st.st_mtime_ns if kind == "f" else 0, kind))
    return sorted(out)


@pytest.mark.parametrize("mode, flags", [
    ("sync", []),
    ("copy", []),
    ("sync", ["--max-depth", "2"]),
    ("sync", ["--ignore-case-sync"]),
    ("sync", ["--ignore-case-sync", "--fix-case"]),
    ("copy", ["--fix-case"]),
    ("sync", ["-l"]),
    ("sync", ["-L"]),
    ("sync", ["--delete-excluded", "--exclude", "*.log"]),
    ("sync", ["--delete-before"]),
    ("sync", ["--no-unicode-normalization"]),
    ("sync", ["--dry-run"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_helper_lists_as_in_line(tmp_path: Path, mode: str, flags: list[str]) -> None:
    results = []
    for after in (-1, 0):  # in the same place: the log lines name it
        case = tmp_path / "case"
        src, dst = make_tree(case)
        code, lines = run(src, dst, mode, flags, after)
        results.append((code, lines, tree(dst)))
        shutil.rmtree(case)
    assert results[1] == results[0]


def _spy(monkeypatch: pytest.MonkeyPatch, *, kill: bool = False) -> dict[str, list]:
    """Record the helpers started and the listings they brought (in-process runs)."""
    seen: dict[str, list] = {"pids": [], "taken": []}
    start, take = ScanHelper.start.__func__, ScanHelper.take  # type: ignore[attr-defined]

    def spy_start(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        helper = start(cls, *args, **kwargs)
        if helper is not None:
            seen["pids"].append(helper.pid)
            if kill:
                os.kill(helper.pid, 9)
        return helper

    def spy_take(self, path):  # type: ignore[no-untyped-def]
        got = take(self, path)
        if got is not None:
            seen["taken"].append(path)
        return got

    monkeypatch.setattr(ScanHelper, "start", classmethod(spy_start))
    monkeypatch.setattr(ScanHelper, "take", spy_take)
    monkeypatch.setenv("PYSYNC_SCAN_AHEAD_AFTER", "0")
    return seen


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # no child of ours by that PID: already reaped
    return False


def test_helper_brings_the_destination_and_is_reaped(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    want_src, want_dst = make_tree(tmp_path / "want")
    syncengine.sync(str(want_src), str(want_dst), options=SyncOptions())
    src, dst = make_tree(tmp_path / "got")
    seen = _spy(monkeypatch)
    syncengine.sync(str(src), str(dst), options=SyncOptions())
    assert len(seen["pids"]) == 1
    assert {"", "d0", "d0/s0", "d2/gone/deep", NFD} <= set(seen["taken"])
    assert _reaped(seen["pids"][0])
    assert tree(dst) == tree(want_dst)


@pytest.mark.parametrize("trouble", ["killed", "held past the bound"])
def test_march_lists_in_line_without_the_helper(tmp_path: Path, trouble: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    want_root = tmp_path / "want"
    src, dst = make_tree(want_root)
    syncengine.copy(str(src), str(dst), options=SyncOptions())
    src, dst = make_tree(tmp_path / "got")
    if trouble == "held past the bound":
        monkeypatch.setattr(scanahead, "HOLD", 0)
    seen = _spy(monkeypatch, kill=trouble == "killed")
    # copy does not enter the destination-only folders: their listings are held
    syncengine.copy(str(src), str(dst), options=SyncOptions())
    assert len(seen["pids"]) == 1 and _reaped(seen["pids"][0])
    if trouble == "killed":
        assert seen["taken"] == []
    else:  # the root came first; the march then skipped d2/gone, which was held
        assert seen["taken"] and len(seen["taken"]) < 10
    assert tree(dst) == tree(want_root / "dst")


def test_helper_script_needs_no_package(tmp_path: Path) -> None:
    """The helper runs in a bare interpreter (-I -S) from a copy of its one file."""
    script = tmp_path / "alone.py"
    shutil.copy(scanahead._scan.__file__, script)
    (tmp_path / "t" / "b").mkdir(parents=True)
    (tmp_path / "t" / "a.txt").write_bytes(b"abc")
    proc = subprocess.run([sys.executable, "-I", "-S", str(script), str(tmp_path / "t"),
                           "0", "0", "0", "1", "1"], input=b"1\t\0\0", capture_output=True,
                          timeout=60)
    import marshal

    frames, data = [], proc.stdout
    while data:
        size = int.from_bytes(data[:4], "little")
        frames.append(marshal.loads(data[4:4 + size]))
        data = data[4 + size:]
    assert frames[0] == (sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
    mtime = (tmp_path / "t" / "a.txt").stat().st_mtime_ns
    assert frames[1][:2] == ("", [("a.txt", 3, mtime, False),
                                  ("b", -1, (tmp_path / "t" / "b").stat().st_mtime_ns, True)])
    assert frames[1][4] == ["a.txtF", "bD"]
    assert frames[2][:4] == ("b", [], [], None)
    assert frames[3] is None


def test_no_helper_for_a_new_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the threshold, nothing of a new destination is left to list: no helper."""
    src, _ = make_tree(tmp_path)
    seen = _spy(monkeypatch)
    monkeypatch.setenv("PYSYNC_SCAN_AHEAD_AFTER", "20")
    syncengine.copy(str(src), str(tmp_path / "new"), options=SyncOptions())
    assert seen["pids"] == []
    assert (tmp_path / "new" / "d5" / "s2" / "f3.txt").read_bytes() == b"x" * 8


_CLOSED_STDIO = """
import os, sys
from syncengine.backends.scanahead import ScanHelper
take = ScanHelper.take
taken = []
def spy(self, path):
    got = take(self, path)
    if got is not None:
        taken.append(path)
    return got
ScanHelper.take = spy
from syncengine.cli import main
code = main(["sync", sys.argv[1], sys.argv[2]])
os.write(2, ("%d %d" % (code, len(taken))).encode())
"""


def test_helper_with_stdin_and_stdout_closed(tmp_path: Path) -> None:
    """Started with its standard input and output closed, pysync's pipes to the helper get
    the numbers 0 and 1: they are moved above 2 first, and the helper works."""
    want_src, want_dst = make_tree(tmp_path / "want")
    syncengine.sync(str(want_src), str(want_dst), options=SyncOptions())
    src, dst = make_tree(tmp_path / "got")
    env = dict(os.environ, PYSYNC_SCAN_AHEAD_AFTER="0")
    proc = subprocess.run(["sh", "-c", 'exec "$0" -c "$1" "$2" "$3" 0<&- 1>&-', sys.executable,
                           _CLOSED_STDIO, str(src), str(dst)], env=env, capture_output=True,
                          text=True, timeout=120)
    code, taken = proc.stderr.split()[-2:]
    assert (code, int(taken) > 10) == ("0", True), proc.stderr
    assert tree(dst) == tree(want_dst)
