"""rclone-style logging: levels (with NOTICE), subject-first lines, text or JSON output.

The library only emits records through ``logging.getLogger("syncengine")`` (with a
NullHandler); the CLI, or an application, installs a handler with ``setup_logging``.

The standard ``logging`` package (with what it imports: traceback, tokenize, string, ...) is
a tenth of a no-op sync's start-up, so it is imported only when a record can go anywhere:

- a library run: when ``logging`` is already imported by the application (no handler can be
  set up without it; before that, every record would end in the NullHandler);
- the console script: :func:`defer_logging` keeps ``setup_logging``'s arguments and the
  level, and the first record at that level (or any use of ``LOGGER``) installs the handler.
  A run that logs nothing (a no-op sync at the default level) never imports ``logging``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import IO, Any

# also ``LOGGER``, ``RcloneFormatter`` and ``JsonFormatter``, made on first use (__getattr__)
__all__ = ["NOTICE", "LEVELS", "debug", "debug_enabled", "enabled", "effective_level", "info",
           "notice", "error", "critical", "emit", "flush", "only_this_thread", "setup_logging",
           "defer_logging"]

# the standard levels' numbers (logging's), and rclone's NOTICE between INFO and WARNING
DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL = 10, 20, 25, 30, 40, 50
#: rclone's ``--log-level`` / ``--stats-log-level`` choices (``fs.logLevelChoices``), as
#: Python levels; rclone's WARNING sits between NOTICE and ERROR, OFF above everything
LEVELS = {"EMERGENCY": CRITICAL, "ALERT": CRITICAL, "CRITICAL": CRITICAL, "ERROR": ERROR,
          "WARNING": WARNING, "NOTICE": NOTICE, "INFO": INFO, "DEBUG": DEBUG,
          "OFF": CRITICAL + 10}

_LEVEL_TEXT = {DEBUG: "DEBUG ", INFO: "INFO  ", NOTICE: "NOTICE", WARNING: "NOTICE",
               ERROR: "ERROR ", CRITICAL: "CRITICAL"}
_LEVEL_JSON = {DEBUG: "debug", INFO: "info", NOTICE: "notice", WARNING: "warning",
               ERROR: "error", CRITICAL: "critical"}

_logger: logging.Logger | None = None  # the "syncengine" logger, once logging is in use
_deferred: dict[str, Any] | None = None  # defer_logging's arguments, not applied yet
_deferred_level = 0  # their level: records below it are dropped without logging
_lock = threading.Lock()
_formatters: dict[str, type] = {}


def _materialise() -> logging.Logger | None:
    """Import ``logging``, set the ``syncengine`` logger up, apply a deferred set-up.

    None when called again by the thread already doing it: a signal handler (which runs
    on the main thread between two bytecodes) logging while that thread imports logging
    drops its line rather than wait for itself or use a half-imported module."""
    global _logger, _deferred, _debug_on
    me = threading.get_ident()
    if me in _making:
        return None
    _making.add(me)  # before the lock: a signal landing from here on cannot wait for it
    try:
        with _lock:
            if _logger is None:
                import logging

                logging.addLevelName(NOTICE, "NOTICE")
                logger = logging.getLogger("syncengine")
                if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
                    logger.addHandler(logging.NullHandler())
                _logger = logger
            if _deferred is not None:
                kwargs, _deferred = _deferred, None
                setup_logging(**kwargs)
            _debug_on = _logger.isEnabledFor
            return _logger
    finally:
        _making.discard(me)


_making: set[int] = set()  # the threads in _materialise


def _logger_if_used(level: int) -> logging.Logger | None:
    """The logger a record at ``level`` goes to, or None when it cannot go anywhere."""
    if _deferred is not None:
        return _materialise() if level >= _deferred_level else None
    if _logger is not None:
        return _logger
    return _materialise() if "logging" in sys.modules else None


def enabled(level: int) -> bool:
    """True when a record at ``level`` is logged (``logging``'s ``isEnabledFor``)."""
    logger = _logger_if_used(level)
    return logger is not None and logger.isEnabledFor(level)


def effective_level() -> int:
    """The ``syncengine`` logger's effective level (WARNING, logging's default, while
    nothing has set one up)."""
    if _deferred is not None:
        return _deferred_level
    if _logger is None and "logging" not in sys.modules:
        return WARNING
    logger = _logger or _materialise()
    return WARNING if logger is None else logger.getEffectiveLevel()


def flush() -> None:
    """Flush the handlers of the ``syncengine`` logger and of the root logger (none while
    ``logging`` is not in use; a deferred set-up is not made for this)."""
    logging = sys.modules.get("logging")
    if logging is None:
        return
    ours = _logger.handlers if _logger is not None else []
    for handler in [*ours, *logging.getLogger().handlers]:
        with contextlib.suppress(Exception):  # a broken stream at exit: nothing to say
            handler.flush()


def __getattr__(name: str) -> Any:
    if name == "LOGGER":
        return _logger or _materialise()
    if name in ("RcloneFormatter", "JsonFormatter"):
        return _formatter_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def only_this_thread() -> None:
    """From now on log only what the calling thread logs: the process is ending on a signal
    (:mod:`.interrupt`), and the transfers still running on other threads fail as their
    partial files are removed under them; rclone, exiting, prints none of that."""
    global _exiting
    _exiting = threading.get_ident()


_exiting: int | None = None  # only_this_thread's thread


def _log(level: int, obj: object, msg: str, **fields: Any) -> None:
    logger = _logger_if_used(level)
    if logger is not None and logger.isEnabledFor(level) and (
            _exiting is None or _exiting == threading.get_ident()):
        logger.log(level, msg, extra={"object": "" if obj is None else str(obj), "fields": fields})


def emit(level: int, obj: object, msg: str, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at ``level`` (a number: a worker's lines, the stats)."""
    _log(level, obj, msg, **fields)


_debug_on = enabled  # the logger's own isEnabledFor once it is in use


def debug(obj: object, msg: str, *args: object, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at DEBUG (``-vv``).

    Lazy: with ``args`` the text is ``msg % args``, formatted only when DEBUG is on, so a
    per-file call costs one level test when it is off (``debug(p, "renamed to: %s", p)``).
    """
    if _debug_on(DEBUG) and (_exiting is None or _exiting == threading.get_ident()):
        _logger.log(DEBUG, msg, *args,  # type: ignore[union-attr]  # on: in use
                    extra={"object": "" if obj is None else str(obj), "fields": fields})


def debug_enabled() -> bool:
    """True when DEBUG lines are logged: guards the building of costly debug text."""
    return _debug_on(DEBUG)


def info(obj: object, msg: str, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at INFO (``-v``)."""
    _log(INFO, obj, msg, **fields)


def notice(obj: object, msg: str, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at NOTICE (shown by default)."""
    _log(NOTICE, obj, msg, **fields)


def error(obj: object, msg: str, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at ERROR (shown even with ``-q``)."""
    _log(ERROR, obj, msg, **fields)


def critical(obj: object, msg: str, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at CRITICAL (rclone's fatal error line)."""
    _log(CRITICAL, obj, msg, **fields)


def _formatter_classes() -> dict[str, type]:
    """rclone's text and JSON formatters (``logging.Formatter`` subclasses, made once)."""
    if _formatters:
        return _formatters
    import logging

    class RcloneFormatter(logging.Formatter):
        """``YYYY/MM/DD HH:MM:SS LEVEL : <object>: <message>`` exactly as rclone prints it."""

        def format(self, record: logging.LogRecord) -> str:
            stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(record.created))
            level = _LEVEL_TEXT.get(record.levelno, record.levelname)
            obj = getattr(record, "object", "")
            msg = record.getMessage()
            text = f"{stamp} {level}: {obj}: {msg}" if obj else f"{stamp} {level}: {msg}"
            if record.exc_info and enabled(DEBUG):
                text += "\n" + self.formatException(record.exc_info)
            return text

    class JsonFormatter(logging.Formatter):
        """One JSON object per line with rclone's ``--use-json-log`` keys."""

        def format(self, record: logging.LogRecord) -> str:
            obj = getattr(record, "object", "")
            msg = record.getMessage()
            lt = time.localtime(record.created)
            out: dict[str, Any] = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", lt)
                + f".{int(record.msecs * 1000):06d}" + time.strftime("%z", lt),
                "level": _LEVEL_JSON.get(record.levelno, record.levelname.lower()),
                "msg": f"{obj}: {msg}" if obj else msg,
                "source": f"{record.module}.py:{record.lineno}",
            }
            if obj:
                out["object"] = obj
            out.update(getattr(record, "fields", {}) or {})
            import json

            return json.dumps(out, ensure_ascii=False, default=str)

    for cls in (RcloneFormatter, JsonFormatter):
        cls.__module__ = __name__
    _formatters.update(RcloneFormatter=RcloneFormatter, JsonFormatter=JsonFormatter)
    return _formatters


def _level_of(verbose: int, quiet: bool, level: str | None) -> int:
    if level:
        return LEVELS[level.upper()]
    if quiet:
        return ERROR
    return {0: NOTICE, 1: INFO}.get(verbose, DEBUG)


def setup_logging(*, verbose: int = 0, quiet: bool = False, log_file: str | None = None,
                  json_log: bool = False, level: str | None = None,
                  stream: IO[str] | None = None) -> logging.Handler:
    """Install the one handler of the ``syncengine`` logger and set its level.

    Level: NOTICE by default, INFO with one ``-v``, DEBUG with two, ERROR with ``-q``;
    ``level`` (rclone's ``--log-level``) wins when given. Returns the handler.
    """
    global _deferred, _debug_on
    lvl = _level_of(verbose, quiet, level)
    _deferred = None  # this set-up replaces one not applied yet
    logger = _logger or _materialise()
    assert logger is not None  # (None only on a re-entry, which never comes here)
    _debug_on = logger.isEnabledFor
    import logging

    for h in list(logger.handlers):
        if not isinstance(h, logging.NullHandler):
            logger.removeHandler(h)
            h.close()
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_formatter_classes()["JsonFormatter" if json_log else "RcloneFormatter"]())
    logger.addHandler(handler)
    logger.setLevel(lvl)
    logger.propagate = False
    return handler


def defer_logging(*, verbose: int = 0, quiet: bool = False, log_file: str | None = None,
                  json_log: bool = False, level: str | None = None,
                  stream: IO[str] | None = None) -> None:
    """:func:`setup_logging` when the first record at its level is logged (the console
    script's set-up: a run that logs nothing does not import ``logging``).

    The stream is taken now (``sys.stderr`` by default). A log file is opened now, as rclone
    opens ``--log-file`` at start-up, and a set-up of a process whose ``logging`` is already
    in use is made now too."""
    global _deferred, _deferred_level, _debug_on
    lvl = _level_of(verbose, quiet, level)
    kwargs = {"verbose": verbose, "quiet": quiet, "log_file": log_file, "json_log": json_log,
              "level": level, "stream": stream or sys.stderr}
    if log_file or _logger is not None:
        setup_logging(**kwargs)
        return
    with _lock:
        _deferred, _deferred_level = kwargs, lvl
        _debug_on = enabled


def _reset_for_tests() -> None:
    """Forget a deferred set-up and only_this_thread (tests only: an in-process CLI run
    leaves a set-up behind)."""
    global _deferred, _debug_on, _exiting
    with _lock:
        _deferred = None
        _exiting = None
        _debug_on = enabled if _logger is None else _logger.isEnabledFor
