"""Object metadata as rclone's ``-M/--metadata`` carries it: read at the source, merged
with ``--metadata-set``, passed through ``--metadata-mapper``, written at the destination.

rclone's metadata is a flat ``key -> text`` map. Which backends carry what (rclone v1.75):

- local: reads and writes ``mode`` (octal, Unix ``st_mode``), ``uid``, ``gid``, ``atime``,
  ``mtime`` (RFC 3339), reads ``btime`` and ``rdev`` (Linux cannot set them), and keeps
  every other key as a ``user.<key>`` extended attribute (keys lower-cased). Written modes
  keep the permission bits only (setuid, setgid and sticky are dropped). Files and
  directories alike.
- sftp, smb: none. rclone's backends read no metadata there and write none (only the
  modification time, as without ``-M``), so ``-M`` to or from them changes nothing.

With ``-M`` a destination that writes metadata (local) gets, for each copied file, the
source's metadata (read after the data is copied, as rclone reads it), then the
``--metadata-set`` pairs over it, then whatever ``--metadata-mapper`` makes of the whole;
directories get theirs when both sides are local (rclone's ``Updated directory metadata``).
Metadata alone never makes a file count as changed: a file whose size and time match is
left alone, whatever its mode or attributes (rclone's rule).

Everything here is plain data and functions, so that the Dask workers (which build their
own :class:`~syncengine.transfer.Transferer` from the run's options) write the same
metadata the coordinator's threads would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import log
from .errors import ConfigError, PysyncError
from .lazyre import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .backends.base import Backend, Entry
    from .options import SyncOptions

__all__ = ["Metadata", "MetadataError", "parse_metadata_set", "parse_mapper", "reads",
           "writes", "dir_metadata", "file_metadata", "merge", "run_mapper",
           "parse_time", "SYSTEM_KEYS"]

Metadata = dict[str, str]

#: the keys the local backend owns (never written as extended attributes)
SYSTEM_KEYS = frozenset(("mode", "uid", "gid", "rdev", "atime", "mtime", "btime"))


class MetadataError(PysyncError):
    """Metadata could not be read, mapped or written (counted against the file, as rclone
    counts it: the copy fails and the partial file is removed)."""

    reference = "metadata"


def parse_metadata_set(items: Sequence[str]) -> Metadata:
    """``--metadata-set key=value`` pairs as rclone keeps them: keys lower-cased, the value
    is everything after the first ``=``; a later pair wins. ConfigError (exit 1) with
    rclone's fatal message for an item without ``=``."""
    out: Metadata = {}
    for kv in items:
        key, eq, value = kv.partition("=")
        if not eq:
            raise ConfigError(f"Failed to parse '{kv}' as metadata key=value.")
        out[key.lower()] = value
    return out


def parse_mapper(text: str, flag: str = "--metadata-mapper") -> list[str]:
    """``--metadata-mapper``'s program and arguments, read as rclone's SpaceSepList (one
    CSV record with a space for the comma: a field may be quoted with ``"``, ``""`` inside
    quotes is one ``"``; every space separates, so two in a row make an empty field).
    UsageError (exit 2) with rclone's flag error when malformed."""
    if not text:
        return []
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            i += 1
            parts: list[str] = []
            while True:
                j = text.find('"', i)
                if j < 0:
                    _bad_list(text, flag, 'extraneous or missing " in quoted-field')
                parts.append(text[i:j])
                i = j + 1
                if i < n and text[i] == '"':
                    parts.append('"')
                    i += 1
                    continue
                if i < n and text[i] != " ":
                    _bad_list(text, flag, 'extraneous or missing " in quoted-field')
                break
            fields.append("".join(parts))
        else:
            j = text.find(" ", i)
            end = n if j < 0 else j
            if '"' in text[i:end]:
                _bad_list(text, flag, 'bare " in non-quoted-field')
            fields.append(text[i:end])
            i = end
        if i >= n:
            return fields
        i += 1  # the separating space


def _bad_list(text: str, flag: str, why: str) -> None:
    from .errors import UsageError
    from .units import go_quote

    raise UsageError(f"invalid argument {go_quote(text)} for \"{flag}\" flag: parsing "
                     f"{go_quote(text)} as fs.SpaceSepList failed: {why}")


def reads(backend: Backend) -> bool:
    """True when ``backend`` reads metadata (rclone's ReadMetadata: local only here)."""
    return callable(getattr(backend, "metadata", None))


def writes(backend: Backend) -> bool:
    """True when ``backend`` writes metadata (rclone's WriteMetadata: local only here)."""
    return callable(getattr(backend, "write_metadata", None))


def merge(meta: Mapping[str, str] | None, extra: Mapping[str, str]) -> Metadata | None:
    """rclone's Metadata.Merge: ``extra`` over ``meta``; None when both are empty."""
    if not meta and not extra:
        return None
    out = dict(meta or {})
    out.update(extra)
    return out


def parse_time(value: str) -> int | None:
    """An RFC 3339 time (any fraction of a second, ``Z`` or ``±hh:mm``) as Unix
    nanoseconds, or None when it is not one (rclone skips such a key, at debug level)."""
    m = _RFC3339.match(value)
    if m is None:
        return None
    import calendar  # here: a run without metadata does not pay for its import

    year, month, day, hour, minute, sec, frac, zone = m.groups()
    try:
        secs = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute),
                                int(sec), 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31 and int(hour) < 24
            and int(minute) < 60 and int(sec) < 60):
        return None
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    ns = int((frac[1:] + "000000000")[:9]) if frac else 0
    return secs * 1_000_000_000 + ns


_RFC3339 = LazyPattern(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                      r"([Zz]|[+-]\d{2}:\d{2})$")


def _read(src: Backend, path: str) -> Metadata | None:
    """The source's metadata of ``path`` (None: the backend has none)."""
    if not reads(src):
        return None
    return src.metadata(path)  # type: ignore[attr-defined, no-any-return]


def file_metadata(opts: SyncOptions, src: Backend, dst: Backend, entry: Entry,
                  dst_path: str) -> Metadata | None:
    """What ``-M`` writes on the destination copy of source file ``entry`` (rclone's
    GetMetadataOptions): None without ``-M`` or when nothing is to be written.
    ``dst_path`` is the name the mapper is told: the partial file's, as rclone's (which
    calls the mapper once more when it renames the partial: see
    ``Transferer._remap_partial``). Raises
    MetadataError with rclone's wording when the source's cannot be read or the mapper
    fails."""
    if not opts.metadata or not writes(dst):
        return None
    try:
        meta = _read(src, entry.path)
    except OSError as err:
        raise MetadataError(f"failed to read metadata from source object: {err}",
                            path=entry.path) from None
    meta = merge(meta, parse_metadata_set(opts.metadata_set))
    mapper = parse_mapper(opts.metadata_mapper)
    if mapper:
        try:
            meta = run_mapper(mapper, src, dst, entry, dst_path, meta)
        except MetadataError as err:
            raise MetadataError(f"failed to read metadata from source object: {err}",
                                path=entry.path) from None
    return meta


def dir_metadata(opts: SyncOptions, src: Backend, dst: Backend, entry: Entry, *,
                 read: bool = True) -> Metadata:
    """What ``-M`` writes on a destination directory (rclone's CopyDirMetadata): the
    source directory's metadata (``read`` False: none, as rclone's march hands a
    directory found on both sides on wrapped, without its metadata), ``--metadata-set``
    over it, the mapper's result, and the source's time as ``mtime`` when none of those
    gave one. Raises OSError (the source cannot be read) or MetadataError (the mapper
    failed)."""
    meta = merge(_read(src, entry.path) if read else None,
                 parse_metadata_set(opts.metadata_set))
    mapper = parse_mapper(opts.metadata_mapper)
    if mapper:
        meta = run_mapper(mapper, src, dst, entry, entry.path, meta)
    out = dict(meta or {})
    if not out.get("mtime"):
        from .units import format_rfc3339

        out["mtime"] = format_rfc3339(entry.mtime_ns)
    return out


def _config_string(backend: Backend) -> str:
    """rclone's ConfigString of an Fs: ``name:root`` (the local root as rclone keeps it)."""
    name = getattr(backend, "name", backend.features.name)
    root = getattr(backend, "root", "")
    return f"{name}:{root}"


def run_mapper(cmd: Sequence[str], src: Backend, dst: Backend, entry: Entry, remote: str,
               meta: Mapping[str, str] | None) -> Metadata | None:
    """rclone's metadata mapper: run ``cmd`` with a JSON description of the object on its
    standard input and take the ``Metadata`` of the JSON object it prints. MetadataError
    with rclone's wording when it fails or prints something else."""
    import json  # here: only a run with --metadata-mapper imports these
    import subprocess

    from .listing import _mime
    from .units import format_rfc3339

    item: dict[str, object] = {
        "SrcFs": _config_string(src), "SrcFsType": src.features.name,
        "DstFs": _config_string(dst), "DstFsType": dst.features.name,
        "Remote": remote, "Size": entry.size,
    }
    mime = "" if entry.is_dir else _mime(remote)
    if mime:
        item["MimeType"] = mime
    item["ModTime"] = format_rfc3339(entry.mtime_ns)
    item["IsDir"] = False  # as rclone's mapper is told, for directories too
    if meta:
        item["Metadata"] = dict(meta)
    data = json.dumps(item, indent="\t", ensure_ascii=False).encode()
    log.debug(entry.path, f"Calling metadata mapper {_go_list(cmd)}")
    try:
        done = subprocess.run(list(cmd), input=data, capture_output=True, check=False)
    except OSError as err:
        raise MetadataError(f"metadata mapper: failed on {_go_list(cmd)}: \"\": "
                            f"{_go_exec_error(cmd[0], err)}", path=entry.path) from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        raise MetadataError(f"metadata mapper: failed on {_go_list(cmd)}: "
                            f"{json.dumps(stderr, ensure_ascii=False)}: "
                            f"{_go_exit(done.returncode)}", path=entry.path)
    try:
        out = json.loads(done.stdout)
        if not isinstance(out, dict):
            raise ValueError("not an object")
        got = out.get("Metadata")
        if got is not None and not (isinstance(got, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in got.items())):
            raise ValueError("Metadata is not a map of strings")
    except ValueError as err:
        text = done.stdout.decode("utf-8", "replace")
        raise MetadataError(f"metadata mapper: failed to read output: "
                            f"{json.dumps(text, ensure_ascii=False)}: {err}",
                            path=entry.path) from None
    log.debug(entry.path, "Metadata mapper returned")
    return dict(got) if got is not None else None


def _go_list(cmd: Sequence[str]) -> str:
    """The mapper's command as rclone's SpaceSepList prints it: words joined by spaces."""
    return " ".join(cmd)


def _go_exit(code: int) -> str:
    """Go's exec.ExitError text."""
    if code < 0:
        import signal

        try:
            return f"signal: {signal.Signals(-code).name.lower().replace('sig', '', 1)}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def _go_exec_error(prog: str, err: OSError) -> str:
    """Go's exec error for a program that cannot be started."""
    import errno

    if err.errno == errno.ENOENT:
        return f'exec: "{prog}": executable file not found in $PATH' if "/" not in prog \
            else f"fork/exec {prog}: no such file or directory"
    reason = err.strerror or str(err)
    return f"fork/exec {prog}: {reason[:1].lower() + reason[1:]}"
