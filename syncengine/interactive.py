"""``--dry-run`` and ``-i/--interactive``: whether a destructive step is skipped (rclone's
``operations.SkipDestructive``).

Every step that changes the destination (copy a file, update a time, delete, move, make
or remove a directory, set a directory's time) asks :func:`skip` first. Under --dry-run
every step is skipped. Under --interactive the question is put on stdout as rclone puts it::

    rclone: copy "a.txt"?
    y) Yes, this is OK (default)
    n) No, skip this
    s) Skip all copy operations with no more questions
    !) Do all copy operations with no more questions
    q) Exit rclone now.

and one line is read from stdin: ``y`` (or an empty line) does it, ``n`` skips it, ``s``
and ``!`` skip or do every further step of that kind without asking, ``q`` ends the run
at once (exit 0, partial files removed). On a terminal (stdout) the prompt ``y/n/s/!/q> ``
is shown and the end of input counts as the default; otherwise nothing more is shown and
the end of input ends the run: ``CRITICAL: Failed to read line: EOF``, exit 1, as rclone.
Questions are asked one at a time, whatever thread asks; the ``s``/``!`` answers last as
long as the process (as rclone's).
"""

from __future__ import annotations

import sys
import threading

from . import log

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import, and a run need not pay for it
    from typing import Any, Protocol

    class _Opts(Protocol):
        dry_run: bool
        interactive: bool

__all__ = ["skip", "reset", "set_streams"]


_lock = threading.Lock()
_decided: dict[str, bool] = {}  # action -> skip, for the s/! answers
_streams: dict[str, Any] = {}


def set_streams(stdin: Any = None, stdout: Any = None) -> None:
    """Read answers from ``stdin`` and write questions to ``stdout`` (tests; None: the
    process's own)."""
    _streams.clear()
    if stdin is not None:
        _streams["in"] = stdin
    if stdout is not None:
        _streams["out"] = stdout


def reset() -> None:
    """Forget the s/! answers (tests, or a new run in the same process)."""
    with _lock:
        _decided.clear()


def skip(opts: _Opts, subject: str, action: str) -> str | None:
    """Whether to skip ``action`` (rclone's words: "copy", "delete", "move to x", ...) on
    ``subject``: the flag that skips it (``--dry-run``, ``--interactive``) for the
    caller's ``Skipped <action> as <flag> is set`` line, or None to go ahead."""
    if opts.dry_run:
        return "--dry-run"
    if not opts.interactive:
        return None
    with _lock:
        decided = _decided.get(action)
        if decided is None:
            decided = _choose(subject, action)
    return "--interactive" if decided else None


def is_terminal(stream: Any) -> bool:
    """``stream`` is a terminal (False for None, a closed stream or one without isatty)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _read_line(prompt: str) -> str:
    """rclone's ReadLine: on a terminal the prompt, and the end of input is an empty
    answer; otherwise no prompt, and the end of input ends the run."""
    out = _streams.get("out", sys.stdout)
    inp = _streams.get("in", sys.stdin)
    tty = is_terminal(out)
    if tty:
        out.write(prompt)
        out.flush()
    line = inp.readline() if inp is not None else ""
    if line == "" and not tty:
        _leave(1, critical="Failed to read line: EOF")
    return line.strip()


def _choose(subject: str, action: str) -> bool:
    out = _streams.get("out", sys.stdout)
    out.write(f'\nrclone: {action} "{subject}"?\n')
    options = [("y", "Yes, this is OK"), ("n", "No, skip this"),
               ("s", f"Skip all {action} operations with no more questions"),
               ("!", f"Do all {action} operations with no more questions"),
               ("q", "Exit rclone now.")]
    for i, (letter, text) in enumerate(options):
        out.write(f"{letter}) {text}{' (default)' if i == 0 else ''}\n")
    out.flush()
    letters = "".join(letter for letter, _ in options)
    while True:
        answer = _read_line("/".join(letters) + "> ").lower()
        if not answer:
            choice = "y"
            break
        if len(answer) == 1 and answer in letters:
            choice = answer
            break
        if len(answer) == 1:
            out.write("This value must be one of the following characters: "
                      f"{', '.join(letters)}.\n")
        else:
            out.write("This value must be a single character, one of the following: "
                      f"{', '.join(letters)}.\n")
        out.flush()
    if choice == "y":
        return False
    if choice == "n":
        return True
    if choice == "s":
        _decided[action] = True
        log.notice(None, f"Skipping all {action} operations from now on without asking")
        return True
    if choice == "!":
        _decided[action] = False
        log.notice(None, f"Doing all {action} operations from now on without asking")
        return False
    log.notice(None, "Quitting rclone now")
    _leave(0)
    raise AssertionError("unreachable")  # pragma: no cover


def _leave(code: int, critical: str | None = None) -> None:
    """End the process now (from whichever thread asked), as rclone's os.Exit: partial
    files of the transfers under way are removed first."""
    from . import interrupt

    if critical is not None:
        log.critical(None, critical)
    interrupt.remove_partials()
    interrupt._flush()
    import os

    os._exit(code)
