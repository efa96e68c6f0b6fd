"""Plan one task and stream what needs copying onto the copy queue, within a Lambda's time limit.

Phase 1 (enumerate: list, match, tags) runs as in the CLI. Phase 2 (digest check) runs in chunks;
every `copy` item is sent as soon as its chunk is checked, so work is queued while planning goes on.
When the time left drops below the reserve, the items not checked yet are sent unchecked: the relay
checks digests before it copies, so nothing is lost and nothing is copied twice — the check just
moves from the planner to the relays.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from regmirror.config import Config
from regmirror.model import ItemState, SyncItem
from regmirror.sync.check import CHECK_WORKERS, TagDigestListings, check_item, finalize_item
from regmirror.sync.conflicts import check_duplicate_targets
from regmirror.sync.enumerate import enumerate_task
from regmirror.sync.phases import Phase, no_phases
from regmirror.sync.plan import PlannedItem
from regmirror.sync.referrers import missing_referrers
from regmirror.sync.registries import Registries

log = logging.getLogger("regmirror.aws.planner")

RemainingSeconds = Callable[[], float]
Send = Callable[[Iterable[SyncItem]], int]


@dataclass(slots=True)
class PlanOutcome:
    task: str
    planned: int = 0
    in_sync: int = 0
    enqueued: int = 0  # checked and found to need a copy (or, in sync, referrers: `referrers_due`)
    referrers_due: int = 0  # in sync, but the target lacks some of its referrers: enqueued for them
    handed_off: int = 0  # enqueued unchecked (time limit near)
    missing: int = 0
    check_failed: int = 0
    mapping_errors: list[str] = field(default_factory=list)
    enumerate_seconds: float = 0.0  # listing repositories and tags
    seconds: float = 0.0  # the whole run

    @property
    def errors(self) -> int:
        return self.check_failed + len(self.mapping_errors)

    def as_dict(self) -> dict[str, object]:
        return {
            "task": self.task,
            "planned": self.planned,
            "in_sync": self.in_sync,
            "enqueued": self.enqueued,
            "referrers_due": self.referrers_due,
            "handed_off": self.handed_off,
            "missing_at_source": self.missing,
            "check_failed": self.check_failed,
            "mapping_errors": self.mapping_errors,
            "enumerate_seconds": round(self.enumerate_seconds, 3),
            "seconds": round(self.seconds, 3),
        }


def _chunks(items: list[PlannedItem], size: int) -> Iterator[list[PlannedItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def tag_item(item: SyncItem, **extra: str | None) -> SyncItem:
    """The item with trigger and correlation id in `extra` (logged by the relay, never credentials)."""
    added = {k: v for k, v in extra.items() if v}
    return replace(item, extra={**item.extra, **added}) if added else item


@dataclass
class TaskPlanner:
    """Plans tasks of one config; `send` queues items (e.g. `QueueSender.send_items`)."""

    config: Config
    send: Send
    remaining: RemainingSeconds
    reserve_seconds: float = 60.0
    workers: int = CHECK_WORKERS
    chunk_size: int = 0  # items checked between two looks at the clock (default: 4 per worker)
    phase: Phase = no_phases  # enumerate / check / handoff, traced by the handler

    def plan(
        self, task_name: str, *, correlation_id: str | None = None, trigger: str = "schedule"
    ) -> PlanOutcome:
        start = time.monotonic()
        registries = Registries(self.config)
        task = registries.task(task_name)  # KeyError: a task the config does not have
        with self.phase("enumerate"):
            tplan = enumerate_task(task, registries.list_names, registries.planner_source(task.source))
        check_duplicate_targets(self.config, [tplan])  # ConfigError: nothing of this task is queued
        outcome = PlanOutcome(task=task_name, planned=len(tplan.items), mapping_errors=tplan.errors)
        outcome.enumerate_seconds = time.monotonic() - start
        tags = {"trigger": trigger, "correlation_id": correlation_id}
        pending = list(tplan.items)
        with self.phase("check"):
            done = self._check_and_send(registries, pending, outcome, tags)
        rest = pending[done:]
        if rest:
            log.warning(
                "task %s: %d of %d items unchecked at the time limit; handing them to the relays unchecked",
                task_name,
                len(rest),
                len(pending),
            )
            with self.phase("handoff"):
                outcome.handed_off = self.send(tag_item(p.item, handoff="unchecked", **tags) for p in rest)
        outcome.seconds = time.monotonic() - start
        return outcome

    def _check_and_send(
        self,
        registries: Registries,
        pending: list[PlannedItem],
        outcome: PlanOutcome,
        tags: dict[str, str | None],
    ) -> int:
        """Check chunk by chunk while time allows, sending each chunk's copies; returns items checked."""
        listings = TagDigestListings()  # one digest listing per source repository for the whole run

        def check(p: PlannedItem) -> PlannedItem:
            checked = check_item(
                p, registries.source_client(p.item), registries.target_client(p.item), listings=listings
            )
            digest = checked.target_digest or checked.source_digest
            in_sync = checked.state == ItemState.IN_SYNC and digest is not None
            if in_sync and digest and missing_referrers(registries, checked.item, digest):
                referrers_due.add(checked.item.key())  # the relay copies them
            return checked

        referrers_due: set[str] = set()

        done = 0
        with ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="check") as pool:
            for chunk in _chunks(pending, self.chunk_size or max(1, self.workers * 4)):
                if self.remaining() < self.reserve_seconds:
                    break
                to_copy = [
                    tag_item(finalize_item(p), **tags)
                    for p in self._count(pool.map(check, chunk), outcome, referrers_due)
                ]
                outcome.enqueued += self.send(to_copy) if to_copy else 0
                done += len(chunk)
        return done

    @staticmethod
    def _count(
        checked: Iterable[PlannedItem], outcome: PlanOutcome, referrers_due: set[str]
    ) -> Iterator[PlannedItem]:
        """The items to enqueue: copies, and in-sync images whose target lacks referrers."""
        for planned in checked:
            if planned.state == ItemState.COPY:
                yield planned
            elif planned.state == ItemState.IN_SYNC:
                outcome.in_sync += 1
                if planned.item.key() in referrers_due:
                    outcome.referrers_due += 1
                    yield planned
            elif planned.state == ItemState.MISSING:
                outcome.missing += 1
                log.warning("%s: %s", planned.item.source, planned.note)
            elif planned.state == ItemState.CHECK_FAILED:
                outcome.check_failed += 1
                log.error(
                    "%s → %s: digest check failed: %s", planned.item.source, planned.item.target, planned.note
                )
