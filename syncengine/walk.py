"""Filtered, sorted, directory-by-directory listing of one backend (rclone's walk + DirSorted)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping

from . import log
from .backends.base import Backend, Entry
from .filter import Filter
from .march import Listing, SortKey
from .names import UnsafeNameError, refusal, unsafe_name_reason

__all__ = ["list_dir_filtered", "walk"]


def list_dir_filtered(backend: Backend, filt: Filter, path: str, *,
                      include_all: bool = False, want_stat: bool = True,
                      on_unsafe: Callable[[str, UnsafeNameError], None] | None = None,
                      strict_names: bool = True,
                      sort_key: Callable[[Entry], str] | None = None,
                      backslash_ok: bool = False,
                      on_listed: Callable[[int], None] | None = None,
                      on_entry_error: Callable[[str, BaseException], None] | None = None
                      ) -> list[Entry]:
    """The children of ``path`` that pass ``filt``, sorted by name (rclone's DirSorted).

    ``sort_key`` (the march's match key) sorts by that key instead, stably: entries whose
    keys are equal (NFC/NFD twins, case twins on a case-insensitive destination) keep the
    backend's listing order, so the march keeps the first one listed, as rclone's does.

    A directory whose listing holds an ``--exclude-if-present`` marker is empty; a child
    directory is dropped when it holds a marker or the directory rules exclude it; files are
    judged by ``Filter.include_file``. ``include_all`` (``--delete-excluded`` on the
    destination) skips every filter. Raises what ``backend.list_dir`` raises.

    Entries of a non-local backend whose name is unsafe (``..``, ``/``, ``\\``, control
    characters: :mod:`.names`) are dropped with an ERROR and passed to ``on_unsafe`` as
    ``(path, error)`` so that the caller counts them; local names are never checked.
    ``strict_names`` False: a destination's listing; ``backslash_ok``: a source copied to a
    destination where ``\\`` is an ordinary character; see ``names.unsafe_name_reason``.

    ``on_listed(n)`` is told how many entries rclone's listing statistics count for this
    directory ("Listed" in the stats), before anything below can fail: everything a
    remote listed; of a local listing under active filters (rclone's local backend is
    filter aware), the directories and the files the path rules include, as the local
    backend hands them on before the age, size and metadata filters and the directory
    rules and markers act.

    A listing error of one entry (a local link to nothing followed with -L: the backend's
    list's ``errors``) is logged as rclone's ``Listing error: ...`` and passed to
    ``on_entry_error`` to be counted, unless the filters exclude its path (rclone's local
    listing skips those quietly); the other entries are listed.
    """
    if want_stat or filt.uses_age or filt.opts.min_size >= 0 or filt.opts.max_size >= 0:
        listed = backend.list_dir(path)
    else:  # names and types are enough (e.g. lsf --format p)
        listed = backend.list_dir(path, want_stat=False)  # type: ignore[call-arg]
    # a listing read ahead may come sorted already (a march Listing): kept as it is
    raw = listed if type(listed) is Listing else list(listed)
    entry_errors = getattr(listed, "errors", None)
    if entry_errors:
        _entry_errors(entry_errors, filt, include_all, on_entry_error)
    local = backend.features.name == "local"
    if not local:
        if on_listed is not None:
            on_listed(len(raw))
        raw = _drop_unsafe(raw, path, on_unsafe, strict_names, backslash_ok)
    if include_all or not filt.active:
        if local and on_listed is not None:
            on_listed(len(raw))
        return _sorted(raw, sort_key)
    include_file = filt.include_file
    include_remote = filt.include_remote
    read_meta = getattr(backend, "metadata", None) if filt.uses_metadata else None
    # the files first; the directories are judged after the listing is counted, as
    # rclone's filter-aware local listing drops the files the path rules exclude (and
    # only those: the age, size and metadata filters act after the count)
    markers = filt.exclude_files
    kept: list[bool] = []
    path_included: list[str] = []  # names of the files the path rules include
    listed = 0
    for e in raw:
        if e.is_dir:
            listed += 1
            kept.append(True)
            continue
        path_ok = include_remote(e.path)
        listed += path_ok
        if path_ok and markers:
            path_included.append(e.name)
        ok = include_file(e.path, e.size, e.mtime_ns,
                          _metadata(read_meta, e.path) if read_meta else None,
                          path_ok=path_ok)
        if not ok:
            log.debug(e.path, "Excluded")
        kept.append(ok)
    if local and on_listed is not None:
        on_listed(listed)
    # rclone's local listing is filter aware: files the path rules exclude are dropped
    # before the marker check, so an excluded marker file does not hide its directory
    if markers and filt.has_marker(path_included):
        log.debug(path, "Excluded")
        return []
    out: list[Entry] = []
    append = out.append
    include_dir = filt.include_dir
    for e, ok in zip(raw, kept, strict=True):
        if not ok:
            continue
        if e.is_dir:
            if markers and _dir_has_marker(backend, e.path, markers):
                log.debug(e.path, "Excluded")
                continue
            if not include_dir(e.path):
                log.debug(e.path, "Excluded")
                continue
        append(e)
    return _sorted(out, sort_key)


def _entry_errors(errors: list[tuple[str, BaseException]], filt: Filter, include_all: bool,
                  on_entry_error: Callable[[str, BaseException], None] | None) -> None:
    for where, err in errors:
        if filt.active and not include_all and not filt.include_remote(where):
            continue  # rclone: "Quietly skip errors on excluded files and directories"
        log.error(where, f"Listing error: {err}")
        if on_entry_error is not None:
            on_entry_error(where, err)


def _sorted(entries: list[Entry], sort_key: Callable[[Entry], str] | None) -> list[Entry]:
    """``entries`` sorted stably by ``sort_key`` (by path when None); a march ``SortKey``
    builds the keys of the whole listing at once and hands them on with it."""
    if type(entries) is Listing and isinstance(sort_key, SortKey) and \
            entries.key_of.same_as(sort_key):
        return entries
    bulk = getattr(sort_key, "sorted", None)
    if bulk is not None:
        return bulk(entries)  # type: ignore[no-any-return]
    entries.sort(key=sort_key)  # None: by path (entries are tuples led by their path)
    return entries


def _drop_unsafe(raw: list[Entry], path: str,
                 on_unsafe: Callable[[str, UnsafeNameError], None] | None,
                 strict: bool = True, backslash_ok: bool = False) -> list[Entry]:
    """``raw`` without the entries whose name (the part after ``path/``) is unsafe."""
    prefix = f"{path}/" if path else ""
    cut = len(prefix)
    bad = [e for e in raw if unsafe_name_reason(e.path[cut:], strict=strict,
                                                backslash_ok=backslash_ok) is not None
           or not e.path.startswith(prefix)]
    if not bad:
        return raw
    for e in bad:
        name = e.path[cut:] if e.path.startswith(prefix) else e.path
        reason = unsafe_name_reason(name, strict=strict, backslash_ok=backslash_ok) \
            if e.path.startswith(prefix) else None
        err = refusal(path, name, reason or "is not inside the listed directory")
        log.error(None, str(err))
        if on_unsafe is not None:
            on_unsafe(path, err)
    dropped = set(map(id, bad))
    return [e for e in raw if id(e) not in dropped]


def _metadata(read_meta: Callable[[str], Mapping[str, str] | None],
              path: str) -> Mapping[str, str] | None:
    """The metadata of a file for the metadata filter; an error is logged (as rclone's
    "Failed to read metadata") and the file is judged as having none."""
    try:
        return read_meta(path)
    except OSError as err:
        log.error(path, f"Failed to read metadata: {err}")
        return None


def _dir_has_marker(backend: Backend, path: str, markers: frozenset[str]) -> bool:
    for name in sorted(markers):
        sub = f"{path}/{name}"
        e = backend.stat(sub)
        if e is None:
            continue
        if e.is_dir:  # rclone's FileExists fails on a directory of that name, in its
            # words (fs.ErrorIsDir): the listing of ``path``'s parent fails with it
            raise IsADirectoryError("is a directory not a file")
        return True
    return False


def walk(backend: Backend, filt: Filter, *, max_depth: int = -1, include_all: bool = False,
         on_error: Callable[[str, BaseException], None] | None = None,
         want_stat: bool = True,
         on_unsafe: Callable[[str, UnsafeNameError], None] | None = None,
         ) -> Iterator[tuple[str, list[Entry]]]:
    """Yield ``(directory, filtered sorted entries)`` breadth first, from the root.

    ``max_depth`` 1 lists only the root; -1 is unlimited. A failure to list the root is
    raised; a failure below the root is passed to ``on_error`` (or raised when None), and
    the walk goes on with the other directories. ``on_unsafe``: see ``list_dir_filtered``;
    it is told of single entries' listing errors too (logged already).
    """
    queue: deque[tuple[str, int]] = deque([("", 1)])
    while queue:
        path, depth = queue.popleft()
        try:
            entries = list_dir_filtered(backend, filt, path, include_all=include_all,
                                        want_stat=want_stat, on_unsafe=on_unsafe,
                                        on_entry_error=on_unsafe)  # type: ignore[arg-type]
        except OSError as err:
            if not path or on_error is None:
                raise
            on_error(path, err)
            continue
        yield path, entries
        if max_depth <= 0 or depth < max_depth:  # 0 and -1: no limit
            queue.extend((e.path, depth + 1) for e in entries if e.is_dir)
