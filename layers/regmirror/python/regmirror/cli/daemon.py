"""`regmirror run`: dregsy's daemon behaviour.

One-off tasks run once, then periodic tasks run at their `interval` in one loop. A run that would
start less than half an interval after the task's last run ended is skipped (dregsy), and a task is
never run twice at once (tasks run one after the other; images inside a task run in parallel).
SIGHUP, or a change of the file with `watch: true` (after 5 s of quiet), restarts fully, as dregsy does:
the config is read again, one-off tasks run again and periodic tasks are due at once; a running task
finishes first. A new config that does not load is logged and the previous one stays (dregsy stops
then: a daemon should not die of a typo in a watched file). SIGINT/SIGTERM stop the running task: no
new copy starts, running copies get 10 s, then they are killed; a second signal kills them at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from regmirror.config import Config, Task, load_config
from regmirror.errors import ConfigError
from regmirror.registries.logins import forget_logins
from regmirror.sync.pacing import Concurrency
from regmirror.sync.record import CopyRecord
from regmirror.sync.reports import SyncReport
from regmirror.sync.run import sync_config

log = logging.getLogger("regmirror.daemon")

WATCH_QUIET_SECONDS = 5.0
STOP_GRACE_SECONDS = 10.0  # as `sync` (cli.stopping): inside the 30 s before Kubernetes' SIGKILL
SyncFn = Callable[[Config, Task], SyncReport]


@dataclass(slots=True)
class TaskState:
    next_start: float = 0.0
    last_end: float | None = None
    last_ok: bool = True
    runs: int = 0


def default_sync(
    concurrency: int | Concurrency, record: CopyRecord | None = None, stop: threading.Event | None = None
) -> SyncFn:
    def run(config: Config, task: Task) -> SyncReport:
        return sync_config(config, tasks=[task], concurrency=concurrency, record=record, stop=stop)

    return run


class Daemon:
    def __init__(
        self,
        config_path: str,
        *,
        task_pattern: str | None = None,
        concurrency: int | Concurrency = 4,
        sync: SyncFn | None = None,
        record: CopyRecord | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 1.0,
    ) -> None:
        self.config_path = config_path
        self.task_pattern = task_pattern
        self.stop_event = threading.Event()
        self.sync = sync or default_sync(concurrency, record, self.stop_event)
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.reload_requested = threading.Event()
        self.states: dict[str, TaskState] = {}
        self.config = load_config(config_path)
        self._mtime = self._file_mtime()
        self._changed_at: float | None = None

    # --- signals -------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())
        signal.signal(signal.SIGTERM, self._stop_requested)
        signal.signal(signal.SIGINT, self._stop_requested)

    def _stop_requested(self, signum: int, frame: object) -> None:
        """First signal: the running task starts no new copy, its copies get `STOP_GRACE_SECONDS`,
        then they are killed (work folders removed); a second signal kills them at once."""
        from regmirror.sync.workdirs import abort_running

        name = signal.Signals(signum).name
        if self.stop_event.is_set():
            log.warning("second %s: aborting the running copies now", name)
            abort_running()
            return
        self.stop_event.set()
        log.warning("%s: stopping; no new copies start, running ones get %g s", name, STOP_GRACE_SECONDS)
        timer = threading.Timer(STOP_GRACE_SECONDS, abort_running)
        timer.daemon = True
        timer.start()

    # --- main loop -----------------------------------------------------------------------------
    def run(self) -> int:
        self.install_signal_handlers()
        for task in self._tasks(one_off=True):
            if self.stop_event.is_set():
                break
            self._run_task(task)
        while not self.stop_event.is_set() and self._tasks(one_off=False):
            self.tick()
            self.stop_event.wait(self.poll_seconds)
        failed = [name for name, s in self.states.items() if not s.last_ok]
        if failed:
            log.error("tasks whose last run failed: %s", ", ".join(sorted(failed)))
        return 1 if failed else 0

    def tick(self) -> None:
        """One pass of the loop: reload if asked, then run every periodic task that is due."""
        self._maybe_reload()
        for task in self._tasks(one_off=False):
            if self.stop_event.is_set():
                return
            state = self.states.setdefault(task.name, TaskState())
            now = self.clock()
            if now < state.next_start:
                continue
            if state.last_end is not None and now - state.last_end < task.interval / 2:
                log.info("task %s: skipping run, last run ended less than half an interval ago", task.name)
                state.next_start = state.last_end + task.interval
                continue
            self._run_task(task)

    def _run_task(self, task: Task) -> None:
        state = self.states.setdefault(task.name, TaskState())
        start = self.clock()
        log.info("task %s: run %d starting", task.name, state.runs + 1)
        try:
            report = self.sync(self.config, task)
            state.last_ok = report.ok
            log.info("task %s: %s", task.name, _summary(report.counts()))
        except Exception:  # one task's failure must not stop the daemon
            log.exception("task %s: run failed", task.name)
            state.last_ok = False
        state.runs += 1
        state.last_end = self.clock()
        state.next_start = start + task.interval if task.interval else float("inf")

    def _tasks(self, *, one_off: bool) -> list[Task]:
        tasks = self.config.select_tasks(self.task_pattern)
        return [t for t in tasks if (t.interval == 0) == one_off]

    # --- reload --------------------------------------------------------------------------------
    def _file_mtime(self) -> float | None:
        try:
            return os.stat(self.config_path).st_mtime
        except OSError:
            return None

    def _maybe_reload(self) -> None:
        if self.config.watch and self._watch_says_reload():
            self.reload_requested.set()
        if self.reload_requested.is_set():
            self.reload_requested.clear()
            self.reload()

    def _watch_says_reload(self) -> bool:
        mtime = self._file_mtime()
        now = self.clock()
        if mtime != self._mtime:
            self._mtime, self._changed_at = mtime, now
            return False
        if self._changed_at is not None and now - self._changed_at >= WATCH_QUIET_SECONDS:
            self._changed_at = None
            return True
        return False

    def reload(self) -> None:
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error("config reload failed, keeping the previous config:\n%s", exc)
            return
        forget_logins()  # a restart reads the user's logins again too
        self.config = config
        self.states = {}  # a full restart: nothing ran yet, every periodic task is due now
        log.info("config reloaded: %d tasks; restarting them (one-off tasks run again)", len(config.tasks))
        for task in self._tasks(one_off=True):
            if self.stop_event.is_set():
                return
            self._run_task(task)


def _summary(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
