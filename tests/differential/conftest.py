"""The differential suites' larger random sets carry the ``slow`` marker: they are collected
only when the marker expression asks for them (``-m slow``, ``-m "slow or not slow"``) or
``PYSYNC_SLOW=1`` is set, so a plain run stays a few minutes (CI runs ``-m slow`` too)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.option.markexpr or "") or os.environ.get("PYSYNC_SLOW", "") not in (
            "", "0"):
        return
    keep, drop = [], []
    for item in items:
        in_here = str(item.path).startswith(os.path.dirname(__file__) + os.sep)
        (drop if in_here and item.get_closest_marker("slow") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
