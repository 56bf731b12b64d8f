#!/usr/bin/env python3
"""Start a private Samba smbd on 127.0.0.1 by hand, print an rclone.conf section, stop on Ctrl-C.

    python tools/smbd_server.py [--port N] [--dir DIR] [--name REMOTE] [--share SHARE]

Serves ``<dir>/share`` (a temporary folder by default, removed at exit) as share ``pysync``
for the current unix user (root) with a random password; the section printed works for both
``rclone`` and ``pysync`` (``--config``). Needs root and Samba (tools/install-system-deps.sh).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from backends.smbd import SmbdError, SmbdServer  # noqa: E402


def _obscure(password: str) -> str:
    """``rclone obscure PASSWORD`` (rclone is on PATH for the tests)."""
    res = subprocess.run(["rclone", "obscure", "-"], input=password, capture_output=True,
                         text=True, check=True, timeout=30)
    return res.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    """Run the server until Ctrl-C (or SIGTERM); returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    ap.add_argument("--dir", help="folder for smb.conf, state and the share (default: temporary)")
    ap.add_argument("--name", default="pysmb", help="remote name of the printed section")
    ap.add_argument("--share", default="pysync", help="share name")
    args = ap.parse_args(argv)
    server = SmbdServer(args.dir, share=args.share, port=args.port or None)
    stop = False

    def _on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with '&'
    try:
        server.start()
    except (SmbdError, KeyboardInterrupt) as err:
        print(f"smbd_server: {err or 'interrupted'}", file=sys.stderr)
        server.stop()
        return 1
    try:
        section = server.rclone_section(args.name, _obscure(server.password))
        print(f"smbd (pid {server.proc.pid if server.proc else '?'}) serving "
              f"{server.share_path} as //{server.host}:{server.port}/{server.share}")
        print(f"user {server.user}, password {server.password}\n")
        print("# rclone.conf section (pass is rclone-obscured):")
        print(section)
        print(f"# e.g.: pysync --config FILE lsf {args.name}:{server.share}/")
        print("Press Ctrl-C to stop.", flush=True)
        while not stop and server.proc is not None and server.proc.poll() is None:
            time.sleep(0.5)
        if server.proc is not None and server.proc.poll() is not None:
            print(f"smbd exited ({server.proc.returncode}):\n{server.log_tail()}",
                  file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("smbd stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
