"""A test helper shared by the test folders: capture what the ``syncengine`` logger emits."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

from syncengine import log


@contextlib.contextmanager
def captured_log(level: int = logging.DEBUG) -> Iterator[io.StringIO]:
    """Everything the syncengine logger emits at ``level`` and up inside the block, as
    rclone formats it."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(log.RcloneFormatter())
    old = log.LOGGER.level
    log.LOGGER.addHandler(handler)
    log.LOGGER.setLevel(level)
    try:
        yield buf
    finally:
        log.LOGGER.removeHandler(handler)
        log.LOGGER.setLevel(old)
