"""Fixtures shared by the unit tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncengine import remotes as remotes_mod

_OUR_PREFIXES = ("RCLONE_", "PYSYNC_")


@pytest.fixture
def private_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A private HOME (returned), no XDG directories, no ssh-agent and no RCLONE_*/PYSYNC_*
    variables, so no config or option of the machine running the tests leaks in."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "SSH_AUTH_SOCK"):
        monkeypatch.delenv(var, raising=False)
    for var in list(os.environ):
        if var.startswith(_OUR_PREFIXES):
            monkeypatch.delenv(var)
    monkeypatch.setattr(remotes_mod, "_warned_secret_files", set())
    yield home
