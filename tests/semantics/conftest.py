"""Helpers for scenario tests: write trees, read them back, run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

OLD = 1_600_000_000 * 10**9  # 2020-09-13, far in the past


def write_tree(root: Path, files: dict[str, bytes | str], mtime_ns: int = OLD) -> None:
    """Create ``files`` (relative path → content; a path ending in / is an empty dir)."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        p = root / rel
        if rel.endswith("/"):
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        os.utime(p, ns=(mtime_ns, mtime_ns))


def read_tree(root: Path) -> dict[str, bytes]:
    """Relative path → content of every file (dirs as 'dir/' → b'')."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for d in dirnames:
            out[os.path.normpath(os.path.join(rel, d)) + "/"] = b""
        for f in filenames:
            out[os.path.normpath(os.path.join(rel, f))] = Path(dirpath, f).read_bytes()
    return out


def files_only(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in tree.items() if not k.endswith("/")}


def pysync(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncengine", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return tmp_path / "src"


@pytest.fixture
def dst(tmp_path: Path) -> Path:
    return tmp_path / "dst"
