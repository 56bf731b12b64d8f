"""The Dask executor: batches of actions (copies, time updates, new directories) run as
tasks on Dask workers.

Workers are ``dask worker`` processes on any number of hosts (``DaskExecutor(address)``)
or a ``LocalCluster`` of processes on this machine (``DaskExecutor(workers=N)``). Each task
opens its own backends from the run's Locations (:mod:`.worker`), copies its files and
returns plain ``FileOutcome`` records.

A task Dask runs a second time (its first worker died mid-batch, and the scheduler gave it
to another) claims a scheduler ``Variable`` first: the rerun finds the claim and copies
nothing, so it never writes beside a first attempt that may still be alive; it reports a
retryable WorkerLostError for its files, which blocks deletions like any failed transfer,
and the next ``--retries`` attempt (or run) copies them. A lost scheduler raises
ExecutorLostError (fatal: the run stops with exit code 7).
"""

from __future__ import annotations

import itertools
import logging
import threading

from ..errors import FatalError, MissingDependencyError, UsageError
from . import DASK_MISSING
from .worker import FileOutcome, Job, Progress, WorkAction, lost_outcomes, not_run, run_batch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

__all__ = ["DaskExecutor", "ExecutorLostError"]

_CONNECT_TIMEOUT = "20s"
_WORKERS_TIMEOUT = 60.0
_TICK = 0.5  # seconds between a worker's reports of the bytes of the file it copies


class ExecutorLostError(FatalError):
    """The Dask scheduler could not be reached, or was lost during the run (exit 7)."""

    reference = "dask-scheduler-lost"


#: Dask settings for the local cluster pysync starts (no dashboard to feed): the workers'
#: statistical profiler (a stack sample of every thread each 10 ms), the event-loop tick
#: monitor (20 ms) and the system monitor (0.5 s) cost CPU that the copies need on a small
#: machine. A DASK_* variable of the user's for one of them wins.
LOCAL_CLUSTER_CONFIG: dict[str, object] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


def local_config() -> dict[str, object]:
    """LOCAL_CLUSTER_CONFIG without the keys the environment sets (``DASK_A__B_C``)."""
    import os

    def env_name(key: str) -> str:
        return "DASK_" + key.upper().replace(".", "__").replace("-", "_")

    return {k: v for k, v in LOCAL_CLUSTER_CONFIG.items() if env_name(k) not in os.environ}


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(DASK_MISSING) from None
    return distributed


def _claim(name: str) -> bool:
    """True the first time a task of this name runs (on any worker), False on a rerun."""
    from distributed import Event

    ev = Event(name)
    if ev.is_set():
        return False
    ev.set()  # one task of this name runs at a time: no race between check and set
    return True


def _task(job: Job, batch: list[WorkAction], claim: str, topic: str, key: str,
          budget: int) -> list[FileOutcome]:
    """What a worker runs for one batch: the copies (or a time update, a new directory),
    and a report of the running file's
    bytes every _TICK seconds under ``topic`` (the coordinator's live stats). A batch that
    starts after the coordinator stopped the run does nothing (``not_run`` outcomes)."""
    from distributed import Event, get_worker

    if Event(_stop_name(job, "stop")).is_set():  # stopped before it started
        return not_run(batch)
    if not _claim(claim):
        return lost_outcomes(batch, "the worker running this transfer was lost; the task "
                                    "was not run again")

    worker = get_worker()
    progress = Progress()
    done = threading.Event()
    cancel = threading.Event()
    stop = Event(_stop_name(job, "cancel"))

    def report() -> None:
        last: tuple[str, int] = ("", 0)
        while not done.wait(_TICK):
            try:
                if stop.is_set():  # the coordinator cancelled the run
                    cancel.set()
            except Exception:
                pass
            now = progress.current()
            if now[0] and now != last:
                try:
                    worker.log_event(topic, [key, now[0], now[1]])
                except Exception:  # a report lost is a report late: the outcome has all
                    return
                last = now

    reporter = threading.Thread(target=report, name="pysync-progress", daemon=True)
    reporter.start()
    try:
        return run_batch(job, batch, progress=progress, budget=budget, cancel=cancel)
    finally:
        done.set()
        reporter.join()


def _stop_name(job: Job, what: str) -> str:
    """The scheduler Event of ``job`` for ``stop`` (no new batch) or ``cancel`` (and the
    copies under way fail too)."""
    return f"pysync-{what}-{job.run_id}"


class DaskExecutor:
    """Copies on Dask workers: ``address`` of a running scheduler (``tcp://host:8786``), or
    ``workers`` local worker processes started (and stopped) by this executor, with
    ``ceil(transfers / workers)`` threads each."""

    remote = True

    def __init__(self, address: str | None = None, *, workers: int = 0, transfers: int = 4,
                 quiet: bool = True) -> None:
        self._distributed = _import_distributed()
        if not address and workers <= 0:
            raise UsageError("the Dask executor needs a scheduler address or a number of "
                             "local workers")
        self.address = address
        self.workers = workers
        self.transfers = max(1, transfers)
        self.quiet = quiet
        self._client: Any = None
        self._cluster: Any = None
        self._job: Job | None = None
        self._count = itertools.count()
        self._lock = threading.Lock()
        self._topic = ""
        self._on_bytes: dict[str, Callable[[str, int], None]] = {}

    def __repr__(self) -> str:
        where = self.address or f"{self.workers} local workers"
        return f"DaskExecutor({where})"

    # ----- lifecycle ---------------------------------------------------------------------

    def start(self, job: Job) -> None:
        """Connect to the scheduler (or start the local cluster) and wait for a worker."""
        self._job = job
        if self._client is not None:
            self._subscribe(job)
            return
        d = self._distributed
        if self.quiet:  # pysync says what went wrong in its own words, in its own log
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
        try:
            if self.address:
                self._client = d.Client(self.address, timeout=_CONNECT_TIMEOUT,
                                        set_as_default=False)
            else:
                import dask

                per = -(-self.transfers // self.workers)
                with dask.config.set(local_config()):  # the workers take it at spawn
                    self._cluster = d.LocalCluster(
                        n_workers=self.workers, threads_per_worker=per, processes=True,
                        host="127.0.0.1", dashboard_address=None,
                        silence_logs=logging.ERROR if self.quiet else logging.WARNING)
                self._client = d.Client(self._cluster, set_as_default=False)
            self._client.wait_for_workers(1, timeout=_WORKERS_TIMEOUT)
            self._subscribe(job)
        except (OSError, TimeoutError) as err:
            self.close()
            where = self.address or "the local cluster"
            raise ExecutorLostError(f"can't reach the dask scheduler at {where}: {err}"
                                    ) from None
        except RuntimeError as err:  # a worker process that could not start (Nanny)
            self.close()
            if self.address:
                raise
            raise ExecutorLostError(f"can't start the local cluster of {self.workers} "
                                    f"workers: {err}") from None

    def _subscribe(self, job: Job) -> None:
        """Receive this run's byte reports (handled on the client's event loop thread)."""
        self._topic = f"pysync-bytes-{job.run_id}"

        def handle(event: tuple[float, Any]) -> None:
            try:
                key, path, nbytes = event[1]
                cb = self._on_bytes.get(key)
            except (TypeError, ValueError):
                return
            if cb is not None:
                cb(path, int(nbytes))

        self._client.subscribe_topic(self._topic, handle)

    def slots(self) -> int:
        """The worker threads of the cluster (at least 1)."""
        try:
            info = self._client.scheduler_info()
        except Exception:
            return 1
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))

    def stop(self, *, running: bool = True) -> None:
        """Batches that have not started yet copy nothing; ``running``: the copies under
        way fail too (``transfer cancelled``, within _TICK seconds)."""
        if self._client is not None and self._job is not None:
            for what in ("stop", "cancel") if running else ("stop",):
                try:
                    self._distributed.Event(_stop_name(self._job, what),
                                            client=self._client).set()
                except Exception:  # a lost scheduler starts nothing anyway
                    pass

    def close(self) -> None:
        """Disconnect; stop the local cluster if this executor started it."""
        if self._client is not None and self._job is not None:
            for what in ("stop", "cancel"):
                try:  # the scheduler forgets the run's flags
                    self._distributed.Event(_stop_name(self._job, what),
                                            client=self._client).clear()
                except Exception:
                    pass
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        for thing in (client, cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing after a lost scheduler: nothing left to do
                    pass

    # ----- work --------------------------------------------------------------------------

    def run(self, batch: Sequence[WorkAction],
            on_bytes: Callable[[str, int], None] | None = None, budget: int = -1
            ) -> list[FileOutcome]:
        """Run ``batch`` as one task and wait for its outcomes (see the module doc);
        ``on_bytes(path, n)``: the worker has read ``n`` bytes of ``path`` so far;
        ``budget``: the bytes it may read before --max-transfer stops it (-1: no limit)."""
        job = self._job
        client = self._client
        if job is None or client is None:
            raise RuntimeError("DaskExecutor.run before start")
        d = self._distributed
        n = next(self._count)
        key = f"pysync-copy-{job.run_id}-{n}"
        claim = f"pysync-claim-{job.run_id}-{n}"
        actions = list(batch)
        if on_bytes is not None:
            self._on_bytes[key] = on_bytes
        try:
            fut = client.submit(_task, job, actions, claim, self._topic, key, budget, key=key,
                                pure=False, retries=0)
        except Exception as err:
            self._on_bytes.pop(key, None)
            raise self._lost(err) from None
        try:
            outcomes: list[FileOutcome] = fut.result()
            return outcomes
        except d.KilledWorker as err:
            return lost_outcomes(actions, f"the worker running this transfer was lost: {err}")
        except Exception as err:
            if client.status in ("running", "connecting") and not isinstance(
                    err, (OSError, d.CancelledError, TimeoutError)):
                # the task itself raised (a bug, or an unpicklable result): every file fails
                from .worker import encode_error

                rec = encode_error(err)
                return [FileOutcome(a.path, False, error=rec) for a in actions]
            raise self._lost(err) from None
        finally:
            self._on_bytes.pop(key, None)
            try:
                fut.release()
                d.Event(claim, client=client).clear()  # the scheduler forgets it
            except Exception:
                pass

    def _lost(self, err: BaseException) -> ExecutorLostError:
        where = self.address or "the local cluster"
        text = (str(err).strip().splitlines() or [type(err).__name__])[0]  # dask's: 2 lines
        return ExecutorLostError(f"lost the dask scheduler at {where}: {text}")
