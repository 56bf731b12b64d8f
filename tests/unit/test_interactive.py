"""syncengine.interactive: rclone's SkipDestructive questions, answered from a string
(the runs against rclone are in tests/differential/test_interactive_vs_rclone.py)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from syncengine import interactive

ON = SimpleNamespace(dry_run=False, interactive=True)


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    interactive.reset()
    yield
    interactive.reset()
    interactive.set_streams()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _answer(text: str, tty: bool = False) -> io.StringIO:
    out = _Tty() if tty else io.StringIO()
    interactive.set_streams(stdin=io.StringIO(text), stdout=out)
    return out


def test_off_and_dry_run() -> None:
    assert interactive.skip(SimpleNamespace(dry_run=False, interactive=False), "a", "copy") \
        is None
    assert interactive.skip(SimpleNamespace(dry_run=True, interactive=True), "a", "copy") \
        == "--dry-run"


def test_question_text() -> None:
    out = _answer("n\n")
    assert interactive.skip(ON, "d/a.txt", "copy") == "--interactive"
    assert out.getvalue() == (
        '\nrclone: copy "d/a.txt"?\ny) Yes, this is OK (default)\nn) No, skip this\n'
        "s) Skip all copy operations with no more questions\n"
        "!) Do all copy operations with no more questions\nq) Exit rclone now.\n")


def test_yes_enter_and_upper_case() -> None:
    _answer("y\n\nY\n")
    assert [interactive.skip(ON, "a", "delete") for _ in range(3)] == [None, None, None]


def test_skip_all_and_do_all_per_action() -> None:
    out = _answer("s\n!\n")
    assert interactive.skip(ON, "a", "copy") == "--interactive"
    assert interactive.skip(ON, "b", "copy") == "--interactive"  # not asked
    assert interactive.skip(ON, "c", "delete") is None
    assert interactive.skip(ON, "d", "delete") is None  # not asked
    assert out.getvalue().count("\nrclone: ") == 2


def test_bad_answers_on_a_terminal() -> None:
    out = _answer("yes\nx\nn\n", tty=True)
    assert interactive.skip(ON, "a", "copy") == "--interactive"
    text = out.getvalue()
    assert text.count("y/n/s/!/q> ") == 3
    assert "This value must be a single character, one of the following: y, n, s, !, q.\n" \
        in text
    assert "This value must be one of the following characters: y, n, s, !, q.\n" in text


def test_end_of_input_on_a_terminal_is_enter() -> None:
    _answer("", tty=True)
    assert interactive.skip(ON, "a", "copy") is None
