"""rclone-style logging: levels (with NOTICE), subject-first lines, text or JSON output.

The library only emits records through ``logging.getLogger("syncengine")`` (with a
NullHandler); the CLI, or an application, installs a handler with ``setup_logging``.
"""

from __future__ import annotations

import logging
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

__all__ = ["NOTICE", "LEVELS", "debug", "debug_enabled", "info", "notice", "error",
           "setup_logging", "RcloneFormatter", "JsonFormatter", "LOGGER"]

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")
#: rclone's ``--log-level`` / ``--stats-log-level`` choices (``fs.logLevelChoices``), as
#: Python levels; rclone's WARNING sits between NOTICE and ERROR, OFF above everything
LEVELS = {"EMERGENCY": logging.CRITICAL, "ALERT": logging.CRITICAL,
          "CRITICAL": logging.CRITICAL, "ERROR": logging.ERROR, "WARNING": logging.WARNING,
          "NOTICE": NOTICE, "INFO": logging.INFO, "DEBUG": logging.DEBUG,
          "OFF": logging.CRITICAL + 10}
LOGGER = logging.getLogger("syncengine")
LOGGER.addHandler(logging.NullHandler())

_LEVEL_TEXT = {logging.DEBUG: "DEBUG ", logging.INFO: "INFO  ", NOTICE: "NOTICE",
               logging.WARNING: "NOTICE", logging.ERROR: "ERROR ", logging.CRITICAL: "CRITICAL"}
_LEVEL_JSON = {logging.DEBUG: "debug", logging.INFO: "info", NOTICE: "notice",
               logging.WARNING: "warning", logging.ERROR: "error", logging.CRITICAL: "critical"}


def _log(level: int, obj: object, msg: str, **fields: Any) -> None:
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, msg, extra={"object": "" if obj is None else str(obj), "fields": fields})


_DEBUG = logging.DEBUG
_debug_on = LOGGER.isEnabledFor


def debug(obj: object, msg: str, *args: object, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at DEBUG (``-vv``).

    Lazy: with ``args`` the text is ``msg % args``, formatted only when DEBUG is on, so a
    per-file call costs one level test when it is off (``debug(p, "renamed to: %s", p)``).
    """
    if _debug_on(_DEBUG):
        LOGGER.log(_DEBUG, msg, *args,
                   extra={"object": "" if obj is None else str(obj), "fields": fields})


def debug_enabled() -> bool:
    """True when DEBUG lines are logged: guards the building of costly debug text."""
    return _debug_on(_DEBUG)


def info(obj: object, msg: str, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at INFO (``-v``)."""
    _log(logging.INFO, obj, msg, **fields)


def notice(obj: object, msg: str, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at NOTICE (shown by default)."""
    _log(NOTICE, obj, msg, **fields)


def error(obj: object, msg: str, **fields: Any) -> None:
    """Log ``<obj>: <msg>`` at ERROR (shown even with ``-q``)."""
    _log(logging.ERROR, obj, msg, **fields)


class RcloneFormatter(logging.Formatter):
    """``YYYY/MM/DD HH:MM:SS LEVEL : <object>: <message>`` exactly as rclone prints it."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(record.created))
        level = _LEVEL_TEXT.get(record.levelno, record.levelname)
        obj = getattr(record, "object", "")
        msg = record.getMessage()
        text = f"{stamp} {level}: {obj}: {msg}" if obj else f"{stamp} {level}: {msg}"
        if record.exc_info and LOGGER.isEnabledFor(logging.DEBUG):
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line with rclone's ``--use-json-log`` keys."""

    def format(self, record: logging.LogRecord) -> str:
        obj = getattr(record, "object", "")
        msg = record.getMessage()
        lt = time.localtime(record.created)
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", lt) + f".{int(record.msecs * 1000):06d}"
            + time.strftime("%z", lt),
            "level": _LEVEL_JSON.get(record.levelno, record.levelname.lower()),
            "msg": f"{obj}: {msg}" if obj else msg,
            "source": f"{record.module}.py:{record.lineno}",
        }
        if obj:
            out["object"] = obj
        out.update(getattr(record, "fields", {}) or {})
        import json

        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(*, verbose: int = 0, quiet: bool = False, log_file: str | None = None,
                  json_log: bool = False, level: str | None = None,
                  stream: IO[str] | None = None) -> logging.Handler:
    """Install the one handler of the ``syncengine`` logger and set its level.

    Level: NOTICE by default, INFO with one ``-v``, DEBUG with two, ERROR with ``-q``;
    ``level`` (rclone's ``--log-level``) wins when given. Returns the handler.
    """
    if level:
        lvl = LEVELS[level.upper()]
    elif quiet:
        lvl = logging.ERROR
    else:
        lvl = {0: NOTICE, 1: logging.INFO}.get(verbose, logging.DEBUG)
    for h in list(LOGGER.handlers):
        if not isinstance(h, logging.NullHandler):
            LOGGER.removeHandler(h)
            h.close()
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_log else RcloneFormatter())
    LOGGER.addHandler(handler)
    LOGGER.setLevel(lvl)
    LOGGER.propagate = False
    return handler
