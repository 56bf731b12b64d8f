"""One local folder's listing as plain records, in this process or in a helper process.

:func:`scan` is the local backend's listing (``LocalBackend.list_dir``) without its log
lines: the entries come back as ``(name, size, mtime_ns, is_dir)`` records and what the
backend says about the others (a symlink skipped, a special file, a broken link followed)
as notes, so that a helper process can list ahead of the march and the march logs the notes
when it takes the listing, as it logs them when it lists in line.

Run as a script (``python -I -S _scan.py ROOT COPY_LINKS LINKS MAX_DEPTH KEYED
NORMALIZE``, the flags 0 or 1), this module is that helper (:mod:`.scanahead`). It reads
the folders to walk from standard input, each as ``DEPTH<TAB>PATH`` (relative to ROOT) and
a NUL, then an empty one; walks each in turn, depth first, subfolders in name order (the
march's order), not below MAX_DEPTH (0: no limit) and not below a folder whose listing
failed; and writes one frame per folder on standard output (:func:`walk`): a 4-byte
little-endian length and its ``marshal``. The first frame is its filesystem encoding, the
last ``None``. It imports only built-in modules (and ``unicodedata`` for a non-ASCII name
to normalise), so it starts in a bare interpreter; it ends at the end of its input.
"""

import errno
import marshal
import os
import stat as _stat
import sys

LINK_SUFFIX = ".rclonelink"
_S_IFMT, _S_IFREG, _S_IFDIR = _stat.S_IFMT(0o177777), _stat.S_IFREG, _stat.S_IFDIR
#: how a folder is opened to be listed through its descriptor
DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)

#: a note's kinds: logged at NOTICE level when the listing is taken, or a listing error
#: (-L: a link to nothing, or a loop), logged and counted by the listing's taker: its
#: message is the reason, lower-case as Go words it
NOTICE, LINK_ERROR = 0, 2
SKIP_LINK = "Can't follow symlink without -L/--copy-links"
SKIP_SPECIAL = "Can't transfer non file/directory"

#: a record: (name, size (-1 for a folder), mtime in ns, is a folder)
Record = tuple
#: a note: (kind, name, message)
Note = tuple


def scan(where, copy_links=False, links=False):
    """The records and notes of the folder ``where`` (a descriptor or a path), and the
    OSError that ended its listing (None if none): what ``LocalBackend.list_dir`` lists,
    in the kernel's order. An entry that vanishes between readdir and stat is skipped."""
    out = []
    notes = []
    append = out.append
    try:
        with os.scandir(where) as it:
            for de in it:
                name = de.name
                try:
                    if de.is_symlink():
                        record, note = link(de, where, copy_links, links)
                        if record is not None:
                            append(record)
                        else:
                            notes.append(note)
                        continue
                    st = de.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # vanished between readdir and stat: skipped silently
                kind = st.st_mode & _S_IFMT
                if kind == _S_IFREG:
                    append((name, st.st_size, st.st_mtime_ns, False))
                elif kind == _S_IFDIR:
                    append((name, -1, st.st_mtime_ns, True))
                else:
                    notes.append((NOTICE, name, SKIP_SPECIAL))
    except OSError as err:
        return out, notes, err
    return out, notes, None


def link(de, where, copy_links, links):
    """What a listing makes of the symlink ``de`` (in the folder ``where``, a descriptor or
    a path), as rclone's local backend: ``(record, None)`` or ``(None, note)``. With
    ``copy_links`` (-L) its target's (a link to nothing or a loop is a LINK_ERROR note, as
    rclone's "symlink: stat ...: no such file or directory" listing error); with ``links``
    (-l) a ``.rclonelink`` file as long as the target's name; else skipped with a NOTICE.
    Raises FileNotFoundError if it vanished, and any other error of its stat."""
    name = de.name
    if copy_links:
        try:
            st = de.stat(follow_symlinks=True)
        except OSError as err:
            if err.errno not in (errno.ENOENT, errno.ELOOP):
                raise
            reason = os.strerror(err.errno)
            return None, (LINK_ERROR, name, reason[:1].lower() + reason[1:])
        if _stat.S_ISDIR(st.st_mode):
            return (name, -1, st.st_mtime_ns, True), None
        return (name, st.st_size, st.st_mtime_ns, False), None
    if links:
        st = de.stat(follow_symlinks=False)
        target = os.readlink(name, dir_fd=where) if isinstance(where, int) else \
            os.readlink(de.path)
        return (name + LINK_SUFFIX, len(os.fsencode(target)), st.st_mtime_ns, False), None
    return None, (NOTICE, name, SKIP_LINK)


def scan_path(full, copy_links=False, links=False):
    """:func:`scan` of the folder at the absolute path ``full``, through a descriptor (each
    entry's stat is then an fstatat of its name, not an lstat that walks the whole path
    again). Raises what opening the folder raises (``FileNotFoundError``,
    ``NotADirectoryError``, ``PermissionError`` ...)."""
    dfd = os.open(full, DIR_FLAGS)
    try:
        return scan(dfd, copy_links, links)
    finally:
        os.close(dfd)


#: folders are listed through a descriptor where the platform can (POSIX); the helper
#: needs it
SUPPORTED = os.scandir in os.supports_fd and os.readlink in os.supports_dir_fd


def listing(full, copy_links, links):
    """:func:`scan_path` with its opening's error too, as a frame carries them: ``records,
    notes, error``, the error ``(opened, errno, strerror, filename)`` or None."""
    try:
        records, notes, err = scan_path(full, copy_links, links)
    except OSError as exc:
        return [], [], (False, exc.errno, exc.strerror, exc.filename)
    return records, notes, None if err is None else (True, err.errno, err.strerror,
                                                     err.filename)


def march_keys(records, normalize):
    """The march's keys of ``records`` (``march.SortKey`` without case folding or a name
    transform): the name, NFC-normalised unless ``normalize`` is False, and D or F."""
    if normalize and not all(r[0].isascii() for r in records):
        from unicodedata import normalize as nfc

        return [(n if n.isascii() else nfc("NFC", n)) + ("D" if d else "F")
                for n, _s, _m, d in records]
    return [n + ("D" if d else "F") for n, _s, _m, d in records]


def walk(root, start, depth, copy_links, links, max_depth, keyed, normalize):
    """The frames of the folder ``start`` (relative to ``root``, at march depth ``depth``)
    and of every folder below it, depth first, subfolders in name order: ``(path,
    records, notes, error, keys)``, the records' names made paths (relative to ``root``).
    ``keyed``: the records come sorted stably by their march keys (:func:`march_keys`),
    which come too (else None)."""
    stack = [(start, depth)]
    while stack:
        rel, depth = stack.pop()
        records, notes, error = listing(os.path.join(root, rel) if rel else root,
                                        copy_links, links)
        keys = None
        if keyed and error is None:
            keys = march_keys(records, normalize)
            order = sorted(range(len(keys)), key=keys.__getitem__)
            records = [records[i] for i in order]
            keys = [keys[i] for i in order]
        # the subfolders in the march's order: by key (else by name)
        subs = [r[0] for r in records if r[3]] if error is None and (
            max_depth <= 0 or depth < max_depth) else []
        if keys is None:
            subs.sort()
        prefix = rel + "/" if rel else ""
        if prefix:
            records = [(prefix + n, s, m, d) for n, s, m, d in records]
        yield rel, records, notes, error, keys
        stack.extend((prefix + name, depth + 1) for name in reversed(subs))


def serve(root, copy_links, links, max_depth, keyed, normalize):
    """The helper's loop: read the folders to walk from fd 0, walk them onto fd 1."""
    _send(1, marshal.dumps((sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())))
    pending = b""
    starts = []
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            return
        pending += chunk
        *items, pending = pending.split(b"\0")
        if b"" in items:
            starts += items[:items.index(b"")]
            break
        starts += items
    for item in starts:
        depth, _, rel = item.partition(b"\t")
        for frame in walk(root, os.fsdecode(rel), int(depth), copy_links, links, max_depth,
                          keyed, normalize):
            _send(1, marshal.dumps(frame))
    _send(1, marshal.dumps(None))
    while os.read(0, 65536):  # until this process's input closes
        pass


def _send(fd, payload):
    write_all(fd, len(payload).to_bytes(4, "little") + payload)


def write_all(fd, data):
    """Write all of ``data`` to the descriptor ``fd``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


if __name__ == "__main__":
    try:
        serve(sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1", int(sys.argv[4]),
              sys.argv[5] == "1", sys.argv[6] == "1")
    except (BrokenPipeError, KeyboardInterrupt):
        pass
