"""``-i/--interactive`` side by side with the real rclone.

In a pseudo-terminal (pexpect) a person answers each question (``y``, ``n``, ``s``, ``!``,
``q``, a bad answer, just Enter); with no terminal the answers come down a pipe, and the
end of input ends the run. Compared: the questions asked (as a multiset: the order of
questions from concurrent checkers and transfers is rclone's scheduling, so it is compared
only where one thread asks them all), what was shown around them, the exit code and the
destination tree afterwards.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pexpect
import pytest

from . import sync_harness as sh
from .trees import DAY

if sh.RCLONE is None:
    pytest.fail("rclone is not on PATH: the differential tests need the real rclone",
                pytrace=False)

_QUESTION = re.compile(r'rclone: (.+) "(.*)"\?\r?\n')
_PROMPT = "y/n/s/!/q> "
FLAGS = ["--transfers", "1", "--checkers", "1"]

# a sync that asks every kind of question: make directory (twice, as rclone's MkdirModTime
# then MkdirMetadata), copy (new and replaced), update modification time, delete, set
# directory modification time, remove directory
SRC = {"new.txt": (b"new", DAY), "sub/ch.txt": (b"changed", DAY), "same.txt": (b"same", 5 * DAY),
       "empty": None}
DST = {"sub/ch.txt": (b"old", 2 * DAY), "same.txt": (b"same", 2 * DAY),
       "olddir/x": (b"x", DAY), "gone": (b"g", DAY)}
# files of one directory: one march, one transfer thread: the questions come in order
FLAT_SRC = {"a.txt": (b"a", DAY), "b.txt": (b"bb", DAY), "c.txt": (b"ccc", DAY),
            "d.txt": (b"dddd", DAY)}
FLAT_DST = {"old1": (b"1", DAY), "old2": (b"22", DAY), "old3": (b"333", DAY)}


def _cmd(tool: str, mode: str, extra: list[str]) -> list[str]:
    assert sh.RCLONE is not None
    base = [sh.RCLONE] if tool == "rclone" else [sys.executable, "-m", "syncengine"]
    return [*base, mode, "-i", *FLAGS, *extra, "src", "dst"]


def _tree(root: Path) -> dict[str, tuple[str, int, str, int]]:
    """Files with size, digest and time; directories by name only (their times move)."""
    return {k: (n.kind, n.size, n.digest, n.mtime if n.kind == "f" else 0)
            for k, n in sh.snapshot(root).items()}


def _sandboxes(tmp_path: Path, src: dict[str, object], dst: dict[str, object]
               ) -> tuple[Path, Path]:
    proto, start = sh.fixed_proto(tmp_path, src, dst)
    return sh.prepare_sandboxes(proto, start, tmp_path / "work")


def _on_pty(cwd: Path, cmd: list[str], answers: dict[str, object]
            ) -> tuple[list[str], str, int]:
    """Run ``cmd`` in a pseudo-terminal answering each question from ``answers`` (keyed
    ``action subject``, or ``action *`` for every subject; default: Enter; ``again``: the
    answers, in turn, when a question is asked again after a bad answer). Returns the
    questions asked, the text shown and the exit code."""
    env = dict(sh.tool_env(), TERM="dumb", COLUMNS="200")
    child = pexpect.spawn(cmd[0], cmd[1:], cwd=str(cwd), env=env, encoding="utf-8",
                          timeout=60, dimensions=(50, 200))
    asked: list[str] = []
    shown: list[str] = []
    for _ in range(200):
        i = child.expect([_PROMPT, pexpect.EOF])
        shown.append(child.before + (child.after if i == 0 else ""))
        if i == 1:
            break
        found = _QUESTION.findall(child.before)
        if found:
            action, subject = found[-1]
            asked.append(f"{action} {subject}")
            key = f"{action} {subject}"
            answer = answers.get(key, answers.get(f"{action} *", ""))
        else:  # asked again after a bad answer
            answer = answers.get("again", "y")
        if isinstance(answer, list):  # several answers typed one after the other
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        child.sendline(str(answer))
    else:
        child.close(force=True)
        pytest.fail(f"{cmd[0]}: too many questions:\n{''.join(shown)[-3000:]}")
    child.close()
    return asked, "".join(shown), child.exitstatus if child.exitstatus is not None else -1


def _pty_case(tmp_path: Path, mode: str, answers: dict[str, object], *,
              src: dict[str, object] = SRC, dst: dict[str, object] = DST,
              extra: list[str] | None = None, ordered: bool = False) -> tuple[str, str]:
    sand_r, sand_p = _sandboxes(tmp_path, src, dst)
    got = {}
    for tool, sand in (("rclone", sand_r), ("pysync", sand_p)):
        got[tool] = _on_pty(sand, _cmd(tool, mode, extra or []), copy.deepcopy(answers))
    (ask_r, shown_r, rc_r), (ask_p, shown_p, rc_p) = got["rclone"], got["pysync"]
    assert ask_r, shown_r
    if ordered:  # which file rclone deletes first is not fixed (a Go map's order)
        def norm(asked: list[str]) -> list[str]:
            return ["delete *" if q.startswith("delete ") else q for q in asked]
        assert norm(ask_p) == norm(ask_r), (ask_r, ask_p)
    else:
        assert Counter(ask_p) == Counter(ask_r), (ask_r, ask_p)
    assert rc_p == rc_r, (shown_r, shown_p)
    assert _tree(sand_p / "dst") == _tree(sand_r / "dst"), (shown_r, shown_p)
    return shown_r, shown_p


def _questions(stdout: str) -> list[tuple[str, int]]:
    """The question blocks of a piped run with how often each was asked, sorted; the file
    of a delete question is left out: rclone deletes in no fixed order (its delete-after
    list is a Go map)."""
    blocks = Counter(re.sub(r'^delete "[^"]*"', 'delete "*"', b)
                     for b in stdout.split("\nrclone: ")[1:])
    return sorted((b.split("?\n", 1)[0], n) for b, n in blocks.items())


def _notices(text: str) -> list[str]:
    """The NOTICE messages of a transcript, without times, sorted."""
    return sorted(re.sub(r"^.*? NOTICE: ", "", x).strip() for x in text.splitlines()
                  if " NOTICE: " in x and "Config file" not in x)


@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_pty_all_default(tmp_path: Path, mode: str) -> None:
    """Enter on every question: everything is done, as without -i."""
    _pty_case(tmp_path, mode, {})


def test_pty_no_to_some(tmp_path: Path) -> None:
    shown_r, shown_p = _pty_case(tmp_path, "sync", {
        "copy new.txt": "n", "delete gone": "n", "update modification time same.txt": "n",
        "remove directory olddir": "n", "make directory empty": "n"})
    assert _notices(shown_p) == _notices(shown_r)
    assert "new.txt: Skipped copy as --interactive is set (size 3)" in shown_p


@pytest.mark.parametrize("answer", ["s", "!"])
def test_pty_all_of_a_kind(tmp_path: Path, answer: str) -> None:
    """``s``/``!`` on the first copy and the first delete: no more questions of those
    kinds, the rest skipped or done."""
    shown_r, shown_p = _pty_case(tmp_path, "sync", {"copy *": answer, "delete *": answer},
                                 src=FLAT_SRC, dst=FLAT_DST, ordered=True)
    assert _notices(shown_p) == _notices(shown_r)


def test_pty_quit(tmp_path: Path) -> None:
    """``q`` at the first deletion: rclone says so and exits 0 at once."""
    shown_r, shown_p = _pty_case(tmp_path, "sync", {"delete *": "q"}, src=FLAT_SRC,
                                 dst=FLAT_DST, ordered=True)
    assert "Quitting rclone now" in shown_p


def test_pty_bad_answers(tmp_path: Path) -> None:
    """A word, then a letter not offered, then ``n``: rclone's two complaints, asked
    again each time."""
    shown_r, shown_p = _pty_case(tmp_path, "copy", {"copy a.txt": "yes", "again": ["x", "n"]},
                                 src={"a.txt": (b"a", DAY)}, dst={}, ordered=True)
    for text in ("This value must be a single character, one of the following: y, n, s, !, q.",
                 "This value must be one of the following characters: y, n, s, !, q."):
        assert shown_r.count(text) == shown_p.count(text) >= 1, (shown_r, shown_p)


# --- no terminal: answers on a pipe

def _piped(tmp_path: Path, mode: str, answers: str, src: dict[str, object],
           dst: dict[str, object], extra: list[str] | None = None
           ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    sand_r, sand_p = _sandboxes(tmp_path, src, dst)
    runs = []
    for tool, sand in (("rclone", sand_r), ("pysync", sand_p)):
        runs.append(subprocess.run(_cmd(tool, mode, extra or []), input=answers,
                                   capture_output=True, text=True, cwd=sand,
                                   env=sh.tool_env(), timeout=120))
    r, p = runs
    assert p.returncode == r.returncode, (r.stderr, p.stderr)
    assert _tree(sand_p / "dst") == _tree(sand_r / "dst"), (r.stdout, p.stdout)
    return r, p


@pytest.mark.parametrize("answers", ["y\n" * 20, "n\n" * 20, "y\nn\n\ns\n!\n", "\n" * 20,
                                     "n\ny\nq\n", "Y\nN\nS\n"],
                         ids=["yes", "no", "mixed", "enter", "quit", "upper"])
def test_piped_answers(tmp_path: Path, answers: str) -> None:
    """No terminal: no prompt is shown, the questions (one thread asks them all) and the
    NOTICE lines are rclone's."""
    r, p = _piped(tmp_path, "sync", answers, FLAT_SRC, FLAT_DST)
    assert _questions(p.stdout) == _questions(r.stdout)
    assert _notices(p.stderr) == _notices(r.stderr)


@pytest.mark.parametrize("answers", ["", "y\n", "n\ny\n"], ids=["none", "one", "two"])
def test_piped_end_of_input(tmp_path: Path, answers: str) -> None:
    """The answers run out: rclone's CRITICAL line and exit 1, at once."""
    r, p = _piped(tmp_path, "sync", answers, FLAT_SRC, FLAT_DST)
    assert r.returncode == 1
    assert _questions(p.stdout) == _questions(r.stdout)
    assert p.stderr.splitlines()[-1].endswith("CRITICAL: Failed to read line: EOF")


def test_piped_backup_dir(tmp_path: Path) -> None:
    """With --backup-dir a deletion is a move into the backup directory: asked as rclone
    asks it (and the move it makes then asked too)."""
    r, p = _piped(tmp_path, "sync", "y\n" * 30, FLAT_SRC,
                  {**FLAT_DST, "a.txt": (b"old a", 3 * DAY)}, extra=["--backup-dir", "../bak"])
    assert _questions(p.stdout) == _questions(r.stdout)
    asked = _questions(r.stdout)
    assert ('move "a.txt"', 1) in asked and ('move into backup dir "old1"', 1) in asked, asked
    for run in (r, p):  # the old file is moved away before its copy is asked for
        out = run.stdout
        assert out.index('rclone: move "a.txt"?') < out.index('rclone: copy "a.txt"?')
