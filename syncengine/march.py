"""Matching one directory's source and destination listings, as rclone's march does."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from . import log
from .backends.base import Entry

__all__ = ["name_key", "pair_entries"]


def name_key(name: str, normalize: bool = True, fold: bool = False) -> str:
    """The name two listings are matched by: NFC-normalised unless ``normalize`` is False
    (``--no-unicode-normalization``), lower-cased on a case-insensitive destination."""
    if normalize:
        name = unicodedata.normalize("NFC", name)
    return name.lower() if fold else name


def pair_entries(src: list[Entry], dst: list[Entry], *, normalize: bool = True,
                 fold: bool = False) -> Iterator[tuple[Entry | None, Entry | None]]:
    """Yield ``(source, destination)`` pairs of one directory: source order first, then
    the destination-only entries. Entries pair by name key *and* type, so a file and a
    directory of the same name never pair; a second entry with the same key on one side
    is ignored with rclone's NOTICE."""
    dst_map: dict[tuple[str, bool], Entry] = {}
    for e in dst:
        k = (name_key(e.name, normalize, fold), e.is_dir)
        if k in dst_map:
            log.notice(e.path, "Duplicate " + ("directory" if e.is_dir else "file")
                       + " found in destination - ignoring")
            continue
        dst_map[k] = e
    seen: set[tuple[str, bool]] = set()
    for e in src:
        k = (name_key(e.name, normalize, fold), e.is_dir)
        if k in seen:
            log.notice(e.path, "Duplicate " + ("directory" if e.is_dir else "file")
                       + " found in source - ignoring")
            continue
        seen.add(k)
        yield e, dst_map.pop(k, None)
    for e in dst:
        k = (name_key(e.name, normalize, fold), e.is_dir)
        if dst_map.get(k) is e:
            yield None, e
