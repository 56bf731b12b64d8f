"""paramiko imported without ``invoke``, which only an ssh config's ``Match exec`` needs,
and without ``importlib.metadata``, which it imports only to read its own version.

``paramiko.config`` imports ``invoke`` when it can (for ``Match exec``), and that pulls in
``yaml``, ``unittest.mock`` and ``importlib.metadata``'s tree: ~60 ms of every SFTP run's
~170 ms paramiko import on this machine (``python -X importtime -c "import paramiko"``),
for a feature a run uses only when its ssh config file has a ``Match exec`` line.
:func:`import_paramiko` imports paramiko with ``invoke`` held back, and
:func:`ssh_config_lookup` imports it after all (and tries again) when paramiko asks for it.

paramiko 4 and later set ``__version__`` from ``importlib.metadata.version("paramiko")`` at
import, and ``importlib.metadata`` brings ``email``, ``zipfile``, ``csv`` and ``pathlib``:
~60 ms under ``-X importtime`` on this machine, most of an SFTP no-op sync's imports beside
paramiko itself. During paramiko's import a stand-in (:mod:`.._standin`) answers ``version``
from the ``.dist-info`` folder's name, found on ``sys.path`` as ``importlib.metadata`` finds
it; anything else, or no such folder, loads the real module.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .._standin import held, real

__all__ = ["import_paramiko", "ssh_config_lookup"]


def import_paramiko() -> None:
    """Import paramiko, holding ``invoke`` back for this import only (a process that has
    imported ``invoke`` keeps it for paramiko, as before)."""
    if "paramiko" in sys.modules:
        return
    hold = "invoke" not in sys.modules
    if hold:
        sys.modules["invoke"] = None  # type: ignore[assignment]  # "import invoke" fails
    try:
        with held("importlib.metadata", __name__, version=_dist_version):
            import paramiko  # noqa: F401
    finally:
        if hold and "invoke" in sys.modules and sys.modules["invoke"] is None:
            del sys.modules["invoke"]  # later imports of invoke work as usual


def _dist_version(name: str) -> str:
    """``importlib.metadata.version(name)``: the version in the name of the first
    ``<name>-<version>.dist-info`` folder on ``sys.path`` (the real function when there is
    none, e.g. an egg-info or a zip)."""
    prefix = name.replace("-", "_").lower() + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info") and folder.lower().startswith(prefix):
                return folder[len(prefix):-len(".dist-info")]
    return real("importlib.metadata").version(name)  # type: ignore[no-any-return]


def ssh_config_lookup(path: str, host: str) -> dict[str, Any]:
    """``paramiko.SSHConfig.from_path(path).lookup(host)`` as a dict; a ``Match exec``
    line, which paramiko runs through ``invoke``, imports ``invoke`` first (it raises an
    ImportError when invoke is not installed, as paramiko does)."""
    import paramiko
    import paramiko.config as pconfig

    cfg = paramiko.SSHConfig.from_path(path)
    try:
        return dict(cfg.lookup(host))
    except ImportError:
        if getattr(pconfig, "invoke", None) is not None:
            raise
        import invoke  # held back at paramiko's import: needed after all

        pconfig.invoke = invoke
        return dict(cfg.lookup(host))
