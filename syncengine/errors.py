"""The whole exception tree of pysync, each class knowing its exit code and retry class.

    PysyncError (Exception)                        exit 1
    ├── UsageError                                 exit 2   bad flags, values, combinations
    ├── MissingDependencyError                     exit 2   an optional extra not installed
    ├── NotSupportedError                          exit 2   an rclone flag pysync lacks yet
    ├── ConfigError                                exit 1   rules files, config files
    │   └── FilterError                            exit 1   malformed rule, bad glob, ...
    ├── DirNotFoundError (+ FileNotFoundError)     exit 3
    ├── ObjectNotFoundError (+ FileNotFoundError)  exit 4
    ├── RetryableError                             exit 5
    ├── NoRetryError                               exit 6
    │   └── SourceChangedError                     exit 6   source file is being updated
    ├── FatalError                                 exit 7
    │   └── MaxDeleteError                         exit 7
    ├── MaxTransferError                           exit 8
    ├── NoTransferError                            exit 9
    └── MaxDurationError                           exit 10

This module imports nothing from the package. The library raises; only the CLI renders
an error (``str(err)``) and turns ``err.exit_code`` into the process exit status.
"""

from __future__ import annotations

__all__ = [
    "EXIT_OK",
    "EXIT_UNCATEGORISED",
    "EXIT_USAGE",
    "EXIT_DIR_NOT_FOUND",
    "EXIT_FILE_NOT_FOUND",
    "EXIT_RETRY",
    "EXIT_NO_RETRY",
    "EXIT_FATAL",
    "EXIT_MAX_TRANSFER",
    "EXIT_NO_FILES_TRANSFERRED",
    "EXIT_MAX_DURATION",
    "EXIT_SKIPPED_CHANGING",
    "PysyncError",
    "UsageError",
    "MissingDependencyError",
    "NotSupportedError",
    "ConfigError",
    "FilterError",
    "DirNotFoundError",
    "ObjectNotFoundError",
    "RetryableError",
    "NoRetryError",
    "SourceChangedError",
    "FatalError",
    "MaxDeleteError",
    "MaxTransferError",
    "NoTransferError",
    "MaxDurationError",
    "worded",
]

EXIT_OK = 0
EXIT_UNCATEGORISED = 1
EXIT_USAGE = 2
EXIT_DIR_NOT_FOUND = 3
EXIT_FILE_NOT_FOUND = 4
EXIT_RETRY = 5
EXIT_NO_RETRY = 6
EXIT_FATAL = 7
EXIT_MAX_TRANSFER = 8
EXIT_NO_FILES_TRANSFERRED = 9
EXIT_MAX_DURATION = 10
#: pysync's own: the run succeeded except for files --skip-changing left for a later run
EXIT_SKIPPED_CHANGING = 11


class PysyncError(Exception):
    """Base of every error pysync raises on purpose.

    ``reference`` is a short kebab-case name people can search for; ``exit_code`` is the
    rclone exit code the CLI returns; ``retryable`` tells the whole-run retry loop whether
    another attempt may help; ``fatal`` stops the run at once.
    """

    exit_code: int = EXIT_UNCATEGORISED
    reference: str = "error"
    retryable: bool = True
    fatal: bool = False

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __reduce__(self):  # pickle cleanly with keyword-only arguments
        return (_rebuild, (type(self), self.message, self.path))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[PysyncError], message: str, path: str | None) -> PysyncError:
    err = cls.__new__(cls)
    PysyncError.__init__(err, message, path=path)
    return err


class UsageError(PysyncError):
    """Bad command line: unknown flag, bad value, forbidden combination (exit 2)."""

    exit_code = EXIT_USAGE
    reference = "usage"
    retryable = False
    fatal = True


class MissingDependencyError(PysyncError):
    """A flag needs an optional extra that is not installed, e.g. ``pysync[dask]`` (exit 2).

    Rendered as one line that says what to install (no usage hint: the flag was right)."""

    exit_code = EXIT_USAGE
    reference = "missing-dependency"
    retryable = False
    fatal = True


class NotSupportedError(PysyncError):
    """An rclone flag pysync does not implement yet, e.g. ``--metadata`` (exit 2).

    Rendered as one line naming the flag (no usage hint: the flag is rclone's)."""

    exit_code = EXIT_USAGE
    reference = "not-supported"
    retryable = False
    fatal = True


class ConfigError(PysyncError):
    """Options that parse but cannot be initialised, e.g. a missing rules file (exit 1)."""

    exit_code = EXIT_UNCATEGORISED
    reference = "config"
    retryable = False
    fatal = True


class FilterError(ConfigError):
    """A filter rule, glob or filter flag combination that rclone refuses (exit 1)."""

    reference = "bad-filter"


class DirNotFoundError(PysyncError, FileNotFoundError):
    """The directory given on the command line does not exist (exit 3).

    Retryable, as rclone's ErrorDirNotFound: a missing source root fails the attempt and
    the whole run is tried again (``--retries``) before it exits 3."""

    exit_code = EXIT_DIR_NOT_FOUND
    reference = "directory-not-found"


class ObjectNotFoundError(PysyncError, FileNotFoundError):
    """A file that should exist does not (exit 4)."""

    exit_code = EXIT_FILE_NOT_FOUND
    reference = "object-not-found"
    retryable = False


class RetryableError(PysyncError):
    """An error that another attempt of the whole run may cure (exit 5)."""

    exit_code = EXIT_RETRY
    reference = "retryable"


class NoRetryError(PysyncError):
    """An error that another attempt will not cure (exit 6)."""

    exit_code = EXIT_NO_RETRY
    reference = "no-retry"
    retryable = False


class SourceChangedError(NoRetryError):
    """The source file changed while it was being copied (exit 6 if it persists).

    Not retried at low level; the whole run is retried as rclone does.
    """

    reference = "source-changed"
    retryable = True


class FatalError(PysyncError):
    """An error that stops the whole run at once (exit 7)."""

    exit_code = EXIT_FATAL
    reference = "fatal"
    retryable = False
    fatal = True


class MaxDeleteError(FatalError):
    """``--max-delete`` threshold reached (exit 7)."""

    reference = "max-delete"


class MaxTransferError(PysyncError):
    """``--max-transfer`` limit reached (exit 8)."""

    exit_code = EXIT_MAX_TRANSFER
    reference = "max-transfer"
    retryable = False
    fatal = True


class NoTransferError(PysyncError):
    """Nothing was transferred and ``--error-on-no-transfer`` was given (exit 9)."""

    exit_code = EXIT_NO_FILES_TRANSFERRED
    reference = "no-transfer"
    retryable = False


class MaxDurationError(PysyncError):
    """``--max-duration`` reached (exit 10)."""

    exit_code = EXIT_MAX_DURATION
    reference = "max-duration"
    retryable = False
    fatal = True


_WORDED_CLASSES: dict[type[OSError], type[OSError]] = {}


def worded(code: int, text: str, *, like: type[OSError] | None = None) -> OSError:
    """An OSError with errno ``code`` (of the subclass Python picks for it, e.g.
    NotADirectoryError, or of ``like``) whose ``str()`` is exactly ``text``: an error a
    remote backend words as rclone's backend does (``Put mkParentDir failed: ...``), never
    ``[Errno n] ...: '<server path>'``. ``except FileNotFoundError`` and the retry classes
    still apply. ``err.worded`` is True."""
    base = like or type(OSError(code, text))
    cls = _WORDED_CLASSES.get(base)
    if cls is None:
        cls = type(base.__name__, (base,), {"__str__": lambda self: str(self.strerror),
                                            "worded": True, "__module__": __name__})
        _WORDED_CLASSES[base] = cls
    return cls(code, text)
