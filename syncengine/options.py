"""Frozen option records with rclone's flag names, defaults and help text, in one place.

Each field's metadata drives the command line (``flag``, ``short``, ``help``, ``kind``), so a
flag's name, default and help exist only here. ``kind`` says how the CLI parses the value:
``bool``, ``int``, ``str``, ``list`` (repeatable), ``size`` (rclone SizeSuffix) or
``duration`` (rclone Duration).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .units import DURATION_OFF, SIZE_OFF

__all__ = ["FilterOptions", "ListOptions", "option", "option_fields"]


def option(default: Any, *, flag: str, help: str, kind: str, short: str | None = None,
           group: str = "General", metavar: str | None = None) -> Any:
    """Declare one option field; ``kind`` is bool, int, float, str, list, size or duration."""
    meta = {"flag": flag, "help": help, "kind": kind, "short": short, "group": group,
            "metavar": metavar}
    if isinstance(default, list):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def option_fields(cls: type) -> list[dataclasses.Field[Any]]:
    """The fields of an options class that carry CLI metadata, in declaration order."""
    return [f for f in dataclasses.fields(cls) if "flag" in f.metadata]


@dataclass(frozen=True, kw_only=True)
class FilterOptions:
    """Which files and directories take part, exactly as rclone's filter flags choose them.

    Sizes are bytes (``SIZE_OFF`` = -1 when unset), ages are nanoseconds (``DURATION_OFF``
    when unset). Rule lists keep command-line order; rclone's fixed group order is applied
    when the filter is built, not here.
    """

    include: tuple[str, ...] = option(
        [], flag="--include", kind="list", group="Filter", help="Include files matching pattern")
    include_from: tuple[str, ...] = option(
        [], flag="--include-from", kind="list", group="Filter",
        help="Read file include patterns from file (use - to read from stdin)")
    exclude: tuple[str, ...] = option(
        [], flag="--exclude", kind="list", group="Filter", help="Exclude files matching pattern")
    exclude_from: tuple[str, ...] = option(
        [], flag="--exclude-from", kind="list", group="Filter",
        help="Read file exclude patterns from file (use - to read from stdin)")
    filter: tuple[str, ...] = option(
        [], flag="--filter", short="-f", kind="list", group="Filter",
        help="Add a file filtering rule")
    filter_from: tuple[str, ...] = option(
        [], flag="--filter-from", kind="list", group="Filter",
        help="Read file filtering patterns from a file (use - to read from stdin)")
    files_from: tuple[str, ...] = option(
        [], flag="--files-from", kind="list", group="Filter",
        help="Read list of source-file names from file (use - to read from stdin)")
    files_from_raw: tuple[str, ...] = option(
        [], flag="--files-from-raw", kind="list", group="Filter",
        help="Read list of source-file names from file without any processing of lines "
             "(use - to read from stdin)")
    files_from0: tuple[str, ...] = option(
        [], flag="--files-from0", kind="list", group="Filter",
        help="Read list of source-file names from file using NUL as separator "
             "(use - to read from stdin)")
    exclude_if_present: tuple[str, ...] = option(
        [], flag="--exclude-if-present", kind="list", group="Filter",
        help="Exclude directories if filename is present")
    min_age: int = option(
        DURATION_OFF, flag="--min-age", kind="duration", group="Filter",
        help="Only transfer files older than this in s or suffix ms|s|m|h|d|w|M|y")
    max_age: int = option(
        DURATION_OFF, flag="--max-age", kind="duration", group="Filter",
        help="Only transfer files younger than this in s or suffix ms|s|m|h|d|w|M|y")
    min_size: int = option(
        SIZE_OFF, flag="--min-size", kind="size", group="Filter",
        help="Only transfer files bigger than this in KiB or suffix B|K|M|G|T|P")
    max_size: int = option(
        SIZE_OFF, flag="--max-size", kind="size", group="Filter",
        help="Only transfer files smaller than this in KiB or suffix B|K|M|G|T|P")
    max_depth: int = option(
        -1, flag="--max-depth", kind="int", group="Filter",
        help="If set limits the recursion depth to this")
    ignore_case: bool = option(
        False, flag="--ignore-case", kind="bool", group="Filter",
        help="Ignore case in filters (case insensitive)")
    hash_filter: str = option(
        "", flag="--hash-filter", kind="str", group="Filter",
        help="Partition filenames by hash k/n or randomly @/n")
    delete_excluded: bool = option(
        False, flag="--delete-excluded", kind="bool", group="Filter",
        help="Delete files on dest excluded from sync")


@dataclass(frozen=True, kw_only=True)
class ListOptions:
    """Options of ``pysync lsf`` (rclone lsf's own flags)."""

    recursive: bool = option(False, flag="--recursive", short="-R", kind="bool",
                             group="Listing", help="Recurse into the listing")
    files_only: bool = option(False, flag="--files-only", kind="bool", group="Listing",
                              help="Only list files")
    dirs_only: bool = option(False, flag="--dirs-only", kind="bool", group="Listing",
                             help="Only list directories")
    format: str = option("p", flag="--format", short="-F", kind="str", group="Listing",
                         help="Output format: p path, s size, t modtime, h hash, m MIME type")
    separator: str = option(";", flag="--separator", short="-s", kind="str", group="Listing",
                            help="Separator for the items in the format")
    hash: str = option("md5", flag="--hash", kind="str", group="Listing",
                       help="Use this hash when h is used in the format "
                            "(md5, sha1, sha256, crc32, xxh3, xxh128)")
    dir_slash: bool = option(True, flag="--dir-slash", short="-d", kind="bool", group="Listing",
                             help="Append a slash to directory names")
    absolute: bool = option(False, flag="--absolute", kind="bool", group="Listing",
                            help="Put a leading / in front of path names")
    csv: bool = option(False, flag="--csv", kind="bool", group="Listing",
                       help="Output in CSV format")
    time_format: str = option("", flag="--time-format", short="-t", kind="str", group="Listing",
                              help="Specify a custom time format (Go layout or RFC3339, "
                                   "default 2006-01-02 15:04:05)")


@dataclass(frozen=True, kw_only=True)
class GlobalOptions:
    """Flags every command takes: logging, config file, dumps."""

    verbose: int = option(0, flag="--verbose", short="-v", kind="count", group="Logging",
                          help="Print lots more stuff (repeat for more)")
    quiet: bool = option(False, flag="--quiet", short="-q", kind="bool", group="Logging",
                         help="Print as little stuff as possible")
    log_file: str = option("", flag="--log-file", kind="str", group="Logging",
                           help="Log everything to this file")
    log_level: str = option("", flag="--log-level", kind="str", group="Logging",
                            help="Log level DEBUG|INFO|NOTICE|ERROR (default NOTICE)")
    use_json_log: bool = option(False, flag="--use-json-log", kind="bool", group="Logging",
                                help="Use json log format")
    config: str = option("", flag="--config", kind="str", group="Config",
                         help="Config file (default $PYSYNC_CONFIG, then pysync's and "
                              "rclone's usual rclone.conf locations)")
    dump: str = option("", flag="--dump", kind="str", group="Debugging",
                       help="List of items to dump from: filters")
