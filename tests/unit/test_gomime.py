"""syncengine.gomime: Go's mime table as rclone reads it (the names against the real rclone
are in tests/differential/test_flags_vs_rclone.py::test_suffix_keep_extension_names)."""

from __future__ import annotations

from pathlib import Path

from syncengine import gomime
from syncengine.transfer import backup_path


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_globs2_first_found_is_the_only_one(tmp_path: Path) -> None:
    first = _write(tmp_path / "globs2", "# comment\n50:application/x-trash:*.old\n"
                   "50:text/plain:*.TXT\n50:text/x-c:*.[ch]\n10:text/x-x:README*\n"
                   "50:application/x-foo:*.f?o\n40:bad/:*.nope\n30:single:*.one\n50:a/b:*.q:cs\n")
    second = _write(tmp_path / "globs2b", "50:text/x-more:*.more\n")
    types = _write(tmp_path / "mime.types", "text/x-types  typ\n")
    got = gomime.load([str(tmp_path / "missing"), first, second], [types])
    assert {".old", ".txt", ".q", ".one"} <= got
    # globs that are not a plain extension, a type that does not parse, later databases
    # and the mime.types files are not read
    assert not {".[ch]", ".f?o", ".nope", ".more", ".typ"} & got
    assert set(gomime.GO_BUILTIN) <= got and set(gomime.RCLONE_ADDED) <= got


def test_mime_types_files_when_no_globs2(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.types", "# c\napplication/x-trash ~ % bak old sik\n"
               "text/x-one one # two three\nlonely\n#text/x-no no\n")
    b = _write(tmp_path / "b.types", "image/x-b bee\n")
    got = gomime.load([str(tmp_path / "none")], [a, str(tmp_path / "gone"), b])
    assert {".bak", ".old", ".sik", ".one", ".bee"} <= got
    assert not {".two", ".three", ".no"} & got


def test_backup_path_keeps_known_extensions() -> None:
    # Go's own table (and rclone's additions) hold on any machine
    assert backup_path("x/a.tar.json", ".bak", True) == "x/a.bak.tar.json"
    assert backup_path("a.mkv.srt", "~", True) == "a~.mkv.srt"
    assert backup_path("a.mkv.SRT", "~", True) == "a~.mkv.SRT"
    assert backup_path(".jpg.png", "-1", True) == "-1.jpg.png"
    assert backup_path("a..b", ".bak", True) == "a..bak.b"
    assert backup_path("a.", ".bak", True) == "a.bak."
    assert backup_path("d.x/file", ".bak", True) == "d.x/file.bak"
    assert backup_path("a.tar.gz", ".bak", False) == "a.tar.gz.bak"
    assert backup_path("a.tar.gz", "", True) == "a.tar.gz"
