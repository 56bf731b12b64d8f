"""The sftp backend's errors: SFTP statuses and lost connections, worded as rclone's."""

from __future__ import annotations

import errno
import socket

from ...errors import ConfigError, PysyncError, worded
from ...units import go_quote

# errnos the engine retries at low level (kept as they are); other network errnos of a dead
# connection become ECONNRESET
_TRANSIENT_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT,
                               errno.ECONNABORTED, errno.ECONNREFUSED, errno.EHOSTUNREACH,
                               errno.ENETUNREACH})
_NETWORK_ERRNOS = _TRANSIENT_ERRNOS | {errno.ENOTCONN, errno.ESHUTDOWN, errno.ENETDOWN,
                                       errno.EHOSTDOWN, errno.ENETRESET}


class HostKeyError(ConfigError):
    """The server's host key is unknown, changed or revoked (never retried; stops the run
    with the fatal exit code 7)."""

    reference = "sftp-host-key"
    exit_code = 7


#: pkg/sftp's names of the SFTP status codes (its StatusError text)
_FX_NAMES = {1: "SSH_FX_EOF", 2: "SSH_FX_NO_SUCH_FILE", 3: "SSH_FX_PERMISSION_DENIED",
             4: "SSH_FX_FAILURE", 5: "SSH_FX_BAD_MESSAGE", 6: "SSH_FX_NO_CONNECTION",
             7: "SSH_FX_CONNECTION_LOST", 8: "SSH_FX_OP_UNSUPPORTED"}


def _status_text(code: int, text: str) -> str:
    """An SFTP status error as rclone prints it: pkg/sftp turns "no such file" and
    "permission denied" into Go's os errors, anything else reads ``sftp: "<text>" (SSH_FX_...)``."""
    if code == 2:
        return "file does not exist"
    if code == 3:
        return "permission denied"
    return f"sftp: {go_quote(text)} ({_FX_NAMES.get(code, f'SSH_FX_UNKNOWN({code})')})"


def _rclone_error(what: str, err: OSError) -> OSError:
    """``err`` worded as rclone's sftp backend wraps it: ``<what>: <pkg/sftp's text>``, of
    the same class and errno (an error already worded keeps its own text after ``what``).
    Anything else (a lost connection...) is returned as it is."""
    text = getattr(err, "sftp_text", None)
    if text is None:
        if not getattr(err, "worded", False):
            return err
        text = str(err)
    if err.errno is None:
        return worded(errno.EIO, f"{what}: {text}")
    return worded(err.errno, f"{what}: {text}", like=type(err) if not getattr(
        err, "worded", False) else type(err).__mro__[1])


def _errno_error(code: int, message: str, path: str | None = None) -> OSError:
    """``OSError(code, ...)``, which Python turns into its subclass (FileNotFoundError...)."""
    return OSError(code, message, path) if path is not None else OSError(code, message)


class SftpConnectionLost(PysyncError, ConnectionResetError):
    """The SSH connection died under a request (``errno`` ECONNRESET, so the engine retries it
    on a new connection).

    rclone's pkg/sftp answers every request in flight on a dead connection with its
    ``connection lost`` error, which is no syscall error and none of the errors rclone's
    ``fserrors.ShouldRetry`` knows: when it is the last error of a run rclone exits with 1,
    not 5. So does this error.
    """

    reference = "sftp-connection-lost"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.errno = errno.ECONNRESET
        self.strerror = message


_LOST = "connection lost"


def _conn_error(exc: BaseException, what: str = _LOST) -> OSError:
    """A transient OSError for the engine (errno kept when it retries it, else ECONNRESET).

    A connection that died under a request (``what`` is the default) is SftpConnectionLost,
    unless it timed out or its errno says more than "reset".
    """
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        message = f"{what}: {exc.strerror or exc}"
        if exc.errno == errno.ECONNRESET and what == _LOST:
            return SftpConnectionLost(message)
        return _errno_error(exc.errno, message)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return _errno_error(errno.ETIMEDOUT, f"{what}: i/o timeout")
    message = f"{what}: {exc}" if str(exc) else f"{what} ({type(exc).__name__})"
    if what == _LOST:
        return SftpConnectionLost(message)
    return _errno_error(errno.ECONNRESET, message)
