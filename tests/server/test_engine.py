"""The model worker alone: queue bound, batching, cancellation, error hand-off."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from sonogen.server.engine import ClientGone, Engine, Job, QueueFull


class Recorder:
    """A stand-in pipeline: batches return their items' values; a gate holds the worker.

    Engines over it answer batches with :meth:`run_batch` (see :func:`start`).
    """

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def run_batch(self, items: list[Any]) -> list[Any]:
        self.entered.set()
        assert self.gate.wait(10)
        self.batches.append(list(items))
        return [f"out-{item}" for item in items]


def start(pipe: Recorder, **options: Any) -> Engine:
    """A started engine over ``pipe`` whose batches go to ``pipe.run_batch``."""
    return Engine(pipe, run_batch=Recorder.run_batch, **options).start()


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.005)


def hold_worker(engine: Engine, pipe: Recorder) -> Job:
    """Occupy the worker with one job that waits on the pipe's gate."""
    pipe.gate.clear()
    pipe.entered.clear()
    blocker = engine.submit(Job(item="blocker", batch_key="other"))
    assert pipe.entered.wait(5)
    return blocker


def test_compatible_jobs_run_as_one_batch_in_order() -> None:
    pipe = Recorder()
    engine = start(pipe, queue_size=10, max_batch=3)
    try:
        hold_worker(engine, pipe)
        jobs = [engine.submit(Job(item=i, batch_key="k")) for i in range(5)]
        odd = engine.submit(Job(item="x", batch_key="other-key"))
        pipe.gate.set()
        results = [job.future.result(5) for job in jobs]
        assert results == [f"out-{i}" for i in range(5)]
        assert odd.future.result(5) == "out-x"
        # oldest first; batch mates share the key; at most max_batch together
        assert pipe.batches == [["blocker"], [0, 1, 2], [3, 4], ["x"]]
        assert engine.stats.completed == 7 and engine.stats.batches == 4
    finally:
        engine.stop()


def test_max_batch_one_disables_batching() -> None:
    pipe = Recorder()
    engine = start(pipe, queue_size=10, max_batch=1)
    try:
        hold_worker(engine, pipe)
        jobs = [engine.submit(Job(item=i, batch_key="k")) for i in range(3)]
        pipe.gate.set()
        for job in jobs:
            job.future.result(5)
        assert all(len(batch) == 1 for batch in pipe.batches)
    finally:
        engine.stop()


def test_queue_bound_refuses_with_retry_after() -> None:
    pipe = Recorder()
    engine = start(pipe, queue_size=2, max_batch=1)
    try:
        hold_worker(engine, pipe)
        engine.submit(Job(item=1, batch_key="k"))
        engine.submit(Job(item=2, batch_key="k"))
        with pytest.raises(QueueFull) as info:
            engine.submit(Job(item=3, batch_key="k"))
        assert info.value.retry_after >= 1
        assert engine.stats.refused == 1 and engine.waiting == 2
        pipe.gate.set()
        wait_for(lambda: engine.stats.completed == 3)
        engine.submit(Job(item=4, batch_key="k")).future.result(5)  # room again
    finally:
        engine.stop()


def test_cancelled_job_leaves_queue_and_never_runs() -> None:
    pipe = Recorder()
    engine = start(pipe, queue_size=4)
    try:
        hold_worker(engine, pipe)
        doomed = engine.submit(Job(item="doomed", batch_key="k"))
        kept = engine.submit(Job(item="kept", batch_key="k"))
        assert engine.cancel(doomed) is True
        assert engine.waiting == 1
        pipe.gate.set()
        assert kept.future.result(5) == "out-kept"
        assert all("doomed" not in batch for batch in pipe.batches)
        assert engine.stats.dropped == 1
        assert engine.cancel(kept) is False  # finished jobs cannot be dropped
    finally:
        engine.stop()


def test_result_drops_job_when_client_disconnects() -> None:
    pipe = Recorder()
    engine = start(pipe, queue_size=4)
    try:
        hold_worker(engine, pipe)
        job = engine.submit(Job(item="gone", batch_key="k"))
        calls = []

        async def disconnected() -> bool:
            calls.append(1)
            return len(calls) >= 2

        with pytest.raises(ClientGone):
            asyncio.run(engine.result(job, disconnected, poll_s=0.01))
        assert job.future.cancelled() and engine.waiting == 0
        pipe.gate.set()
        wait_for(lambda: engine.stats.completed == 1)
        assert all("gone" not in batch for batch in pipe.batches)
    finally:
        engine.stop()


def test_plain_jobs_and_errors_reach_the_caller() -> None:
    engine = start(Recorder(), queue_size=4)
    try:
        assert engine.submit(Job(fn=lambda pipe: 41 + 1)).future.result(5) == 42

        def boom(pipe: Any) -> Any:
            raise ValueError("bad thing")

        failing = engine.submit(Job(fn=boom))
        with pytest.raises(ValueError, match="bad thing"):
            failing.future.result(5)
        assert engine.stats.failed == 1
        # the worker survives a failing job
        assert engine.submit(Job(fn=lambda pipe: "still here")).future.result(5) == "still here"
    finally:
        engine.stop()


def test_stop_cancels_waiting_jobs() -> None:
    pipe = Recorder()
    engine = start(pipe, queue_size=4)
    blocker = hold_worker(engine, pipe)
    waiting = engine.submit(Job(item="w", batch_key="k"))
    # stop while the worker is still busy, so the waiting job cannot have started
    stopper = threading.Thread(target=engine.stop)
    stopper.start()
    wait_for(waiting.future.cancelled)
    pipe.gate.set()
    stopper.join(10)
    assert not stopper.is_alive()
    assert blocker.future.result(5) == "out-blocker"  # the running job finishes
    assert waiting.future.cancelled()
    assert pipe.batches == [["blocker"]]  # the cancelled job never reached the model
    with pytest.raises(QueueFull):
        engine.submit(Job(item="late", batch_key="k"))
