"""Matching one directory's source and destination listings, as rclone's march does."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence

from . import log
from .backends.base import Entry

__all__ = ["name_key", "pair_entries", "sort_key", "SortKey", "Listing"]

_nfc = unicodedata.normalize


def name_key(name: str, normalize: bool = True, fold: bool = False) -> str:
    """The name two listings are matched by: NFC-normalised unless ``normalize`` is False
    (``--no-unicode-normalization``), lower-cased on a case-insensitive destination."""
    if normalize and not name.isascii():
        name = _nfc("NFC", name)
    if not fold:
        return name
    return name.lower() if name.isascii() else go_lower(name)


def go_lower(s: str) -> str:
    """Go's ``strings.ToLower``: one rune to one rune (``unicode.ToLower``), where Python's
    ``lower`` maps some to two (``İ`` -> ``i̇``; Go: ``i``) (s78010-c3)."""
    out = []
    for c in s:
        low = c.lower()
        out.append(low if len(low) == 1 else "i" if c == "\u0130" else c)
    return "".join(out)


def _go_simple(c: str, mapped: str) -> str:
    """One rune's simple case mapping as Go has it: Python's, unless that makes two runes
    (Go keeps the rune); the Turkish dotted/dotless i stay alone in Go's fold orbits."""
    return c if len(mapped) != 1 or c in "\u0130\u0131" else mapped


def go_equal_fold(a: str, b: str) -> bool:
    """Go's ``strings.EqualFold``: the same runes under simple case folding (``ſ`` and
    ``s``, ``K`` (Kelvin) and ``k`` are equal; ``ß`` and ``ss``, ``ı`` and ``I`` are not),
    rclone's test for a move between names that differ only in case."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x != y and _go_simple(x, x.lower()) != _go_simple(y, y.lower()) and \
                _go_simple(x, x.upper()) != _go_simple(y, y.upper()):
            return False
    return True


class SortKey:
    """rclone's march sort key of an entry: its name key, then ``D`` for a directory or
    ``F`` for a file. Listings are sorted by it stably, so of entries with equal keys the
    first listed comes first (and is the one the march keeps). Two entries pair in the
    march when their keys are equal: same name key and same type.

    Called with one entry, or ``keys(entries)`` for a whole listing of one directory at
    once (the same keys, built in a few passes instead of a call per entry).

    ``xform`` (a source listing under ``--name-transform``): the name is first given the
    destination's name, ``xform(name, is_dir)``, as rclone's march does."""

    __slots__ = ("normalize", "fold", "xform")

    def __init__(self, normalize: bool = True, fold: bool = False,
                 xform: Callable[[str, bool], str] | None = None) -> None:
        self.normalize = normalize
        self.fold = fold
        self.xform = xform

    def __call__(self, e: Entry) -> str:
        name = e.name if self.xform is None else self.xform(e.name, e.is_dir)
        return name_key(name, self.normalize, self.fold) + ("D" if e.is_dir else "F")

    def same_as(self, other: SortKey) -> bool:
        """Both build the same keys."""
        return (self.normalize, self.fold, self.xform) == (other.normalize, other.fold,
                                                           other.xform)

    def keys(self, entries: Sequence[Entry]) -> list[str]:
        """The keys of ``entries``, the children of one directory (one parent path)."""
        if not entries:
            return []
        first = entries[0]
        cut = len(first.path) - len(first.name)
        names = [e[0][cut:] for e in entries]
        if self.xform is not None:
            xform = self.xform
            names = [xform(n, e[3]) for n, e in zip(names, entries, strict=True)]
        if self.normalize:
            names = [n if n.isascii() else _nfc("NFC", n) for n in names]
        if self.fold:
            names = [n.lower() if n.isascii() else go_lower(n) for n in names]
        return [n + ("D" if e[3] else "F") for n, e in zip(names, entries, strict=True)]

    def sorted(self, entries: list[Entry]) -> Listing:
        """``entries`` (of one directory) sorted stably by key, with their keys."""
        keys = self.keys(entries)
        order = sorted(range(len(keys)), key=keys.__getitem__)
        out = Listing([entries[i] for i in order])
        out.keys = [keys[i] for i in order]
        out.key_of = self
        return out


class Listing(list):  # type: ignore[type-arg]
    """A sorted listing of one directory that carries the march keys of its entries
    (``keys[i]`` is the key of ``self[i]``, by ``key_of``), so the march need not build
    them again. Any other list is keyed when paired."""

    __slots__ = ("keys", "key_of", "errors")
    keys: list[str]
    key_of: SortKey
    errors: list[tuple[str, OSError]]  # listing errors of single entries, if any


def sort_key(normalize: bool = True, fold: bool = False,
             xform: Callable[[str, bool], str] | None = None) -> SortKey:
    """The march sort key for these name rules (see ``SortKey``)."""
    return SortKey(normalize, fold, xform)


def _keys(entries: list[Entry], key: SortKey) -> list[str]:
    """The match key of every entry of one listing (the sort key: a file and a directory of
    one name never pair); taken from a ``Listing`` sorted by the same rules."""
    if type(entries) is Listing and entries.key_of.same_as(key):
        return entries.keys
    return key.keys(entries)


def pair_entries(src: list[Entry], dst: list[Entry], *, normalize: bool = True,
                 fold: bool = False, dst_only: bool = True,
                 xform: Callable[[str, bool], str] | None = None
                 ) -> Iterator[tuple[Entry | None, Entry | None]]:
    """Yield ``(source, destination)`` pairs of one directory: source order first, then
    the destination-only entries. Entries pair by name key *and* type, so a file and a
    directory of the same name never pair; a second entry with the same key on one side
    is ignored with rclone's NOTICE (``Duplicate object|directory found in source -
    ignoring``): the first in the order given is kept, see ``sort_key``.

    ``dst_only`` False (rclone's NoProcessDstOnly: copy, and sync's copy pass after
    --delete-before): rclone stops reading the destination listing when the source's ends,
    so a destination duplicate is reported only when a source entry sorts after its twin.

    ``xform``: the source names are transformed first (``--name-transform``).
    """
    key = SortKey(normalize, fold)
    dst_keys = _keys(dst, key)
    dst_map = dict(zip(dst_keys, dst, strict=True))
    src_keys = _keys(src, key if xform is None else SortKey(normalize, fold, xform))
    if len(dst_map) != len(dst):  # duplicates: the first one wins
        last_src = max(src_keys, default=None)
        dst_map = {}
        for k, e in zip(dst_keys, dst, strict=True):
            if k in dst_map:
                if dst_only or (last_src is not None and last_src > k):
                    log.notice(e.path, "Duplicate " + ("directory" if e.is_dir else "object")
                               + " found in destination - ignoring")
                continue
            dst_map[k] = e
    if len(set(src_keys)) != len(src):
        seen: set[str] = set()
        for k, e in zip(src_keys, src, strict=True):
            if k in seen:
                log.notice(e.path, "Duplicate " + ("directory" if e.is_dir else "object")
                           + " found in source - ignoring")
                continue
            seen.add(k)
            yield e, dst_map.pop(k, None)
    else:
        pop = dst_map.pop
        for k, e in zip(src_keys, src, strict=True):
            yield e, pop(k, None)
    if dst_map:
        for k, e in zip(dst_keys, dst, strict=True):
            if dst_map.get(k) is e:
                yield None, e
