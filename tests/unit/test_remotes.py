"""Locations to backends: rclone spec parsing, config discovery and parsing, remote types."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from syncengine import log
from syncengine import remotes as remotes_mod
from syncengine.backends.base import Backend, is_backend
from syncengine.backends.fsspec import FsspecBackend
from syncengine.backends.local import LocalBackend
from syncengine.errors import EXIT_UNCATEGORISED, ConfigError
from syncengine.remotes import (
    ParsedSpec,
    RcloneConfig,
    find_config_file,
    join_root_path,
    load_config,
    open_backend,
    parse_spec,
    remote_description,
    split_remote,
)

# ----- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated(private_home: Path) -> Iterator[Path]:
    """A private HOME and no config variables (conftest.private_home); the memory store is
    left as found."""
    home = private_home
    store_before = set(MemoryFileSystem.store)
    dirs_before = list(MemoryFileSystem.pseudo_dirs)
    yield home
    for key in set(MemoryFileSystem.store) - store_before:
        del MemoryFileSystem.store[key]
    MemoryFileSystem.pseudo_dirs[:] = dirs_before


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def notices() -> Iterator[list[str]]:
    """Messages logged by syncengine at NOTICE and above during the test."""
    handler = _Collect()
    old_level = log.LOGGER.level
    log.LOGGER.addHandler(handler)
    log.LOGGER.setLevel(log.NOTICE)
    yield handler.lines
    log.LOGGER.removeHandler(handler)
    log.LOGGER.setLevel(old_level)


def write_conf(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A config file with one remote of each kind."""
    target = tmp_path / "data"
    (target / "sub" / "deeper").mkdir(parents=True)
    return write_conf(tmp_path / "rclone.conf", f"""
# remotes for the tests
[loc]
type = local

[loclinks]
type = local
links = true

[al]
type = alias
remote = loc:{target}

[al2]
type = alias
remote = al:sub

[alpath]
type = alias
remote = {target}

[loop1]
type = alias
remote = loop2:x

[loop2]
type = alias
remote = loop1:y

[self]
type = alias
remote = self:z

[empty]
type = alias
remote =

[mem]
type = fsspec
protocol = memory
global_store = false

[memal]
type = alias
remote = mem:base

[noproto]
type = fsspec

[rmem]
type = memory

[notype]
foo = bar

[badtype]
type = nosuchbackend

[ssh]
type = sftp
host = example.com

[share]
type = smb
""")


# ----- spec parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "name", "config_string", "path", "config"), [
    ("/abs/path", "", "", "/abs/path", {}),
    ("rel/path", "", "", "rel/path", {}),
    ("~/x", "", "", "~/x", {}),
    ("file.txt", "", "", "file.txt", {}),
    ("./a:b", "", "", "./a:b", {}),
    ("a/b:c", "", "", "a/b:c", {}),
    ("remote:", "remote", "remote", "", {}),
    ("remote:path/to", "remote", "remote", "path/to", {}),
    ("remote:/abs", "remote", "remote", "/abs", {}),
    ("my remote.1+x@y:p", "my remote.1+x@y", "my remote.1+x@y", "p", {}),
    ("rémote:p", "rémote", "rémote", "p", {}),
    ("remote:a:b", "remote", "remote", "a:b", {}),
    (":local:", ":local", ":local", "", {}),
    (":local:/tmp/x", ":local", ":local", "/tmp/x", {}),
    (":local,copy_links:/x", ":local", ":local,copy_links", "/x", {"copy_links": "true"}),
    (":fsspec,protocol=memory:p", ":fsspec", ":fsspec,protocol=memory", "p",
     {"protocol": "memory"}),
    ("r,a=1,b=two:", "r", "r,a=1,b=two", "", {"a": "1", "b": "two"}),
    ("r,a=:p", "r", "r,a=", "p", {"a": ""}),
    ('r,a="x:y,z":p', "r", 'r,a="x:y,z"', "p", {"a": "x:y,z"}),
    ("r,a='it''s':p", "r", "r,a='it''s'", "p", {"a": "it's"}),
    ("r,a=x'y:p", "r", "r,a=x'y", "p", {"a": "x'y"}),
])
def test_parse_spec(spec: str, name: str, config_string: str, path: str,
                    config: dict[str, str]) -> None:
    assert parse_spec(spec) == ParsedSpec(name, path, config_string, config)


@pytest.mark.parametrize(("spec", "protocol"), [
    ("memory://root/x", "memory"),
    ("memory://", "memory"),
    ("file:///tmp/x", "file"),
    ("s3://bucket/key", "s3"),
    ("simplecache::memory://x", "simplecache"),
])
def test_parse_spec_urls(spec: str, protocol: str) -> None:
    assert parse_spec(spec) == ParsedSpec("", spec, url=protocol)


@pytest.mark.parametrize(("spec", "message"), [
    ("", "can't use empty string as a path"),
    (":", "config name needs a trailing `:`"),
    ("::", "config name can't be empty"),
    ("-bad:", "config name contains invalid characters"),
    (" lead:", "config name contains invalid characters"),
    ("trail :", "config name contains invalid characters"),
    (":a/b", "config name contains invalid characters"),
    ("a!b:", "config name contains invalid characters"),
    (":local,=x:/t", "config parameters can't be empty"),
    (":local,a b=1:/t", "config parameters may only contain `0-9`, `A-Z`, `a-z`, `_` and `.`"),
    (":local,a", "config parameter must end with `,` or `:`"),
    (":local,a=b", "unquoted config value must end with `,` or `:`"),
    (":local,a='x:/t", "unterminated quoted config value"),
    (":local,a='x'y:/t", "expecting `:` or `,` or another quote after a quote"),
    ("foo://x:", None),  # not an fsspec protocol: rclone's rules, remote "foo"
])
def test_parse_spec_errors(spec: str, message: str | None) -> None:
    if message is None:
        assert parse_spec(spec).name == "foo"
        return
    with pytest.raises(ConfigError) as info:
        parse_spec(spec)
    assert str(info.value).startswith(message)
    assert info.value.exit_code == EXIT_UNCATEGORISED


@pytest.mark.parametrize(("spec", "expected"), [
    ("/abs", (None, "/abs")),
    ("rel", (None, "rel")),
    ("remote:dir", ("remote", "dir")),
    ("remote,opt=1:dir", ("remote", "dir")),
    (":local:/x", (":local", "/x")),
    ("memory://x", (None, "memory://x")),
    ("dir/a:b", (None, "dir/a:b")),
])
def test_split_remote(spec: str, expected: tuple[str | None, str]) -> None:
    assert split_remote(spec) == expected


@pytest.mark.parametrize(("remote", "path", "expected"), [
    ("r:", "", "r:"),
    ("r:", "a", "r:a"),
    ("r:base", "a/b", "r:base/a/b"),
    ("r:base", "../../x", "r:base/x"),
    ("r:base", "..", "r:base"),
    ("r:", ".", "r:"),
    ("/local", "a", "/local/a"),
    ("/local", "/a/", "/local/a"),
    ("rel", "../a", "rel/a"),
    ("//server/share", "a", "//server/share/a"),
    ("r,opt=1:base", "a", "r,opt=1:base/a"),
    ("memory://base", "a", "memory://base/a"),
    ("memory://", "a", "memory://a"),
])
def test_join_root_path(remote: str, path: str, expected: str) -> None:
    assert join_root_path(remote, path) == expected


# ----- config files -----------------------------------------------------------------------------


def test_config_discovery_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                isolated: Path) -> None:
    home = isolated
    assert find_config_file() == (None, False)
    assert load_config().path is None
    order = [home / ".rclone.conf", home / ".config" / "rclone" / "rclone.conf",
             home / ".config" / "pysync" / "pysync.conf"]
    for n, path in enumerate(order):
        write_conf(path, f"[r{n}]\ntype = local\n")
        cfg = load_config()
        assert cfg.path == str(path) and cfg.names() == [f"r{n}"]
    xdg = tmp_path / "xdg"
    write_conf(xdg / "rclone" / "rclone.conf", "[x]\ntype = local\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    assert load_config().path == str(order[-1])  # pysync's file still wins
    write_conf(xdg / "pysync" / "pysync.conf", "[x]\ntype = local\n")
    assert load_config().path == str(xdg / "pysync" / "pysync.conf")
    rclone_env = write_conf(tmp_path / "env-rclone.conf", "[e1]\ntype = local\n")
    monkeypatch.setenv("RCLONE_CONFIG", str(rclone_env))
    assert load_config().path == str(rclone_env)
    pysync_env = write_conf(tmp_path / "env-pysync.conf", "[e2]\ntype = local\n")
    monkeypatch.setenv("PYSYNC_CONFIG", str(pysync_env))
    assert load_config().path == str(pysync_env)
    flag = write_conf(tmp_path / "flag.conf", "[f]\ntype = local\n")
    assert load_config(str(flag)).path == str(flag)
    assert find_config_file(str(flag)) == (str(flag), True)


@pytest.mark.parametrize("value", ["", os.devnull, "/some/where/notfound"])
def test_no_config_file_paths(value: str) -> None:
    assert find_config_file(value) == (None, True)
    assert load_config(value) == RcloneConfig()


def test_explicit_missing_config_is_a_notice(tmp_path: Path, notices: list[str]) -> None:
    missing = tmp_path / "nope.conf"
    assert load_config(str(missing)).sections == {}
    assert notices == [f'Config file "{missing}" not found - using defaults']


def test_env_missing_config_is_a_notice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        notices: list[str]) -> None:
    monkeypatch.setenv("RCLONE_CONFIG", str(tmp_path / "nope.conf"))
    assert load_config().path is None
    assert len(notices) == 1 and "not found - using defaults" in notices[0]


def test_config_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(str(tmp_path))


def test_config_parsing_rules() -> None:
    cfg = RcloneConfig.parse("""\ufeff
orphan = 1
; comment
# comment
[ spaced ]
key=value
other : x = y
quoted = "kept as is"
inline = v   # not a comment
  indented   =   trimmed
[spaced]
key = last wins
[empty]
""", "/x.conf")
    assert cfg.names() == ["DEFAULT", "spaced", "empty"]
    assert cfg.section("spaced") == {"key": "last wins", "other": "x = y",
                                     "quoted": '"kept as is"', "inline": "v   # not a comment",
                                     "indented": "trimmed"}
    assert cfg.get("DEFAULT", "orphan") == "1"
    assert cfg.section("empty") == {} and "empty" in cfg and len(cfg) == 3
    assert cfg.section("missing") is None and cfg.get("missing", "k", "d") == "d"
    assert not cfg.has_remote("empty")


@pytest.mark.parametrize(("text", "message"), [
    ("[r]\njust words\n", "could not parse line: just words"),
    ("[r]\n= value\n", "could not parse line: = value"),
    ("[]\nk = v\n", "empty section name not allowed"),
])
def test_config_parse_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write_conf(tmp_path / "bad.conf", text)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == f'Failed to load config file "{path}": {message}'
    assert info.value.exit_code == EXIT_UNCATEGORISED


@pytest.mark.parametrize("first", ["RCLONE_ENCRYPT_V0:", "RCLONE_ENCRYPT_V1:"])
def test_encrypted_config_refused(tmp_path: Path, first: str) -> None:
    path = write_conf(tmp_path / "enc.conf", f"# Encrypted rclone configuration File\n\n"
                                             f"{first}\nb5U8bWJzZXhbM2Y0YWFiYmVmZmZm\n")
    with pytest.raises(ConfigError) as info:
        open_backend("r:", config_path=str(path))
    assert "encrypted" in str(info.value) and str(path) in str(info.value)
    assert info.value.exit_code == EXIT_UNCATEGORISED


def test_readable_secrets_warned_once_without_values(tmp_path: Path,
                                                     notices: list[str]) -> None:
    text = "[s]\ntype = sftp\npass = s3cr3tvalue\nkey_file_pass = 0therS3cret\n"
    path = write_conf(tmp_path / "open.conf", text, mode=0o644)
    load_config(str(path))
    load_config(str(path))
    assert len(notices) == 1
    assert str(path) in notices[0] and "key_file_pass, pass" in notices[0]
    assert "s3cr3t" not in notices[0] and "0therS3cret" not in notices[0]


@pytest.mark.parametrize(("mode", "text"), [
    (0o600, "[s]\ntype = sftp\npass = secret\n"),  # private file
    (0o644, "[s]\ntype = local\n"),  # nothing secret
    (0o644, "[s]\ntype = sftp\npass =\n"),  # empty secret
])
def test_no_secret_warning(tmp_path: Path, notices: list[str], mode: int, text: str) -> None:
    load_config(str(write_conf(tmp_path / "c.conf", text, mode=mode)))
    assert notices == []


# ----- opening backends -------------------------------------------------------------------------


def test_plain_local_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                           isolated: Path) -> None:
    monkeypatch.chdir(tmp_path)
    cases = {str(tmp_path / "a"): tmp_path / "a", "rel/dir": tmp_path / "rel" / "dir",
             "~/docs": isolated / "docs", ".": tmp_path, "dir/a:b": tmp_path / "dir" / "a:b"}
    for spec, expected in cases.items():
        b = open_backend(spec)
        assert isinstance(b, LocalBackend) and b.root == str(expected), spec


def test_local_links_options(tmp_path: Path) -> None:
    b = open_backend(str(tmp_path), copy_links=True)
    assert isinstance(b, LocalBackend) and b.copy_links and not b.links
    b = open_backend(str(tmp_path), links=True)
    assert isinstance(b, LocalBackend) and b.links and not b.copy_links
    with pytest.raises(ConfigError, match="can't use -l/--links with -L/--copy-links"):
        open_backend(str(tmp_path), links=True, copy_links=True)


def test_local_remote(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, conf: Path) -> None:
    monkeypatch.chdir(tmp_path)
    b = open_backend("loc:data/sub", config_path=str(conf))
    assert isinstance(b, LocalBackend) and b.root == str(tmp_path / "data" / "sub")
    b = open_backend("loc:", config_path=str(conf))
    assert isinstance(b, LocalBackend) and b.root == str(tmp_path)
    b = open_backend(f"loc:{tmp_path}", config_path=str(conf))
    assert isinstance(b, LocalBackend) and b.root == str(tmp_path)
    assert remote_description(b) == f"Local file system at {tmp_path}"


def test_local_remote_options(tmp_path: Path, conf: Path) -> None:
    b = open_backend(f"loclinks:{tmp_path}", config_path=str(conf))
    assert isinstance(b, LocalBackend) and b.links
    b = open_backend(f"loc,copy_links:{tmp_path}", config_path=str(conf))
    assert isinstance(b, LocalBackend) and b.copy_links
    b = open_backend(f":local,links=false:{tmp_path}", config_path=str(conf))
    assert isinstance(b, LocalBackend) and not b.links
    with pytest.raises(ConfigError, match="can't use -l/--links"):
        open_backend(f"loclinks,copy_links:{tmp_path}", config_path=str(conf))
    with pytest.raises(ConfigError) as info:
        open_backend(f":local,copy_links=maybe:{tmp_path}")
    assert str(info.value).startswith('couldn\'t parse config item "copy_links" = "maybe" as '
                                      "bool")


def test_connection_string_defines_type(tmp_path: Path, conf: Path) -> None:
    b = open_backend(f"undeclared,type=local:{tmp_path}", config_path=str(conf))
    assert isinstance(b, LocalBackend) and b.root == str(tmp_path)


def test_on_the_fly_local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    b = open_backend(f":local:{tmp_path}/x")
    assert isinstance(b, LocalBackend) and b.root == str(tmp_path / "x")
    b = open_backend(":local:")
    assert isinstance(b, LocalBackend) and b.root == str(tmp_path)


def test_alias_chain(tmp_path: Path, conf: Path) -> None:
    data = tmp_path / "data"
    expected = {"al:": data, "al:sub": data / "sub", "al2:": data / "sub",
                "al2:deeper": data / "sub" / "deeper", "al2:../../..": data / "sub",
                "alpath:sub": data / "sub", "al,remote='loc:/tmp':": Path("/tmp")}
    for spec, path in expected.items():
        b = open_backend(spec, config_path=str(conf))
        assert isinstance(b, LocalBackend) and b.root == str(path), spec


@pytest.mark.parametrize(("spec", "message"), [
    ("loop1:", 'alias loop detected: "loop1" -> "loop2" -> "loop1"'),
    ("loop2:a", 'alias loop detected: "loop2" -> "loop1" -> "loop2"'),
    ("self:", "can't point alias remote at itself - check the value of the remote setting"),
    ("empty:", "alias can't point to an empty remote - check the value of the remote setting"),
    (":alias:x", "alias can't point to an empty remote"),
    ("nosuch:", 'didn\'t find section in config file ("nosuch")'),
    ("notype:", 'didn\'t find section in config file ("notype")'),
    ("badtype:", 'didn\'t find backend called "nosuchbackend"'),
    (":nosuch:", 'didn\'t find backend called "nosuch"'),
    (":s3:bucket", 'remote type "s3" is not supported yet'),
    ("noproto:", 'fsspec remote "noproto" needs a "protocol" option'),
    (":fsspec,protocol=no-such-protocol:", 'can\'t open fsspec protocol "no-such-protocol"'),
    ("foo://x", 'didn\'t find section in config file ("foo")'),
])
def test_open_errors(conf: Path, spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_backend(spec, config_path=str(conf))
    assert str(info.value).startswith(message)
    assert info.value.exit_code == EXIT_UNCATEGORISED


def test_unknown_remote_without_any_config() -> None:
    with pytest.raises(ConfigError, match=r'^didn\'t find section in config file \("r"\)$'):
        open_backend("r:path")


def test_bare_name_of_a_remote_is_local_with_notice(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path, conf: Path,
                                                    notices: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    b = open_backend("loc", config_path=str(conf))
    assert isinstance(b, LocalBackend) and b.root == str(tmp_path / "loc")
    assert notices == ['"loc" refers to a local folder, use "loc:" to refer to your remote or '
                       '"./loc" to hide this warning']
    notices.clear()
    open_backend("./loc", config_path=str(conf))
    open_backend("other", config_path=str(conf))
    assert notices == []


def _memory(b: Backend) -> FsspecBackend:
    assert isinstance(b, FsspecBackend) and b.protocol == "memory"
    return b


def test_memory_forms(conf: Path) -> None:
    url = _memory(open_backend("memory://pysync-remotes/a"))
    assert url.path == "/pysync-remotes/a" and url.describe() == "memory://pysync-remotes/a"
    assert _memory(open_backend("memory://")).path == ""
    assert _memory(open_backend(":memory:pysync-remotes/a")).path == "/pysync-remotes/a"
    assert _memory(open_backend(":fsspec,protocol=memory:pysync-remotes")).path == \
        "/pysync-remotes"
    assert _memory(open_backend("rmem:b", config_path=str(conf))).path == "/b"
    with url.open_write("f") as fh:
        fh.write(b"shared")
    again = _memory(open_backend(":memory:pysync-remotes/a"))
    with again.open_read("f") as fh:
        assert fh.read() == b"shared"
    assert url.fs is not again.fs


def test_fsspec_remote_storage_options(conf: Path) -> None:
    b = _memory(open_backend("mem:dir", config_path=str(conf)))
    assert b.fs.global_store is False and b.path == "/dir"
    with b.open_write("f") as fh:
        fh.write(b"private")
    assert "/dir/f" not in MemoryFileSystem.store
    other = _memory(open_backend("mem:dir", config_path=str(conf)))
    assert other.stat("f") is None  # each backend gets a fresh, private store
    aliased = _memory(open_backend("memal:x", config_path=str(conf)))
    assert aliased.path == "/base/x" and aliased.fs.global_store is False


def test_storage_option_values() -> None:
    assert [remotes_mod._storage_value(v) for v in ("true", "False", "12", "-3", "1.5", "x")] \
        == [True, False, 12, -3, "1.5", "x"]


def test_file_urls(tmp_path: Path) -> None:
    b = open_backend(f"file://{tmp_path}/x", copy_links=True)
    assert isinstance(b, LocalBackend) and b.root == str(tmp_path / "x") and b.copy_links
    b = open_backend(f":fsspec,protocol=file:{tmp_path}")
    assert isinstance(b, LocalBackend) and b.root == str(tmp_path)


def test_backends_satisfy_protocol(tmp_path: Path) -> None:
    for spec in (str(tmp_path), "memory://pysync-remotes", f"file://{tmp_path}"):
        assert is_backend(open_backend(spec))
