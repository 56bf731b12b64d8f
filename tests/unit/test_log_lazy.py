"""``logging`` is imported only when a record can go somewhere: a no-op sync at the default
level never imports it, a deferred (console) set-up applies at the first record at its
level, and a library caller's own logging set-up still gets every record."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _probe(code: str, *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False, env=env, cwd=cwd)


def _lines(code: str) -> list[str]:
    """The lines a probe printed (it must exit 0)."""
    res = _probe(code)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


_NOOP = """
import sys
from syncengine.cli import main
code = main(["sync", sys.argv[1] if len(sys.argv) > 1 else "src", "dst"])
print(code, [m for m in ("logging", "concurrent.futures", "traceback") if m in sys.modules])
"""


def test_noop_sync_at_default_level_never_imports_logging(tmp_path: Path) -> None:
    """A sync with nothing to do logs nothing, so logging (and concurrent.futures, which
    imports it) stay out; a sync that copies a file brings the pools' threads in."""
    (tmp_path / "src" / "d").mkdir(parents=True)
    (tmp_path / "src" / "d" / "f.txt").write_text("x")
    first = _probe(_NOOP, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout.split()[0] == "0"
    assert (tmp_path / "dst" / "d" / "f.txt").read_text() == "x"
    again = _probe(_NOOP, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "0 []"
    assert again.stderr == ""


_DEFERRED = """
import io, sys
from syncengine import log
buf = io.StringIO()
log.defer_logging(verbose=1, stream=buf)
log.debug("obj", "hidden %s", 1)
print("after debug:", "logging" in sys.modules, log.debug_enabled(), log.enabled(log.INFO))
print("level:", log.effective_level())
log.info("obj", "shown")
print("after info:", "logging" in sys.modules, repr(buf.getvalue().split(" ", 2)[2]))
log.debug("obj", "still hidden")
log.error(None, "bad")
print("lines:", len(buf.getvalue().splitlines()))
"""


def test_deferred_set_up_applies_at_the_first_record_at_its_level() -> None:
    """-v deferred: a DEBUG line neither shows nor imports logging; the first INFO line
    installs the handler on the given stream, with rclone's format."""
    assert _lines(_DEFERRED) == [
        "after debug: False False True",
        "level: 20",
        "after info: True 'INFO  : obj: shown\\n'",
        "lines: 2",
    ]


_LIBRARY = """
import sys
from syncengine import log
log.notice("a", "dropped: nothing can receive it")
print("imported:", "logging" in sys.modules, log.effective_level())
import logging
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(object)s %(message)s",
                    stream=sys.stdout)
log.notice("b", "kept")
log.debug("c", "below the level")
log.info("d", "info too")
print(log.LOGGER is logging.getLogger("syncengine"), logging.getLevelName(25))
"""


def test_a_library_callers_logging_gets_records_once_logging_is_imported() -> None:
    """Before the caller imports logging nothing could receive a record; once it sets
    logging up, records go to its handlers (through the syncengine logger) as before."""
    assert _lines(_LIBRARY) == [
        "imported: False 30",
        "NOTICE b kept",
        "INFO d info too",
        "True NOTICE",
    ]


def test_log_file_is_opened_at_set_up(tmp_path: Path) -> None:
    """--log-file is created at start-up (as rclone opens it), even when nothing is logged."""
    target = tmp_path / "run.log"
    res = _probe(f"from syncengine import log; log.defer_logging(log_file={str(target)!r})")
    assert res.returncode == 0, res.stderr
    assert target.exists()


_EXITING = """
import io, threading
from syncengine import log
buf = io.StringIO()
log.setup_logging(verbose=2, stream=buf)
log.only_this_thread()
other = threading.Thread(target=lambda: (log.error("t", "from a transfer"),
                                         log.debug("t", "debug too")))
other.start(); other.join()
log.info(None, "Exiting...")
log.debug("m", "main debug")
print("|".join(line.split(" ", 2)[2] for line in buf.getvalue().splitlines()))
"""


def test_after_a_signal_only_the_exiting_thread_logs() -> None:
    """Once the signal handler calls only_this_thread, lines from other threads (transfers
    failing as their partial files are removed) are dropped; the handler's own are not."""
    assert _lines(_EXITING) == ["INFO  : Exiting...|DEBUG : m: main debug"]


_REENTRY = """
import io, threading
from syncengine import log
buf = io.StringIO()
log.defer_logging(stream=buf)
with log._lock:  # this thread is making the logger (as when a signal lands mid-import)
    log._making.add(threading.get_ident())
    log.error(None, "from the signal handler")  # must neither block nor fail
    log._making.clear()
log.error(None, "after")
print("|".join(line.split(" ", 2)[2] for line in buf.getvalue().splitlines()))
"""


def test_a_line_logged_while_the_same_thread_sets_logging_up_is_dropped() -> None:
    """A signal handler runs on the main thread between two bytecodes: if that thread was
    importing logging for its first line, the handler's line is dropped instead of waiting
    for the lock its own thread holds (a hang) or using a half-imported module."""
    assert _lines(_REENTRY) == ["ERROR : after"]


_CONSOLE = """
import os, sys
from syncengine import cli
real_exit = os._exit
def leave(code):
    print(code, "ctypes" in sys.modules, cli.__dict__.get("argparse")._.__name__, flush=True)
    real_exit(code)
os._exit = leave
sys.argv[1:] = ["sync", ":local:src", ":local:dst"]
cli.console()
"""


def test_console_tunes_malloc_at_the_first_transfer_only(tmp_path: Path) -> None:
    """A remote spec (a colon) asks for glibc's tuning; a sync that transfers nothing never
    imports ctypes for it, one that copies does; argparse's messages go untranslated."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f.txt").write_text("x")
    first = _probe(_CONSOLE, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["0", "True", "_as_given"]
    again = _probe(_CONSOLE, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["0", "False", "_as_given"]
