"""``-M/--metadata`` with an SFTP or SMB end: rclone's sftp and smb backends read and write
no metadata, so ``-M`` there must change nothing but what rclone changes (the modification
time, as without ``-M``). Both tools run against the same real servers (OpenSSH sshd,
Samba smbd: see ``remote_harness``), each in its own server-side folder, and the files the
servers wrote are compared as the local metadata suite compares them (mode, owner, access
time, ``user.*`` xattrs), as well as by the harness (trees, messages, exit codes).
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

from . import remote_harness as rh
from . import sync_harness as sh
from .test_metadata_vs_rclone import DST, SRC, build, meta_snapshot
from .test_sync_remote_vs_rclone import _fail, servers  # noqa: F401 (the session fixture)

if sh.RCLONE is None:
    pytest.fail("rclone is not on PATH: the differential tests need the real rclone",
                pytrace=False)

# the parts of the trees a server can hold: the owners are the server's to choose
REMOTE_SRC = {k: dict(v, uid=0, gid=0) for k, v in SRC.items()}
REMOTE_DST = {k: dict(v, uid=0, gid=0) for k, v in DST.items()}


def _run(servers: rh.Servers, tmp_path: Path, src_kind: str,  # noqa: F811
         dst_kind: str, mode: str, flags: list[str], *, existing: bool) -> None:
    layout = rh.RemoteLayout.new(servers, tmp_path / "work", src_kind, dst_kind)
    now_ns = time.time_ns()
    try:
        for tool in ("r", "p"):
            layout.sandbox(tool).mkdir(parents=True, exist_ok=True)
            for part, spec in (("src", REMOTE_SRC), ("dst", REMOTE_DST if existing else None)):
                if spec is None:
                    continue
                root = layout.root(tool, part)
                root.parent.mkdir(parents=True, exist_ok=True)
                build(root, spec, now_ns)
        start = {"src": sh.snapshot(layout.root("r", "src")),
                 "dst": sh.snapshot(layout.root("r", "dst")), "bak": {}}
        envs = layout.write_configs()
        r, p, window = sh.run_pair(mode, flags, layout.sandbox("r"), layout.sandbox("p"),
                                   src=layout.spec("src"), dst=layout.spec("dst"), envs=envs)
        r.stderr, p.stderr = layout.normalise(r.stderr), layout.normalise(p.stderr)
        out = sh.compare_runs(r, p, window, layout.sandbox("r"), layout.sandbox("p"), start,
                              dry_run="--dry-run" in flags, roots=layout.roots())
        for part in ("dst", "src"):
            mr = meta_snapshot(layout.root("r", part), window)
            mp = meta_snapshot(layout.root("p", part), window)
            for rel in sorted(set(mr) | set(mp)):
                if mr.get(rel) != mp.get(rel):
                    out.problems.append(f"{part}/{rel} metadata: rclone {mr.get(rel)}, "
                                        f"pysync {mp.get(rel)}")
        if not out.ok:
            title = f"{mode} {src_kind} -> {dst_kind} {flags}"
            _fail(title, r, p, out, layout, "  command: " + shlex.join(
                [mode, layout.spec("src"), layout.spec("dst"), *flags]))
    finally:
        layout.clean()


PAIRS = [("local", "sftp"), ("local", "smb"), ("sftp", "local"), ("smb", "local"),
         ("sftp", "smb")]


@pytest.mark.parametrize("flags", [["-M"], ["-M", "--create-empty-src-dirs"],
                                   ["-M", "--metadata-set", "k=v"]], ids=" ".join)
@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_metadata_remote_copy(servers: rh.Servers, tmp_path: Path,  # noqa: F811
                              src_kind: str, dst_kind: str, flags: list[str]) -> None:
    _run(servers, tmp_path, src_kind, dst_kind, "copy", flags, existing=False)


@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_metadata_remote_sync_existing(servers: rh.Servers, tmp_path: Path,  # noqa: F811
                                       src_kind: str, dst_kind: str) -> None:
    _run(servers, tmp_path, src_kind, dst_kind, "sync", ["-M", "--create-empty-src-dirs"],
         existing=True)
