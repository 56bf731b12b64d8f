"""Turn a location (local path, `name:path` remote, `:type:path`, fsspec URL) into a Backend."""

# Parsing follows rclone's fs/fspath rules; remotes come from an rclone-style INI config file
# (load_config). Remote types: local, alias, memory and the pysync extension fsspec
# (``protocol = ...`` plus storage options). URLs of any protocol fsspec knows (memory://,
# s3://...) open an FsspecBackend; file:// is local.

from __future__ import annotations

import os
import posixpath
import re
import stat as _stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import log
from .backends.base import Backend
from .backends.local import LocalBackend
from .confvalues import parse_bool as _parse_bool
from .errors import ConfigError

__all__ = ["open_backend", "split_remote", "parse_spec", "ParsedSpec", "load_config",
           "find_config_file", "RcloneConfig", "join_root_path", "remote_description",
           "SECRET_KEYS", "UNSUPPORTED_TYPES"]

# rclone's configNameRe (Python's Unicode \w covers Go's \w, \p{L} and \p{N}).
_NAME = r"[\w.+@]+(?:[ -]+[\w.+@-]+)*"
_NAME_RE = re.compile(rf"{_NAME}\Z")
_URL_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-_]*)(?:://|::)")

_ERR_INVALID_CHARS = ("config name contains invalid characters - may only contain numbers, "
                      "letters, `_`, `-`, `.`, `+`, `@` and space, while not start with `-` or "
                      "space, and not end with space")
_ERR_EMPTY_PATH = "can't use empty string as a path"
_ERR_BAD_PARAM = "config parameters may only contain `0-9`, `A-Z`, `a-z`, `_` and `.`"
_ERR_EMPTY_PARAM = "config parameters can't be empty"
_ERR_NAME_EMPTY = "config name can't be empty"
_ERR_NAME = "config name needs a trailing `:`"
_ERR_PARAM = "config parameter must end with `,` or `:`"
_ERR_VALUE = "unquoted config value must end with `,` or `:`"
_ERR_QUOTED = "unterminated quoted config value"
_ERR_AFTER_QUOTE = "expecting `:` or `,` or another quote after a quote"

#: Config keys whose values are secrets (never logged; a readable file holding one is flagged).
SECRET_KEYS = frozenset({
    "pass", "password", "password2", "key_file_pass", "key_pem", "private_key", "client_secret",
    "token", "secret_access_key", "session_token", "account_key", "key", "sas_url",
    "bearer_token", "api_key", "secret", "shared_secret",
})

#: rclone backend types pysync knows of but cannot open yet.
UNSUPPORTED_TYPES = frozenset({
    "sftp", "smb", "s3", "drive", "dropbox", "onedrive", "b2", "box", "azureblob", "azurefiles",
    "google cloud storage", "google photos", "swift", "webdav", "ftp", "http", "hdfs", "crypt",
    "union", "combine", "chunker", "compress", "hasher", "cache", "mega", "pcloud", "jottacloud",
    "koofr", "mailru", "yandex", "seafile", "sharefile", "sugarsync", "storj", "qingstor",
    "oracleobjectstorage", "opendrive", "putio", "premiumizeme", "protondrive", "pikpak",
    "netstorage", "internetarchive", "iclouddrive", "hidrive", "filefabric", "fichier",
    "zoho", "linkbox", "quatrix", "sia", "ulozto", "imagekit", "cloudinary", "doi", "archive",
})

_ENV_CONFIG_VARS = ("PYSYNC_CONFIG", "RCLONE_CONFIG")
_warned_secret_files: set[str] = set()


# ----- spec parsing (rclone fs/fspath) ---------------------------------------------------------


@dataclass(frozen=True)
class ParsedSpec:
    """A location split as rclone's ``fspath.Parse`` does.

    ``name`` is "" for a local path, ``remote`` for a configured remote, ``:type`` for an
    on-the-fly one; ``config_string`` is everything before the ``:`` that ends the remote part
    (``remote,opt=val``); ``config`` holds the connection-string options. ``url`` is set (to the
    fsspec protocol) when ``spec`` is an fsspec URL, which then sits whole in ``path``.
    """

    name: str
    path: str
    config_string: str = ""
    config: dict[str, str] = field(default_factory=dict)
    url: str | None = None


def _fsspec_protocols() -> frozenset[str]:
    import fsspec

    return frozenset(fsspec.available_protocols())


def _url_protocol(spec: str) -> str | None:
    m = _URL_RE.match(spec)
    if m and m.group(1).lower() in _fsspec_protocols():
        return m.group(1).lower()
    return None


def _check_remote_name(name: str) -> None:
    if name in (":", "::"):
        raise ConfigError(_ERR_NAME_EMPTY)
    if not _NAME_RE.match(name[1:] if name.startswith(":") else name):
        raise ConfigError(_ERR_INVALID_CHARS)


def _is_param_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "_.")


def parse_spec(spec: str) -> ParsedSpec:
    """Parse ``spec`` like rclone's ``fspath.Parse``; fsspec URLs are recognised first.

    Raises ConfigError (exit 1) with rclone's wording for a malformed spec.
    """
    if spec == "":
        raise ConfigError(_ERR_EMPTY_PATH)
    proto = _url_protocol(spec)
    if proto is not None:
        return ParsedSpec("", spec, url=proto)
    if ":" not in spec:
        return ParsedSpec("", spec)
    name = ""
    config: dict[str, str] = {}
    state = "name"
    prev = 0
    param = ""
    quote = ""
    doubled = False
    end = -1
    for i, c in enumerate(spec):
        if state == "name":
            if i == 0 and c == ":":
                continue
            if c in "/\\":
                # a `:` or `,` after a path separator: a local path, unless it started with `:`
                if spec[0] == ":":
                    raise ConfigError(_ERR_INVALID_CHARS)
                return ParsedSpec("", spec)
            if c in ":,":
                name = spec[:i]
                _check_remote_name(name)
                prev = i + 1
                if c == ":":
                    if os.name == "nt" and len(name) == 1 and name.isalpha():
                        return ParsedSpec("", spec)  # a drive letter
                    end = i
                    break
                state = "param"
        elif state == "param":
            if c in ":,=":
                param = spec[prev:i]
                if not param:
                    raise ConfigError(_ERR_EMPTY_PARAM)
                prev = i + 1
                if c == "=":
                    state = "value"
                    continue
                config[param] = "true"
                if c == ":":
                    end = i
                    break
            elif not _is_param_char(c):
                raise ConfigError(_ERR_BAD_PARAM)
        elif state == "value":
            if c in "'\"":
                if i == prev:
                    quote, state, prev, doubled = c, "quoted", i + 1, False
            elif c in ":,":
                config[param] = spec[prev:i]
                prev = i + 1
                if c == ":":
                    end = i
                    break
                state = "param"
        elif state == "quoted":
            if c == quote:
                state = "after_quote"
        elif state == "after_quote":
            if c in ":,":
                value = spec[prev:i - 1]
                if doubled:
                    value = value.replace(quote + quote, quote)
                prev = i + 1
                config[param] = value
                if c == ":":
                    end = i
                    break
                state = "param"
            elif c == quote:
                state, doubled = "quoted", True
            else:
                raise ConfigError(_ERR_AFTER_QUOTE)
    if end < 0:
        raise ConfigError({"name": _ERR_NAME, "param": _ERR_PARAM, "value": _ERR_VALUE,
                           "quoted": _ERR_QUOTED, "after_quote": _ERR_AFTER_QUOTE}[state])
    return ParsedSpec(name, spec[end + 1:], spec[:end], config)


def split_remote(spec: str) -> tuple[str | None, str]:
    """Split ``name:path`` into (name, path); a local path or fsspec URL gives (None, spec).

    The name of an on-the-fly remote keeps its colon (``:local``); connection-string options
    (``remote,opt=val:``) are dropped. Raises ConfigError for a malformed spec.
    """
    parsed = parse_spec(spec)
    return (parsed.name or None), parsed.path


def _go_clean(p: str) -> str:
    """Go's ``path.Clean``."""
    out = posixpath.normpath(p) if p else "."
    return "/" + out.lstrip("/") if out.startswith("//") else out


def _go_join(*elems: str) -> str:
    """Go's ``path.Join``: non-empty elements joined by ``/`` then cleaned ("" if none)."""
    parts = [e for e in elems if e]
    return _go_clean("/".join(parts)) if parts else ""


def _make_absolute(file_path: str) -> str:
    leading = file_path.startswith("/")
    file_path = _go_join("/", file_path)
    if not leading and file_path.startswith("/"):
        file_path = file_path[1:]
    return file_path


def join_root_path(remote: str, file_path: str) -> str:
    """rclone's ``fspath.JoinRootPath``: ``file_path`` under ``remote``, never above it."""
    if not file_path:
        return remote
    file_path = _make_absolute(file_path)
    if remote.startswith("//"):
        return "/" + _go_join(remote, file_path)
    try:
        parsed = parse_spec(remote)
    except ConfigError:
        parsed = ParsedSpec("", remote)
    if parsed.url:
        if not file_path:
            return remote
        return (remote if remote.endswith("/") else remote + "/") + file_path
    remote_path = _go_join(parsed.path, file_path)
    if parsed.config_string:
        if remote_path == ".":
            remote_path = ""
        return parsed.config_string + ":" + remote_path
    return remote_path


# ----- the config file -------------------------------------------------------------------------


@dataclass
class RcloneConfig:
    """The sections of an rclone-style config file: ``{name: {key: value}}``.

    ``path`` is the file that was read, None when there was none (memory-only config).
    Keys before the first section land in ``DEFAULT``, as goconfig does.
    """

    path: str | None = None
    sections: dict[str, dict[str, str]] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.sections

    def __iter__(self) -> Iterator[str]:
        return iter(self.sections)

    def __len__(self) -> int:
        return len(self.sections)

    def names(self) -> list[str]:
        """The section names in file order."""
        return list(self.sections)

    def section(self, name: str) -> dict[str, str] | None:
        """A copy of section ``name``, or None when there is none."""
        sec = self.sections.get(name)
        return dict(sec) if sec is not None else None

    def get(self, name: str, key: str, default: str | None = None) -> str | None:
        """The value of ``key`` in section ``name``, or ``default``."""
        return self.sections.get(name, {}).get(key, default)

    def has_remote(self, name: str) -> bool:
        """True when section ``name`` exists and has a ``type`` (what rclone needs)."""
        return "type" in self.sections.get(name, {})

    @classmethod
    def parse(cls, text: str, path: str | None = None) -> RcloneConfig:
        """Parse INI text as rclone (goconfig) does: ``[section]``, ``key = value`` or
        ``key: value``, whole-line ``#``/``;`` comments, values taken verbatim (no quote or
        inline-comment processing). Raises ConfigError for an encrypted or malformed file.
        """
        where = f'"{path}"' if path else "(text)"
        text = text.removeprefix("\ufeff")
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("RCLONE_ENCRYPT_V"):
                raise ConfigError(
                    f"Failed to load config file {where}: the file is encrypted "
                    f"({line.rstrip(':')}) and pysync can't decrypt rclone configs - remove "
                    f'the encryption with "rclone config encryption remove" or point --config '
                    f"at a decrypted copy")
            break
        sections: dict[str, dict[str, str]] = {}
        section = "DEFAULT"
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line[0] == "[" and line[-1] == "]":
                section = line[1:-1].strip()
                sections.setdefault(section, {})
                continue
            if section == "":
                raise ConfigError(f"Failed to load config file {where}: "
                                  "empty section name not allowed")
            m = re.search(r"[=:]", line)
            if m is None or m.start() == 0:
                raise ConfigError(f"Failed to load config file {where}: "
                                  f"could not parse line: {line}")
            key = line[:m.start()].strip()
            sections.setdefault(section, {})[key] = line[m.start() + 1:].strip()
        return cls(path, sections)


def _no_config_path(path: str) -> bool:
    return path == "" or path == os.devnull or os.path.basename(path) == "notfound"


def find_config_file(config_path: str | None = None) -> tuple[str | None, bool]:
    """``(path, explicit)`` of the config file to use; path None means no config file.

    Order: ``config_path`` (``--config``), ``$PYSYNC_CONFIG``, ``$RCLONE_CONFIG``, then the
    first existing of ``~/.config/pysync/pysync.conf`` (``$XDG_CONFIG_HOME/pysync`` first
    when set), ``~/.config/rclone/rclone.conf`` (likewise), ``~/.rclone.conf``. An explicit
    path is returned even if missing; ``""``, the null device or a file named ``notfound``
    mean no config file, as in rclone.
    """
    explicit = config_path
    if explicit is None:
        for var in _ENV_CONFIG_VARS:
            value = os.environ.get(var)
            if value:
                explicit = value
                break
    if explicit is not None:
        if _no_config_path(explicit):
            return None, True
        return os.path.abspath(os.path.expanduser(explicit)), True
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME")
    candidates: list[str] = []
    for app, fname in (("pysync", "pysync.conf"), ("rclone", "rclone.conf")):
        if xdg:
            candidates.append(os.path.join(xdg, app, fname))
        candidates.append(os.path.join(home, ".config", app, fname))
    candidates.append(os.path.join(home, ".rclone.conf"))
    for cand in candidates:
        if os.path.isfile(cand):
            return cand, False
    return None, False


def _warn_if_exposed(cfg: RcloneConfig, mode: int) -> None:
    if cfg.path is None or not mode & 0o044 or cfg.path in _warned_secret_files:
        return
    keys = sorted({k for sec in cfg.sections.values() for k in sec
                   if k.lower() in SECRET_KEYS and sec[k]})
    if not keys:
        return
    _warned_secret_files.add(cfg.path)
    log.notice(None, f'Config file "{cfg.path}" is readable by group/others and holds secrets '
                     f'({", ".join(keys)}) - restrict it with "chmod 600 {cfg.path}"')


def load_config(path: str | None = None) -> RcloneConfig:
    """Find (see :func:`find_config_file`) and read the config file.

    A missing explicit file gives an empty config and a NOTICE, as rclone; an encrypted
    (``RCLONE_ENCRYPT_V0:``) or malformed file raises ConfigError. A file readable by
    group/others that holds a secret key (``pass``, ``password``...) is flagged once with a
    NOTICE naming the keys, never their values.
    """
    found, explicit = find_config_file(path)
    if found is None:
        return RcloneConfig()
    try:
        with open(found, encoding="utf-8", errors="surrogateescape") as fh:
            st = os.fstat(fh.fileno())
            if _stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(found)
            text = fh.read()
    except FileNotFoundError:
        if explicit:
            log.notice(None, f'Config file "{found}" not found - using defaults')
        return RcloneConfig()
    except OSError as err:
        reason = "is a directory" if isinstance(err, IsADirectoryError) else (
            err.strerror or str(err))
        raise ConfigError(f'Failed to load config file "{found}": read {found}: {reason}'
                          ) from None
    cfg = RcloneConfig.parse(text, found)
    _warn_if_exposed(cfg, st.st_mode)
    return cfg


# ----- opening backends ------------------------------------------------------------------------


def _storage_value(value: str) -> Any:
    low = value.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    return value


_NOT_STORAGE_OPTIONS = frozenset({"type", "protocol", "description"})


class _Resolver:
    """One ``open_backend`` call: the lazily loaded config and the alias chain."""

    def __init__(self, config_path: str | None, copy_links: bool, links: bool) -> None:
        self.config_path = config_path
        self.copy_links = copy_links
        self.links = links
        self._config: RcloneConfig | None = None

    @property
    def config(self) -> RcloneConfig:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def open(self, spec: str, chain: tuple[str, ...] = ()) -> Backend:
        parsed = parse_spec(spec)
        if parsed.url:
            return self._open_url(spec, parsed.url)
        if not parsed.name:
            if _NAME_RE.match(spec) and self.config.has_remote(spec):
                log.notice(None, f'"{spec}" refers to a local folder, use "{spec}:" to refer to '
                                 f'your remote or "./{spec}" to hide this warning')
            return self._local(spec, {})
        if parsed.name.startswith(":"):
            kind = parsed.name[1:]
            options = dict(parsed.config)
        else:
            section = self.config.section(parsed.name) or {}
            options = {**section, **parsed.config}
            if "type" not in options:
                raise ConfigError(f'didn\'t find section in config file ("{parsed.name}")')
            kind = options["type"]
        return self._open_type(kind, parsed, options, chain)

    def _open_type(self, kind: str, parsed: ParsedSpec, options: Mapping[str, str],
                   chain: tuple[str, ...]) -> Backend:
        if kind == "local":
            return self._local(parsed.path, options)
        if kind == "alias":
            return self._alias(parsed, options, chain)
        if kind in ("fsspec", "memory"):
            return self._fsspec(parsed, options, kind)
        if kind in ("sftp", "smb"):
            import importlib

            try:
                module = importlib.import_module(f".backends.{kind}", __package__)
            except ModuleNotFoundError:
                module = None
            opener = getattr(module, "open_remote", None)
            if opener is not None:
                # open_remote(name, options, path) -> Backend; options are the config
                # section merged with connection-string overrides (values still obscured)
                return opener(parsed.name, dict(options), parsed.path)  # type: ignore[no-any-return]
        if kind in UNSUPPORTED_TYPES:
            raise ConfigError(f'remote type "{kind}" is not supported yet')
        raise ConfigError(f'didn\'t find backend called "{kind}"')

    def _local(self, path: str, options: Mapping[str, str]) -> Backend:
        copy_links = self.copy_links or _parse_bool("copy_links", options.get("copy_links",
                                                                              "false"))
        links = self.links or _parse_bool("links", options.get("links", "false"))
        if copy_links and links:
            raise ConfigError("can't use -l/--links with -L/--copy-links")
        return LocalBackend(path, copy_links=copy_links, links=links)

    def _alias(self, parsed: ParsedSpec, options: Mapping[str, str],
               chain: tuple[str, ...]) -> Backend:
        target = options.get("remote", "")
        if not target:
            raise ConfigError("alias can't point to an empty remote - check the value of the "
                              "remote setting")
        if target.startswith(parsed.name + ":"):
            raise ConfigError("can't point alias remote at itself - check the value of the "
                              "remote setting")
        if parsed.name in chain or len(chain) >= 32:
            loop = " -> ".join(f'"{n}"' for n in (*chain, parsed.name))
            raise ConfigError(f"alias loop detected: {loop} - check the value of the remote "
                              "settings")
        return self.open(join_root_path(target, parsed.path), (*chain, parsed.name))

    def _fsspec(self, parsed: ParsedSpec, options: Mapping[str, str], kind: str) -> Backend:
        from .backends.fsspec import FsspecBackend

        if kind == "memory":
            protocol = "memory"
            storage: dict[str, Any] = {}
        else:
            protocol = options.get("protocol", "").strip()
            if not protocol:
                raise ConfigError(f'fsspec remote "{parsed.name}" needs a "protocol" option '
                                  "(e.g. protocol = memory)")
            storage = {k: _storage_value(v) for k, v in options.items()
                       if k not in _NOT_STORAGE_OPTIONS}
        if protocol in ("file", "local"):
            return self._local(parsed.path, {k: v for k, v in options.items()
                                             if k in ("copy_links", "links")})
        try:
            return FsspecBackend(protocol, parsed.path, storage_options=storage)
        except (ImportError, ValueError, TypeError) as err:
            raise ConfigError(f'can\'t open fsspec protocol "{protocol}": {err}') from None

    def _open_url(self, spec: str, protocol: str) -> Backend:
        from fsspec.core import url_to_fs

        from .backends.fsspec import FsspecBackend

        if protocol in ("file", "local") and "::" not in spec:
            from fsspec.implementations.local import LocalFileSystem

            return self._local(LocalFileSystem._strip_protocol(spec) or "/", {})
        try:
            fs, path = url_to_fs(spec, skip_instance_cache=True)
        except (ImportError, ValueError, TypeError) as err:
            raise ConfigError(f'can\'t open "{spec}": {err}') from None
        return FsspecBackend(fs, path)


def open_backend(spec: str, *, config_path: str | None = None, copy_links: bool = False,
                 links: bool = False) -> Backend:
    """The backend rooted at ``spec``.

    ``spec`` is a local path (absolute, relative or ``~``), ``remote:path`` (from the config
    file, see :func:`load_config`; ``remote,opt=val:path`` overrides options), ``:type:path``
    or ``:type,opt=val:path`` (on the fly), or an fsspec URL (``memory://x``; ``file://`` is
    local). ``copy_links``/``links`` are rclone's ``-L``/``-l`` for local backends.
    Raises ConfigError (exit 1) for bad specs, unknown remotes and unsupported types.
    """
    return _Resolver(config_path, copy_links, links).open(spec)


def remote_description(backend: Backend) -> str:
    """How rclone names ``backend`` in logs (its ``describe()``)."""
    return backend.describe()
