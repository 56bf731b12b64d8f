"""Hash commands for several files at once: ``sha1sum a b c`` instead of one command each.

Each remote command costs the server a session, a shell and the program's start (~3.5 ms of
CPU here, beside the hashing itself): for a small file that is most of what its check
costs. Requests for files up to ``SMALL`` that arrive while a command runs are
coalesced: one command at a time per backend and hash kind; a request that finds it busy
waits, and the next command takes every waiting request (up to ``MAX_FILES`` paths and
``MAX_CHARS`` of command line). A request with nothing in front of it runs at once, alone.
Larger files keep a command each, in parallel, as before.

Only GNU coreutils' output (``<hex>  <name>``, a leading backslash when the name is
escaped) and OpenSSL's ``dgst -r`` (``<hex> *<name>``) are read, and a hash only counts
when its line names the path asked for, in order; a path whose line is missing (the file
is gone, is a directory, the command failed) or unreadable is hashed again on its own by
the caller, whose single-file command keeps every message and rule it had.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

#: The hash programs whose output is read for several files: GNU coreutils (a name with a
#: backslash or a line break is escaped, the line then starts with a backslash) and
#: OpenSSL's ``dgst -r`` (names printed as they are: see :func:`batchable_name`).
COREUTILS = frozenset({"md5sum", "sha1sum", "sha256sum"})
RAW_NAMES = frozenset({"openssl dgst -sha1 -r", "openssl dgst -sha256 -r"})
BATCHABLE = COREUTILS | RAW_NAMES
#: Files up to this size share commands (a larger one's hashing outweighs a command's
#: start, and runs in parallel with the others' as before).
SMALL = 64 * 1024 * 1024
MAX_FILES = 32
MAX_CHARS = 16_000
MAX_BYTES = 64 * 1024 * 1024  # a command's files together: it answers within ~0.1 s

_UNESCAPE = {"\\": "\\", "n": "\n", "r": "\r"}


def batchable_name(command: str, name: str) -> bool:
    """Whether ``name`` may share a ``command`` with others: not an option's look-alike,
    and for a program that prints names unescaped no line break (a name could otherwise
    print a line that reads as another file's)."""
    if name.startswith("-"):
        return False
    return command not in RAW_NAMES or not ("\n" in name or "\r" in name)


def parse_lines(output: bytes, names: list[str], length: int) -> list[str | None]:
    """The hash of each of ``names`` (``length`` hex digits) from coreutils output, None
    where its line is missing or names another file."""
    got: list[str | None] = [None] * len(names)
    lines = output.decode("utf-8", "surrogateescape").split("\n")
    i = 0
    for line in lines:
        if not line or i >= len(names):
            continue
        escaped = line.startswith("\\")
        if escaped:
            line = line[1:]
        digest, sep, name = line[:length], line[length:length + 2], line[length + 2:]
        if sep not in ("  ", " *") or not _is_hex(digest):
            return got  # not coreutils' format: the rest are hashed one by one
        if escaped:
            name = _unescape(name)
            if name is None:
                return got
        try:  # files before it printed nothing (an error on stderr): skipped
            at = names.index(name, i)
        except ValueError:
            continue  # no file asked for (or not in this order): counts for nobody
        got[at] = digest.lower()
        i = at + 1
    return got


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdefABCDEF" for c in text)


def _unescape(name: str) -> str | None:
    out: list[str] = []
    it = iter(name)
    for c in it:
        if c != "\\":
            out.append(c)
            continue
        nxt = next(it, "")
        if nxt not in _UNESCAPE:
            return None
        out.append(_UNESCAPE[nxt])
    return "".join(out)


class _Request:
    __slots__ = ("item", "finished", "result")

    def __init__(self, item: object) -> None:
        self.item = item
        self.finished = False
        self.result: object = None


class Coalescer:
    """Runs ``run_batch(items) -> results`` (one result per item, in order) for requests
    from many threads, at most ``running`` batches at a time; see the module docstring.

    A requesting thread waits until its request is answered; meanwhile, whenever fewer
    than ``running`` batches are under way and requests wait, it runs the next batch (the
    oldest requests, its own or others'). ``cost(item)`` is what an item adds to the
    command line and to the bytes hashed (``MAX_CHARS`` and ``MAX_BYTES`` cap a batch, which
    holds at least one item). An exception of ``run_batch`` fails every
    request of that batch (raised in each requesting thread).
    """

    def __init__(self, run_batch: Callable[[list[object]], list[object]],
                 cost: Callable[[object], tuple[int, int]], running: int = 1) -> None:
        self._run_batch = run_batch
        self._cost = cost
        self._limit = running
        self._running = 0
        self._pending: list[_Request] = []
        self._cond = threading.Condition()

    def submit(self, item: object) -> object:
        """The result for ``item`` (raises the batch's exception)."""
        req = _Request(item)
        with self._cond:
            self._pending.append(req)
            while not req.finished:
                if self._running < self._limit and self._pending:
                    batch = self._take()
                    self._running += 1
                    self._cond.release()
                    try:
                        results = self._results(batch)
                    finally:
                        self._cond.acquire()
                        self._running -= 1
                    for r, res in zip(batch, results, strict=True):
                        r.result, r.finished = res, True
                    self._cond.notify_all()
                else:
                    self._cond.wait()
        if isinstance(req.result, _Failed):
            raise req.result.err
        return req.result

    def _take(self) -> list[_Request]:
        """The oldest pending requests that fit one command (the lock held)."""
        batch: list[_Request] = []
        chars = size = 0
        for req in self._pending:
            more_chars, more_size = self._cost(req.item)
            chars += more_chars
            size += more_size
            if batch and (len(batch) >= MAX_FILES or chars > MAX_CHARS or size > MAX_BYTES):
                break
            batch.append(req)
        del self._pending[:len(batch)]
        return batch

    def _results(self, batch: list[_Request]) -> list[object]:
        try:
            return self._run_batch([r.item for r in batch])
        except BaseException as err:  # noqa: BLE001 - raised in every requesting thread
            return [_Failed(err)] * len(batch)


class _Failed:
    __slots__ = ("err",)

    def __init__(self, err: BaseException) -> None:
        self.err = err
