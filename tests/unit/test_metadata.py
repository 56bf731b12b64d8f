"""Table-driven tests of syncengine.metadata (parsing) and the local backend's metadata
writes, on real files in the test's temporary folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

import syncengine
from syncengine.backends.local import LocalBackend
from syncengine.errors import ConfigError, PysyncError, UsageError
from syncengine.metadata import parse_mapper, parse_metadata_set, parse_time
from syncengine.options import SyncOptions

SEC = 1_000_000_000


@pytest.mark.parametrize(("text", "want"), [
    ("2020-01-02T03:04:05Z", 1577934245 * SEC),
    ("2020-01-02T03:04:05.123456789Z", 1577934245 * SEC + 123456789),
    ("2020-01-02T03:04:05.1Z", 1577934245 * SEC + 100_000_000),
    ("2020-01-02T04:04:05.5+01:00", 1577934245 * SEC + 500_000_000),
    ("2020-01-01T22:34:05-04:30", 1577934245 * SEC),
    ("1969-12-31T23:59:59Z", -SEC),
    ("2020-01-02 03:04:05Z", None),  # a space is no RFC 3339
    ("2020-13-02T03:04:05Z", None),
    ("2020-01-02T03:04:05", None),  # no zone
    ("yesterday", None),
])
def test_parse_time(text: str, want: int | None) -> None:
    assert parse_time(text) == want


def test_metadata_set_lower_cases_keys_and_keeps_values() -> None:
    assert parse_metadata_set(["Key=Value=x", "empty=", "key=later"]) == {
        "key": "later", "empty": ""}


def test_metadata_set_without_equals_is_rclones_fatal_error() -> None:
    with pytest.raises(ConfigError, match=r"^Failed to parse 'novalue' as metadata "
                                          r"key=value\.$") as info:
        parse_metadata_set(["a=b", "novalue"])
    assert info.value.exit_code == 1


@pytest.mark.parametrize(("text", "want"), [
    ("", []), ("prog", ["prog"]),
    ("python3 /x/map.py --flag", ["python3", "/x/map.py", "--flag"]),
    ('"/with space/prog" a', ["/with space/prog", "a"]),
    ('"say ""hi""" b', ['say "hi"', "b"]),
    ("a  b", ["a", "", "b"]), ("a ", ["a", ""]),  # Go's csv: every space separates
])
def test_mapper_command_line(text: str, want: list[str]) -> None:
    assert parse_mapper(text) == want


@pytest.mark.parametrize(("text", "why"), [
    ('"unterminated', 'extraneous or missing " in quoted-field'),
    ('"a"b', 'extraneous or missing " in quoted-field'),
    ('a"b', 'bare " in non-quoted-field'),
])
def test_mapper_command_line_refused_as_rclone(text: str, why: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_mapper(text)
    assert str(info.value).endswith(f'as fs.SpaceSepList failed: {why}')
    assert str(info.value).startswith('invalid argument "')
    assert info.value.exit_code == 2


@pytest.fixture
def local(tmp_path: Path) -> LocalBackend:
    (tmp_path / "f").write_bytes(b"data")
    (tmp_path / "d").mkdir()
    return LocalBackend(str(tmp_path))


def test_write_metadata_sets_times_mode_owner_and_xattrs(local: LocalBackend,
                                                         tmp_path: Path) -> None:
    local.write_metadata("f", {"mode": "100640", "mtime": "2020-01-02T03:04:05.5Z",
                               "atime": "2021-01-02T03:04:05Z", "uid": str(os.getuid()),
                               "Tag": "x", "btime": "2000-01-01T00:00:00Z", "rdev": "1"})
    st = os.stat(tmp_path / "f")
    assert st.st_mode & 0o7777 == 0o640
    assert st.st_mtime_ns == 1577934245 * SEC + 500_000_000
    assert st.st_atime_ns == 1609556645 * SEC
    assert os.getxattr(tmp_path / "f", "user.tag") == b"x"  # keys lower-cased
    assert sorted(os.listxattr(tmp_path / "f")) == ["user.tag"]  # system keys never xattrs


def test_write_metadata_one_time_stands_for_both(local: LocalBackend, tmp_path: Path) -> None:
    local.write_metadata("d", {"atime": "2020-01-02T03:04:05Z"})
    st = os.stat(tmp_path / "d")
    assert st.st_atime_ns == st.st_mtime_ns == 1577934245 * SEC


def test_write_metadata_never_sets_special_bits(local: LocalBackend, tmp_path: Path) -> None:
    local.write_metadata("f", {"mode": "104755"})
    assert os.stat(tmp_path / "f").st_mode & 0o7777 == 0o755
    local.write_metadata("f", {"mode": str(oct((1 << 23) | 0o700))[2:]})  # Go's ModeSetuid
    assert os.stat(tmp_path / "f").st_mode & 0o7777 == 0o700


def test_write_metadata_skips_values_that_do_not_parse(local: LocalBackend, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    before = os.stat(tmp_path / "f")
    with caplog.at_level(logging.DEBUG, logger="syncengine"):
        local.write_metadata("f", {"mode": "rwx", "mtime": "soon", "uid": "root"})
    after = os.stat(tmp_path / "f")
    assert (after.st_mode, after.st_mtime_ns, after.st_uid) == (
        before.st_mode, before.st_mtime_ns, before.st_uid)
    text = caplog.text
    assert "failed to parse metadata mode: 'rwx'" in text
    assert "failed to parse metadata mtime: 'soon'" in text
    assert "failed to parse metadata uid: 'root'" in text


def test_write_metadata_failure_is_worded_as_rclones(local: LocalBackend) -> None:
    with pytest.raises(PysyncError) as info:
        local.write_metadata("missing", {"mode": "100644"})
    assert str(info.value) == ("failed to change permissions: chmod "
                               f"{local.shown('missing')}: no such file or directory")
    with pytest.raises(PysyncError, match=r'^failed to set xattr key "user.k": xattr.LSet '):
        local.write_metadata("missing", {"k": "v"})


def test_mkdir_metadata_makes_the_directory_and_writes_its_metadata(
        local: LocalBackend, tmp_path: Path) -> None:
    local.mkdir_metadata("new/sub", 0, {"mode": "40700", "mtime": "2020-01-02T03:04:05Z",
                                        "class": "a"})
    st = os.stat(tmp_path / "new" / "sub")
    assert st.st_mode & 0o777 == 0o700 and st.st_mtime_ns == 1577934245 * SEC
    assert os.getxattr(tmp_path / "new" / "sub", "user.class") == b"a"


def test_library_copy_carries_metadata(tmp_path: Path) -> None:
    """-M is no longer refused by the library: ``metadata=True`` copies modes and xattrs."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"f")
    os.chmod(src / "f", 0o604)
    os.setxattr(src / "f", "user.k", b"v")
    syncengine.copy(str(src), str(tmp_path / "dst"),
                    options=SyncOptions(metadata=True, metadata_set=("extra=1",)))
    out = tmp_path / "dst" / "f"
    assert os.stat(out).st_mode & 0o777 == 0o604
    assert {k: os.getxattr(out, k) for k in os.listxattr(out)} == {"user.k": b"v",
                                                                  "user.extra": b"1"}
    syncengine.copy(str(src), str(tmp_path / "plain"))
    assert not os.listxattr(tmp_path / "plain" / "f")  # without -M: no metadata
