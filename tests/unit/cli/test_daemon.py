"""`regmirror run` scheduling: one-off first, intervals, half-interval skip, reload, failure exit code."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from regmirror.cli.daemon import Daemon
from regmirror.config import Config, Task
from regmirror.sync.plan import Plan
from regmirror.sync.reports import SyncReport

from tests.testbed import write_config

TASKS = """
    tasks:
      - name: once
        source: {registry: "127.0.0.1:5000"}
        target: {registry: "127.0.0.1:5001"}
        mappings: [{from: a}]
      - name: every-minute
        interval: 60
        source: {registry: "127.0.0.1:5000"}
        target: {registry: "127.0.0.1:5001"}
        mappings: [{from: b}]
    """


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingSync:
    def __init__(self, clock: FakeClock, duration: float = 5.0, fail: set[str] | None = None) -> None:
        self.clock, self.duration, self.fail = clock, duration, fail or set()
        self.calls: list[tuple[str, float]] = []

    def __call__(self, config: Config, task: Task) -> SyncReport:
        self.calls.append((task.name, self.clock.now))
        self.clock.now += self.duration
        if task.name in self.fail:
            raise RuntimeError("boom")
        return SyncReport(Plan())


def test_one_off_first_then_periodic_at_interval(tmp_path: Path) -> None:
    clock = FakeClock()
    sync = RecordingSync(clock)
    daemon = Daemon(str(write_config(tmp_path, TASKS)), sync=sync, clock=clock)
    for task in daemon._tasks(one_off=True):
        daemon._run_task(task)
    daemon.tick()  # every-minute runs at once
    first = sync.calls[1][1]
    daemon.tick()  # not due yet
    clock.now = first + 59
    daemon.tick()  # still not due: 60 s after its start
    assert [name for name, _ in sync.calls] == ["once", "every-minute"]
    clock.now = first + 60
    daemon.tick()
    assert [name for name, _ in sync.calls] == ["once", "every-minute", "every-minute"]
    assert sync.calls[2][1] - first == pytest.approx(60)


def test_run_starting_within_half_an_interval_after_last_end_is_skipped(tmp_path: Path) -> None:
    clock = FakeClock()
    sync = RecordingSync(clock, duration=45)  # a long run: ends 45 s after it started
    daemon = Daemon(str(write_config(tmp_path, TASKS)), sync=sync, clock=clock)
    daemon.tick()
    clock.now += 15  # 60 s after the start, but only 15 s after the end: skipped (< 30 s)
    daemon.tick()
    assert [name for name, _ in sync.calls] == ["every-minute"]
    clock.now += 45  # one interval after the last end
    daemon.tick()
    assert [name for name, _ in sync.calls] == ["every-minute", "every-minute"]


def test_failed_task_sets_exit_code_and_daemon_goes_on(tmp_path: Path) -> None:
    only_once = """
        tasks:
          - name: bad
            source: {registry: "127.0.0.1:5000"}
            target: {registry: "127.0.0.1:5001"}
            mappings: [{from: a}]
          - name: good
            source: {registry: "127.0.0.1:5000"}
            target: {registry: "127.0.0.1:5001"}
            mappings: [{from: b}]
        """
    clock = FakeClock()
    sync = RecordingSync(clock, fail={"bad"})
    daemon = Daemon(str(write_config(tmp_path, only_once)), sync=sync, clock=clock)
    assert daemon.run() == 1
    assert [name for name, _ in sync.calls] == ["bad", "good"]


@pytest.fixture
def restore_signals() -> Iterator[dict[int, object]]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    yield saved
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("restore_signals")
def test_sighup_reloads_config_between_runs(tmp_path: Path) -> None:
    clock = FakeClock()
    sync = RecordingSync(clock)
    path = write_config(tmp_path, TASKS)
    daemon = Daemon(str(path), sync=sync, clock=clock, poll_seconds=0.01)
    daemon.install_signal_handlers()
    daemon.tick()
    path.write_text(path.read_text().replace("name: once", "name: added-later"))
    os.kill(os.getpid(), signal.SIGHUP)
    assert daemon.reload_requested.wait(2)
    daemon.tick()
    assert [t.name for t in daemon.config.tasks] == ["added-later", "every-minute"]
    assert ("added-later", pytest.approx(clock.now, abs=100)) in [(n, t) for n, t in sync.calls]


def test_a_reload_restarts_fully_as_dregsy_does(tmp_path: Path) -> None:
    """One-off tasks run again and periodic tasks fire at once, even within their interval."""
    clock = FakeClock()
    sync = RecordingSync(clock)
    daemon = Daemon(str(write_config(tmp_path, TASKS)), sync=sync, clock=clock)
    for task in daemon._tasks(one_off=True):
        daemon._run_task(task)
    daemon.tick()
    clock.now += 10  # well within every-minute's interval and half-interval
    daemon.reload_requested.set()
    daemon.tick()
    assert [name for name, _ in sync.calls] == ["once", "every-minute", "once", "every-minute"]
    daemon.tick()  # and then at its interval again, not at every tick
    assert len(sync.calls) == 4


def test_bad_config_on_reload_keeps_the_old_one(tmp_path: Path) -> None:
    path = write_config(tmp_path, TASKS)
    daemon = Daemon(str(path), sync=RecordingSync(FakeClock()), clock=FakeClock())
    path.write_text("tasks: [oops")
    daemon.reload()
    assert [t.name for t in daemon.config.tasks] == ["once", "every-minute"]


def test_watch_reloads_after_quiet_period(tmp_path: Path) -> None:
    clock = FakeClock()
    path = write_config(tmp_path, "watch: true\n" + TASKS.replace("\n    ", "\n"))
    daemon = Daemon(str(path), sync=RecordingSync(clock), clock=clock)
    daemon.tick()
    path.write_text(path.read_text().replace("interval: 60", "interval: 120"))
    os.utime(path, (clock.now + 1, clock.now + 1))
    daemon.tick()  # change seen, waiting for quiet
    assert daemon.config.tasks[1].interval == 60
    clock.now += 6
    daemon.tick()
    assert daemon.config.tasks[1].interval == 120


@pytest.mark.usefixtures("restore_signals")
def test_stop_event_ends_run_loop(tmp_path: Path) -> None:
    clock = FakeClock()
    daemon = Daemon(
        str(write_config(tmp_path, TASKS)), sync=RecordingSync(clock), clock=clock, poll_seconds=0.01
    )
    threading.Timer(0.2, daemon.stop_event.set).start()
    assert daemon.run() == 0
