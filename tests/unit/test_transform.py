"""Unit tests of syncengine.transform (--name-transform) where rclone's output cannot be
compared directly: fixed clocks, error values, scopes; the names themselves are compared
with rclone's in tests/differential/test_name_transform_vs_rclone.py."""

from __future__ import annotations

import datetime

import pytest

from syncengine.transform import (
    NameTransform,
    TransformError,
    apply_time_globs,
    go_time_format,
    parse_spec,
    split_extension,
)

T = datetime.datetime(2024, 3, 7, 15, 4, 5, 123456,
                      tzinfo=datetime.timezone(datetime.timedelta(hours=-7)))


@pytest.mark.parametrize(("layout", "want"), [
    ("2006-01-02", "2024-03-07"), ("20060102", "20240307"), ("15:04:05", "15:04:05"),
    ("Jan _2 15:04:05.000", "Mar  7 15:04:05.123"), ("Monday, 02-Jan-06", "Thursday, 07-Mar-24"),
    ("3:04PM", "3:04PM"), ("2006-01-02T15:04:05Z07:00", "2024-03-07T15:04:05-07:00"),
    ("-0700 .999999", "-0700 .123456"), ("002 __2", "067  67"), ("January", "March"),
])
def test_go_time_format(layout: str, want: str) -> None:
    assert go_time_format(layout, T) == want


@pytest.mark.parametrize(("value", "want"), [
    ("-{YYYYMMDD}", "-20240307"), ("_{DateOnly}", "_2024-03-07"),
    ("{mac}", "2024-03-07 0304PM"), ("plain", "plain"), ("{{Kitchen}}", "3:04PM"),
])
def test_time_globs(value: str, want: str) -> None:
    assert apply_time_globs(value, T) == want


def test_date_transform_uses_the_clock() -> None:
    nt = NameTransform(["date=-{YYYYMMDD}"], now=lambda: T)
    assert nt.path("d/a.txt", False) == "d/a.txt-20240307"


@pytest.mark.parametrize(("text", "error"), [
    ("bogus", 'invalid choice "bogus" from: none, nfc,'),
    ("prefix", "value is required for prefix"),
    ("prefix=a=b", "too many values"), ("=x", "key cannot be blank"),
])
def test_parse_errors(text: str, error: str) -> None:
    with pytest.raises(TransformError, match=error):
        parse_spec(text)


def test_parse_scopes() -> None:
    assert (parse_spec("dir,prefix=x").tag, parse_spec("all,nfc").tag,
            parse_spec("prefix=x").tag) == ("dir", "all", "file")
    assert parse_spec("").kind == "none"


@pytest.mark.parametrize(("specs", "path", "is_dir", "want"), [
    (["prefix=p_"], "a/b/c.txt", False, "a/b/p_c.txt"),
    (["prefix=p_"], "a/b", True, "a/b"),
    (["dir,prefix=p_"], "a/b/c.txt", False, "p_a/p_b/c.txt"),
    (["dir,prefix=p_"], "a/b", True, "p_a/p_b"),
    (["all,prefix=p_"], "a/c.txt", False, "p_a/p_c.txt"),
    (["all,uppercase", "file,suffix=_1"], "a/c.txt", False, "A/C.TXT_1"),
    (["suffix_keep_extension=_v2"], "x/file.tar.gz", False, "x/file_v2.tar.gz"),
])
def test_scopes(specs: list[str], path: str, is_dir: bool, want: str) -> None:
    assert NameTransform(specs).path(path, is_dir) == want


def test_failures_are_reported_and_keep_the_name() -> None:
    seen: list[tuple[str, str, str]] = []
    nt = NameTransform(["truncate=x"], error=lambda p, e, m: seen.append((p, type(e).__name__,
                                                                          m)))
    assert nt.path("d/a.txt", False) == "d/a.txt"
    assert seen == [("d/a.txt", "NoRetryError",
                     'Failed to transform: strconv.Atoi: parsing "x": invalid syntax')]


def test_segment_count_must_not_change() -> None:
    seen: list[str] = []
    nt = NameTransform(["index=1"], error=lambda p, e, m: seen.append(m))
    assert nt.path("d/a.txt", False) == "d/a.txt"
    assert seen[-1] == "number of path segments must match: d/a.txt (1),  (0)"


def test_parse_error_keeps_earlier_transforms() -> None:
    seen: list[tuple[str, str]] = []
    nt = NameTransform(["prefix=x", "bogus", "suffix=y"],
                       error=lambda p, e, m: seen.append((type(e).__name__, m)))
    assert nt.path("a", False) == "xa"
    assert seen[0][0] == "PysyncError"
    assert seen[0][1].startswith('Failed to parse transform flags: invalid choice "bogus"')


@pytest.mark.parametrize(("value", "error"), [
    ("YWJ", "illegal base64 data at input byte 0"),
    ("YWJjZ", "illegal base64 data at input byte 4"),
    ("YW!j", "illegal base64 data at input byte 2"),
    ("YQ=x", "illegal base64 data at input byte 2"),
])
def test_base64decode_errors(value: str, error: str) -> None:
    seen: list[str] = []
    NameTransform(["all,base64decode"], error=lambda p, e, m: seen.append(m)).path(value, False)
    assert seen and seen[0] == f"Failed to transform: {error}"


def test_split_extension() -> None:
    assert split_extension("file.tar.gz") == ("file", ".tar.gz")
    assert split_extension("my.holiday.jpg") == ("my.holiday", ".jpg")
    assert split_extension("noext") == ("noext", "")


@pytest.mark.parametrize(("spec", "name", "want"), [
    ("uppercase", "straße", "STRAßE"), ("lowercase", "İSTANBUL", "istanbul"),
    ("lowercase", "ΟΔΟΣ", "οδοσ"), ("titlecase", "ǆx", "ǅX"), ("uppercase", "ﬁ", "ﬁ"),
])
def test_go_simple_case_mapping(spec: str, name: str, want: str) -> None:
    assert NameTransform([spec]).path(name, False) == want
