"""Interruption safety: the live partial files of a run, removed when SIGINT or SIGTERM ends it.

rclone registers an at-exit function for every partial file it writes; its signal handler
for SIGINT and SIGTERM logs ``Signal received: interrupt`` (or ``terminated``) at INFO, runs
those functions (each logging ``<partial>: Removing failed copy``), logs ``Exiting...`` and
exits at once with 128 + the signal number (130, 143), without waiting for the transfers.
A second signal during that clean-up gets the default action. SIGKILL cannot be caught: its
partial file stays and the next run writes the same name again (a ``sync`` deletes a stale
one with another name as an extraneous file).

The transfer code opens every partial file through :func:`open_partial`, which refuses to
create one once the clean-up has started, so none can appear after it; the command line
installs the handlers with :func:`signals_handled`. A library caller that does not install
them gets Python's KeyboardInterrupt: running transfers then finish (each renamed atomically),
so no torn file is left under a final name either way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from . import log
from .errors import PysyncError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, TypeVar

    T = TypeVar("T")

__all__ = ["leave", "open_partial", "late_creation", "creating", "Creating", "release",
           "remove_partials", "signals_handled", "live_partials", "exit_code", "signal_name",
           "InterruptedRunError"]


# Go's names for the signals rclone handles (syscall.Signal.String()).
_SIGNAL_NAMES = {signal.SIGINT: "interrupt", signal.SIGTERM: "terminated"}

_lock = threading.Condition()  # guards the three below; notified when an open ends
_live: dict[tuple[int, str], Any] = {}  # (id(backend), path) -> backend
_opening = 0  # partial files being created right now
_closing = False
CLEANUP_TIMEOUT = 60.0  # seconds the removal of partial files may take before exiting anyway


class InterruptedRunError(PysyncError):
    """The run is being ended by a signal: no new partial file may be created."""

    reference = "interrupted"
    exit_code = 130


def exit_code(signum: int) -> int:
    """rclone's exit code for a run ended by ``signum``: 128 + the signal number."""
    return 128 + int(signum) if int(signum) > 0 else 1


def signal_name(signum: int) -> str:
    """The name rclone logs for ``signum`` (Go's): ``interrupt``, ``terminated``, ..."""
    return _SIGNAL_NAMES.get(signal.Signals(signum), signal.Signals(signum).name)


def open_partial(backend: Any, path: str, opener: Callable[[], T]) -> T:
    """Register ``path`` on ``backend`` as a live partial file and create it with ``opener``.

    The clean-up first stops new registrations, then waits for the creations under way
    (run in parallel, outside the lock), so a partial file either exists when the clean-up
    looks or is never created. Raises InterruptedRunError once the clean-up has started, or
    whatever ``opener`` raises (the path is then no longer registered).
    """
    global _opening
    key = (id(backend), path)
    with _lock:
        if _closing:
            raise InterruptedRunError("transfer cancelled: exiting on signal")
        _live[key] = backend
        _opening += 1
    ok = False
    try:
        result = opener()
        ok = True
        return result
    finally:
        with _lock:
            _opening -= 1
            if not ok:
                _live.pop(key, None)
            _lock.notify_all()


@contextlib.contextmanager
def late_creation() -> Iterator[None]:
    """A block in which a partial file registered by :func:`open_partial` earlier is really
    created (a writer that sends its file whole when closed: see the SMB backend's
    ``open_write_whole``). As in :func:`open_partial`, the clean-up waits for the block, so
    the file either exists when the clean-up looks or is never created; raises
    InterruptedRunError, creating nothing, once the clean-up has begun. On the main thread,
    where the signal handler itself runs, the block is not waited for (it never resumes)."""
    global _opening
    main = threading.current_thread() is threading.main_thread()
    with _lock:
        if _closing:
            raise InterruptedRunError("transfer cancelled: exiting on signal")
        if not main:
            _opening += 1
    try:
        yield
    finally:
        if not main:
            with _lock:
                _opening -= 1
                _lock.notify_all()


class Creating:
    """What :func:`creating` yields: ``closing()`` and, around each partial file,
    ``register(path)`` before it is created and ``release(path)`` once it is renamed or
    removed."""

    __slots__ = ("_backend", "_track")

    def __init__(self, backend: Any, track: bool) -> None:
        self._backend = backend
        self._track = track

    @staticmethod
    def closing() -> bool:
        """True once the clean-up has begun: start no new file."""
        return _closing

    def register(self, path: str) -> None:
        """``path`` is about to be created (a no-op off the main thread: the block's
        count makes the clean-up wait instead)."""
        if self._track:  # one dict operation, atomic: no lock a signal handler could need
            _live[(id(self._backend), path)] = self._backend

    def release(self, path: str) -> None:
        """``path`` was renamed or removed."""
        if self._track:
            _live.pop((id(self._backend), path), None)


@contextlib.contextmanager
def creating(backend: Any) -> Iterator[Creating]:
    """A block that creates partial files on ``backend`` one after the other, renaming or
    removing each before the next (:mod:`syncengine.smallcopy`), at less cost than
    :func:`open_partial` per file.

    Off the main thread the block counts as one creation under way: the clean-up waits for
    it to end, and the block starts no file once ``closing()``. On the main thread, where the
    signal handler itself runs (between two bytecodes of the block, which never resumes),
    waiting for the block would wait for ever; there each file is registered before it is
    created instead, without a lock, so the clean-up removes the one in hand. Raises
    InterruptedRunError when the clean-up has begun already.
    """
    global _opening
    if threading.current_thread() is threading.main_thread():
        if _closing:
            raise InterruptedRunError("transfer cancelled: exiting on signal")
        yield Creating(backend, True)
        return
    with _lock:
        if _closing:
            raise InterruptedRunError("transfer cancelled: exiting on signal")
        _opening += 1
    try:
        yield Creating(backend, False)
    finally:
        with _lock:
            _opening -= 1
            _lock.notify_all()


def release(backend: Any, path: str) -> None:
    """Forget ``path``: it was renamed to its final name or removed (unknown paths: no-op)."""
    with _lock:
        _live.pop((id(backend), path), None)


def live_partials() -> list[str]:
    """The paths of the partial files now registered (for tests and diagnostics)."""
    with _lock:
        return [path for _, path in list(_live)]


def remove_partials() -> None:
    """Stop new partial files being created and remove every registered one.

    Each removal is logged like rclone (``<partial>: Removing failed copy`` at INFO); a
    partial already gone (renamed or removed meanwhile) is skipped, a failed removal is
    logged and does not stop the others.
    """
    for path, message in _remove_all():
        log.info(path, message)


def _remove_all() -> list[tuple[str, str]]:
    """The work of :func:`remove_partials`; returns the (path, message) lines to log."""
    global _closing
    with _lock:
        _closing = True
        _lock.wait_for(lambda: _opening == 0, CLEANUP_TIMEOUT)
        items = [(backend, path) for (_, path), backend in list(_live.items())]
        _live.clear()
    lines: list[tuple[str, str]] = []
    for backend, path in items:
        try:
            if backend.stat(path) is None:
                continue
            lines.append((path, "Removing failed copy"))
            backend.remove(path)
        except FileNotFoundError:
            continue
        except Exception as err:  # keep going: remove as many as possible before exiting
            lines.append((path, f"Failed to remove failed copy: {err}"))
    return lines


def _reset_for_tests() -> None:
    """Allow partial files again after :func:`remove_partials` (tests only)."""
    global _closing, _opening
    with _lock:
        _closing = False
        _opening = 0
        _live.clear()


def _flush() -> None:
    log.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def leave(code: int) -> NoReturn:
    """End the process with ``code`` as a Go program ends: the exit handlers run (logging's
    shutdown, paramiko's and smbclient's clean-ups) and the output is flushed, but the
    interpreter's tear-down of every module (~6 ms here, a tenth of a no-op sync) is
    skipped. While a non-daemon thread still runs, a normal ``sys.exit`` waits for it."""
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    _flush()
    os._exit(code)


def _on_signal(signum: int, frame: object) -> None:
    # rclone stops listening after the first signal: a second one acts at once
    for sig in _SIGNAL_NAMES:
        with contextlib.suppress(Exception):
            signal.signal(sig, signal.SIG_DFL)
    try:
        log.only_this_thread()  # the transfers' failures from here on are the exit's own
        log.info(None, f"Signal received: {signal_name(signum)}")
        # Clean up in another thread while this (main) thread waits: the main thread may
        # hold a lock the removals need (a backend's, the log handler's: so the lines are
        # logged here), and it must not go on (e.g. to delete) in the meantime. A clean-up
        # that hangs does not keep the process alive.
        lines: list[tuple[str, str]] = []
        worker = threading.Thread(target=lambda: lines.extend(_remove_all()),
                                  name="interrupt-cleanup", daemon=True)
        worker.start()
        worker.join(CLEANUP_TIMEOUT)
        for path, message in list(lines):
            log.info(path, message)
        log.info(None, "Exiting...")
    finally:
        _flush()
        os._exit(exit_code(signum))


@contextlib.contextmanager
def signals_handled() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM remove the live partial files and end the
    process with rclone's exit code (130, 143) without waiting for running transfers.

    Installs the handlers only in the main thread (elsewhere the block runs unchanged) and
    restores the previous handlers afterwards. A SIGINT that the parent set to be ignored
    is handled too, as rclone does.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in _SIGNAL_NAMES}
    for sig in _SIGNAL_NAMES:
        signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(Exception):
                signal.signal(sig, old if old is not None else signal.SIG_DFL)
