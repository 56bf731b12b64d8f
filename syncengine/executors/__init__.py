"""Executors: what carries out a run's transfers, behind one small interface.

``ThreadExecutor`` (the default) copies on the engine's own thread pool in this process, as
pysync always has. ``DaskExecutor`` sends batches of copy actions to Dask workers (processes
on this machine, or on many hosts) that open their own backends from the remote specs and
send back plain result records (:mod:`.worker`). Either way the coordinator (the engine)
keeps the listing, the decisions, the budgets, the stats and every deletion.

Dask is optional (``pip install 'pysync[dask]'``); without it ``DaskExecutor`` raises
MissingDependencyError (exit 2), whose one line says how to install it.
"""

from __future__ import annotations

from ..errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Protocol

    from .worker import FileOutcome, Job, WorkAction
else:
    Protocol = object

__all__ = ["Executor", "ThreadExecutor", "DaskExecutor", "DASK_MISSING", "executor_for"]

DASK_MISSING = ("the Dask executor needs dask and distributed: "
                "pip install 'pysync[dask]'")


class Executor(Protocol):
    """The executor contract.

    ``remote`` False: the engine copies in this process (its thread pool, ``transfers``
    wide). True: the engine calls ``start(job)`` once per run, then ``run(batch)`` from up to
    ``slots()`` threads at once (each call blocks until the batch is done and returns one
    FileOutcome per action, in order: ``skipped`` for one never started), and ``close()``
    at the end. Time updates and new directories go the same way, one action a call.
    """

    remote: bool

    def start(self, job: Job) -> None:
        """Get ready for ``job`` (connect, start a local cluster...)."""
        ...

    def slots(self) -> int:
        """How many batches may be running at once."""
        ...

    def run(self, batch: Sequence[WorkAction],
            on_bytes: Callable[[str, int], None] | None = None, budget: int = -1
            ) -> list[FileOutcome]:
        """Carry out ``batch`` (copies; or one SetMtime or Mkdir, as ``execute`` does them
        in this process); a lost worker gives retryable WorkerLostError outcomes, a lost
        scheduler raises ExecutorLostError (fatal). ``on_bytes(path, n)``, if given, hears
        the bytes read of the file being copied while it runs (live stats); ``budget``:
        the bytes the batch may read before --max-transfer stops it (-1: no limit)."""
        ...

    def stop(self, *, running: bool = True) -> None:
        """Batches not yet started copy nothing; ``running``: cancel those under way too
        (a fatal error), else let them finish (a graceful --max-transfer stop)."""
        ...

    def close(self) -> None:
        """Release what ``start`` took (the client, a local cluster)."""
        ...


class ThreadExecutor:
    """Transfers on the engine's own threads in this process (``--transfers`` of them)."""

    remote = False

    def start(self, job: Job) -> None:
        """Nothing to start: the engine copies itself."""

    def slots(self) -> int:
        """Not used: the engine's pool is ``--transfers`` wide."""
        return 0

    def run(self, batch: Sequence[WorkAction],
            on_bytes: Callable[[str, int], None] | None = None, budget: int = -1
            ) -> list[FileOutcome]:
        """Never called: the engine copies in its own threads."""
        raise NotImplementedError("ThreadExecutor runs in the engine's own threads")

    def stop(self, *, running: bool = True) -> None:
        """Nothing to stop: the engine's own pool sees its cancellation."""

    def close(self) -> None:
        """Nothing to release."""


def __getattr__(name: str) -> object:
    if name == "DaskExecutor":
        from .dask_executor import DaskExecutor

        return DaskExecutor
    raise AttributeError(name)


def executor_for(scheduler: str = "", workers: int = 0, *, transfers: int = 4) -> Executor:
    """The executor the CLI flags ask for: a Dask scheduler address, a local cluster of
    ``workers`` processes, or (neither) the thread executor. MissingDependencyError without
    dask, UsageError for both at once."""
    if not scheduler and workers <= 0:
        return ThreadExecutor()
    if scheduler and workers > 0:
        raise UsageError("can't use --dask-scheduler and --dask-workers together (choose one)")
    from .dask_executor import DaskExecutor

    return DaskExecutor(scheduler or None, workers=workers, transfers=transfers)
