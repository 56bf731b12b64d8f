"""Frozen option records with rclone's flag names, defaults and help text, in one place.

Each field's metadata drives the command line (``flag``, ``short``, ``help``, ``kind``), so a
flag's name, default and help exist only here. ``kind`` says how the CLI parses the value:
``bool``, ``int``, ``str``, ``list`` (repeatable), ``size`` (rclone SizeSuffix), ``duration``
(rclone Duration: ``1d``, bare seconds, dates), ``goduration`` (Go syntax only: ``1h30m``),
``cmdduration`` (a Duration rclone declares as a command flag: its errors name no type),
``bwlimit`` (an rclone BwTimetable, kept as text), ``int64`` (an int rclone declares as
int64: its parse errors say so), ``enum`` (one of
``choices``, any case), ``bits`` (comma-separated ``choices``) or ``spacesep`` (rclone's
SpaceSepList, kept as text: see ``metadata.parse_mapper``); ``gotype`` is the Go type
rclone names when it refuses a value of an enum or bits flag.
"""

from __future__ import annotations

from .record import Field, field, fields, record
from .units import DURATION_OFF, SIZE_OFF

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["FilterOptions", "ListOptions", "ReportFlags", "option", "option_fields", "LOG_LEVELS",
           "CUTOFF_MODES", "DUMP_CHOICES"]

#: rclone's fs.logLevelChoices, fs.cutoffModeChoices and fs.dumpChoices, in its order
LOG_LEVELS = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG",
              "OFF")
CUTOFF_MODES = ("HARD", "SOFT", "CAUTIOUS")
DUMP_CHOICES = ("headers", "bodies", "requests", "responses", "auth", "filters", "goroutines",
                "openfiles", "mapper", "curl", "errors", "trace")
_LOG_LEVEL_TYPE = "fs.Enum[github.com/rclone/rclone/fs.logLevelChoices]"


def option(default: Any, *, flag: str, help: str, kind: str, short: str | None = None,
           group: str = "General", metavar: str | None = None,
           choices: tuple[str, ...] = (), gotype: str = "") -> Any:
    """Declare one option field; ``kind`` is bool, int, int64, float, str, list, size,
    duration, goduration, enum or bits (the last two with ``choices`` and ``gotype``)."""
    meta = {"flag": flag, "help": help, "kind": kind, "short": short, "group": group,
            "metavar": metavar, "choices": choices, "gotype": gotype}
    if isinstance(default, list):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def option_fields(cls: type) -> list[Field]:
    """The fields of an options class that carry CLI metadata, in declaration order."""
    return [f for f in fields(cls) if "flag" in f.metadata]


@record(frozen=True, kw_only=True)
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
    metadata_include: tuple[str, ...] = option(
        [], flag="--metadata-include", kind="list", group="Filter",
        help="Include metadatas matching pattern")
    metadata_include_from: tuple[str, ...] = option(
        [], flag="--metadata-include-from", kind="list", group="Filter",
        help="Read metadata include patterns from file (use - to read from stdin)")
    metadata_exclude: tuple[str, ...] = option(
        [], flag="--metadata-exclude", kind="list", group="Filter",
        help="Exclude metadatas matching pattern")
    metadata_exclude_from: tuple[str, ...] = option(
        [], flag="--metadata-exclude-from", kind="list", group="Filter",
        help="Read metadata exclude patterns from file (use - to read from stdin)")
    metadata_filter: tuple[str, ...] = option(
        [], flag="--metadata-filter", kind="list", group="Filter",
        help="Add a metadata filtering rule")
    metadata_filter_from: tuple[str, ...] = option(
        [], flag="--metadata-filter-from", kind="list", group="Filter",
        help="Read metadata filtering patterns from a file (use - to read from stdin)")


@record(frozen=True, kw_only=True)
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


@record(frozen=True, kw_only=True)
class GlobalOptions:
    """Flags every command takes: logging, config file, dumps."""

    verbose: int = option(0, flag="--verbose", short="-v", kind="count", group="Logging",
                          help="Print lots more stuff (repeat for more)")
    quiet: bool = option(False, flag="--quiet", short="-q", kind="bool", group="Logging",
                         help="Print as little stuff as possible")
    log_file: str = option("", flag="--log-file", kind="str", group="Logging",
                           help="Log everything to this file")
    log_level: str = option("", flag="--log-level", kind="enum", group="Logging",
                            choices=LOG_LEVELS, gotype=_LOG_LEVEL_TYPE,
                            help="Log level DEBUG|INFO|NOTICE|ERROR (default NOTICE)")
    use_json_log: bool = option(False, flag="--use-json-log", kind="bool", group="Logging",
                                help="Use json log format")
    config: str = option("", flag="--config", kind="str", group="Config",
                         help="Config file (default $PYSYNC_CONFIG, then pysync's and "
                              "rclone's usual rclone.conf locations)")
    # set when --config was given, even as "" (rclone's memory-only config); not a flag
    config_set: bool = False
    dump: str = option("", flag="--dump", kind="bits", group="Debugging",
                       choices=DUMP_CHOICES,
                       gotype="fs.Bits[github.com/rclone/rclone/fs.dumpChoices]",
                       help="List of items to dump from: filters")


@record(frozen=True, kw_only=True)
class SyncOptions:
    """How ``copy`` and ``sync`` compare, transfer, delete and report; rclone's defaults.

    Durations are nanoseconds and sizes bytes (see ``units``); ``-1`` means off.
    """

    dry_run: bool = option(False, flag="--dry-run", short="-n", kind="bool", group="Important",
                           help="Do a trial run with no permanent changes")
    checkers: int = option(8, flag="--checkers", kind="int", group="Performance",
                           help="Number of checkers to run in parallel")
    transfers: int = option(4, flag="--transfers", kind="int", group="Performance",
                            help="Number of file transfers to run in parallel")
    retries: int = option(3, flag="--retries", kind="int", group="Networking",
                          help="Retry operations this many times if they fail")
    retries_sleep: int = option(0, flag="--retries-sleep", kind="goduration", group="Networking",
                                help="Interval between retrying operations if they fail, "
                                     "e.g. 500ms, 60s, 5m (0 to disable)")
    low_level_retries: int = option(10, flag="--low-level-retries", kind="int",
                                    group="Networking", help="Number of low level retries to do")
    size_only: bool = option(False, flag="--size-only", kind="bool", group="Copy",
                             help="Skip based on size only, not modtime or checksum")
    checksum: bool = option(False, flag="--checksum", short="-c", kind="bool", group="Copy",
                            help="Check for changes with size & checksum (if available, or "
                                 "fallback to size only)")
    ignore_times: bool = option(False, flag="--ignore-times", short="-I", kind="bool",
                                group="Copy", help="Don't skip items that match size and time "
                                                   "- transfer all unconditionally")
    ignore_size: bool = option(False, flag="--ignore-size", kind="bool", group="Copy",
                               help="Ignore size when skipping use modtime or checksum")
    ignore_existing: bool = option(False, flag="--ignore-existing", kind="bool", group="Copy",
                                   help="Skip all files that exist on destination")
    ignore_checksum: bool = option(False, flag="--ignore-checksum", kind="bool", group="Copy",
                                   help="Skip post copy check of checksums")
    update: bool = option(False, flag="--update", short="-u", kind="bool", group="Copy",
                          help="Skip files that are newer on the destination")
    modify_window: int = option(1, flag="--modify-window", kind="goduration", group="Copy",
                                help="Max time diff to be considered the same")
    no_update_modtime: bool = option(False, flag="--no-update-modtime", kind="bool",
                                     group="Copy", help="Don't update destination modtime if "
                                                        "files identical")
    no_update_dir_modtime: bool = option(False, flag="--no-update-dir-modtime", kind="bool",
                                         group="Copy",
                                         help="Don't update directory modification times")
    refresh_times: bool = option(False, flag="--refresh-times", kind="bool", group="Copy",
                                 help="Refresh the modtime of remote files")
    immutable: bool = option(False, flag="--immutable", kind="bool", group="Copy",
                             help="Do not modify files, fail if existing files have been "
                                  "modified")
    create_empty_src_dirs: bool = option(False, flag="--create-empty-src-dirs", kind="bool",
                                         group="Copy",
                                         help="Create empty source dirs on destination after "
                                              "sync")
    inplace: bool = option(False, flag="--inplace", kind="bool", group="Copy",
                           help="Download directly to destination file instead of atomic "
                                "download to temp/rename")
    partial_suffix: str = option(".partial", flag="--partial-suffix", kind="str", group="Copy",
                                 help="Add partial-suffix to temporary file name when "
                                      "--inplace is not used")
    max_transfer: int = option(-1, flag="--max-transfer", kind="size", group="Copy",
                               help="Maximum size of data to transfer")
    cutoff_mode: str = option("HARD", flag="--cutoff-mode", kind="enum", group="Copy",
                              choices=CUTOFF_MODES,
                              gotype="fs.Enum[github.com/rclone/rclone/fs.cutoffModeChoices]",
                              help="Mode to stop transfers when reaching the max transfer "
                                   "limit HARD|SOFT|CAUTIOUS")
    max_duration: int = option(0, flag="--max-duration", kind="goduration", group="Copy",
                               help="Maximum duration rclone will transfer data for")
    error_on_no_transfer: bool = option(False, flag="--error-on-no-transfer", kind="bool",
                                        group="Config",
                                        help="Sets exit code 9 if no files are transferred")
    bwlimit: str = option("off", flag="--bwlimit", kind="bwlimit", group="Networking",
                          help="Bandwidth limit in KiB/s, or use suffix B|K|M|G|T|P")
    multi_thread_cutoff: int = option(256 * 1024 * 1024, flag="--multi-thread-cutoff",
                                      kind="size", group="Copy",
                                      help="Use multi-thread downloads for files above this "
                                           "size")
    multi_thread_streams: int = option(4, flag="--multi-thread-streams", kind="int",
                                       group="Copy",
                                       help="Number of streams to use for multi-thread "
                                            "downloads")
    # set when --multi-thread-streams was given: local to local copies are single-stream
    # unless it was (rclone); not a flag of its own
    multi_thread_streams_set: bool = False
    delete_before: bool = option(False, flag="--delete-before", kind="bool", group="Sync",
                                 help="When synchronizing, delete files on destination before "
                                      "transferring")
    delete_during: bool = option(False, flag="--delete-during", kind="bool", group="Sync",
                                 help="When synchronizing, delete files during transfer")
    delete_after: bool = option(False, flag="--delete-after", kind="bool", group="Sync",
                                help="When synchronizing, delete files on destination after "
                                     "transferring (default)")
    max_delete: int = option(-1, flag="--max-delete", kind="int64", group="Sync",
                             help="When synchronizing, limit the number of deletes")
    backup_dir: str = option("", flag="--backup-dir", kind="str", group="Sync",
                             help="Make backups into hierarchy based in DIR")
    suffix: str = option("", flag="--suffix", kind="str", group="Sync",
                         help="Suffix to add to changed files")
    suffix_keep_extension: bool = option(False, flag="--suffix-keep-extension", kind="bool",
                                         group="Sync", help="Preserve the extension when using "
                                                            "--suffix")
    ignore_errors: bool = option(False, flag="--ignore-errors", kind="bool", group="Sync",
                                 help="Delete even if there are I/O errors")
    copy_links: bool = option(False, flag="--copy-links", short="-L", kind="bool",
                              group="Local", help="Follow symlinks and copy the pointed to "
                                                  "item")
    links: bool = option(False, flag="--links", short="-l", kind="bool", group="Local",
                         help="Translate symlinks to/from regular files with a '.rclonelink' "
                              "extension")
    local_no_check_updated: bool = option(False, flag="--local-no-check-updated", kind="bool",
                                          group="Local",
                                          help="Don't check to see if the files change during "
                                               "upload")
    local_no_direct_io: bool = option(False, flag="--local-no-direct-io", kind="bool",
                                      group="Local",
                                      help="Write big files to a local destination through "
                                           "the page cache instead of with direct I/O "
                                           "(pysync only)")
    resume: bool = option(False, flag="--resume", kind="bool", group="Migration",
                          help="Keep the partial file of an interrupted transfer (with a "
                               "manifest) and continue it, verified, in the next run "
                               "(pysync only)")
    append_verify: bool = option(False, flag="--append-verify", kind="bool", group="Migration",
                                 help="When the destination is a verified prefix of a grown "
                                      "source, send only the tail, then verify the whole file "
                                      "(pysync only)")
    skip_changing: bool = option(False, flag="--skip-changing", kind="bool", group="Migration",
                                 help="Leave files that change while being copied for a later "
                                      "run: NOTICE, no error, exit code 11 if any (pysync only)")
    dask_scheduler: str = option("", flag="--dask-scheduler", kind="str", group="Scale out",
                                 metavar="ADDR",
                                 help="Run the transfers on the Dask workers of the scheduler "
                                      "at ADDR, e.g. tcp://host:8786 (default "
                                      "$PYSYNC_DASK_SCHEDULER; needs pysync[dask]; pysync "
                                      "only)")
    dask_workers: int = option(0, flag="--dask-workers", kind="int", group="Scale out",
                               metavar="N",
                               help="Run the transfers on N Dask worker processes started on "
                                    "this machine (needs pysync[dask]; pysync only)")
    no_unicode_normalization: bool = option(False, flag="--no-unicode-normalization",
                                            kind="bool", group="Config",
                                            help="Don't normalize unicode characters in "
                                                 "filenames")
    stats: int = option(60 * 10**9, flag="--stats", kind="cmdduration", group="Logging",
                        help="Interval between printing stats, e.g. 500ms, 60s, 5m (0 to "
                             "disable)")
    stats_one_line: bool = option(False, flag="--stats-one-line", kind="bool", group="Logging",
                                  help="Make the stats fit on one line")
    stats_log_level: str = option("INFO", flag="--stats-log-level", kind="enum",
                                  group="Logging", choices=LOG_LEVELS, gotype=_LOG_LEVEL_TYPE,
                                  help="Log level to show --stats output DEBUG|INFO|NOTICE|ERROR")
    progress: bool = option(False, flag="--progress", short="-P", kind="bool", group="Logging",
                            help="Show progress during transfer")
    # rclone's copy/sync flags below: what each does here is in README "rclone flags"
    check_first: bool = option(False, flag="--check-first", kind="bool", group="Copy",
                               help="Do all the checks before starting transfers")
    compare_dest: tuple[str, ...] = option(
        [], flag="--compare-dest", kind="list", group="Copy",
        help="Include additional server-side paths during comparison")
    copy_dest: tuple[str, ...] = option(
        [], flag="--copy-dest", kind="list", group="Copy",
        help="Implies --compare-dest but also copies files from paths into destination")
    ignore_case_sync: bool = option(False, flag="--ignore-case-sync", kind="bool", group="Copy",
                                    help="Ignore case when synchronizing")
    max_backlog: int = option(10000, flag="--max-backlog", kind="int", group="Copy",
                              help="Maximum number of objects in sync or check backlog")
    metadata: bool = option(False, flag="--metadata", short="-M", kind="bool", group="Copy",
                            help="If set, preserve metadata when copying objects")
    metadata_set: tuple[str, ...] = option(
        [], flag="--metadata-set", kind="list", group="Metadata",
        help="Add metadata key=value when uploading")
    metadata_mapper: str = option(
        "", flag="--metadata-mapper", kind="spacesep", group="Metadata",
        metavar="SpaceSepList", help="Program to run to transforming metadata before upload")
    multi_thread_chunk_size: int = option(
        64 * 1024 * 1024, flag="--multi-thread-chunk-size", kind="size", group="Copy",
        help="Chunk size for multi-thread downloads / uploads, if not set by filesystem")
    multi_thread_write_buffer_size: int = option(
        128 * 1024, flag="--multi-thread-write-buffer-size", kind="size", group="Copy",
        help="In memory buffer size for writing when in multi-thread mode")
    name_transform: tuple[str, ...] = option(
        [], flag="--name-transform", kind="list", group="Copy",
        help="Transform paths during the copy process")
    no_check_dest: bool = option(False, flag="--no-check-dest", kind="bool", group="Copy",
                                 help="Don't check the destination, copy regardless")
    no_traverse: bool = option(False, flag="--no-traverse", kind="bool", group="Copy",
                               help="Don't traverse destination file system on copy")
    order_by: str = option("", flag="--order-by", kind="str", group="Copy",
                           help="Instructions on how to order the transfers, e.g. "
                                "'size,descending'")
    server_side_across_configs: bool = option(
        False, flag="--server-side-across-configs", kind="bool", group="Copy",
        help="Allow server-side operations (e.g. copy) to work across different configs")
    streaming_upload_cutoff: int = option(
        100 * 1024, flag="--streaming-upload-cutoff", kind="size", group="Copy",
        help="Cutoff for switching to chunked upload if file size is unknown, upload starts "
             "after reaching cutoff or when file ends")
    fix_case: bool = option(False, flag="--fix-case", kind="bool", group="Sync",
                            help="Force rename of case insensitive dest to match source")
    list_cutoff: int = option(1000000, flag="--list-cutoff", kind="int", group="Sync",
                              help="To save memory, sort directory listings on disk above "
                                   "this threshold")
    max_delete_size: int = option(SIZE_OFF, flag="--max-delete-size", kind="size",
                                  group="Sync",
                                  help="When synchronizing, limit the total size of deletes")
    track_renames: bool = option(False, flag="--track-renames", kind="bool", group="Sync",
                                 help="When synchronizing, track file renames and do a "
                                      "server-side move if possible")
    track_renames_strategy: str = option(
        "hash", flag="--track-renames-strategy", kind="str", group="Sync",
        help="Strategies to use when synchronizing using track-renames hash|modtime|leaf")
    interactive: bool = option(False, flag="--interactive", short="-i", kind="bool",
                               group="Important", help="Enable interactive mode")
    default_time: str = option("2000-01-01T00:00:00Z", flag="--default-time", kind="time",
                               group="Listing", metavar="Time",
                               help="Time to show if modtime is unknown for files and "
                                    "directories")
    fast_list: bool = option(False, flag="--fast-list", kind="bool", group="Listing",
                             help="Use recursive list if available; uses more memory but "
                                  "fewer transactions")


@record(frozen=True, kw_only=True)
class ReportFlags:
    """rclone's sync logger flags of copy, sync and copyto: the report files (a path, or
    ``-`` for standard output) and the lsf format of ``--dest-after``."""

    combined: str = option("", flag="--combined", kind="str", group="Report",
                           help="Make a combined report of changes to this file")
    dest_after: str = option("", flag="--dest-after", kind="str", group="Report",
                             help="Report all files that exist on the dest post-sync")
    differ: str = option("", flag="--differ", kind="str", group="Report",
                         help="Report all non-matching files to this file")
    error: str = option("", flag="--error", kind="str", group="Report",
                        help="Report all files with errors (hashing or reading) to this file")
    match: str = option("", flag="--match", kind="str", group="Report",
                        help="Report all matching files to this file")
    missing_on_dst: str = option("", flag="--missing-on-dst", kind="str", group="Report",
                                 help="Report all files missing from the destination to this "
                                      "file")
    missing_on_src: str = option("", flag="--missing-on-src", kind="str", group="Report",
                                 help="Report all files missing from the source to this file")
    absolute: bool = option(False, flag="--absolute", kind="bool", group="Report",
                            help="Put a leading / in front of path names")
    csv: bool = option(False, flag="--csv", kind="bool", group="Report",
                       help="Output in CSV format")
    dir_slash: bool = option(True, flag="--dir-slash", short="-d", kind="bool", group="Report",
                             help="Append a slash to directory names")
    dirs_only: bool = option(False, flag="--dirs-only", kind="bool", group="Report",
                             help="Only list directories")
    files_only: bool = option(True, flag="--files-only", kind="bool", group="Report",
                              help="Only list files")
    format: str = option("p", flag="--format", short="-F", kind="str", group="Report",
                         help="Output format - see lsf help for details")
    hash: str = option("md5", flag="--hash", kind="str", group="Report", metavar="h",
                       help="Use this hash when h is used in the format MD5|SHA-1|DropboxHash")
    separator: str = option(";", flag="--separator", short="-s", kind="str", group="Report",
                            help="Separator for the items in the format")
    timeformat: str = option("", flag="--timeformat", short="-t", kind="str", group="Report",
                             help="Specify a custom time format - see docs for details "
                                  "(default: 2006-01-02 15:04:05)")

    def any_set(self) -> bool:
        """True when a report file was asked for (rclone's LoggerFlagsOpt.AnySet)."""
        return any((self.combined, self.dest_after, self.differ, self.error, self.match,
                    self.missing_on_dst, self.missing_on_src))


@record(frozen=True, kw_only=True)
class LinkFlags:
    """The local backend's symlink flags for the commands that only read (lsf, ls, size,
    check); copy and sync carry the same two in ``SyncOptions``."""

    copy_links: bool = option(False, flag="--copy-links", short="-L", kind="bool",
                              group="Local", help="Follow symlinks and copy the pointed to "
                                                  "item")
    links: bool = option(False, flag="--links", short="-l", kind="bool", group="Local",
                         help="Translate symlinks to/from regular files with a '.rclonelink' "
                              "extension")


@record(frozen=True, kw_only=True)
class CheckFlags:
    """Flags of ``pysync check`` (report files are paths; ``-`` is standard output)."""

    one_way: bool = option(False, flag="--one-way", kind="bool", group="Check",
                           help="Check one way only, source files must exist on remote")
    size_only: bool = option(False, flag="--size-only", kind="bool", group="Check",
                             help="Only compare the sizes, not the hashes as well")
    download: bool = option(False, flag="--download", kind="bool", group="Check",
                            help="Check by downloading rather than with hash")
    combined: str = option("", flag="--combined", kind="str", group="Check",
                           help="Make a combined report of changes to this file")
    missing_on_src: str = option("", flag="--missing-on-src", kind="str", group="Check",
                                 help="Report all files missing from the source to this file")
    missing_on_dst: str = option("", flag="--missing-on-dst", kind="str", group="Check",
                                 help="Report all files missing from the destination to this "
                                      "file")
    match: str = option("", flag="--match", kind="str", group="Check",
                        help="Report all matching files to this file")
    differ: str = option("", flag="--differ", kind="str", group="Check",
                         help="Report all non-matching files to this file")
    error: str = option("", flag="--error", kind="str", group="Check",
                        help="Report all files with errors (hashing or reading) to this file")
    checkers: int = option(8, flag="--checkers", kind="int", group="Performance",
                           help="Number of checkers to run in parallel")
