"""The live progress display of `sync` on a terminal (rich): one bar over every image of the plan (its
total fixed once the plan is known), with copied, in-sync and failed counted apart, the bytes copied,
the rate and the time left. Log lines are printed above it, never glued to it: while the display is
live, the `regmirror` log handlers write through rich's console. On anything but a terminal there is
no display at all, only the log lines; rich honours `NO_COLOR`.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any, TextIO

from regmirror.model import CopyResult, ItemState
from regmirror.sync.plan import Plan, PlannedItem
from regmirror.sync.stalls import human_bytes

_DECIDED_AT_CHECK = (ItemState.IN_SYNC, ItemState.MISSING, ItemState.CHECK_FAILED)


class SyncProgress:
    """Callbacks for `sync_config` (`on_plan`, `on_checked`, `on_result`); a no-op when disabled."""

    def __init__(self, stream: TextIO, *, enabled: bool, console: Any = None) -> None:
        self.enabled = enabled
        self.copied = self.in_sync = self.failed = self.missing = 0
        self.bytes = 0
        self._started = time.monotonic()
        self._handlers: list[tuple[logging.StreamHandler[Any], Any]] = []
        if not enabled:
            return
        from rich.console import Console  # only a terminal run needs it
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.console = console or Console(file=stream)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,  # the summary the command prints afterwards replaces it
        )
        self._task = self._progress.add_task("planning", total=None, counts="")

    def __enter__(self) -> SyncProgress:
        if self.enabled:
            self._progress.start()
            self._log_through_console()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.enabled:
            self._progress.stop()
            for handler, stream in self._handlers:
                handler.setStream(stream)

    # -- sync_config's callbacks --------------------------------------------------------------------
    def plan(self, plan: Plan) -> None:
        """The plan is known: its images are the bar's total."""
        if self.enabled:
            self._progress.update(self._task, description="sync", total=len(plan.items))

    def checked(self, planned: PlannedItem) -> None:
        if planned.state not in _DECIDED_AT_CHECK:
            return  # to copy: decided by its copy
        self.in_sync += planned.state == ItemState.IN_SYNC
        self.missing += planned.state == ItemState.MISSING
        self.failed += planned.state == ItemState.CHECK_FAILED
        self._advance()

    def result(self, result: CopyResult) -> None:
        if result.status == "copied":
            self.copied += 1
            self.bytes += result.bytes or 0
        elif result.status == "failed":
            self.failed += 1
        else:
            self.in_sync += 1  # skipped: found in sync when preparing the target
        self._advance()

    # -- drawing ------------------------------------------------------------------------------------
    def counts(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-3)
        copied = (
            f"copied {self.copied} ({human_bytes(self.bytes)}, {human_bytes(int(self.bytes / elapsed))}/s)"
        )
        text = f"{copied}, in sync {self.in_sync}, failed {self.failed}"
        return f"{text}, missing {self.missing}" if self.missing else text

    def _advance(self) -> None:
        if self.enabled:
            self._progress.update(self._task, advance=1, counts=self.counts())

    def _log_through_console(self) -> None:
        """Point the `regmirror` stream handlers at the console, so a log line is printed above the
        live display (rich clears and redraws it) instead of into it."""
        writer = _ConsoleWriter(self.console)
        for handler in logging.getLogger("regmirror").handlers:
            if isinstance(handler, logging.StreamHandler):
                self._handlers.append((handler, handler.setStream(writer)))


class _ConsoleWriter:
    """A file for a logging handler: each line goes to the rich console (above the live display)."""

    def __init__(self, console: Any) -> None:
        self.console = console

    def write(self, text: str) -> int:
        line = text.rstrip("\n")
        if line:
            self.console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        return None
