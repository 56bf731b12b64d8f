"""Deterministic random directory trees for the differential tests.

``build_tree(base, seed)`` creates a tree under ``base`` and returns a :class:`Tree`
model of it (relative paths, sizes, mtimes).  Everything about the tree - names, shape,
sizes, contents, and the *ages* of the mtimes - is a pure function of ``seed``; only
the absolute mtimes move with the wall clock (``mtime = built_ns - age_ns``), so that
``--min-age 1d`` style filters see the same tree on every run.  A few mtimes are fixed
absolute dates (1999..2012), some sit in the future, some are whole seconds.

Names are limited to what rclone's local backend lists unchanged (default encoding
``Slash,Dot``, no unicode normalisation on Linux): valid UTF-8, no ``/``, no NUL, no
control characters, never ``.`` or ``..``.  Leading/trailing spaces, NFD sequences,
glob and regexp metacharacters are all fair game because they round-trip.

Run ``python tests/differential/trees.py SEED DIR`` to rebuild a tree for debugging.
"""

from __future__ import annotations

import os
import random
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

NS = 1_000_000_000
MINUTE = 60 * NS
HOUR = 60 * MINUTE
DAY = 24 * HOUR

MAX_DEPTH = 6

# Marker files used with --exclude-if-present.
MARKERS = (".ignore", "NOBACKUP", ".rclone-skip")

# ---------------------------------------------------------------------------------------
# name pools

STEMS = (
    "a", "b", "x", "A", "X", "f", "data", "Data", "DATA", "mail", "Mail", "notes",
    "photo", "Photo", "IMG_0001", "img_0002", "report 2023", "report_2024", "backup",
    "Backup", "archive", "readme", "README", "index", "Index", "INDEX", "indexes",
    "index1", "index.old", "MailStore", "mailstore", "store", "Store", "folder",
    "Ordner", "café", "Café", "CAFÉ", "résumé", "Résumé", "Straße", "STRASSE", "straße",
    "日本", "日本語", "naïve", "Ärger", "ärger", "Ωmega", "ωmega", "Ελλάδα", "Москва",
    "emoji😀", "x y", "a b c", "v1.2.3", "1", "2", "10", "007", "zz",
)
EXTENSIONS = (
    ".dat", ".dat", ".dat", ".fdb", ".fdb", ".txt", ".txt", ".jpg", ".JPG", ".DAT",
    ".Dat", ".FDB", ".log", ".tar.gz", ".bak", ".fdb.bak", ".dat.tmp", ".jpeg", ".md",
    "", "", "",
)
DIR_STEMS = (
    "a", "b", "x", "y", "A", "sub", "Sub", "dir", "Dir one", "docs", "Docs", "photos",
    "2023", "2024-01", "recovery records", "Recovery Records", "MailStore Home",
    "Archive", "archive", "tmp", "cache", ".cache", ".hidden", "Ordner", "café",
    "日本", "straße", "Straße", "deep", "a.b", "x.dat", "index",
)
# Characters spliced into names: glob/regexp metacharacters and other punctuation.
SPECIAL_CHARS = (
    " ", " ", ".", "-", "_", "[", "]", "{", "}", ",", "#", ";", "!", "(", ")", "+",
    "$", "^", "|", "'", "&", "@", "%", "=", "~", "?", "*", "\\",
)
# Letters whose case folding differs between naive and Unicode-aware implementations.
TRICKY_LETTERS = ("ß", "ẞ", "K", "k", "K", "ſ", "s", "S", "é", "É", "İ", "ı", "i", "I")


@dataclass(frozen=True)
class Entry:
    """One file or directory of a generated tree."""

    rel: str  # path relative to the tree root, "/" separated, no trailing slash
    is_dir: bool
    size: int  # bytes; -1 for directories
    mtime_ns: int  # absolute mtime set on disk
    age_ns: int  # built_ns - mtime_ns (negative = in the future)
    # The age drawn from the seed before rounding to whole seconds etc.; None for fixed
    # absolute dates (1999..2012).  Exactly reproducible, so generators use this one.
    nominal_age_ns: int | None = None

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        return self.rel.rsplit("/", 1)[0] if "/" in self.rel else ""

    @property
    def depth(self) -> int:
        return self.rel.count("/") + 1


@dataclass
class Tree:
    """Model of a tree on disk."""

    seed: int
    root: Path
    built_ns: int
    entries: list[Entry] = field(default_factory=list)

    @property
    def files(self) -> list[Entry]:
        return [e for e in self.entries if not e.is_dir]

    @property
    def dirs(self) -> list[Entry]:
        return [e for e in self.entries if e.is_dir]

    def names(self) -> list[str]:
        return sorted({e.name for e in self.entries})

    def describe(self, limit: int = 400) -> str:
        """Human-readable listing, for failure messages."""
        lines = []
        for e in sorted(self.entries, key=lambda e: e.rel)[:limit]:
            age_h = e.age_ns / HOUR
            if e.is_dir:
                lines.append(f"  {e.rel}/  age={age_h:.2f}h")
            else:
                lines.append(f"  {e.rel}  size={e.size} age={age_h:.2f}h")
        if len(self.entries) > limit:
            lines.append(f"  ... {len(self.entries) - limit} more")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# generation helpers


def _nfd_sometimes(rng: random.Random, name: str) -> str:
    """Rarely return the NFD form (rclone lists it unchanged: no normalisation on Linux)."""
    if rng.random() < 0.03:
        nfd = unicodedata.normalize("NFD", name)
        if nfd != name:
            return nfd
    return name


def _mangle(rng: random.Random, stem: str) -> str:
    """Splice special characters / case changes into a stem."""
    r = rng.random()
    if r < 0.25:
        c = rng.choice(SPECIAL_CHARS)
        i = rng.randint(1, max(1, len(stem)))  # never at position 0 (no leading "-")
        stem = stem[:i] + c + stem[i:]
    elif r < 0.32:
        stem = stem + rng.choice(TRICKY_LETTERS)
    elif r < 0.40:
        stem = stem.swapcase()
    elif r < 0.45:
        stem = f"{stem}{rng.randint(0, 99)}"
    elif r < 0.48:
        # brace/bracket pairs that look like globs
        stem = rng.choice(("[1]", "{a,b}", "[abc]", "{x}", "a,b", "x[y", "y]z", "{")) + stem
    return stem


def _file_name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.12:  # MailStore-like
        name = rng.choice((
            "index", "index.dat", "index.fdb", "Index.dat", "index1.dat", "index-old.dat",
            "indexes.txt", "MailStore.fdb", "MailStore_Archive.fdb", "store.fdb",
            "Mail.dat", "recovery.dat", "content.dat", "sessions.dat",
        ))
    else:
        stem = _mangle(rng, rng.choice(STEMS))
        ext = rng.choice(EXTENSIONS)
        name = stem + ext
    r = rng.random()
    if r < 0.08:
        name = "." + name  # hidden file
    elif r < 0.10:
        name = "#" + name  # comment character at the start of a files-from line
    elif r < 0.11:
        name = ";" + name
    elif r < 0.13:
        name = " " + name  # leading space: trimmed by --files-from, kept by -raw
    elif r < 0.15:
        name = name + " "  # trailing space
    return _nfd_sometimes(rng, name)


def _dir_name(rng: random.Random) -> str:
    name = rng.choice(DIR_STEMS)
    if rng.random() < 0.35:
        name = _mangle(rng, name)
    if rng.random() < 0.05:
        name = "." + name
    return _nfd_sometimes(rng, name)


def _valid_name(name: str) -> bool:
    if name in ("", ".", "..") or "/" in name or "\x00" in name:
        return False
    if any(unicodedata.category(c) == "Cc" for c in name):
        return False
    return len(name.encode()) <= 120


def _size(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.10:
        return 0
    if r < 0.35:  # around KiB boundaries
        k = rng.choice((1, 1, 2, 3, 4, 8, 10, 16, 64, 100, 128, 256))
        return max(0, k * 1024 + rng.choice((-1, 0, 0, 1)))
    if r < 0.70:
        return rng.randint(1, 4096)
    if r < 0.90:
        return rng.randint(4096, 64 * 1024)
    return rng.randint(64 * 1024, 300 * 1024)


def _age_ns(rng: random.Random) -> int | None:
    """Age relative to build time, or None for a fixed absolute date."""
    r = rng.random()
    if r < 0.10:
        return -rng.randint(1 * HOUR, 40 * DAY)  # future
    if r < 0.25:
        return rng.randint(5 * MINUTE, 20 * HOUR)
    if r < 0.45:
        return rng.randint(20 * HOUR, 4 * DAY)
    if r < 0.80:
        return rng.randint(4 * DAY, 120 * DAY)
    if r < 0.92:
        return rng.randint(120 * DAY, 700 * DAY)
    return None


_FIXED_EPOCH_MIN = 915_148_800  # 1999-01-01
_FIXED_EPOCH_MAX = 1_325_376_000  # 2012-01-01


def _mtime_ns(rng: random.Random, built_ns: int) -> tuple[int, int | None]:
    """(mtime, nominal age)."""
    age = _age_ns(rng)
    if age is None:
        ns = rng.randint(_FIXED_EPOCH_MIN, _FIXED_EPOCH_MAX) * NS
        if rng.random() < 0.5:
            ns += rng.randint(0, NS - 1)
        return ns, None
    ns = built_ns - age
    r = rng.random()
    if r < 0.3:
        ns -= ns % NS  # exactly on a whole second
    elif r < 0.4:
        ns = ns - ns % NS + NS - 1  # one ns before the next second (truncation check)
    elif r < 0.5:
        ns -= ns % 1000  # microsecond resolution
    return ns, age


def _content(rng: random.Random, size: int) -> bytes:
    if size == 0:
        return b""
    chunk = rng.randbytes(min(size, 4096))
    reps = -(-size // len(chunk))
    return (chunk * reps)[:size]


# ---------------------------------------------------------------------------------------
# the tree


def build_tree(base: Path, seed: int, *, size: str | None = None) -> Tree:
    """Create a random tree in ``base`` (created, must not exist or be empty).

    ``size`` is "small", "medium" or "large"; default drawn from the seed.
    """
    rng = random.Random(f"tree-{seed}")
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    if any(base.iterdir()):
        raise ValueError(f"{base} is not empty")
    built_ns = time.time_ns()

    if size is None:
        size = rng.choice(("small", "medium", "medium", "large"))
    n_dirs, n_files = {
        "small": (rng.randint(2, 8), rng.randint(5, 20)),
        "medium": (rng.randint(8, 20), rng.randint(20, 60)),
        "large": (rng.randint(20, 35), rng.randint(60, 120)),
    }[size]

    # children[parent_rel] = set of names (files and dirs share the namespace)
    children: dict[str, set[str]] = {"": set()}
    dirs: list[str] = []
    file_specs: list[str] = []

    def unique_child(parent: str, make) -> str | None:
        for _ in range(20):
            name = make(rng)
            if _valid_name(name) and name not in children[parent]:
                children[parent].add(name)
                return f"{parent}/{name}" if parent else name
        return None

    def add_dir(parent: str, name: str | None = None) -> str | None:
        if parent and parent.count("/") + 1 >= MAX_DEPTH:
            return None
        if name is not None:
            if name in children[parent]:
                rel = f"{parent}/{name}" if parent else name
                return rel if rel in children else None
            children[parent].add(name)
            rel = f"{parent}/{name}" if parent else name
        else:
            rel = unique_child(parent, _dir_name)
            if rel is None:
                return None
        children[rel] = set()
        dirs.append(rel)
        return rel

    def add_file(parent: str, name: str | None = None) -> str | None:
        if name is not None:
            if name in children[parent]:
                return None
            children[parent].add(name)
            rel = f"{parent}/{name}" if parent else name
        else:
            rel = unique_child(parent, _file_name)
        if rel is not None:
            file_specs.append(rel)
        return rel

    # Directory skeleton: random attachment, biased towards deep chains.
    for _ in range(n_dirs):
        if dirs and rng.random() < 0.45:
            deepest = max(dirs, key=lambda d: (d.count("/"), rng.random()))
            parent = deepest if rng.random() < 0.5 else rng.choice(dirs)
        else:
            parent = rng.choice([""] + dirs)
        add_dir(parent)

    # A MailStore-like subtree in about half of the trees.
    if rng.random() < 0.5:
        home = add_dir("", rng.choice(("MailStore Home", "mailstore", "MS Data")))
        if home:
            for name in ("index", "index.dat", "MailStore.fdb", "Mail.dat"):
                if rng.random() < 0.8:
                    add_file(home, name)
            for i in range(rng.randint(1, 3)):
                store = add_dir(home, f"Archive Store {i + 1}")
                if not store:
                    continue
                for name in ("index.dat", "content.dat", f"store{i}.fdb", "index1.dat"):
                    if rng.random() < 0.7:
                        add_file(store, name)
                rec = add_dir(store, rng.choice(("recovery records", "Recovery Records")))
                if rec:
                    for _ in range(rng.randint(0, 4)):
                        add_file(rec, f"{rng.randint(0, 9999):04d}.dat")
                    if rng.random() < 0.5:
                        add_file(rec, "index")

    # Files, spread unevenly: some dirs stay empty.
    targets = [""] + dirs
    weights = [rng.choice((0, 1, 1, 2, 4)) for _ in targets]
    weights[0] = max(weights[0], 1)
    for _ in range(n_files):
        add_file(rng.choices(targets, weights)[0])

    # Marker files for --exclude-if-present, and a directory named like a marker
    # (which does NOT count as present: rclone only looks for files).
    for d in [""] + dirs:
        if rng.random() < 0.12:
            add_file(d, rng.choice(MARKERS))
    if dirs and rng.random() < 0.15:
        add_dir(rng.choice(dirs), rng.choice(MARKERS))

    # Case twins: same name differing only in case (for --ignore-case).
    for _ in range(rng.randint(0, 3)):
        if file_specs:
            rel = rng.choice(file_specs)
            parent, _, name = rel.rpartition("/")
            twin = name.swapcase() if name.swapcase() != name else name.upper()
            if _valid_name(twin):
                add_file(parent, twin)

    # Write everything.  Files first, then directory mtimes deepest first.
    entries: list[Entry] = []
    for rel in file_specs:
        path = base / rel
        size_b = _size(rng)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_content(rng, size_b))
        mt, nominal = _mtime_ns(rng, built_ns)
        os.utime(path, ns=(mt, mt))
        entries.append(Entry(rel, False, size_b, mt, built_ns - mt, nominal))
    for rel in dirs:
        (base / rel).mkdir(parents=True, exist_ok=True)
    for rel in sorted(dirs, key=lambda d: -d.count("/")):
        mt, nominal = _mtime_ns(rng, built_ns)
        os.utime(base / rel, ns=(mt, mt))
        entries.append(Entry(rel, True, -1, mt, built_ns - mt, nominal))

    return Tree(seed=seed, root=base, built_ns=built_ns, entries=entries)


def build_fixed_tree(base: Path, spec: dict[str, object], *, built_ns: int | None = None) -> Tree:
    """Create a hand-written tree.

    ``spec`` maps relative paths to either ``None`` (directory; a trailing "/" is
    allowed) or ``(size, age_ns)`` for files; ``age_ns`` relative to now (or an int
    absolute mtime in ns when given as ``("abs", ns)``).  Dirs get an age of 3 days.
    """
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    built_ns = time.time_ns() if built_ns is None else built_ns
    rng = random.Random("fixed")
    entries: list[Entry] = []
    dir_rels: set[str] = set()
    for rel, what in spec.items():
        rel = rel.strip("/")
        parts = rel.split("/")
        for i in range(1, len(parts) if what is not None else len(parts) + 1):
            dir_rels.add("/".join(parts[:i]))
        if what is None:
            (base / rel).mkdir(parents=True, exist_ok=True)
            continue
        size_b, age = what
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_content(rng, size_b))
        if isinstance(age, tuple):
            mt = age[1]
        else:
            mt = built_ns - age
        os.utime(path, ns=(mt, mt))
        entries.append(Entry(rel, False, size_b, mt, built_ns - mt, built_ns - mt))
    for rel in sorted(dir_rels, key=lambda d: -d.count("/")):
        mt = built_ns - 3 * DAY
        os.utime(base / rel, ns=(mt, mt))
        entries.append(Entry(rel, True, -1, mt, built_ns - mt, built_ns - mt))
    return Tree(seed=-1, root=base, built_ns=built_ns, entries=entries)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} SEED DIR", file=sys.stderr)
        return 2
    tree = build_tree(Path(argv[2]), int(argv[1]))
    print(tree.describe(limit=10_000))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
