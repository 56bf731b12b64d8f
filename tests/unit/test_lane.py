"""The small-file lane: batches run in order on one thread (or side by side on several),
bounded backlog, errors kept."""

from __future__ import annotations

import threading

import pytest

from syncengine.lane import Lane


def test_batches_run_in_order_on_one_thread() -> None:
    lane = Lane(backlog=4)
    seen: list[tuple[int, str]] = []
    for i in range(50):
        lane.submit(lambda i=i: seen.append((i, threading.current_thread().name)))
    lane.wait()
    lane.shutdown()
    assert [i for i, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"lane"}


def test_submit_waits_for_room_in_the_backlog() -> None:
    lane = Lane(backlog=2)
    gate = threading.Event()
    lane.submit(gate.wait)  # taken by the worker, which then blocks
    done: list[int] = []
    lane.submit(lambda: done.append(1))
    lane.submit(lambda: done.append(2))
    third = threading.Thread(target=lane.submit, args=(lambda: done.append(3),))
    third.start()
    third.join(0.2)
    assert third.is_alive(), "a third batch was queued past the backlog of 2"
    gate.set()
    third.join()
    lane.wait()
    lane.shutdown()
    assert done == [1, 2, 3]


def test_an_error_is_raised_by_wait_and_later_batches_still_run() -> None:
    lane = Lane()
    done: list[int] = []

    def boom() -> None:
        raise OSError(5, "Input/output error")

    lane.submit(boom)
    lane.submit(lambda: done.append(1))
    with pytest.raises(OSError, match="Input/output error"):
        lane.wait()
    assert done == [1]
    lane.wait()  # raised once
    lane.shutdown()


def test_shutdown_drops_queued_batches() -> None:
    lane = Lane(backlog=8)
    gate = threading.Event()
    started = threading.Event()
    done: list[int] = []

    def first() -> None:
        started.set()
        gate.wait()

    lane.submit(first)
    started.wait()
    for i in range(5):
        lane.submit(lambda i=i: done.append(i))
    stopper = threading.Thread(target=lane.shutdown)
    stopper.start()
    while not lane._closed:  # the queue is dropped while the first batch still runs
        stopper.join(0.01)
    gate.set()
    stopper.join()
    assert done == []
    lane.submit(lambda: done.append(9))  # after shutdown: dropped
    assert done == []


def test_wait_without_batches_returns() -> None:
    lane = Lane()
    lane.wait()
    lane.shutdown()


def test_workers_run_batches_side_by_side() -> None:
    """workers=2: two batches run at once (each waits for the other at a barrier, which one
    thread would never pass), and no more threads start than asked for."""
    lane = Lane("multi", backlog=8, workers=2)
    barrier = threading.Barrier(2, timeout=10)
    names: list[str] = []
    lock = threading.Lock()

    def meet() -> None:
        barrier.wait()
        with lock:
            names.append(threading.current_thread().name)

    for _ in range(6):
        lane.submit(meet)
    lane.wait()
    lane.shutdown()
    assert len(names) == 6
    assert set(names) == {"multi", "multi-1"}


def test_one_worker_does_not_run_two_batches_at_once() -> None:
    """The default single worker: the second batch waits for the first (the barrier of two
    times out, as it would not with two workers)."""
    lane = Lane(backlog=8)
    barrier = threading.Barrier(2, timeout=0.3)
    broken: list[bool] = []

    def meet() -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            broken.append(True)

    lane.submit(meet)
    lane.submit(meet)
    lane.wait()
    lane.shutdown()
    assert broken == [True, True]


def test_idle_workers_do_not_wake_each_other() -> None:
    """Idle workers wait on the condition without waking each other: once the batches are
    done, nothing notifies the condition until the next submit (a notify per wake-up would
    have idle workers ping-pong forever on the CPU)."""
    lane = Lane(backlog=8, workers=3)
    gate = threading.Event()
    for _ in range(3):
        lane.submit(gate.wait)
    gate.set()
    lane.wait()
    cond = lane._cond
    calls: list[int] = []
    real = cond.notify_all

    def counting(*args: object) -> None:
        calls.append(1)
        real()

    cond.notify_all = counting  # type: ignore[method-assign]
    gate.clear()
    gate.wait(0.2)  # the last worker back from its batch notifies once on its way in
    calls.clear()
    gate.wait(0.3)  # idle: give a ping-pong the chance to show
    assert calls == []
    lane.submit(lambda: None)
    lane.wait()
    lane.shutdown()
