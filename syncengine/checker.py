"""``check``: compare source and destination trees file by file, as rclone check does."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from . import log
from .backends.base import Backend, Entry
from .compare import common_hash
from .errors import PysyncError
from .filter import Filter
from .march import pair_entries
from .record import field, record
from .walk import list_dir_filtered

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["CheckOptions", "CheckResult", "run_check"]


@record(frozen=True, kw_only=True)
class CheckOptions:
    """What ``check`` compares and where it writes its reports (streams may be None)."""

    one_way: bool = False
    size_only: bool = False
    download: bool = False
    checkers: int = 8
    combined: TextIO | None = None
    missing_on_src: TextIO | None = None
    missing_on_dst: TextIO | None = None
    match: TextIO | None = None
    differ: TextIO | None = None
    error: TextIO | None = None
    no_unicode_normalization: bool = False


@record
class CheckResult:
    """Counts of a check and the error it ends with (None when the trees match)."""

    matches: int = 0
    differences: int = 0
    missing_on_dst: int = 0
    missing_on_src: int = 0
    errors: int = 0
    no_hash: int = 0
    error: BaseException | None = None
    differing: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """rclone's exit code: 0 when identical, else 1 (or the error's own code)."""
        if self.error is None:
            return 0
        return getattr(self.error, "exit_code", 1)


class _Check:
    def __init__(self, src: Backend, dst: Backend, filt: Filter, opts: CheckOptions) -> None:
        self.src, self.dst, self.filt, self.opts = src, dst, filt, opts
        self.kind = None if opts.size_only or opts.download else common_hash(src, dst)
        self.res = CheckResult()
        self.lock = threading.Lock()
        self._entry_errors: list[BaseException] = []  # listing errors of single entries
        if not opts.size_only and not opts.download and self.kind is None:
            log.notice(dst.describe(), "--checksum is in use but the source and destination "
                       "have no hashes in common; falling back to --size-only")

    def report(self, stream: TextIO | None, sigil: str, path: str) -> None:
        with self.lock:
            if stream is not None:
                stream.write(path + "\n")
            if self.opts.combined is not None:
                self.opts.combined.write(f"{sigil} {path}\n")

    def differ(self, path: str, why: str) -> None:
        log.error(path, why)
        with self.lock:
            self.res.differences += 1
            self.res.errors += 1
            self.res.differing.append(path)
        self.report(self.opts.differ, "*", path)

    def compare(self, s: Entry, d: Entry) -> None:
        try:
            if s.size >= 0 and d.size >= 0 and s.size != d.size:
                self.differ(s.path, "sizes differ")
                return
            if self.opts.download:
                if not self._same_bytes(s.path, d.path):
                    self.differ(s.path, "contents differ")
                    return
            elif self.kind is not None:
                sh, dh = self.src.hash(s.path, self.kind), self.dst.hash(d.path, self.kind)
                if not sh or not dh:
                    with self.lock:
                        self.res.no_hash += 1
                    log.debug(d.path, "OK - could not check hash")
                elif sh != dh:
                    self.differ(s.path, f"{self.kind} differ")
                    return
            log.debug(d.path, "OK")
            with self.lock:
                self.res.matches += 1
            self.report(self.opts.match, "=", s.path)
        except (OSError, PysyncError) as err:
            log.error(s.path, f"Failed to check: {err}")
            with self.lock:
                self.res.errors += 1
            self.report(self.opts.error, "!", s.path)

    def _same_bytes(self, a: str, b: str) -> bool:
        with self.src.open_read(a) as fa, self.dst.open_read(b) as fb:
            while True:
                x = fa.read(1 << 20)
                y = fb.read(1 << 20)
                if x != y:
                    return False
                if not x:
                    return True

    def run(self) -> CheckResult:
        src_desc, dst_desc = self.src.describe(), self.dst.describe()
        # (source dir, destination dir, listed on source, listed on destination): a
        # directory is listed at its own spelling on each side, names pair after NFC
        stack: list[tuple[str, str, bool, bool]] = [("", "", True, True)]
        normalize = not self.opts.no_unicode_normalization
        with ThreadPoolExecutor(max_workers=max(1, self.opts.checkers)) as pool:
            futures = []
            while stack:
                spath, dpath, in_s, in_d = stack.pop()
                s_list = self._list(self.src, spath, in_s)
                d_list = self._list(self.dst, dpath, in_d)
                children: list[tuple[str, str, bool, bool]] = []
                for s, d in pair_entries(s_list, d_list, normalize=normalize):
                    if s is not None and s.is_dir:
                        children.append((s.path, d.path if d else "", True, d is not None))
                    elif s is not None and d is not None:
                        futures.append(pool.submit(self.compare, s, d))
                    elif s is not None:
                        log.error(s.path, f"file not in {dst_desc}")
                        with self.lock:
                            self.res.missing_on_dst += 1
                            self.res.differences += 1
                            self.res.errors += 1
                        self.report(self.opts.missing_on_dst, "+", s.path)
                    elif d is not None and d.is_dir:
                        if not self.opts.one_way:
                            children.append(("", d.path, False, True))
                    elif d is not None and not self.opts.one_way:
                        log.error(d.path, f"file not in {src_desc}")
                        with self.lock:
                            self.res.missing_on_src += 1
                            self.res.differences += 1
                            self.res.errors += 1
                        self.report(self.opts.missing_on_src, "-", d.path)
                stack.extend(reversed(children))
            for f in futures:
                f.result()
        r = self.res
        if r.missing_on_dst:
            log.notice(dst_desc, f"{r.missing_on_dst} files missing")
        if r.missing_on_src:
            log.notice(src_desc, f"{r.missing_on_src} files missing")
        log.notice(dst_desc, f"{r.differences} differences found")
        if r.errors:
            log.notice(dst_desc, f"{r.errors} errors while checking")
        if r.no_hash:
            log.notice(dst_desc, f"{r.no_hash} hashes could not be checked")
        if r.matches:
            log.notice(dst_desc, f"{r.matches} matching files")
        if r.differences:
            r.error = PysyncError(f"{r.differences} differences found")
        elif r.errors and len(self._entry_errors) == r.errors:
            r.error = self._entry_errors[-1]  # rclone: the last, as its run fails with it
        elif r.errors:
            r.error = PysyncError(f"{r.errors} errors while checking")
        return r

    def _list(self, backend: Backend, path: str, present: bool) -> list[Entry]:
        if not present:
            return []
        return list_dir_filtered(backend, self.filt, path, on_unsafe=self._unsafe,
                                 on_entry_error=self._entry_error)

    def _unsafe(self, path: str, err: BaseException) -> None:
        """A refused listed name (logged by the walker) counts as an error of the check."""
        with self.lock:
            self.res.errors += 1

    def _entry_error(self, path: str, err: BaseException) -> None:
        """A local entry's listing error (-L's link to nothing, logged by the walker)
        counts as an error of the check; rclone's check then fails with it."""
        with self.lock:
            self.res.errors += 1
            self._entry_errors.append(err)


def run_check(src: Backend, dst: Backend, filt: Filter, opts: CheckOptions | None = None,
              ) -> CheckResult:
    """Compare every file under ``src`` with its twin under ``dst``.

    Sizes first, then the common hash (``--size-only`` stops at sizes, ``--download``
    compares the bytes). Raises DirNotFoundError when the source root does not exist.
    """
    return _Check(src, dst, filt, opts or CheckOptions()).run()
