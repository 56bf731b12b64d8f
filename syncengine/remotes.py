"""Turn a location (local path, `name:path` remote, `:type:path`, fsspec URL) into a Backend."""

# Parsing follows rclone's fs/fspath rules; remotes come from an rclone-style INI config file
# (load_config) and from rclone's RCLONE_CONFIG_<NAME>_<OPTION> environment variables. Remote
# types: local, alias, memory, sftp, smb and the pysync extension fsspec (``protocol = ...``
# plus storage options). sftp:// (ssh://) and smb:// URLs open pysync's own sftp/smb backends;
# URLs of any other protocol fsspec knows (memory://, s3://...) open an FsspecBackend; file://
# is local. The rest of the module is what ``listremotes`` and ``config show|redacted|file``
# print: secrets are masked there, as in every message and repr of this module.

from __future__ import annotations

import os
import posixpath
import re
import stat as _stat
from collections.abc import Iterable, Iterator, Mapping

from . import log
from .backends.base import Backend
from .backends.local import LocalBackend
from .confvalues import obscure
from .confvalues import parse_bool as _parse_bool
from .errors import ConfigError, UsageError
from .lazyre import LazyPattern
from .record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["open_backend", "split_remote", "parse_spec", "is_drive_letter", "ParsedSpec",
           "load_config", "find_config_file", "RcloneConfig", "join_root_path",
           "remote_description", "SECRET_KEYS", "UNSUPPORTED_TYPES", "option_secrecy",
           "redact_spec",
           "config_env_var", "env_remotes", "remote_env_options", "backend_env_options",
           "remote_options", "RemoteInfo", "list_remotes", "select_remotes", "format_remotes",
           "show_remote", "show_config", "config_location", "KNOWN_TYPES"]

# rclone's configNameRe (Python's Unicode \w covers Go's \w, \p{L} and \p{N}).
_NAME = r"[\w.+@]+(?:[ -]+[\w.+@-]+)*"
_NAME_RE = LazyPattern(rf"{_NAME}\Z")
_URL_RE = LazyPattern(r"([A-Za-z][A-Za-z0-9+.\-_]*)(?:://|::)")

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
_WINDOWS = os.name == "nt"  # rclone's drive letters and backslash separators
_warned_secret_files: set[str] = set()


#: Every remote type ``config show`` knows (rclone's name for the ones pysync cannot open).
KNOWN_TYPES = frozenset({"local", "alias", "memory", "fsspec", "sftp", "smb"}) | UNSUPPORTED_TYPES

# rclone's IsPassword options ("*** ENCRYPTED ***" in config show) and Sensitive ones (XXX in
# config redacted) of the backends pysync opens: backend/sftp/sftp.go, backend/smb/smb.go
_PASSWORD_OPTIONS: dict[str, frozenset[str]] = {
    "sftp": frozenset({"pass", "key_file_pass"}),
    "smb": frozenset({"pass"}),
}
_SENSITIVE_OPTIONS: dict[str, frozenset[str]] = {
    "sftp": frozenset({"host", "user", "key_pem"}),
    "smb": frozenset({"host", "user", "domain", "spn"}),
}
# any other option whose name says secret (other types, fsspec storage options...) is masked too
_SECRET_NAME_RE = LazyPattern(r"pass|secret|token|credential|private|cookie|sas_url|api_?key|"
                              r"(?:^|_)key(?:$|_pem)")
_NOT_SECRET = frozenset({"ask_password"})  # sftp's boolean, not a password
_MASK_PASSWORD = "*** ENCRYPTED ***"
_MASK = "XXX"
_URL_MASK = "***"

# backend types whose options can also come from RCLONE_<TYPE>_<OPTION> variables
_ENV_BACKENDS = ("sftp", "smb")
# protocols served by pysync's own backends, never by fsspec's (which skip host-key checks)
_OWN_URL_PROTOCOLS = {"sftp": "sftp", "ssh": "sftp", "smb": "smb"}
_ENV_REMOTE_RE = LazyPattern(r"RCLONE_CONFIG_(.+?)_TYPE=(.+)\Z")


def option_secrecy(kind: str, key: str) -> str:
    """``"password"``, ``"sensitive"`` or ``""`` for option ``key`` of a ``kind`` remote.

    rclone's IsPassword/Sensitive marks for sftp and smb; for every type any option named
    like a secret (``pass``, ``password``, ``token``, ``secret``, ``key``, ``key_pem``,
    ``client_secret``...) is a password too, so no secret is ever printed in clear.
    """
    k = key.lower()
    if k in _PASSWORD_OPTIONS.get(kind, ()):
        return "password"
    if k in _SENSITIVE_OPTIONS.get(kind, ()):
        return "sensitive"
    if k in _NOT_SECRET:
        return ""
    if k in SECRET_KEYS or _SECRET_NAME_RE.search(k):
        return "password"
    return ""


def _go_upper(s: str) -> str:
    """Go's ``strings.ToUpper``: simple (one rune to one rune) case mapping."""
    return "".join(c if len(c.upper()) != 1 else c.upper() for c in s)


def _go_lower(s: str) -> str:
    """Go's ``strings.ToLower``: simple case mapping."""
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in s)


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _shown(kind: str, key: str, value: str) -> str:
    """How a debug line shows an option value (rclone's RedactOptionValue)."""
    from .units import go_quote

    return _MASK if value and option_secrecy(kind, key) else go_quote(value)


def config_env_var(remote: str, key: str) -> str:
    """rclone's ``ConfigToEnv``: the variable holding ``key`` of ``remote``.

    ``("my-remote", "skip_links")`` gives ``RCLONE_CONFIG_MY-REMOTE_SKIP_LINKS``: the remote
    name and the key are upper-cased, ``-`` in the key becomes ``_`` (not in the name).
    """
    return "RCLONE_CONFIG_" + _go_upper(remote + "_" + key.replace("-", "_"))


def env_remotes(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``(name, type)`` of the remotes defined by ``RCLONE_CONFIG_<NAME>_TYPE`` variables, in
    environment order, both lower-cased as rclone's ``GetRemotes`` does."""
    out: list[tuple[str, str]] = []
    for var, value in _environ(environ).items():
        m = _ENV_REMOTE_RE.match(f"{var}={value}")
        if m:
            out.append((_go_lower(m.group(1)), _go_lower(m.group(2))))
    return out


def remote_env_options(name: str, environ: Mapping[str, str] | None = None, *,
                       known: Iterable[str] = ()) -> dict[str, str]:
    """The options of remote ``name`` set by ``RCLONE_CONFIG_<NAME>_<OPTION>`` variables.

    The option is the lower-cased rest of the variable name. A variable that belongs to a
    longer remote name in ``known`` (``RCLONE_CONFIG_A_B_HOST`` when remote ``a_b`` exists)
    is left to that remote. Empty values count (they override the config file, as in rclone).
    """
    upper = _go_upper(name)
    prefix = "RCLONE_CONFIG_" + upper + "_"
    tails = {_go_upper(other)[len(upper) + 1:] + "_" for other in known
             if _go_upper(other).startswith(upper + "_")}
    out: dict[str, str] = {}
    for var, value in _environ(environ).items():
        if not var.startswith(prefix) or len(var) == len(prefix):
            continue
        rest = var[len(prefix):]
        if any(rest.startswith(t) for t in tails):
            continue
        out[_go_lower(rest)] = value
    return out


def _backend_option_names(kind: str) -> frozenset[str]:
    import importlib

    try:
        module = importlib.import_module(f".backends.{kind}", __package__)
    except ModuleNotFoundError:
        return frozenset()
    names = getattr(module, "OPTION_NAMES", None) or getattr(module, "_KNOWN_OPTIONS", ())
    return frozenset(names) - {"type"}


def backend_env_options(kind: str, environ: Mapping[str, str] | None = None
                        ) -> dict[str, str]:
    """Options of every ``kind`` remote set by ``PYSYNC_<TYPE>_<OPTION>`` or rclone's
    ``RCLONE_<TYPE>_<OPTION>`` (the first wins); only for sftp and smb and their options."""
    if kind not in _ENV_BACKENDS:
        return {}
    env = _environ(environ)
    out: dict[str, str] = {}
    for key in sorted(_backend_option_names(kind)):
        for prefix in (f"PYSYNC_{kind.upper()}_", f"RCLONE_{kind.upper()}_"):
            var = prefix + key.upper()
            if var in env:
                out[key] = env[var]
                log.debug(None, f"Setting {kind} {key}={_shown(kind, key, env[var])} from "
                                f"environment variable {var}")
                break
    return out


def remote_options(cfg: RcloneConfig, name: str, connection: Mapping[str, str] | None = None,
                   *, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The options remote ``name`` opens with, merged as rclone's ``ConfigMap`` does.

    Highest first: ``connection`` (``name,opt=val:``), ``RCLONE_CONFIG_<NAME>_<OPTION>``,
    ``RCLONE_<TYPE>_<OPTION>`` (sftp, smb), the config file section (empty values there count
    as unset). No ``type`` key in the result means there is no such remote.
    """
    env = _environ(environ)
    section = {k: v for k, v in (cfg.section(name) or {}).items() if v != ""}
    known = [*cfg.names(), *(n for n, _ in env_remotes(env))]
    from_env = remote_env_options(name, env, known=known)
    conn = dict(connection or {})
    kind = conn.get("type", from_env.get("type", section.get("type")))
    merged = dict(section)
    if kind is not None:
        merged.update(backend_env_options(kind, env))
    for key, value in from_env.items():
        log.debug(None, f"Setting {key}={_shown(kind or '', key, value)} for \"{name}\" from "
                        f"environment variable {config_env_var(name, key)}")
    merged.update(from_env)
    merged.update(conn)
    return merged


# ----- secrets in specs ------------------------------------------------------------------------


def _redact_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.partition(":")[0] + ":" + _URL_MASK
        return f"{scheme}{sep}{userinfo}@{hostport}{slash}{path}"
    colon = netloc.find(":")
    if (colon >= 0 and not netloc[colon + 1:].isdigit() and "@" in path
            and not netloc.startswith("[")):
        # an unescaped "/" in a password: hide everything up to the last "@"
        tail = (slash + path).rpartition("@")[2]
        return f"{scheme}{sep}{netloc[:colon]}:{_URL_MASK}@{tail}"
    return url


def _quote_value(value: str) -> str:
    if any(c in value for c in ":,'\""):
        return '"' + value.replace('"', '""') + '"'
    return value


def redact_spec(spec: str) -> str:
    """``spec`` fit for a message: the password of a URL (``sftp://user:***@host/``) and
    secret connection-string options (``:sftp,pass=***:path``) masked."""
    if "://" in spec:
        return "::".join(_redact_url(part) if "://" in part else part
                         for part in spec.split("::"))
    try:
        parsed = parse_spec(spec)
    except ConfigError:
        return spec
    if not parsed.config:
        return spec
    kind = parsed.name[1:] if parsed.name.startswith(":") else ""
    if not any(v and option_secrecy(kind, k) == "password" for k, v in parsed.config.items()):
        return spec
    opts = "".join(
        f",{k}=" + (_URL_MASK if v and option_secrecy(kind, k) == "password" else _quote_value(v))
        for k, v in parsed.config.items())
    return f"{parsed.name}{opts}:{parsed.path}"


def _url_options(spec: str, protocol: str) -> tuple[str, dict[str, str], str]:
    """``(type, options, path)`` of an ``sftp://``/``ssh://``/``smb://`` URL.

    ``sftp://[user[:pass]@]host[:port][/path]``: the path is absolute (``/~/dir`` or no path
    is the login directory); ``smb://[[domain;]user[:pass]@]host[:port][/share/dir]``. User,
    domain and password are percent-decoded, the path is taken verbatim; the password is
    obscured as the config file holds it.
    """
    kind = _OWN_URL_PROTOCOLS[protocol]
    shown = redact_spec(spec)
    rest = spec.split("://", 1)[1]
    netloc, slash, path = rest.partition("/")
    path = slash + path
    userinfo, at, hostport = netloc.rpartition("@")
    options: dict[str, str] = {"type": kind}
    if at:
        user, colon, password = userinfo.partition(":")
        from urllib.parse import unquote

        user = unquote(user)
        if kind == "smb" and ";" in user:
            domain, _, user = user.partition(";")
            options["domain"] = domain
        if user:
            options["user"] = user
        if colon:
            options["pass"] = obscure(unquote(password))
    if hostport.startswith("["):
        host, bracket, port_part = hostport[1:].partition("]")
        if not bracket or (port_part and not port_part.startswith(":")):
            raise ConfigError(f'bad host in URL "{shown}"')
        port = port_part[1:]
        has_port = bool(port_part)
    else:
        host, colon, port = hostport.partition(":")
        has_port = bool(colon)
    if not host:
        raise ConfigError(f'{kind} URL needs a host: "{shown}"')
    if has_port:
        if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f'bad port in URL "{shown}"')
        options["port"] = str(int(port))
    options["host"] = host
    if kind == "sftp":
        if path == "/~" or path.startswith("/~/"):
            path = path[3:]
    else:
        path = path.lstrip("/")
    return kind, options, path


# ----- spec parsing (rclone fs/fspath) ---------------------------------------------------------


@record(frozen=True, repr=False)
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

    def __repr__(self) -> str:  # never shows a secret option or a URL's password
        kind = self.name[1:] if self.name.startswith(":") else ""
        config = {k: _URL_MASK if v and option_secrecy(kind, k) == "password" else v
                  for k, v in self.config.items()}
        return (f"ParsedSpec(name={self.name!r}, path={redact_spec(self.path)!r}, "
                f"config_string={redact_spec(self.config_string + ':')[:-1]!r}, "
                f"config={config!r}, url={self.url!r})")


def _fsspec_protocols() -> frozenset[str]:
    import fsspec

    return frozenset(fsspec.available_protocols())


def _url_protocol(spec: str) -> str | None:
    if "://" not in spec and "::" not in spec:  # no URL (and no pattern compiled for it)
        return None
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


def is_drive_letter(name: str, windows: bool | None = None) -> bool:
    """rclone's ``driveletter.IsDriveLetter``: one ASCII letter, on Windows only (on other
    systems no name is a drive letter, so ``C:x`` is remote ``C``)."""
    if windows is None:
        windows = _WINDOWS
    return windows and len(name) == 1 and name.isascii() and name.isalpha()


def parse_spec(spec: str, *, windows: bool | None = None) -> ParsedSpec:
    """Parse ``spec`` like rclone's ``fspath.Parse``; fsspec URLs are recognised first.

    ``windows`` (default: whether this is Windows) applies rclone's Windows rules: a drive
    letter (``C:\\archive``, ``C:archive``, ``C:/x``) starts a local path, not a remote named
    ``C``, and backslashes in the path become ``/`` (Go's ``filepath.ToSlash``), so a UNC path
    ``\\\\server\\share\\dir`` is the local path ``//server/share/dir``. Elsewhere ``C:x`` is
    remote ``C`` and a backslash is an ordinary character of a name.
    Raises ConfigError (exit 1) with rclone's wording for a malformed spec.
    """
    if windows is None:
        windows = _WINDOWS
    parsed = _parse_spec(spec, windows)
    if windows and "\\" in parsed.path and parsed.url is None:
        return ParsedSpec(parsed.name, parsed.path.replace("\\", "/"), parsed.config_string,
                          parsed.config)
    return parsed


def _parse_spec(spec: str, windows: bool) -> ParsedSpec:
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
                    if is_drive_letter(name, windows):
                        return ParsedSpec("", spec)  # a drive letter: a local path
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


def split_remote(spec: str, *, windows: bool | None = None) -> tuple[str | None, str]:
    """Split ``name:path`` into (name, path); a local path or fsspec URL gives (None, path).

    The name of an on-the-fly remote keeps its colon (``:local``); connection-string options
    (``remote,opt=val:``) are dropped; ``windows`` as in :func:`parse_spec`. Raises
    ConfigError for a malformed spec.
    """
    parsed = parse_spec(spec, windows=windows)
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


@record(repr=False)
class RcloneConfig:
    """The sections of an rclone-style config file: ``{name: {key: value}}``.

    ``path`` is the file that was read, None when there was none (memory-only config).
    Keys before the first section land in ``DEFAULT``, as goconfig does.
    """

    path: str | None = None
    sections: dict[str, dict[str, str]] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.sections

    def __repr__(self) -> str:  # section names only: values may be secrets
        return f"RcloneConfig(path={self.path!r}, sections={list(self.sections)!r})"

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
        ``key: value``, whole-line ``#``/``;`` comments, goconfig's backquote and triple-quote
        wrapping removed (see :mod:`syncengine.conffile`), no inline comments. Raises
        ConfigError for an encrypted or malformed file.
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
        from .conffile import ConfigFile

        doc = ConfigFile.parse(text, where)
        cfg = cls(path, doc.as_dict())
        cfg._document = doc  # type: ignore[attr-defined]  # comments, for ``config show``
        return cfg


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
    for cand in _config_candidates():
        if os.path.isfile(cand):
            return cand, False
    return None, False


def _config_candidates() -> list[str]:
    """The default config locations, in the order :func:`find_config_file` tries them."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME")
    candidates: list[str] = []
    for app, fname in (("pysync", "pysync.conf"), ("rclone", "rclone.conf")):
        if xdg:
            candidates.append(os.path.join(xdg, app, fname))
        candidates.append(os.path.join(home, ".config", app, fname))
    candidates.append(os.path.join(home, ".rclone.conf"))
    return candidates


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

    def __init__(self, config_path: str | None, copy_links: bool, links: bool,
                 config: RcloneConfig | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.config_path = config_path
        self.copy_links = copy_links
        self.links = links
        self._config: RcloneConfig | None = config
        self.environ = environ

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
            # a path with a slash is no remote's name (the pattern is compiled only if needed)
            if "/" not in spec and _NAME_RE.match(spec) and self.config.has_remote(spec):
                log.notice(None, f'"{spec}" refers to a local folder, use "{spec}:" to refer to '
                                 f'your remote or "./{spec}" to hide this warning')
            return self._local(parsed.path, {})
        if parsed.name.startswith(":"):
            kind = parsed.name[1:]
            options = {**backend_env_options(kind, self.environ), **parsed.config}
        else:
            options = remote_options(self.config, parsed.name, parsed.config,
                                     environ=self.environ)
            if "type" not in options:
                raise ConfigError(f'didn\'t find section in config file ("{parsed.name}")')
            kind = options["type"]
        return self._open_type(kind, parsed, options, chain)

    def _open_type(self, kind: str, parsed: ParsedSpec, options: Mapping[str, str],
                   chain: tuple[str, ...]) -> Backend:
        if kind == "local":
            return self._local(parsed.path, options, parsed.name.lstrip(":"))
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

    def _local(self, path: str, options: Mapping[str, str], name: str = "local") -> Backend:
        copy_links = self.copy_links or _parse_bool("copy_links", options.get("copy_links",
                                                                              "false"))
        links = self.links or _parse_bool("links", options.get("links", "false"))
        if copy_links and links:
            raise ConfigError("can't use -l/--links with -L/--copy-links")
        return LocalBackend(path, copy_links=copy_links, links=links, name=name)

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
            if protocol.lower() in _OWN_URL_PROTOCOLS:
                own = _OWN_URL_PROTOCOLS[protocol.lower()]
                raise ConfigError(f'fsspec remote "{parsed.name}": protocol "{protocol}" is '
                                  f'served by pysync\'s own backend - use "type = {own}"')
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
        if protocol in _OWN_URL_PROTOCOLS and spec[len(protocol):].startswith("://"):
            kind, url_opts, path = _url_options(spec, protocol)
            options = {**backend_env_options(kind, self.environ), **url_opts}
            name = ":" + kind
            return self._open_type(kind, ParsedSpec(name, path, name), options, ())
        for part in spec.split("::"):
            m = _URL_RE.match(part)
            if m and m.group(1).lower() in _OWN_URL_PROTOCOLS:
                raise ConfigError(f'can\'t chain "{m.group(1)}://" URLs: use '
                                  f'"{m.group(1)}://..." on its own (pysync\'s own backend)')
        try:
            fs, path = url_to_fs(spec, skip_instance_cache=True)
        except (ImportError, ValueError, TypeError) as err:
            raise ConfigError(f'can\'t open "{redact_spec(spec)}": {err}') from None
        return FsspecBackend(fs, path)


def open_backend(spec: str, *, config_path: str | None = None, copy_links: bool = False,
                 links: bool = False, config: RcloneConfig | None = None,
                 environ: Mapping[str, str] | None = None) -> Backend:
    """The backend rooted at ``spec``.

    ``spec`` is a local path (absolute, relative or ``~``), ``remote:path`` (from the config
    file, see :func:`load_config`; ``remote,opt=val:path`` overrides options), ``:type:path``
    or ``:type,opt=val:path`` (on the fly), or an fsspec URL (``memory://x``; ``file://`` is
    local). ``copy_links``/``links`` are rclone's ``-L``/``-l`` for local backends.
    ``config``/``environ`` (a worker of another process or host): use this config instead
    of reading a file, and these variables instead of ``os.environ`` for remote options.
    Raises ConfigError (exit 1) for bad specs, unknown remotes and unsupported types.
    """
    return _Resolver(config_path, copy_links, links, config, environ).open(spec)


def remote_description(backend: Backend) -> str:
    """How rclone names ``backend`` in logs (its ``describe()``)."""
    return backend.describe()


# ----- listremotes and config show/redacted/file -----------------------------------------------


@record(frozen=True)
class RemoteInfo:
    """One remote as ``listremotes`` shows it (rclone's ``config.Remote``).

    ``source`` is ``"environment"`` (``RCLONE_CONFIG_<NAME>_TYPE``) or ``"file"``.
    """

    name: str
    type: str
    source: str
    description: str = ""


def list_remotes(cfg: RcloneConfig, environ: Mapping[str, str] | None = None
                 ) -> list[RemoteInfo]:
    """The remotes rclone's ``GetRemotes`` finds: those defined in the environment first (in
    its order, lower-cased), then the config file sections that have a ``type`` (in file
    order) whose name is not already listed. Nothing is sorted."""
    out = [RemoteInfo(name, kind, "environment") for name, kind in env_remotes(environ)]
    seen = {r.name for r in out}
    for section in cfg.names():
        kind = cfg.get(section, "type")
        if section not in seen and kind is not None:
            out.append(RemoteInfo(section, kind, "file",
                                  cfg.get(section, "description", "") or ""))
    return out


def _compile_filter(what: str, glob: str, exact: bool) -> re.Pattern[str]:
    from .filter.glob import glob_to_regexp, re2_to_python

    try:
        regexp = glob_to_regexp(glob, ignore_case=True, path_mode=False, add_anchors=exact)
        return re.compile(re2_to_python(regexp))
    except ConfigError as err:
        raise UsageError(f"invalid {what} filter argument: {err}") from None


def select_remotes(remotes: Iterable[RemoteInfo], pattern: str = "", *, name: str = "",
                   kind: str = "", source: str = "", description: str = "",
                   exact: bool = False, order_by: str = "") -> list[RemoteInfo]:
    """``listremotes``' filters and ``--order-by``, as rclone applies them.

    Each filter is an rclone glob matched case-insensitively anywhere in the value (the whole
    value with ``exact``); ``pattern`` may match any of the four fields. ``order_by`` is
    ``field[=asc|desc],...`` over name, type, source, description (a stable sort).
    Raises UsageError (exit 2) with rclone's wording for a bad glob or ``order_by``.
    """
    filters = [(what, _compile_filter(what, glob, exact)) for what, glob in (
        ("all", pattern), ("name", name), ("type", kind), ("source", source),
        ("description", description)) if glob]

    def fields(r: RemoteInfo) -> dict[str, str]:
        return {"name": r.name, "type": r.type, "source": r.source,
                "description": r.description}

    def keep(r: RemoteInfo) -> bool:
        values = fields(r)
        for what, rx in filters:
            candidates = values.values() if what == "all" else (values[what],)
            if not any(rx.search(v) for v in candidates):
                return False
        return True

    out = [r for r in remotes if keep(r)]
    if not order_by:
        return out
    keys: list[tuple[str, bool]] = []
    for part in reversed(_go_lower(order_by).split(",")):
        fld, eq, direction = part.partition("=")
        descending = False
        if eq:
            if direction in ("descending", "desc"):
                descending = True
            elif direction not in ("ascending", "asc"):
                raise UsageError(f"unknown --order-by direction {_go_quote(direction)}")
        if fld not in ("name", "type", "source", "description"):
            raise UsageError(f"unknown --order-by field {_go_quote(fld)}")
        keys.append((fld, descending))
    for fld, descending in keys:  # least significant first: stable sorts compose
        out.sort(key=lambda r, f=fld: fields(r)[f], reverse=descending)
    return out


def _go_quote(s: str) -> str:
    from .units import go_quote

    return go_quote(s)


def _pad(s: str, width: int) -> str:
    """Go's ``%-*s``: pad to ``width`` runes."""
    return s + " " * max(0, width - len(s))


def _go_json_string(s: str) -> str:
    """``s`` as Go's encoding/json writes a string (HTML characters escaped)."""
    s = re.sub(r"[\ud800-\udfff]", "\ufffd", s)
    import json

    out = json.dumps(s, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(ch, esc)
    return out


def format_remotes(remotes: Iterable[RemoteInfo], *, long: bool = False,
                   as_json: bool = False) -> str:
    """``listremotes`` output: ``name:`` lines; with ``long`` rclone's aligned
    ``name: type description`` columns; with ``as_json`` rclone's one-object-a-line array."""
    items = list(remotes)
    if as_json:
        lines = ["{" + ",".join(f'"{k}":{_go_json_string(getattr(r, k))}'
                                for k in ("name", "type", "source", "description")) + "}"
                 for r in items]
        return "[\n" + "".join(line + (",\n" if i < len(lines) - 1 else "\n")
                               for i, line in enumerate(lines)) + "]\n"
    if long:
        # rclone sizes the columns in bytes and pads them in runes
        width = max((len(r.name.encode("utf-8", "surrogateescape")) for r in items), default=0)
        twidth = max((len(r.type.encode("utf-8", "surrogateescape")) for r in items), default=0)
        return "".join(f"{_pad(r.name + ':', width + 1)} {_pad(r.type, twidth)} "
                       f"{r.description}\n" for r in items)
    return "".join(f"{r.name}:\n" for r in items)


def _masked(kind: str, key: str, value: str, redacted: bool) -> str:
    secrecy = option_secrecy(kind, key) if value else ""
    if not secrecy:
        return value
    return _MASK_PASSWORD if secrecy == "password" and not redacted else _MASK


def _remote_lines(cfg: RcloneConfig, name: str, env: Mapping[str, str],
                  redacted: bool) -> list[str]:
    known = [*cfg.names(), *(n for n, _ in env_remotes(env))]
    from_env = remote_env_options(name, env, known=known)
    section = cfg.section(name) or {}
    kind = from_env.get("type", section.get("type", ""))
    lines = [f"[{name}]"]
    if not kind:
        lines.append(f"# couldn't find type of fs for {_go_quote(name)}")
    elif kind not in KNOWN_TYPES:
        lines.append(f"# didn't find backend called {_go_quote(kind)}")
    keys = list(section) + sorted((k for k in from_env if k not in section),
                                  key=lambda k: k != "type")
    for key in keys:
        value = from_env.get(key, section.get(key, ""))
        lines.append(f"{key} = {_masked(kind, key, value, redacted)}")
    return lines


_REDACTED_FOOTER = "### Double check the config for sensitive info before posting publicly\n"


def show_remote(cfg: RcloneConfig, name: str, *, redacted: bool = False,
                environ: Mapping[str, str] | None = None) -> str:
    """``config show NAME`` (``redacted``: ``config redacted NAME``) as rclone prints it,
    secrets masked.

    The section's keys in file order with ``RCLONE_CONFIG_<NAME>_<KEY>`` overrides, then
    keys only the environment sets. Passwords show as ``*** ENCRYPTED ***`` and rclone's
    Sensitive options (sftp/smb host, user...) as ``XXX``; ``redacted`` shows both as ``XXX``
    and adds rclone's closing line. Trailing colons of ``name`` are ignored. Raises
    ConfigError (exit 1) when no section and no ``RCLONE_CONFIG_<NAME>_TYPE`` exists.
    """
    env = _environ(environ)
    name = name.rstrip(":")
    if name not in cfg and config_env_var(name, "type") not in env:
        raise ConfigError(f'didn\'t find section in config file ("{name}")')
    text = "\n".join(_remote_lines(cfg, name, env, redacted)) + "\n"
    return text + (_REDACTED_FOOTER if redacted else "")


def show_config(cfg: RcloneConfig, *, redacted: bool = False,
                environ: Mapping[str, str] | None = None) -> str:
    """``config show`` (``redacted``: ``config redacted``) for the whole config file.

    ``config show`` prints the file as rclone re-serialises it (sections in file order,
    ``key = value``, a blank line after each section, ``DEFAULT`` keys without a header,
    comments before the section or key they precede, goconfig's quoting) with secrets masked
    as in :func:`show_remote`; ``config redacted``
    prints every section as :func:`show_remote` does, sorted by name. An empty config is
    ``; empty config``.
    """
    if redacted:
        if not cfg.sections:
            return "; empty config\n" + _REDACTED_FOOTER
        env = _environ(environ)
        blocks = ["\n".join(_remote_lines(cfg, name, env, True)) + "\n"
                  for name in sorted(cfg.sections, key=lambda n: n.encode("utf-8",
                                                                          "surrogateescape"))]
        return "\n".join(blocks) + _REDACTED_FOOTER
    if not cfg.sections:
        return "; empty config\n"
    from .conffile import ConfigFile

    doc = getattr(cfg, "_document", None)
    if doc is None:
        doc = ConfigFile()
        for name, section in cfg.sections.items():
            for k, v in section.items():
                doc.set(name, k, v)

    def shown(name: str, key: str, value: str) -> str:
        return _masked(cfg.sections.get(name, {}).get("type", ""), key, value, False)

    return doc.serialize(shown) or "; empty config\n"


def config_location(config_path: str | None = None) -> str:
    """``config file``: where the config is read from, worded as rclone's."""
    found, explicit = find_config_file(config_path)
    if found is None:
        if explicit:
            return "Configuration is in memory only\n"
        found = _config_candidates()[0]
    if os.path.exists(found):
        return f"Configuration file is stored at:\n{found}\n"
    return f"Configuration file doesn't exist, but pysync will use this path:\n{found}\n"
