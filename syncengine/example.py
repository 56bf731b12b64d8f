"""Generate a deterministic MailStore-like archive tree for demos, tests and benchmarks."""

from __future__ import annotations

import os
import random
import time

from .record import record

__all__ = ["MailStoreShape", "make_mailstore_tree"]

DAY_NS = 86400 * 1_000_000_000


@record(frozen=True, kw_only=True)
class MailStoreShape:
    """How big the generated archive is. Sizes are bytes."""

    stores: int = 3  # one folder per archive store (e.g. a month)
    dat_per_store: int = 6  # content files per store
    dat_size: int = 256 * 1024  # about the size of each .dat (real archives: ~8 MiB)
    index_files: int = 3  # index* files per store
    recovery_records: int = 4  # per store
    fresh_fraction: float = 0.25  # share of files modified within the last hour
    seed: int = 1


def _write(path: str, size: int, rng: random.Random, mtime_ns: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    block = rng.randbytes(min(size, 64 * 1024)) if size else b""
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            chunk = block[: min(left, len(block))]
            fh.write(chunk)
            left -= len(chunk)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def make_mailstore_tree(root: str, shape: MailStoreShape | None = None,
                        *, now_ns: int | None = None) -> list[str]:
    """Create the archive under ``root`` and return the relative paths of its files.

    Layout (per store ``YYYY-MM``): ``Content/NNNNNN.dat`` content files,
    ``Content/index*`` and ``Index/index*`` files, ``Recovery Records/NNNNNN.rr``, and a
    ``MailStore.fdb`` database; plus ``MailStoreMaster.fdb`` and ``index.lst`` at the top.
    Most files are several days old; ``fresh_fraction`` of them (always the ``.fdb`` files
    and the newest ``.dat`` of each store) were modified within the last hour, as on a live
    server.
    """
    shape = shape or MailStoreShape()
    rng = random.Random(shape.seed)
    now = time.time_ns() if now_ns is None else now_ns
    old = now - 10 * DAY_NS
    files: list[tuple[str, int, bool]] = [("MailStoreMaster.fdb", 48 * 1024, True),
                                          ("index.lst", 2048, False)]
    for s in range(shape.stores):
        store = f"{2025 + (s + 5) // 12:04d}-{(s + 5) % 12 + 1:02d}"
        for d in range(shape.dat_per_store):
            size = max(0, int(shape.dat_size * rng.uniform(0.75, 1.25)))
            newest = d == shape.dat_per_store - 1
            fresh = newest or rng.random() < shape.fresh_fraction
            files.append((f"{store}/Content/{d + 1:06d}.dat", size, fresh))
        for i in range(shape.index_files):
            name = "index" if i == 0 else f"index_{i:03d}.dat" if i % 2 else f"index{i}.idx"
            files.append((f"{store}/Index/{name}", 4096 + 512 * i, rng.random() < 0.5))
        files.append((f"{store}/Content/index.dat", 8192, True))
        for r in range(shape.recovery_records):
            files.append((f"{store}/Recovery Records/{r + 1:06d}.rr", 1024 + 16 * r,
                          rng.random() < shape.fresh_fraction))
        files.append((f"{store}/MailStore.fdb", 32 * 1024, True))
    out = []
    for rel, size, fresh in files:
        mtime = now - rng.randrange(60, 3600) * 1_000_000_000 if fresh else \
            old - rng.randrange(0, 30 * 86400) * 1_000_000_000
        _write(os.path.join(root, rel), size, rng, mtime)
        out.append(rel)
    return out
