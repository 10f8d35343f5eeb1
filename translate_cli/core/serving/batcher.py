"""Dynamic batching: requests from many clients decoded together by one worker thread.

The event loop only puts a job on a queue and awaits its future; the worker thread takes the oldest
job, gathers the jobs that arrive within a short window (or are already waiting) up to a token budget,
runs the model once on all their items and hands each job exactly its own results, in order. Jobs
waiting beyond a bound are refused with Overloaded instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Callable, Generic, TypeVar

from annotated_types import Ge

Item = TypeVar("Item")
Result = TypeVar("Result")
log = logging.getLogger("tcli.serve")


@dataclass
class BatchSettings:
    """How requests are merged (server flags --batching/--no-batching, --batch-wait-ms, --max-queue)."""

    enabled: bool = True  # False: one request per model call (the benchmark's baseline)
    wait_ms: Annotated[float, Ge(0)] = 5.0  # how long the oldest request may wait for others to join it
    max_queue: Annotated[int, Ge(1)] = 1024  # items (sentences) waiting; beyond it requests get Overloaded


class Overloaded(Exception):
    """Too much work is waiting; the client should retry after `retry_after` seconds."""

    def __init__(self, waiting: int, retry_after: int):
        super().__init__(f"server busy: {waiting} sentences are waiting; retry in {retry_after} s")
        self.waiting, self.retry_after = waiting, retry_after


@dataclass
class _Job(Generic[Item, Result]):
    items: list[Item]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.monotonic)


_STOP = object()


class Batcher(Generic[Item, Result]):
    """`run(items) -> results` (one per item, in order) is called only from the worker thread.

    `weigh(item)` gives an item's cost in the unit of `budget` (source tokens); a batch is closed once
    adding the next job would pass the budget (a single job larger than the budget still runs, alone).
    """

    def __init__(self, run: Callable[[list[Item]], list[Result]], weigh: Callable[[Item], int], budget: int,
                 settings: BatchSettings):
        self.run, self.weigh, self.budget, self.settings = run, weigh, budget, settings
        self._queue: queue.Queue = queue.Queue()
        self._carry: _Job | None = None  # a job taken from the queue that did not fit the previous batch
        self._lock = threading.Lock()
        self._waiting = 0  # items queued, not yet taken into a batch
        self._rate = 0.0  # recent items per second, for Retry-After
        self._thread: threading.Thread | None = None
        self.batches = self.items_done = 0

    def start(self) -> None:
        # A daemon thread: a forced exit (second Ctrl-C) must not hang on a long decode.
        self._thread = threading.Thread(target=self._work, name="tcli-batcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish every job already queued, then end the worker (blocks; call it off the event loop)."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    @property
    def waiting(self) -> int:
        return self._waiting

    async def submit(self, items: list[Item]) -> list[Result]:
        """The results for `items`, in order; raises Overloaded when too much is waiting."""
        if not items:
            return []
        with self._lock:
            # An idle server takes any request, however large; a busy one refuses past the bound.
            if self._waiting and self._waiting + len(items) > self.settings.max_queue:
                raise Overloaded(self._waiting, self._retry_after())
            self._waiting += len(items)
        loop = asyncio.get_running_loop()
        job = _Job(items, loop.create_future(), loop)
        self._queue.put(job)
        return await job.future

    def _retry_after(self) -> int:
        return max(1, min(60, math.ceil(self._waiting / self._rate))) if self._rate > 0 else 1

    def _work(self) -> None:
        while True:
            jobs = self._gather()
            if jobs is None:
                return
            self._run_batch(jobs)

    def _next(self, timeout: float | None) -> object:
        if self._carry is not None:
            job, self._carry = self._carry, None
            return job
        if timeout is None:
            return self._queue.get()
        return self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()

    def _gather(self) -> list[_Job] | None:
        """The next batch: the oldest job, plus those that join it within the window and the budget."""
        first = self._next(None)
        if first is _STOP:
            return None
        jobs, weight = [first], self._weight(first)
        if not self.settings.enabled:
            return jobs
        # The window counts from the oldest job's arrival: under load, jobs queued while the model
        # was busy go at once, without waiting again.
        deadline = first.enqueued + self.settings.wait_ms / 1000
        while weight < self.budget:
            try:
                job = self._next(deadline - time.monotonic())
            except queue.Empty:
                break
            if job is _STOP:
                self._queue.put(_STOP)  # after this batch; nothing queued behind it is lost
                break
            job_weight = self._weight(job)
            if weight + job_weight > self.budget:
                self._carry = job
                break
            jobs.append(job)
            weight += job_weight
        return jobs

    def _weight(self, job: _Job) -> int:
        try:
            return sum(self.weigh(item) for item in job.items)
        except Exception:  # the worker must live on; the model call will report this job's error
            return 0

    def _run_batch(self, jobs: list[_Job]) -> None:
        with self._lock:
            self._waiting -= sum(len(job.items) for job in jobs)
        # A client that went away (its future cancelled) costs no decoding.
        live = [job for job in jobs if not job.future.cancelled()]
        items = [item for job in live for item in job.items]
        started = time.monotonic()
        try:
            results = self._call(items)
        except Exception as exc:
            if len(live) == 1:
                self._fail(live[0], exc)
                return
            # One bad request must not fail the others that shared its batch: retry each on its own.
            for job in live:
                try:
                    self._deliver(job, self._call(job.items))
                    self.items_done += len(job.items)
                except Exception as job_exc:
                    self._fail(job, job_exc)
            return
        seconds = max(time.monotonic() - started, 1e-6)
        self._rate = 0.7 * self._rate + 0.3 * (len(items) / seconds) if self._rate else len(items) / seconds
        self.batches += 1
        self.items_done += len(items)
        start = 0
        for job in live:
            self._deliver(job, results[start:start + len(job.items)])
            start += len(job.items)

    def _call(self, items: list[Item]) -> list[Result]:
        results = self.run(items) if items else []
        if len(results) != len(items):
            raise RuntimeError(f"{len(results)} results for {len(items)} items")
        return results

    @staticmethod
    def _deliver(job: _Job, results: list) -> None:
        job.loop.call_soon_threadsafe(_settle, job.future, results, None)

    @staticmethod
    def _fail(job: _Job, error: Exception) -> None:
        log.error("translation failed: %s: %s", type(error).__name__, error, exc_info=error)
        job.loop.call_soon_threadsafe(_settle, job.future, None, error)


def _settle(future: asyncio.Future, result: object, error: BaseException | None) -> None:
    """On the event loop: resolve a future unless its client already gave up."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
