"""Local queue and worker pool: isolation of failures, concurrency bound, streaming, stop and Ctrl-C."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest
from regmirror.sync.pool import (
    LocalQueue,
    QueueClosed,
    QueueTimeout,
    WorkerFailure,
    default_concurrency,
    run_items,
)


class Tracker:
    """Counts workers running at once and records which items started and finished."""

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.started: list[int] = []
        self.finished: list[int] = []

    def __call__(self, item: int) -> int:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.started.append(item)
        try:
            time.sleep(self.delay)
            return item * 10
        finally:
            with self.lock:
                self.active -= 1
                self.finished.append(item)


def test_every_item_processed_whatever_the_completion_order() -> None:
    rng = random.Random(7)
    delays = {n: rng.uniform(0, 0.02) for n in range(40)}

    def worker(n: int) -> int:
        time.sleep(delays[n])
        return n * n

    results = run_items(range(40), worker, concurrency=6)
    assert sorted(r for r in results if isinstance(r, int)) == [n * n for n in range(40)]
    assert len(results) == 40


def test_results_come_in_completion_order() -> None:
    def worker(n: int) -> int:
        time.sleep(0.15 if n == 0 else 0.0)
        return n

    results = run_items([0, 1, 2], worker, concurrency=3)
    assert results[-1] == 0  # the slow first item finishes last


def test_failures_are_isolated_and_wrapped() -> None:
    def worker(n: int) -> int:
        if n % 3 == 0:
            raise ValueError(f"bad {n}")
        return n

    results = run_items(range(10), worker, concurrency=3)
    failures = [r for r in results if isinstance(r, WorkerFailure)]
    assert sorted(f.item for f in failures) == [0, 3, 6, 9]
    assert all(isinstance(f.exc, ValueError) and str(f.exc) == f"bad {f.item}" for f in failures)
    assert sorted(r for r in results if isinstance(r, int)) == [1, 2, 4, 5, 7, 8]
    assert str(failures[0]).endswith(f"ValueError: bad {failures[0].item}")


def test_on_error_turns_exceptions_into_results() -> None:
    def worker(n: int) -> str:
        if n == 2:
            raise KeyError(n)
        return f"ok {n}"

    results = run_items(range(4), worker, concurrency=2, on_error=lambda item, exc: f"failed {item}")
    assert sorted(results) == ["failed 2", "ok 0", "ok 1", "ok 3"]


def test_failing_on_error_still_yields_a_failure() -> None:
    def on_error(item: int, exc: Exception) -> int:
        raise RuntimeError("handler broke")

    def worker(n: int) -> int:
        raise ValueError(n)

    results = run_items([1], worker, on_error=on_error)
    assert len(results) == 1
    failure = results[0]
    assert isinstance(failure, WorkerFailure)
    assert isinstance(failure.exc, RuntimeError)


def test_concurrency_bound_is_respected_and_reached() -> None:
    tracker = Tracker(delay=0.05)
    results = run_items(range(12), tracker, concurrency=3)
    assert len(results) == 12
    assert tracker.max_active == 3


def test_concurrency_one_is_sequential() -> None:
    tracker = Tracker(delay=0.005)
    run_items(range(6), tracker, concurrency=1)
    assert tracker.max_active == 1
    assert tracker.started == list(range(6))


def test_on_result_sees_every_result_serialized() -> None:
    seen: list[object] = []
    inside = threading.Lock()
    overlaps = []

    def on_result(result: object) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(result)
            return
        try:
            time.sleep(0.002)
            seen.append(result)
        finally:
            inside.release()

    def worker(n: int) -> int:
        if n == 5:
            raise ValueError(n)
        return n

    run_items(range(20), worker, concurrency=4, on_result=on_result)
    assert overlaps == []
    assert len(seen) == 20
    assert sum(isinstance(r, WorkerFailure) for r in seen) == 1


def test_broken_on_result_does_not_stop_the_pool() -> None:
    def on_result(result: object) -> None:
        raise RuntimeError("callback bug")

    results = run_items(range(5), lambda n: n, concurrency=2, on_result=on_result)
    assert sorted(r for r in results if isinstance(r, int)) == [0, 1, 2, 3, 4]


def test_generator_is_consumed_lazily_with_bounded_queue() -> None:
    produced = 0
    lock = threading.Lock()
    tracker = Tracker(delay=0.01)
    ahead: list[int] = []

    def items() -> Iterator[int]:
        nonlocal produced
        for n in range(60):
            with lock:
                produced += 1
                ahead.append(produced - len(tracker.started))
            yield n

    run_items(items(), tracker, concurrency=2, queue_size=3)
    assert len(tracker.finished) == 60
    # Never more than queue_size waiting + concurrency taken + the one being put.
    assert max(ahead) <= 3 + 2 + 1


def test_stop_event_stops_new_items_and_lets_running_finish() -> None:
    stop = threading.Event()
    tracker = Tracker(delay=0.03)

    def on_result(result: object) -> None:
        if len(tracker.finished) >= 3:
            stop.set()

    results = run_items(range(100), tracker, concurrency=2, on_result=on_result, stop_event=stop)
    assert stop.is_set()
    assert sorted(tracker.started) == sorted(tracker.finished)  # nothing cut off mid-way
    assert len(results) == len(tracker.finished)
    assert 3 <= len(results) <= 3 + 2  # at most the ones already running when the stop came
    assert len(tracker.started) < 100


def test_stop_event_set_before_start_runs_nothing() -> None:
    stop = threading.Event()
    stop.set()
    tracker = Tracker()
    assert run_items(range(10), tracker, stop_event=stop) == []
    assert tracker.started == []


def test_keyboard_interrupt_in_producer_waits_for_running_items_then_reraises() -> None:
    tracker = Tracker(delay=0.2)

    def items() -> Iterator[int]:
        yield from range(4)
        while len(tracker.started) < 2:
            time.sleep(0.005)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_items(items(), tracker, concurrency=2, queue_size=10)
    # The two running items were allowed to finish; the two queued ones never started.
    assert sorted(tracker.finished) == sorted(tracker.started)
    assert len(tracker.started) == 2


def test_default_concurrency_bounds() -> None:
    assert 2 <= default_concurrency() <= 8


def test_empty_input() -> None:
    assert run_items([], lambda n: n) == []


# --- LocalQueue -------------------------------------------------------------------------------------


def test_local_queue_fifo_and_task_done() -> None:
    queue: LocalQueue[str] = LocalQueue()
    for word in ("a", "b", "c"):
        queue.put(word)
    assert len(queue) == 3
    assert [queue.get(), queue.get(), queue.get()] == ["a", "b", "c"]
    assert not queue.join(timeout=0.01)
    for _ in range(3):
        queue.task_done()
    assert queue.join(timeout=0.01)
    with pytest.raises(ValueError, match="task_done"):
        queue.task_done()


def test_local_queue_bound_and_timeouts() -> None:
    queue: LocalQueue[int] = LocalQueue(maxsize=1)
    queue.put(1)
    with pytest.raises(QueueTimeout):
        queue.put(2, timeout=0.01)
    assert queue.get() == 1
    with pytest.raises(QueueTimeout):
        queue.get(timeout=0.01)


def test_local_queue_blocked_put_resumes_when_room_appears() -> None:
    queue: LocalQueue[int] = LocalQueue(maxsize=1)
    queue.put(1)
    done = threading.Event()

    def producer() -> None:
        queue.put(2)
        done.set()

    thread = threading.Thread(target=producer)
    thread.start()
    assert not done.wait(0.05)
    assert queue.get() == 1
    assert done.wait(2)
    thread.join()
    assert queue.get() == 2


def test_local_queue_close_drains_then_reports_closed() -> None:
    queue: LocalQueue[int] = LocalQueue()
    queue.put(1)
    queue.close()
    assert queue.closed
    with pytest.raises(QueueClosed):
        queue.put(2)
    assert queue.get() == 1
    with pytest.raises(QueueClosed):
        queue.get(timeout=1)


def test_local_queue_close_wakes_blocked_getter() -> None:
    queue: LocalQueue[int] = LocalQueue()
    outcome: list[str] = []

    def getter() -> None:
        try:
            queue.get()
        except QueueClosed:
            outcome.append("closed")

    thread = threading.Thread(target=getter)
    thread.start()
    time.sleep(0.02)
    queue.close()
    thread.join(2)
    assert outcome == ["closed"]


def test_local_queue_cancel_drops_pending_items() -> None:
    queue: LocalQueue[int] = LocalQueue()
    for n in range(3):
        queue.put(n)
    assert queue.get() == 0
    assert queue.cancel() == [1, 2]
    queue.task_done()  # the one taken
    assert queue.join(timeout=0.01)
    with pytest.raises(QueueClosed):
        queue.get()
