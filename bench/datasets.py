"""Deterministic benchmark data sets, generated once under the work dir and reused.

Every data set lives in ``WORKDIR/data/<kind>-<digest>/`` where the digest covers the
generation parameters, so the ``--quick`` and the full sizes can coexist.  The tree to copy is
``src/`` inside it and the marker ``params.json`` next to it records the parameters (and, for the
MailStore tree, every file's age).  A data set whose marker is missing, differs, or says
``dirty`` (a run was interrupted while files were modified) is deleted and generated again.

Kinds:

``large``
    a few big ``.dat`` files (1 GiB each in the full run);
``mailstore``
    :func:`syncengine.example.make_mailstore_tree` with ~8 MiB ``.dat`` files, ``index*``
    files, recovery records and ``.fdb`` databases, some older than a day, some fresh;
``small``
    many small files of 1--64 KiB in nested folders;
``million``
    a tree of empty files for the listing row.

Contents are slices of a seeded random pool (16 MiB), so they are deterministic and not
trivially compressible, and generation runs at disk speed rather than PRNG speed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from syncengine.example import MailStoreShape, make_mailstore_tree

__all__ = [
    "GENERATOR_VERSION",
    "KIND_ORDER",
    "Dataset",
    "Sizes",
    "FULL",
    "QUICK",
    "ContentSource",
    "dataset_params",
    "human_size",
    "tree_totals",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

GENERATOR_VERSION = 1
CHUNK = 1 * MiB
MARKER = "params.json"
KIND_ORDER = ("large", "mailstore", "small", "million")


@dataclass(frozen=True)
class Sizes:
    """How big each data set is (bytes and file counts)."""

    large_files: int = 3
    large_size: int = 1 * GiB
    mail_stores: int = 20
    mail_dat_per_store: int = 20
    mail_dat_size: int = 8 * MiB
    small_files: int = 20_000
    small_min: int = 1 * KiB
    small_max: int = 64 * KiB
    small_per_dir: int = 50
    million_files: int = 1_000_000
    million_per_dir: int = 1000


FULL = Sizes()
QUICK = Sizes(large_files=2, large_size=256 * MiB, mail_stores=6, mail_dat_per_store=10,
              small_files=2000, million_files=50_000)


def human_size(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def dataset_params(kind: str, sizes: Sizes) -> dict[str, Any]:
    """The generation parameters of data set ``kind`` (these go into the marker file)."""
    if kind == "large":
        return {"count": sizes.large_files, "size": sizes.large_size, "seed": 11}
    if kind == "mailstore":
        return {"stores": sizes.mail_stores, "dat_per_store": sizes.mail_dat_per_store,
                "dat_size": sizes.mail_dat_size, "seed": 1}
    if kind == "small":
        return {"count": sizes.small_files, "min_size": sizes.small_min,
                "max_size": sizes.small_max, "per_dir": sizes.small_per_dir, "seed": 13}
    if kind == "million":
        return {"count": sizes.million_files, "per_dir": sizes.million_per_dir}
    raise ValueError(f"unknown data set kind {kind!r}")


def describe(kind: str, params: dict[str, Any]) -> str:
    """One line saying what the data set holds."""
    if kind == "large":
        return f"{params['count']} x {human_size(params['size'])} .dat files"
    if kind == "mailstore":
        n = params["stores"] * params["dat_per_store"]
        return (f"MailStore-like archive: {params['stores']} stores, {n} .dat files of "
                f"~{human_size(params['dat_size'])} + index*, recovery records, .fdb")
    if kind == "small":
        return (f"{params['count']:,} files of {human_size(params['min_size'])}-"
                f"{human_size(params['max_size'])} in nested folders")
    if kind == "million":
        return f"{params['count']:,} empty files, {params['per_dir']} per folder"
    return kind


class ContentSource:
    """Deterministic bytes that are not trivially compressible.

    A pool of seeded random bytes (16 MiB + one chunk); each chunk written is the pool slice at
    a position chosen by the caller's PRNG, so files differ from each other and from chunk to
    chunk, and a compressor with a window below the pool size finds nothing to squeeze.
    """

    POOL = 16 * MiB

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._pool = memoryview(random.Random(seed).randbytes(self.POOL + CHUNK))

    def write(self, fh: BinaryIO, size: int, rng: random.Random) -> None:
        """Write ``size`` bytes to ``fh``."""
        left = size
        while left > 0:
            n = min(left, CHUNK)
            off = rng.randrange(self.POOL)
            fh.write(self._pool[off:off + n])
            left -= n

    def write_file(self, path: str | os.PathLike[str], size: int, rng: random.Random,
                   mtime_ns: int | None = None) -> None:
        """Create (or replace the contents of) ``path`` with ``size`` bytes."""
        with open(path, "wb") as fh:
            self.write(fh, size, rng)
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))


@functools.lru_cache(maxsize=4)
def content_source(seed: int) -> ContentSource:
    """A shared :class:`ContentSource` per seed (building the pool takes a moment)."""
    return ContentSource(seed)


# --- generators: (src dir, params) -> extra marker fields ---------------------------------


def _gen_large(src: Path, params: dict[str, Any]) -> dict[str, Any]:
    src.mkdir(parents=True, exist_ok=True)
    rng = random.Random(params["seed"])
    content = content_source(params["seed"])
    for i in range(params["count"]):
        content.write_file(src / f"big-{i + 1:02d}.dat", params["size"], rng)
    return {}


def _gen_mailstore(src: Path, params: dict[str, Any]) -> dict[str, Any]:
    shape = MailStoreShape(stores=params["stores"], dat_per_store=params["dat_per_store"],
                           dat_size=params["dat_size"], seed=params["seed"])
    base = time.time_ns()
    rels = make_mailstore_tree(str(src), shape, now_ns=base)
    # make_mailstore_tree repeats one 64 KiB block inside each file: give the bigger files
    # pool contents instead (same sizes and times), so nothing is compressible-trivial.
    rng = random.Random(params["seed"] * 7919)
    content = content_source(params["seed"])
    offsets: dict[str, int] = {}
    for rel in sorted(rels):
        path = src / rel
        st = path.stat()
        if st.st_size > 64 * KiB:
            content.write_file(path, st.st_size, rng, st.st_mtime_ns)
        offsets[rel] = st.st_mtime_ns - base
    return {"mtime_offsets_ns": offsets}


def _small_rel(i: int, per_dir: int) -> str:
    leaf = i // per_dir
    top, mid = divmod(leaf, 20)
    if leaf % 3 == 2:  # every third leaf folder one level deeper
        return f"t{top:03d}/m{mid:02d}/deep/f{i:06d}.bin"
    return f"t{top:03d}/m{mid:02d}/f{i:06d}.bin"


def _gen_small(src: Path, params: dict[str, Any]) -> dict[str, Any]:
    rng = random.Random(params["seed"])
    content = content_source(params["seed"])
    made: set[str] = set()
    for i in range(params["count"]):
        rel = _small_rel(i, params["per_dir"])
        parent = os.path.dirname(rel)
        if parent not in made:
            (src / parent).mkdir(parents=True, exist_ok=True)
            made.add(parent)
        size = rng.randint(params["min_size"], params["max_size"])
        content.write_file(src / rel, size, rng)
    return {}


def _gen_million(src: Path, params: dict[str, Any]) -> dict[str, Any]:
    count, per_dir = params["count"], params["per_dir"]
    flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for leaf in range((count + per_dir - 1) // per_dir):
        d = src / f"g{leaf // 32:03d}" / f"d{leaf % 32:02d}"
        d.mkdir(parents=True, exist_ok=True)
        dfd = os.open(d, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            for k in range(min(per_dir, count - leaf * per_dir)):
                os.close(os.open(f"f{k:04d}", flags, 0o644, dir_fd=dfd))
        finally:
            os.close(dfd)
    return {}


_GENERATORS: dict[str, Callable[[Path, dict[str, Any]], dict[str, Any]]] = {
    "large": _gen_large,
    "mailstore": _gen_mailstore,
    "small": _gen_small,
    "million": _gen_million,
}


def tree_totals(src: Path) -> tuple[int, int]:
    """(number of files, total bytes) under ``src``."""
    files = total = 0
    for root, _dirs, names in os.walk(src):
        for name in names:
            files += 1
            total += os.lstat(os.path.join(root, name)).st_size
    return files, total


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


class Dataset:
    """One generated data set: ``root/src`` is the tree, ``root/params.json`` the marker."""

    def __init__(self, kind: str, params: dict[str, Any], workdir: Path) -> None:
        self.kind = kind
        self.params = dict(params)
        key = json.dumps({"kind": kind, "params": self.params, "v": GENERATOR_VERSION},
                         sort_keys=True)
        digest = hashlib.sha1(key.encode()).hexdigest()[:10]
        self.root = Path(workdir) / "data" / f"{kind}-{digest}"
        self.src = self.root / "src"
        self.marker = self.root / MARKER
        self.info: dict[str, Any] = {}

    @classmethod
    def for_sizes(cls, kind: str, sizes: Sizes, workdir: Path) -> Dataset:
        """The data set ``kind`` at the given sizes."""
        return cls(kind, dataset_params(kind, sizes), workdir)

    @property
    def description(self) -> str:
        """What the data set holds, in a few words."""
        return describe(self.kind, self.params)

    def _read_marker(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return None
        if (not isinstance(data, dict) or data.get("kind") != self.kind
                or data.get("params") != self.params
                or data.get("generator_version") != GENERATOR_VERSION
                or data.get("dirty") or not self.src.is_dir()):
            return None
        return data

    def ensure(self, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
        """Generate the data set unless a matching marker says it is already there."""
        data = self._read_marker()
        if data is not None:
            self.info = data
            log(f"data set {self.kind}: reusing {self.root} ({self.description})")
            return data
        if self.root.exists():
            log(f"data set {self.kind}: removing stale {self.root}")
            shutil.rmtree(self.root)
        self.src.mkdir(parents=True)
        log(f"data set {self.kind}: generating {self.description} in {self.root} ...")
        t0 = time.perf_counter()
        extra = _GENERATORS[self.kind](self.src, self.params)
        os.sync()
        files, total = tree_totals(self.src)
        data = {"kind": self.kind, "params": self.params,
                "generator_version": GENERATOR_VERSION, "dirty": False,
                "files": files, "bytes": total,
                "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "generate_seconds": round(time.perf_counter() - t0, 3), **extra}
        _write_json_atomic(self.marker, data)
        self.info = data
        log(f"data set {self.kind}: {files:,} files, {human_size(total)} "
            f"in {data['generate_seconds']:.1f} s")
        return data

    def summary(self) -> dict[str, Any]:
        """What goes into the results JSON about this data set."""
        return {"kind": self.kind, "params": self.params, "path": str(self.src),
                "description": self.description, "files": self.info.get("files"),
                "bytes": self.info.get("bytes"),
                "generate_seconds": self.info.get("generate_seconds")}

    def set_dirty(self, dirty: bool) -> None:
        """Flag the tree as modified (regenerated next time unless flagged clean again)."""
        data = self.info or self._read_marker()
        if data is None:
            return
        data = {**data, "dirty": dirty}
        _write_json_atomic(self.marker, data)
        self.info = data

    def refresh_mtimes(self, now_ns: int | None = None) -> int:
        """Re-apply the recorded file ages relative to now (MailStore tree only).

        The tree is reused across days, but "fresh" files must stay younger than a day for the
        ``--min-age 1d`` row: every run restores each file's age at generation time.
        """
        offsets: dict[str, int] = self.info.get("mtime_offsets_ns") or {}
        now = time.time_ns() if now_ns is None else now_ns
        for rel, off in offsets.items():
            t = now + int(off)
            os.utime(self.src / rel, ns=(t, t))
        return len(offsets)

    def files(self) -> list[str]:
        """Relative paths of every file, sorted."""
        return sorted(iter_files(self.src))

    def warm(self) -> None:
        """Read the whole tree once (untimed) so both tools start with a warm cache."""
        if self.kind == "million":  # empty files: the metadata is what gets read
            for _root, _dirs, _names in os.walk(self.src):
                for name in _names:
                    os.lstat(os.path.join(_root, name))
            return
        buf = bytearray(CHUNK)
        for rel in iter_files(self.src):
            with open(self.src / rel, "rb", buffering=0) as fh:
                while fh.readinto(buf):
                    pass


def iter_files(top: Path) -> Iterator[str]:
    """Relative (``/``-separated) paths of the files under ``top``."""
    for root, dirs, names in os.walk(top):
        dirs.sort()
        rel_root = os.path.relpath(root, top)
        for name in sorted(names):
            yield name if rel_root == "." else f"{rel_root}/{name}".replace(os.sep, "/")


def sizes_dict(sizes: Sizes) -> dict[str, int]:
    """``Sizes`` as a plain dict (for the results JSON)."""
    return asdict(sizes)
