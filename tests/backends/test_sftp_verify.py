"""Hash verification after an SFTP copy, side by side with the real rclone (sshd on loopback).

rclone checks every copy with ``checkHashes``: the source's hash and the written file's, each
from its own backend. An SFTP side runs its hash command on the server after the copy
(``md5sum_command``), also when the SFTP side is the source of a download. Both tools run
the same command against the same server, each with its own config and folders. Where the
server has both ``md5sum`` and ``sha1sum``, pysync verifies with SHA-1 (cheaper to compute
on the client) and rclone with MD5: an intended difference, pinned here too.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from differential import sync_harness as sh

from . import sshd as _sshd
from .sshd import SshdServer, private_home

sshd_server = _sshd.sshd_server

BOGUS = "0123456789abcdef0123456789abcdef"
_STAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return private_home(tmp_path, monkeypatch)


def _run(tool: str, args: list[str], cwd: Path, conf: Path) -> tuple[int, list[str]]:
    """Run ``tool`` (``rclone`` or ``pysync``) in ``cwd``; exit code and log lines without
    time stamps, with the tool's own folder name replaced by ``X``."""
    assert sh.RCLONE is not None
    exe = [sh.RCLONE] if tool == "rclone" else [sys.executable, "-m", "syncengine"]
    env = sh.tool_env()
    env["RCLONE_CONFIG"] = str(conf)
    res = subprocess.run([*exe, *args, "--retries", "1", "--stats", "0"], cwd=cwd, env=env,
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    text = res.stderr.decode("utf-8", "replace").replace(str(cwd), "X")
    return res.returncode, [_STAMP.sub("", line) for line in text.splitlines() if line]


def _setup(tmp: Path, server: SshdServer, tool: str, md5_command: str) -> tuple[Path, Path]:
    """``tmp/<tool>``: a config naming the server ``srv`` (with ``md5_command``), a local
    ``src`` with two files and an empty folder ``remote`` on the server; (work, config)."""
    work = tmp / tool
    (work / "src" / "sub").mkdir(parents=True)
    (work / "src" / "a.dat").write_bytes(os.urandom(300_000))
    (work / "src" / "sub" / "b.txt").write_bytes(b"hello\n" * 100)
    (work / "remote").mkdir()
    conf = work / "rclone.conf"
    # sha1sum_command = none: both tools verify with md5 (pysync prefers SHA-1 where the
    # server has both; test_sha1_preferred covers that)
    conf.write_text(server.section("srv", shell_type="unix", md5sum_command=md5_command,
                                   sha1sum_command="none"))
    return work, conf


def _pair(tmp: Path, server: SshdServer, md5_command: str, args: list[str],
          upload_first: bool = False) -> dict[str, tuple[int, list[str], Path]]:
    out = {}
    for tool in ("rclone", "pysync"):
        work, conf = _setup(tmp, server, tool, md5_command)
        if upload_first:  # the remote folder holds the files to download
            for p in (work / "src").rglob("*"):
                target = work / "remote" / p.relative_to(work / "src")
                if p.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    target.write_bytes(p.read_bytes())
        remote = f"srv:{work / 'remote'}"
        rc, lines = _run(tool, [a.replace("REMOTE", remote) for a in args], work, conf)
        out[tool] = (rc, lines, work)
    return out


def _errors(lines: list[str]) -> list[str]:
    """The per-file error and removal lines, sorted (files run in parallel)."""
    return sorted(line for line in lines if "Attempt " not in line and (
        line.startswith("ERROR") and "corrupted" in line
        or line.startswith("INFO") and "Removing failed copy" in line))


@pytest.mark.parametrize("direction", ["download", "upload"])
def test_matching_hashes_logged_ok(sshd_server: SshdServer, tmp_path: Path,
                                   direction: str) -> None:
    """With the real md5sum both tools copy, and both log ``md5 = <hash> OK`` per file."""
    args = ["copy", "REMOTE", "dst", "-vv"] if direction == "download" else \
        ["copy", "src", "REMOTE", "-vv"]
    runs = _pair(tmp_path, sshd_server, "md5sum", args, upload_first=direction == "download")
    oks = {}
    for tool, (rc, lines, work) in runs.items():
        assert rc == 0, (tool, lines[-20:])
        oks[tool] = sorted(line for line in lines if line.endswith(" OK") and "md5 = " in line)
        target = work / ("dst" if direction == "download" else "remote")
        assert (target / "a.dat").read_bytes() == (work / "src" / "a.dat").read_bytes()
    assert len(oks["rclone"]) == 2
    # the hashes differ per tool (random data): compare the names and the form
    shape = {tool: [re.sub(r"[0-9a-f]{32}", "H", line) for line in v] for tool, v in oks.items()}
    assert shape["pysync"] == shape["rclone"]


@pytest.mark.parametrize("direction", ["download", "upload"])
def test_hash_mismatch_fails_like_rclone(sshd_server: SshdServer, tmp_path: Path,
                                         direction: str) -> None:
    """A hash command that answers a wrong hash: both tools fail every file with rclone's
    ``corrupted on transfer`` line on the partial file, remove it, and leave nothing under
    a final name."""
    args = ["copy", "REMOTE", "dst", "-v"] if direction == "download" else \
        ["copy", "src", "REMOTE", "-v"]
    runs = _pair(tmp_path, sshd_server, f"echo {BOGUS}", args,
                 upload_first=direction == "download")
    shown = {}
    for tool, (rc, lines, work) in runs.items():
        assert rc == 1, (tool, lines[-20:])
        shown[tool] = [re.sub(r"[0-9a-f]{32}", "H", re.sub(r"\.[0-9a-f]{8}\.partial",
                                                           ".P.partial", line))
                       for line in _errors(lines)]
        if direction == "download":
            assert not list((work / "dst").rglob("*.*")), tool
        else:
            assert not list((work / "remote").rglob("*.*")), tool
        assert any(f'"{BOGUS}"' in line for line in lines), (tool, lines)
    assert shown["pysync"] == shown["rclone"]
    assert len(shown["rclone"]) == 4  # two files: the error and the removal of each


def test_ignore_checksum_skips_the_server_hash(sshd_server: SshdServer, tmp_path: Path) -> None:
    """--ignore-checksum: no hash command runs, the wrong answer is never seen."""
    runs = _pair(tmp_path, sshd_server, f"echo {BOGUS}",
                 ["copy", "REMOTE", "dst", "-vv", "--ignore-checksum"], upload_first=True)
    for tool, (rc, lines, work) in runs.items():
        assert rc == 0, (tool, lines[-20:])
        assert not any(f"echo {BOGUS}" in line and "Running remote command" in line
                       for line in lines), tool
        assert (work / "dst" / "sub" / "b.txt").read_bytes() == b"hello\n" * 100


@pytest.mark.parametrize("direction", ["download", "upload"])
def test_sha1_preferred(sshd_server: SshdServer, tmp_path: Path, direction: str) -> None:
    """With ``md5sum`` and ``sha1sum`` on the server (rclone's default probe finds both),
    rclone verifies with MD5 and pysync with SHA-1 (an intended difference: the same
    safety, about a third of the client's hashing CPU). A ``sha1sum_command`` that answers
    a wrong hash then fails pysync's copies, so the SHA-1 check is real."""
    work = tmp_path / "probe"
    (work / "src").mkdir(parents=True)
    data = os.urandom(200_000)
    (work / "src" / "a.dat").write_bytes(data)
    (work / "remote").mkdir()
    if direction == "download":
        (work / "remote" / "a.dat").write_bytes(data)
    conf = work / "rclone.conf"
    remote = f"srv:{work / 'remote'}"
    args = ["copy", remote, "dst", "-vv"] if direction == "download" else \
        ["copy", "src", remote, "-vv"]
    want = {"rclone": f"md5 = {hashlib.md5(data).hexdigest()} OK",
            "pysync": f"sha1 = {hashlib.sha1(data).hexdigest()} OK"}
    for tool in ("rclone", "pysync"):
        conf.write_text(sshd_server.section("srv", shell_type="unix"))
        if direction == "upload":
            for p in (work / "remote").iterdir():
                p.unlink()
        else:
            shutil.rmtree(work / "dst", ignore_errors=True)
        rc, lines = _run(tool, args, work, conf)
        assert rc == 0, (tool, lines[-20:])
        oks = [line for line in lines if line.endswith(" OK") and "size = " not in line]
        assert len(oks) == 1 and oks[0].endswith(want[tool]), (tool, oks)
    # the SHA-1 answer decides: a wrong one fails the copy and leaves nothing behind
    conf.write_text(sshd_server.section("srv", shell_type="unix", md5sum_command="md5sum",
                                        sha1sum_command=f"echo {BOGUS}00000000"))
    if direction == "upload":
        for p in (work / "remote").iterdir():
            p.unlink()
    else:
        shutil.rmtree(work / "dst", ignore_errors=True)
    rc, lines = _run("pysync", args, work, conf)
    assert rc == 1, lines[-20:]
    assert any("corrupted on transfer: sha1 hashes differ" in line for line in lines), lines
    target = work / ("dst" if direction == "download" else "remote")
    assert not list(target.rglob("*.dat"))
