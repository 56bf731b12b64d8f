"""The sftp backend's shared hash commands: reading their output, coalescing requests."""

from __future__ import annotations

import threading
import time

import pytest

from syncengine.backends.sftp import hashbatch
from syncengine.backends.sftp.hashbatch import Coalescer, batchable_name, parse_lines

A, B, C = "a" * 40, "b" * 40, "c" * 40


def test_coreutils_lines_in_order() -> None:
    out = f"{A}  /d/one\n{B}  /d/two words\n{C}  /d/three\n".encode()
    assert parse_lines(out, ["/d/one", "/d/two words", "/d/three"], 40) == [A, B, C]


def test_a_file_without_a_line_is_left_out() -> None:
    """A missing file prints nothing on stdout (its error goes to stderr)."""
    out = f"{A}  /d/one\n{C}  /d/three\n".encode()
    assert parse_lines(out, ["/d/one", "/d/gone", "/d/three"], 40) == [A, None, C]


def test_escaped_names_are_read_back() -> None:
    r"""coreutils escapes a name with a backslash or a line break (``\\``, ``\n``) and starts
    the line with a backslash."""
    names = ["/d/new\nline", "/d/back\\slash", "/d/plain"]
    out = (f"\\{A}  /d/new\\nline\n\\{B}  /d/back\\\\slash\n{C}  /d/plain\n").encode()
    assert parse_lines(out, names, 40) == [A, B, C]


def test_openssl_lines() -> None:
    out = f"{A.upper()} */d/one\n{B} */d/two\n".encode()
    assert parse_lines(out, ["/d/one", "/d/two"], 40) == [A, B]


def test_a_line_naming_another_file_counts_for_nobody() -> None:
    out = f"{A}  /d/other\n{B}  /d/two\n".encode()
    assert parse_lines(out, ["/d/one", "/d/two"], 40) == [None, B]


@pytest.mark.parametrize("out", [
    b"usage: sha1sum [OPTION]... [FILE]...\n",
    f"{A[:39]}  /d/one\n".encode(),  # too short a digest
    f"{A}\t/d/one\n".encode(),  # not the separator
    f"\\{A}  /d/bad\\escape\n".encode(),  # an escape coreutils never writes
])
def test_anything_else_answers_nothing(out: bytes) -> None:
    assert parse_lines(out, ["/d/one", "/d/bad\\escape"], 40) == [None, None]


def test_names_that_go_alone() -> None:
    """An option look-alike never shares a command; a line break only with coreutils
    (which escapes it), not with a program that prints names raw."""
    assert batchable_name("sha1sum", "/d/x")
    assert not batchable_name("sha1sum", "-x")
    assert batchable_name("sha1sum", "/d/new\nline")
    assert not batchable_name("openssl dgst -sha1 -r", "/d/new\nline")
    assert not batchable_name("openssl dgst -sha1 -r", "/d/cr\rname")
    assert batchable_name("openssl dgst -sha1 -r", "/d/x y")


def _slow_batches(delay: float) -> tuple[Coalescer, list[list[object]], list[int]]:
    batches: list[list[object]] = []
    running = [0, 0]  # now, most at once
    lock = threading.Lock()

    def run(items: list[object]) -> list[object]:
        with lock:
            batches.append(list(items))
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(delay)
        with lock:
            running[0] -= 1
        return [f"h({item})" for item in items]

    return Coalescer(run, lambda item: (10, 1)), batches, running


def test_requests_that_wait_share_the_next_command() -> None:
    """While one command runs, the requests that arrive wait and go out together; each
    thread gets its own item's answer; one command at a time."""
    co, batches, running = _slow_batches(0.2)
    got: dict[int, object] = {}
    first = threading.Thread(target=lambda: got.__setitem__(0, co.submit(0)))
    first.start()
    time.sleep(0.05)  # the first command is running
    others = [threading.Thread(target=lambda i=i: got.__setitem__(i, co.submit(i)))
              for i in range(1, 9)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(10)
    assert got == {i: f"h({i})" for i in range(9)}
    assert batches[0] == [0] and len(batches) == 2 and sorted(batches[1]) == list(range(1, 9))
    assert running[1] == 1


def test_a_lone_request_runs_at_once() -> None:
    co, batches, _ = _slow_batches(0)
    assert co.submit("x") == "h(x)" and co.submit("y") == "h(y)"
    assert batches == [["x"], ["y"]]


def test_batches_are_capped() -> None:
    """No more than MAX_FILES items, MAX_CHARS of command line or MAX_BYTES a command."""
    sizes: list[int] = []
    gate = threading.Event()

    def run(items: list[object]) -> list[object]:
        gate.wait(5)
        sizes.append(len(items))
        return list(items)

    co = Coalescer(run, lambda item: (1000, 1))
    threads = [threading.Thread(target=co.submit, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(10)
    assert sum(sizes) == 40
    assert max(sizes) <= min(hashbatch.MAX_FILES, hashbatch.MAX_CHARS // 1000)
    big = Coalescer(lambda items: list(items), lambda item: (1, hashbatch.MAX_BYTES))
    assert big.submit("alone") == "alone"  # one item always fits


def test_a_failed_command_fails_each_of_its_requests() -> None:
    calls: list[list[object]] = []
    gate = threading.Event()

    def run(items: list[object]) -> list[object]:
        calls.append(list(items))
        if len(calls) == 1:
            gate.wait(5)
            return list(items)
        raise OSError("connection lost")

    co = Coalescer(run, lambda item: (1, 1))
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            co.submit(i)
        except OSError as err:
            errors.append(err)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(5)]
    threads[0].start()
    time.sleep(0.05)
    for t in threads[1:]:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 2 and len(errors) == 4
    assert all(str(e) == "connection lost" for e in errors)
