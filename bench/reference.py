"""The reference run of a row: what a plain copy program does with the same data, same run.

It shows how far both tools are from what the machine (and the server) can do:

local rows
    ``cp -r --preserve=timestamps SRC DST`` (coreutils; times kept, as both tools keep them);
sftp rows
    ``scp -r -p`` over OpenSSH with ``aes128-gcm@openssh.com`` (the cipher both tools prefer),
    the bench's key, ``known_hosts`` and ``StrictHostKeyChecking=yes``, no ssh config;
smb rows
    Samba's ``smbclient`` (``mput``/``mget`` with ``recurse``), the password in an
    authentication file (``-A``, mode 600, in the servers' folder), never on the command line.

Only rows that copy a whole tree into a fresh destination have one: a no-op sync, a filtered
copy or a listing has no plain-copy equivalent.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

from .rows import Row

__all__ = ["REFERENCE", "reference_command", "reference_label", "smb_auth_file"]

#: The name of the reference "tool" in the results (runs, summaries).
REFERENCE = "reference"
SCP_CIPHER = "aes128-gcm@openssh.com"


def reference_label(row: Row) -> str | None:
    """What the reference of ``row`` runs (``cp -r``, ``scp``, ``smbclient``), or None."""
    if row.setup != "fresh" or row.command != "copy" or _filtered(row) or row.pysync_args:
        return None  # (a pysync-only variant: its plain row has the reference)
    return {None: "cp -r", "sftp": "scp", "smb": "smbclient"}.get(row.remote)


def _filtered(row: Row) -> bool:
    return any(a.startswith(("--filter", "--include", "--exclude", "--min-", "--max-"))
               for a in row.args)


def smb_auth_file(folder: Path, smbd: Any) -> Path:
    """An smbclient authentication file for ``smbd`` in ``folder`` (mode 600)."""
    path = folder / "smbclient.auth"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(f"username = {smbd.user}\npassword = {smbd.password}\n"
                    "domain = WORKGROUP\n")
    return path


def _scp(sshd: Any) -> list[str]:
    return [shutil.which("scp") or "scp", "-r", "-p", "-q", "-F", "none",
            "-c", SCP_CIPHER, "-P", str(sshd.port), "-i", str(sshd.client_key),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={sshd.known_hosts}"]


def _smbclient(smbd: Any, auth: Path, commands: str) -> list[str]:
    return [shutil.which("smbclient") or "smbclient", f"//{smbd.host}/{smbd.share}",
            "-p", str(smbd.port), "-A", str(auth), "-m", "SMB3", "-c", commands]


def _smb_quote(path: str) -> str:
    return '"' + path.replace('"', "") + '"'


def reference_command(row: Row, src: Path, dst_disk: Path, *, servers: Any = None,
                      remote_src: Path | None = None, auth: Path | None = None
                      ) -> list[str] | None:
    """The reference command of ``row`` copying ``src`` to ``dst_disk`` (both on this
    machine; ``remote_src``: a down row's source folder as the server serves it, for smb
    inside the share). None when the row has no reference."""
    label = reference_label(row)
    if label is None:
        return None
    if label == "cp -r":
        return ["cp", "-r", "--preserve=timestamps", str(src), str(dst_disk)]
    if label == "scp":
        sshd = servers.sshd
        login = f"{sshd.user}@{sshd.host}"
        if row.direction == "up":
            return [*_scp(sshd), str(src), f"{login}:{dst_disk}"]
        return [*_scp(sshd), f"{login}:{remote_src or src}", str(dst_disk)]
    smbd = servers.smbd
    if auth is None:
        raise ValueError("smbclient needs an authentication file")
    share = Path(smbd.share_path)
    if row.direction == "up":
        rel = dst_disk.relative_to(share).as_posix()
        script = (f"mkdir {_smb_quote(rel)}; cd {_smb_quote(rel)}; lcd {_smb_quote(str(src))}; "
                  "prompt OFF; recurse ON; mput *")
        return _smbclient(smbd, auth, script)
    rel = (remote_src or src).relative_to(share).as_posix()
    script = (f"cd {_smb_quote(rel)}; lcd {_smb_quote(str(dst_disk))}; prompt OFF; "
              "recurse ON; mget *")
    inner = shlex.join(_smbclient(smbd, auth, script))
    return ["sh", "-c", f"mkdir -p {shlex.quote(str(dst_disk))} && exec {inner}"]
