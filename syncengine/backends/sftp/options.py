"""The sftp remote's options: rclone's config names parsed into :class:`SftpOptions`."""

from __future__ import annotations

import csv
import getpass
import os
import shlex
from collections.abc import Mapping

from ... import log
from ...confvalues import parse_bool, reveal
from ...errors import ConfigError, PysyncError
from ...hashing import canonical
from ...record import field, record
from .commands import (
    _COMMAND_OPTIONS,
)

_KIB = 1024
_MIB = 1024 * 1024
_DEFAULT_CHUNK = 32 * _KIB  # SFTP read/write payload when the server states no limits
_MAX_CHUNK = 255 * _KIB  # what OpenSSH accepts (256 KiB packets with headroom)


# rclone's fixed, public key for obscuring config values (fs/config/obscure). Obscuring keeps a
# secret from being read over a shoulder; it is not encryption.
class _Secret:
    """A revealed secret that never shows itself in a repr, str or traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The clear text."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__



def _parse_bool(key: str, value: str) -> bool:
    return parse_bool(key, value)


def _parse_int(key: str, value: str) -> int:
    try:
        return int(value.strip(), 0)
    except ValueError:
        raise ConfigError(f'couldn\'t parse config item "{key}" = "{value}" as int: '
                          f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _parse_size(key: str, value: str) -> int:
    from ...units import parse_size

    try:
        return parse_size(value)
    except PysyncError as err:
        raise ConfigError(f'couldn\'t parse config item "{key}" = "{value}": {err}') from None


def _parse_seconds(key: str, value: str) -> float:
    from ...units import parse_duration

    try:
        return max(0, parse_duration(value)) / 1e9
    except PysyncError as err:
        raise ConfigError(f'couldn\'t parse config item "{key}" = "{value}": {err}') from None


def _reveal_option(key: str, value: str) -> _Secret:
    if not value:
        return _Secret("")
    try:
        return _Secret(reveal(value))
    except ValueError as err:
        raise ConfigError(f"{key}: {err}") from None


def _space_list(key: str, value: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(value))
    except ValueError as err:
        raise ConfigError(f'couldn\'t parse config item "{key}": {err}') from None


def _space_sep_list(key: str, value: str) -> tuple[str, ...]:
    """rclone's ``SpaceSepList``: words split on spaces, "double quotes" around a word with
    spaces (Go's encoding/csv with ' ' as separator)."""
    if not value.strip():
        return ()
    try:
        rows = list(csv.reader([value.strip()], delimiter=" ", skipinitialspace=True,
                               strict=True))
    except csv.Error as err:
        raise ConfigError(f"{key}: {err}") from None
    return tuple(w for w in rows[0] if w) if rows else ()


def _expand(path: str) -> str:
    return os.path.expanduser(os.path.expandvars(path)) if path else ""


def _current_user() -> str:
    for var in ("USER", "LOGNAME", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:
        return "root" if hasattr(os, "getuid") and os.getuid() == 0 else "user"


#: Every option name :func:`open_remote` understands (rclone's, plus pysync's own
#: ``accept_new_host_key``, ``ssh_config_file``, ``connect_timeout`` and ``timeout``).
OPTION_NAMES = frozenset({
    "type", "description", "host", "user", "port", "pass", "key_pem", "key_file",
    "key_file_pass", "pubkey", "pubkey_file", "known_hosts_file", "pin_host_key", "host_keys",
    "accept_new_host_key", "key_use_agent", "use_insecure_cipher", "disable_hashcheck",
    "ask_password", "path_override", "encoding", "set_modtime", "shell_type", "hashes",
    "md5sum_command", "sha1sum_command", "crc32sum_command", "sha256sum_command",
    "blake3sum_command", "xxh3sum_command", "xxh128sum_command", "skip_links", "subsystem",
    "server_command", "use_fstat", "disable_concurrent_reads", "disable_concurrent_writes",
    "idle_timeout", "chunk_size", "concurrency", "connections", "set_env", "ciphers",
    "key_exchange", "macs", "host_key_algorithms", "ssh", "socks_proxy", "http_proxy",
    "copy_is_hardlink", "ssh_config_file", "connect_timeout", "timeout",
})


@record
class SftpOptions:
    """The parsed options of one sftp remote (rclone's names; see rclone's sftp docs).

    ``port``/``user`` of 0/"" mean "from the ssh config, else 22/the current user".
    Secrets are :class:`_Secret` holders. Build one with :meth:`from_mapping`.
    """

    host: str = ""
    user: str = ""
    port: int = 0
    password: _Secret = field(default_factory=lambda: _Secret(""), repr=False)
    key_pem: str = field(default="", repr=False)
    key_file: str = ""
    key_file_pass: _Secret = field(default_factory=lambda: _Secret(""), repr=False)
    pubkey: str = ""
    pubkey_file: str = ""
    known_hosts_file: str = ""
    accept_new_host_key: bool = False
    pin_host_key: bool = False
    host_keys: tuple[str, ...] = ()
    key_use_agent: bool = False
    use_insecure_cipher: bool = False
    disable_hashcheck: bool = False
    ask_password: bool = False
    path_override: str = ""
    set_modtime: bool = True
    shell_type: str = ""
    hashes: tuple[str, ...] = ()
    hash_commands: dict[str, str] = field(default_factory=dict)
    skip_links: bool = False
    copy_is_hardlink: bool = False
    subsystem: str = "sftp"
    server_command: str = ""
    disable_concurrent_reads: bool = False
    disable_concurrent_writes: bool = False
    idle_timeout: float = 60.0
    chunk_size: int = 0
    concurrency: int = 64
    connections: int = 0
    set_env: tuple[str, ...] = ()
    ciphers: tuple[str, ...] = ()
    key_exchange: tuple[str, ...] = ()
    macs: tuple[str, ...] = ()
    host_key_algorithms: tuple[str, ...] = ()
    ssh_config_file: str = "~/.ssh/config"
    ssh: tuple[str, ...] = ()
    connect_timeout: float = 60.0
    timeout: float = 300.0
    explicit: frozenset[str] = frozenset()

    @classmethod
    def from_mapping(cls, options: Mapping[str, str], *,
                     environ: Mapping[str, str] | None = None) -> SftpOptions:
        """Parse an rclone config section (merged with connection-string overrides).

        A missing option falls back to ``RCLONE_SFTP_<NAME>`` / ``PYSYNC_SFTP_<NAME>`` from
        ``environ`` (default ``os.environ``), as rclone's backend flags do, then to its
        default. Raises ConfigError for values that do not parse or options pysync cannot
        honour safely (proxies).
        """
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for key in OPTION_NAMES:
            if key in options:
                values[key] = options[key]
                continue
            for prefix in ("PYSYNC_SFTP_", "RCLONE_SFTP_"):
                if prefix + key.upper() in env:
                    values[key] = env[prefix + key.upper()]
                    break
        o = cls(explicit=frozenset(values))
        get = values.get
        o.host = get("host", "").strip()
        o.user = get("user", "").strip()
        port = get("port", "").strip()
        o.port = _parse_int("port", port) if port else 0
        o.password = _reveal_option("pass", get("pass", ""))
        o.key_pem = get("key_pem", "")
        o.key_file = _expand(get("key_file", ""))
        o.key_file_pass = _reveal_option("key_file_pass", get("key_file_pass", ""))
        o.pubkey = get("pubkey", "")
        o.pubkey_file = _expand(get("pubkey_file", ""))
        khf = get("known_hosts_file", "")
        o.known_hosts_file = khf if khf == "none" else _expand(khf)
        bools = ("accept_new_host_key", "pin_host_key", "key_use_agent", "use_insecure_cipher",
                 "disable_hashcheck", "ask_password", "set_modtime", "skip_links",
                 "disable_concurrent_reads", "disable_concurrent_writes", "copy_is_hardlink")
        for key in bools:
            if key in values:
                setattr(o, key, _parse_bool(key, values[key]))
        o.host_keys = tuple(k.strip() for k in get("host_keys", "").split(",") if k.strip())
        o.path_override = get("path_override", "")
        o.shell_type = get("shell_type", "").strip().lower()
        if o.shell_type not in ("", "unix", "powershell", "cmd", "none"):
            raise ConfigError(f'shell_type "{o.shell_type}" must be one of unix, powershell, '
                              "cmd or none")
        hashes: list[str] = []
        for name in get("hashes", "").split(","):
            if name.strip():
                try:
                    hashes.append(canonical(name.strip()))
                except ValueError:
                    log.info(None, f'Invalid token "{name.strip()}" in hash string '
                                   f'"{get("hashes", "")}"')
        o.hashes = tuple(dict.fromkeys(hashes))
        for kind, key in _COMMAND_OPTIONS.items():
            if get(key, "").strip():
                o.hash_commands[kind] = get(key, "").strip()
        o.subsystem = get("subsystem", "").strip() or "sftp"
        o.server_command = get("server_command", "").strip()
        if "idle_timeout" in values:
            o.idle_timeout = _parse_seconds("idle_timeout", values["idle_timeout"])
        if get("chunk_size", "").strip():
            o.chunk_size = _parse_size("chunk_size", values["chunk_size"])
            if not 1 <= o.chunk_size <= _MAX_CHUNK:
                raise ConfigError(f"chunk_size must be between 1 and {_MAX_CHUNK} bytes")
        if get("concurrency", "").strip():
            o.concurrency = max(1, _parse_int("concurrency", values["concurrency"]))
        if get("connections", "").strip():
            o.connections = max(0, _parse_int("connections", values["connections"]))
        o.set_env = _space_list("set_env", get("set_env", ""))
        for key in ("ciphers", "key_exchange", "macs", "host_key_algorithms"):
            setattr(o, key, _space_list(key, get(key, "")))
        if o.use_insecure_cipher and (o.ciphers or o.key_exchange):
            raise ConfigError("use_insecure_cipher must be false if ciphers or key_exchange "
                              "are set in advanced configuration")
        if "ssh_config_file" in values:
            scf = values["ssh_config_file"].strip()
            o.ssh_config_file = scf if scf in ("", "none") else _expand(scf)
        if get("connect_timeout", "").strip():
            o.connect_timeout = _parse_seconds("connect_timeout", values["connect_timeout"]
                                               ) or 60.0
        if get("timeout", "").strip():
            o.timeout = _parse_seconds("timeout", values["timeout"])
        o.ssh = _space_sep_list("ssh", get("ssh", ""))
        if o.ssh and o.known_hosts_file == "none":
            raise ConfigError("known_hosts_file = none cannot be used with the ssh option: "
                              "the ssh program always checks host keys here "
                              "(StrictHostKeyChecking=yes)")
        for key in ("socks_proxy", "http_proxy"):
            if get(key, "").strip():
                raise ConfigError(f"{key} is not supported by pysync's sftp backend")
        return o
