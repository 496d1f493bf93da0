"""The model worker: one thread owns the pipeline; requests wait in a bounded queue.

Work arrives as :class:`Job` objects. A job is either *batchable* (an
``InferenceInput``: the ``/run_inference/`` and ``/v1/interpolate`` requests, answered by
:func:`sonogen.server.batching.run_inference_batch`) or a plain callable run with the
pipeline as argument (generate, transform, long pieces). The worker takes the oldest job;
when it is batchable it also takes the other waiting jobs with the same ``batch_key`` (up
to ``max_batch``) and runs them as one batch.

Back-pressure: :meth:`Engine.submit` raises :class:`QueueFull` once ``queue_size`` jobs
wait, and the server answers 503 with ``Retry-After``; so does :meth:`Engine.result` for a
job that waited ``max_wait_s`` without starting (it leaves the queue), so no request waits
for the model longer than that. A job whose client went away is
cancelled with :meth:`Engine.cancel`; if it has not started it leaves the queue and never
runs.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from sonogen.server.batching import run_inference_batch

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """The queue holds ``queue_size`` jobs, or a job waited ``max_wait_s`` without starting;
    ``retry_after`` is a wait estimate in seconds."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message or f"the generation queue is full; retry in about {retry_after} s")
        self.retry_after = retry_after


class ClientGone(Exception):
    """The client disconnected while its job waited; the job was dropped."""


@dataclass(eq=False)
class Job:
    """One unit of work for the worker.

    Attributes:
        fn: callable ``fn(pipeline) -> result`` for plain jobs, else None.
        item: the ``InferenceInput`` of a batchable job, else None.
        batch_key: jobs with equal keys may run in one batch (batchable jobs only).
        future: resolved with the result (or exception) by the worker.
        enqueued_at: ``time.monotonic()`` at submission, seconds.
        queue_s: seconds the job waited before the model took it (set when it starts).
        model_s: seconds of model work of its batch (set before its future resolves).
    """

    fn: Callable[[Any], Any] | None = None
    item: Any = None
    batch_key: Hashable | None = None
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    enqueued_at: float = field(default_factory=time.monotonic)
    queue_s: float | None = None
    model_s: float | None = None

    @property
    def batchable(self) -> bool:
        return self.fn is None


@dataclass
class EngineStats:
    """Counters since start (all are job counts except ``busy_s``, seconds of model time)."""

    accepted: int = 0
    refused: int = 0
    completed: int = 0
    failed: int = 0
    dropped: int = 0
    batches: int = 0
    batched_items: int = 0
    busy_s: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


class Engine:
    """Owns a pipeline and the single worker thread that calls it.

    Args:
        pipeline: a ``SonogenPipeline``.
        queue_size: most jobs waiting (not counting the ones running); at least 1.
        max_batch: most batchable jobs run together; 1 disables batching.
        threads: torch intra-op threads of the worker (None: torch's default). When other
            processes share the CPU, 1 is often much faster than oversubscribing the cores.
        max_wait_s: a job that has not started after this many seconds is dropped and its
            request answered 503 with ``Retry-After`` (None: it waits as long as it takes).
        run_batch: ``run_batch(pipeline, items) -> results`` (one per item, in order)
            answers a batch of batchable jobs; default
            :func:`~sonogen.server.batching.run_inference_batch`.
    """

    def __init__(
        self,
        pipeline: Any,
        *,
        queue_size: int = 16,
        max_batch: int = 4,
        threads: int | None = None,
        run_batch: Callable[[Any, list[Any]], Any] = run_inference_batch,
        max_wait_s: float | None = None,
    ) -> None:
        if queue_size < 1 or max_batch < 1:
            raise ValueError("queue_size and max_batch must be at least 1")
        self.pipeline = pipeline
        self.run_batch = run_batch
        self.queue_size = queue_size
        self.max_batch = max_batch
        self.threads = threads
        self.max_wait_s = max_wait_s
        self.stats = EngineStats()
        self._queue: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._running = 0
        self._stop = False
        self._thread: threading.Thread | None = None
        self._mean_job_s = 1.0  # running estimate of seconds per batch, for Retry-After

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Engine:
        """Start the worker thread (idempotent)."""
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._stop = False
                self._thread = threading.Thread(target=self._loop, name="sonogen-worker", daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker; waiting jobs are cancelled."""
        with self._cond:
            self._stop = True
            while self._queue:
                job = self._queue.popleft()
                job.future.cancel()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----------------------------------------------------------------- queue
    @property
    def waiting(self) -> int:
        """Jobs in the queue (not yet started)."""
        with self._cond:
            return len(self._queue)

    @property
    def running(self) -> int:
        """Jobs the worker is running now."""
        with self._cond:
            return self._running

    def retry_after(self) -> int:
        """Whole seconds until the queue has likely drained one batch's worth (>= 1)."""
        batches = max(1, math.ceil((len(self._queue) + 1) / max(1, self.max_batch)))
        return max(1, math.ceil(self._mean_job_s * batches))

    def submit(self, job: Job) -> Job:
        """Queue ``job``; raises :class:`QueueFull` when ``queue_size`` jobs already wait."""
        with self._cond:
            if self._stop:
                raise QueueFull(5)
            if len(self._queue) >= self.queue_size:
                self.stats.refused += 1
                raise QueueFull(self.retry_after())
            self._queue.append(job)
            self.stats.accepted += 1
            self._cond.notify()
        return job

    def cancel(self, job: Job) -> bool:
        """Drop ``job`` if it has not started; True when it was dropped."""
        with self._cond:
            if job.future.cancel():
                try:
                    self._queue.remove(job)
                except ValueError:
                    pass
                self.stats.dropped += 1
                return True
        return False

    async def result(
        self,
        job: Job,
        is_disconnected: Callable[[], Any] | None = None,
        poll_s: float = 0.1,
    ) -> Any:
        """Await ``job``'s result; every ``poll_s`` ask ``is_disconnected()`` (awaitable).

        Raises:
            ClientGone: the client left; a job that had not started was dropped.
            QueueFull: the job waited ``max_wait_s`` without starting; it was dropped.
            Any exception the job raised.
        """
        wrapped = asyncio.wrap_future(job.future)
        while True:
            done, _ = await asyncio.wait({wrapped}, timeout=poll_s)
            if done:
                return wrapped.result()
            if is_disconnected is not None and await is_disconnected():
                self.cancel(job)  # dropped if still waiting; a running job finishes and goes unread
                raise ClientGone()
            waited = time.monotonic() - job.enqueued_at
            if self.max_wait_s is not None and waited > self.max_wait_s and self.cancel(job):
                retry = self.retry_after()
                raise QueueFull(retry, f"waited {waited:.0f} s for the model without starting; retry in about {retry} s")

    # ----------------------------------------------------------------- worker
    def _take(self) -> list[Job] | None:
        """Block until jobs are available; pop the oldest live one and its batch mates."""
        with self._cond:
            while True:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return None
                first = self._queue.popleft()
                if not first.future.set_running_or_notify_cancel():
                    continue  # cancelled while waiting
                batch = [first]
                if first.batchable and self.max_batch > 1:
                    for other in list(self._queue):
                        if len(batch) >= self.max_batch:
                            break
                        if other.batchable and other.batch_key == first.batch_key:
                            self._queue.remove(other)
                            if other.future.set_running_or_notify_cancel():
                                batch.append(other)
                self._running = len(batch)
                return batch

    def _loop(self) -> None:
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)  # OpenMP settings are per calling thread
        while True:
            batch = self._take()
            if batch is None:
                return
            started = time.monotonic()
            for job in batch:
                job.queue_s = started - job.enqueued_at
            try:
                self._run(batch, started)
            finally:
                elapsed = time.monotonic() - started
                with self._cond:
                    self._running = 0
                    self.stats.busy_s += elapsed
                    self._mean_job_s = 0.8 * self._mean_job_s + 0.2 * elapsed

    def _run(self, batch: list[Job], started: float) -> None:
        first = batch[0]
        try:
            if first.batchable:
                results = list(self.run_batch(self.pipeline, [job.item for job in batch]))
                if len(results) != len(batch):
                    raise RuntimeError(f"batch of {len(batch)} gave {len(results)} results")
                with self._cond:
                    self.stats.batches += 1
                    self.stats.batched_items += len(batch)
            else:
                assert first.fn is not None
                results = [first.fn(self.pipeline)]
        except BaseException as exc:  # handed to the waiting requests
            log.debug("job failed: %s", exc, exc_info=True)
            _timed(batch, started)
            with self._cond:
                self.stats.failed += len(batch)
            for job in batch:
                job.future.set_exception(exc)
            return
        _timed(batch, started)
        with self._cond:
            self.stats.completed += len(batch)
        for job, result in zip(batch, results, strict=True):
            job.future.set_result(result)


def _timed(batch: list[Job], started: float) -> None:
    """Record the batch's model time on each of its jobs (before their futures resolve)."""
    elapsed = time.monotonic() - started
    for job in batch:
        job.model_s = elapsed
