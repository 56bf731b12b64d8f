"""The complete rclone filter: path rules, files-from, age, size, depth, marker files, explain."""

from __future__ import annotations

import posixpath
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping

from .. import log
from ..errors import FilterError
from ..options import FilterOptions
from ..record import replace
from ..units import (
    DURATION_OFF,
    SIZE_OFF,
    format_bytes,
    format_duration,
    format_go_time,
    roundtrip_size,
)
from .glob import compile_glob, dir_globs_info_message, split_dir_globs
from .rules import Rules, add_rule_text, read_lines

__all__ = ["Filter"]



class Filter:
    """Decides, for each path, whether it takes part; built once from ``FilterOptions``.

    Paths are relative to the root given on the command line, ``/``-separated, without a
    leading slash; directories are given without their trailing slash. Raises FilterError
    (exit 1) for anything rclone refuses when it initialises its filter.
    """

    def __init__(self, opts: FilterOptions | None = None, *, now_ns: int | None = None) -> None:
        opts = opts or FilterOptions()
        # rclone 1.75 rebuilds its filter options from their printed form, so sizes are
        # rounded as "1.074Ki" would be; do the same to choose the same files
        self.opts = opts = replace(
            opts, min_size=roundtrip_size(opts.min_size) if opts.min_size >= 0 else opts.min_size,
            max_size=roundtrip_size(opts.max_size) if opts.max_size >= 0 else opts.max_size)
        now = time.time_ns() if now_ns is None else now_ns
        self.mtime_to_ns: int | None = None  # exclude files newer than this (min-age)
        self.mtime_from_ns: int | None = None  # exclude files older than this (max-age)
        if opts.min_age != DURATION_OFF:
            self.mtime_to_ns = now - opts.min_age
        if opts.max_age != DURATION_OFF:
            self.mtime_from_ns = now - opts.max_age
            # rclone reads the clock twice, so equal ages also fail
            if self.mtime_to_ns is not None and self.mtime_to_ns <= self.mtime_from_ns:
                raise FilterError(
                    f'filter: --min-age "{format_duration(opts.min_age)}" can\'t be larger '
                    f'than --max-age "{format_duration(opts.max_age)}"')
        self.hash_k, self.hash_n = _parse_hash_filter(opts.hash_filter)
        self.file_rules = Rules()
        self.dir_rules = Rules()
        self.meta_rules = Rules()
        _parse_rule_flags(opts.include, opts.include_from, opts.exclude, opts.exclude_from,
                          opts.filter, opts.filter_from, self.add, self.clear)
        # metadata rules never take --ignore-case (rclone compiles them case-sensitive)
        _parse_rule_flags(opts.metadata_include, opts.metadata_include_from,
                          opts.metadata_exclude, opts.metadata_exclude_from,
                          opts.metadata_filter, opts.metadata_filter_from,
                          self.meta_rules.add_glob, self.meta_rules.clear)
        self.files: set[str] | None = None
        self.dirs: set[str] | None = None
        #: the name of the one file a single-file source copies (rclone's srcFileName)
        self.single_file = ""
        #: copyto: the name the single file takes on the destination (rclone's dstFileName)
        self.single_target = ""
        self._parse_files_from()
        self.exclude_files = frozenset(opts.exclude_if_present)

    # ----- building -------------------------------------------------------------------

    def add(self, include: bool, glob: str) -> None:
        """Add one glob as rclone's Filter.Add does (file rule, dir rule, derived dir rules)."""
        is_dir_rule = glob.endswith("/")
        is_file_rule = not is_dir_rule
        if is_dir_rule and not include:
            glob += "**"
        if "**" in glob:
            is_dir_rule = is_file_rule = True
        regexp, pattern = compile_glob(glob, ignore_case=self.opts.ignore_case)
        if is_file_rule:
            self.file_rules.add(include, regexp, pattern)
            if include or glob == "*":
                dir_globs, too_hard = split_dir_globs(glob)
                if too_hard:
                    # rclone logs this while its flags load, before -v applies: DEBUG
                    log.debug(None, dir_globs_info_message(glob))
                for dir_glob in dir_globs:
                    if dir_glob == "/":
                        continue
                    dre, dpat = compile_glob(dir_glob, ignore_case=self.opts.ignore_case)
                    self.dir_rules.add(include, dre, dpat)
        if is_dir_rule:
            self.dir_rules.add(include, regexp, pattern)

    def clear(self) -> None:
        """The ``!`` rule: forget every rule added so far."""
        self.file_rules.clear()
        self.dir_rules.clear()
        self.meta_rules.clear()

    def _parse_files_from(self) -> None:
        o = self.opts
        sources: list[tuple[str, str, bool, bool]] = (
            [("--files-from", p, False, False) for p in o.files_from]
            + [("--files-from-raw", p, True, False) for p in o.files_from_raw]
            + [("--files-from0", p, True, True) for p in o.files_from0])
        if not sources:
            return
        others = {"--files-from": "--files-from-raw or --files-from0",
                  "--files-from-raw": "--files-from or --files-from0",
                  "--files-from0": "--files-from or --files-from-raw"}
        inactive = self._rules_inactive()
        self.files, self.dirs = set(), set()
        for flag, path, raw, nul in sources:
            if not inactive:
                raise FilterError(f"the usage of {flag} overrides all other filters, it should "
                                  f"be used alone or with {others[flag]}")
            for line in read_lines(path, raw=raw, nul=nul):
                self._add_file(line)

    def _add_file(self, name: str) -> None:
        assert self.files is not None and self.dirs is not None
        name = name.strip("/")
        self.files.add(name)
        while True:  # Go's path.Dir: the parent, cleaned
            name = posixpath.normpath(posixpath.dirname(name) or ".")
            if name in (".", "/") or name in self.dirs:
                break
            self.dirs.add(name)

    def _rules_inactive(self) -> bool:
        return (self.mtime_from_ns is None and self.mtime_to_ns is None
                and self.opts.min_size < 0 and self.opts.max_size < 0
                and not self.file_rules and not self.dir_rules and not self.meta_rules
                and not self.opts.exclude_if_present and self.hash_n == 0)

    # ----- questions ------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """False only when no filter of any kind is set (rclone's ``!InActive()``)."""
        return self.files is not None or not self._rules_inactive()

    @property
    def uses_age(self) -> bool:
        """True when the file modification time takes part in the decision."""
        return self.mtime_from_ns is not None or self.mtime_to_ns is not None

    def include_remote(self, remote: str) -> bool:
        """The path-only decision: files-from, hash filter, then the file rules."""
        if self.files is not None:
            return remote in self.files
        if self.hash_n:
            key = unicodedata.normalize("NFC", remote).lower().encode("utf-8", "surrogateescape")
            import hashlib

            value = int.from_bytes(hashlib.md5(key).digest()[:8], "little")
            if value % self.hash_n != self.hash_k:
                return False
        return self.file_rules.include(remote)

    @property
    def uses_metadata(self) -> bool:
        """True when metadata rules are set, so listings must read each file's metadata."""
        return bool(self.meta_rules) and self.files is None

    def include_file(self, remote: str, size: int, mtime_ns: int,
                     metadata: Mapping[str, str] | None = None, *,
                     path_ok: bool | None = None) -> bool:
        """Whether the file ``remote`` takes part, logging the reason at DEBUG when not.

        Checks in rclone's order: files-from, max-age, min-age, min-size, max-size,
        metadata, path rules. ``size`` -1 means unknown (passes ``--max-size``, fails
        ``--min-size``). ``metadata`` (``key=value`` pairs) is only looked at when metadata
        rules are set; a file without metadata is tested as the one string ``"\\x00=\\x00"``.
        ``path_ok``: :meth:`include_remote`'s answer for ``remote``, when the caller has it.
        """
        if self.files is not None:
            if remote not in self.files:
                log.debug(remote, "Excluded (FilesFrom Filter)")
                return False
            return True
        if self.mtime_from_ns is not None and mtime_ns < self.mtime_from_ns:
            log.debug(remote, "Excluded (ModTime Filter)")
            return False
        if self.mtime_to_ns is not None and mtime_ns > self.mtime_to_ns:
            log.debug(remote, "Excluded (ModTime Filter)")
            return False
        o = self.opts
        if (o.min_size >= 0 and size < o.min_size) or (o.max_size >= 0 and size > o.max_size):
            log.debug(remote, "Excluded (Size Filter)")
            return False
        if self.meta_rules and not self._include_metadata(metadata):
            log.debug(remote, "Excluded (Metadata Filter)")
            return False
        if not (self.include_remote(remote) if path_ok is None else path_ok):
            log.debug(remote, "Excluded (Path Filter)")
            return False
        return True

    def _include_metadata(self, metadata: Mapping[str, str] | None) -> bool:
        """rclone's includeMany: the first rule matching any ``key=value`` string decides."""
        pairs = [f"{k}={v}" for k, v in metadata.items()] if metadata else ["\x00=\x00"]
        for rule in self.meta_rules:
            search = rule.pattern.search
            if any(search(p) for p in pairs):
                return rule.include
        return True

    def include_dir(self, remote: str) -> bool:
        """Whether the directory ``remote`` is walked (directory rules or files-from parents).

        Marker files (``--exclude-if-present``) are checked by the walker, which has the
        listing; see ``has_marker``.
        """
        remote = remote.strip("/")
        if self.dirs is not None:
            return remote in self.dirs
        return self.dir_rules.include(remote + "/")

    def has_marker(self, file_names: Iterable[str]) -> bool:
        """True when a directory holding these file names is excluded by a marker file."""
        if not self.exclude_files:
            return False
        return any(name in self.exclude_files for name in file_names)

    def explain(self, remote: str, size: int, mtime_ns: int, *, is_dir: bool = False) -> str:
        """A one-line explanation of the decision for ``remote`` (for people debugging)."""
        if is_dir:
            return "included" if self.include_dir(remote) else "excluded (directory rules)"
        if self.include_file(remote, size, mtime_ns):
            return "included"
        return "excluded"

    def dump(self) -> str:
        """The rules in rclone's ``--dump filters`` layout (without the start/end markers)."""
        lines: list[str] = []
        if self.mtime_from_ns is not None:
            lines.append("Last-modified date must be equal or greater than: "
                         + format_go_time(self.mtime_from_ns))
        if self.mtime_to_ns is not None:
            lines.append("Last-modified date must be equal or less than: "
                         + format_go_time(self.mtime_to_ns))
        if self.opts.min_size != SIZE_OFF and self.opts.min_size >= 0:
            lines.append(f"Minimum size is: {format_bytes(self.opts.min_size)}")
        if self.opts.max_size != SIZE_OFF and self.opts.max_size >= 0:
            lines.append(f"Maximum size is: {format_bytes(self.opts.max_size)}")
        lines.append("--- File filter rules ---")
        lines.extend(str(r) for r in self.file_rules)
        lines.append("--- Directory filter rules ---")
        lines.extend(str(r) for r in self.dir_rules)
        if self.meta_rules:
            lines.append("--- Metadata filter rules ---")
            lines.extend(str(r) for r in self.meta_rules)
        return "\n".join(lines)


def _parse_rule_flags(include: Iterable[str], include_from: Iterable[str],
                      exclude: Iterable[str], exclude_from: Iterable[str],
                      filters: Iterable[str], filter_from: Iterable[str],
                      add: Callable[[bool, str], None], clear: Callable[[], None]) -> None:
    """rclone's parseRules: the rule flags in rclone's fixed order, then the implicit
    exclude-all when any include was given."""
    implicit_exclude = False
    found_exclude = False
    for glob in include:
        add(True, glob)
        implicit_exclude = True
    for path in include_from:
        for line in read_lines(path):
            add(True, line)
        implicit_exclude = True
    for glob in exclude:
        add(False, glob)
        found_exclude = True
    for path in exclude_from:
        for line in read_lines(path):
            add(False, line)
        found_exclude = True
    if implicit_exclude and found_exclude:
        log.error(None, "Using --filter is recommended instead of both --include and "
                  "--exclude as the order they are parsed in is indeterminate")
    for text in filters:
        add_rule_text(text, add, clear)
    for path in filter_from:
        for line in read_lines(path):
            add_rule_text(line, add, clear)
    if implicit_exclude:
        add(False, "/**")


def _parse_hash_filter(text: str) -> tuple[int, int]:
    if not text:
        return 0, 0
    k_text, sep, n_text = text.partition("/")
    if not sep:
        raise FilterError("filter: --hash-filter: no / found")
    try:
        n = int(n_text)
        if n < 0:
            raise ValueError
    except ValueError:
        raise FilterError(
            f'filter: --hash-filter: can\'t parse N="{n_text}": invalid syntax') from None
    if n == 0:
        raise FilterError("filter: --hash-filter: N must be greater than 0")
    if k_text == "@":
        import random

        return random.randrange(n), n
    try:
        k = int(k_text)
        if k < 0:
            raise ValueError
    except ValueError:
        raise FilterError(
            f'filter: --hash-filter: can\'t parse K="{k_text}": invalid syntax') from None
    return k % n, n
