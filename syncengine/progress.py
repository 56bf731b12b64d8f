"""Stats output for the CLI: periodic stats lines, ``-P`` progress (tqdm on a terminal),
and the final stats block or JSON object. The engine never prints; only this module does."""

from __future__ import annotations

import sys
import threading

from . import log
from .accounting import Stats, format_stats_block, format_stats_one_line, stats_json
from .options import SyncOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["StatsReporter"]

_LEVELS = log.LEVELS


class StatsReporter:
    """Shows a run's stats while it runs and once at the end.

    ``-P``/``--progress`` draws a tqdm bar when stderr is a terminal, else prints the
    one-line stats every 500 ms; otherwise the stats block is logged every ``--stats``
    interval at ``--stats-log-level``.
    """

    def __init__(self, stats: Stats, opts: SyncOptions, *, json_log: bool = False) -> None:
        self.stats = stats
        self.opts = opts
        self.json_log = json_log
        self.level = _LEVELS.get(opts.stats_log_level.upper(), log.INFO)
        if (opts.dry_run or opts.interactive) and self.level < log.NOTICE:
            self.level = log.NOTICE  # rclone: --dry-run and -i show the stats at NOTICE
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None

    def start(self) -> None:
        """Start the background reporter (if any output is due)."""
        if self.opts.progress:
            interval = 0.5
            if sys.stderr.isatty():
                import shutil

                from tqdm import tqdm

                size = shutil.get_terminal_size((100, 24))  # 0-sized ptys too
                self._bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024,
                                 file=sys.stderr, leave=True, ncols=size.columns,
                                 nrows=max(size.lines, 2), desc="Transferred")
        elif self.opts.stats > 0:
            interval = self.opts.stats / 1e9
        else:
            return
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True,
                                        name="stats")
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._show()

    def _show(self) -> None:
        snap = self.stats.snapshot()
        if self._bar is not None:
            total = max(int(getattr(snap, "total_bytes", 0) or 0), int(snap.bytes))
            if self._bar.total != total:
                self._bar.total = total
            self._bar.n = int(snap.bytes)
            self._bar.set_postfix_str(
                f"{snap.transfers}/{getattr(snap, 'total_transfers', snap.transfers)} files, "
                f"{snap.errors} errors", refresh=False)
            self._bar.refresh()
        elif self.opts.progress:
            print(format_stats_one_line(snap), file=sys.stderr, flush=True)
        else:
            self._log(snap)

    def _log(self, snap: Any) -> None:
        if not log.enabled(self.level):
            return
        if self.json_log:
            log.emit(self.level, None, format_stats_one_line(snap), stats=stats_json(snap))
        elif self.opts.stats_one_line:
            log.emit(self.level, None, format_stats_one_line(snap))
        else:
            log.emit(self.level, None, format_stats_block(snap))

    def stop(self) -> None:
        """Stop the background reporter."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._show()
            self._bar.close()
            self._bar = None

    def final(self, *, failed: bool = False) -> None:
        """Log the final stats (the block rclone prints at the end of a run)."""
        snap = self.stats.snapshot()
        if self.opts.progress:  # -P always ends with the stats block, as rclone does
            print(format_stats_block(snap), file=sys.stderr, flush=True)
            if self.level < log.effective_level():
                return
        if self.opts.stats <= 0 and not failed:  # rclone: --stats 0 keeps it only on failure
            return
        self._log(snap)
