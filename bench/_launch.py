"""Tiny launcher: fork, exec the command, ``wait4`` it, write its figures to a file.

Run as ``python -I -S _launch.py RESULT_FILE -- CMD...`` by :mod:`bench.measure`.  Why: on
Linux a child's ``ru_maxrss`` is at least the RSS of the process that forked it (``exec`` keeps
the old address space's high-water mark), and the harness itself may be large.  This launcher
imports nothing beyond built-ins (~8 MiB), so the peak it reports is the command's own.  The
wall time runs from the fork to the end of ``wait4``, without this launcher's start-up.
"""

import os
import sys
import time


def main() -> int:
    result, sep, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    if sep != "--" or not cmd:
        os.write(2, b"usage: _launch.py RESULT_FILE -- CMD...\n")
        return 2
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as exc:
            os.write(2, f"cannot run {cmd[0]}: {exc}\n".encode())
        os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    with open(result, "w") as fh:
        fh.write(f"seconds={seconds!r}\nstatus={status}\nmaxrss_kib={ru.ru_maxrss}\n"
                 f"user_s={ru.ru_utime!r}\nsys_s={ru.ru_stime!r}\n")
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
