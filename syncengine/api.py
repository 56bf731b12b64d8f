"""The library API: ``copy()``, ``sync()``, ``check()`` and ``list_files()`` for Python users."""

from __future__ import annotations

from collections.abc import Iterator

from .backends.base import Backend, Entry
from .engine import RunResult, run_copy
from .errors import FatalError, FilterError, PysyncError, UsageError
from .filter import Filter
from .options import FilterOptions, SyncOptions, option_fields
from .record import replace
from .walk import walk

TYPE_CHECKING = False
if TYPE_CHECKING:  # check() imports the checker when it is used: copy and sync start faster
    from typing import Any

    from .actions import Action
    from .checker import CheckOptions, CheckResult
    from .events import EventCallback
    from .executors import Executor
    from .executors.worker import Location

__all__ = ["copy", "sync", "plan", "check", "list_files", "open_location", "build_options"]


def build_options(options: SyncOptions | None, filters: FilterOptions | None,
                  overrides: dict[str, Any]) -> tuple[SyncOptions, FilterOptions]:
    """Apply keyword overrides (rclone flag names with ``_``) to the two option records.

    String values of size and duration fields are parsed as rclone does (``"1d"``,
    ``"100M"``); unknown names raise UsageError.
    """
    from .units import parse_duration, parse_go_duration, parse_size

    sync_opts = options or SyncOptions()
    filt_opts = filters or FilterOptions()
    s_fields = {f.name: f for f in option_fields(SyncOptions)}
    f_fields = {f.name: f for f in option_fields(FilterOptions)}
    s_over: dict[str, Any] = {}
    f_over: dict[str, Any] = {}
    for name, value in overrides.items():
        fld = s_fields.get(name) or f_fields.get(name)
        if fld is None:
            raise UsageError(f"unknown option {name!r}")
        kind = fld.metadata["kind"]
        if isinstance(value, str) and kind == "size":
            value = parse_size(value)
        elif isinstance(value, str) and kind in ("duration", "cmdduration"):
            value = parse_duration(value)
        elif isinstance(value, str) and kind == "goduration":
            value = parse_go_duration(value)
        elif kind == "list" and isinstance(value, str):
            value = (value,)
        elif kind == "list":
            value = tuple(value)
        (s_over if name in s_fields else f_over)[name] = value
    if "multi_thread_streams" in s_over:
        s_over["multi_thread_streams_set"] = True
    return replace(sync_opts, **s_over), replace(filt_opts, **f_over)


def open_location(spec: str | Backend, *, config_path: str | None = None,
                  copy_links: bool = False, links: bool = False) -> Backend:
    """A Backend for a path, ``name:path`` remote or fsspec URL (a Backend passes through)."""
    if not isinstance(spec, str):
        return spec
    from . import remotes

    return remotes.open_backend(spec, config_path=config_path, copy_links=copy_links,
                                links=links)


def _source(spec: str | Backend, filt: Filter, config_path: str | None, opts: SyncOptions
            ) -> tuple[Backend, Filter, str | Backend]:
    """Open the source; a path naming a single file copies just that file (rclone).
    Also returns the spec of the directory opened (the parent, for a single file)."""
    backend = open_location(spec, config_path=config_path, copy_links=opts.copy_links,
                            links=opts.links)
    entry = backend.stat("")
    if entry is None or entry.is_dir or not isinstance(spec, str):
        return backend, filt, spec
    if filt.active:
        from .remotes import redact_spec

        raise FilterError(f"Can't limit to single files when using filters: "
                          f"{redact_spec(spec)}")
    parent, name = _parent(spec)
    backend = open_location(parent, config_path=config_path, copy_links=opts.copy_links,
                            links=opts.links)
    single = Filter()
    single.files, single.dirs = {name}, set()
    single.single_file = name
    return backend, single, parent


def open_backup_dir(spec: str, *, config_path: str | None = None) -> Backend:
    """The backend of ``--backup-dir``; FatalError (exit 7) with rclone's message when it
    cannot be opened (``failed to make fs for --backup-dir "spec": ...``)."""
    from .remotes import redact_spec

    try:
        return open_location(spec, config_path=config_path)
    except (PysyncError, OSError) as err:
        raise FatalError(f'failed to make fs for --backup-dir "{redact_spec(spec)}": '
                         f"{err}") from None


def _parent(spec: str) -> tuple[str, str]:
    head, sep, name = spec.rstrip("/").rpartition("/")
    if sep:
        return (head or "/"), name
    prefix, colon, rest = spec.rpartition(":")
    if colon:
        return prefix + ":", rest
    return ".", spec


def worker_locations(src_spec: str | Backend, src: Backend, dst_spec: str | Backend,
                     dst: Backend, *, config_path: str | None, options: SyncOptions
                     ) -> tuple[Location, Location]:
    """How workers of another process or host open the two sides: their specs (local paths
    made absolute) with the config. UsageError when a side was given as a Backend object."""
    from .executors.worker import Location

    if not isinstance(src_spec, str) or not isinstance(dst_spec, str):
        raise UsageError("a remote executor needs the source and destination as strings "
                         "(paths, name:path remotes or URLs), not Backend objects")
    from .remotes import load_config

    cfg = load_config(config_path)  # once for both
    return (Location.capture(src_spec, src, config=cfg, copy_links=options.copy_links,
                             links=options.links),
            Location.capture(dst_spec, dst, config=cfg))


def _run(mode: str, src: str | Backend, dst: str | Backend, options: SyncOptions | None,
         filters: FilterOptions | None, config_path: str | None, overrides: dict[str, Any],
         executor: Executor | None = None, on_event: EventCallback | None = None
         ) -> RunResult:
    opts, fopts = build_options(options, filters, overrides)
    filt = Filter(fopts)
    src_b, filt, src_spec = _source(src, filt, config_path, opts)
    dst_b = open_location(dst, config_path=config_path)
    backup = None
    if opts.backup_dir:
        backup = open_backup_dir(opts.backup_dir, config_path=config_path)
    try:
        locations = None
        if executor is not None and executor.remote:
            locations = worker_locations(src_spec, src_b, dst, dst_b, config_path=config_path,
                                         options=opts)
        compare = tuple(open_location(c, config_path=config_path)
                        for c in opts.compare_dest or opts.copy_dest)
        try:
            return run_copy(mode, src_b, dst_b, filt, opts, backup=backup,
                            executor=executor, locations=locations, on_event=on_event,
                            compare_dest=compare)
        finally:
            for b in compare:
                b.close()
    finally:
        for b in (src_b, dst_b, backup):
            if b is not None and b is not src and b is not dst:
                b.close()


def copy(src: str | Backend, dst: str | Backend, *, options: SyncOptions | None = None,
         filters: FilterOptions | None = None, config_path: str | None = None,
         executor: Executor | None = None, on_event: EventCallback | None = None,
         **overrides: Any) -> RunResult:
    """Copy ``src`` to ``dst`` as ``rclone copy`` does: never deletes anything.

    ``src``/``dst`` are local paths, ``name:path`` remotes (``config_path`` or the usual
    rclone.conf locations) or fsspec URLs. Keyword ``overrides`` use rclone's flag names
    (``min_age="1d"``, ``filter=["- *.fdb"]``, ``dry_run=True``). Per-file errors are in
    ``result.errors`` and ``result.exit_code`` is rclone's; set-up errors (bad flags, bad
    filters, missing source directory) raise ``PysyncError`` subclasses.

    ``executor``: what copies the files (default: this process's threads;
    ``syncengine.executors.DaskExecutor`` for Dask workers, which needs string locations).
    ``on_event``: called with a ``TransferEvent`` when a file's transfer starts, finishes
    or fails (from several threads).
    """
    return _run("copy", src, dst, options, filters, config_path, overrides, executor,
                on_event)


def sync(src: str | Backend, dst: str | Backend, *, options: SyncOptions | None = None,
         filters: FilterOptions | None = None, config_path: str | None = None,
         executor: Executor | None = None, on_event: EventCallback | None = None,
         **overrides: Any) -> RunResult:
    """Make ``dst`` identical to ``src`` as ``rclone sync`` does (see ``copy`` for arguments).

    Deletes destination-only files after the transfers (``--delete-after``) and only when
    no error was counted in the run (on the coordinator, whatever executor copies).
    """
    return _run("sync", src, dst, options, filters, config_path, overrides, executor,
                on_event)


def plan(src: str | Backend, dst: str | Backend, *, mode: str = "sync",
         options: SyncOptions | None = None, filters: FilterOptions | None = None,
         config_path: str | None = None, **overrides: Any) -> Iterator[Action]:
    """Yield the actions a ``mode`` (``"copy"`` or ``"sync"``) run would carry out: what
    ``--dry-run`` reports, as typed records (``syncengine.actions``: Copy, Replace,
    SetMtime, Delete, Mkdir, Rmdir), while the trees are still being compared.

    Nothing is changed on either side. Copies and time updates come in march order;
    deletions (sync) after them, and only when no error was met (as a real run does);
    directory removals last. Set-up errors raise as for ``copy``; a listing error ends the
    stream with the run's error raised (a PysyncError or OSError). Closing the generator
    early stops the planner.
    """
    import queue
    import threading

    from .engine import plan_run

    opts, fopts = build_options(options, filters, overrides)
    filt = Filter(fopts)
    src_b, filt, _ = _source(src, filt, config_path, opts)
    dst_b = open_location(dst, config_path=config_path)
    compare = tuple(open_location(c, config_path=config_path)
                    for c in opts.compare_dest or opts.copy_dest)
    done = object()
    q: queue.Queue[Any] = queue.Queue(maxsize=1024)
    stop = threading.Event()  # the planner stops (the consumer closed, or a fatal error)
    closed = threading.Event()  # the consumer closed the generator
    outcome: list[RunResult | BaseException] = []

    def put(item: Any) -> None:
        # ``closed`` (the consumer is gone), not ``stop``: the planner's own fatal error
        # (past --max-delete) sets ``stop``, and the end of the stream must still arrive
        while not closed.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            outcome.append(plan_run(mode, src_b, dst_b, filt, opts, put, stop=stop,
                                    compare_dest=compare))
        except BaseException as err:  # handed to the consumer below
            outcome.append(err)
        finally:
            put(done)

    thread = threading.Thread(target=work, name="plan", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                break
            yield item
    finally:
        closed.set()
        stop.set()
        thread.join()
        for b in compare:
            b.close()
        for b in (src_b, dst_b):
            if b is not src and b is not dst:
                b.close()
    result = outcome[0] if outcome else None
    if isinstance(result, BaseException):
        raise result
    if result is not None and result.error is not None:
        raise result.error


def check(src: str | Backend, dst: str | Backend, *, filters: FilterOptions | None = None,
          options: CheckOptions | None = None, config_path: str | None = None) -> CheckResult:
    """Compare ``src`` and ``dst`` as ``rclone check`` does; ``result.differences`` is 0 when
    they match."""
    from .checker import run_check

    filt = Filter(filters or FilterOptions())
    src_b = open_location(src, config_path=config_path)
    dst_b = open_location(dst, config_path=config_path)
    return run_check(src_b, dst_b, filt, options)


def list_files(location: str | Backend, *, filters: FilterOptions | None = None,
               recursive: bool = True, config_path: str | None = None) -> Iterator[Entry]:
    """Yield the entries under ``location`` that pass ``filters``, directory by directory."""
    fopts = filters or FilterOptions()
    filt = Filter(fopts)
    backend = open_location(location, config_path=config_path)
    depth = fopts.max_depth if recursive else 1
    for _, entries in walk(backend, filt, max_depth=depth):
        yield from entries
