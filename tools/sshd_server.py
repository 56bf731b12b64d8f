#!/usr/bin/env python3
"""Start a private OpenSSH sshd on 127.0.0.1 by hand, print an rclone.conf section, stop on Ctrl-C.

    python tools/sshd_server.py [--port N] [--dir DIR] [--name REMOTE] [--encrypted-key]

Generates a host key and client keys under ``<dir>`` (a temporary folder by default, removed
at exit), starts ``sshd -D -e`` as the current user (root in CI) and writes a known_hosts file
for it. The section printed works for both ``rclone`` and ``pysync`` (``--config``): key
authentication with host key checking against that known_hosts file. ``--encrypted-key``
uses the passphrase-protected PEM key instead (``key_file_pass`` is rclone-obscured). Needs
OpenSSH (tools/install-system-deps.sh).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from backends.sshd import KEY_PASSPHRASE, SshdError, start_sshd  # noqa: E402

from syncengine.backends.sftp import obscure  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the server until Ctrl-C (or SIGTERM); returns the exit status."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    ap.add_argument("--dir", help="folder for keys, config and logs (default: temporary)")
    ap.add_argument("--name", default="pysftp", help="remote name of the printed section")
    ap.add_argument("--encrypted-key", action="store_true",
                    help="authenticate with the passphrase-protected key")
    args = ap.parse_args(argv)
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="pysync-sshd-"))
    stop = False

    def _on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with '&'
    try:
        server = start_sshd(workdir, port=args.port)
    except (SshdError, KeyboardInterrupt) as err:
        print(f"sshd_server: {err or 'interrupted'}", file=sys.stderr)
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
        return 1
    try:
        extra: dict[str, str | None] = {"ssh_config_file": None}
        if args.encrypted_key:
            extra.update(key_file=str(server.pem_key), key_file_pass=obscure(KEY_PASSPHRASE))
        section = server.section(args.name, **extra)
        print(f"sshd (pid {server.pid}) listening on {server.host}:{server.port}, "
              f"files in {server.workdir}")
        print(f"host key: {server.host_key_line}")
        print(f"user {server.user}; log: {server.log_path}\n")
        print("# rclone.conf section:")
        print(section)
        print(f"# e.g.: pysync --config FILE lsf {args.name}:/tmp")
        print(f"#       sftp -i {server.client_key} -o UserKnownHostsFile={server.known_hosts} "
              f"-P {server.port} {server.user}@{server.host}")
        print("Press Ctrl-C to stop.", flush=True)
        while not stop and server.running():
            time.sleep(0.5)
        if not server.running() and not stop:
            print(f"sshd exited ({server.proc.returncode}):\n{server.log_text()[-2000:]}",
                  file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("sshd stopped", file=sys.stderr)
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
