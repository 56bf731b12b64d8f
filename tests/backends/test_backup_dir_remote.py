"""Issue #11: ``--backup-dir`` and ``--suffix`` on local, SFTP and SMB destinations, against rclone.

The real rclone and pysync run side by side (the same rclone.conf, separate folders of the
server) on small seeded random trees: destination files that are replaced or deleted are moved
into the backup directory (an earlier backup of the same name is deleted first) or renamed
with the suffix. Both tools must end with the same destination and backup trees (paths,
sizes, contents), the same exit code and the same per-file INFO/NOTICE lines. Set-ups rclone
refuses (a backup directory overlapping the source or the destination, on another remote)
must be refused the same way (exit 7, same message) before anything changes.

Moves must happen on the server: ``test_sftp_backup_moves_on_the_server_not_locally`` runs
pysync in a mount namespace where the server's folder is hidden under an empty tmpfs, so a
move made on this machine's disk (the bug of issue #11) can neither succeed nor go unseen.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import sshd as _sshd
from . import test_migration_remote as _mig
from .smbd import SmbdServer, smbd_server  # noqa: F401 - the module-scoped fixture
from .sshd import SshdServer
from .test_migration_remote import _obscure, read_tree, run, tool_env

sshd_server = _sshd.sshd_server  # the session-scoped sshd fixture
home = _mig.home  # a private HOME for both tools

TOOLS = ("rclone", "pysync")
#: Per-file log lines both tools must agree on (the stats block and notices are left out).
_FILE_LINE = re.compile(r"(INFO  |NOTICE): (.+: (?:Copied|Moved|Deleted|Skipped|Updated).*)$")
#: Whole seconds, well in the past: both servers keep them exactly.
_T0 = 1_600_000_000


@dataclass
class Place:
    """Where the test folders live: a local folder, or a remote of one of the test servers."""

    kind: str  # "local", "sftp" or "smb"
    conf: Path  # rclone.conf with section ``dst`` (and ``other``, the same server again)
    prefix: str  # how both tools name the folder holding the test folders
    disk: Path  # that folder on this machine (the servers run here)

    def spec(self, name: str, remote: str = "dst") -> str:
        """How the tools name test folder ``name`` (through config section ``remote``)."""
        if self.kind == "local":  # a plain path is rclone's "local" remote
            return str(self.disk / name) if remote == "dst" else f"{remote}:{self.disk / name}"
        return f"{remote}:{self.prefix}/{name}"


@pytest.fixture(params=["local", "sftp", "smb"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    """A place for destination and backup folders, with an rclone.conf under ``tmp_path``."""
    conf = tmp_path / "rclone.conf"
    if request.param == "local":
        disk = tmp_path / "local-root"
        disk.mkdir()
        conf.write_text("[dst]\ntype = local\n\n[other]\ntype = local\n")
        yield Place("local", conf, str(disk), disk)
    elif request.param == "sftp":
        sshd: SshdServer = request.getfixturevalue("sshd_server")
        disk = tmp_path / "sftp-root"
        disk.mkdir()
        conf.write_text(sshd.section("dst") + "\n" + sshd.section("other"))
        conf.chmod(0o600)
        yield Place("sftp", conf, str(disk), disk)
    else:
        smbd: SmbdServer = request.getfixturevalue("smbd_server")
        secret = _obscure(smbd.password)
        conf.write_text(smbd.rclone_section("dst", secret) + "\n"
                        + smbd.rclone_section("other", secret))
        conf.chmod(0o600)
        tag = f"bak-{uuid.uuid4().hex[:8]}"
        disk = smbd.share_path / tag
        disk.mkdir()
        try:
            yield Place("smb", conf, f"{smbd.share}/{tag}", disk)
        finally:
            shutil.rmtree(disk, ignore_errors=True)


# ----- trees -----------------------------------------------------------------------------------


def _write(path: Path, data: bytes, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def make_trees(seed: int, src: Path, dsts: list[Path], baks: list[Path]) -> None:
    """A seeded source, and the same destination and earlier backups in every ``dsts`` /
    ``baks`` folder: files new, unchanged, replaced (other size or time), destination-only,
    some with an earlier backup of the same name."""
    rng = random.Random(seed)
    names = [f"{d}{n}{e}" for d in ("", "sub/", "sub/deep/") for n in ("a", "b", "c.tar", "d")
             for e in (".txt", ".gz", "")]
    rng.shuffle(names)
    for i, name in enumerate(names[:18]):
        kind = rng.choice(("new", "same", "replaced", "replaced", "dst-only"))
        data = rng.randbytes(rng.randint(0, 300))
        old = rng.randbytes(rng.randint(1, 300))
        t_src, t_dst = _T0 + 1000 * i, _T0 + 1000 * i - rng.choice((0, 7, 86_400))
        if kind != "dst-only":
            _write(src / name, data, t_src)
        for dst in dsts:
            if kind == "same":
                _write(dst / name, data, t_src)
            elif kind == "replaced":
                _write(dst / name, old if old != data else old + b"x", t_dst)
            elif kind == "dst-only":
                _write(dst / name, old, t_dst)
        if kind in ("replaced", "dst-only") and rng.random() < 0.4:
            for bak in baks:
                _write(bak / name, b"earlier backup " + name.encode(), _T0)
    for dst in dsts:
        dst.mkdir(parents=True, exist_ok=True)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def contents(root: Path) -> dict[str, tuple[int, str]]:
    """Files only: relative path -> (size, sha256)."""
    return {k: (v[0], v[1]) for k, v in read_tree(root).items() if v[0] >= 0} \
        if root.exists() else {}


def file_lines(stderr: str) -> list[str]:
    """The per-file INFO/NOTICE lines of a ``-v`` run, sorted (transfers run in parallel)."""
    out = []
    for line in stderr.splitlines():
        m = _FILE_LINE.search(line)
        if m:
            line = re.sub(r"/(?:rclone|pysync)(/|:)", r"/TOOL\1", m.group(2))  # Fs names
            out.append(f"{m.group(1).strip()}: {line}")
    return sorted(out)


def run_both(place: Place, mode: str, flags: list[str], home: Path, src: Path,
             backup: str | None) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run ``mode src <tool>/d [--backup-dir <tool>/<backup>] flags`` with both tools."""
    out = {}
    for tool in TOOLS:
        args = [mode, str(src), place.spec(f"{tool}/d"), "--config", str(place.conf), "-v",
                *flags]
        if backup is not None:
            args += ["--backup-dir", backup.replace("TOOL", tool)]
        out[tool] = run(tool, args, home)
        assert "Traceback" not in out[tool].stderr, out[tool].stderr
    return out


# ----- side by side ----------------------------------------------------------------------------

CASES = [
    ("sync", [], "bak"),
    ("copy", [], "bak"),
    ("sync", ["--suffix", ".old"], "bak"),
    ("copy", ["--suffix", "-v1", "--suffix-keep-extension"], "bak/deeper"),
    ("sync", ["--suffix", ".bak", "--exclude", "*.bak"], None),
    ("copy", ["--suffix", "~", "--suffix-keep-extension"], None),
    ("sync", ["--delete-before"], "bak"),
    ("sync", ["--dry-run"], "bak"),
]


@pytest.mark.parametrize(("mode", "flags", "backup"), CASES,
                         ids=["sync", "copy", "sync-suffix", "copy-keep-ext", "suffix-only",
                              "suffix-only-keep-ext", "delete-before", "dry-run"])
def test_backups_match_rclone(place: Place, tmp_path: Path, home: Path, mode: str,
                              flags: list[str], backup: str | None) -> None:
    """Destination and backup trees, exit code and per-file lines as rclone's."""
    seed = len(CASES) * 31 + CASES.index((mode, flags, backup))
    src = tmp_path / "src"
    make_trees(seed, src, [place.disk / t / "d" for t in TOOLS],
               [place.disk / t / "bak" for t in TOOLS])
    res = run_both(place, mode, flags, home, src,
                   place.spec(f"TOOL/{backup}") if backup else None)
    rc, py = res["rclone"], res["pysync"]
    assert rc.returncode == 0, rc.stderr
    assert py.returncode == rc.returncode, py.stderr
    for folder in ("d", "bak"):
        want = contents(place.disk / "rclone" / folder)
        got = contents(place.disk / "pysync" / folder)
        assert got == want, f"{place.kind} {folder}: only pysync {sorted(set(got) - set(want))}" \
            f", only rclone {sorted(set(want) - set(got))}, or contents differ"
    assert file_lines(py.stderr) == file_lines(rc.stderr)
    if "--dry-run" not in flags:
        assert any("Moved" in line for line in file_lines(rc.stderr)), rc.stderr


REFUSED = [
    # (mode, --backup-dir relative to the tool's folder ("" = none), flags, message)
    ("copy", "src-of-TOOL/bak", [], "source and parameter to --backup-dir mustn't overlap"),
    ("sync", "TOOL/d/bak", [], "destination and parameter to --backup-dir mustn't overlap"),
    ("copy", "TOOL/d", [], "destination and parameter to --backup-dir mustn't overlap"),
    ("copy", "TOOL", [], "destination and parameter to --backup-dir mustn't overlap"),
    ("copy", "other:TOOL/bak", [],
     "parameter to --backup-dir has to be on the same remote as destination"),
]


@pytest.mark.parametrize(("mode", "backup", "flags", "message"), REFUSED,
                         ids=["src-overlap", "dst-inside", "dst-same", "dst-parent",
                              "other-remote"])
def test_refused_backup_dirs_match_rclone(place: Place, tmp_path: Path, home: Path, mode: str,
                                          backup: str, flags: list[str], message: str) -> None:
    """rclone's BackupDir checks: exit 7, its message, nothing changed anywhere."""
    src = tmp_path / "src"
    make_trees(7, src, [place.disk / t / "d" for t in TOOLS], [])
    before = {t: contents(place.disk / t) for t in TOOLS}
    before_src = contents(src)
    out = {}
    for tool in TOOLS:
        if backup.startswith("src-of-TOOL/"):
            # the backup inside the source: the source is on the place as well
            tool_src = place.disk / f"src-{tool}"
            shutil.copytree(src, tool_src)
            source = place.spec(f"src-{tool}")
            bak = place.spec(f"src-{tool}/bak")
        else:
            source = str(src)
            remote, _, rel = backup.rpartition(":")
            bak = place.spec(rel.replace("TOOL", tool), remote or "dst")
        args = [mode, source, place.spec(f"{tool}/d"), "--config", str(place.conf), "-v",
                "--backup-dir", bak, *flags]
        out[tool] = res = run(tool, args, home)
        assert res.returncode == 7, f"{tool}: {res.stderr}"
        assert f"Failed to {mode}: {message}" in res.stderr, f"{tool}: {res.stderr}"
        assert "Traceback" not in res.stderr
        assert not file_lines(res.stderr), res.stderr
        assert contents(place.disk / tool) == before[tool]
    assert contents(src) == before_src
    assert [ln for ln in out["pysync"].stderr.splitlines() if "ERROR" in ln][-1].endswith(
        "Fatal error received - not attempting retries")


def test_backup_dir_excluded_from_destination_is_allowed(place: Place, tmp_path: Path,
                                                         home: Path) -> None:
    """rclone's OverlappingFilterCheck: a backup dir inside the destination that the filters
    exclude is fine; the moves land there and the next sync leaves it alone."""
    src = tmp_path / "src"
    make_trees(3, src, [place.disk / t / "d" for t in TOOLS], [])
    res = run_both(place, "sync", ["--exclude", "/old/**"], home, src,
                   place.spec("TOOL/d/old"))
    assert res["rclone"].returncode == 0, res["rclone"].stderr
    assert res["pysync"].returncode == 0, res["pysync"].stderr
    want, got = contents(place.disk / "rclone/d"), contents(place.disk / "pysync/d")
    assert got == want and any(k.startswith("old/") for k in got)
    assert file_lines(res["pysync"].stderr) == file_lines(res["rclone"].stderr)


def test_max_delete_counts_the_replaced_backup(place: Place, tmp_path: Path,
                                               home: Path) -> None:
    """Replacing a file whose backup already exists deletes that backup first: a delete that
    --max-delete 0 refuses (exit 7, both files kept) as rclone's Move does."""
    src = tmp_path / "src"
    for tool in TOOLS:
        _write(place.disk / tool / "d" / "a.txt", b"old", _T0)
        _write(place.disk / tool / "bak" / "a.txt", b"earlier", _T0)
    _write(src / "a.txt", b"new!", _T0 + 5)
    res = run_both(place, "copy", ["--max-delete", "0"], home, src, place.spec("TOOL/bak"))
    for tool in TOOLS:
        r = res[tool]
        assert r.returncode == 7, f"{tool}: {r.stderr}"
        assert "--max-delete threshold reached" in r.stderr
        assert (place.disk / tool / "d" / "a.txt").read_bytes() == b"old"
        assert (place.disk / tool / "bak" / "a.txt").read_bytes() == b"earlier"
    # without an earlier backup nothing is deleted: --max-delete 0 lets the move happen
    for tool in TOOLS:
        (place.disk / tool / "bak" / "a.txt").unlink()
    res = run_both(place, "copy", ["--max-delete", "0"], home, src, place.spec("TOOL/bak"))
    for tool in TOOLS:
        assert res[tool].returncode == 0, res[tool].stderr
        assert (place.disk / tool / "bak" / "a.txt").read_bytes() == b"old"
    assert file_lines(res["pysync"].stderr) == file_lines(res["rclone"].stderr)


# ----- on the server, never on this machine ----------------------------------------------------


def test_sftp_backup_moves_on_the_server_not_locally(sshd_server: SshdServer, tmp_path: Path,
                                                     home: Path) -> None:
    """--backup-dir on an SFTP destination renames on the server. pysync runs where the
    server's folder is hidden under an empty tmpfs (a private mount namespace): had it moved
    the file on this machine's disk, the move would fail or land in the tmpfs."""
    unshare = shutil.which("unshare")
    assert unshare, "util-linux unshare is needed (installed with the system dependencies)"
    conf = tmp_path / "rclone.conf"
    conf.write_text(sshd_server.section("dst"))
    conf.chmod(0o600)
    server = tmp_path / "server"
    src = tmp_path / "src"
    _write(src / "dir/a.txt", b"new content", _T0 + 10)
    _write(server / "d/dir/a.txt", b"old", _T0)
    _write(server / "d/gone.txt", b"deleted by sync", _T0)
    script = ('mount -t tmpfs pysync-test "$1" || exit 99; shift; "$@"; rc=$?; '
              'find "$HIDDEN" -mindepth 1 >&2; exit $rc')
    env = {**tool_env(home), "HIDDEN": str(server)}
    res = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(server),
         sys.executable, "-m", "syncengine", "sync", str(src), f"dst:{server}/d",
         "--backup-dir", f"dst:{server}/bak", "--config", str(conf), "-v"],
        capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert res.returncode != 99, f"mount namespace not available: {res.stderr}"
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    # nothing was written under the server's path on this machine (find printed nothing)
    assert not [ln for ln in res.stderr.splitlines() if ln.startswith(str(server))], res.stderr
    # on the server: the old file and the deleted one are in the backup dir
    assert (server / "bak/dir/a.txt").read_bytes() == b"old"
    assert (server / "bak/gone.txt").read_bytes() == b"deleted by sync"
    assert (server / "d/dir/a.txt").read_bytes() == b"new content"
    assert not (server / "d/gone.txt").exists()
    assert "dir/a.txt: Moved (server-side)" in res.stderr
    assert "gone.txt: Moved into backup dir" in res.stderr


def test_backup_dir_that_cannot_be_opened_is_fatal(tmp_path: Path, home: Path) -> None:
    """rclone: ``failed to make fs for --backup-dir "...": ...``, exit 7, nothing moved."""
    src, conf = tmp_path / "src", tmp_path / "rclone.conf"
    conf.write_text("[dst]\ntype = local\n")
    _write(src / "a.txt", b"new", _T0 + 5)
    for tool in TOOLS:
        _write(tmp_path / tool / "a.txt", b"old", _T0)
        res = run(tool, ["copy", str(src), str(tmp_path / tool), "--config", str(conf),
                         "--backup-dir", "nosuch:bak"], home)
        assert res.returncode == 7, f"{tool}: {res.stderr}"
        assert 'Failed to copy: failed to make fs for --backup-dir "nosuch:bak": didn\'t find ' \
            'section in config file ("nosuch")' in res.stderr, f"{tool}: {res.stderr}"
        assert "Traceback" not in res.stderr
        assert (tmp_path / tool / "a.txt").read_bytes() == b"old"


def _second_share(smbd: SmbdServer, name: str, conf: Path, home: Path) -> Path:
    """Add share ``name`` to the running smbd (its config reloaded on SIGHUP) and wait
    until a client sees it; returns its folder."""
    folder = smbd.base / name
    folder.mkdir(exist_ok=True)
    text = smbd.conf.read_text()
    if f"[{name}]" not in text:
        smbd.conf.write_text(text + f"\n[{name}]\n    path = {folder}\n    read only = no\n"
                             f"    valid users = {smbd.user}\n")
        assert smbd.proc is not None
        os.kill(smbd.proc.pid, signal.SIGHUP)
    for _ in range(100):
        if run("rclone", ["lsf", f"dst:{name}", "--config", str(conf)], home).returncode == 0:
            return folder
    raise AssertionError(f"smbd never served share {name}")


def test_smb_backup_dir_on_another_share_copies_then_deletes(
        smbd_server: SmbdServer, tmp_path: Path, home: Path) -> None:  # noqa: F811
    """rclone's smb Move cannot rename across shares (fs.ErrorCantMove): the file is copied
    into the backup dir on the other share and deleted from the destination."""
    conf = tmp_path / "rclone.conf"
    conf.write_text(smbd_server.rclone_section("dst", _obscure(smbd_server.password)))
    conf.chmod(0o600)
    other = _second_share(smbd_server, "bakshare", conf, home)
    tag = uuid.uuid4().hex[:8]
    src = tmp_path / "src"
    _write(src / "a.txt", b"new", _T0 + 5)
    disk = smbd_server.share_path / f"x-{tag}"
    res = {}
    for tool in TOOLS:
        _write(disk / tool / "a.txt", b"old", _T0)
        _write(disk / tool / "sub/gone.txt", b"gone", _T0)
        res[tool] = run(tool, ["sync", str(src), f"dst:{smbd_server.share}/x-{tag}/{tool}",
                               "--backup-dir", f"dst:bakshare/{tag}-{tool}", "--suffix", ".b",
                               "--config", str(conf), "-vv"], home)
    try:
        for tool in TOOLS:
            assert res[tool].returncode == 0, res[tool].stderr
            assert contents(disk / tool) == {"a.txt": (3, _sha(b"new"))}
            assert contents(other / f"{tag}-{tool}") == {
                "a.txt.b": (3, _sha(b"old")), "sub/gone.txt.b": (4, _sha(b"gone"))}
        lines = file_lines(res["pysync"].stderr)
        assert lines == file_lines(res["rclone"].stderr)
        assert "INFO: sub/gone.txt: Copied (new) to: sub/gone.txt.b" in lines
        for tool in TOOLS:  # through a partial file renamed when whole, as every copy
            renamed = re.findall(r"DEBUG : (\S+): renamed to: sub/gone\.txt\.b",
                                 res[tool].stderr)
            assert len(renamed) == 1 and renamed[0].endswith(".partial"), (tool, renamed)
    finally:
        shutil.rmtree(disk, ignore_errors=True)
        for tool in TOOLS:
            shutil.rmtree(other / f"{tag}-{tool}", ignore_errors=True)


def test_fsspec_backup_dir_moves_with_fs_mv(tmp_path: Path) -> None:
    """An fsspec destination moves its backups with the filesystem's own mv, never through
    this machine's disk (memory:// has no local path at all)."""
    import fsspec

    import syncengine

    fs = fsspec.filesystem("memory")
    root = f"/bak-{uuid.uuid4().hex[:8]}"
    fs.pipe(f"{root}/d/a.txt", b"old")
    fs.pipe(f"{root}/d/sub/gone.txt", b"gone")
    _write(tmp_path / "src/a.txt", b"new", _T0)
    try:
        res = syncengine.sync(str(tmp_path / "src"), f"memory://{root}/d",
                              backup_dir=f"memory://{root}/bak")
        assert res.exit_code == 0, res.errors
        assert fs.cat(f"{root}/bak/a.txt") == b"old"
        assert fs.cat(f"{root}/bak/sub/gone.txt") == b"gone"
        assert fs.cat(f"{root}/d/a.txt") == b"new"
        assert not fs.exists(f"{root}/d/sub/gone.txt")
        res = syncengine.sync(str(tmp_path / "src"), f"memory://{root}/d",
                              backup_dir=f"memory://{root}/d/old")
        assert res.exit_code == 7
        assert str(res.error) == "destination and parameter to --backup-dir mustn't overlap"
    finally:
        fs.rm(root, recursive=True)


@pytest.mark.parametrize(("backup", "flags", "code", "message"), [
    ("TOOL", [], 7, "creating Fs for --backup-dir failed: destination and parameter to "
     "--backup-dir mustn't be the same"),
    ("src", [], 7, "creating Fs for --backup-dir failed: source and parameter to "
     "--backup-dir mustn't be the same"),
    ("TOOL/bak", [], 0, ""),
    ("TOOL", ["--suffix", ".b"], 0, ""),
], ids=["dst-same", "src-same", "inside-dst", "suffix-in-dst"])
def test_single_file_source_backup_checks_match_rclone(tmp_path: Path, home: Path, backup: str,
                                                       flags: list[str], code: int,
                                                       message: str) -> None:
    """A single-file source is rclone's CopyFile: only a backup dir equal to the source's or
    the destination's folder is refused (and not with --suffix), the message prefixed."""
    _write(tmp_path / "src/a.txt", b"new", _T0 + 5)
    out = {}
    for tool in TOOLS:
        _write(tmp_path / tool / "a.txt", b"old", _T0)
        out[tool] = res = run(tool, ["copy", str(tmp_path / "src/a.txt"), str(tmp_path / tool),
                                     "--backup-dir", str(tmp_path / backup.replace("TOOL", tool)),
                                     "-v", *flags], home)
        assert res.returncode == code, f"{tool}: {res.stderr}"
        if message:
            assert f"Failed to copy: {message}" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    for tool in TOOLS:
        assert contents(tmp_path / tool) == contents(tmp_path / "rclone"), tool
    assert file_lines(out["pysync"].stderr) == file_lines(out["rclone"].stderr)
