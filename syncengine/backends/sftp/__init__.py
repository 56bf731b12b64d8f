"""The sftp backend: rclone's ``sftp`` remote over paramiko, one pooled SSH connection per thread.

Options carry rclone's names (``host``, ``user``, ``port``, ``pass``, ``key_file``, ...);
see :class:`SftpOptions`. Secrets (``pass``, ``key_file_pass``) arrive obscured as rclone
stores them and are revealed with :func:`reveal`; they never reach a log line, an exception
message or a process argument list.

Security: the server's host key is checked against known_hosts before any credential is
sent (``known_hosts_file``, else the ssh config's ``UserKnownHostsFile``, else
``~/.ssh/known_hosts``, plus the global ``/etc/ssh/ssh_known_hosts``). An unknown key is
refused (:class:`HostKeyError`) unless ``accept_new_host_key`` is set, which appends it to
the known_hosts file once authentication succeeded; a changed or revoked key is always
refused. ``known_hosts_file = none`` switches checking off (with a NOTICE), ``host_keys``
pins keys as rclone does.

External ssh (rclone's ``ssh`` option): each SFTP session runs through the OpenSSH client
(``<ssh> -s sftp``, remote commands as ``<ssh> <command>``), which then checks the host key
(``StrictHostKeyChecking=yes`` forced first on its command line) and authenticates.

Performance: reads and writes are pipelined here rather than through paramiko's
``prefetch()``/``set_pipelined()`` (prefetch rescans its whole buffer on each read and
keeps everything the server sends; pipelined writes drop the late error statuses of a
file). Up to ``concurrency`` requests of ``chunk_size`` bytes (the server's own limit from
``limits@openssh.com`` when ``chunk_size`` is not set, at most 255 KiB) are in flight per
file, with large SSH windows and packets.

Modules, one concern each: :mod:`.options` (config parsing), :mod:`.errors` (rclone-worded
errors), :mod:`.hostkeys` (known_hosts and pinned keys), :mod:`.transport` (SSH connection,
paramiko's SFTP client subclassed, the external ssh process), :mod:`.io` (pipelined reader
and writer), :mod:`.commands` (remote shell commands: md5sum...), :mod:`.backend` (the
backend class). Import from the package: the names in ``__all__`` are its public surface.
"""

from __future__ import annotations

from ._paramiko import import_paramiko

import_paramiko()  # before the modules below import it: without invoke (see _paramiko)

from ...confvalues import obscure, reveal  # noqa: E402
from .backend import SftpBackend, open_remote  # noqa: E402
from .errors import HostKeyError, SftpConnectionLost  # noqa: E402
from .options import OPTION_NAMES, SftpOptions  # noqa: E402

__all__ = ["SftpBackend", "SftpOptions", "HostKeyError", "SftpConnectionLost", "open_remote",
           "reveal", "obscure", "OPTION_NAMES"]
