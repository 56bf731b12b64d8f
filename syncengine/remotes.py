"""Turn a location (plain path, ``name:path`` remote or fsspec URL) into (Backend, root)."""

from __future__ import annotations

import os

from .backends.base import Backend
from .backends.local import LocalBackend

__all__ = ["open_backend", "split_remote"]


def split_remote(spec: str) -> tuple[str | None, str]:
    """Split ``name:path`` into (name, path); a plain or absolute path gives (None, spec).

    As in rclone, a name is letters, digits, ``_ - . + @`` and space, not starting with
    ``-`` or space; a one-letter name on Windows would be a drive (not special here).
    """
    if spec.startswith(("/", "./", "../")) or "://" in spec:
        return None, spec
    name, sep, rest = spec.partition(":")
    if not sep or not name or "/" in name or name[0] in "- ":
        return None, spec
    return name, rest


def open_backend(spec: str, *, copy_links: bool = False, links: bool = False) -> Backend:
    """The backend rooted at ``spec``. Local paths only in this version of the module."""
    return LocalBackend(os.path.expanduser(spec), copy_links=copy_links, links=links)
