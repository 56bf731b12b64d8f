"""Per-file events for pipelines: a transfer started, finished or failed, with its bytes."""

from __future__ import annotations

from .record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["TransferEvent", "EventCallback", "STARTED", "FINISHED", "FAILED"]

STARTED = "started"
FINISHED = "finished"
FAILED = "failed"


@record(frozen=True, slots=True)
class TransferEvent:
    """One file's transfer: ``kind`` is ``started``, ``finished`` or ``failed``.

    ``size`` is the source size (-1 unknown), ``bytes`` what was read for it so far (0 when
    it starts); ``error`` the message of a failure ("" otherwise), as the log gives it.
    """

    kind: str
    path: str
    size: int
    bytes: int = 0
    error: str = ""


if TYPE_CHECKING:
    #: What ``copy()``/``sync()`` call for every event (from several threads: keep it short).
    EventCallback = Callable[[TransferEvent], None]
