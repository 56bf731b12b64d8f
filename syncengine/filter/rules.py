"""Ordered include/exclude rules, rule parsing and rule files, as rclone's fs/filter/rules.go."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator

from ..errors import FilterError
from ..record import record
from .glob import compile_glob, go_quote

__all__ = ["Rule", "Rules", "read_lines", "add_rule_text"]


@record(frozen=True, slots=True)
class Rule:
    """One rule: include or exclude, the RE2 text rclone would print, and the compiled regexp."""

    include: bool
    regexp: str
    pattern: re.Pattern[str]

    def __str__(self) -> str:
        return f"{'+' if self.include else '-'} {self.regexp}"


class Rules:
    """An ordered, de-duplicated list of rules; the first rule that matches decides."""

    __slots__ = ("rules", "_seen")

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self._seen: set[str] = set()

    def add(self, include: bool, regexp: str, pattern: re.Pattern[str]) -> None:
        """Append a rule unless one with the same printed form is already there."""
        rule = Rule(include, regexp, pattern)
        text = str(rule)
        if text not in self._seen:
            self._seen.add(text)
            self.rules.append(rule)

    def add_glob(self, include: bool, glob: str, *, ignore_case: bool = False) -> None:
        """Append the rule for ``glob``; raises FilterError for a bad glob."""
        regexp, pattern = compile_glob(glob, ignore_case=ignore_case)
        self.add(include, regexp, pattern)

    def clear(self) -> None:
        """Forget every rule (the ``!`` rule)."""
        self.rules.clear()
        self._seen.clear()

    def include(self, path: str) -> bool:
        """True when the first matching rule includes ``path``, or when no rule matches."""
        for rule in self.rules:
            if rule.pattern.search(path):
                return rule.include
        return True

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)


def add_rule_text(text: str, add: Callable[[bool, str], None], clear: Callable[[], None]) -> None:
    """Apply one ``--filter`` style rule: ``+ glob``, ``- glob`` or ``!``.

    Raises FilterError ``malformed rule "<text>"`` for anything else (exactly one space after
    the sign, as rclone demands).
    """
    if text == "!":
        clear()
    elif text.startswith("- "):
        add(False, text[2:])
    elif text.startswith("+ "):
        add(True, text[2:])
    else:
        raise FilterError(f"malformed rule {go_quote(text)}")


def read_lines(path: str, *, raw: bool = False, nul: bool = False) -> Iterable[str]:
    """The lines of a rules or files-from file (``-`` is standard input).

    Not ``raw``: each line is stripped and blank, ``#`` and ``;`` lines are skipped.
    ``nul``: split on NUL instead of newlines (a missing final NUL is fine).
    A file that cannot be opened raises FilterError with the OS reason, as rclone reports it.
    """
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        raise FilterError(f"open {path}: {reason}") from None
    text = data.decode("utf-8", errors="surrogateescape")
    if nul:
        parts = text.split("\0")
        if parts and parts[-1] == "":
            parts.pop()
    else:
        parts = _go_scan_lines(text)
    for line in parts:
        if not raw:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
        yield line


def _go_scan_lines(text: str) -> list[str]:
    """Split like Go's bufio.ScanLines: on ``\\n``, dropping one ``\\r`` before it."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]
