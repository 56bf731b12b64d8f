"""Matching one directory's source and destination listings, as rclone's march does."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator

from . import log
from .backends.base import Entry

__all__ = ["name_key", "pair_entries", "sort_key"]

_nfc = unicodedata.normalize


def name_key(name: str, normalize: bool = True, fold: bool = False) -> str:
    """The name two listings are matched by: NFC-normalised unless ``normalize`` is False
    (``--no-unicode-normalization``), lower-cased on a case-insensitive destination."""
    if normalize and not name.isascii():
        name = _nfc("NFC", name)
    return name.lower() if fold else name


def sort_key(normalize: bool = True, fold: bool = False) -> Callable[[Entry], str]:
    """rclone's march sort key of an entry: its name key, then ``D`` for a directory or
    ``F`` for a file. Listings are sorted by it stably, so of entries with equal keys the
    first listed comes first (and is the one the march keeps)."""
    def key(e: Entry) -> str:
        return name_key(e.name, normalize, fold) + ("D" if e.is_dir else "F")

    return key


def _keys(entries: list[Entry], normalize: bool, fold: bool) -> list[str]:
    """The match key of every entry of one listing: the name key, with a ``/`` appended for
    a directory (no name holds one), so a file and a directory of one name never pair."""
    if not entries:
        return []
    first = entries[0]
    cut = len(first.path) - len(first.name)  # one listing: every entry has this parent
    keys = [e.path[cut:] + "/" if e.is_dir else e.path[cut:] for e in entries]
    if normalize or fold:
        keys = [name_key(k, normalize, fold) for k in keys] if fold else \
            [k if k.isascii() else _nfc("NFC", k) for k in keys]
    return keys


def pair_entries(src: list[Entry], dst: list[Entry], *, normalize: bool = True,
                 fold: bool = False, dst_only: bool = True
                 ) -> Iterator[tuple[Entry | None, Entry | None]]:
    """Yield ``(source, destination)`` pairs of one directory: source order first, then
    the destination-only entries. Entries pair by name key *and* type, so a file and a
    directory of the same name never pair; a second entry with the same key on one side
    is ignored with rclone's NOTICE (``Duplicate object|directory found in source -
    ignoring``): the first in the order given is kept, see ``sort_key``.

    ``dst_only`` False (rclone's NoProcessDstOnly: copy, and sync's copy pass after
    --delete-before): rclone stops reading the destination listing when the source's ends,
    so a destination duplicate is reported only when a source entry sorts after its twin.
    """
    dst_keys = _keys(dst, normalize, fold)
    dst_map = dict(zip(dst_keys, dst, strict=True))
    if len(dst_map) != len(dst):  # duplicates: the first one wins
        key = sort_key(normalize, fold)
        last_src = max(map(key, src), default=None)
        dst_map = {}
        for k, e in zip(dst_keys, dst, strict=True):
            if k in dst_map:
                if dst_only or (last_src is not None and last_src > key(dst_map[k])):
                    log.notice(e.path, "Duplicate " + ("directory" if e.is_dir else "object")
                               + " found in destination - ignoring")
                continue
            dst_map[k] = e
    src_keys = _keys(src, normalize, fold)
    check_dups = len(set(src_keys)) != len(src)
    seen: set[str] = set()
    pop = dst_map.pop
    for k, e in zip(src_keys, src, strict=True):
        if check_dups:
            if k in seen:
                log.notice(e.path, "Duplicate " + ("directory" if e.is_dir else "object")
                           + " found in source - ignoring")
                continue
            seen.add(k)
        yield e, pop(k, None)
    if dst_map:
        for k, e in zip(dst_keys, dst, strict=True):
            if dst_map.get(k) is e:
                yield None, e
