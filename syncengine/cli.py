"""The ``pysync`` command line: rclone's flag names, one-line errors, rclone's exit codes."""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import EXIT_USAGE, PysyncError, UsageError
from .options import (
    CheckFlags,
    FilterOptions,
    GlobalOptions,
    LinkFlags,
    ListOptions,
    ReportFlags,
    SyncOptions,
    option_fields,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, TypeVar

    T = TypeVar("T")

__all__ = ["main"]


@functools.cache
def _help_width() -> int:
    """The width shutil.get_terminal_size() gives argparse, found without importing shutil:
    argparse imports it (and with it bz2, lzma and fnmatch) for every parser it builds."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=_help_width())


def _raw_formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, width=_help_width())


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one rclone-like line and exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _formatter)
        super().__init__(*args, **kwargs)

    def format_usage(self) -> str:
        """A one-line usage. argparse's parse_intermixed_args formats the full usage of every
        flag before each parse, for error messages this parser never prints (``error``
        raises one rclone-like line instead). ``--help`` shows this line, as rclone's help
        does, and then every flag with its help."""
        return f"usage: {self.prog} [flags]\n"

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument ") and ": ignored explicit argument " in message:
            # a bool flag given a value Go's ParseBool refuses (--dry-run=maybe)
            flags, _, value = message.partition(": ignored explicit argument ")
            flag = flags.split()[1].split("/")[0]
            value = value.strip("'")
            message = (f'invalid argument "{value}" for "{flag}" flag: parsing "{value}" as '
                       f'bool failed: strconv.ParseBool: parsing "{value}": invalid syntax')
        elif message.startswith("unrecognized arguments: "):
            message = "unknown flag: " + message.split(": ", 1)[1].split()[0]
        elif message.startswith("argument ") and "expected one argument" in message:
            flag = message.split()[1].split("/")[-1].rstrip(":")
            message = f"flag needs an argument: {flag}"
        raise UsageError(message)


#: the values Go's strconv.ParseBool takes, as ``--flag=VALUE`` of a bool flag
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False,
             "False": False}


def _checked(meta: dict[str, Any], raw: str) -> str:
    """A flag's value, checked where it stands: rclone (pflag) refuses a bad value even if
    the flag is given again later with a good one. The text is kept (``_make`` converts)."""
    if meta["kind"] not in ("str", "list", "bool", "count"):
        _convert(meta["kind"], meta["flag"], raw, meta)
    return raw


def _add_options(parser: argparse.ArgumentParser, cls: type,
                 leave_out: frozenset[str] = frozenset(),
                 given: frozenset[str] | None = None) -> None:
    """Add the flags of options class ``cls``. A boolean flag also takes Go's spellings of
    a value (``--flag=false``...): ``given``, the words of the command line, limits those
    hidden variants to the ones it holds (12 per flag otherwise, half of the parser's set-up
    time); None adds them all."""
    group = parser.add_argument_group(cls.__name__.replace("Options", " flags"))
    for f in option_fields(cls):
        if f.name in leave_out:
            continue
        m = f.metadata
        names = [m["flag"]] + ([m["short"]] if m["short"] else [])
        kind = m["kind"]
        if kind == "bool":
            group.add_argument(*names, dest=f.name, action="store_const", const=True,
                               default=None, help=m["help"])
            for value, const in _GO_BOOLS.items():
                spelled = f"{m['flag']}={value}"
                if given is None or spelled in given:
                    group.add_argument(spelled, dest=f.name, action="store_const",
                                       const=const, help=argparse.SUPPRESS)
        elif kind == "count":
            group.add_argument(*names, dest=f.name, action="count", default=None,
                               help=m["help"])
        elif kind == "list":
            group.add_argument(*names, dest=f.name, action="append", default=None,
                               metavar="VALUE", help=m["help"])
        else:
            metavar = m.get("metavar") or {
                "goduration": "DURATION", "cmdduration": "DURATION", "str": "STRING",
                "bits": "STRING", "bwlimit": "BwTimetable", "time": "Time"}.get(
                kind, "|".join(m["choices"]) if kind == "enum" else kind.upper())
            group.add_argument(*names, dest=f.name, default=None, metavar=metavar,
                               type=functools.partial(_checked, m), help=m["help"])


def _convert(kind: str, flag: str, raw: str, meta: dict[str, Any] | None = None) -> Any:
    from .units import go_quote, parse_bwlimit, parse_duration, parse_go_duration, parse_size

    if kind == "spacesep":  # rclone's fs.SpaceSepList (--metadata-mapper): its own message
        from .metadata import parse_mapper

        parse_mapper(raw, flag)
        return raw
    try:
        if kind == "cmdduration":
            try:
                return parse_duration(raw)
            except UsageError as err:  # a plain command flag: no "parsing ... as T failed"
                prefix = f"parsing {go_quote(raw)} as fs.Duration failed: "
                raise UsageError(str(err).removeprefix(prefix)) from None
        if kind == "time":  # rclone's fs.Time: a date, or a duration back from now
            try:
                parse_duration(raw)
            except UsageError as err:
                raise UsageError(str(err).replace(" as fs.Duration ", " as fs.Time ")
                                 ) from None
            return raw
        if kind == "bwlimit":
            parse_bwlimit(raw)
            return raw
        if kind == "enum":
            return parse_enum(raw, (meta or {})["choices"], (meta or {})["gotype"])
        if kind == "bits":
            return parse_bits(raw, (meta or {})["choices"], (meta or {})["gotype"])
        if kind == "size":
            return parse_size(raw)
        if kind == "duration":
            return parse_duration(raw)
        if kind == "goduration":
            return parse_go_duration(raw)
        if kind in ("int", "int64"):
            return _go_int(raw, kind)
        if kind == "float":
            try:
                return float(raw)
            except ValueError:
                raise UsageError(f'parsing "{raw}" as float failed') from None
        return raw
    except UsageError as err:
        raise UsageError(f'invalid argument "{raw}" for "{flag}" flag: {err}') from None


def _go_int(raw: str, kind: str) -> int:
    """An int flag as rclone reads it (fmt.Sscan), with its messages: ``EOF`` for nothing,
    ``expected newline`` for text after the number, else ``expected integer``."""
    import re

    m = re.match(r"[+-]?[0-9]+", raw)
    if m is not None and m.end() == len(raw):
        return int(raw, 10)
    why = "EOF" if not raw else "expected newline" if m is not None else "expected integer"
    raise UsageError(f'parsing "{raw}" as {kind} failed: {why}')


def parse_enum(raw: str, choices: Sequence[str], gotype: str) -> str:
    """rclone's fs.Enum: one of ``choices`` in any case, returned as the choice is spelt."""
    for choice in choices:
        if raw.casefold() == choice.casefold():
            return choice
    raise UsageError(f'parsing "{raw}" as {gotype} failed: invalid choice "{raw}" from: '
                     + ", ".join(choices))


def parse_bits(raw: str, choices: Sequence[str], gotype: str) -> str:
    """rclone's fs.Bits: comma-separated ``choices`` (any case, blanks ignored), returned
    as a comma-separated list of the choices as they are spelt."""
    got: list[str] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        for choice in choices:
            if part.casefold() == choice.casefold():
                got.append(choice)
                break
        else:
            raise UsageError(f'parsing "{raw}" as {gotype} failed: invalid choice "{part}" '
                             "from: " + ", ".join(choices))
    return ",".join(got)


def _csv_round_trip(raw: list[str]) -> tuple[str, ...]:
    """rclone re-reads list flags from their CSV form: a list holding one empty value is
    empty, and the last value loses trailing blanks unless it starts with a space or holds
    ``,`` or ``"`` (then it was quoted)."""
    if raw == [""]:
        return ()
    values = list(raw)
    last = values[-1]
    if not (last.startswith(" ") or "," in last or '"' in last):
        values[-1] = last.rstrip(" \t")
    return tuple(values)


def _make(cls: type[T], ns: argparse.Namespace) -> T:
    values: dict[str, Any] = {}
    for f in option_fields(cls):
        raw = getattr(ns, f.name, None)
        if raw is None:
            continue
        kind = f.metadata["kind"]
        if kind == "list":
            # rclone reads a list flag given once with an empty value as no value at all
            values[f.name] = _csv_round_trip(raw)
        elif kind in ("bool", "count"):
            values[f.name] = raw
        else:
            values[f.name] = _convert(kind, f.metadata["flag"], raw, f.metadata)
    return cls(**values)


# ----- commands ---------------------------------------------------------------------------

Command = Callable[[argparse.Namespace, GlobalOptions], int]


def _check_args(name: str, args: Sequence[str], lo: int, hi: int) -> None:
    if len(args) < lo:
        raise UsageError(f"Command {name} needs {lo} arguments minimum: you provided "
                         f"{len(args)} non flag arguments: {_go_list(args)}")
    if len(args) > hi:
        raise UsageError(f"Command {name} needs {hi} arguments maximum: you provided "
                         f"{len(args)} non flag arguments: {_go_list(args)}")


def _go_list(args: Sequence[str]) -> str:
    return "[" + " ".join(f'"{a}"' for a in args) + "]"


def _config_path(gopts: GlobalOptions) -> str | None:
    """The ``--config`` value when given (``""``: rclone's in-memory config, no file at
    all), else None (``$PYSYNC_CONFIG``, ``$RCLONE_CONFIG``, the usual places)."""
    return gopts.config if gopts.config_set else None


def _filter_from(ns: argparse.Namespace, gopts: GlobalOptions) -> Any:
    from .filter import Filter

    fopts = _make(FilterOptions, ns)
    try:
        filt = Filter(fopts)
    except PysyncError as err:
        raise type(err)(f'Failed to initialise global options: failed to reload "filter" '
                        f"options: {err}") from None
    if "filters" in gopts.dump.split(","):
        from . import log
        log.notice(None, "Automatically setting -vv as --dump is enabled")
        print("--- start filters ---")
        print(filt.dump())
        print("--- end filters ---", flush=True)
    return filt


def _source(ns: argparse.Namespace, spec: str, filt: Any, gopts: GlobalOptions
            ) -> tuple[Any, Any]:
    """Open ``spec``; a path naming a file lists just that file (rclone's NewFsFile)."""
    from . import api

    links = SyncOptions(copy_links=bool(getattr(ns, "copy_links", False)),
                        links=bool(getattr(ns, "links", False)))
    backend, filt, _ = _fs_errors(spec, lambda: api._source(spec, filt, _config_path(gopts),
                                                             links))
    return backend, filt


def _fs_errors(spec: str, fn: Callable[[], T]) -> T:
    """Prefix a remote set-up error with the spec, as rclone's "Failed to create file system"."""
    from .errors import ConfigError
    from .remotes import redact_spec

    try:
        return fn()
    except ConfigError as err:  # keep the class (and so the exit code), prefix the message
        err.message = (f'Failed to create file system for "{redact_spec(spec)}": '
                       f'{err.message}')
        err.args = (err.message,)
        raise
    finally:
        _start_up_done()


def _start_up_done() -> None:
    """The console script's start-up (imports, backend set-up) is over: the objects made so
    far are frozen (never scanned again) and the cyclic garbage collector runs again."""
    global _GC_PAUSED
    if _GC_PAUSED:
        _GC_PAUSED = False
        gc.freeze()
        gc.enable()


def _cmd_lsf(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
    from . import listing

    _check_args("lsf", ns.args, 1, 1)
    lopts = _make(ListOptions, ns)
    fopts = _make(FilterOptions, ns)
    from .hashing import canonical

    try:
        canonical(lopts.hash)
    except ValueError as err:
        raise UsageError(f'invalid argument "{lopts.hash}" for "--hash" flag: {err}') from None
    filt = _filter_from(ns, gopts)
    backend, filt = _source(ns, ns.args[0], filt, gopts)
    max_depth = fopts.max_depth
    if not lopts.recursive and max_depth < 0:
        max_depth = 1  # rclone: without -R only the top level, unless --max-depth says more
    return listing.lsf(backend, filt, lopts, max_depth=max_depth, out=sys.stdout)


def _cmd_ls(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
    from . import listing

    _check_args("ls", ns.args, 1, 1)
    fopts = _make(FilterOptions, ns)
    filt = _filter_from(ns, gopts)
    backend, filt = _source(ns, ns.args[0], filt, gopts)
    return listing.ls(backend, filt, max_depth=fopts.max_depth, out=sys.stdout)


def _cmd_size(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
    from . import listing

    _check_args("size", ns.args, 1, 1)
    fopts = _make(FilterOptions, ns)
    filt = _filter_from(ns, gopts)
    backend, filt = _source(ns, ns.args[0], filt, gopts)
    return listing.size(backend, filt, max_depth=fopts.max_depth, as_json=ns.json,
                        spec=ns.args[0], out=sys.stdout)


def _open_pair(ns: argparse.Namespace, gopts: GlobalOptions, sopts: SyncOptions | None
               ) -> tuple[Any, Any, Any, str]:
    """Source, destination, filter, and the spec the source was opened at (the parent
    directory of a single source file)."""
    from . import api

    filt = _filter_from(ns, gopts)
    cfg = _config_path(gopts)
    # check takes -L/-l as LinkFlags (copy and sync as SyncOptions)
    copy_links = bool(getattr(ns, "copy_links", False))
    links = bool(getattr(ns, "links", False))
    spec0, spec1 = ns.args[0], ns.args[1]
    _log_creating(spec0, cfg, first=True)
    if sopts is not None:
        src, filt, spec0 = _fs_errors(spec0, lambda: api._source(spec0, filt, cfg, sopts))
    else:
        src = _fs_errors(spec0, lambda: api.open_location(spec0, config_path=cfg,
                                                          copy_links=copy_links, links=links))
    _log_creating(spec1)
    dst = _fs_errors(spec1, lambda: api.open_location(spec1, config_path=cfg,
                                                      copy_links=copy_links, links=links))
    if sopts is not None and _is_file(dst):  # rclone's NewFs of the destination
        from .errors import ConfigError
        from .remotes import redact_spec

        raise ConfigError(f'Failed to create file system for "{redact_spec(spec1)}": is a '
                          "file not a directory")
    return src, dst, filt, spec0


def _log_creating(spec: str, config_path: str | None = None, *, first: bool = False
                  ) -> None:
    """rclone's DEBUG lines as a location is opened: ``Creating backend with remote "..."``
    (secrets masked) and, for the ``first`` one, the config file used (``config_path``:
    the --config value, None for the usual places)."""
    from . import log

    if not log.debug_enabled():
        return
    from .remotes import find_config_file, redact_spec

    log.debug(None, f'Creating backend with remote "{redact_spec(spec)}"')
    if first:
        path, _ = find_config_file(config_path)
        if path is not None and os.path.isfile(path):
            log.debug(None, f'Using config file from "{path}"')


def _is_file(backend: Any) -> bool:
    """The root of ``backend`` is a file (a destination must be a directory)."""
    try:
        entry = backend.stat("")
    except OSError:
        return False
    return entry is not None and not entry.is_dir


def _open_copyto(ns: argparse.Namespace, gopts: GlobalOptions, sopts: SyncOptions
                 ) -> tuple[Any, Any, Any, str, str]:
    """copyto's source and destination (rclone's NewFsSrcDstFiles): a source directory is
    copied as ``copy`` does; a source file goes to the destination path's parent under
    the path's last name. Also returns the specs the two sides were opened at."""
    from . import api
    from .errors import ConfigError

    filt = _filter_from(ns, gopts)
    cfg = _config_path(gopts)
    spec0, spec1 = ns.args[0], ns.args[1]
    src, filt, spec0 = _fs_errors(spec0, lambda: api._source(spec0, filt, cfg, sopts))
    if filt.single_file:
        if spec1.endswith(("/", ":")) or (os.sep != "/" and spec1.endswith(os.sep)):
            raise ConfigError(f'"{spec1}" is a directory')
        spec1, leaf = api._parent(spec1)
        filt.files = {filt.single_file, leaf}
        filt.single_target = leaf
    dst = _fs_errors(spec1, lambda: api.open_location(spec1, config_path=cfg))
    if _is_file(dst):
        raise ConfigError("Source doesn't exist or is a directory and destination is a file")
    return src, dst, filt, spec0, spec1


#: rclone flags pysync refuses (exit 2) rather than half-implement
_NOT_SUPPORTED: tuple[tuple[str, str], ...] = ()


def _refuse_unsupported(sopts: SyncOptions) -> None:
    from .errors import NotSupportedError

    for name, flag in _NOT_SUPPORTED:
        if getattr(sopts, name):
            raise NotSupportedError(f"{flag} is not supported yet")



def _open_compare_dest(sopts: SyncOptions, gopts: GlobalOptions) -> tuple[Any, ...]:
    """The ``--compare-dest`` (or ``--copy-dest``) directories; FatalError with rclone's
    message when one cannot be opened or names a file."""
    from . import api
    from .errors import FatalError
    from .units import go_quote

    flag, specs = (("--copy-dest", sopts.copy_dest) if sopts.copy_dest and
                   not sopts.compare_dest else ("--compare-dest", sopts.compare_dest))
    found = []
    for spec in specs:
        try:
            backend = api.open_location(spec, config_path=_config_path(gopts))
            entry = backend.stat("")
        except (PysyncError, OSError) as err:
            why: object = err
        else:
            if entry is None or entry.is_dir:
                found.append(backend)
                continue
            why = "is a file not a directory"
        for b in found:
            b.close()
        shown = " ".join(go_quote(x) for x in specs)
        raise FatalError(f"failed to make fs for {flag} [{shown}]: {why}")
    return tuple(found)


def _transfer_command(mode: str) -> Command:
    def handler(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
        from . import api
        from .accounting import Stats
        from .engine import failure_message, run_copy
        from .progress import StatsReporter
        from .record import replace

        _check_args(mode, ns.args, 2, 2)
        sopts = _make(SyncOptions, ns)
        _refuse_unsupported(sopts)
        from .engine import check_global_options

        check_global_options(sopts)
        if ns.multi_thread_streams is not None:
            sopts = replace(sopts, multi_thread_streams_set=True)
        executor = _executor(sopts)  # before anything is opened: a missing extra fails fast
        dst_spec = ns.args[1]
        if mode == "copyto":
            src, dst, filt, src_spec, dst_spec = _open_copyto(ns, gopts, sopts)
        else:
            src, dst, filt, src_spec = _open_pair(ns, gopts, sopts)
        backup = None
        if sopts.backup_dir:
            from .errors import FatalError

            try:
                backup = api.open_backup_dir(sopts.backup_dir, config_path=_config_path(gopts))
            except FatalError as err:  # rclone: a fatal error of the run, not a usage one
                from . import log
                from .engine import refuse_run

                if sopts.check_first:  # rclone opens its backup dir after saying this
                    log.info(dst.describe(), "Running all checks before starting transfers")
                return refuse_run(mode, Stats(), err).exit_code
        locations = None
        if executor is not None:
            locations = api.worker_locations(src_spec, src, dst_spec, dst,
                                             config_path=_config_path(gopts), options=sopts)
        stats = Stats()
        from .report import SyncReport

        report = SyncReport(_make(ReportFlags, ns), sopts, deleting=mode == "sync")
        reporter = StatsReporter(stats, sopts, json_log=gopts.use_json_log)
        try:
            report.open()
        except OSError as err:
            report.close()
            from .errors import ConfigError

            raise ConfigError(f"open {err.filename}: {err.strerror}") from None
        report.set_backends(src, dst)
        reporter.start()
        try:
            from .engine import setup_failed
            from .errors import FatalError

            engine_mode = "sync" if mode == "sync" else "copy"
            try:
                compare = _open_compare_dest(sopts, gopts)
            except FatalError as err:
                result = setup_failed(engine_mode, stats, err)
            else:
                result = run_copy(engine_mode, src, dst, filt, sopts, stats=stats,
                                  backup=backup, report=report, compare_dest=compare,
                                  report_failure=False, executor=executor,
                                  locations=locations)
        finally:
            reporter.stop()
            report.close()
        # rclone prints them (with --stats 0) when the run counted errors: not for
        # --error-on-no-transfer's exit 9, decided when it exits
        reporter.final(failed=result.exit_code not in (0, 9))
        message = failure_message(mode, result)
        if message:  # rclone: after the final stats
            from . import log

            log.notice(None, message)
        return result.exit_code

    return handler


def _executor(sopts: SyncOptions) -> Any:
    """The Dask executor ``--dask-scheduler`` (or ``$PYSYNC_DASK_SCHEDULER``) or
    ``--dask-workers`` asks for, else None (the engine's own threads)."""
    scheduler = sopts.dask_scheduler or os.environ.get("PYSYNC_DASK_SCHEDULER", "")
    if not scheduler and sopts.dask_workers <= 0:
        return None
    if sopts.dask_workers < 0:
        raise UsageError(f'invalid argument "{sopts.dask_workers}" for "--dask-workers" flag: '
                         "must not be negative")
    from .executors import executor_for

    return executor_for(scheduler, sopts.dask_workers, transfers=sopts.transfers)


def _cmd_check(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
    import contextlib

    from .checker import CheckOptions, run_check

    _check_args("check", ns.args, 2, 2)
    flags = _make(CheckFlags, ns)
    src, dst, filt, _ = _open_pair(ns, gopts, None)
    with contextlib.ExitStack() as stack:
        streams: dict[str, Any] = {}
        for name in ("combined", "missing_on_src", "missing_on_dst", "match", "differ",
                     "error"):
            path = getattr(flags, name)
            if not path:
                streams[name] = None
            elif path == "-":
                streams[name] = sys.stdout
            else:
                streams[name] = stack.enter_context(open(path, "w", encoding="utf-8"))
        result = run_check(src, dst, filt, CheckOptions(
            one_way=flags.one_way, size_only=flags.size_only, download=flags.download,
            checkers=flags.checkers, **streams))
    if result.error is not None:
        from . import log
        log.notice(None, f"Failed to check: {result.error}" if result.errors <= 1 else
                   f"Failed to check with {result.errors} errors: last error was: "
                   f"{result.error}")
    return result.exit_code


def _cmd_version(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
    print(_version_text())
    return 0


def _version_text() -> str:
    import platform

    return (f"pysync v{__version__}\n- os/type: {sys.platform}\n- os/arch: {platform.machine()}\n"
            f"- python/version: {platform.python_version()}")


def _write(text: str) -> None:
    """Print command output; a name the config file holds as invalid UTF-8 passes through."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()


def _listremotes_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--long", action="store_true",
                   help="Show type and description in addition to name")
    p.add_argument("--json", action="store_true", help="Format output as JSON")
    for flag, what in (("name", "name"), ("type", "type"),
                       ("source", "source, e.g. 'file' or 'environment'"),
                       ("description", "description")):
        p.add_argument(f"--{flag}", default="", metavar="STRING",
                       help=f"Filter remotes by {what}")
    p.add_argument("--exact", action="store_true", help="Match filter strings exactly instead "
                   "of using non-anchored glob matching")
    p.add_argument("--order-by", default="", metavar="STRING", help="Instructions on how to "
                   "order the result, e.g. 'type,name=descending'")


def _cmd_listremotes(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
    from . import remotes

    _check_args("listremotes", ns.args, 0, 1)
    found = remotes.select_remotes(
        remotes.list_remotes(remotes.load_config(_config_path(gopts))),
        ns.args[0] if ns.args else "", name=ns.name, kind=ns.type, source=ns.source,
        description=ns.description, exact=ns.exact, order_by=ns.order_by)
    _write(remotes.format_remotes(found, long=ns.long, as_json=ns.json))
    return 0


_CONFIG_SUBCOMMANDS = ("create", "delete", "dump", "edit", "file", "password", "paths",
                       "providers", "redacted", "show", "touch", "unset", "update")


def _config_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("config create/update flags")
    for flag, text in (("obscure", "Force any passwords to be obscured"),
                       ("no-obscure", "Force any passwords not to be obscured"),
                       ("no-output", "Don't provide any output"),
                       ("non-interactive", "Don't interact with user and return questions")):
        group.add_argument(f"--{flag}", action="store_true", help=text)


def _cmd_config(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
    from . import configcmd, remotes

    # --config "" is rclone's memory-only config (nothing is saved), not "the default file"
    cfg_path = getattr(ns, "config", None)
    if not ns.args or ns.args[0] == "edit":
        _check_args("config", ns.args[1:], 0, 0)
        configcmd.edit_config(cfg_path)
        return 0
    sub, args = ns.args[0], ns.args[1:]
    if sub not in _CONFIG_SUBCOMMANDS:
        raise UsageError(f'unknown command "{sub}" for "pysync config"')
    if sub == "file":
        _check_args(sub, args, 0, 0)
        _write(remotes.config_location(cfg_path))
    elif sub in ("show", "redacted"):
        _check_args(sub, args, 0, 1)
        cfg = remotes.load_config(cfg_path)
        redacted = sub == "redacted"
        _write(remotes.show_remote(cfg, args[0], redacted=redacted) if args
               else remotes.show_config(cfg, redacted=redacted))
    elif sub == "paths":
        _check_args(sub, args, 0, 0)
        _write(configcmd.paths_text(cfg_path))
    elif sub == "providers":
        _check_args(sub, args, 0, 0)
        _write(configcmd.providers_json())
    elif sub in ("touch", "dump"):
        _check_args(sub, args, 0, 0)
        session = configcmd.ConfigSession(cfg_path)
        if sub == "touch":
            session.save()
        else:
            _write(session.dump())
    elif sub == "delete":
        _check_args(sub, args, 1, 1)
        configcmd.ConfigSession(cfg_path).delete(args[0])
    else:
        _config_edit(sub, args, ns, cfg_path)
    return 0


def _config_edit(sub: str, args: list[str], ns: argparse.Namespace, cfg_path: str | None
                 ) -> None:
    """config create/update/password/unset: change one remote, then print it as rclone."""
    from . import configcmd

    _check_args(sub, args, 2 if sub in ("create", "unset") else 1, 256)
    session = configcmd.ConfigSession(cfg_path)
    name = args[0]
    if sub == "unset":
        session.unset(name, args[1:])
        _write(session.show_remote(name))
        return
    values = configcmd.args_to_map(args[2:] if sub == "create" else args[1:])
    if sub == "password":
        session.password(name, values)
        _write(session.show_remote(name))
        return
    flags = {"obscure_all": ns.obscure, "no_obscure": ns.no_obscure}
    if sub == "create":
        session.create(name, args[1], values, **flags)
    else:
        session.update(name, values, **flags)
    if ns.no_output:
        return
    _write(configcmd.non_interactive_output() if ns.non_interactive
           else session.show_remote(name))


def _cmd_obscure(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
    from . import configcmd

    _check_args("obscure", ns.args, 1, 1)
    _write(configcmd.obscure_command(ns.args[0]))
    return 0


def _cmd_reveal(ns: argparse.Namespace, gopts: GlobalOptions) -> int:
    from . import configcmd

    _check_args("reveal", ns.args, 1, 1)
    _write(configcmd.reveal_command(ns.args[0]))
    return 0


_COMMANDS: dict[str, tuple[str, tuple[type, ...], Command]] = {
    "lsf": ("List directories and objects in remote:path formatted for parsing.",
            (ListOptions, FilterOptions, LinkFlags), _cmd_lsf),
    "ls": ("List the objects in the path with size and path.", (FilterOptions, LinkFlags),
           _cmd_ls),
    "size": ("Prints the total size and number of objects in remote:path.",
             (FilterOptions, LinkFlags), _cmd_size),
    "copy": ("Copy files from source to dest, skipping identical files.",
             (SyncOptions, ReportFlags, FilterOptions), _transfer_command("copy")),
    "sync": ("Make source and dest identical, modifying destination only.",
             (SyncOptions, ReportFlags, FilterOptions), _transfer_command("sync")),
    "copyto": ("Copy files from source to dest, skipping identical files: a file to a new "
               "name, a directory as copy does.",
               (SyncOptions, ReportFlags, FilterOptions), _transfer_command("copyto")),
    "check": ("Checks the files in the source and destination match.",
              (CheckFlags, FilterOptions, LinkFlags), _cmd_check),
    "version": ("Show the version number.", (), _cmd_version),
    "listremotes": ("List the remotes of the config file and the environment.", (),
                    _cmd_listremotes),
    "config": ("Enter an interactive configuration session (on a terminal), or: create, "
               "update, delete, password, unset, show, redacted, dump, file, paths, touch, "
               "providers.", (), _cmd_config),
    "obscure": ("Obscure password for use in the config file ('-': read it from stdin).", (),
                _cmd_obscure),
    "reveal": ("Reveal an obscured password.", (), _cmd_reveal),
}


#: option fields a command does not take although its option classes hold them (rclone's
#: copyto has no --create-empty-src-dirs: an unknown flag there)
_LEFT_OUT = {"copyto": frozenset({"create_empty_src_dirs"})}


def _top_parser() -> _Parser:
    parser = _Parser(prog="pysync", allow_abbrev=False,
                     description="pysync: rclone's copy and sync, in Python, over fsspec.",
                     formatter_class=_raw_formatter,
                     epilog="commands:\n" + "\n".join(
                         f"  {name:<13}{text}" for name, (text, _, _) in _COMMANDS.items())
                     + "\n\nRun 'pysync COMMAND --help' for a command's flags.")
    parser.add_argument("--version", action="store_true", help="Print the version number")
    parser.add_argument("command", nargs="?", help=argparse.SUPPRESS)
    return parser


def _command_parser(name: str, argv: list[str] | None = None) -> _Parser:
    """The parser of command ``name``; given ``argv``, only the boolean flags' value
    spellings it uses are added (see :func:`_add_options`)."""
    given = None if argv is None else frozenset(a for a in argv if a.startswith("--")
                                                and "=" in a)
    help_text, classes, _ = _COMMANDS[name]
    p = _Parser(prog=f"pysync {name}", description=help_text, allow_abbrev=False)
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    if name == "size":
        p.add_argument("--json", action="store_true", help="Format output as JSON")
    if name == "listremotes":
        _listremotes_flags(p)
    if name == "config":
        _config_flags(p)
    for cls in classes:
        _add_options(p, cls, _LEFT_OUT.get(name, frozenset()), given)
    _add_options(p, GlobalOptions, given=given)
    return p


def _join_values(parser: argparse.ArgumentParser, args: list[str]) -> list[str]:
    """Turn ``--flag VALUE`` into ``--flag=VALUE`` for flags that take a value, so a value
    may start with ``-`` (``--max-age -2w``, ``--filter -x``) as with rclone's flag parser."""
    takes_value = {opt for action in parser._actions if action.nargs is None
                   and not isinstance(action, (argparse._StoreConstAction,
                                               argparse._CountAction, argparse._HelpAction))
                   for opt in action.option_strings}
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        if arg in takes_value and i + 1 < len(args):
            value = args[i + 1]
            if arg.startswith("--"):
                out.append(f"{arg}={value}")
            elif value.startswith("-"):
                out.append(arg + value)
            else:
                out.extend((arg, value))
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def _split_command(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """(flags before the command, command, everything after it).

    As in rclone, flags may come before the command (``pysync --config F listremotes``):
    the command is the first known command name; failing that, the first word."""
    for i, arg in enumerate(argv):
        if arg in _COMMANDS and (i == 0 or argv[i - 1] != "--"):
            return argv[:i], arg, argv[i + 1:]
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            return argv[:i], arg, argv[i + 1:]
    return argv, None, []


def _check_log_flags(gopts: GlobalOptions) -> None:
    """rclone's refusals of -v, -q and --log-level together (CRITICAL, exit 1)."""
    from .errors import ConfigError

    if gopts.quiet and gopts.verbose:
        raise ConfigError("Can't set -v and -q")
    if gopts.log_level and gopts.verbose:
        raise ConfigError("Can't set -v and --log-level")
    if gopts.log_level and gopts.quiet:
        raise ConfigError("Can't set -q and --log-level")


# errors of rclone's command-line parser (cobra/pflag), which its Main logs as a NOTICE
# 'Fatal error: ...' after the usage text (a wrong number of arguments is not one)
_COBRA_ERRORS = ("invalid argument ", "unknown flag: ", "unknown shorthand flag: ",
                 "flag needs an argument: ", "unknown command ")


def _render_error(err: PysyncError) -> None:
    from . import log

    if isinstance(err, UsageError):
        print(f"Error: {err}", file=sys.stderr)
        print("Run 'pysync --help' or 'pysync COMMAND --help' for usage.", file=sys.stderr)
        if str(err).startswith(_COBRA_ERRORS):  # rclone's Main logs these once more
            log.notice(None, f"Fatal error: {err}")
    else:
        log.critical(None, str(err))


#: commands whose arguments may be secrets: never echoed in the DEBUG start-up line
_SECRET_COMMANDS = frozenset({"config", "obscure", "reveal"})


def _starting_line(argv: Sequence[str]) -> str:
    """rclone's first DEBUG line, ``Version "..." starting with parameters [...]``, each
    parameter quoted as Go's %q and passed through :func:`redact_spec` (connection-string
    and URL passwords masked)."""
    from . import __version__
    from .remotes import redact_spec

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    params = " ".join(q(redact_spec(a)) for a in [sys.argv[0] or "pysync", *argv])
    return f'Version "v{__version__}" starting with parameters [{params}]'


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    from . import log

    argv = list(sys.argv[1:] if argv is None else argv)
    log.defer_logging()
    try:
        before, command, rest = _split_command(argv)
        if command is None or command not in _COMMANDS or "--version" in before:
            top = _top_parser()  # only here: each parser built costs start-up time
            ns = top.parse_args(before + ([command] if command else []))
            if ns.version:
                print(_version_text())
                return 0
            if command is None:
                top.print_help()
                return EXIT_USAGE if argv else 0
        if command not in _COMMANDS:
            raise UsageError(f'unknown command "{command}" for "pysync"')
        parser = _command_parser(command, before + rest)
        # flags given before the command belong to it too (rclone's flags are global)
        joined = _join_values(parser, before + rest)
        # after "--" every word is an argument, as with rclone's flag parser (argparse's
        # intermixed parsing does not honour "--": `pysync obscure -- -secret`)
        tail: list[str] = []
        if "--" in joined:
            cut = joined.index("--")
            joined, tail = joined[:cut], joined[cut + 1:]
        ns = parser.parse_intermixed_args(joined)
        if tail:
            ns.args = [*(ns.args or []), *tail]
        gopts = _make(GlobalOptions, ns)
        if getattr(ns, "config", None) is not None:
            from .record import replace

            gopts = replace(gopts, config_set=True)
        _check_log_flags(gopts)
        log.defer_logging(verbose=gopts.verbose + (2 if "filters" in gopts.dump else 0),
                          quiet=gopts.quiet, log_file=gopts.log_file or None,
                          json_log=gopts.use_json_log, level=gopts.log_level or None)
        if command not in _SECRET_COMMANDS and log.debug_enabled():
            log.debug("pysync", _starting_line(argv))
        return _COMMANDS[command][2](ns, gopts)
    except PysyncError as err:
        _render_error(err)
        return err.exit_code
    except KeyboardInterrupt:  # in-process callers only: console() handles SIGINT itself
        log.error(None, "Interrupted")
        return 130  # rclone: 128 + SIGINT
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def console() -> NoReturn:
    """Entry point of the ``pysync`` console script; SIGINT/SIGTERM end it like rclone."""
    global _GC_PAUSED
    from .interrupt import leave, signals_handled

    if gc.isenabled():  # start-up makes many objects and no garbage cycles worth a scan
        gc.disable()
        _GC_PAUSED = True
    if any(":" in arg for arg in sys.argv[1:]):  # a remote may take part (name:path, URL)
        from . import malloc

        malloc.wanted = True  # done at the first transfer: a no-op never imports ctypes
    _untranslated_argparse()
    with signals_handled():
        code = main()
    leave(code)


#: console() paused the cyclic garbage collector until the backends are set up.
_GC_PAUSED = False


def _untranslated_argparse() -> None:
    """argparse passes every title, usage line and message through gettext, which looks
    for a translation catalog at each call (the locale variables, the locale's normalised
    names, a stat per name: ~3 ms of a 90 ms no-op sync). Where there is no catalog for its
    domain, each call returns its message as given: the console script says so once. A
    library caller's argparse is left alone."""
    import gettext

    domain = gettext.textdomain()
    if gettext.find(domain, gettext.bindtextdomain(domain), all=True):
        return
    argparse._ = _as_given  # type: ignore[attr-defined]
    argparse.ngettext = _as_given_plural  # type: ignore[attr-defined]


def _as_given(message: str) -> str:
    return message


def _as_given_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural
