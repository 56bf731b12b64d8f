"""Benchmark harness: pysync against the real rclone on generated data sets.

Run ``python -m bench`` (``--quick`` for a few-minute version, ``--list`` for the rows,
``--help`` for every flag).  Modules: :mod:`bench.datasets` (deterministic data sets, generated
once and reused), :mod:`bench.rows` (the scenarios), :mod:`bench.measure` (wall time and peak
RSS of one child via ``wait4``), :mod:`bench.runner` (alternating runs, set-up and clean-up),
:mod:`bench.commands` (pysync from a bare venv, the real rclone binary), :mod:`bench.report`
(table and chart) and :mod:`bench.cli` (the command line).
"""

from __future__ import annotations

__all__: list[str] = []
