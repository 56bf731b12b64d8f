"""Table-driven tests of rules, rule files, files-from and the size/age filters."""

from __future__ import annotations

import io
import sys

import pytest

from syncengine.errors import FilterError
from syncengine.filter import Filter
from syncengine.filter.rules import read_lines
from syncengine.options import FilterOptions

SEC = 1_000_000_000
DAY = 86400 * SEC


def make(*rules: str, **kw: object) -> Filter:
    return Filter(FilterOptions(filter=tuple(rules), **kw))  # type: ignore[arg-type]


def test_default_filter_is_inactive_and_includes_everything() -> None:
    f = Filter()
    assert not f.active
    assert f.include_file("any/thing", 10, 0)
    assert f.include_dir("any")


def test_full_options_dump_matches_rclone(tmp_path) -> None:
    ff = tmp_path / "ff"
    ff.write_text("#comment\n+ filter2\n- filter3\n")
    ef = tmp_path / "ef"
    ef.write_text("#comment\nexclude2\nexclude3\n")
    inf = tmp_path / "if"
    inf.write_text("#comment\ninclude2\ninclude3\n")
    f = Filter(FilterOptions(
        filter=("- filter1", "- filter1b"), filter_from=(str(ff),), exclude=("exclude1",),
        exclude_from=(str(ef),), include=("include1",), include_from=(str(inf),),
        min_size=100 * 1024, max_size=1000 * 1024, delete_excluded=True))
    assert f.dump() == """Minimum size is: 100 KiB
Maximum size is: 1000 KiB
--- File filter rules ---
+ (^|/)include1$
+ (^|/)include2$
+ (^|/)include3$
- (^|/)exclude1$
- (^|/)exclude2$
- (^|/)exclude3$
- (^|/)filter1$
- (^|/)filter1b$
+ (^|/)filter2$
- (^|/)filter3$
- ^.*$
--- Directory filter rules ---
+ ^.*$
- ^.*$"""
    assert f.active


MATCHES = [
    ("cleared", 100, False), ("file1.jpg", 100, False), ("file2.png", 100, True),
    ("FILE2.png", 100, False), ("afile2.png", 100, False), ("file3.jpg", 101, True),
    ("file4.png", 101, False), ("potato", 101, False), ("sausage1", 101, True),
    ("sausage1/potato", 101, False), ("sausage2potato", 101, True),
    ("sausage2/potato", 101, False), ("sausage3/potato", 101, True),
    ("a/one.jpg", 101, True), ("a/one.png", 101, False), ("unicorn", 99, False),
]
DIR_MATCHES = [
    ("sausage1", False), ("sausage2", False), ("sausage2/sub", False),
    ("sausage2/sub/dir", False), ("sausage3", True), ("SAUSAGE3", False),
    ("sausage3/sub", True), ("sausage3/sub/dir", True), ("sausage4", False), ("a", True),
]
MATCH_RULES = ("+ cleared", "!", "- /file1.jpg", "+ /file2.png", "+ /*.jpg", "- /*.png",
               "- /potato", "+ /sausage1", "+ /sausage2*", "+ /sausage3**", "+ /a/*.jpg", "- *")


@pytest.mark.parametrize("path,size,want", MATCHES)
def test_rules_first_match_wins_and_bang_clears(path: str, size: int, want: bool) -> None:
    assert make(*MATCH_RULES).include_file(path, size, 0) is want


@pytest.mark.parametrize("path,want", DIR_MATCHES)
def test_directory_rules_derived_from_includes(path: str, want: bool) -> None:
    assert make(*MATCH_RULES).include_dir(path) is want


def test_ignore_case_applies_to_file_and_dir_rules() -> None:
    f = make("+ /file2.png", "+ /sausage3**", "- *", ignore_case=True)
    assert f.include_file("FILE2.png", 1, 0)
    assert f.include_dir("SAUSAGE3")
    g = make("+ /file2.png", "+ /sausage3**", "- *")
    assert not g.include_file("FILE2.png", 1, 0)
    assert not g.include_dir("SAUSAGE3")


@pytest.mark.parametrize("path,want", [
    ("file2.png", True), ("sub/file2.png", False), ("file123.png", True),
    ("File123.png", False), ("something.jpg", True), ("deep/path/something.JPG", True),
    ("something.gif", False)])
def test_regexp_rules(path: str, want: bool) -> None:
    f = make(r"+ /{{file\d+\.png}}", r"+ *.{{(?i)jpg}}", "- *")
    assert f.include_file(path, 1, 0) is want
    assert f.include_dir("anything at all")


ADD_CASES = [
    (False, "potato", "- (^|/)potato$", ""),
    (True, "potato", "+ (^|/)potato$", "+ ^.*$"),
    (False, "potato/", "- (^|/)potato/.*$", "- (^|/)potato/.*$"),
    (True, "potato/", "", "+ (^|/)potato/$"),
    (False, "*", "- (^|/)[^/]*$", "- ^.*$"),
    (True, "*", "+ (^|/)[^/]*$", "+ ^.*$"),
    (False, ".*{,/**}", r"- (^|/)\.[^/]*(|/.*)$", r"- (^|/)\.[^/]*(|/.*)$"),
    (True, "a/b/c/d", "+ (^|/)a/b/c/d$", "+ (^|/)a/b/c/$\n+ (^|/)a/b/$\n+ (^|/)a/$"),
]


@pytest.mark.parametrize("include,glob,file_rules,dir_rules", ADD_CASES)
def test_add_file_rule_or_dir_rule(include: bool, glob: str, file_rules: str,
                                   dir_rules: str) -> None:
    f = make(("+ " if include else "- ") + glob)
    want = "--- File filter rules ---\n" + (file_rules + "\n" if file_rules else "") + \
        "--- Directory filter rules ---" + ("\n" + dir_rules if dir_rules else "")
    assert f.dump() == want


DOCS = [
    ("file.jpg", True, "file.jpg", False), ("file.jpg", True, "directory/file.jpg", False),
    ("file.jpg", False, "afile.jpg", False), ("file.jpg", False, "directory/afile.jpg", False),
    ("/file.jpg", True, "file.jpg", False), ("/file.jpg", False, "afile.jpg", False),
    ("/file.jpg", False, "directory/file.jpg", False), ("*.jpg", True, "file.jpg", False),
    ("*.jpg", True, "directory/file.jpg", False),
    ("*.jpg", False, "file.jpg/anotherfile.png", False), ("dir/**", True, "dir/file.jpg", False),
    ("dir/**", True, "dir/dir1/dir2/file.jpg", False),
    ("dir/**", False, "directory/file.jpg", False), ("dir/**", False, "adir/file.jpg", False),
    ("l?ss", True, "less", False), ("l?ss", True, "lass", False), ("l?ss", False, "floss", False),
    ("h[ae]llo", True, "hello", False), ("h[ae]llo", True, "hallo", False),
    ("h[ae]llo", False, "hullo", False), ("{one,two}_potato", True, "one_potato", False),
    ("{one,two}_potato", True, "two_potato", False),
    ("{one,two}_potato", False, "three_potato", False),
    ("{one,two}_potato", False, "_potato", False), ("\\*.jpg", True, "*.jpg", False),
    ("\\\\.jpg", True, "\\.jpg", False), ("\\[one\\].jpg", True, "[one].jpg", False),
    ("potato", True, "potato", False), ("potato", False, "POTATO", False),
    ("potato", True, "potato", True), ("potato", True, "POTATO", True),
]


@pytest.mark.parametrize("glob,included,path,ignore_case", DOCS)
def test_matches_from_docs(glob: str, included: bool, path: str, ignore_case: bool) -> None:
    f = make("+ " + glob, "- *", ignore_case=ignore_case)
    assert f.include_file(path, 0, 0) is included


def test_include_flag_adds_implicit_exclude_but_filter_plus_does_not() -> None:
    inc = Filter(FilterOptions(include=("*.dat",)))
    flt = make("+ *.dat")
    assert not inc.include_file("a.txt", 1, 0)
    assert flt.include_file("a.txt", 1, 0)
    assert str(list(inc.file_rules)[-1]) == "- ^.*$"


def test_include_rules_always_come_before_excludes() -> None:
    f = Filter(FilterOptions(exclude=("*.dat",), include=("a.dat",)))
    assert f.include_file("a.dat", 1, 0)
    assert not f.include_file("b.dat", 1, 0)


def test_duplicate_rules_keep_first() -> None:
    f = make("- a", "+ b", "- a")
    assert [str(r) for r in f.file_rules] == ["- (^|/)a$", "+ (^|/)b$"]


@pytest.mark.parametrize("rule", ["x", "+x", "+", "-", "* a", "-\ta", " - a"])
def test_malformed_rule_is_refused(rule: str) -> None:
    with pytest.raises(FilterError, match="malformed rule"):
        make(rule)


def test_missing_rules_file_is_an_error(tmp_path) -> None:
    with pytest.raises(FilterError, match="no such file or directory"):
        Filter(FilterOptions(filter_from=(str(tmp_path / "nope"),)))


def test_migration_filter_choices() -> None:
    f = make("- index*", "+ *.dat", "- **")
    for path in ("a.dat", "sub/deep/b.dat", ".dat", "indexes/x.dat", "index/x.dat"):
        assert f.include_file(path, 1, 0), path
    for path in ("index.dat", "sub/index.dat", "index", "a.txt", "x.DAT", "a.dat.bak",
                 "dir.dat/file.txt"):
        assert not f.include_file(path, 1, 0), path
    assert f.include_dir("indexes") and f.include_dir("deep/er")


def test_pruning_hides_matching_file_below_excluded_dir() -> None:
    f = make("+ a/*.jpg", "- *")
    assert f.include_file("x/a/f.jpg", 1, 0)  # the file rule alone would include it
    assert not f.include_dir("x")  # but x/ is never walked
    assert f.include_dir("a")


# ----- rule files ----------------------------------------------------------------------

RULE_FILE = "; comment\none\n# another comment\n\n\ntwo\n # indented comment\nthree  \n" \
    "four    \nfive\n  six  "


def test_read_lines_processed(tmp_path) -> None:
    p = tmp_path / "r"
    p.write_text(RULE_FILE)
    assert list(read_lines(str(p))) == ["one", "two", "three", "four", "five", "six"]


def test_read_lines_raw(tmp_path) -> None:
    p = tmp_path / "r"
    p.write_text(RULE_FILE)
    assert ",".join(read_lines(str(p), raw=True)) == (
        "; comment,one,# another comment,,,two, # indented comment,three  ,four    ,five,  six  ")


def test_read_lines_stdin(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\n#x\nb\n")))
    assert list(read_lines("-")) == ["a", "b"]


@pytest.mark.parametrize("data,want", [
    (b"a\0b\0", ["a", "b"]), (b"a\0b", ["a", "b"]), (b"a\0\0b\0", ["a", "", "b"]),
    (b" #x \0", [" #x "])])
def test_read_lines_nul(tmp_path, data: bytes, want: list[str]) -> None:
    p = tmp_path / "r"
    p.write_bytes(data)
    assert list(read_lines(str(p), raw=True, nul=True)) == want


# ----- files-from ----------------------------------------------------------------------

def test_files_from_parents_become_directories(tmp_path) -> None:
    p = tmp_path / "list"
    p.write_text("path/to/dir/file1.png\n/path/to/dir/file2.png\n/path/to/file3.png\n"
                 "/path/to/dir2/file4.png\n# comment\n")
    f = Filter(FilterOptions(files_from=(str(p),)))
    assert f.dirs == {"path", "path/to", "path/to/dir", "path/to/dir2"}
    for d, want in [("path", True), ("path/to", True), ("path/to/", True), ("/path/to", True),
                    ("path/to/dir", True), ("path/too", False), ("four", False)]:
        assert f.include_dir(d) is want, d
    assert f.include_file("path/to/file3.png", 1, 0)
    assert not f.include_file("path/to/file5.png", 1, 0)
    assert f.active


def test_files_from_raw_keeps_comment_lines(tmp_path) -> None:
    p = tmp_path / "list"
    p.write_text("#not a comment\n")
    f = Filter(FilterOptions(files_from_raw=(str(p),)))
    assert f.include_file("#not a comment", 1, 0)


@pytest.mark.parametrize("flag,extra", [
    ("files_from", {"include": ("x",)}), ("files_from", {"min_size": 10}),
    ("files_from_raw", {"filter": ("- x",)}), ("files_from0", {"max_age": DAY}),
    ("files_from", {"exclude_if_present": (".ignore",)})])
def test_files_from_with_other_filters_is_refused(tmp_path, flag: str, extra: dict) -> None:
    p = tmp_path / "list"
    p.write_text("a\n")
    with pytest.raises(FilterError, match="overrides all other filters"):
        Filter(FilterOptions(**{flag: (str(p),)}, **extra))


# ----- size and age --------------------------------------------------------------------

def test_min_and_max_size_are_inclusive() -> None:
    f = Filter(FilterOptions(min_size=100, max_size=200))
    assert not f.include_file("a", 99, 0)
    assert f.include_file("a", 100, 0)
    assert f.include_file("a", 200, 0)
    assert not f.include_file("a", 201, 0)


def test_unknown_size_passes_max_fails_min() -> None:
    assert Filter(FilterOptions(max_size=10)).include_file("a", -1, 0)
    assert not Filter(FilterOptions(min_size=10)).include_file("a", -1, 0)


def test_age_boundaries_are_inclusive() -> None:
    now = 1_000_000 * SEC
    f = Filter(FilterOptions(min_age=DAY, max_age=2 * DAY), now_ns=now)
    assert f.include_file("a", 1, now - DAY)
    assert not f.include_file("a", 1, now - DAY + 1)
    assert f.include_file("a", 1, now - 2 * DAY)
    assert not f.include_file("a", 1, now - 2 * DAY - 1)
    assert not f.include_file("future", 1, now + SEC)


def test_min_age_larger_than_max_age_is_refused() -> None:
    with pytest.raises(FilterError, match="--min-age \"2d\" can't be larger than --max-age \"1d\""):
        Filter(FilterOptions(min_age=2 * DAY, max_age=DAY))


def test_ages_never_apply_to_directories() -> None:
    f = Filter(FilterOptions(min_age=DAY))
    assert f.include_dir("fresh")


@pytest.mark.parametrize("text,err", [
    ("1", "no / found"), ("a/2", "can't parse K"), ("1/x", "can't parse N"),
    ("1/0", "N must be greater than 0")])
def test_hash_filter_errors(text: str, err: str) -> None:
    with pytest.raises(FilterError, match=err):
        Filter(FilterOptions(hash_filter=text))


def test_hash_filter_partitions_every_name_exactly_once() -> None:
    names = [f"dir/file{i}.jpg" for i in range(200)] + ["filé1.jpg", "FILÉ1.JPG"]
    parts = [Filter(FilterOptions(hash_filter=f"{k}/4")) for k in range(4)]
    for name in names:
        assert sum(p.include_file(name, 1, 0) for p in parts) == 1
    # NFC + lower-case: the same name in another case lands in the same partition
    assert [p.include_file("filé1.jpg", 1, 0) for p in parts] == \
        [p.include_file("FILÉ1.JPG", 1, 0) for p in parts]
    assert Filter(FilterOptions(hash_filter="4/4")).include_file("x", 1, 0) == \
        Filter(FilterOptions(hash_filter="0/4")).include_file("x", 1, 0)


# --- metadata filters (rclone's metaRules: key=value strings, the same glob engine) -----

META_RULES = ("+ mode=1006*", "- tag=*")


@pytest.mark.parametrize(("metadata", "want"), [
    ({"mode": "100644", "tag": "x"}, True),  # first rule matching any pair decides
    ({"mode": "100755", "tag": "x"}, False),
    ({"mode": "100755"}, True),  # nothing matches: included
    (None, True),
    ({}, True),
])
def test_metadata_rules_first_match_over_all_pairs(metadata, want) -> None:
    f = Filter(FilterOptions(metadata_filter=META_RULES))
    assert f.active and f.uses_metadata
    assert f.include_file("a", 1, 0, metadata) is want


def test_no_metadata_is_tested_as_nul_pair() -> None:
    # an include adds the implicit "- /**", which matches the "\x00=\x00" stand-in
    f = Filter(FilterOptions(metadata_include=("tag=keep",)))
    assert not f.include_file("a", 1, 0, None)
    assert f.include_file("a", 1, 0, {"tag": "keep"})
    assert not f.include_file("a", 1, 0, {"tag": "other"})
    # a rule for the NUL pair itself
    g = Filter(FilterOptions(metadata_exclude=("\x00=\x00",)))
    assert not g.include_file("a", 1, 0, None)
    assert g.include_file("a", 1, 0, {"k": "v"})


def test_metadata_check_order_and_reason(capsys) -> None:
    from syncengine import log

    log.setup_logging(verbose=2)
    try:
        f = Filter(FilterOptions(metadata_exclude=("k=v",), max_size=10, exclude=("*.x",)))
        capsys.readouterr()
        assert not f.include_file("big.y", 11, 0, {"k": "v"})  # size is checked first
        assert not f.include_file("m.x", 1, 0, {"k": "v"})  # then metadata, then path
        assert not f.include_file("p.x", 1, 0, {"k": "w"})
        text = capsys.readouterr().err
        assert "big.y: Excluded (Size Filter)" in text
        assert "m.x: Excluded (Metadata Filter)" in text
        assert "p.x: Excluded (Path Filter)" in text
    finally:
        log.setup_logging()


def test_metadata_rules_ignore_case_does_not_apply_and_bang_clears() -> None:
    f = Filter(FilterOptions(metadata_include=("class=Archive",), ignore_case=True))
    assert f.include_file("a", 1, 0, {"class": "Archive"})
    assert not f.include_file("a", 1, 0, {"class": "archive"})
    g = Filter(FilterOptions(metadata_filter=("- k=*", "!", "- j=*")))
    assert [str(r) for r in g.meta_rules] == ["- (^|/)j=[^/]*$"]
    assert g.include_file("a", 1, 0, {"k": "1"})


def test_metadata_rules_in_dump_and_files_from_conflict(tmp_path) -> None:
    f = Filter(FilterOptions(metadata_include=("tag=keep",)))
    assert f.dump().splitlines()[-3:] == [
        "--- Metadata filter rules ---", "+ (^|/)tag=keep$", "- ^.*$"]
    assert "Metadata" not in Filter(FilterOptions(include=("x",))).dump()
    names = tmp_path / "names"
    names.write_text("a\n")
    with pytest.raises(FilterError, match="overrides all other filters"):
        Filter(FilterOptions(files_from=(str(names),), metadata_exclude=("k=v",)))
