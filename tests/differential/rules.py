"""Deterministic random ``lsf`` flag mixes (filter rules, size/age limits, formats).

``generate_case(tree, seed, rules_dir)`` returns a :class:`Case`: the lsf arguments
(without the path), the rule files to write first, and the path to list.  Globs are
built from the tree's own names so that rules actually match something, and are
decorated with every glob feature rclone has (``*``, ``**``, ``?``, ``[..]``,
``[[:alpha:]]``, ``{a,b}``, nested braces, ``{{regexp}}``, ``\\`` escapes, leading
``/``, trailing ``/``) plus rule-file features (comments, blank lines, CRLF, ``!``).

About 8 % of the cases are deliberately invalid (``Case.invalid`` says how); for those
only the exit codes are compared.  Every case that rclone rejects is compared on exit
code only, whatever the generator intended.

Ages are chosen at least ``AGE_MARGIN_NS`` away from every file's age so that the few
hundred milliseconds between the two tools never flip a file across a boundary.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

try:  # imported as part of the package (pytest) or as a plain module
    from .trees import DAY, HOUR, MARKERS, MINUTE, NS, Entry, Tree
except ImportError:  # pragma: no cover - running the file directly
    from trees import DAY, HOUR, MARKERS, MINUTE, NS, Entry, Tree  # type: ignore[no-redef]

AGE_MARGIN_NS = 20 * MINUTE

# Characters that are special in rclone globs and must be escaped to match literally.
GLOB_SPECIAL = set("\\*?[]{}")


@dataclass
class Case:
    """One lsf invocation (minus the executable)."""

    seed: int
    args: list[str]  # flags, without the path
    subpath: str = ""  # path below the tree root to list ("" = the root)
    files: dict[str, bytes] = field(default_factory=dict)  # rule files: abs path -> bytes
    invalid: str | None = None  # why the generator expects an error, if it does
    notes: list[str] = field(default_factory=list)

    def describe_files(self) -> str:
        out = []
        for path, data in self.files.items():
            out.append(f"--- {path} ---\n{data.decode('utf-8', 'backslashreplace')!r}")
        return "\n".join(out)


# ---------------------------------------------------------------------------------------
# glob pieces


def glob_escape(s: str, in_braces: bool = False) -> str:
    """Escape ``s`` so that rclone's glob matches it literally."""
    out = []
    for c in s:
        if c in GLOB_SPECIAL or (in_braces and c == ","):
            out.append("\\" + c)
        else:
            out.append(c)
    return "".join(out)


REGEXPS = (
    ".*", "[^/]*", ".+", r"\d+", r"\w+", r"\w*", r"[0-9]{4}", "(ex|ey|ax)", "[[:alpha:]]+",
    r"\pL+", r"[^.]+", r"(?i:index)", r"\.dat", r"[a-z]+", "d(at|b)?", "x?y?z?",
)
CLASSES = (
    "[a-z]", "[A-Z]", "[[:alpha:]]", "[[:upper:]]", "[[:lower:]]", "[[:alnum:]]",
    "[[:punct:]]", "[[:space:]]", "[^[:alpha:]]", "[^a-z]", "[a-zé]", "[éèê]", "[0-9]",
    "[!a]", "[^.]", "[.]", "[-_ ]", "[a\\-z]", r"[\^x]", r"[\\]",
)


def _char_class_for(rng: random.Random, c: str) -> str:
    """A bracket expression that (usually) matches ``c``."""
    r = rng.random()
    if r < 0.35:
        return rng.choice(CLASSES)
    if c.isascii() and c.isdigit():
        return rng.choice(("[0-9]", "[[:digit:]]", f"[{c}]"))
    if c.isascii() and c.isalpha():
        return rng.choice(("[a-z]", "[A-Z]", "[[:alpha:]]", f"[{c}{c.swapcase()}]",
                           f"[{c}]", "[[:lower:]]", "[[:upper:]]"))
    if c in "[]":
        return "?"  # rclone counts nested brackets: "[\\]]" and "[\\[]" are unbalanced
    if c in "\\^-":
        return "[\\" + c + "]"
    return f"[{c}]"


def _component_glob(rng: random.Random, name: str, pool: list[str]) -> str:
    """Turn one literal path component into a glob that (mostly) matches it."""
    if not name:
        return ""
    r = rng.random()
    n = len(name)
    if r < 0.30:
        g = glob_escape(name)
    elif r < 0.38:
        i = rng.randrange(n)
        g = glob_escape(name[:i]) + "?" + glob_escape(name[i + 1:])
    elif r < 0.48:
        i = rng.randint(0, n)
        g = glob_escape(name[:i]) + "*"
    elif r < 0.56:
        i = rng.randint(0, n)
        g = "*" + glob_escape(name[i:])
    elif r < 0.61:
        i, j = sorted((rng.randint(0, n), rng.randint(0, n)))
        g = "*" + glob_escape(name[i:j]) + "*"
    elif r < 0.72:
        i = rng.randrange(n)
        g = glob_escape(name[:i]) + _char_class_for(rng, name[i]) + glob_escape(name[i + 1:])
    elif r < 0.84:
        others = rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))
        alts = [glob_escape(x, in_braces=True) for x in [name, *others]]
        rng.shuffle(alts)
        if rng.random() < 0.3 and len(alts) >= 3:  # nested braces
            alts = [alts[0], "{" + ",".join(alts[1:]) + "}"]
        if rng.random() < 0.2:
            alts.append("")  # empty alternative
        g = "{" + ",".join(alts) + "}"
    elif r < 0.90:
        i = rng.randint(0, n)
        g = glob_escape(name[:i]) + "{{" + rng.choice(REGEXPS) + "}}"
    elif r < 0.95:
        g = glob_escape(name.swapcase())
    else:
        g = name  # unescaped: may be an invalid glob, or match something else
    return g


def _visible(tree: Tree, subpath: str) -> list[Entry]:
    """Entries below ``subpath`` with rel paths made relative to it."""
    if not subpath:
        return list(tree.entries)
    pre = subpath + "/"
    return [
        Entry(e.rel[len(pre):], e.is_dir, e.size, e.mtime_ns, e.age_ns, e.nominal_age_ns)
        for e in tree.entries
        if e.rel.startswith(pre)
    ]


def random_glob(rng: random.Random, entries: list[Entry]) -> str:
    """A glob built from the names of ``entries``."""
    pool = sorted({e.name for e in entries}) or ["a"]
    r = rng.random()
    if not entries or r < 0.08:
        return rng.choice((
            "*", "**", "*.*", ".*", "*/", "**/", "/*", "/**", "?", "??*", "*.dat", "*.DAT",
            "*.fdb", "index*", "*index*", "/index*", "**/index*", "*.{dat,fdb}",
            "*.{dat,{fdb,txt}}", "{{.*\\.dat}}", "recovery records/", "**/recovery records/**",
            "[[:upper:]]*", "[a-z]*", "*[0-9]*", "* *", "*.", "*.jpg", "*.JPG", "[.]*",
        ))
    e = rng.choice(entries)
    comps = e.rel.split("/")
    if r < 0.30:  # basename only, unanchored
        g = _component_glob(rng, comps[-1], pool)
    elif r < 0.45:  # full path, anchored
        g = "/" + "/".join(_component_glob(rng, c, pool) for c in comps)
    elif r < 0.55:  # full path, unanchored
        g = "/".join(_component_glob(rng, c, pool) for c in comps)
    elif r < 0.62:  # the tail
        k = rng.randint(1, len(comps))
        g = "/".join(_component_glob(rng, c, pool) for c in comps[-k:])
    elif r < 0.70:
        g = "**/" + _component_glob(rng, comps[-1], pool)
    elif r < 0.80 and len(comps) > 1:  # everything in an ancestor directory
        k = rng.randint(1, len(comps) - 1)
        prefix = "/".join(_component_glob(rng, c, pool) for c in comps[:k])
        lead = rng.choice(("", "/", "**/"))
        g = lead + prefix + rng.choice(("/**", "/*", "/", "/**/*", "/*/*", "/*.*"))
    elif r < 0.88 and e.is_dir:  # directory rule
        lead = rng.choice(("", "/", "**/"))
        g = lead + "/".join(_component_glob(rng, c, pool) for c in comps) + "/"
    elif r < 0.94:  # by extension
        name = comps[-1]
        dot = name.rfind(".")
        ext = name[dot:] if dot > 0 else name[-2:]
        g = "*" + glob_escape(ext)
        if rng.random() < 0.3:
            g = rng.choice(("**", "**/*", "/*")) + glob_escape(ext)
    else:
        g = "{{" + rng.choice(REGEXPS) + "}}" + rng.choice(("", "/", "/**", ".dat"))
    return g


# ---------------------------------------------------------------------------------------
# ages and sizes

AGES = (  # (flag value, duration in ns)
    ("90m", 90 * MINUTE), ("2h", 2 * HOUR), ("12h", 12 * HOUR), ("36h", 36 * HOUR),
    ("1d", DAY), ("1.5d", 36 * HOUR), ("2d", 2 * DAY), ("3d", 3 * DAY), ("1w", 7 * DAY),
    ("2w", 14 * DAY), ("10d", 10 * DAY), ("1M", 30 * DAY), ("3M", 90 * DAY),
    ("1y", 365 * DAY), ("1h30m", 90 * MINUTE), ("86400", DAY), ("172800s", 2 * DAY),
    ("-1d", -DAY), ("-2w", -14 * DAY), ("0", 0), ("0.5d", 12 * HOUR),
    ("5400000ms", 90 * MINUTE), ("2y", 730 * DAY), ("100d", 100 * DAY), ("45m", 45 * MINUTE),
)
# Absolute dates between the fixed (1999..2012) and the relative (last ~2 years) mtimes.
ABS_AGES = ("2014-06-01", "2015-01-01 12:00:00", "2016-02-29T10:00:00Z", "2013-03-03")


def _age_ok(d_ns: int, files: list[Entry]) -> bool:
    # Fixed-date files (nominal age None) are 14+ years old: far from every candidate.
    return all(abs(d_ns - f.nominal_age_ns) > AGE_MARGIN_NS
               for f in files if f.nominal_age_ns is not None)


def pick_age(rng: random.Random, files: list[Entry], *, lo: int | None = None,
             hi: int | None = None) -> tuple[str, int] | None:
    """An age value far from every file's age (optionally strictly within (lo, hi))."""
    if rng.random() < 0.08:
        # Far from every mtime by construction (relative mtimes are < 2 years old, the
        # fixed ones before 2012) - as long as the clock is sane.
        assert time.time() > 1_600_000_000, "system clock before 2020: fix it"
        return rng.choice(ABS_AGES), -1
    cands = [
        (s, d) for s, d in AGES
        if _age_ok(d, files) and (lo is None or d > lo) and (hi is None or d < hi)
    ]
    if not cands:
        return None
    return rng.choice(cands)


def pick_size(rng: random.Random, files: list[Entry]) -> str:
    r = rng.random()
    sizes = [f.size for f in files] or [1024]
    s = rng.choice(sizes)
    if r < 0.10:
        return rng.choice(("0", "off", "1M", "300K", "1G", "0.5M", "0.1", "1.001K", "0.3M",
                           "100", "64k", "1Ki", "2KiB", "1kib", "0b", "1e1", "+2"))
    if r < 0.35:
        return f"{s}{rng.choice(('B', 'b'))}"
    if r < 0.45:
        return f"{s + rng.choice((-1, 1))}B"
    if r < 0.70:
        k = s // 1024
        if s % 1024 == 0:
            return f"{k}{rng.choice(('', 'K', 'k', 'Ki', 'KiB'))}"
        return f"{k + rng.choice((0, 1))}{rng.choice(('', 'K', 'k'))}"
    if r < 0.85:
        return f"{s / 1024:.{rng.choice((1, 2, 3))}f}"  # decimal KiB, truncated to bytes
    return f"{s / 1048576:.{rng.choice((2, 3, 4))}f}M"


# ---------------------------------------------------------------------------------------
# rule sets


def _rule_file_lines(rng: random.Random, lines: list[str]) -> bytes:
    """Render a rule file with comments, blank lines, stray whitespace and maybe CRLF."""
    out: list[str] = []
    for line in lines:
        r = rng.random()
        if r < 0.08:
            out.append(rng.choice(("# a comment", "; another comment", "#", ";")))
        elif r < 0.12:
            out.append(rng.choice(("", "   ", "\t")))
        if rng.random() < 0.08:
            line = "  " + line  # surrounding whitespace is trimmed in files
        if rng.random() < 0.08:
            line = line + " \t"
        out.append(line)
    eol = "\r\n" if rng.random() < 0.12 else "\n"
    text = eol.join(out)
    if rng.random() < 0.8:
        text += eol
    return text.encode()


def _flag(rng: random.Random, long: str, value: str, short: str | None = None) -> list[str]:
    r = rng.random()
    if short and r < 0.25:
        return [short, value]
    if r < 0.35:
        return [f"{long}={value}"]
    return [long, value]


def _rule_args(rng: random.Random, entries: list[Entry], rules_dir: Path,
               files: dict[str, bytes], counter: list[int]) -> list[list[str]]:
    """Random include/exclude/filter flags; returned as argument groups to shuffle."""
    groups: list[list[str]] = []
    n = rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6))
    style = rng.random()
    # Mostly one style per case (the interesting cases), sometimes a mix.
    if style < 0.35:
        kinds = ["filter"] * n
    elif style < 0.55:
        kinds = ["include"] * n
    elif style < 0.70:
        kinds = ["exclude"] * n
    else:
        kinds = [rng.choice(("filter", "include", "exclude")) for _ in range(n)]

    def new_file(prefix: str) -> str:
        counter[0] += 1
        return str(rules_dir / f"{prefix}-{counter[0]}.txt")

    filter_file_lines: list[str] | None = [] if rng.random() < 0.25 else None
    include_file_lines: list[str] | None = [] if rng.random() < 0.2 else None
    exclude_file_lines: list[str] | None = [] if rng.random() < 0.2 else None

    for i, kind in enumerate(kinds):
        g = random_glob(rng, entries)
        if i == n - 1 and kinds.count("filter") == n and rng.random() < 0.5:
            # finish a filter list with a catch-all
            g = rng.choice(("**", "*", "/**"))
            sign = "-"
        else:
            sign = rng.choice("+-") if kind == "filter" else ""
        if kind == "filter":
            rule = f"{sign} {g}"
            if rng.random() < 0.05:
                rule = "!"  # clear the list so far
            if filter_file_lines is not None and rng.random() < 0.6:
                filter_file_lines.append(rule)
            else:
                groups.append(_flag(rng, "--filter", rule, "-f"))
        elif kind == "include":
            if include_file_lines is not None and rng.random() < 0.6:
                include_file_lines.append(g)
            else:
                groups.append(_flag(rng, "--include", g))
        else:
            if exclude_file_lines is not None and rng.random() < 0.6:
                exclude_file_lines.append(g)
            else:
                groups.append(_flag(rng, "--exclude", g))

    for lines, flag, prefix in (
        (filter_file_lines, "--filter-from", "filter"),
        (include_file_lines, "--include-from", "include"),
        (exclude_file_lines, "--exclude-from", "exclude"),
    ):
        if lines:
            path = new_file(prefix)
            files[path] = _rule_file_lines(rng, lines)
            groups.append(_flag(rng, flag, path))
    # rclone right-trims the last value of a repeated string flag (see report):
    # occasionally give a pattern trailing whitespace.
    pattern_groups = [g for g in groups if "-from" not in g[0]]
    if pattern_groups and rng.random() < 0.05:
        grp = rng.choice(pattern_groups)
        grp[-1] = grp[-1] + rng.choice((" ", "  ", "\t"))
    return groups


def _files_from_lines(rng: random.Random, entries: list[Entry]) -> list[str]:
    lines: list[str] = []
    files = [e for e in entries if not e.is_dir]
    dirs = [e for e in entries if e.is_dir]
    for e in rng.sample(files, k=min(len(files), rng.randint(0, 8))):
        rel = e.rel
        r = rng.random()
        if r < 0.15:
            rel = "/" + rel
        elif r < 0.2:
            rel = rel.swapcase()  # files-from is case sensitive, even with --ignore-case
        elif r < 0.25:
            rel = "./" + rel  # never matches, but its (cleaned) parent dirs are listed
        lines.append(rel)
    for e in rng.sample(dirs, k=min(len(dirs), rng.randint(0, 2))):
        lines.append(e.rel + rng.choice(("", "/")))
    if rng.random() < 0.4:
        lines.append(rng.choice(("nonexistent.dat", "no/such/dir/file", "a/b/c")))
    rng.shuffle(lines)
    return lines


# ---------------------------------------------------------------------------------------
# invalid cases

BAD_GLOBS = (
    "***", "a/***", "***.dat", "[a", "a]", "{a", "a}", "{{a", "{{(}}", "[[:foo:]]", "[]",
    "[z-a]", "x{{[}}", "{a,b", "index[", "**/{x,y", "{{a{2,1}}}",
)
BAD_RULES = ("x", "+", "-", "! x", "*.dat", "+*.dat", "+\t*.dat", " + *.dat", "++ a", "!!")


def _invalid_case(rng: random.Random, tree: Tree, entries: list[Entry], rules_dir: Path,
                  files: dict[str, bytes]) -> tuple[list[str], str, str | None]:
    """Return (args, description, subpath override)."""
    r = rng.random()
    ff = str(rules_dir / "files-from-bad.txt")
    if r < 0.15:
        files[ff] = ("\n".join(e.rel for e in entries[:5]) + "\n").encode()
        other = rng.choice((
            ["--include", "*.dat"], ["--exclude", "*.dat"], ["--filter", "- *"],
            ["--min-size", "1"], ["--max-age", "1y"], ["--exclude-if-present", ".ignore"],
            ["--filter-from", ff], ["--include-from", ff],
        ))
        flag = rng.choice(("--files-from", "--files-from-raw"))
        args = [flag, ff, *other] if rng.random() < 0.5 else [*other, flag, ff]
        return args, f"{flag} combined with {other[0]}", None
    if r < 0.25:
        lo = rng.choice(AGES[:10])
        hi = rng.choice([a for a in AGES if a[1] < lo[1]] or [("1s", NS)])
        return ["--min-age", lo[0], "--max-age", hi[0]], "--min-age > --max-age", None
    if r < 0.40:
        g = rng.choice(BAD_GLOBS)
        if rng.random() < 0.5:
            g = rng.choice((g + "/x", "*/" + g, "{a," + g + "}" if "{" not in g else g))
        kind = rng.choice(("--include", "--exclude", "--filter"))
        val = ("+ " + g) if kind == "--filter" else g
        return [kind, val], f"bad glob {g!r}", None
    if r < 0.50:
        rule = rng.choice(BAD_RULES)
        if rng.random() < 0.5:
            path = str(rules_dir / "filter-bad.txt")
            files[path] = f"+ *.dat\n{rule}\n- **\n".encode()
            return ["--filter-from", path], f"malformed rule {rule!r} in file", None
        return ["--filter", rule], f"malformed rule {rule!r}", None
    if r < 0.58:
        flag = rng.choice(("--filter-from", "--include-from", "--exclude-from",
                           "--files-from", "--files-from-raw"))
        return [flag, str(rules_dir / "does-not-exist.txt")], "missing rules file", None
    if r < 0.70:
        flag, val = rng.choice((
            ("--min-size", "1MB"), ("--max-size", "-1"), ("--min-size", "1x"),
            ("--max-size", " 1"), ("--min-size", "1.5.5"), ("--max-size", "0x10"),
            ("--min-age", "1D"), ("--max-age", "1mo"), ("--min-age", "1h1"),
            ("--max-age", "1d12h"), ("--max-depth", "x"), ("--max-depth", "1.5"),
            ("--min-size", "inf"), ("--hash", "bogus"),
        ))
        return [flag, val], f"unparseable {flag} {val!r} (exit 2)", None
    if r < 0.78:
        return ["--format", rng.choice(("pz", "x", "p?"))], "unknown format letter", None
    if r < 0.90:
        return [], "path does not exist (exit 3)", "no such dir/really"
    # a bad glob hidden in an include-from file
    path = str(rules_dir / "include-bad.txt")
    files[path] = f"*.dat\n{rng.choice(BAD_GLOBS)}\n".encode()
    return ["--include-from", path], "bad glob in --include-from", None


# ---------------------------------------------------------------------------------------
# the case generator

FORMATS = (  # (weight, format, extra args)
    (30, "p", []), (22, "ps", []), (22, "pt", []), (5, "pst", []), (2, "tsp", []),
    (3, "h", ["--hash", "md5"]), (2, "ph", ["--hash", "md5"]), (1, "hp", []),
    (1, "ph", ["--hash", "sha1"]), (1, "hs", ["--hash", "xxh3"]), (1, "sp", []),
)


def _format_args(rng: random.Random) -> list[str]:
    weights = [w for w, _, _ in FORMATS]
    _, fmt, extra = rng.choices(FORMATS, weights)[0]
    args: list[str] = []
    if fmt != "p" or rng.random() < 0.5:
        args += _flag(rng, "--format", fmt, "-F")
    args += extra
    if len(fmt) > 1 and rng.random() < 0.2:
        args += _flag(rng, "--separator", rng.choice(("|", "\t", " ", ",", "::", "")), "-s")
    r = rng.random()
    if r < 0.08:
        args.append("--files-only")
    elif r < 0.16:
        args.append("--dirs-only")
    elif r < 0.17:
        args += ["--files-only", "--dirs-only"]
    return args


def generate_case(tree: Tree, seed: int, rules_dir: Path) -> Case:
    """A random lsf invocation for ``tree``; rule files are to be written in ``rules_dir``."""
    rng = random.Random(f"case-{tree.seed}-{seed}")
    rules_dir = Path(rules_dir)
    files: dict[str, bytes] = {}
    counter = [0]
    notes: list[str] = []

    # What to list: the root, or sometimes a subdirectory.
    subpath = ""
    dirs = [e for e in tree.dirs if any(x.rel.startswith(e.rel + "/") for x in tree.entries)]
    if dirs and rng.random() < 0.12:
        subpath = rng.choice(dirs).rel
    entries = _visible(tree, subpath)
    file_entries = [e for e in entries if not e.is_dir]

    head: list[str] = ["-R"] if rng.random() < 0.9 else []
    groups: list[list[str]] = []

    mode = rng.random()
    if mode < 0.08:
        args, why, sub = _invalid_case(rng, tree, entries, rules_dir, files)
        if sub is not None:
            subpath = sub
        fmt = [] if "--format" in args else _format_args(rng)
        return Case(seed, head + fmt + args, subpath, files, why, notes)

    if mode < 0.16:
        # --files-from / --files-from-raw, alone (plus the few flags that may go with it)
        kinds = rng.choice((["--files-from"], ["--files-from-raw"],
                            ["--files-from", "--files-from-raw"], ["--files-from"] * 2))
        for i, flag in enumerate(kinds):
            path = str(rules_dir / f"files-from-{i}.txt")
            lines = _files_from_lines(rng, entries)
            if flag == "--files-from":
                files[path] = _rule_file_lines(rng, lines)
            else:
                eol = "\r\n" if rng.random() < 0.1 else "\n"
                files[path] = ("".join(x + eol for x in lines)).encode()
            groups.append(_flag(rng, flag, path))
        if rng.random() < 0.2:
            groups.append(["--max-depth", str(rng.choice((1, 2, 3)))])
        if rng.random() < 0.15:
            groups.append(["--ignore-case"])
        if rng.random() < 0.05:
            groups.append(["--filter", "!"])  # no rules at all: still "alone"
        notes.append("files-from")
    else:
        if rng.random() < 0.8:
            groups += _rule_args(rng, entries, rules_dir, files, counter)
        if groups and rng.random() < 0.3:
            groups.append(["--ignore-case"])
        if rng.random() < 0.25:
            groups.append(_flag(rng, rng.choice(("--min-size", "--max-size")),
                                pick_size(rng, file_entries)))
            if rng.random() < 0.3:
                groups.append(_flag(rng, "--max-size", pick_size(rng, file_entries)))
        if rng.random() < 0.25:
            r = rng.random()
            if r < 0.4:
                a = pick_age(rng, file_entries)
                if a:
                    groups.append(_flag(rng, "--min-age", a[0]))
            elif r < 0.8:
                a = pick_age(rng, file_entries)
                if a:
                    groups.append(_flag(rng, "--max-age", a[0]))
            else:  # both, min < max
                lo = pick_age(rng, file_entries, hi=365 * DAY)
                if lo and lo[1] != -1:
                    hi = pick_age(rng, file_entries, lo=lo[1])
                    if hi and hi[1] != -1:
                        groups.append(["--min-age", lo[0]])
                        groups.append(["--max-age", hi[0]])
        if rng.random() < 0.15:
            for _ in range(rng.choice((1, 1, 2))):
                marker = rng.choice((*MARKERS, *MARKERS,
                                     rng.choice([e.name for e in file_entries] or ["x"])))
                groups.append(_flag(rng, "--exclude-if-present", marker))
    if rng.random() < 0.15:
        groups.append(_flag(rng, "--max-depth", str(rng.choice((-1, 0, 1, 1, 2, 2, 3, 4, 5, 7)))))
    if rng.random() < 0.01:
        groups.append([rng.choice(("--include", "--exclude", "--exclude-if-present")), ""])

    fmt = _format_args(rng)
    groups.append(fmt)
    rng.shuffle(groups)
    args = head + [a for g in groups for a in g]
    return Case(seed, args, subpath, files, None, notes)

