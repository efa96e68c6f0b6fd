"""The live progress display: a total fixed by the plan, outcomes counted apart, log lines printed
above it whole; nothing at all when it is off."""

from __future__ import annotations

import io
import logging

from regmirror.cli.progress import SyncProgress
from regmirror.logs import configure_logging
from regmirror.model import CopyResult, FailureReason, ImageRef, ItemState, SyncItem
from regmirror.sync.plan import MappingPlan, Plan, PlannedItem, TaskPlan


def item(n: int) -> SyncItem:
    return SyncItem(
        "t", ImageRef("src:5000", f"team/app{n}", "1.0"), ImageRef("dst:5000", f"team/app{n}", "1.0")
    )


def plan_of(items: list[PlannedItem]) -> Plan:
    return Plan(tasks=[TaskPlan("t", mappings=[MappingPlan("t", 0, "team/app", None, items=items)])])


def test_counts_and_log_lines_above_the_display() -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    configure_logging("INFO", "text", stream=io.StringIO())  # a handler the display must take over
    planned = [PlannedItem(item(n)) for n in range(4)]
    with SyncProgress(out, enabled=True, console=console) as progress:
        progress.plan(plan_of(planned))
        planned[0].state = ItemState.IN_SYNC
        progress.checked(planned[0])
        planned[1].state = ItemState.COPY
        progress.checked(planned[1])  # to copy: counted when its copy ends
        logging.getLogger("regmirror.relay").info("copy of app1 started")
        progress.result(_copied(planned[1].item))
        progress.result(CopyResult.failure(item(2), "boom", reason=FailureReason.NETWORK))
        assert progress.counts().startswith("copied 1 (2.0 KiB, ") and progress.counts().endswith(
            "in sync 1, failed 1"
        )
        console.file.flush()
    text = out.getvalue()
    lines = [line for line in text.replace("\r", "\n").splitlines() if "copy of app1 started" in line]
    assert lines and all(line.rstrip().endswith("copy of app1 started") for line in lines)
    assert "INFO    regmirror.relay: copy of app1 started" in text  # our format, not rich's
    assert "3/4" in text  # the plan's total from the start; three decided


def _copied(sync_item: SyncItem) -> CopyResult:
    return CopyResult(
        item=sync_item,
        status="copied",
        reason="copied",
        duration=0.1,
        bytes=2048,
        source_digest=None,
        target_digest=None,
        error=None,
        attempts=1,
    )


def test_off_it_draws_nothing_and_leaves_logging_alone() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    handler = logging.getLogger("regmirror").handlers[0]
    with SyncProgress(io.StringIO(), enabled=False) as progress:
        progress.result(CopyResult.failure(item(1), "boom", reason=FailureReason.NETWORK))
        logging.getLogger("regmirror").warning("plain line")
    assert logging.getLogger("regmirror").handlers[0] is handler
    assert stream.getvalue().endswith("plain line\n") and progress.failed == 1
