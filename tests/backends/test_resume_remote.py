"""``--resume`` to a real SFTP server and a real SMB share: a copy stopped half way (pysync
killed, or the server killed under it) continues from its verified partial file.

Each test runs its own server (see ``test_server_faults``); the source is one 64 MiB file,
the copy is slowed with ``--bwlimit`` so it can be stopped once its manifest records at least
24 MiB. The rerun's JSON stats must show exactly the bytes that were still missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from syncengine import resume
from tests.backends.test_server_faults import Target, tool_cmd, tool_env
from tests.backends.test_server_faults import target as target  # the dedicated-server fixture

MiB = 1024 * 1024
SIZE = 64 * MiB
LIMIT = 60.0  # safety net for a broken run, never a timing assertion


def _recorded(dst: Path, at_least: int) -> dict | None:
    for m in dst.rglob("*" + resume.MANIFEST_SUFFIX):
        try:
            data = json.loads(m.read_text())
        except (OSError, ValueError):
            continue  # caught while being replaced
        if data["done"] >= at_least:
            return data
    return None


def _start(target: Target, src: Path, home: Path, log: Path) -> subprocess.Popen[bytes]:
    args = ["copy", str(src), target.remote("res"), "--config", str(target.conf), "--resume",
            "--bwlimit", "16M", "--retries", "1", "--low-level-retries", "1", "-v"]
    with open(log, "wb") as fh:
        return subprocess.Popen([*tool_cmd("pysync"), *args], stdout=subprocess.DEVNULL,
                                stderr=fh, stdin=subprocess.DEVNULL, env=tool_env(home))


def _wait_recorded(proc: subprocess.Popen[bytes], dst: Path, log: Path) -> None:
    limit = time.monotonic() + LIMIT
    while _recorded(dst, 24 * MiB) is None:
        assert proc.poll() is None, f"the copy ended early:\n{log.read_text()}"
        assert time.monotonic() < limit, "no manifest recording 24 MiB appeared"
        time.sleep(0.05)


def _rerun(target: Target, src: Path, home: Path) -> tuple[dict, str]:
    out = subprocess.run([*tool_cmd("pysync"), "copy", str(src), target.remote("res"),
                          "--config", str(target.conf), "--resume", "--use-json-log", "-v"],
                         capture_output=True, text=True, timeout=120, env=tool_env(home),
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    stats = [json.loads(line)["stats"] for line in out.stderr.splitlines()
             if line.startswith("{") and '"stats"' in line]
    return stats[-1], out.stderr


@pytest.mark.parametrize("what", ["pysync-killed", "server-killed"])
def test_resume_after_interruption(target: Target, tmp_path: Path, what: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(SIZE)
    (src / "big.dat").write_bytes(data)
    dst = target.on_disk("res")
    log = tmp_path / "first.log"
    proc = _start(target, src, home, log)
    try:
        _wait_recorded(proc, dst, log)
        if what == "pysync-killed":
            proc.send_signal(signal.SIGKILL)
        else:
            target.kill()
        code = proc.wait(timeout=LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code != 0
    if what == "server-killed":
        assert "Keeping partial file for --resume" in log.read_text(errors="replace")
        target.restart()
    assert not (dst / "big.dat").exists()  # nothing under the final name
    manifest = _recorded(dst, 24 * MiB)
    assert manifest is not None, "the manifest must survive"
    stats, text = _rerun(target, src, home)
    assert f"Resuming transfer at {manifest['done']} bytes" in text
    assert stats["bytes"] == SIZE - manifest["done"] and stats["bytes"] <= 0.7 * SIZE
    assert (dst / "big.dat").read_bytes() == data
    assert not list(dst.rglob("*.partial")) and not list(dst.rglob("*" + resume.MANIFEST_SUFFIX))


def test_append_verify_sends_only_the_tail(target: Target, tmp_path: Path) -> None:
    """A grown source whose old version is on the server: only the new tail goes over."""
    home = tmp_path / "home"
    home.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    data = os.urandom(12 * MiB)
    (src / "big.dat").write_bytes(data[: 9 * MiB])
    first = subprocess.run([*tool_cmd("pysync"), "copy", str(src), target.remote("app"),
                            "--config", str(target.conf)], capture_output=True, text=True,
                           timeout=120, env=tool_env(home), stdin=subprocess.DEVNULL)
    assert first.returncode == 0, first.stderr
    (src / "big.dat").write_bytes(data)  # the service appended 3 MiB
    out = subprocess.run([*tool_cmd("pysync"), "copy", str(src), target.remote("app"),
                          "--config", str(target.conf), "--append-verify", "-v",
                          "--use-json-log"], capture_output=True, text=True, timeout=120,
                         env=tool_env(home), stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    stats = [json.loads(line)["stats"] for line in out.stderr.splitlines()
             if line.startswith("{") and '"stats"' in line][-1]
    assert stats["bytes"] == 3 * MiB
    assert "appended 3145728 bytes to the verified destination" in out.stderr
    assert (target.on_disk("app") / "big.dat").read_bytes() == data
    assert not list(target.on_disk("app").rglob("*.partial"))
