"""The pysync command line: help, version, listing formats, one-line errors and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syncengine import cli
from syncengine.cli import main
from syncengine.errors import UsageError


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncengine", *args], capture_output=True,
                          text=True, input=stdin, timeout=60)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.dat").write_bytes(b"hi\n")
    (root / "y z.txt").write_bytes(b"hello\n")
    (root / "empty").mkdir()
    t = time.mktime((2021, 3, 4, 5, 6, 7, 0, 0, -1))
    for p in root.rglob("*"):
        os.utime(p, (t, t))
    return root


def test_version_flag_and_command() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("pysync v")
    assert run("version").stdout.startswith("pysync v")


@pytest.mark.parametrize("command", ["lsf", "ls", "size", "version", "copy", "sync", "check",
                                     "listremotes", "config"])
def test_every_command_has_help(command: str) -> None:
    out = run(command, "--help")
    assert out.returncode == 0
    assert "usage: pysync " + command in out.stdout


def test_flags_before_the_command(tree: Path) -> None:
    # rclone's flags are global: they may come before the command name
    out = run("--max-depth", "1", "-F", "p", "lsf", str(tree))
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.splitlines()) == ["a/", "empty/", "y z.txt"]
    bad = run("--no-such-flag", "lsf", str(tree))
    assert bad.returncode == 2 and "unknown flag: --no-such-flag" in bad.stderr


def test_lsf_formats(tree: Path) -> None:
    out = run("lsf", "-R", "--format", "pst", str(tree))
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.splitlines()) == [
        "a/;-1;2021-03-04 05:06:07", "a/b/;-1;2021-03-04 05:06:07",
        "a/b/x.dat;3;2021-03-04 05:06:07", "empty/;-1;2021-03-04 05:06:07",
        "y z.txt;6;2021-03-04 05:06:07"]


def test_lsf_hashes_and_separator(tree: Path) -> None:
    out = run("lsf", "-R", "--files-only", "-F", "hp", "--hash", "xxh3", "-s", "|", str(tree))
    assert sorted(out.stdout.splitlines()) == ["99fc819aaba2462a|y z.txt",
                                               "b34d1a3ab2bece70|a/b/x.dat"]
    md5 = run("lsf", "-F", "h", "--files-only", str(tree)).stdout.split()
    assert md5 == ["b1946ac92492d2347c6235b4d2611184"]


def test_lsf_not_recursive_dirs_only_and_csv(tree: Path) -> None:
    assert run("lsf", "--dirs-only", str(tree)).stdout.splitlines() == ["a/", "empty/"]
    out = run("lsf", "--csv", "--files-only", "-F", "ps", str(tree)).stdout
    assert out == '"y z.txt",6\n' or out == "y z.txt,6\n"


def test_lsf_of_a_file_lists_that_file(tree: Path) -> None:
    out = run("lsf", str(tree / "y z.txt"))
    assert out.returncode == 0 and out.stdout == "y z.txt\n"


def test_ls_and_size(tree: Path) -> None:
    assert sorted(run("ls", str(tree)).stdout.splitlines()) == [
        "        3 a/b/x.dat", "        6 y z.txt"]
    assert run("size", str(tree)).stdout == "Total objects: 2\nTotal size: 9 B (9 Byte)\n"
    assert run("size", "--json", str(tree)).stdout.strip() == \
        '{"count":2,"bytes":9,"sizeless":0}'


def test_dump_filters_goes_to_stdout(tree: Path) -> None:
    out = run("lsf", "--dump", "filters", "--include", "*.dat", str(tree))
    assert "--- start filters ---\n--- File filter rules ---\n+ (^|/)[^/]*\\.dat$\n- ^.*$\n" \
        in out.stdout


@pytest.mark.parametrize("args,code,message", [
    (["lsf", "--min-size", "1MB"], 2, 'invalid argument "1MB" for "--min-size" flag'),
    (["lsf", "--min-age", "1q"], 2, 'invalid argument "1q" for "--min-age" flag'),
    (["lsf", "--max-depth", "x"], 2, 'invalid argument "x" for "--max-depth" flag'),
    (["lsf", "--no-such-flag"], 2, "unknown flag: --no-such-flag"),
    (["lsf", "--filter", "x"], 1, 'malformed rule "x"'),
    (["lsf", "--include", "***"], 1, 'too many stars in "***"'),
    (["lsf", "--include", "[a"], 1, "mismatched '[' and ']'"),
    (["lsf", "--filter-from", "/nonexistent/rules"], 1, "no such file or directory"),
    (["lsf", "--min-age", "2d", "--max-age", "1d"], 1, "can't be larger than --max-age"),
    (["lsf", "--format", "x"], 1, "unknown format character 'x'"),
    (["nosuchcommand"], 2, 'unknown command "nosuchcommand"'),
])
def test_bad_input_is_one_line_error_with_rclone_exit_code(tree: Path, args: list[str],
                                                           code: int, message: str) -> None:
    out = run(*args, str(tree))
    assert out.returncode == code, out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_files_from_mixed_with_filters(tree: Path, tmp_path: Path) -> None:
    lst = tmp_path / "list"
    lst.write_text("y z.txt\n")
    out = run("lsf", "--files-from", str(lst), "--include", "x", str(tree))
    assert out.returncode == 1 and "overrides all other filters" in out.stderr
    out = run("lsf", "-R", "--files-from", str(lst), str(tree))
    assert out.stdout == "y z.txt\n"


def test_missing_directory_exits_3(tmp_path: Path) -> None:
    out = run("lsf", str(tmp_path / "nope"))
    assert out.returncode == 3
    assert "directory not found" in out.stderr


def test_wrong_argument_count_is_usage_error() -> None:
    assert main(["lsf"]) == 2
    assert main(["lsf", "a", "b"]) == 2


def test_debug_log_explains_exclusions(tree: Path) -> None:
    out = run("lsf", "-R", "-vv", "--max-size", "4B", "--exclude", "*.dat", str(tree))
    assert "y z.txt: Excluded (Size Filter)" in out.stderr
    assert "a/b/x.dat: Excluded (Path Filter)" in out.stderr
    assert out.stdout.splitlines() == ["a/", "empty/", "a/b/"]


def test_symlinks_are_skipped_with_notice(tree: Path) -> None:
    (tree / "link").symlink_to(tree / "y z.txt")
    out = run("lsf", str(tree))
    assert "link" not in out.stdout
    assert "link: Can't follow symlink without -L/--copy-links" in out.stderr


# ----- leaving the process (interrupt.leave: exit handlers and flushes, no tear-down) -------


def test_log_file_is_complete_when_the_process_ends(tmp_path: Path, tree: Path) -> None:
    log_file = tmp_path / "run.log"
    out = run("copy", "-v", "--log-file", str(log_file), str(tree), str(tmp_path / "dst"))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # with --log-file everything goes to the file, as with rclone
    text = log_file.read_text()
    assert "INFO  : a/b/x.dat: Copied (new)" in text
    assert "Transferred:" in text and text.rstrip().endswith("s")  # the final stats block


def test_failing_run_logs_to_file_and_keeps_its_exit_code(tmp_path: Path) -> None:
    log_file = tmp_path / "run.log"
    out = run("copy", "--log-file", str(log_file), str(tmp_path / "missing"),
              str(tmp_path / "dst"))
    assert out.returncode == 3  # rclone: directory not found
    assert "directory not found" in log_file.read_text()


def test_large_output_is_flushed_before_the_process_ends(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    names = [f"file-{i:05d}-{'x' * 40}.txt" for i in range(3000)]  # ~150 KB > a pipe buffer
    for name in names:
        (root / name).touch()
    out = run("lsf", str(root))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == names


def test_debug_start_lines_as_rclone_without_secrets(tree: Path, tmp_path: Path) -> None:
    """-vv starts with rclone's version/parameters line and a "Creating backend" line per
    location, the config file used after the first; a connection-string password is
    masked there, and the arguments of `obscure` are never echoed."""
    conf = tmp_path / "my.conf"
    conf.write_text("")
    out = run("copy", str(tree), str(tmp_path / "d"), "-vv", "--config", str(conf))
    assert out.returncode == 0, out.stderr
    lines = [line.split(" : ", 1)[1] for line in out.stderr.splitlines()
             if line[20:25] == "DEBUG"][:4]
    assert lines[0].startswith('pysync: Version "v') and lines[0].endswith(
        f'"copy" "{tree}" "{tmp_path / "d"}" "-vv" "--config" "{conf}"]')
    assert lines[1:] == [f'Creating backend with remote "{tree}"',
                         f'Using config file from "{conf}"',
                         f'Creating backend with remote "{tmp_path / "d"}"']
    assert f'{tree}: Need to transfer - File not found at Destination' not in out.stderr
    assert "y z.txt: Need to transfer - File not found at Destination" in out.stderr
    secret = "hunter2-not-obscured"
    out = run("lsf", f":sftp,host=127.0.0.1,port=1,pass={secret}:/x", "-vv")
    assert out.returncode != 0 and secret not in out.stderr
    assert 'pass=***:/x"' in out.stderr
    out = run("obscure", secret, "-vv")
    assert secret not in out.stderr and out.returncode == 0


@pytest.mark.parametrize(("value", "want"), sorted(cli._GO_BOOLS.items()))
def test_bool_flag_takes_go_spellings_given_on_the_line(value: str, want: bool) -> None:
    """A boolean flag's ``--flag=VALUE`` spellings are added only when the command line
    holds them (a smaller parser): each still parses to its value, beside the bare flag."""
    argv = ["src", "dst", f"--dry-run={value}", "--checksum"]
    parser = cli._command_parser("sync", argv)
    ns = parser.parse_intermixed_args(argv)
    assert ns.dry_run is want and ns.checksum is True
    assert len(parser._actions) < len(cli._command_parser("sync")._actions) / 3
    with pytest.raises(UsageError):  # a spelling not on the line is not there
        parser.parse_intermixed_args(["src", "dst", "--checksum=false"])


def _mo_file(path: Path, pairs: dict[str, str]) -> None:
    """A GNU gettext catalog holding ``pairs`` (the .mo format: header, two tables)."""
    import struct

    keys = sorted(pairs)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(pairs[k].encode() + b"\0" for k in keys)
    start = 7 * 4 + 16 * len(keys)
    offsets, pos = [], 0
    for k in keys:
        offsets += [len(k.encode()), start + pos]
        pos += len(k.encode()) + 1
    trans, pos = [], 0
    for k in keys:
        trans += [len(pairs[k].encode()), start + len(ids) + pos]
        pos += len(pairs[k].encode()) + 1
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(header + struct.pack(f"<{len(offsets)}I", *offsets)
                     + struct.pack(f"<{len(trans)}I", *trans) + ids + strs)


def test_argparse_messages_as_given_without_a_catalog(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    import argparse

    monkeypatch.setattr(argparse, "_", argparse._)
    monkeypatch.setattr(argparse, "ngettext", argparse.ngettext)
    monkeypatch.setenv("LANGUAGE", "xx")
    cli._untranslated_argparse()
    assert argparse._ is cli._as_given
    assert argparse.ngettext("one %s", "many %s", 2) == "many %s"
    assert argparse.ArgumentParser(prog="p").format_usage().startswith("usage: p")


def test_argparse_keeps_a_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a catalog for argparse's domain in the user's language, it is still used."""
    import argparse
    import gettext

    _mo_file(tmp_path / "xx" / "LC_MESSAGES" / "messages.mo", {"usage: ": "uso: "})
    monkeypatch.setattr(argparse, "_", argparse._)
    monkeypatch.setattr(argparse, "ngettext", argparse.ngettext)
    monkeypatch.setitem(gettext._localedirs, gettext.textdomain(),  # type: ignore[attr-defined]
                        str(tmp_path))
    monkeypatch.setenv("LANGUAGE", "xx")
    cli._untranslated_argparse()
    assert argparse._ is not cli._as_given
    assert argparse.ArgumentParser(prog="p").format_usage().startswith("uso: p")
