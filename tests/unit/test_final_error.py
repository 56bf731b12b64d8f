"""Which error a run returns, and how often it is counted, as rclone's sync and command do.

rclone's sync keeps the last fatal error it processed (``s.fatalErr`` is overwritten), else
its last ordinary error, else its last no-retry one; its command then counts that error
once more unless it was counted already (``fs.CountError`` in ``cmd.Run``).
"""

from __future__ import annotations

from syncengine import engine
from syncengine.accounting import Stats
from syncengine.coordinator import FileError
from syncengine.errors import (
    EXIT_FATAL,
    EXIT_MAX_TRANSFER,
    FatalError,
    MaxTransferError,
    PysyncError,
)

LIMIT = "max transfer limit reached as set by --max-transfer"


def test_the_last_fatal_error_decides() -> None:
    """A --max-transfer cut-off cancels the run first; the deleters' "failed to delete 1
    files" (fatal: --max-delete refused one) comes last and decides: exit 7."""
    cut = MaxTransferError(LIMIT)
    deleting = FatalError("failed to delete 1 files")
    errors = [FileError("a", cut), FileError("b", PysyncError("plain")),
              FileError("", deleting)]
    assert engine._pick_error(errors) is deleting
    assert engine.exit_code_for(engine._pick_error(errors)) == EXIT_FATAL
    assert engine._pick_error(errors[:2]) is cut
    assert engine.exit_code_for(cut) == EXIT_MAX_TRANSFER


def test_a_refused_transfer_is_counted_again_when_returned() -> None:
    """A transfer refused by a spent budget is counted when it ends; returned as the run's
    error it is counted once more (rclone: 2 errors for one refused file), and only once."""
    stats = Stats()
    refused = MaxTransferError(LIMIT)
    refused.counted_again = True
    stats.error(refused)
    errors = [FileError("a", refused)]
    engine._count_returned_again(errors, stats)
    assert stats.errors() == 2 and len(errors) == 2
    assert str(errors[-1].error) == LIMIT and errors[-1].error.fatal
    assert engine._pick_error(errors) is errors[-1].error
    engine._count_returned_again(errors, stats)  # the copy is not marked: counted once
    assert stats.errors() == 2 and len(errors) == 2


def test_other_returned_errors_are_not_counted_again() -> None:
    """An error counted where it was logged (rclone wraps it as counted) is not."""
    stats = Stats()
    deleting = FatalError("failed to delete 1 files")
    stats.error(deleting)
    refused = MaxTransferError(LIMIT)
    refused.counted_again = True
    stats.error(refused)
    errors = [FileError("a", refused), FileError("", deleting)]
    engine._count_returned_again(errors, stats)
    assert stats.errors() == 2 and len(errors) == 2
