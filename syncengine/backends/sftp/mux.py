"""One OpenSSH master connection for the remote commands of the ``ssh`` option.

rclone's external ssh runs every remote command (``md5sum`` after each upload, the shell
probes) as a new run of the ssh program: a key exchange and an authentication per file,
~80 ms of client and server CPU each. Here a backend starts one master connection of its
own (``ControlMaster=yes``, a control socket in a private 0700 folder) the first time it
needs a command, and each command runs as an OpenSSH multiplexing client of it
(``ControlMaster=no``, the same ``ControlPath``): a new session on the open connection.
The commands, their output and their exit codes are those of rclone's way; only the
connection is shared. SFTP data keeps its own ssh processes (several streams, several
cores).

The master holds an SFTP session it never uses: when pysync ends, even killed, its end of
the pipe closes, the session ends and so does the master (after the commands it carries).
If the ssh option manages multiplexing itself (``-M``, ``-S``, ``ControlMaster``,
``ControlPath``, ``ControlPersist``), or the master cannot start, each command gets its own
ssh run, as in rclone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence

from .transport import wait_or_kill

#: A word of the ssh option that sets up multiplexing (the user's own: left alone).
_USER_MUX_OPTION = re.compile(r"(?i).*control(master|path|persist)")
_USER_MUX_FLAG = re.compile(r"-[46AaCfGgKkNnqTtVvXxYy]*[MS].*")  # -M, -S path, -NM...
#: A control socket's path must fit a sockaddr_un (108 bytes) with ssh's temporary
#: ``.XXXXXXXXXXXXXXXX`` suffix (it binds there, then links the final name).
_MAX_PATH = 80
_POLL = 0.005
#: Commands at once on the master: sshd's default MaxSessions is 10, the master's own
#: session is one. More wait for none: they run on their own ssh (as does one the master
#: refuses, where a server allows fewer).
SESSIONS = 8


def user_multiplexes(words: Sequence[str]) -> bool:
    """True when the ssh option's ``words`` configure OpenSSH multiplexing themselves."""
    return any(_USER_MUX_OPTION.match(w) or _USER_MUX_FLAG.fullmatch(w) for w in words[1:])


class CommandMaster:
    """A running master connection: its process, control socket and private folder."""

    def __init__(self, proc: subprocess.Popen[bytes], folder: str, path: str) -> None:
        self.proc = proc
        self.folder = folder
        self.path = path
        self.sessions = threading.BoundedSemaphore(SESSIONS)

    @classmethod
    def start(cls, spawn: Callable[..., subprocess.Popen[bytes]], session: Sequence[str],
              timeout: float, debug: Callable[[str], None]) -> CommandMaster | None:
        """Start a master: ``spawn(*args, stderr=...)`` runs the ssh option with ``args``
        appended; ``session`` is what the master's own session runs (the SFTP subsystem).
        None (after a DEBUG line saying why) when it is not up within ``timeout`` s."""
        folder = tempfile.mkdtemp(prefix="pysync-ssh-")  # mode 0700: ours alone
        path = os.path.join(folder, "master")
        if len(os.fsencode(path)) > _MAX_PATH:
            shutil.rmtree(folder, ignore_errors=True)
            debug(f"ssh external: no shared connection (control path too long: {path})")
            return None
        errors = tempfile.TemporaryFile()
        try:
            proc = spawn("-o", "ControlMaster=yes", "-o", f"ControlPath={path}",
                         "-o", "ControlPersist=no", *session, stderr=errors)
        except BaseException:
            errors.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        master = cls(proc, folder, path)
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if proc.poll() is not None or time.monotonic() > deadline:
                master.stop()
                errors.seek(0)
                said = errors.read().decode("utf-8", "replace").strip().splitlines()
                errors.close()
                debug("ssh external: no shared connection for remote commands"
                      + (f": {said[-1]}" if said else ""))
                return None
            time.sleep(_POLL)
        errors.close()
        debug(f"ssh external: remote commands share connection (pid {proc.pid})")
        return master

    def alive(self) -> bool:
        """True while the master process runs."""
        return self.proc.poll() is None

    def client_args(self) -> tuple[str, ...]:
        """The ssh arguments that make a run a multiplexing client of this master."""
        return ("-o", "ControlMaster=no", "-o", f"ControlPath={self.path}")

    def stop(self) -> None:
        """End the master by its PID (end of input first, then a kill) and remove its
        folder."""
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        wait_or_kill(self.proc)
        shutil.rmtree(self.folder, ignore_errors=True)
