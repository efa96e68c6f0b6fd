"""In-process queue and worker pool: the lister streams items in while relays copy them out.

Threads, not processes: a relay spends its time waiting on a skopeo subprocess. The queue between the
producer and the workers is bounded, so a planner producing millions of items holds only a few in
memory. One item failing never stops the others. A stop request (an Event, or Ctrl-C in the thread
that called `run_items`) stops handing out new items and lets the running ones finish.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

log = logging.getLogger("regmirror.queue")

T = TypeVar("T")
R = TypeVar("R")

# How often blocked producers and idle workers look at the stop flag.
POLL_SECONDS = 0.1


def default_concurrency() -> int:
    return min(8, (os.cpu_count() or 1) * 2)


class QueueClosed(Exception):
    """Raised by `put` after `close()`/`cancel()`, and by `get` once a closed queue is empty."""


class NotStarted(Exception):
    """Raised by a worker that saw the stop before its item began: dropped like a queued item."""


class QueueTimeout(Exception):
    """`put` or `get` waited `timeout` seconds without room or an item."""


@dataclass(frozen=True, slots=True)
class WorkerFailure(Generic[T]):
    """An item whose worker raised: what `run_items` returns for it when there is no `on_error`."""

    item: T
    exc: Exception

    def __str__(self) -> str:
        return f"{self.item}: {type(self.exc).__name__}: {self.exc}"


class LocalQueue(Generic[T]):
    """Bounded FIFO with close semantics (Python 3.11's queue.Queue has no shutdown).

    `close()`: no more puts; getters drain what is left, then get QueueClosed.
    `cancel()`: like close, and pending items are dropped (returned to the caller).
    `task_done()`/`join()` work as in queue.Queue.
    """

    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._closed = False
        self._unfinished = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T, timeout: float | None = None) -> None:
        with self._changed:
            if not self._changed.wait_for(self._has_room, timeout):
                raise QueueTimeout(f"queue full for {timeout}s")
            if self._closed:
                raise QueueClosed("queue is closed")
            self._items.append(item)
            self._unfinished += 1
            self._changed.notify_all()

    def get(self, timeout: float | None = None) -> T:
        with self._changed:
            if not self._changed.wait_for(self._has_item_or_closed, timeout):
                raise QueueTimeout(f"queue empty for {timeout}s")
            if not self._items:
                raise QueueClosed("queue is closed and empty")
            item = self._items.popleft()
            self._changed.notify_all()
            return item

    def task_done(self) -> None:
        with self._changed:
            if self._unfinished <= 0:
                raise ValueError("task_done() called more times than there were items")
            self._unfinished -= 1
            self._changed.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every item put has been marked done (dropped items count as done)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def cancel(self) -> list[T]:
        with self._changed:
            self._closed = True
            dropped = list(self._items)
            self._items.clear()
            self._unfinished -= len(dropped)
            self._changed.notify_all()
            return dropped

    def _has_room(self) -> bool:
        return self._closed or self.maxsize <= 0 or len(self._items) < self.maxsize

    def _has_item_or_closed(self) -> bool:
        return bool(self._items) or self._closed


class _Pool(Generic[T, R]):
    """Worker threads taking items from one queue; results collected under a lock."""

    def __init__(
        self,
        worker: Callable[[T], R],
        on_result: Callable[[R | WorkerFailure[T]], None] | None,
        on_error: Callable[[T, Exception], R] | None,
        stop: threading.Event,
    ) -> None:
        self.worker = worker
        self.on_result = on_result
        self.on_error = on_error
        self.stop = stop
        self.results: list[R | WorkerFailure[T]] = []
        self._lock = threading.Lock()

    def consume(self, queue: LocalQueue[T]) -> None:
        while not self.stop.is_set():
            try:
                item = queue.get(timeout=POLL_SECONDS)
            except QueueTimeout:
                continue
            except QueueClosed:
                return
            try:
                self._record(self._process(item))
            except NotStarted:
                log.info("stop requested: %s not started", item)
            finally:
                queue.task_done()

    def _process(self, item: T) -> R | WorkerFailure[T]:
        try:
            return self.worker(item)
        except NotStarted:
            raise
        except Exception as exc:
            log.warning("worker failed on %s: %s: %s", item, type(exc).__name__, exc)
            return self._failure(item, exc)

    def _failure(self, item: T, exc: Exception) -> R | WorkerFailure[T]:
        if self.on_error is None:
            return WorkerFailure(item, exc)
        try:
            return self.on_error(item, exc)
        except Exception as handler_exc:
            log.exception("on_error failed on %s", item)
            return WorkerFailure(item, handler_exc)

    def _record(self, result: R | WorkerFailure[T]) -> None:
        # One lock for results and callback: callers may print or count without their own locking.
        with self._lock:
            self.results.append(result)
            if self.on_result is None:
                return
            try:
                self.on_result(result)
            except Exception:
                log.exception("on_result callback failed")


def _feed(items: Iterable[T], queue: LocalQueue[T], stop: threading.Event) -> None:
    """Put items until exhausted or stopped; waits for room in short steps so a stop is seen."""
    for item in items:
        while not stop.is_set():
            try:
                queue.put(item, timeout=POLL_SECONDS)
                break
            except QueueTimeout:
                continue
        if stop.is_set():
            return


@overload
def run_items(
    items: Iterable[T],
    worker: Callable[[T], R],
    *,
    concurrency: int | None = ...,
    on_result: Callable[[R], None] | None = ...,
    on_error: Callable[[T, Exception], R],
    stop_event: threading.Event | None = ...,
    queue_size: int | None = ...,
) -> list[R]: ...


@overload
def run_items(
    items: Iterable[T],
    worker: Callable[[T], R],
    *,
    concurrency: int | None = ...,
    on_result: Callable[[R | WorkerFailure[T]], None] | None = ...,
    on_error: None = ...,
    stop_event: threading.Event | None = ...,
    queue_size: int | None = ...,
) -> list[R | WorkerFailure[T]]: ...


def run_items(
    items: Iterable[T],
    worker: Callable[[T], R],
    *,
    concurrency: int | None = None,
    on_result: Callable[[R], None] | Callable[[R | WorkerFailure[T]], None] | None = None,
    on_error: Callable[[T, Exception], R] | None = None,
    stop_event: threading.Event | None = None,
    queue_size: int | None = None,
) -> list[R] | list[R | WorkerFailure[T]]:
    """Run `worker` on every item with at most `concurrency` at once; results in completion order.

    `items` may be a generator: it is consumed lazily, at most `queue_size` (default 2 × concurrency)
    items wait in the queue. A worker exception becomes `on_error(item, exc)` or a `WorkerFailure`.
    When `stop_event` is set, or KeyboardInterrupt reaches this thread, no new item starts and the
    running ones finish; KeyboardInterrupt is then re-raised, a stop returns the results so far.
    """
    workers = max(1, concurrency if concurrency is not None else default_concurrency())
    queue: LocalQueue[T] = LocalQueue(maxsize=queue_size or 2 * workers)
    stop = stop_event if stop_event is not None else threading.Event()
    # The overloads pair on_result's parameter type with on_error; inside, both shapes are one.
    pool: _Pool[T, R] = _Pool(worker, on_result, on_error, stop)  # type: ignore[arg-type]
    finished = [threading.Event() for _ in range(workers)]
    threads = [
        threading.Thread(target=_consume, args=(pool, queue, done), name=f"regmirror-worker-{n}", daemon=True)
        for n, done in enumerate(finished)
    ]
    for thread in threads:
        thread.start()
    try:
        _feed(items, queue, stop)
        _finish_feeding(queue, stop)
        _join(finished)
    except BaseException:
        stop.set()  # also when the caller passed its own event: the run is over
        dropped = queue.cancel()
        log.warning("interrupted: %d queued items not started; waiting for running ones", len(dropped))
        _join(finished)
        raise
    return pool.results


def _consume(pool: _Pool[Any, Any], queue: LocalQueue[Any], done: threading.Event) -> None:
    try:
        pool.consume(queue)
    finally:
        done.set()


def _join(finished: list[threading.Event]) -> None:
    # Wait on events, in steps: a Ctrl-C interrupting Thread.join() can make is_alive() answer False
    # for a running thread (CPython < 3.13), and a bare wait would hide the Ctrl-C until it returns.
    for done in finished:
        while not done.wait(POLL_SECONDS):
            pass


def _finish_feeding(queue: LocalQueue[Any], stop: threading.Event) -> None:
    if stop.is_set():
        dropped = queue.cancel()
        log.info("stop requested: %d queued items not started; waiting for running ones", len(dropped))
    else:
        queue.close()
