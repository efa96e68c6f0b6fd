"""The one code path behind the CLI and the Lambda handlers: plan a config, sync it.

Adapters (cli, aws, functions/*) parse their input, call these (or `copy.sync_item` for one item,
`enumerate.plan_push_event` for one pushed image), and shape the answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from regmirror.config import Config, RegistryConfig, Task
from regmirror.errors import AuthError, ConfigError, ConfigProblem, SecretUnavailable
from regmirror.model import CopyResult, ItemState, SyncItem
from regmirror.registries.certdirs import CertDirError, read_host_tls
from regmirror.registries.credentials import resolve_credentials
from regmirror.registries.kinds import kind_of
from regmirror.registries.logins import find_login
from regmirror.retry import RetryPolicy, copy_policy, retry_copy
from regmirror.sync.blobs import ImageBlobs
from regmirror.sync.check import CHECK_WORKERS, check_items, finalize_item
from regmirror.sync.conflicts import check_duplicate_targets
from regmirror.sync.copy import copy_item, image_copier, make_relay
from regmirror.sync.enumerate import enumerate_task
from regmirror.sync.held import HeldImages
from regmirror.sync.order import LeadersFirst
from regmirror.sync.pacing import Concurrency, Pacing
from regmirror.sync.plan import Plan, PlannedItem
from regmirror.sync.pool import NotStarted, run_items
from regmirror.sync.record import CopyRecord
from regmirror.sync.referrers import in_sync_result, plan_referrers, wants_referrers, with_referrers
from regmirror.sync.registries import Registries
from regmirror.sync.reports import SyncReport
from regmirror.sync.retag import ManifestCopy
from regmirror.sync.skopeo import SkopeoRelay

log = logging.getLogger("regmirror.service")


def credential_problems(
    config: Config, tasks: list[Task], *, offline: bool = False
) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """(errors, unavailable secrets) of every `auth` of `tasks`, each at its place in the file.
    `offline` skips references that need a network call (Secrets Manager)."""
    index = {t.name: i for i, t in enumerate(config.tasks)}
    errors: list[ConfigProblem] = []
    unavailable: list[ConfigProblem] = []
    for task in tasks:
        for side, rc in (("source", task.source), ("target", task.target)):
            try:
                _check_auth(rc, offline)
                _check_cert_folder(rc)
            except (AuthError, CertDirError) as exc:
                at_auth = isinstance(exc, AuthError) and rc.auth_position[0]
                line, column = rc.auth_position if at_auth else (task.line, 0)
                key = "auth" if isinstance(exc, AuthError) else "registry"
                field = f"tasks[{index[task.name]}].{side}.{key}"
                problem = ConfigProblem(config.source_file, line, column, field, str(exc))
                (unavailable if isinstance(exc, SecretUnavailable) else errors).append(problem)
    return errors, unavailable


def check_credentials(config: Config, tasks: list[Task], *, offline: bool = False) -> None:
    """Resolve every `auth` before anything is listed or copied, so an unset `env:` variable or an
    unreadable secret is a config error with its place, not a failure in the middle of a run."""
    errors, unavailable = credential_problems(config, tasks, offline=offline)
    if errors or unavailable:
        raise ConfigError(sorted(errors + unavailable, key=lambda p: (p.line, p.column)))


def _check_auth(rc: RegistryConfig, offline: bool) -> None:
    if not kind_of(rc).auth_from_config(rc):
        return
    if rc.auth is None:
        _check_login(rc, offline)
    elif not (offline and _needs_network(rc.auth)):
        resolve_credentials(rc.auth)


def _check_cert_folder(rc: RegistryConfig) -> None:
    """A certs.d folder with a client certificate but no key (or the reverse) is refused up front."""
    folder = rc.cert_folder()
    if folder is not None:
        read_host_tls(Path(folder))


def _needs_network(spec: str) -> bool:
    return ":" in spec and not spec.startswith("env:")  # base64 and `none` have no colon


def _check_login(rc: RegistryConfig, offline: bool) -> None:
    """A broken auth file or credential helper is refused before the run, naming the file."""
    if rc.discover_logins and not offline:
        find_login(rc.registry)


def enumerate_config(
    config: Config, registries: Registries, task_pattern: str | None = None, tasks: list[Task] | None = None
) -> Plan:
    """Phase 1 for every selected task; raises ConfigError when two sources write one target."""
    plan = Plan()
    start = time.monotonic()
    selected = config.select_tasks(task_pattern) if tasks is None else tasks
    check_credentials(config, selected)
    for task in selected:
        plan.tasks.append(enumerate_task(task, registries.list_names, registries.planner_source(task.source)))
    check_duplicate_targets(config, plan.tasks)
    plan.seconds = time.monotonic() - start
    return plan


def plan_config(
    config: Config,
    *,
    task_pattern: str | None = None,
    registries: Registries | None = None,
    check: bool = True,
    workers: int = CHECK_WORKERS,
    record: CopyRecord | None = None,
) -> Plan:
    """List, match, select tags and (with `check`) compare digests. Copies nothing.

    With a `record`, fresh entries stand in for target checks and what the checks find updates it in
    memory; saving it is the caller's choice.
    """
    registries = registries or Registries(config)
    plan = enumerate_config(config, registries, task_pattern)
    if check:
        start = time.monotonic()
        checked = check_items(
            plan.items, registries.source_client, registries.target_client, workers=workers, record=record
        )
        for _ in checked:
            pass
        plan_referrers(registries, plan.items, workers, record)
        plan.seconds += time.monotonic() - start
    return plan


def sync_config(
    config: Config,
    *,
    task_pattern: str | None = None,
    tasks: list[Task] | None = None,
    concurrency: int | Concurrency = 4,
    relay: SkopeoRelay | None = None,
    registries: Registries | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    on_checked: Callable[[PlannedItem], None] | None = None,
    on_result: Callable[[CopyResult], None] | None = None,
    record: CopyRecord | None = None,
    copy_retry: RetryPolicy | None = None,
    stop: threading.Event | None = None,
) -> SyncReport:
    """Plan, then stream the items that need copying into a pool of relays as their check completes.
    Once `stop` is set, no new copy starts (the running ones finish). `concurrency`: copies at once,
    a number or adaptive per route (`sync.pacing.Concurrency.auto()`).

    A copy failing with a transient class (network, 5xx, timeout, rate limit) is run again within the
    run, as `copy_retry` allows (default: the config's `retry.copy-attempts`); its result is the last
    run's. Registry clients created by the run retry `retry.attempts` times; sources' rate-limit floors
    and copy bounds apply to the process-wide budgets.

    With a `record` (see regmirror.sync.record): fresh entries replace target checks, checks and copies
    update it, and it is saved at the end, also when the run is interrupted.
    """
    start = time.monotonic()
    copy_retry = copy_retry or copy_policy(config.retry.copy_attempts)
    registries = registries or Registries(config)
    relay = relay or make_relay(config)
    plan = enumerate_config(config, registries, task_pattern, tasks)
    if on_plan is not None:
        on_plan(plan)  # the items are known: e.g. a progress display's total
    report = SyncReport(plan)

    stop = stop or threading.Event()
    if isinstance(concurrency, int):
        concurrency = Concurrency.fixed(concurrency)
    blobs, held = ImageBlobs(registries), HeldImages()
    order = LeadersFirst(stop=stop, keys=blobs.keys)
    work = _SyncWork(registries, relay, copy_retry, record, order, Pacing(concurrency, stop), blobs, held)

    def learn(planned: PlannedItem) -> None:  # in the check threads
        held.checked(planned)
        blobs.learn(planned)

    def checked() -> Iterator[SyncItem]:
        for planned in check_items(
            plan.items, registries.source_client, registries.target_client, record=record, then=learn
        ):
            if on_checked:
                on_checked(planned)
            yield from work.take(planned)

    try:
        report.results = run_items(
            work.order.order(checked(), ordered=work.copies),
            work.copy,
            concurrency=concurrency.ceiling,
            on_result=work.told(on_result),
            on_error=CopyResult.failure,
            stop_event=stop,
        )
    finally:
        if record is not None:
            record.save()
    report.results, report.referrers_seen = work.reportable(report.results)
    report.unavailable = registries.breakers.open_hosts()
    report.concurrency = work.pacing.summary()
    report.seconds = time.monotonic() - start
    return report


class _SyncWork:
    """What the pool's relays do with a checked image: copy it (retried within the run, recorded),
    then its referrers; an image found in sync, only its referrers (when its mapping wants them)."""

    def __init__(
        self,
        registries: Registries,
        relay: SkopeoRelay,
        copy_retry: RetryPolicy,
        record: CopyRecord | None,
        order: LeadersFirst,
        pacing: Pacing,
        blobs: ImageBlobs,
        held: HeldImages,
    ) -> None:
        self.registries, self.relay, self.copy_retry, self.record = registries, relay, copy_retry, record
        self.order = order  # an image waits for the copies uploading what it shares: shared blobs cross once
        self.pacing = pacing  # how many copies at once, per route
        self.blobs = blobs  # what each image to copy holds, when its source told
        self.held = held  # where the target holds each manifest seen: a re-tag needs no skopeo
        self.by_manifest = ManifestCopy(registries, held)
        self.copier = image_copier(registries, relay)
        self.in_sync: dict[str, PlannedItem] = {}

    def take(self, planned: PlannedItem) -> Iterator[SyncItem]:
        if planned.state == ItemState.COPY:
            yield finalize_item(planned)
        elif planned.state == ItemState.IN_SYNC and wants_referrers(self.registries, planned.item):
            self.in_sync[planned.item.key()] = planned
            yield planned.item

    def copies(self, item: SyncItem) -> bool:
        """Whether the pool copies `item` (else it only compares an in-sync image's referrers)."""
        return item.key() not in self.in_sync

    def copy(self, item: SyncItem) -> CopyResult:
        checked = self.in_sync.get(item.key())
        if checked is not None:
            return with_referrers(self.registries, in_sync_result(checked), self.copier, self.record)
        try:
            result = self.by_manifest.copy(item) or retry_copy(
                self.paced(item), self.copy_retry, what=f"copy {item.target}"
            )
            self.held.copied(result)  # before `done`: the images waiting for it may copy from it
        finally:
            self.order.done(item)  # its blobs are in the target (or it failed): images sharing them go
            self.blobs.forget(item)
        if self.record is not None and result.status == "copied":
            self.record.copied(result.item, result.source_digest, result.target_digest)
        return with_referrers(self.registries, result, self.copier, self.record)

    def paced(self, item: SyncItem) -> Callable[[], CopyResult]:
        """One attempt at copying `item`, in a slot of its route. A stop while a retry waits for its
        slot ends the retries with the last attempt's result."""
        task = self.registries.task(item.task)
        route = (task.source.registry, task.target.registry)
        tried: list[CopyResult] = []

        def attempt() -> CopyResult:
            run = partial(copy_item, self.registries, self.relay, item, size_hint=self.blobs.size(item))
            round_trips = (self.registries.round_trip(task.source), self.registries.round_trip(task.target))
            try:
                tried.append(self.pacing.copy(route, task.source.max_concurrent_copies, run, round_trips))
            except NotStarted:
                if not tried:
                    raise
            return tried[-1]

        return attempt

    def told(self, on_result: Callable[[CopyResult], None] | None) -> Callable[[CopyResult], None] | None:
        """`on_result` for the copies only: an in-sync image was told by `on_checked` already."""
        if on_result is None:
            return None

        def tell(result: CopyResult) -> None:
            if result.item.key() not in self.in_sync:
                on_result(result)

        return tell

    def reportable(self, results: list[CopyResult]) -> tuple[list[CopyResult], int]:
        """The results worth reporting, and the referrers seen of the in-sync images left out."""
        kept: list[CopyResult] = []
        seen = 0
        for result in results:
            if not self.only_referrers_checked(result):
                kept.append(result)
            elif result.referrers is not None:
                seen += result.referrers.found
        return kept, seen

    def only_referrers_checked(self, result: CopyResult) -> bool:
        """An in-sync image whose referrers were all in the target: no result of its own to report."""
        if result.item.key() not in self.in_sync or result.status != "skipped":
            return False
        return result.referrers is None or result.referrers.copied == 0
