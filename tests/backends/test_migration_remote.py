"""Issue #5: the MailStore migration's four phases with the destination on a real server.

``source:`` is a local MailStore-like tree (``syncengine.example.make_mailstore_tree``) and
``destination:`` a remote on the private sshd (``sshd.py``) or smbd (``smbd.py``) of the test
session. The real rclone runs the four phases into one folder of the server and pysync runs
them into another; after every phase both tools' exit codes and the two destination trees
(names, sizes, contents, modification times within the backend's precision) must agree. The
servers run on this machine, so the trees are read from the disk they serve.

Between phases the source changes as on a live server (files rewritten, added, deleted), and
every directory of the source gets a distinct old time, so that a directory time a tool set
is told apart from one the server gave it. After the sync ``pysync check`` finds no
difference. The reverse direction (the remote as the source, a local destination) is covered
by two copies and a sync from the same remote folder by both tools.

Directory times: rclone's smb backend cannot set them, so neither does pysync over SMB (the
backend says so in ``Features.extra["dir_set_mtime"]``); see
``test_directory_times_match_rclone``.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syncengine.example import MailStoreShape, make_mailstore_tree
from syncengine.remotes import open_backend

from . import sshd as _sshd
from .smbd import SmbdServer, smbd_server  # noqa: F401 - the module-scoped fixture
from .sshd import SshdServer

sshd_server = _sshd.sshd_server  # the session-scoped sshd fixture

#: The migration's four phases, as the issue gives them (the tool, SRC and DST are added).
PHASES: list[tuple[str, list[str]]] = [
    ("copy", ["--filter", "- index*", "--filter", "+ *.dat", "--filter", "- **",
              "--min-age", "1d"]),
    ("copy", ["--filter", "- *.fdb", "--min-age", "1d"]),
    ("copy", ["--filter", "- *.fdb"]),
    ("sync", []),
]

SHAPE = MailStoreShape(stores=3, dat_per_store=5, dat_size=96 * 1024, index_files=3,
                       recovery_records=3, seed=5)

#: What one tree holds: relative path -> (size, sha256, mtime_ns); directories: size -1, no hash.
Tree = dict[str, tuple[int, str, int]]


# ----- helpers ---------------------------------------------------------------------------------


@dataclass
class Target:
    """A remote on one of the test servers, as both tools reach it through ``conf``."""

    kind: str  # "sftp" or "smb"
    conf: Path  # the rclone.conf (section ``dst``) both tools get with --config
    precision_ns: int  # the modification time precision the pysync backend declares
    # False where pysync is known to set directory times that rclone leaves alone
    # (SMB: see test_directory_times_match_rclone), so that the other checks still run
    dir_times: bool
    prefix: str  # "dst:" + the folder of the remote that holds the test folders
    disk: Path  # where that folder is on this machine

    def remote(self, name: str) -> str:
        """The ``dst:...`` spelling of test folder ``name``."""
        return f"{self.prefix}/{name}"

    def on_disk(self, name: str) -> Path:
        """The local path of test folder ``name`` (the server runs here)."""
        return self.disk / name


def tool_env(home: Path) -> dict[str, str]:
    """No user config, no ssh-agent, no RCLONE_/PYSYNC_ variables; a private HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RCLONE_", "PYSYNC_")) and k != "SSH_AUTH_SOCK"}
    env.update(HOME=str(home), TZ="UTC", LC_ALL="C")
    return env


def run(tool: str, args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """Run the real rclone or pysync to completion."""
    cmd = ["rclone"] if tool == "rclone" else [sys.executable, "-m", "syncengine"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120,
                          env=tool_env(home), stdin=subprocess.DEVNULL)


def read_tree(root: Path) -> Tree:
    """Every file (size, sha256, mtime) and directory (mtime) under ``root``."""
    out: Tree = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            p = os.path.join(dirpath, d)
            out[os.path.relpath(p, root)] = (-1, "", os.stat(p).st_mtime_ns)
        for f in files:
            p = os.path.join(dirpath, f)
            st = os.stat(p)
            with open(p, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            out[os.path.relpath(p, root)] = (st.st_size, digest, st.st_mtime_ns)
    return out


def assert_same_tree(got: Tree, want: Tree, src: Tree, precision_ns: int, what: str, *,
                     dir_times: bool = True) -> None:
    """Same names, sizes and contents; file modification times closer than ``precision_ns``.

    A directory's time is either the source's (set by the tool) or the time of the last change
    the server made in it; unless ``dir_times`` is false both tools must agree on which.
    """
    assert sorted(got) == sorted(want), f"{what}: names differ: " \
        f"only pysync {sorted(set(got) - set(want))}, only rclone {sorted(set(want) - set(got))}"
    for rel, (size, digest, mtime) in want.items():
        g_size, g_digest, g_mtime = got[rel]
        assert (g_size, g_digest) == (size, digest), f"{what}: {rel} differs"
        if size >= 0:
            assert abs(g_mtime - mtime) < precision_ns, \
                f"{what}: {rel} mtime {g_mtime} vs {mtime} (precision {precision_ns} ns)"
        elif dir_times and rel in src:
            src_mtime = src[rel][2]
            rc_set = abs(mtime - src_mtime) < precision_ns
            py_set = abs(g_mtime - src_mtime) < precision_ns
            assert py_set == rc_set, f"{what}: directory {rel}: source time {src_mtime}, " \
                f"rclone {mtime} ({'set' if rc_set else 'not set'}), pysync {g_mtime}"


def stamp_dirs(root: Path, step: int) -> None:
    """Give every directory under ``root`` a distinct old time (not a whole second), so that
    a directory time a tool set is told apart from one the server gave it."""
    dirs = sorted(p for p in root.rglob("*") if p.is_dir())
    for i, d in enumerate(dirs):
        t = 1_650_000_000_123_456_789 + step * 10**13 + i * 1_000_000_007
        os.utime(d, ns=(t, t))


def files_only(tree: Tree) -> Tree:
    """The files of ``tree`` (no directories)."""
    return {k: v for k, v in tree.items() if v[0] >= 0}


def copied_names(stderr: str) -> set[str]:
    """The paths a ``-v`` run logged as copied, updated or deleted (rclone's INFO lines)."""
    out = set()
    for line in stderr.splitlines():
        if "INFO  : " not in line:
            continue
        body = line.split("INFO  : ", 1)[1]
        for tag in (": Copied (new)", ": Copied (replaced existing)", ": Deleted",
                    ": Updated modification time in destination"):
            if body.endswith(tag):
                out.add(body[: -len(tag)] + tag)
    return out


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private HOME for both tools (no ~/.ssh, no ~/.config/rclone of the caller)."""
    h = tmp_path / "home"
    h.mkdir()
    return h


def _obscure(text: str) -> str:
    res = subprocess.run(["rclone", "obscure", "-"], input=text, capture_output=True, text=True,
                         timeout=30, check=True)
    return res.stdout.strip()


def declared_precision(remote: str, conf: Path, home: Path) -> int:
    """The modification time precision pysync's backend declares for ``remote``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))  # no ~/.ssh of the caller
        mp.delenv("SSH_AUTH_SOCK", raising=False)
        backend = open_backend(remote, config_path=str(conf))
        try:
            precision = backend.features.precision_ns
        finally:
            close = getattr(backend, "close", None)
            if close is not None:
                close()
    assert 0 < precision <= 1_000_000_000, precision
    return precision


@pytest.fixture(params=["sftp", "smb"])
def target(request: pytest.FixtureRequest, tmp_path: Path, home: Path) -> Iterator[Target]:
    """A destination on the sshd or the smbd, with an rclone.conf under ``tmp_path``."""
    conf = tmp_path / "rclone.conf"
    tag = uuid.uuid4().hex[:8]
    if request.param == "sftp":
        sshd: SshdServer = request.getfixturevalue("sshd_server")
        disk = tmp_path / "sftp-root"
        disk.mkdir()
        conf.write_text(sshd.section("dst"))
        conf.chmod(0o600)
        yield Target("sftp", conf, declared_precision(f"dst:{disk}", conf, home), True,
                     f"dst:{disk}", disk)
    else:
        smbd: SmbdServer = request.getfixturevalue("smbd_server")
        conf.write_text(smbd.rclone_section("dst", _obscure(smbd.password)))
        conf.chmod(0o600)
        disk = smbd.share_path / f"mig-{tag}"
        disk.mkdir()
        try:
            prefix = f"dst:{smbd.share}/mig-{tag}"
            yield Target("smb", conf, declared_precision(prefix, conf, home), True, prefix,
                         disk)
        finally:
            shutil.rmtree(disk, ignore_errors=True)


def make_source(root: Path) -> list[str]:
    """The MailStore-like tree (``.dat``, ``index*``, recovery records, ``.fdb``; some files
    fresh, most older than a day) with old directory times."""
    files = make_mailstore_tree(str(root), SHAPE)
    stamp_dirs(root, 0)
    assert any(f.endswith(".fdb") for f in files) and any("/index" in f for f in files)
    return files


def mutate_source(src: Path, phase: int) -> None:
    """What a live server does between phases: files change, appear and go away."""
    rng = random.Random(phase)
    old = 1_700_000_000 * 10**9  # long before --min-age 1d
    if phase == 1:
        # an old .dat already copied is rewritten (different size, still old), a new old one
        p = src / "2025-06/Content/000001.dat"
        p.write_bytes(rng.randbytes(5000))
        os.utime(p, ns=(old, old))
        q = src / "2025-07/Content/000099.dat"
        q.write_bytes(rng.randbytes(3000))
        os.utime(q, ns=(old, old))
    elif phase == 2:
        # same size, new content and a new (fresh) time: phase 3 replaces it
        p = src / "2025-06/Content/000002.dat"
        size = p.stat().st_size
        p.write_bytes(rng.randbytes(size))
    elif phase == 3:
        # gone before the final sync: the sync deletes it on the destination
        (src / "2025-07/Recovery Records/000001.rr").unlink()
        (src / "2025-08/Content/000002.dat").unlink()
        (src / "MailStoreMaster.fdb").write_bytes(rng.randbytes(50_000))


# ----- the four phases -------------------------------------------------------------------------


def test_four_phases_match_rclone(target: Target, tmp_path: Path, home: Path) -> None:
    """Each phase: same exit code, same log of changes, same destination tree as rclone."""
    src = tmp_path / "src"
    make_source(src)
    names = {"rclone": f"rc-{target.kind}", "pysync": f"py-{target.kind}"}
    src_files = files_only(read_tree(src))
    for phase, (command, flags) in enumerate(PHASES, start=1):
        src_tree = read_tree(src)
        results = {tool: run(tool, [command, str(src), target.remote(names[tool]), "--config",
                                    str(target.conf), "-v", *flags], home)
                   for tool in ("rclone", "pysync")}
        rc, py = results["rclone"], results["pysync"]
        assert rc.returncode == 0, f"phase {phase} rclone: {rc.stderr}"
        assert py.returncode == rc.returncode, f"phase {phase} pysync: {py.stderr}"
        assert "Traceback" not in py.stderr
        want = read_tree(target.on_disk(names["rclone"]))
        got = read_tree(target.on_disk(names["pysync"]))
        assert_same_tree(got, want, src_tree, target.precision_ns,
                         f"{target.kind} phase {phase}", dir_times=target.dir_times)
        assert copied_names(rc.stderr), f"phase {phase}: rclone changed nothing"
        assert copied_names(py.stderr) == copied_names(rc.stderr), f"phase {phase}"
        if phase == 1:
            # only old .dat files that are not index files made it
            assert want and all(k.endswith(".dat") and "index" not in k
                                for k in files_only(want))
            assert len(files_only(want)) < len(src_files)
        if phase in (1, 2):
            assert not any(k.endswith(".fdb") for k in want)
        # the destination's times are the source's (within the precision the backend keeps)
        src_files = files_only(read_tree(src))
        for rel, (_size, _digest, mtime) in files_only(got).items():
            if phase < 4 and rel not in src_files:
                continue  # deleted from the source after it was copied; the sync removes it
            assert abs(src_files[rel][2] - mtime) < target.precision_ns, rel
        mutate_source(src, phase)
        stamp_dirs(src, phase)
    # after the sync: the source exactly, for both tools
    final = files_only(read_tree(target.on_disk(names["pysync"])))
    assert {k: v[:2] for k, v in final.items()} == {k: v[:2] for k, v in src_files.items()}
    res = run("pysync", ["check", str(src), target.remote(names["pysync"]), "--config",
                         str(target.conf)], home)
    assert res.returncode == 0, res.stderr
    assert "0 differences found" in res.stderr, res.stderr
    assert f"{len(src_files)} matching files" in res.stderr, res.stderr
    # a pysync check of rclone's destination agrees as well
    res = run("pysync", ["check", str(src), target.remote(names["rclone"]), "--config",
                         str(target.conf)], home)
    assert res.returncode == 0 and "0 differences found" in res.stderr, res.stderr


@pytest.mark.parametrize("target", ["sftp", "smb"],
                         indirect=True)
def test_directory_times_match_rclone(target: Target, tmp_path: Path, home: Path) -> None:
    """The destination's directories get the times rclone gives them (or keeps)."""
    src = tmp_path / "src"
    make_source(src)
    for tool in ("rclone", "pysync"):
        res = run(tool, ["sync", str(src), target.remote(f"dirs-{tool}"), "--config",
                         str(target.conf)], home)
        assert res.returncode == 0, res.stderr
    want = read_tree(target.on_disk("dirs-rclone"))
    got = read_tree(target.on_disk("dirs-pysync"))
    assert any(v[0] < 0 for v in want.values())
    src_tree = read_tree(src)
    # rclone sets them over sftp (DirSetModTime) but has no way to over smb
    rclone_sets = target.kind == "sftp"
    assert all((abs(v[2] - src_tree[k][2]) < target.precision_ns) == rclone_sets
               for k, v in want.items() if v[0] < 0)
    assert_same_tree(got, want, src_tree, target.precision_ns, f"{target.kind} directories")


def _dir_lines(stderr: str, folder: str) -> list[str]:
    """The directory messages of a ``-v`` run (making, times, removing), folder name out."""
    keys = ("directory", "Making", "Made")
    out = []
    for line in stderr.splitlines():
        body = line.split(" : ", 1)[1] if " : " in line else line.split(": ", 1)[-1]
        if any(k in body for k in keys) and "Config file" not in body:
            out.append(body.replace(folder, "FOLDER"))
    return sorted(out)


def test_directory_log_lines_are_the_backends(target: Target, tmp_path: Path,
                                              home: Path) -> None:
    """Making directories and setting their times logs what rclone's backend logs: over
    SFTP (no MkdirMetadata) "Making directory", "Made directory with modification time
    <Go time>" and "(using DirSetModTime)" even for an existing directory; over SMB (no
    directory times) "Making directory" only."""
    src = tmp_path / "src"
    (src / "empty" / "deeper").mkdir(parents=True)
    (src / "full").mkdir()
    (src / "full" / "f.txt").write_bytes(b"f")
    (src / "old").mkdir()
    stamp_dirs(src, 0)
    for tool in ("rclone", "pysync"):
        stale = target.on_disk(f"dirlines-{tool}") / "old"
        stale.mkdir(parents=True)
        (stale.parent / "gone").mkdir()
    lines = {}
    for tool in ("rclone", "pysync"):
        folder = f"dirlines-{tool}"
        res = run(tool, ["sync", str(src), target.remote(folder), "--config", str(target.conf),
                         "-v", "--create-empty-src-dirs"], home)
        assert res.returncode == 0, res.stderr
        lines[tool] = _dir_lines(res.stderr, folder)
    assert any("Making directory" in line for line in lines["rclone"]), lines["rclone"]
    assert lines["pysync"] == lines["rclone"]


def test_case_twins_keep_the_first_listed(target: Target, tmp_path: Path, home: Path) -> None:
    """Source names that differ only by case: on the case-insensitive SMB destination they
    are duplicates, and both tools keep the first one the local source lists and say
    ``Duplicate object|directory found in source - ignoring`` for the other; over SFTP both
    are copied."""
    src = tmp_path / "src"
    src.mkdir()
    for name, data in (("A.txt", b"upper"), ("a.txt", b"lower, longer"), ("D/x", b"1"),
                       ("d/x", b"22")):
        (src / name).parent.mkdir(exist_ok=True)
        (src / name).write_bytes(data)
    trees, notes = {}, {}
    for tool in ("rclone", "pysync"):
        res = run(tool, ["sync", str(src), target.remote(f"twins-{tool}"), "--config",
                         str(target.conf), "-v"], home)
        assert res.returncode == 0, res.stderr
        trees[tool] = files_only(read_tree(target.on_disk(f"twins-{tool}")))
        notes[tool] = sorted(line.split(": ", 1)[1] for line in res.stderr.splitlines()
                             if "Duplicate" in line)
    assert {k: v[:2] for k, v in trees["pysync"].items()} == \
        {k: v[:2] for k, v in trees["rclone"].items()}
    assert notes["pysync"] == notes["rclone"]
    assert len(notes["rclone"]) == (2 if target.kind == "smb" else 0), notes["rclone"]


# ----- the reverse direction -------------------------------------------------------------------


def test_remote_source_copy_and_sync_match_rclone(target: Target, tmp_path: Path,
                                                  home: Path) -> None:
    """The remote as source, a local destination: copy, change the remote, sync."""
    src = tmp_path / "src"
    make_source(src)
    res = run("rclone", ["copy", str(src), target.remote("origin"), "--config",
                         str(target.conf)], home)
    assert res.returncode == 0, res.stderr
    origin = target.on_disk("origin")
    stamp_dirs(origin, 1)
    assert sorted(files_only(read_tree(origin))) == sorted(files_only(read_tree(src)))
    dest = {tool: tmp_path / f"back-{tool}" for tool in ("rclone", "pysync")}
    steps = [("copy", ["--min-age", "1d", "--filter", "- *.fdb"]), ("copy", []), ("sync", [])]
    for step, (command, flags) in enumerate(steps, start=1):
        results = {tool: run(tool, [command, target.remote("origin"), str(dest[tool]),
                                    "--config", str(target.conf), "-v", *flags], home)
                   for tool in ("rclone", "pysync")}
        rc, py = results["rclone"], results["pysync"]
        assert rc.returncode == 0, f"step {step} rclone: {rc.stderr}"
        assert py.returncode == rc.returncode, f"step {step} pysync: {py.stderr}"
        want, got = read_tree(dest["rclone"]), read_tree(dest["pysync"])
        assert_same_tree(got, want, read_tree(origin), target.precision_ns,
                         f"{target.kind} reverse step {step}")
        assert copied_names(rc.stderr), f"step {step}: rclone changed nothing"
        assert copied_names(py.stderr) == copied_names(rc.stderr), f"step {step}"
        if step == 2:
            # the live archive changes on the server: one file goes, one changes, one is new
            (origin / "2025-06/Content/000003.dat").unlink()
            changed = origin / "2025-07/Index/index"
            changed.write_bytes(b"rewritten index " * 100)
            os.utime(changed, ns=(1_700_000_000 * 10**9,) * 2)
            (origin / "2025-08/Content/000042.dat").write_bytes(os.urandom(12345))
            stamp_dirs(origin, 2)
    final = files_only(read_tree(dest["pysync"]))
    on_server = files_only(read_tree(origin))
    assert {k: v[:2] for k, v in final.items()} == {k: v[:2] for k, v in on_server.items()}
    assert "2025-06/Content/000003.dat" not in final
    res = run("pysync", ["check", target.remote("origin"), str(dest["pysync"]), "--config",
                         str(target.conf)], home)
    assert res.returncode == 0 and "0 differences found" in res.stderr, res.stderr
