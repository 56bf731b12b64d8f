"""A copy checked by the SFTP server's hash lands (check, rename) on its own thread: the
transfer moves the next file's data meanwhile, with at most one landing waiting per
transfer where each file's hash takes a command of its own (as here: a script; commands
that take several files let more wait, see test_sftp_hashbatch), and a failed check still
fails the file and stops deletions (real sshd).

The server's hash command here is a script on this machine: before hashing, it waits (up to
5 s) for the local destination folder to change, and records what it held before and after.
A copy that waits for the hash before starting the next file never changes it (the script
records no change after 5 s); a landing copy does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from differential import sync_harness as sh

from . import sshd as _sshd
from .sshd import SshdServer, private_home

sshd_server = _sshd.sshd_server

FILES = 4


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return private_home(tmp_path, monkeypatch)


def _hash_script(tmp: Path, dst: Path, log: Path, answer: str) -> Path:
    """A hash command for ``f<k>.dat``: waits (up to 5 s) until the local ``dst`` holds
    something of ``f<k+1>.dat`` (its partial or the file), logs ``<file> <seen: 0/1>
    <partials in dst>``, then answers ``answer`` (``md5sum``: the real hash)."""
    script = tmp / "hash.sh"
    hasher = 'md5sum "$1"' if answer == "md5sum" else f'echo "{answer}  $1"'
    script.write_text(f"""#!/bin/sh
name=$(basename "$1")
k=${{name#f}}
k=${{k%.dat}}
next="f$((k + 1)).dat"
seen=0
i=0
while [ $i -lt 50 ]; do
  if ls -A '{dst}' | grep -q "^$next"; then seen=1; break; fi
  sleep 0.1
  i=$((i + 1))
done
partials=$(ls -A '{dst}' | grep -c partial)
echo "$name $seen $partials" >> '{log}'
{hasher}
""")
    script.chmod(0o755)
    return script


def _run(args: list[str], cwd: Path, conf: Path) -> tuple[int, str]:
    env = sh.tool_env()
    env["RCLONE_CONFIG"] = str(conf)
    res = subprocess.run([sys.executable, "-m", "syncengine", *args, "--retries", "1"],
                         cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=300)
    return res.returncode, res.stderr.decode("utf-8", "replace")


def _setup(tmp: Path, server: SshdServer, answer: str) -> tuple[Path, Path, Path, Path]:
    """(remote folder with FILES files, local dst, config, hash log)."""
    remote, dst, log = tmp / "remote", tmp / "dst", tmp / "hash.log"
    remote.mkdir()
    dst.mkdir()
    for i in range(FILES):
        (remote / f"f{i}.dat").write_bytes(os.urandom(200_000 + i))
    conf = tmp / "rclone.conf"
    script = _hash_script(tmp, dst, log, answer)
    conf.write_text(server.section("srv", shell_type="unix", md5sum_command=str(script),
                                   sha1sum_command="none"))
    return remote, dst, conf, log


def test_next_file_moves_while_the_server_hashes(sshd_server: SshdServer,
                                                 tmp_path: Path) -> None:
    remote, dst, conf, log = _setup(tmp_path, sshd_server, "md5sum")
    rc, err = _run(["copy", f"srv:{remote}", str(dst), "--transfers", "1", "-v"], tmp_path,
                   conf)
    assert rc == 0, err
    for i in range(FILES):  # every file landed whole under its name, no partial left
        assert (dst / f"f{i}.dat").read_bytes() == (remote / f"f{i}.dat").read_bytes()
    assert sorted(p.name for p in dst.iterdir()) == [f"f{i}.dat" for i in range(FILES)]
    rows = [line.split() for line in log.read_text().splitlines()]
    assert sorted(r[0] for r in rows) == [f"f{i}.dat" for i in range(FILES)]
    # while each file's hash ran on the server, the next file's data was being written
    assert [r[1] for r in sorted(rows)][:-1] == ["1"] * (FILES - 1), rows
    # one landing waits per transfer: never more than two partials at once
    assert max(int(r[2]) for r in rows) <= 2, rows


def test_failed_landing_fails_the_file_and_deletes_nothing(sshd_server: SshdServer,
                                                           tmp_path: Path) -> None:
    remote, dst, conf, _ = _setup(tmp_path, sshd_server, "0123456789abcdef0123456789abcdef")
    (dst / "extra.txt").write_text("only in the destination\n")
    rc, err = _run(["sync", f"srv:{remote}", str(dst), "--transfers", "1", "-v"], tmp_path,
                   conf)
    assert rc == 1, err
    failed = [line for line in err.splitlines()
              if "ERROR" in line and ".partial: corrupted on transfer: md5 hashes differ" in line]
    assert len(failed) == FILES, err
    # no file under its final name, no partial left, and the sync deleted nothing
    assert sorted(p.name for p in dst.iterdir()) == ["extra.txt"], err
    assert "not deleting files as there were IO errors" in err, err
