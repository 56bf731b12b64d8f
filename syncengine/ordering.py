"""``--order-by``: the order transfers start in, parsed and applied as rclone's pipe does.

rclone's syntax is ``size|name|modtime[,ascending|asc|descending|desc|mixed[,N]]`` (any
case). ``mixed`` means the transfer workers whose share ``100*i/transfers`` reaches ``N``
(default 50) take from the big end and the others from the small end. The order is applied
with ``--check-first`` (every check is done before the first transfer starts); without it
transfers start as the checks decide them (rclone's order is then only approximate).
"""

from __future__ import annotations

from .backends.base import Entry
from .errors import FatalError
from .record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["OrderBy", "parse_order_by"]


@record(frozen=True)
class OrderBy:
    """A parsed ``--order-by``: sort ``key`` (``size``, ``name``, ``modtime``),
    ``descending``, and ``fraction`` (-1 unless ``mixed``)."""

    key: str
    descending: bool = False
    fraction: int = -1

    def sort_key(self) -> Callable[[Entry], Any]:
        """The key of a source entry for this order (ascending)."""
        if self.key == "size":
            return lambda e: e.size
        if self.key == "modtime":
            return lambda e: e.mtime_ns
        return lambda e: e.path  # Go compares the UTF-8 bytes: the same order for str

    def arrange(self, items: Sequence[T], entry: Callable[[T], Entry], workers: int
                ) -> list[T]:
        """``items`` in the order ``workers`` transfer workers would start them: sorted
        (stable), and for ``mixed`` interleaved so that worker ``i`` of ``workers`` takes
        from the big end when ``100*i//workers >= fraction``, else from the small end."""
        key = self.sort_key()
        ordered = sorted(items, key=lambda it: key(entry(it)), reverse=self.descending)
        if self.fraction < 0:
            return ordered
        workers = max(1, workers)
        lo, hi = 0, len(ordered) - 1
        out: list[T] = []
        i = 0
        while lo <= hi:
            if (100 * (i % workers)) // workers >= self.fraction:
                out.append(ordered[hi])
                hi -= 1
            else:
                out.append(ordered[lo])
                lo += 1
            i += 1
        return out


def parse_order_by(text: str) -> OrderBy | None:
    """``--order-by`` as rclone's newLess reads it; None for ``""``. Raises FatalError
    (exit 7, as rclone fails the sync) with rclone's message for a bad value."""
    if not text:
        return None
    parts = text.split(",")
    key = parts[0].lower()
    if key not in ("name", "size", "modtime"):
        raise FatalError(f'unknown --order-by comparison "{parts[0]}"')
    descending = False
    fraction = -1
    if len(parts) > 1:
        direction = parts[1].lower()
        if direction in ("ascending", "asc"):
            pass
        elif direction in ("descending", "desc"):
            descending = True
        elif direction == "mixed":
            fraction = 50
            if len(parts) > 2:
                try:
                    fraction = _go_atoi(parts[2])
                except ValueError:
                    raise FatalError(f'bad mixed fraction --order-by "{parts[2]}"') from None
        else:
            raise FatalError(f'unknown --order-by sort direction "{parts[1]}"')
    if (fraction >= 0 and len(parts) > 3) or (fraction < 0 and len(parts) > 2):
        raise FatalError(f'bad --order-by string "{text}"')
    return OrderBy(key, descending, fraction)


def _go_atoi(text: str) -> int:
    """Go's strconv.Atoi: optional sign, decimal digits only."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(text)
    return int(text, 10)
