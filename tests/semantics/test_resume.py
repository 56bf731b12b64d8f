"""``--resume``: an interrupted large transfer continues from its verified partial file.

The source file is 96 MiB (manifests every 16 MiB); the copy is slowed with ``--bwlimit`` so
that it can be killed after its manifest records at least 32 MiB. The rerun's JSON stats show
exactly the bytes it sent: the file size minus what the manifest recorded.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from syncengine import resume
from tests.semantics.procs import run, started, wait_until

MiB = 1024 * 1024
SIZE = 96 * MiB


def _source(root: Path) -> Path:
    src = root / "src"
    (src / "store").mkdir(parents=True)
    (src / "store" / "big.dat").write_bytes(os.urandom(SIZE))
    (src / "small.txt").write_bytes(b"small")
    return src


def _manifests(dst: Path) -> list[Path]:
    return sorted(dst.rglob("*" + resume.MANIFEST_SUFFIX))


def _interrupt(tmp_path: Path, src: Path, dst: Path, sig: int, mode: str = "copy") -> dict:
    """Start a resumable copy, stop it with ``sig`` once 32 MiB are recorded, return the
    manifest it left."""
    args = [mode, str(src), str(dst), "--resume", "--bwlimit", "24M", "--transfers", "1"]

    def recorded() -> bool:
        found = _manifests(dst)
        if not found:
            return False
        try:
            return json.loads(found[0].read_text())["done"] >= 32 * MiB
        except (OSError, ValueError):
            return False  # caught while being replaced

    with started("pysync", args, tmp_path / "first.log") as child:
        wait_until(child, recorded, "a manifest recording 32 MiB")
        child.signal(sig)
        done = child.wait()
    assert done.returncode == 128 + sig, done.stderr
    found = _manifests(dst)
    assert len(found) == 1, "the partial's manifest must survive the interruption"
    manifest = json.loads(found[0].read_text())
    partial = Path(str(found[0])[: -len(resume.MANIFEST_SUFFIX)])
    assert partial.exists() and partial.stat().st_size >= manifest["done"]
    assert not (dst / "store" / "big.dat").exists()  # nothing under the final name
    return manifest


def _rerun(src: Path, dst: Path, *extra: str, mode: str = "copy") -> tuple[int, dict]:
    out = run("pysync", mode, str(src), str(dst), "--resume", "--use-json-log", "-v", *extra)
    assert out.returncode == 0, out.stderr
    stats = [json.loads(line)["stats"] for line in out.stderr.splitlines()
             if line.startswith("{") and '"stats"' in line]
    assert stats, out.stderr
    return out.returncode, {"stats": stats[-1], "log": out.stderr}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM],
                         ids=["SIGKILL", "SIGINT", "SIGTERM"])
def test_interrupted_copy_resumes_and_sends_only_the_rest(tmp_path: Path, sig: int) -> None:
    src = _source(tmp_path)
    dst = tmp_path / "dst"
    manifest = _interrupt(tmp_path, src, dst, sig)
    _, out = _rerun(src, dst)
    # exactly the tail was sent (the small file went over in the first run)
    assert out["stats"]["bytes"] == SIZE - manifest["done"]
    assert out["stats"]["bytes"] <= 0.7 * SIZE
    assert f"Resuming transfer at {manifest['done']} bytes" in out["log"]
    assert (dst / "store" / "big.dat").read_bytes() == (src / "store" / "big.dat").read_bytes()
    assert not list(dst.rglob("*.partial")) and not _manifests(dst)


def test_changed_source_discards_the_partial(tmp_path: Path) -> None:
    src = _source(tmp_path)
    dst = tmp_path / "dst"
    _interrupt(tmp_path, src, dst, signal.SIGKILL)
    big = src / "store" / "big.dat"
    with open(big, "r+b") as fh:  # same size, new content and time: a new version
        fh.write(b"new version")
    _, out = _rerun(src, dst)
    assert "Removed stale partial file of an earlier run" in out["log"]
    assert out["stats"]["bytes"] == SIZE
    assert (dst / "store" / "big.dat").read_bytes() == big.read_bytes()
    assert not list(dst.rglob("*.partial")) and not _manifests(dst)


def test_damaged_partial_is_not_trusted(tmp_path: Path) -> None:
    src = _source(tmp_path)
    dst = tmp_path / "dst"
    _interrupt(tmp_path, src, dst, signal.SIGKILL)
    partial = next(dst.rglob("*.partial"))
    with open(partial, "r+b") as fh:  # one flipped byte inside the recorded prefix
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    _, out = _rerun(src, dst)
    assert "does not match its resume manifest: starting again" in out["log"]
    assert out["stats"]["bytes"] == SIZE
    assert (dst / "store" / "big.dat").read_bytes() == (src / "store" / "big.dat").read_bytes()


def test_sync_keeps_the_partial_it_resumes_and_drops_unused_ones(tmp_path: Path) -> None:
    src = _source(tmp_path)
    dst = tmp_path / "dst"
    (dst / "store").mkdir(parents=True)
    (dst / "dst-only.txt").write_bytes(b"goes")
    manifest = _interrupt(tmp_path, src, dst, signal.SIGKILL, mode="sync")
    # a partial of a file that is already complete at the destination is of no use
    (src / "store" / "done.bin").write_bytes(os.urandom(17 * MiB))
    (dst / "store" / "done.bin").write_bytes((src / "store" / "done.bin").read_bytes())
    os.utime(dst / "store" / "done.bin", ns=(os.stat(src / "store" / "done.bin").st_mtime_ns,) * 2)
    from syncengine.backends.base import Entry
    from syncengine.transfer import partial_name
    st = os.stat(src / "store" / "done.bin")
    unused = dst / partial_name("store/done.bin", Entry("store/done.bin", st.st_size,
                                                        st.st_mtime_ns), ".partial")
    unused.write_bytes(b"x" * 100)
    _, out = _rerun(src, dst, mode="sync")
    assert out["stats"]["bytes"] == SIZE - manifest["done"]
    assert "Removed unused partial file of an earlier run" in out["log"]
    assert not (dst / "dst-only.txt").exists()  # sync still deletes what it should
    assert not list(dst.rglob("*.partial")) and not _manifests(dst)
    for rel in ("store/big.dat", "store/done.bin", "small.txt"):
        assert (dst / rel).read_bytes() == (src / rel).read_bytes()


def test_without_resume_interrupted_partials_go_as_in_rclone(tmp_path: Path) -> None:
    """The default stays rclone's: Ctrl-C removes the partial file, no manifest is kept."""
    src = _source(tmp_path)
    dst = tmp_path / "dst"
    args = ["copy", str(src), str(dst), "--bwlimit", "24M", "--transfers", "1"]
    with started("pysync", args, tmp_path / "plain.log") as child:
        wait_until(child, lambda: any(p.stat().st_size > 8 * MiB
                                      for p in dst.rglob("*.partial")), "8 MiB written")
        child.signal(signal.SIGINT)
        done = child.wait()
    assert done.returncode == 130
    assert not list(dst.rglob("*.partial")) and not _manifests(dst)
