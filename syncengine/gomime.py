"""Which file extensions rclone knows a MIME type for (Go's ``mime.TypeByExtension``).

``--suffix-keep-extension`` keeps a name's last extension and, before it, every further one
that has a MIME type (``a.tar.gz`` with ``--suffix .bak``: ``a.bak.tar.gz``). rclone asks
Go's ``mime`` package, whose table is, on a Unix machine:

- Go's own few types (``.css``, ``.gif``, ``.htm`` ... ``.xml``);
- the machine's shared-mime-info database: the first of
  ``/usr/local/share/mime/globs2`` and ``/usr/share/mime/globs2`` that can be opened (its
  plain ``*.ext`` globs); only when neither exists, every ``mime.types`` file of
  ``/etc/mime.types``, ``/etc/apache2/mime.types``, ``/etc/apache/mime.types`` and
  ``/etc/httpd/conf/mime.types``;
- the audio and video types rclone adds itself (``fs/mimetype.go``).

An extension is looked up as given, then lower-cased. Reading the same files as rclone
on the same machine gives the same backup names.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

__all__ = ["has_type", "load"]

#: Go's builtinTypesLower (src/mime/type.go)
GO_BUILTIN = (".avif", ".css", ".gif", ".htm", ".html", ".jpeg", ".jpg", ".js", ".json",
              ".mjs", ".pdf", ".png", ".svg", ".wasm", ".webp", ".xml")
#: the types rclone adds when Go has none (rclone's fs/mimetype.go)
RCLONE_ADDED = (".flac .mpga .mpega .mp2 .mp3 .m4a .oga .ogg .opus .spx .wav .tiff .tif .dif "
                ".dv .fli .mpeg .mpg .mpe .ts .mp4 .qt .mov .ogv .webm .avi .mpv .mkv "
                ".srt").split()
GLOBS_FILES = ("/usr/local/share/mime/globs2", "/usr/share/mime/globs2")
TYPES_FILES = ("/etc/mime.types", "/etc/apache2/mime.types", "/etc/apache/mime.types",
               "/etc/httpd/conf/mime.types")

_known: frozenset[str] | None = None
_lock = threading.Lock()


def has_type(ext: str) -> bool:
    """Whether Go (as rclone runs it here) has a MIME type for ``ext`` (``".gz"``)."""
    known = _known if _known is not None else _load_once()
    return ext.lower() in known


def _load_once() -> frozenset[str]:
    global _known
    with _lock:
        if _known is None:
            _known = load()
        return _known


def load(globs_files: Iterable[str] = GLOBS_FILES,
         types_files: Iterable[str] = TYPES_FILES) -> frozenset[str]:
    """The lower-cased extensions with a type, read from these files as Go reads them."""
    exts = {e.lower() for e in GO_BUILTIN}
    for name in globs_files:
        try:
            with open(name, encoding="utf-8", errors="surrogateescape") as fh:
                exts.update(_globs_extensions(fh))
            break  # the first database that opens is the only one read
        except OSError:
            continue
    else:
        for name in types_files:
            try:
                with open(name, encoding="utf-8", errors="surrogateescape") as fh:
                    exts.update(_types_extensions(fh))
            except OSError:
                continue
    exts.update(RCLONE_ADDED)
    return frozenset(exts)


def _globs_extensions(lines: Iterable[str]) -> Iterable[str]:
    """``weight:type:*.ext[:flags]`` lines: plain ``*.ext`` globs only (Go skips others)."""
    for line in lines:
        fields = line.rstrip("\n").split(":")
        if len(fields) < 3 or not fields[0] or len(fields[2]) < 3:
            continue
        glob = fields[2]
        if fields[0][0] == "#" or glob[0] != "*" or glob[1] != ".":
            continue
        ext = glob[1:]
        if any(c in ext for c in "?*["):
            continue
        if _valid_type(fields[1]):
            yield ext.lower()


def _types_extensions(lines: Iterable[str]) -> Iterable[str]:
    """``type ext ext ...`` lines of a mime.types file (``#`` starts a comment)."""
    for line in lines:
        fields = line.split()
        if len(fields) <= 1 or fields[0].startswith("#"):
            continue
        if not _valid_type(fields[0]):
            continue
        for ext in fields[1:]:
            if ext.startswith("#"):
                break
            yield "." + ext.lower()


_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')


def _token(text: str) -> bool:
    return bool(text) and all(0x20 < ord(c) < 0x7F and c not in _TSPECIALS for c in text)


def _valid_type(mime_type: str) -> bool:
    """Go stores an extension only when its type parses: a token, or token/token."""
    main, slash, sub = mime_type.partition(";")[0].strip().partition("/")
    return _token(main) and (not slash or _token(sub))
