"""Tests for syncengine.filter.glob: rclone's glob → RE2 and the RE2 → Python translation."""

from __future__ import annotations

import itertools
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import syncengine.filter.glob as glob_module
from syncengine.errors import FilterError
from syncengine.filter.glob import (
    GlobError,
    RegexpError,
    RegexpUnsupportedError,
    compile_glob,
    compile_regexp,
    dir_globs_info_message,
    dir_globs_too_hard,
    glob_to_dir_globs,
    glob_to_regexp,
    go_quote,
    re2_to_python,
    split_dir_globs,
)

# --------------------------------------------------------------------------------------
# Ports of rclone's fs/filter/glob_test.go
# --------------------------------------------------------------------------------------

# TestGlobStringToRegexp: (glob, regexp without anchors/(?i), error substring)
GLOB_STRING_CASES: list[tuple[str, str, str]] = [
    ("", "", ""),
    ("potato", "potato", ""),
    ("potato,sausage", "potato,sausage", ""),
    ("/potato", "/potato", ""),
    ("potato?sausage", "potato.sausage", ""),
    ("potat[oa]", "potat[oa]", ""),
    ("potat[a-z]or", "potat[a-z]or", ""),
    ("potat[[:alpha:]]or", "potat[[:alpha:]]or", ""),
    ("'.' '+' '(' ')' '|' '^' '$'", r"'\.' '\+' '\(' '\)' '\|' '\^' '\$'", ""),
    ("*.jpg", r".*\.jpg", ""),
    ("a{b,c,d}e", "a(b|c|d)e", ""),
    ("a{b,{c,d}}e", "a(b|(c|d))e", ""),
    ("{a,{b,c},{d,{e,f}}}", "(a|(b|c)|(d|(e|f)))", ""),
    ("potato**", "", "too many stars"),
    ("potato**sausage", "", "too many stars"),
    ("*.p[lm]", r".*\.p[lm]", ""),
    (r"[\[\]]", r"[\[\]]", ""),
    ("***potato", "", "too many stars"),
    ("***", "", "too many stars"),
    ("ab]c", "", "mismatched ']'"),
    ("ab[c", "", "mismatched '[' and ']'"),
    ("ab{x{cd", "", "mismatched '{' and '}'"),
    ("ab{}}cd", "", "mismatched '{' and '}'"),
    ("ab}c", "", "mismatched '{' and '}'"),
    ("ab{c", "", "mismatched '{' and '}'"),
    ("*.{jpg,png,gif}", r".*\.(jpg|png|gif)", ""),
    ("[a--b]", "", "bad glob pattern"),
    (r"a\*b", r"a\*b", ""),
    (r"a\\b", r"a\\b", ""),
    ("a{{.*}}b", "a(.*)b", ""),
    ("a{{.*}", "", "mismatched '{{' and '}}'"),
    ("{{regexp}}", "(regexp)", ""),
    (r"\{{{regexp}}", r"\{(regexp)", ""),
    ("/{{regexp}}", "/(regexp)", ""),
    (r"/{{\d{8}}}", r"/(\d{8})", ""),
    (r"/{{\}}}", r"/(\})", ""),
    ("{{(?i)regexp}}", "((?i)regexp)", ""),
]

# TestGlobPathToRegexp: (glob, regexp without (?i), error substring)
GLOB_PATH_CASES: list[tuple[str, str, str]] = [
    ("", "(^|/)$", ""),
    ("potato", "(^|/)potato$", ""),
    ("potato,sausage", "(^|/)potato,sausage$", ""),
    ("/potato", "^potato$", ""),
    ("potato?sausage", "(^|/)potato[^/]sausage$", ""),
    ("potat[oa]", "(^|/)potat[oa]$", ""),
    ("potat[a-z]or", "(^|/)potat[a-z]or$", ""),
    ("potat[[:alpha:]]or", "(^|/)potat[[:alpha:]]or$", ""),
    ("'.' '+' '(' ')' '|' '^' '$'", r"(^|/)'\.' '\+' '\(' '\)' '\|' '\^' '\$'$", ""),
    ("*.jpg", r"(^|/)[^/]*\.jpg$", ""),
    ("a{b,c,d}e", "(^|/)a(b|c|d)e$", ""),
    ("a{b,{c,d}}e", "(^|/)a(b|(c|d))e$", ""),
    ("{a,b/{c,d}/**}", "(^|/)(a|b/(c|d)/.*)$", ""),
    ("potato**", "(^|/)potato.*$", ""),
    ("potato**sausage", "(^|/)potato.*sausage$", ""),
    ("*.p[lm]", r"(^|/)[^/]*\.p[lm]$", ""),
    (r"[\[\]]", r"(^|/)[\[\]]$", ""),
    ("***potato", "", "too many stars"),
    ("***", "", "too many stars"),
    ("ab]c", "", "mismatched ']'"),
    ("ab[c", "", "mismatched '[' and ']'"),
    ("ab{x{cd", "", "mismatched '{' and '}'"),
    ("ab{}}cd", "", "mismatched '{' and '}'"),
    ("ab}c", "", "mismatched '{' and '}'"),
    ("ab{c", "", "mismatched '{' and '}'"),
    ("*.{jpg,png,gif}", r"(^|/)[^/]*\.(jpg|png|gif)$", ""),
    ("[a--b]", "", "bad glob pattern"),
    (r"a\*b", r"(^|/)a\*b$", ""),
    (r"a\\b", r"(^|/)a\\b$", ""),
    ("a{{.*}}b", "(^|/)a(.*)b$", ""),
    ("a{{.*}", "", "mismatched '{{' and '}}'"),
    ("{{regexp}}", "(^|/)(regexp)$", ""),
    (r"\{{{regexp}}", r"(^|/)\{(regexp)$", ""),
    ("/{{regexp}}", "^(regexp)$", ""),
    (r"/{{\d{8}}}", r"^(\d{8})$", ""),
    (r"/{{\}}}", r"^(\})$", ""),
    ("{{(?i)regexp}}", "(^|/)((?i)regexp)$", ""),
]

# TestGlobToDirGlobs
DIR_GLOB_CASES: list[tuple[str, list[str]]] = [
    ("*", ["/**"]),
    ("/*", ["/"]),
    ("*.jpg", ["/**"]),
    ("/*.jpg", ["/"]),
    ("//*.jpg", ["/"]),
    ("///*.jpg", ["/"]),
    ("/a/*.jpg", ["/a/", "/"]),
    ("/a//*.jpg", ["/a/", "/"]),
    ("/a///*.jpg", ["/a/", "/"]),
    ("/a/b/*.jpg", ["/a/b/", "/a/", "/"]),
    ("a/*.jpg", ["a/"]),
    ("a/b/*.jpg", ["a/b/", "a/"]),
    ("*/*/*.jpg", ["*/*/", "*/"]),
    ("a/b/", ["a/b/", "a/"]),
    ("a/b", ["a/"]),
    ("a/b/*.{jpg,png,gif}", ["a/b/", "a/"]),
    ("/a/{jpg,png,gif}/*.{jpg,png,gif}", ["/a/{jpg,png,gif}/", "/a/", "/"]),
    ("a/{b,{c,d}}/*.jpg", ["/**"]),
    ("a/{a,a*b,a**c}/d/", ["/**"]),
    ("/a/{a,a*b,a/c,d}/d/", ["/**"]),
    ("/a/{{.*}}/d/", ["/**"]),
    ("**", ["**/"]),
    ("a**", ["a**/"]),
    ("a**b", ["a**/"]),
    ("a**b**c**d", ["a**b**c**/", "a**b**/", "a**/"]),
    ("a**b/c**d", ["a**b/c**/", "a**b/", "a**/"]),
    ("/A/a**b/B/c**d/C/", ["/A/a**b/B/c**d/C/", "/A/a**b/B/c**d/", "/A/a**b/B/c**/",
                           "/A/a**b/B/", "/A/a**b/", "/A/a**/", "/A/", "/"]),
    ("/var/spool/**/ncw", ["/var/spool/**/", "/var/spool/", "/var/", "/"]),
    ("var/spool/**/ncw/", ["var/spool/**/ncw/", "var/spool/**/", "var/spool/", "var/"]),
    ("/file1.jpg", ["/"]),
    ("/file2.png", ["/"]),
    ("/*.jpg", ["/"]),
    ("/*.png", ["/"]),
    ("/potato", ["/"]),
    ("/sausage1", ["/"]),
    ("/sausage2*", ["/"]),
    ("/sausage3**", ["/sausage3**/", "/"]),
    ("/a/*.jpg", ["/a/", "/"]),
]


@pytest.mark.parametrize("glob,want,error", GLOB_STRING_CASES)
def test_glob_string_to_regexp(glob: str, want: str, error: str) -> None:
    for ignore_case in (False, True):
        for add_anchors in (False, True):
            if error:
                with pytest.raises(FilterError, match=re.escape(error)):
                    glob_to_regexp(glob, ignore_case=ignore_case, path_mode=False,
                                   add_anchors=add_anchors)
                continue
            prefix = "(?i)" if ignore_case else ""
            anchored = "^" + want + "$" if add_anchors else want
            got = glob_to_regexp(glob, ignore_case=ignore_case, path_mode=False,
                                 add_anchors=add_anchors)
            assert got == prefix + anchored


@pytest.mark.parametrize("glob,want,error", GLOB_PATH_CASES)
def test_glob_path_to_regexp(glob: str, want: str, error: str) -> None:
    for ignore_case in (False, True):
        if error:
            with pytest.raises(GlobError, match=re.escape(error)):
                glob_to_regexp(glob, ignore_case=ignore_case)
            with pytest.raises(FilterError):
                compile_glob(glob, ignore_case=ignore_case)
            continue
        prefix = "(?i)" if ignore_case else ""
        assert glob_to_regexp(glob, ignore_case=ignore_case) == prefix + want
        regexp, pattern = compile_glob(glob, ignore_case=ignore_case)
        assert regexp == prefix + want
        assert isinstance(pattern, re.Pattern)


@pytest.mark.parametrize("glob,want", DIR_GLOB_CASES)
def test_glob_to_dir_globs(glob: str, want: list[str]) -> None:
    glob_to_regexp(glob)  # every glob in rclone's table is valid
    assert glob_to_dir_globs(glob) == want
    assert split_dir_globs(glob) == (want, dir_globs_too_hard(glob))


@pytest.mark.parametrize("glob,too_hard", [
    ("a/{b,{c,d}}/*.jpg", True),    # nested braces
    ("a/{a,a*b,a**c}/d/", True),     # ** in braces
    ("/a/{a,a*b,a/c,d}/d/", True),   # / in braces
    ("/a/{{.*}}/d/", True),          # regexp
    ("x}}", True),                   # }} anywhere counts
    ("*", False),                    # "/**" but not "too hard": no INFO log
    ("*.jpg", False),
    ("/a/{jpg,png}/*.gif", False),
])
def test_dir_globs_too_hard(glob: str, too_hard: bool) -> None:
    assert dir_globs_too_hard(glob) is too_hard
    if too_hard:
        assert glob_to_dir_globs(glob) == ["/**"]


def test_dir_globs_info_message() -> None:
    assert dir_globs_info_message(r"{{\d}}") == (
        r'''Can't figure out directory filters from "{{\\d}}": looking in all directories''')


# --------------------------------------------------------------------------------------
# Error messages, word for word (each checked against rclone v1.75.2)
# --------------------------------------------------------------------------------------

GLOB_ERRORS: list[tuple[str, str]] = [
    ("[a--b]", 'bad glob pattern "[a--b]" (regexp "(^|/)[a--b]$"): error parsing regexp: '
               "invalid character class range: `a--`"),
    ("***", 'too many stars in "***"'),
    ("/a/***", 'too many stars in "a/***"'),  # the leading / is gone from the message
    ("a\tb***", 'too many stars in "a\\tb***"'),
    ("ab]c", "mismatched ']' in glob \"ab]c\""),
    (r"[\]]", "mismatched ']' in glob \"[\\\\]]\""),
    ("ab[c", "mismatched '[' and ']' in glob \"ab[c\""),
    ("ab{c", "mismatched '{' and '}' in glob \"ab{c\""),
    ("{a,{{x}}}", "mismatched '{' and '}' in glob \"{a,{{x}}}\""),
    ("a{{.*}", "mismatched '{{' and '}}' in glob \"a{{.*}\""),
    ("{{a**}}", 'bad glob pattern "{{a**}}" (regexp "(^|/)(a**)$"): error parsing regexp: '
                "invalid nested repetition operator: `**`"),
    ("{{x{2}?*}}", 'bad glob pattern "{{x{2}?*}}" (regexp "(^|/)(x{2}?*)$"): error parsing '
                   "regexp: invalid nested repetition operator: `{2}?*`"),
    ("{{*a}}", 'bad glob pattern "{{*a}}" (regexp "(^|/)(*a)$"): error parsing regexp: '
               "missing argument to repetition operator: `*`"),
    ("{{(?i)*}}", 'bad glob pattern "{{(?i)*}}" (regexp "(^|/)((?i)*)$"): error parsing '
                  "regexp: missing argument to repetition operator: `*`"),
    ("{{(a{2}){501}}}", 'bad glob pattern "{{(a{2}){501}}}" (regexp "(^|/)((a{2}){501})$"): '
                        "error parsing regexp: invalid repeat count: `{501}`"),
    ("{{a{5,2}}}", 'bad glob pattern "{{a{5,2}}}" (regexp "(^|/)(a{5,2})$"): error parsing '
                   "regexp: invalid repeat count: `{5,2}`"),
    ("{{(?P<n}}", 'bad glob pattern "{{(?P<n}}" (regexp "(^|/)((?P<n)$"): error parsing '
                  "regexp: invalid named capture: `(?P<n)$`"),
    ("{{(?P<n-x>a)}}", 'bad glob pattern "{{(?P<n-x>a)}}" (regexp "(^|/)((?P<n-x>a))$"): '
                       "error parsing regexp: invalid named capture: `(?P<n-x>`"),
    ("{{(?=a)}}", 'bad glob pattern "{{(?=a)}}" (regexp "(^|/)((?=a))$"): error parsing '
                  "regexp: invalid or unsupported Perl syntax: `(?=`"),
    ("{{(?i-)a}}", 'bad glob pattern "{{(?i-)a}}" (regexp "(^|/)((?i-)a)$"): error parsing '
                   "regexp: invalid or unsupported Perl syntax: `(?i-)`"),
    ("{{(a}}", 'bad glob pattern "{{(a}}" (regexp "(^|/)((a)$"): error parsing regexp: '
               "missing closing ): `(^|/)((a)$`"),
    ("{{a)}}", 'bad glob pattern "{{a)}}" (regexp "(^|/)(a))$"): error parsing regexp: '
               "unexpected ): `(^|/)(a))$`"),
    (r"{{\x4}}", r'bad glob pattern "{{\\x4}}" (regexp "(^|/)(\\x4)$"): error parsing '
                 r"regexp: invalid escape sequence: `\x4)`"),
    (r"{{\x{110000}}}", r'bad glob pattern "{{\\x{110000}}}" (regexp "(^|/)(\\x{110000})$"):'
                        r" error parsing regexp: invalid escape sequence: `\x{110000`"),
    (r"{{\8}}", r'bad glob pattern "{{\\8}}" (regexp "(^|/)(\\8)$"): error parsing regexp: '
                r"invalid escape sequence: `\8`"),
    (r"{{\Z}}", r'bad glob pattern "{{\\Z}}" (regexp "(^|/)(\\Z)$"): error parsing regexp: '
                r"invalid escape sequence: `\Z`"),
    ("{{[a}}", 'bad glob pattern "{{[a}}" (regexp "(^|/)([a)$"): error parsing regexp: '
               "missing closing ]: `[a)$`"),
    ("{{[[:alpah:]]}}", 'bad glob pattern "{{[[:alpah:]]}}" (regexp "(^|/)([[:alpah:]])$"): '
                        "error parsing regexp: invalid character class range: `[:alpah:]`"),
    (r"{{[a-\d]}}", r'bad glob pattern "{{[a-\\d]}}" (regexp "(^|/)([a-\\d])$"): error '
                    r"parsing regexp: invalid escape sequence: `\d`"),
    (r"{{\p{Zinh}}}", r'bad glob pattern "{{\\p{Zinh}}}" (regexp "(^|/)(\\p{Zinh})$"): '
                      r"error parsing regexp: invalid character class range: `\p{Zinh}`"),
    (r"{{\p}}", r'bad glob pattern "{{\\p}}" (regexp "(^|/)(\\p)$"): error parsing regexp: '
                r"invalid character class range: `\p)`"),
]


@pytest.mark.parametrize("glob,message", GLOB_ERRORS)
def test_glob_error_messages(glob: str, message: str) -> None:
    with pytest.raises(GlobError) as info:
        compile_glob(glob)
    assert str(info.value) == message
    assert isinstance(info.value, FilterError)
    assert info.value.exit_code == 1


def test_ignore_case_error_names_the_regexp_with_prefix() -> None:
    with pytest.raises(GlobError) as info:
        compile_glob("[a--b]", ignore_case=True)
    assert '(regexp "(?i)(^|/)[a--b]$")' in str(info.value)


def test_unsupported_script_class_is_a_clear_filter_error() -> None:
    with pytest.raises(GlobError, match=r"regexp not supported by pysync: .*`\\p\{Greek\}`"):
        compile_glob(r"{{\p{Greek}}}")
    with pytest.raises(RegexpUnsupportedError):
        re2_to_python(r"\P{Latin}")


def test_regexp_error_pickles() -> None:
    err = RegexpError("invalid escape sequence", r"\8")
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) == r"error parsing regexp: invalid escape sequence: `\8`"


@pytest.mark.parametrize("text,quoted", [
    ("abc", '"abc"'),
    ('a"b\\c', r'"a\"b\\c"'),
    ("a\tb\nc\x00\x7f", r'"a\tb\nc\x00\x7f"'),
    ("é ñ 日本", '"é ñ 日本"'),
    ("\u00a0\u200b\u2028", r'"\u00a0\u200b\u2028"'),
    ("\U000e0001", r'"\U000e0001"'),
    ("bad\udcff", r'"bad\xff"'),  # surrogateescape'd byte
])
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


# --------------------------------------------------------------------------------------
# Match tables: (glob, path, matches, ignore_case); directories are tested as "dir/"
# --------------------------------------------------------------------------------------

MATCH_CASES: list[tuple[str, str, bool, bool]] = [
    # anchoring
    ("file.jpg", "file.jpg", True, False),
    ("file.jpg", "dir/file.jpg", True, False),
    ("file.jpg", "afile.jpg", False, False),
    ("file.jpg", "dir/afile.jpg", False, False),
    ("file.jpg", "file.jpg.bak", False, False),
    ("/file.jpg", "file.jpg", True, False),
    ("/file.jpg", "dir/file.jpg", False, False),
    ("dir/file.jpg", "dir/file.jpg", True, False),
    ("dir/file.jpg", "top/dir/file.jpg", True, False),
    ("dir/file.jpg", "adir/file.jpg", False, False),
    ("/dir/file.jpg", "top/dir/file.jpg", False, False),
    # * ? ** and the path separator
    ("*.jpg", "file.jpg", True, False),
    ("*.jpg", "dir/sub/file.jpg", True, False),
    ("/*.jpg", "dir/file.jpg", False, False),
    ("dir/*", "dir/file.jpg", True, False),
    ("dir/*", "dir/sub/file.jpg", False, False),
    ("dir/**", "dir/sub/file.jpg", True, False),
    ("dir/**", "dir/sub/", True, False),
    ("a*", "ab/c", False, False),
    ("a*c", "ab/c", False, False),
    ("a**c", "ab/c", True, False),
    ("?", "a", True, False),
    ("?", "ab", False, False),
    ("a?c", "a/c", False, False),
    ("*", "dir/file.jpg", True, False),
    ("*", "dir/", True, False),  # the empty name after the final "/"
    ("**", "dir/sub/file.jpg", True, False),
    ("**/file.jpg", "file.jpg", False, False),  # ** then / needs a directory level
    ("**/file.jpg", "dir/file.jpg", True, False),
    ("**/file.jpg", "dir/sub/file.jpg", True, False),
    ("/**/file.jpg", "file.jpg", False, False),
    ("/**/file.jpg", "a/b/file.jpg", True, False),
    ("dir/", "dir/", True, False),
    ("dir/", "top/dir/", True, False),
    ("dir/", "dir", False, False),
    # braces, nesting, literal commas
    ("{a,{b,c}}.txt", "b.txt", True, False),
    ("{a,{b,c}}.txt", "c.txt", True, False),
    ("{a,{b,c}}.txt", "d.txt", False, False),
    ("a{b,{c,d}}e", "ace", True, False),
    ("a{b,{c,d}}e", "a{c,d}e", False, False),
    ("*.{jpg,png}", "x.png", True, False),
    ("*.{jpg,png}", "x.gif", False, False),
    ("{x,y/**}", "y/z/w", True, False),
    ("a,b", "a,b", True, False),
    ("{a,b}", "a,b", False, False),
    # regexps
    (r"{{\d{8}}}", "12345678", True, False),
    (r"{{\d{8}}}", "1234567", False, False),
    (r"{{\d{8}}}", "d1/12345678", True, False),
    (r"/{{\d{8}}}", "d1/12345678", False, False),
    (r"{{\d{8}}}", "١٢٣٤٥٦٧٨", False, False),  # \d is ASCII only
    ("x{{a}}}", "xa}", True, False),             # }}} : the regexp ends with }
    (r"\{{{regexp}}", "{regexp", True, False),
    (r"\{{{regexp}}", "regexp", False, False),
    ("{{.*}}.bak", "a/b.bak", True, False),
    ("{{(?i)abc}}", "ABC", True, False),
    ("{{(?i)abc}}d", "ABCD", False, False),      # (?i) ends with its group
    ("{{(?i)abc}}d", "ABCd", True, False),
    ("{{x(?i)b|c}}", "C", True, False),          # ...and spans the rest of the group
    ("{{x(?i)b|c}}", "XB", False, False),
    ("{{x(?i)b|c}}", "xB", True, False),
    ("{{(?-i)a}}b", "aB", True, True),
    ("{{(?-i)a}}b", "AB", False, True),
    # POSIX classes
    ("[[:alpha:]]*", "abc", True, False),
    ("[[:alpha:]]*", "1bc", False, False),
    ("[[:alpha:]]*", "ébc", False, False),
    ("[[:^digit:]]", "x", True, False),
    ("[[:^digit:]]", "5", False, False),
    ("[[:^digit:]]", "é", True, False),
    ("[[:space:]]x", " x", True, False),
    ("[[:upper:][:digit:]]", "Q", True, False),
    ("[[:upper:][:digit:]]", "q", False, False),
    ("[!a]", "!", True, False),  # RE2 has no [!...] negation
    ("[!a]", "b", False, False),
    ("[^a]", "b", True, False),
    ("[^a]", "a", False, False),
    # escapes and regexp metacharacters in globs
    (r"a\*b", "a*b", True, False),
    (r"a\*b", "axb", False, False),
    (r"a\\b", "a\\b", True, False),
    ("a$b", "a$b", True, False),
    ("a^b", "a^b", True, False),
    ("a(b)", "a(b)", True, False),
    ("a+b", "a+b", True, False),
    ("a|b", "a|b", True, False),
    ("a|b", "a", False, False),
    # ignore case
    ("*.jpg", "FILE.JPG", True, True),
    ("*.jpg", "FILE.JPG", False, False),
    ("café*", "CAFÉ.txt", True, True),
    ("k.txt", "\u212a.txt", True, True),    # KELVIN SIGN folds to k
    ("s.txt", "\u017f.txt", True, True),    # LONG S folds to s
    ("ß.txt", "\u1e9e.txt", True, True),    # CAPITAL SHARP S
    ("ß.txt", "SS.txt", False, True),       # simple folding only
    ("i.txt", "\u0130.txt", False, True),   # no Turkic folding (Python's (?i) says yes)
    ("ı.txt", "I.txt", False, True),
    ("Ωmega", "ωMEGA", True, True),
    # spaces, unicode, newlines
    ("sp ace*", "sp ace.txt", True, False),
    ("* *", "sp ace.txt", True, False),
    ("é?", "éa", True, False),
    ("?", "é", True, False),
    ("?", "e\u0301", False, False),          # two code points
    ("日本/*", "日本/語.txt", True, False),
    ("*", "a\nb", True, False),
    ("a?b", "a\nb", True, False),
    ("{{a.b}}", "a\nb", False, False),       # . never matches \n ...
    ("{{(?s)a.b}}", "a\nb", True, False),    # ... unless (?s)
    ("file.jpg", "file.jpg\n", False, False),  # $ is end of text, not before a final \n
    ("*.jpg", "x.jpg\n", False, False),
    ("*.jpg", "x\n.jpg", True, False),
    ("/a", "b\na", False, False),           # ^ is start of text, not of a line
]


@pytest.mark.parametrize("glob,path,matches,ignore_case", MATCH_CASES)
def test_match(glob: str, path: str, matches: bool, ignore_case: bool) -> None:
    _, pattern = compile_glob(glob, ignore_case=ignore_case)
    assert bool(pattern.search(path)) is matches


# --------------------------------------------------------------------------------------
# RE2 → Python
# --------------------------------------------------------------------------------------

TRANSLATIONS: list[tuple[str, str]] = [
    (r"(^|/)[^/]*\.jpg$", r"(?:\A|/)[^/]*\.jpg\Z"),
    (r"^(\d{8})$", r"\A[0-9]{8}\Z"),
    (r"(?i)ab", "[Aa][Bb]"),
    (r"[[:alpha:]]", "[A-Za-z]"),
    (r"\s", r"[\x09\x0a\x0c\x0d\x20]"),
    (r"\W", r"[^0-9A-Z_a-z]"),
    (r"a$", r"a\Z"),
    (r"a\z", r"a\Z"),
    (r"\ba\B", r"(?a:\b)a(?a:\B)"),
    (r"(?m)^$", r"(?m:^)(?m:$)"),
    (r"(?s).", r"(?s:.)"),
    (r".", "."),
    (r"(?U)a+b*?", "a+?b*"),
    (r"\Qa.b*\E+", r"a\.b\*+"),
    (r"(?P<x>a)|(?<y>b)", "a|b"),
    (r"^*", r"(?:\A)*"),
    (r"(a*)*", "(?:a*)*"),
    (r"a{,2}", r"a\{,2\}"),
    (r"[^\x00-\x{10FFFF}]", "(?!)"),
    (r"\x{1F600}\101\0", "😀A\\x00"),
]


@pytest.mark.parametrize("regexp,python", TRANSLATIONS)
def test_re2_to_python_text(regexp: str, python: str) -> None:
    assert re2_to_python(regexp) == python
    re.compile(python)


RE2_MATCHES: list[tuple[str, str, bool]] = [
    (r"^\d+$", "123", True),
    (r"^\d+$", "١٢٣", False),
    (r"^\w+$", "é", False),
    (r"^\W$", "é", True),
    (r"^\s$", "\v", False),             # Perl \s has no \v in RE2
    (r"^[[:space:]]$", "\v", True),
    (r"^\s$", "\u00a0", False),
    (r"^[\d\s]+$", "1 2", True),
    (r"^[^\D]$", "7", True),
    (r"\bfoo\b", "éfooé", True),        # ASCII word boundaries
    (r"\Bfoo", "éfoo", False),
    (r"^a$", "a\n", False),
    (r"^a\z", "a\n", False),
    (r"(?m)^a$", "a\n", True),
    (r"(?m)^b$", "a\nb", True),
    (r"^b", "a\nb", False),
    (r"^a.b$", "a\nb", False),
    (r"(?s)^a.b$", "a\nb", True),
    (r"^[^a]$", "\n", True),
    (r"(?i)ab", "AB", True),
    (r"a(?i)b", "AB", False),
    (r"a(?i)b", "aB", True),
    (r"^(a(?i)b)c$", "aBC", False),
    (r"^(a(?i)b)c$", "aBc", True),
    (r"^(?:a(?i)b|c)$", "C", True),
    (r"^(?i)a(?-i)b$", "Ab", True),
    (r"^(?i)a(?-i)b$", "AB", False),
    (r"^(?i:a)b$", "Ab", True),
    (r"^(?i:a)b$", "AB", False),
    (r"^(?i)[[:lower:]]$", "A", True),
    (r"^(?i)[[:^lower:]]$", "A", False),
    (r"^(?i)[^k]$", "\u212a", False),
    (r"^(?i)\p{Lu}$", "a", True),
    (r"^(?i)\w$", "\u017f", True),
    (r"^(?i)\W$", "\u017f", False),
    (r"^(?i)[a-z]+$", "\u212aELVIN", True),
    (r"^(?i)i$", "\u0130", False),
    (r"^(?i)\x{DF}$", "\u1e9e", True),
    (r"^(?U)a+$", "aaa", True),
    (r"^\Qa.b\E$", "a.b", True),
    (r"^\Qa.b\E$", "axb", False),
    (r"^\Qa.b$", "a.b$", True),
    (r"^\101\x41\x{41}$", "AAA", True),
    (r"^\0$", "\0", True),
    (r"^\x{10FFFF}$", "\U0010ffff", True),
    (r"^(?P<n>a)(?<m>b)$", "ab", True),
    (r"^\pL+$", "héllo", True),
    (r"^\pL+$", "h3", False),
    (r"^\p{Lu}$", "É", True),
    (r"^\p{Letter}$", "é", True),
    (r"^\PL$", "3", True),
    (r"^\p{^L}$", "3", True),
    (r"^\pN$", "٣", True),
    (r"^[\pL\d]+$", "é1", True),
    (r"^\p{Any}$", "\n", True),
    (r"^\p{ASCII}+$", "abc~", True),
    (r"^\_\/\-$", "_/-", True),
    (r"^a{,2}$", "a{,2}", True),
    (r"^a{2}$", "aa", True),
    (r"^(?:)$", "", True),
    (r"^[\x{D7FF}-\x{E000}]$", "\ue000", True),
    (r"^[^\x00-\x{10FFFF}]$", "", False),
    (r"^(?i)\p{L}$", "\u0345", True),     # FoldCategory["L"] holds U+0345 ...
    (r"^(?i)\p{Lc}$", "\u0345", False),   # ... but Go has no FoldCategory["LC"]
    (r"^(?i)\p{Nl}$", "\u2170", True),
]


@pytest.mark.parametrize("regexp,text,matches", RE2_MATCHES)
def test_re2_semantics(regexp: str, text: str, matches: bool) -> None:
    assert bool(compile_regexp(regexp).search(text)) is matches


@pytest.mark.parametrize("regexp,message", [
    ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
    ("a++", "error parsing regexp: invalid nested repetition operator: `++`"),
    ("(?<=a)", "error parsing regexp: invalid named capture: `(?<=a)`"),
    ("(?P<n>", "error parsing regexp: missing closing ): `(?P<n>`"),
    ("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
    ("((a{10}){10}){11}", "error parsing regexp: invalid repeat count: `{11}`"),
    ("a\\", "error parsing regexp: trailing backslash at end of expression: ``"),
    ("[]", "error parsing regexp: missing closing ]: `[]`"),
])
def test_re2_errors(regexp: str, message: str) -> None:
    with pytest.raises(RegexpError) as info:
        re2_to_python(regexp)
    assert str(info.value) == message


@pytest.mark.skipif(sys.version_info < (3, 11), reason="atomic groups need Python 3.11")
def test_star_runs_do_not_backtrack() -> None:
    # RE2 is linear; a plain translation of these takes minutes in Python's backtracking re
    assert re2_to_python(r"(^|/)[^/]*a[^/]*a[^/]*b$") == (
        r"(?:\A|/)(?>[^/]*?a)(?>[^/]*?a)[^/]*b\Z")
    for glob in ("*a*a*a*a*b", "**a**a**a**a**b", "{{.*a.*a.*a.*a.*b}}", "*a?a*a[a-z]*a*b"):
        _, pattern = compile_glob(glob)
        start = time.perf_counter()
        assert pattern.search("a" * 4000) is None
        assert pattern.search("x/" + "a" * 300 + "b")
        assert time.perf_counter() - start < 1.0, glob


@pytest.mark.skipif(sys.version_info < (3, 11), reason="atomic groups need Python 3.11")
def test_atomic_star_runs_keep_every_match(monkeypatch: pytest.MonkeyPatch) -> None:
    globs = ["*a*a*b", "**a**b*", "*a?*b*a", "{{a*a*a.*b}}", "*[ab]*b/*a*", "*a**a*b",
             "{{(?i)[^/]*A[^/]*a}}", "*{a,b}*a*b", "{{b*[ab]b*a}}"]
    texts = ["".join(t) for n in range(8) for t in itertools.product("ab/", repeat=n)]
    fast = [compile_regexp(glob_to_regexp(glob)) for glob in globs]
    monkeypatch.setattr(glob_module, "_ATOMIC_GROUPS", False)
    plain = [re.compile(re2_to_python(glob_to_regexp(glob))) for glob in globs]
    assert all("(?>" not in pattern.pattern for pattern in plain)
    for glob, quick, slow in zip(globs, fast, plain, strict=True):
        for text in texts:
            assert bool(quick.search(text)) == bool(slow.search(text)), (glob, text)


def test_compile_glob_is_cached_and_anchored() -> None:
    first = compile_glob("*.txt")
    assert compile_glob("*.txt") is first
    assert first[1].flags & re.IGNORECASE == 0
    assert compile_glob("*.txt", ignore_case=True)[0] == r"(?i)(^|/)[^/]*\.txt$"


# --------------------------------------------------------------------------------------
# Cross-check against the real rclone binary (through one `rclone rcd` process)
# --------------------------------------------------------------------------------------

TREE = sorted({path for _, path, _, _ in MATCH_CASES
               if not path.endswith("/") and not any(ord(c) < 0x20 for c in path)} | {
    "A1", "a_1", "notes.TXT", "deep/a/b/c/d.txt", "deep/x.jpg", ".hidden", "dir/.hidden",
    "2024-01-01.log", "logs/2024/01.log", "var/spool/x/ncw", "var/spool/ncw",
})

CROSS_GLOBS: list[tuple[str, bool]] = sorted({(g, ic) for g, _, _, ic in MATCH_CASES
                                              if not any(ord(c) < 0x20 for c in g)} | {
    ("*.txt", True), ("**/*.log", False), ("logs/**", False), ("/deep/**", False),
    ("deep/*/b/**", False), ("var/spool/**/ncw", False), ("/*/*.txt", False),
    (".*", False), ("*.{log,TXT}", False), ("{{[[:upper:]]\\d}}", False),
    ("{{(?i)A_\\d}}", False), ("[[:word:]]_?", False), ("**.jpg", False),
    ("d*/", False), ("{{\\p{Lu}\\pN}}", False), ("{{\\p{L}+\\.txt}}", True),
    ("*{{\\.}}TXT", True), ("[0-9]*-*", False), ("{deep,var}/**", False),
})

BAD_GLOBS = [glob for glob, _ in GLOB_ERRORS if "\t" not in glob]


def _build_tree(root: Path) -> list[str]:
    made = []
    for rel in TREE:
        target = root / rel
        if any(parent.is_file() for parent in target.parents):
            continue  # the table already uses this name as a file
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"")
        made.append(rel)
    return sorted(made)


def _emulate(glob: str, ignore_case: bool, paths: list[str]) -> set[str]:
    """What `--filter "+ GLOB" --filter "- **"` selects, computed with our patterns."""
    star_star = compile_glob("**", ignore_case=ignore_case)[1]
    pattern = compile_glob(glob, ignore_case=ignore_case)[1]
    is_dir_rule = glob.endswith("/")
    is_file_rule = not is_dir_rule
    if "**" in glob:
        is_dir_rule = is_file_rule = True
    file_rules: list[tuple[bool, re.Pattern[str]]] = []
    dir_rules: list[tuple[bool, re.Pattern[str]]] = []
    if is_file_rule:
        file_rules.append((True, pattern))
        for dir_glob in glob_to_dir_globs(glob):
            if dir_glob != "/":
                dir_rules.append((True, compile_glob(dir_glob, ignore_case=ignore_case)[1]))
    if is_dir_rule:
        dir_rules.append((True, pattern))
    file_rules.append((False, star_star))
    dir_rules.append((False, star_star))

    def included(rules: list[tuple[bool, re.Pattern[str]]], name: str) -> bool:
        for include, rule in rules:
            if rule.search(name):
                return include
        return True

    out = set()
    for path in paths:
        parts = path.split("/")
        dirs = ["/".join(parts[:k]) + "/" for k in range(1, len(parts))]
        if included(file_rules, path) and all(included(dir_rules, d) for d in dirs):
            out.add(path)
    return out


@pytest.fixture(scope="module")
def rclone_rc(tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Callable[[str, dict[str, Any]], dict[str, Any]]]:
    """Start one `rclone rcd` on a free local port and yield a JSON-RPC caller."""
    if shutil.which("rclone") is None:
        pytest.skip("rclone binary not on PATH")
    config = tmp_path_factory.mktemp("rclone-config") / "rclone.conf"
    config.write_text("")
    env = dict(os.environ, RCLONE_CONFIG=str(config))
    proc = subprocess.Popen(
        ["rclone", "rcd", "--rc-no-auth", "--rc-addr", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    found: list[str] = []

    def read_log() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(10)
        assert proc.stderr is not None
        proc.stderr.close()

    ready = threading.Event()
    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    ready.wait(20)
    if not found:
        stop()
        pytest.skip("could not start rclone rcd")
    url = found[0]

    def call(method: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(url + method, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as err:
            return json.load(err)

    try:
        yield call
    finally:
        stop()


def test_cross_check_with_rclone(rclone_rc: Callable[[str, dict[str, Any]], dict[str, Any]],
                                 tmp_path: Path) -> None:
    paths = _build_tree(tmp_path)
    assert len(paths) > 60
    mismatches = []
    for glob, ignore_case in CROSS_GLOBS:
        reply = rclone_rc("operations/list", {
            "fs": str(tmp_path), "remote": "",
            "opt": {"recurse": True, "filesOnly": True},
            "_filter": {"FilterRule": ["+ " + glob, "- **"], "IgnoreCase": ignore_case},
        })
        assert "error" not in reply, (glob, reply)
        got = {entry["Path"] for entry in reply["list"]}
        want = _emulate(glob, ignore_case, paths)
        if got != want:
            mismatches.append((glob, ignore_case, sorted(got - want), sorted(want - got)))
    assert not mismatches


def test_cross_check_errors_with_rclone(
        rclone_rc: Callable[[str, dict[str, Any]], dict[str, Any]], tmp_path: Path) -> None:
    for glob in BAD_GLOBS:
        reply = rclone_rc("operations/list", {
            "fs": str(tmp_path), "remote": "", "opt": {},
            "_filter": {"FilterRule": ["+ " + glob]},
        })
        with pytest.raises(FilterError) as info:
            compile_glob(glob)
        assert reply.get("error") == str(info.value), glob
