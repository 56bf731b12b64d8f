"""Shared test set-up: every test starts with the ``syncengine`` logger as imported."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_syncengine_logger() -> Iterator[None]:
    """In-process CLI runs install a handler and stop propagation (``log.setup_logging``);
    undo that before each test so ``caplog`` sees the records whatever ran before."""
    from syncengine import log

    log._reset_for_tests()  # a set-up the last CLI run deferred is not this test's
    logger = logging.getLogger("syncengine")
    for h in list(logger.handlers):
        if not isinstance(h, logging.NullHandler):
            logger.removeHandler(h)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
    yield
