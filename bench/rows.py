"""The benchmark rows: which data set, which command and flags, and how the destination is set up.

Set-ups:

``fresh``
    the destination is removed (untimed) before every run;
``prepared``
    the destination is prepared once (an untimed copy of the source, times preserved) and
    every run is a no-op over it;
``changed``
    prepared once; before every run 10% of the source files get new contents and times, after
    it they are put back and the destination is repaired (all untimed);
``list``
    no destination: the command lists the source and its output goes to ``/dev/null``.

Remote rows (``remote`` set: ``sftp`` or ``smb``) run against the loopback servers of
:mod:`bench.servers`: ``direction`` ``up`` copies the local data set to the server, ``down``
copies the data set from the server to a local folder.  Both tools get the same
``--config`` and the same flags.

A row's ``pysync_args`` go to pysync only: the ``-dask{1,2,4}`` rows run pysync's transfers
on 1, 2 or 4 local Dask worker processes (``--dask-workers N``, issue #14) beside rclone on
the same data; their process trees are sampled (``tree`` figures: the workers' summed RSS).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

__all__ = ["Row", "ALL_ROWS", "select_rows", "PRESTAGE_FILTERS", "remote_kinds"]

PRESTAGE_FILTERS = ("--filter", "- index*", "--filter", "+ *.dat", "--filter", "- **",
                    "--min-age", "1d")


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    name: str
    dataset: str  # a data set kind: large, mailstore, small, million
    command: str  # copy, sync or lsf
    args: tuple[str, ...] = ()
    setup: str = "fresh"  # fresh, prepared, changed, list
    sweep: str | None = None  # e.g. "--transfers 1" for the sweep rows
    title: str = ""
    remote: str | None = None  # "sftp" or "smb": the loopback server on one side
    direction: str = "up"  # with remote: "up" local -> server, "down" server -> local
    external_ssh: bool = False  # sftp through the OpenSSH client (the ssh option, both tools)
    pysync_args: tuple[str, ...] = ()  # flags for pysync only (e.g. its Dask executor)

    @property
    def is_sweep(self) -> bool:
        """True for the rows of a flag sweep."""
        return self.sweep is not None


ALL_ROWS: tuple[Row, ...] = (
    Row("copy-large", "large", "copy", title="initial copy of the large files"),
    Row("copy-mailstore", "mailstore", "copy", title="initial copy of the MailStore archive"),
    Row("copy-small", "small", "copy", title="initial copy of the small files"),
    Row("noop-sync-mailstore", "mailstore", "sync", setup="prepared",
        title="sync of an up-to-date MailStore archive (nothing to do)"),
    Row("noop-sync-small", "small", "sync", setup="prepared",
        title="sync of an up-to-date small-files tree (nothing to do)"),
    Row("prestage-mailstore", "mailstore", "copy", PRESTAGE_FILTERS,
        title="migration phase 1: old .dat files only (filters + --min-age 1d)"),
    Row("sync-10pct-mailstore", "mailstore", "sync", setup="changed",
        title="sync after 10% of the MailStore files changed"),
    Row("lsf-million", "million", "lsf", ("-R", "--format", "p"), setup="list",
        title="lsf -R --format p of the empty-file tree (output to /dev/null)"),
    Row("sftp-up-mailstore", "mailstore", "copy", remote="sftp", direction="up",
        title="initial copy of the MailStore archive to the loopback SFTP server"),
    Row("sftp-down-mailstore", "mailstore", "copy", remote="sftp", direction="down",
        title="initial copy of the MailStore archive from the loopback SFTP server"),
    Row("sftp-noop-sync-mailstore", "mailstore", "sync", setup="prepared", remote="sftp",
        direction="up", title="sync of an up-to-date MailStore archive on the SFTP server"),
    Row("smb-up-mailstore", "mailstore", "copy", remote="smb", direction="up",
        title="initial copy of the MailStore archive to the loopback SMB server"),
    Row("smb-down-mailstore", "mailstore", "copy", remote="smb", direction="down",
        title="initial copy of the MailStore archive from the loopback SMB server"),
    Row("smb-noop-sync-mailstore", "mailstore", "sync", setup="prepared", remote="smb",
        direction="up", title="sync of an up-to-date MailStore archive on the SMB server"),
    # many small files to and from the servers: the per-file cost of each tool's protocol
    Row("sftp-up-small", "small", "copy", remote="sftp", direction="up",
        title="initial copy of the small files to the loopback SFTP server"),
    Row("smb-up-small", "small", "copy", remote="smb", direction="up",
        title="initial copy of the small files to the loopback SMB server"),
    Row("smb-down-small", "small", "copy", remote="smb", direction="down",
        title="initial copy of the small files from the loopback SMB server"),
    # one stream (--transfers 1): the per-packet cost of each tool shows most
    Row("sftp-up-mailstore-t1", "mailstore", "copy", ("--transfers", "1"), remote="sftp",
        direction="up", title="sftp-up-mailstore with --transfers 1 (one stream)"),
    Row("sftp-down-mailstore-t1", "mailstore", "copy", ("--transfers", "1"), remote="sftp",
        direction="down", title="sftp-down-mailstore with --transfers 1 (one stream)"),
    # the sftp rows through the OpenSSH client (the sftp ssh option, both tools)
    Row("sftp-up-mailstore-ssh", "mailstore", "copy", remote="sftp", direction="up",
        external_ssh=True, title="sftp-up-mailstore through the ssh program (ssh option)"),
    Row("sftp-down-mailstore-ssh", "mailstore", "copy", remote="sftp", direction="down",
        external_ssh=True, title="sftp-down-mailstore through the ssh program (ssh option)"),
    Row("smb-up-mailstore-t1", "mailstore", "copy", ("--transfers", "1"), remote="smb",
        direction="up", title="smb-up-mailstore with --transfers 1 (one stream)"),
    Row("smb-down-mailstore-t1", "mailstore", "copy", ("--transfers", "1"), remote="smb",
        direction="down", title="smb-down-mailstore with --transfers 1 (one stream)"),
    # pysync's transfers on local Dask worker processes (--dask-workers N), rclone as ever
    *(Row(f"{kind}-up-mailstore-dask{n}", "mailstore", "copy", remote=kind, direction="up",
          pysync_args=("--dask-workers", str(n)),
          title=f"{kind}-up-mailstore, pysync on {n} local Dask worker process"
                + ("es" if n > 1 else ""))
      for kind in ("sftp", "smb") for n in (1, 2, 4)),
    Row("sweep-transfers-1", "mailstore", "copy", ("--transfers", "1"),
        sweep="--transfers 1", title="sweep: initial copy of the MailStore archive"),
    Row("sweep-transfers-4", "mailstore", "copy", ("--transfers", "4"),
        sweep="--transfers 4", title="sweep: initial copy of the MailStore archive"),
    Row("sweep-transfers-8", "mailstore", "copy", ("--transfers", "8"),
        sweep="--transfers 8", title="sweep: initial copy of the MailStore archive"),
    Row("sweep-mts-1", "large", "copy", ("--multi-thread-streams", "1"),
        sweep="--multi-thread-streams 1", title="sweep: initial copy of the large files"),
    Row("sweep-mts-4", "large", "copy", ("--multi-thread-streams", "4"),
        sweep="--multi-thread-streams 4", title="sweep: initial copy of the large files"),
)


def select_rows(patterns: list[str] | None, *, no_million: bool = False,
                rows: tuple[Row, ...] = ALL_ROWS) -> list[Row]:
    """The rows whose names match any of ``patterns`` (names or globs; None = all), in order.

    Raises ``ValueError`` naming the patterns that match nothing.
    """
    chosen = list(rows)
    if patterns:
        unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(r.name, p) for r in rows)]
        if unknown:
            raise ValueError("no such row: " + ", ".join(unknown))
        chosen = [r for r in rows if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)]
    if no_million:
        chosen = [r for r in chosen if r.dataset != "million"]
    return chosen


def remote_kinds(rows: list[Row] | tuple[Row, ...]) -> set[str]:
    """The loopback servers (``sftp``, ``smb``) the rows need."""
    return {r.remote for r in rows if r.remote is not None}
