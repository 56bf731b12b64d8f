"""Run the four MailStore migration phases on a generated archive, as a person would.

Usage: python tools/example.py [WORKDIR]   (default: ./example-mailarchive)

Builds WORKDIR/source (a MailStore-like tree: .dat content files, index* files, recovery
records, .fdb databases, some changed within the last hour), then runs, with pysync:

  1. copy --filter "- index*" --filter "+ *.dat" --filter "- **" --min-age 1d
  2. copy --filter "- *.fdb" --min-age 1d
  3. copy --filter "- *.fdb"
  (the "service" changes a database and adds a content file here, then "stops")
  4. sync
and finally `pysync check` to prove source and destination are identical.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from syncengine.example import MailStoreShape, make_mailstore_tree  # noqa: E402

PHASES = [
    ("phase 1: pre-stage old content files",
     ["copy", "--filter", "- index*", "--filter", "+ *.dat", "--filter", "- **",
      "--min-age", "1d"]),
    ("phase 2: everything older than a day except databases",
     ["copy", "--filter", "- *.fdb", "--min-age", "1d"]),
    ("phase 3: everything except databases", ["copy", "--filter", "- *.fdb"]),
]


def pysync(*args: str) -> int:
    cmd = [sys.executable, "-m", "syncengine", *args]
    print("$ pysync " + " ".join(f'"{a}"' if " " in a or "*" in a else a for a in args),
          flush=True)
    return subprocess.run(cmd).returncode


def main() -> int:
    work = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "example-mailarchive")
    src, dst = os.path.join(work, "source"), os.path.join(work, "destination")
    shutil.rmtree(work, ignore_errors=True)
    files = make_mailstore_tree(src, MailStoreShape(stores=3, dat_per_store=8))
    print(f"generated {len(files)} files under {src}\n")
    for title, args in PHASES:
        print(f"== {title}")
        rc = pysync(*args, "-v", "--stats", "0", src, dst)
        print(f"   exit code {rc}\n")
        if rc not in (0,):
            return rc
    print("== the service writes: a database changes and a new content file appears")
    with open(os.path.join(src, "2025-06", "MailStore.fdb"), "ab") as fh:
        fh.write(b"new transaction")
    new = os.path.join(src, "2025-06", "Content", "000099.dat")
    with open(new, "wb") as fh:
        fh.write(os.urandom(4096))
    time.sleep(0.01)
    print("== service stopped on both sides\n== phase 4: final sync")
    rc = pysync("sync", "-v", "--stats", "0", src, dst)
    print(f"   exit code {rc}\n")
    if rc:
        return rc
    print("== verify")
    rc = pysync("check", src, dst)
    print(f"   exit code {rc} ({'identical' if rc == 0 else 'DIFFERENT'})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
