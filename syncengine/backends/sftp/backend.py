"""The sftp backend class: rclone's ``sftp`` remote over pooled SSH connections."""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import errno
import getpass
import os
import posixpath
import re
import socket
import stat as _stat
import struct
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, cast

import paramiko
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_EXTENDED,
    CMD_EXTENDED_REPLY,
    CMD_FSETSTAT,
    CMD_HANDLE,
    CMD_OPEN,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_READ,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    SFTPError,
)
from paramiko.sftp_attr import SFTPAttributes

from ... import log
from ...errors import ConfigError, DirNotFoundError, PysyncError, worded
from ...hashing import canonical
from ...units import go_quote
from ..base import Entry, Features
from ..pool import Lease, Pool
from . import hashbatch, wire
from ._paramiko import ssh_config_lookup
from .commands import (
    _COMMAND_OPTIONS,
    _EMPTY_HASH,
    _HASH_CANDIDATES,
    _NATIVE_ONLY,
    _POWERSHELL_ALGO,
    DEFAULT_HASHES,
    _parse_hash,
    _powershell_commands,
    _quote_shell_path,
)
from .errors import (
    _NETWORK_ERRNOS,
    HostKeyError,
    _conn_error,
    _errno_error,
    _rclone_error,
)
from .hostkeys import (
    _blob_type,
    _HostKeyVerifier,
)
from .io import _IN_FLIGHT, _Reader, _Writer
from .mux import CommandMaster, user_multiplexes
from .options import (
    _DEFAULT_CHUNK,
    _MAX_CHUNK,
    SftpOptions,
    _current_user,
    _expand,
    _parse_int,
    _Secret,
)
from .transport import (
    _AEAD_CIPHERS,
    _KEEPALIVE,
    _PACKET,
    _WINDOW,
    _close_conn,
    _Conn,
    _conn_alive,
    _describe_exc,
    _ExternalConn,
    _load_key_file,
    _load_private_key,
    _PipeChannel,
    _read_public_blob,
    _readdir,
    _SftpClient,
)

#: A batched hash request's answer when its path must be hashed by a command of its own.
_AGAIN = object()


def _attr_entry(rel: str, attr: SFTPAttributes) -> Entry | None:
    mode = attr.st_mode or 0
    mtime = int(attr.st_mtime or 0) * 1_000_000_000
    if _stat.S_ISDIR(mode):
        return Entry(rel, -1, mtime, True)
    if _stat.S_ISREG(mode) or not mode:
        return Entry(rel, int(attr.st_size or 0), mtime, False)
    return None



# ----- the backend -----------------------------------------------------------------------------

_LIVE: weakref.WeakSet[SftpBackend] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:  # send proper disconnects rather than dropping TCP connections
    for backend in list(_LIVE):
        try:
            backend.close()
        except Exception:
            pass


class SftpBackend:
    """Files under ``root`` on an SFTP server.

    ``options`` is an :class:`SftpOptions` or an rclone config mapping (values as rclone
    stores them, secrets obscured). ``root`` is absolute, or relative to the login
    directory. The first connection is made here, so that an unreachable host, a refused
    host key or failed authentication raise ConfigError (HostKeyError) at once.

    Thread safety: every thread works on its own pooled connection (see :mod:`.pool`); an
    open reader or writer holds its thread's connection until closed, so it must be used and
    closed by the thread that opened it (as the engine's transfers do).
    """

    def __init__(self, options: SftpOptions | Mapping[str, str], root: str = "", *,
                 name: str = "") -> None:
        self.opts = options if isinstance(options, SftpOptions) else \
            SftpOptions.from_mapping(options)
        o = self.opts
        self.name = name
        if not o.host and not o.ssh:
            raise ConfigError("sftp remote needs a host")
        self._ssh_cfg = self._ssh_config(o.host)
        self.hostname = str(self._ssh_cfg.get("hostname") or o.host)
        self.port = o.port or _parse_int("port", str(self._ssh_cfg.get("port") or "22"))
        self.user = o.user or str(self._ssh_cfg.get("user") or "") or _current_user()
        shown = "/" if root.startswith("/") and not root.strip("/") else root.rstrip("/")
        self._url = f"sftp://{self.user}@{o.host}:{self.port}/{shown}"
        self._env = self._parse_env(o.set_env)
        if o.ssh:  # the ssh program checks host keys and authenticates
            self._verifier = _HostKeyVerifier(
                host_id=self.hostname, mode="none", read_files=[], write_file="", pinned=[],
                accept_new=False, subject=self.describe())
            self._keys = []
        else:
            self._verifier = self._make_verifier()
            self._keys = self._load_keys()
        self._password: _Secret = o.password
        self._password_lock = threading.Lock()
        self._serial = 0
        self._serial_lock = threading.Lock()
        self._features: Features | None = None
        self._features_lock = threading.Lock()
        self._shell = ""
        self._hash_cmds: dict[str, str] = {}
        self._batchers: dict[str, hashbatch.Coalescer] = {}
        self._batch_lock = threading.Lock()
        # the ssh option's remote commands share one master connection (mux.py)
        self._master: CommandMaster | None = None
        self._master_lock = threading.Lock()
        self._master_off = not o.ssh or user_multiplexes(o.ssh)
        self._chunk = o.chunk_size
        self._posix_rename = True
        max_idle = o.connections or 64
        self._pool: Pool[_Conn] = Pool(self._connect, close=_close_conn, alive=_conn_alive,
                                       is_broken=self._is_broken, max_idle=max_idle,
                                       max_open=o.connections, idle_timeout=o.idle_timeout)
        try:
            lease = self._pool.lease()
        except PysyncError as err:  # host key or authentication refused
            raise type(err)(f"NewFs: couldn't connect SSH: {err}") from None
        except Exception as err:
            raise ConfigError("NewFs: couldn't connect SSH: "
                              f"{_describe_exc(err, self.hostname, self.port)}") from None
        try:
            conn = lease.conn
            self._posix_rename = "posix-rename@openssh.com" in conn.client.extensions
            if not self._chunk:
                self._chunk = self._negotiate_chunk(conn.client)
            self.root = self._resolve_root(conn.client, root)
        except Exception as err:
            lease.release(broken=True)
            raise ConfigError(f"NewFs: {_describe_exc(err, self.hostname, self.port)}"
                              ) from None
        lease.release()
        log.debug(self, f"Using root directory {self.root!r} (chunk size {self._chunk})")
        _LIVE.add(self)

    # ----- set-up helpers ---------------------------------------------------------------

    def _ssh_config(self, host: str) -> dict[str, Any]:
        path = self.opts.ssh_config_file
        if not path or path == "none":
            return {}
        path = _expand(path)
        if not os.path.isfile(path):
            return {}
        try:
            found = ssh_config_lookup(path, host)
        except Exception as err:
            log.debug(None, f"ignoring ssh config {path}: {err}")
            return {}
        for key in ("proxycommand", "proxyjump"):
            if found.get(key):
                log.notice(None, f"sftp: ignoring {key} for {host} from {path} (not supported)")
        return found

    @staticmethod
    def _parse_env(items: tuple[str, ...]) -> dict[str, str]:
        env: dict[str, str] = {}
        for item in items:
            name, eq, value = item.partition("=")
            if not eq:
                raise ConfigError(f'no = found in env var "{name}"')
            env[name] = value
        return env

    def _make_verifier(self) -> _HostKeyVerifier:
        o = self.opts
        host_id = str(self._ssh_cfg.get("hostkeyalias") or self.hostname)
        if self.port != 22:
            host_id = f"[{host_id}]:{self.port}"
        subject = self.describe()
        if o.known_hosts_file == "none":
            log.notice(subject, "No host key validation is being performed "
                                "(known_hosts_file = none)")
            return _HostKeyVerifier(host_id=host_id, mode="none", read_files=[], write_file="",
                                    pinned=[], accept_new=False, subject=subject)
        if o.pin_host_key:
            log.notice(subject, "pin_host_key is not supported by pysync - ignored (use "
                                "accept_new_host_key)")
        if o.known_hosts_file:
            files = [o.known_hosts_file]
            return _HostKeyVerifier(host_id=host_id, mode="known_hosts", read_files=files,
                                    write_file=files[0], pinned=[],
                                    accept_new=o.accept_new_host_key, subject=subject)
        if o.host_keys:
            pinned: list[bytes] = []
            for i, item in enumerate(o.host_keys, 1):
                fields = item.split()
                try:
                    if len(fields) != 2:
                        raise ValueError
                    blob = base64.b64decode(fields[1], validate=True)
                except (binascii.Error, ValueError):
                    raise ConfigError(f'couldn\'t parse host_keys: entry {i}: expected '
                                      '"<algo> <base64>"') from None
                if _blob_type(blob) != fields[0]:
                    raise ConfigError(f"couldn't parse host_keys: entry {i}: stated algorithm "
                                      f'"{fields[0]}" doesn\'t match the key\'s type '
                                      f'"{_blob_type(blob)}"')
                pinned.append(blob)
            return _HostKeyVerifier(host_id=host_id, mode="pinned", read_files=[],
                                    write_file="", pinned=pinned, accept_new=False,
                                    subject=subject)
        user_files = [_expand(p) for p in
                      str(self._ssh_cfg.get("userknownhostsfile") or "").split()] or \
            [_expand("~/.ssh/known_hosts"), _expand("~/.ssh/known_hosts2")]
        global_files = [_expand(p) for p in
                        str(self._ssh_cfg.get("globalknownhostsfile") or "").split()] or \
            ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"]
        return _HostKeyVerifier(host_id=host_id, mode="known_hosts",
                                read_files=user_files + global_files, write_file=user_files[0],
                                pinned=[], accept_new=o.accept_new_host_key, subject=subject)

    def _load_keys(self) -> list[tuple[str, paramiko.PKey]]:
        """The private keys to offer (explicit key, else ssh config / default identities)."""
        o = self.opts
        keys: list[tuple[str, paramiko.PKey]] = []
        passphrase = o.key_file_pass.get() or None
        if o.key_pem:
            try:
                text = o.key_pem.encode("latin-1", "backslashreplace").decode("unicode_escape")
            except UnicodeDecodeError:
                raise ConfigError("pem key not formatted properly") from None
            keys.append(("key_pem", _load_private_key(text.encode(), passphrase, "key_pem")))
        elif o.key_file and not o.key_use_agent:
            keys.append((o.key_file, _load_key_file(o.key_file, passphrase)))
        if keys and (o.pubkey or o.pubkey_file):
            cert = o.pubkey or o.pubkey_file
            try:
                keys[0][1].load_certificate(cert)
            except Exception as err:
                raise ConfigError(f"unable to load certificate: {err}") from None
        explicit = bool(o.password or o.key_file or o.key_pem or o.ask_password)
        if not explicit:
            names = [str(p) for p in self._ssh_cfg.get("identityfile") or []] or \
                ["~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"]
            for name in names:
                path = _expand(name)
                if not os.path.isfile(path):
                    continue
                try:
                    keys.append((path, paramiko.PKey.from_path(path)))
                except Exception as err:  # encrypted without passphrase, unknown type...
                    log.debug(None, f"sftp: skipping identity {path}: {type(err).__name__}")
        return keys

    def _use_agent(self) -> bool:
        o = self.opts
        return o.key_use_agent or not (o.password or o.key_file or o.key_pem or o.ask_password)

    def _agent_keys(self, agent: paramiko.Agent) -> list[tuple[str, paramiko.PKey]]:
        keys = list(agent.get_keys())
        o = self.opts
        if o.key_file and keys:
            pub = _read_public_blob(o.key_file)
            keys = [k for k in keys if k.asbytes() == pub]
            if not keys:
                raise ConfigError("private key not found in the ssh-agent")
        return [(f"agent key {k.get_name()}", k) for k in keys]

    def _negotiate_chunk(self, client: _SftpClient) -> int:
        """The SFTP payload size: the server's stated limits, else rclone's 32 KiB."""
        if "limits@openssh.com" not in client.extensions:
            return _DEFAULT_CHUNK
        try:
            t, msg = client._request(CMD_EXTENDED, "limits@openssh.com")
            if t != CMD_EXTENDED_REPLY:
                return _DEFAULT_CHUNK
            msg.get_int64()  # max packet length
            max_read, max_write = msg.get_int64(), msg.get_int64()
        except (OSError, SFTPError, EOFError):
            return _DEFAULT_CHUNK
        limits = [x for x in (max_read, max_write) if x > 0]
        return max(_DEFAULT_CHUNK, min([_MAX_CHUNK, *limits]))

    def _resolve_root(self, client: _SftpClient, root: str) -> str:
        if root.startswith("/"):
            return posixpath.normpath(root) if root.strip("/") else "/"
        home = client.normalize(".")
        return posixpath.normpath(posixpath.join(home, root)) if root else home

    # ----- connections ------------------------------------------------------------------

    def _ssh_command(self, *extra: str) -> list[str]:
        """The external ssh command (the ``ssh`` option) with ``extra`` arguments appended.

        Host keys stay checked whatever the user's ssh config says: pysync's options go
        first, and ssh keeps the first value it gets for an option: ``BatchMode=yes`` (no
        prompt: fail instead), ``StrictHostKeyChecking=yes`` (``accept-new`` with
        ``accept_new_host_key``), and the remote's ``known_hosts_file`` if set.
        """
        o = self.opts
        strict = "accept-new" if o.accept_new_host_key else "yes"
        args = [o.ssh[0], "-o", "BatchMode=yes", "-o", f"StrictHostKeyChecking={strict}"]
        if o.known_hosts_file:
            args += ["-o", f"UserKnownHostsFile={o.known_hosts_file}"]
        return args + list(o.ssh[1:]) + list(extra)

    def _spawn_ssh(self, *extra: str, stderr: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
        cmd = self._ssh_command(*extra)
        log.debug(self, f"ssh external: running: {' '.join(cmd)}")
        try:
            return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=stderr, bufsize=0, start_new_session=True)
        except OSError as err:
            raise ConfigError(f"ssh external: start process: {err.strerror or err}: "
                              f"{cmd[0]}") from None

    def _connect_external(self) -> _Conn:
        """Start SFTP over the ``ssh`` program: ``<ssh option> -s <subsystem>`` (rclone's
        external ssh), the SFTP packets going through its stdin and stdout."""
        o = self.opts
        # ssh's messages go to a file: a pipe nobody reads during the session could fill
        errors = tempfile.TemporaryFile()
        try:
            if o.server_command:
                proc = self._spawn_ssh(o.server_command, stderr=errors)
            else:
                proc = self._spawn_ssh("-s", o.subsystem, stderr=errors)
        except BaseException:
            errors.close()
            raise
        chan = _PipeChannel(proc, errors, o.timeout or None)
        try:
            client = _SftpClient(chan)
        except BaseException as err:
            reason = chan.stop()
            if isinstance(err, (EOFError, OSError, SFTPError, paramiko.SSHException)):
                if "host key verification failed" in reason.lower() or \
                        "host key" in reason.lower() and "known_hosts" in reason.lower():
                    raise HostKeyError(f"ssh external: {reason}") from None
                raise ConfigError(f"ssh external: {reason or err or 'connection closed'}"
                                  ) from None
            raise
        with self._serial_lock:
            self._serial += 1
            serial = self._serial
        log.debug(self, f"New connection #{serial} through {o.ssh[0]} (pid {proc.pid})")
        return _ExternalConn(chan, client, serial)

    def _connect(self) -> _Conn:
        """Open, verify, authenticate and start SFTP on one new SSH connection."""
        o = self.opts
        if o.ssh:
            return self._connect_external()
        sock = socket.create_connection((self.hostname, self.port), timeout=o.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            disabled: dict[str, list[str]] = {}
            if not o.use_insecure_cipher:
                disabled = {"ciphers": ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"],
                            "kex": ["diffie-hellman-group-exchange-sha1",
                                    "diffie-hellman-group1-sha1",
                                    "diffie-hellman-group14-sha1"]}
            transport = paramiko.Transport(sock, default_window_size=_WINDOW,
                                           default_max_packet_size=_PACKET,
                                           disabled_algorithms=disabled)
        except BaseException:
            sock.close()
            raise
        try:
            wire.install(transport)
            self._configure(transport)
            transport.banner_timeout = o.connect_timeout
            transport.handshake_timeout = o.connect_timeout
            transport.auth_timeout = o.connect_timeout
            transport.start_client(timeout=o.connect_timeout)
            transport.set_keepalive(_KEEPALIVE)
            new_key = self._verifier.check(transport.get_remote_server_key())
            self._authenticate(transport)
            if new_key is not None:
                self._verifier.commit(new_key)
            chan = transport.open_session(window_size=_WINDOW, max_packet_size=_PACKET,
                                          timeout=o.connect_timeout)
            wire.lean_channel(transport, chan)
            if self._env:
                chan.update_environment(self._env)
            if o.server_command:
                chan.exec_command(o.server_command)
            else:
                chan.invoke_subsystem(o.subsystem)
            chan.settimeout(o.timeout or None)
            client = _SftpClient(chan)
        except BaseException:
            transport.close()
            raise
        with self._serial_lock:
            self._serial += 1
            serial = self._serial
        log.debug(self, f"New connection #{serial} to {self.hostname}:{self.port} "
                        f"({transport.remote_cipher})")
        return _Conn(transport, chan, client, serial)

    def _configure(self, transport: paramiko.Transport) -> None:
        o = self.opts
        so = transport.get_security_options()
        try:
            if o.ciphers:
                so.ciphers = tuple(c for c in o.ciphers if c in so.ciphers) or o.ciphers
            else:
                # the AEAD ciphers first, as rclone (Go's x/crypto/ssh) prefers them: one
                # AES-GCM call per packet instead of AES-CTR plus an HMAC-SHA2 over it, which
                # costs paramiko about a fifth of its CPU time on bulk transfers
                aead = tuple(c for c in _AEAD_CIPHERS if c in so.ciphers)
                so.ciphers = aead + tuple(c for c in so.ciphers if c not in aead)
            if o.key_exchange:
                so.kex = tuple(k for k in o.key_exchange if k in so.kex) or o.key_exchange
            if o.macs:
                so.digests = tuple(m for m in o.macs if m in so.digests) or o.macs
            if o.host_key_algorithms:
                so.key_types = tuple(k for k in o.host_key_algorithms if k in so.key_types) \
                    or o.host_key_algorithms
            else:
                so.key_types = self._verifier.preferred_algorithms(tuple(so.key_types))
        except ValueError as err:
            raise ConfigError(f"unsupported algorithm setting: {err}") from None

    def _authenticate(self, transport: paramiko.Transport) -> None:
        """Try keys (agent, key file, identities), then the password; ConfigError if none."""
        user = self.user
        tried: list[str] = []
        allowed: list[str] | None = None
        agent: paramiko.Agent | None = None
        try:
            keys = list(self._keys)
            if self._use_agent():
                agent = paramiko.Agent()
                keys = self._agent_keys(agent) + keys
            for label, key in keys:
                if allowed is not None and "publickey" not in allowed:
                    break
                if "publickey" not in tried:
                    tried.append("publickey")
                try:
                    transport.auth_publickey(user, key)
                except paramiko.BadAuthenticationType as err:
                    allowed = list(err.allowed_types)
                except paramiko.AuthenticationException:
                    log.debug(self, f"sftp: {label} refused")
                if transport.is_authenticated():
                    return
        except paramiko.SSHException as err:
            if isinstance(err, paramiko.AuthenticationException):
                raise ConfigError(f"ssh: authentication failed: {err}") from None
            raise
        finally:
            if agent is not None:
                agent.close()
        password = self._get_password()
        if password:
            if allowed is None or "password" in allowed:
                tried.append("password")
                try:
                    transport.auth_password(user, password.get(), fallback=False)
                except paramiko.BadAuthenticationType as err:
                    allowed = list(err.allowed_types)
                except paramiko.AuthenticationException:
                    pass
            if not transport.is_authenticated() and (
                    allowed is None or "keyboard-interactive" in allowed):
                tried.append("keyboard-interactive")
                try:
                    transport.auth_interactive(
                        user, lambda title, instr, prompts: [password.get() for _ in prompts])
                except paramiko.AuthenticationException:
                    pass
        if transport.is_authenticated():
            return
        methods = " ".join(dict.fromkeys(tried)) or "none"
        hint = "" if tried else " (no key, password or ssh-agent key to offer)"
        raise ConfigError(f"ssh: handshake failed: ssh: unable to authenticate as {user}, "
                          f"attempted methods [{methods}], no supported methods remain{hint}")

    def _get_password(self) -> _Secret:
        if self._password or not self.opts.ask_password:
            return self._password
        with self._password_lock:
            while not self._password:
                self._password = _Secret(getpass.getpass("Enter SFTP password: "))
        return self._password

    @staticmethod
    def _is_broken(exc: BaseException) -> bool:
        if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
            return True
        return isinstance(exc, (EOFError, paramiko.SSHException, SFTPError, socket.timeout,
                                TimeoutError, struct.error))

    def _lease(self) -> Lease[_Conn]:
        try:
            return self._pool.lease()
        except PysyncError:
            raise
        except (OSError, EOFError, paramiko.SSHException) as err:
            raise _conn_error(err, "couldn't connect SSH") from err

    def _map_error(self, err: BaseException, conn: _Conn, path: str | None) -> BaseException:
        """A paramiko/socket exception as the OSError (or PysyncError) the engine expects."""
        if isinstance(err, (PysyncError, KeyboardInterrupt, SystemExit)) or getattr(
                err, "worded", False):
            return err
        alive = conn.alive()
        if isinstance(err, OSError) and err.errno in (errno.ENOENT, errno.EACCES) and alive:
            return _errno_error(err.errno, err.strerror or os.strerror(err.errno), path)
        if not alive or self._is_broken(err):
            return _conn_error(err)
        if isinstance(err, OSError) and err.errno is None:  # an SFTP status: "Failure"...
            return _errno_error(errno.EIO, str(err) or "Failure", path)
        return err

    def _io_error(self, err: BaseException, lease: Lease[_Conn], path: str) -> BaseException:
        mapped = self._map_error(err, lease.conn, path)
        if self._is_broken(mapped) or not lease.conn.alive():
            lease.mark_broken()
        return mapped

    @contextlib.contextmanager
    def _client(self, path: str | None = None) -> Iterator[_SftpClient]:
        """This thread's SFTP client; errors leaving the block are mapped (see _map_error)."""
        lease = self._lease()
        try:
            yield lease.conn.client
        except BaseException as err:
            mapped = self._map_error(err, lease.conn, path)
            lease.release(broken=self._is_broken(mapped) or not lease.conn.alive())
            if mapped is err:
                raise
            raise mapped from err
        lease.release()

    # ----- naming -----------------------------------------------------------------------

    def describe(self) -> str:
        """rclone's name of this Fs: ``sftp://user@host:port/path``."""
        return self._url

    def __repr__(self) -> str:
        return f"SftpBackend({self._url!r})"

    def __str__(self) -> str:
        return self._url

    def full(self, path: str) -> str:
        """The server path of ``path`` (relative to the root)."""
        if not path:
            return self.root
        return posixpath.join(self.root, path)

    @staticmethod
    def _b(full: str) -> bytes:
        return full.encode("utf-8", "surrogateescape")

    # ----- features ---------------------------------------------------------------------

    @property
    def features(self) -> Features:
        """What this remote can do; hash support is detected on first use (rclone's way)."""
        if self._features is None:
            with self._features_lock:
                if self._features is None:
                    self._features = self._detect_features()
        return self._features

    @features.setter
    def features(self, value: Features) -> None:
        self._features = value

    def _detect_features(self) -> Features:
        hashes = self._detect_hashes()
        return Features(name="sftp", precision_ns=1_000_000_000, hashes=hashes,
                        can_set_mtime=self.opts.set_modtime, partial_uploads=True,
                        writer_at=False, server_side_copy=self.opts.copy_is_hardlink,
                        case_insensitive=False,
                        extra={"protocol": "sftp", "shell_type": self._shell,
                               "hash_commands": dict(self._hash_cmds), "chunk_size": self._chunk,
                               "posix_rename": self._posix_rename,
                               "connections": self.opts.connections})

    @staticmethod
    def _shell_from_output(out: bytes) -> str:
        """rclone's reading of ``echo ${ShellId}%ComSpec%``: unix, powershell or cmd."""
        text = out.decode("utf-8", "replace").strip()
        if text.startswith("Microsoft.PowerShell"):
            return "powershell"
        if text and not text.endswith("%ComSpec%") and (".exe" in text.lower() or
                                                         ".com" in text.lower()):
            return "cmd"
        return "unix"

    def _detect_hashes(self) -> tuple[str, ...]:
        """Detect the shell and the hash commands (one remote command for a POSIX shell)."""
        o = self.opts
        if o.disable_hashcheck or o.shell_type == "none":
            self._shell = o.shell_type or self._shell
            return ()
        kinds = o.hashes or DEFAULT_HASHES
        candidates = {k: (_NATIVE_ONLY.get(k, _HASH_CANDIDATES.get(k, ())) if not o.hashes
                          else _HASH_CANDIDATES.get(k, ())) for k in kinds}
        found: dict[str, str] = {}
        probe: list[str] = []
        for kind in kinds:
            cmd = o.hash_commands.get(kind, "")
            if cmd == "none":
                continue
            if cmd:
                found[kind] = cmd
            elif candidates[kind]:
                probe.append(kind)
        shell = o.shell_type
        if not shell or shell == "unix":
            # the shell test and the probes of a POSIX shell in one command; other shells
            # fail to parse it and are then detected alone
            script = self._probe_script(probe, candidates)
            cmd = "echo ${ShellId}%ComSpec%" + (f"; {script}" if script else "")
            try:
                out, _, status = self._run(cmd, timeout=60)
            except OSError as err:
                log.debug(self, f"Failed to run shell type detection command: {err}")
                self._shell = shell or "none"
                return ()
            first = out.split(b"\n", 1)[0].strip()
            if not shell and first.endswith(b"%ComSpec%") and first != b"%ComSpec%":
                shell = self._shell_from_output(first)
            elif not shell and not first.endswith(b"%ComSpec%"):
                try:  # not a POSIX shell: detect it on its own, as rclone does
                    again, _, status = self._run("echo ${ShellId}%ComSpec%", timeout=30)
                except OSError:
                    again, status = b"", 1
                shell = self._shell_from_output(again) if status == 0 else "unix"
            shell = shell or "unix"
            if shell == "unix":
                got, absent = self._parse_probe(out, probe, candidates)
                found.update(got)
                probe = [k for k in probe if k not in found and k not in absent]
            if not o.shell_type:
                log.debug(self, f'Shell type "{shell}" detected (set option shell_type to '
                                "override)")
        self._shell = shell
        for kind in probe:
            cmd = self._probe_one(kind, candidates[kind])
            if cmd:
                found[kind] = cmd
        self._hash_cmds = {k: found[k] for k in kinds if k in found}
        for kind, cmd in self._hash_cmds.items():
            log.debug(self, f'Hash command for {kind} is "{cmd}" (set {_COMMAND_OPTIONS[kind]} '
                            "to override)")
        return tuple(self._hash_cmds)

    @staticmethod
    def _probe_script(kinds: list[str], candidates: Mapping[str, tuple[str, ...]]) -> str:
        """A POSIX shell script testing each candidate on the empty input, printing
        ``<kind>:<index>`` for the first that works or ``<kind>:-``."""
        parts = []
        for kind in kinds:
            expr = f"echo {kind}:-"
            for i, cmd in reversed(list(enumerate(candidates[kind]))):
                expr = (f'case "$({cmd} </dev/null 2>/dev/null)" in {_EMPTY_HASH[kind]}*) '
                        f"echo {kind}:{i};; *) {expr};; esac")
            parts.append(expr)
        return "; ".join(parts)

    @staticmethod
    def _parse_probe(out: bytes, kinds: list[str], candidates: Mapping[str, tuple[str, ...]]
                     ) -> tuple[dict[str, str], set[str]]:
        """The commands found by :meth:`_probe_script` and the kinds it found none for."""
        found: dict[str, str] = {}
        absent: set[str] = set()
        for line in out.decode("utf-8", "replace").split():
            kind, _, index = line.partition(":")
            if kind not in kinds:
                continue
            if index == "-":
                absent.add(kind)
            elif index.isdigit() and int(index) < len(candidates[kind]):
                found[kind] = candidates[kind][int(index)]
        return found, absent

    def _probe_one(self, kind: str, commands: tuple[str, ...]) -> str:
        """rclone's probing: run each candidate on the empty input, keep the first right one."""
        candidates = [(c, c) for c in commands]
        if self._shell == "powershell" and kind in _POWERSHELL_ALGO:
            candidates.append(_powershell_commands(kind))
        for file_cmd, empty_cmd in candidates:
            try:
                out, _, status = self._run(empty_cmd, timeout=60)
            except OSError as err:
                log.debug(self, f"Hash command skipped: {err}")
                continue
            if status == 0 and _parse_hash(out) == _EMPTY_HASH[kind]:
                return file_cmd
        return ""

    # ----- remote commands --------------------------------------------------------------

    def _run(self, cmd: str, *, timeout: float | None = None) -> tuple[bytes, bytes, int]:
        """Run ``cmd`` through this thread's SSH connection: (stdout, stderr, exit status).

        ``timeout`` bounds each wait for output (None: wait as long as it takes, as for a
        hash of a huge file; the connection's keepalives keep it open meanwhile).
        """
        log.debug(self, f"Running remote command: {cmd}")
        if self.opts.ssh:
            return self._run_external(cmd, timeout)
        lease = self._lease()
        chan: paramiko.Channel | None = None
        try:
            chan = lease.conn.transport.open_session(timeout=self.opts.connect_timeout)
            if self._env:
                chan.update_environment(self._env)
            chan.settimeout(timeout)
            chan.exec_command(cmd.encode("utf-8", "surrogateescape"))
            chan.shutdown_write()
            out = chan.makefile("rb").read()
            err = chan.makefile_stderr("rb").read()
            status = chan.recv_exit_status()
        except BaseException as exc:
            mapped = self._map_error(exc, lease.conn, None)
            lease.release(broken=self._is_broken(mapped) or not lease.conn.alive())
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            if chan is not None:
                chan.close()
        lease.release()
        self._log_result(out, err, status)
        return out, err, status

    def _log_result(self, out: bytes, err: bytes, status: int) -> None:
        """rclone's DEBUG line for a remote command that succeeded; for one that failed,
        its exit status and error output."""
        if status == 0:
            log.debug(self, "Remote command result: "
                      + out.strip().decode("utf-8", "replace"))
        else:
            log.debug(self, f"Remote command failed (exit {status}): "
                      + err.strip().decode("utf-8", "replace")[:200])

    def _run_external(self, cmd: str, timeout: float | None) -> tuple[bytes, bytes, int]:
        """``cmd`` through a new run of the ssh program, as rclone's external ssh runs it,
        but as a session of this backend's master connection when it has one (mux.py):
        no key exchange and authentication per command."""
        master = self._command_master()
        if master is not None and master.sessions.acquire(blocking=False):
            try:
                out, err, status = self._ssh_run(cmd, timeout, master.client_args())
            finally:
                master.sessions.release()
            if status != 255:
                self._log_result(out, err, status)
                return out, err, status
            # the master refused the session (sshd's MaxSessions...) or ended: own ssh run
            log.debug(self, "ssh external: shared connection failed ("
                      + err.decode("utf-8", "replace").strip()[:200] + "), running alone")
        out, err, status = self._ssh_run(cmd, timeout, ())
        self._log_result(out, err, status)
        return out, err, status

    def _ssh_run(self, cmd: str, timeout: float | None, extra: tuple[str, ...]
                 ) -> tuple[bytes, bytes, int]:
        """One run of the ssh program for ``cmd`` (its status 255, ssh's own failure, is
        raised as a connection error unless ``extra`` makes it a multiplexing client)."""
        proc = self._spawn_ssh(*extra, cmd)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise _conn_error(TimeoutError(f"remote command timed out after {timeout:g}s"),
                              "ssh external") from None
        status = proc.returncode
        if status == 255 and not extra:  # ssh failed (connection, host key, authentication)
            reason = err.decode("utf-8", "replace").strip().splitlines()
            raise _conn_error(ConnectionResetError(errno.ECONNRESET,
                                                   reason[-1] if reason else "ssh failed"),
                              "ssh external")
        return out, err, status

    def _command_master(self) -> CommandMaster | None:
        """The running master connection for remote commands, started on first use (and
        again if it ended); None where commands get their own ssh runs."""
        with self._master_lock:
            master = self._master
            if master is not None and master.alive():
                return master
            if master is not None:
                master.stop()
                self._master = None
            if self._master_off:
                return None
            o = self.opts
            session = (o.server_command,) if o.server_command else ("-s", o.subsystem)
            master = CommandMaster.start(self._spawn_ssh, session,
                                         float(o.connect_timeout or 60),
                                         lambda text: log.debug(self, text))
            if master is None:
                self._master_off = True  # no second try: each command runs its own ssh
            self._master = master
            return master

    def _shell_path(self, path: str) -> str:
        override = self.opts.path_override
        if override:
            if override.startswith("@"):
                return posixpath.join(override[1:], self.root.lstrip("/"), path)
            return posixpath.join(override, path) if path else override
        full = self.full(path)
        if self._shell in ("powershell", "cmd") and re.match(r"^/[A-Za-z]:($|/)", full):
            return full[1:]
        return full

    # ----- listing ----------------------------------------------------------------------

    def list_dir(self, path: str, *, want_stat: bool = True) -> Iterator[Entry]:
        """The children of ``path`` (symlinks followed unless ``skip_links``).

        Raises DirNotFoundError when ``path`` is not a directory. ``want_stat`` is accepted
        for the engine's sake: READDIR carries sizes and times anyway.
        """
        full = self.full(path)
        prefix = path + "/" if path else ""
        entries: list[Entry] = []
        with self._client(full) as client:
            try:
                items = _readdir(client, self._b(full))
            except FileNotFoundError:
                raise DirNotFoundError("directory not found", path=full) from None
            except OSError as err:
                if err.errno is None and self._is_not_dir(client, full):
                    raise DirNotFoundError("directory not found", path=full) from None
                raise
            for raw, attr in items:
                name = raw.decode("utf-8", "surrogateescape")
                rel = prefix + name
                mode = attr.st_mode or 0
                if _stat.S_ISLNK(mode) or (mode and not _stat.S_ISDIR(mode)
                                            and not _stat.S_ISREG(mode)):
                    if self.opts.skip_links:
                        continue
                    if _stat.S_ISLNK(mode):
                        try:
                            attr = client.stat(self._b(posixpath.join(full, name)))
                        except FileNotFoundError:
                            log.notice(rel, "Can't follow symlink: broken link")
                            continue
                        except OSError as err:
                            log.error(rel, f"stat of non-regular file failed: {err}")
                            continue
                entry = _attr_entry(rel, attr)
                if entry is None:
                    log.notice(rel, "Can't transfer non file/directory")
                    continue
                entries.append(entry)
        return iter(entries)

    def _is_not_dir(self, client: _SftpClient, full: str) -> bool:
        try:
            return not _stat.S_ISDIR(client.stat(self._b(full)).st_mode or 0)
        except FileNotFoundError:
            return True

    def stat(self, path: str) -> Entry | None:
        """The entry at ``path`` (symlinks followed) or None."""
        full = self.full(path)
        with self._client(full) as client:
            try:
                attr = client.stat(self._b(full))
            except FileNotFoundError:
                return None
        return _attr_entry(path, attr)

    # ----- data -------------------------------------------------------------------------

    def _open_handle(self, client: _SftpClient, full: str, flags: int) -> bytes:
        t, msg = client._request(CMD_OPEN, self._b(full), flags, SFTPAttributes())
        if t != CMD_HANDLE:
            raise SFTPError("Expected handle")
        return bytes(msg.get_binary())

    def _depth(self, disabled: bool) -> int:
        if disabled:
            return 1
        return max(1, min(self.opts.concurrency, _IN_FLIGHT // self._chunk))

    def _opened(self, full: str, make: Callable[[Lease[_Conn], _SftpClient], BinaryIO]
                ) -> BinaryIO:
        """``make(lease, client)`` on a leased connection: a reader or writer that keeps the
        lease; on failure the lease is released (broken when the connection is) and the
        error translated once, here."""
        lease = self._lease()
        try:
            return make(lease, lease.conn.client)
        except BaseException as err:
            mapped = self._map_error(err, lease.conn, full)
            lease.release(broken=self._is_broken(mapped) or not lease.conn.alive())
            if mapped is err:
                raise
            raise mapped from err

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        """A reader positioned at ``offset`` with read-ahead (``concurrency`` requests)."""
        full = self.full(path)

        def make(lease: Lease[_Conn], client: _SftpClient) -> BinaryIO:
            handle = self._open_handle(client, full, SFTP_FLAG_READ)
            return cast(BinaryIO, _Reader(self, lease, handle, full, max(0, offset), self._chunk,
                                          self._depth(self.opts.disable_concurrent_reads)))

        return self._opened(full, make)

    def open_write(self, path: str) -> BinaryIO:
        """A pipelined writer that truncates or creates ``path`` (parents created)."""
        full = self.full(path)
        flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_TRUNC

        def make(lease: Lease[_Conn], client: _SftpClient) -> BinaryIO:
            # errors worded as rclone's Put: mkParentDir, then Update's create
            try:
                try:
                    handle = self._open_handle(client, full, flags)
                except FileNotFoundError:
                    try:
                        self._mkdirs(client, posixpath.dirname(full))
                    except OSError as err:
                        raise _rclone_error("Put mkParentDir failed", err) from None
                    handle = self._open_handle(client, full, flags)
            except OSError as err:
                if getattr(err, "worded", False) or not hasattr(err, "sftp_text"):
                    raise
                raise _rclone_error("Update Create failed", err) from None
            return cast(BinaryIO, _Writer(self, lease, handle, full, self._chunk,
                                          self._depth(self.opts.disable_concurrent_writes)))

        return self._opened(full, make)

    def open_write_at(self, path: str, offset: int) -> BinaryIO:
        """A pipelined writer of the existing file ``path``, cut to ``offset`` bytes and
        writing from there (resuming a partial file)."""
        full = self.full(path)

        def make(lease: Lease[_Conn], client: _SftpClient) -> BinaryIO:
            handle = self._open_handle(client, full, SFTP_FLAG_WRITE)
            attr = SFTPAttributes()
            attr.st_size = offset
            try:
                client._request(CMD_FSETSTAT, handle, attr)
            except BaseException:
                with contextlib.suppress(Exception):
                    client._request(CMD_CLOSE, handle)
                raise
            return cast(BinaryIO, _Writer(self, lease, handle, full, self._chunk,
                                          self._depth(self.opts.disable_concurrent_writes),
                                          offset))

        return self._opened(full, make)

    # ----- changes ----------------------------------------------------------------------

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` over ``dst`` (posix-rename@openssh.com, else remove + rename)."""
        self._rename_full(self.full(src), self.full(dst))

    def _rename_full(self, fsrc: str, fdst: str) -> None:
        """Rename server path ``fsrc`` over ``fdst``, creating ``fdst``'s parents; errors
        worded as rclone's Move (``Move Rename failed: ...``)."""
        bsrc, bdst = self._b(fsrc), self._b(fdst)
        with self._client(fsrc) as client:
            try:
                try:
                    self._rename_once(client, bsrc, bdst)
                except FileNotFoundError:
                    try:
                        client.stat(bsrc)
                    except FileNotFoundError:
                        raise
                    try:
                        self._mkdirs(client, posixpath.dirname(fdst))
                    except OSError as err:
                        raise _rclone_error("Move mkParentDir failed", err) from None
                    self._rename_once(client, bsrc, bdst)
            except OSError as err:
                if getattr(err, "worded", False) or not hasattr(err, "sftp_text"):
                    raise
                raise _rclone_error("Move Rename failed", err) from None

    def _rename_once(self, client: _SftpClient, bsrc: bytes, bdst: bytes) -> None:
        if self._posix_rename:
            client.posix_rename(bsrc, bdst)
            return
        try:
            client.rename(bsrc, bdst)
        except FileNotFoundError:
            raise
        except OSError:
            try:
                client.remove(bdst)
            except FileNotFoundError:
                pass
            client.rename(bsrc, bdst)

    # ----- server-side move (optional, see base.ServerSideMove) ---------------------------

    def same_remote(self, other: object) -> bool:
        """The same config entry (rclone's SameConfig) and the same server and login (two
        on-the-fly ``:sftp,host=...:`` remotes share a name, not a server)."""
        if not isinstance(other, SftpBackend):
            return False
        return self.name == other.name and (self.hostname, self.port, self.user) == (
            other.hostname, other.port, other.user)

    def overlap_root(self) -> tuple[str, str]:
        """The server and the absolute root on it."""
        return f"sftp://{self.hostname}:{self.port}", self.root.strip("/")

    def move_from(self, other: object, path: str, target: str) -> bool:
        """A rename ON THE SERVER of ``other``'s file to ``target`` under this root, its
        parent directories created there (rclone's sftp Move)."""
        assert isinstance(other, SftpBackend)
        self._rename_full(other.full(path), self.full(target))
        return True

    def copy_from(self, other: object, path: str, target: str) -> bool:
        """A hard link ON THE SERVER from ``other``'s file to ``target`` under this root
        (``hardlink@openssh.com``), its parents created there: rclone's sftp Copy with
        ``copy_is_hardlink``. False when the server does not link (SSH_FX_OP_UNSUPPORTED, or
        no such extension), as rclone's ``fs.ErrorCantCopy``."""
        assert isinstance(other, SftpBackend)
        fsrc, fdst = other.full(path), self.full(target)
        with self._client(fdst) as client:
            if "hardlink@openssh.com" not in client.extensions:
                return False
            try:
                self._mkdirs(client, posixpath.dirname(fdst))
            except OSError as err:
                raise _rclone_error("Copy mkParentDir failed", err) from None
            try:
                client._request(CMD_EXTENDED, "hardlink@openssh.com", self._b(fsrc),
                                self._b(fdst))
            except OSError as err:
                if "SSH_FX_OP_UNSUPPORTED" in getattr(err, "sftp_text", ""):
                    return False
                raise _rclone_error("Copy failed", err) from None
        return True

    def remove(self, path: str) -> None:
        """Delete the file at ``path``."""
        full = self.full(path)
        with self._client(full) as client:
            try:
                client.remove(self._b(full))
            except (FileNotFoundError, PermissionError):
                raise
            except OSError:
                attr = client.stat(self._b(full))
                if _stat.S_ISDIR(attr.st_mode or 0):
                    raise IsADirectoryError(errno.EISDIR, "Is a directory", full) from None
                raise

    def mkdir(self, path: str) -> None:
        """Create ``path`` and its parents; fine if it exists as a directory."""
        full = self.full(path)
        with self._client(full) as client:
            self._mkdirs(client, full)

    def _mkdirs(self, client: _SftpClient, full: str) -> None:
        """Make directory ``full`` and its parents. Errors read as rclone's sftp mkdir's:
        ``mkdir dirExists failed: is a file not a directory`` when a file is in the way,
        ``mkdir "<path>" failed: <reason>`` when the server refuses."""
        if full in ("", "/", "."):
            return
        try:
            client.mkdir(self._b(full))
            return
        except FileNotFoundError:
            parent = posixpath.dirname(full)
            if parent == full:
                raise
            self._mkdirs(client, parent)
        except OSError as err:
            try:
                attr = client.stat(self._b(full))
            except FileNotFoundError:
                raise _rclone_error(f"mkdir {go_quote(full)} failed", err) from None
            if _stat.S_ISDIR(attr.st_mode or 0):
                return
            raise worded(errno.ENOTDIR, "mkdir dirExists failed: is a file not a directory"
                         ) from None
        try:
            client.mkdir(self._b(full))
        except OSError as err:
            if not _stat.S_ISDIR(client.stat(self._b(full)).st_mode or 0):
                raise _rclone_error(f"mkdir {go_quote(full)} failed", err) from None

    def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path`` (checked empty first, as rclone does)."""
        full = self.full(path)
        with self._client(full) as client:
            try:
                items = _readdir(client, self._b(full))
            except FileNotFoundError:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", full
                                        ) from None
            if items:
                raise OSError(errno.ENOTEMPTY, "Directory not empty", full)
            client.rmdir(self._b(full))

    def set_mtime(self, path: str, mtime_ns: int) -> None:
        """Set atime and mtime of ``path`` (whole seconds; a no-op when ``set_modtime`` is
        false)."""
        self.set_mtime_full(self.full(path), mtime_ns)

    def set_mtime_full(self, full: str, mtime_ns: int) -> None:
        """:meth:`set_mtime` of the server path ``full``."""
        if not self.opts.set_modtime:
            return
        secs = min(max(mtime_ns // 1_000_000_000, 0), 0xFFFFFFFF)
        with self._client(full) as client:
            try:
                client.utime(self._b(full), (secs, secs))
            except OSError as err:
                if not hasattr(err, "sftp_text"):
                    raise
                raise _rclone_error("SetModTime failed", err) from None

    def hash(self, path: str, kind: str) -> str | None:
        """The ``kind`` hash of ``path`` computed by the server's hash command, or None.

        None when the kind is not supported (or hashing is disabled) and when ``path`` is
        missing or a directory. Raises OSError when the command fails on a file.
        """
        return self.hash_sized(path, kind, -1)

    def hash_sized(self, path: str, kind: str, size: int) -> str | None:
        """:meth:`hash` of a file the caller knows to be ``size`` bytes (-1: unknown): a
        small one (up to ``hashbatch.SMALL``) shares its command with the small files
        asked for meanwhile (``sha1sum a b c``, see :mod:`.hashbatch`); the same answers,
        errors and rules as :meth:`hash` (a path the shared command did not answer for is
        hashed on its own)."""
        try:
            kind = canonical(kind)
        except ValueError:
            return None
        if kind not in self.features.hashes:
            return None
        cmd = self._hash_cmds[kind]
        if 0 <= size <= hashbatch.SMALL and self._shell == "unix" \
                and cmd in hashbatch.BATCHABLE:
            name = self._shell_path(path)
            if hashbatch.batchable_name(cmd, name):
                got = self._batcher(kind).submit((path, name, size))
                if got is not _AGAIN:
                    return got  # type: ignore[return-value]
        return self._hash_one(path, kind)

    def hash_batch(self, kind: str) -> int:
        """How many small files one ``kind`` hash command takes (1: a command each)."""
        try:
            kind = canonical(kind)
        except ValueError:
            return 1
        if kind not in self.features.hashes or self._shell != "unix" \
                or self._hash_cmds.get(kind) not in hashbatch.BATCHABLE:
            return 1
        return hashbatch.MAX_FILES

    def _batcher(self, kind: str) -> hashbatch.Coalescer:
        """The coalescer of ``kind`` hash requests (see :mod:`.hashbatch`)."""
        with self._batch_lock:
            batcher = self._batchers.get(kind)
            if batcher is None:
                batcher = hashbatch.Coalescer(
                    lambda items: self._hash_many(items, kind),  # type: ignore[arg-type]
                    lambda item: (len(item[1]) + 3, item[2]))  # type: ignore[index]
                self._batchers[kind] = batcher
            return batcher

    def _hash_many(self, items: list[tuple[str, str, int]], kind: str) -> list[object]:
        """The ``kind`` hashes of the files ``items`` (path, its name for the shell,
        size) by one command; ``_AGAIN`` for a path whose line is missing (it is hashed
        again on its own, by its requester). One path is hashed as :meth:`_hash_one`
        does."""
        if len(items) == 1:
            return [self._hash_one(items[0][0], kind)]
        paths = [path for path, _, _ in items]
        names = [name for _, name, _ in items]
        args = " ".join(_quote_shell_path(self._shell, n) for n in names)
        out, _, _ = self._run(f"{self._hash_cmds[kind]} {args}")
        got = hashbatch.parse_lines(out, names, len(_EMPTY_HASH[kind]))
        for path, value in zip(paths, got, strict=True):
            if value is not None:
                log.debug(path, f"Parsed hash: {value}")
        return [_AGAIN if value is None else value for value in got]

    def _hash_one(self, path: str, kind: str) -> str | None:
        """The ``kind`` hash of ``path`` by a command of its own (see :meth:`hash`)."""
        cmd = self._hash_cmds[kind]
        full = self.full(path)
        arg = _quote_shell_path(self._shell, self._shell_path(path))
        out, err, status = self._run(f"{cmd} {arg}")
        value = _parse_hash(out) if status == 0 else ""
        if status == 0:
            log.debug(path, f"Parsed hash: {value}")
        if status == 0 and re.fullmatch(r"[0-9a-f]+", value) and \
                len(value) == len(_EMPTY_HASH[kind]):
            return value
        entry = self.stat(path)
        if entry is None or entry.is_dir:
            return None
        reason = err.decode("utf-8", "replace").strip() or f"exit status {status}"
        if status == 0:
            reason = f"unexpected output {out[:80]!r}"
        raise OSError(errno.EIO, f"failed to calculate {kind} hash: {reason}", full)

    def close(self) -> None:
        """Close every pooled connection (in-use ones when they are released)."""
        n = self._pool.close()
        if n:
            log.debug(self, f"Closed {n} unused connection{'s' if n != 1 else ''}")
        with self._master_lock:
            self._master_off = True  # a command after this runs its own ssh
            if self._master is not None:
                self._master.stop()
                self._master = None



def open_remote(name: str, options: dict[str, str], path: str) -> SftpBackend:
    """The sftp remote ``name`` (its config section merged with connection-string options)
    rooted at ``path``; what :mod:`syncengine.remotes` calls for ``type = sftp``."""
    return SftpBackend(options, path, name=name)
