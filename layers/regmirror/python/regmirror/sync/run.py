"""The one code path behind the CLI and the Lambda handlers: plan, sync, sync one item, push events.

Adapters (cli, functions/*) parse their input, call these, and shape the answer.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from regmirror.config import Config, RegistryConfig, Task
from regmirror.errors import AuthError, ConfigError, ConfigProblem
from regmirror.logs import remember_secret
from regmirror.model import CopyResult, FailureReason, ImageRef, SyncItem
from regmirror.registries.credentials import Credentials, resolve_credentials
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.listers import make_lister
from regmirror.registries.ratelimit import RateLimits, configure_sources, default_limits
from regmirror.registries.sizes import image_bytes
from regmirror.retry import RetryPolicy, copy_policy, retry_copy, set_default_attempts
from regmirror.rules.match import FromMatcher, ToRewriter
from regmirror.rules.tags import TagSelector
from regmirror.sync.plan import (
    CHECK_FAILED,
    COPY,
    IN_SYNC,
    MISSING,
    ManifestSource,
    Plan,
    PlannedItem,
    check_duplicate_targets,
    check_item,
    check_items,
    enumerate_task,
    finalize_item,
)
from regmirror.sync.pool import run_items
from regmirror.sync.record import CopyRecord
from regmirror.sync.skopeo import SkopeoRelay

log = logging.getLogger("regmirror.service")


def apply_runtime_settings(config: Config) -> None:
    """The config's retry attempts and per-source rate-limit floors and copy bounds, process-wide:
    every entry point (CLI plan/sync, lister and relay Lambdas) goes through `Registries`."""
    set_default_attempts(config.retry.attempts)
    configure_sources(task.source for task in config.tasks)


def check_credentials(config: Config, tasks: list[Task], *, offline: bool = False) -> None:
    """Resolve every `auth` before anything is listed or copied, so an unset `env:` variable or an
    unreadable secret is a config error with its place, not a failure in the middle of a run.
    `offline` skips references that need a network call (Secrets Manager)."""
    index = {t.name: i for i, t in enumerate(config.tasks)}
    problems = [
        ConfigProblem(config.source_file, task.line, 0, f"tasks[{index[task.name]}].{side}.auth", error)
        for task in tasks
        for side, rc in (("source", task.source), ("target", task.target))
        if (error := _auth_problem(rc, offline)) is not None
    ]
    if problems:
        raise ConfigError(problems)


def _auth_problem(rc: RegistryConfig, offline: bool) -> str | None:
    spec = rc.auth or ""
    needs_network = ":" in spec and not spec.startswith("env:")  # base64 and `none` have no colon
    if Registries.uses_ecr_api(rc) or (offline and needs_network):
        return None
    try:
        resolve_credentials(rc.auth)
    except AuthError as exc:
        return str(exc)
    return None


class Registries:
    """Clients, credentials and listers for a config, created once and shared by threads."""

    def __init__(self, config: Config) -> None:
        self.config = config
        apply_runtime_settings(config)
        self._lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], tuple[RegistryClient, Credentials | None]] = {}
        self._ecr_digests: dict[str, Any] = {}
        self._names: dict[str, list[str]] = {}

    @staticmethod
    def _key(rc: RegistryConfig) -> tuple[Any, ...]:
        return (rc.registry, rc.auth, rc.skip_tls_verify, rc.insecure, rc.ca_file, rc.role_arn, rc.region)

    @staticmethod
    def uses_ecr_api(rc: RegistryConfig) -> bool:
        """ECR registries without an explicit `auth` use the AWS credential chain (as dregsy does)."""
        return (rc.is_ecr or rc.is_public_ecr) and not rc.auth

    def credentials(self, rc: RegistryConfig) -> Credentials | None:
        if self.uses_ecr_api(rc):
            from regmirror.registries.ecr.tokens import credentials_for

            return credentials_for(rc)  # cached and renewed by the ecr module
        creds = resolve_credentials(rc.auth)
        if creds is not None:
            remember_secret(creds.username, creds.password)
        return creds

    def client(self, rc: RegistryConfig) -> RegistryClient:
        key = self._key(rc)
        creds = self.credentials(rc)
        with self._lock:
            cached = self._clients.get(key)
            # An ECR token is renewed as a new Credentials object: the client is rebuilt with it.
            if cached is None or cached[1] != creds:
                cached = (RegistryClient(rc.endpoint(), creds), creds)
                self._clients[key] = cached
            return cached[0]

    def manifests(self, rc: RegistryConfig) -> ManifestSource:
        """What the planner asks for tags and digests: ECR answers from one DescribeImages listing
        per repository (no request per tag); other registries from their HTTP API."""
        if not self.uses_ecr_api(rc):
            return self.client(rc)
        from regmirror.registries.ecr.digests import EcrTagDigests

        with self._lock:
            digests = self._ecr_digests.get(rc.registry)
            if digests is None:
                digests = self._ecr_digests[rc.registry] = EcrTagDigests(rc)
            return cast(ManifestSource, digests)

    def list_names(self, task: Task) -> list[str]:
        """The task's source repository list: fetched once per task and shared by its mappings."""
        cached = self._names.get(task.name)
        if cached is None:
            lister = make_lister(task.source, self.config.lister, self.client)
            cached = list(lister.list_repositories())
            self._names[task.name] = cached
        return cached

    def task(self, name: str) -> Task:
        for task in self.config.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no task named {name!r} in {self.config.source_file}")

    def forget_listing(self, rc: RegistryConfig, repository: str) -> None:
        """A copy changes the target repository: its ECR listing must be read again."""
        with self._lock:
            digests = self._ecr_digests.get(rc.registry)
        if digests is not None:
            digests.forget(repository)

    def source_client(self, item: SyncItem) -> ManifestSource:
        return self.manifests(self.task(item.task).source)

    def target_client(self, item: SyncItem) -> ManifestSource:
        return self.manifests(self.task(item.task).target)

    def request_stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {key[0]: dict(client.stats) for key, (client, _) in self._clients.items()}


_shared: tuple[Config, Registries] | None = None
_shared_lock = threading.Lock()


def shared_registries(config: Config) -> Registries:
    """One `Registries` per loaded config in this process: a relay Lambda container handling many
    messages keeps its connections, tokens and ECR listings between them."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] is not config:
            _shared = (config, Registries(config))
        return _shared[1]


def enumerate_config(
    config: Config, registries: Registries, task_pattern: str | None = None, tasks: list[Task] | None = None
) -> Plan:
    """Phase 1 for every selected task; raises ConfigError when two mappings write one target."""
    plan = Plan()
    start = time.monotonic()
    selected = config.select_tasks(task_pattern) if tasks is None else tasks
    check_credentials(config, selected)
    for task in selected:
        plan.tasks.append(enumerate_task(task, registries.list_names, registries.manifests(task.source)))
    check_duplicate_targets(config, plan.tasks)
    plan.seconds = time.monotonic() - start
    return plan


def plan_config(
    config: Config,
    *,
    task_pattern: str | None = None,
    registries: Registries | None = None,
    check: bool = True,
    workers: int = 8,
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
        plan.seconds += time.monotonic() - start
    return plan


@dataclass(slots=True)
class SyncReport:
    plan: Plan
    results: list[CopyResult] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        planned = self.plan.counts()
        copied = sum(1 for r in self.results if r.status == "copied")
        failed = sum(1 for r in self.results if r.status == "failed")
        return {
            "images": planned["total"],
            "in_sync": planned[IN_SYNC],
            "copied": copied,
            "failed": failed + planned[CHECK_FAILED],
            "missing_at_source": planned[MISSING],
            "mapping_errors": len(self.plan.errors),
        }

    @property
    def ok(self) -> bool:
        c = self.counts()
        return c["failed"] == 0 and c["mapping_errors"] == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "seconds": round(self.seconds, 3),
            "errors": self.plan.errors,
            "results": [result_dict(r) for r in self.results],
            "plan": self.plan.to_dict(),
        }


def result_dict(r: CopyResult) -> dict[str, Any]:
    return {
        "source": str(r.item.source),
        "target": str(r.item.target),
        "status": r.status,
        "reason": r.reason,
        "seconds": round(r.duration, 3),
        "bytes": r.bytes,
        "source_digest": r.source_digest,
        "target_digest": r.target_digest,
        "error": r.error,
    }


def make_relay(config: Config) -> SkopeoRelay:
    return SkopeoRelay(binary=config.skopeo.binary, certs_root=config.skopeo.certs_dir)


def sync_config(
    config: Config,
    *,
    task_pattern: str | None = None,
    tasks: list[Task] | None = None,
    concurrency: int = 4,
    relay: SkopeoRelay | None = None,
    registries: Registries | None = None,
    on_checked: Callable[[PlannedItem], None] | None = None,
    on_result: Callable[[CopyResult], None] | None = None,
    record: CopyRecord | None = None,
    copy_retry: RetryPolicy | None = None,
) -> SyncReport:
    """Plan, then stream the items that need copying into a pool of relays as their check completes.

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
    report = SyncReport(plan)

    def to_copy() -> Iterator[SyncItem]:
        checked = check_items(plan.items, registries.source_client, registries.target_client, record=record)
        for planned in checked:
            if on_checked:
                on_checked(planned)
            if planned.state == COPY:
                yield finalize_item(planned)

    def copy(item: SyncItem) -> CopyResult:
        result = retry_copy(
            lambda: copy_item(registries, relay, item), copy_retry, what=f"copy {item.target}"
        )
        if record is not None and result.status == "copied":
            record.copied(result.item, result.source_digest, result.target_digest)
        return result

    try:
        report.results = run_items(
            to_copy(), copy, concurrency=concurrency, on_result=on_result, on_error=CopyResult.failure
        )
    finally:
        if record is not None:
            record.save()
    report.seconds = time.monotonic() - start
    return report


def copy_item(
    registries: Registries, relay: SkopeoRelay, item: SyncItem, *, limits: RateLimits | None = None
) -> CopyResult:
    """One copy, once the source's rate-limit budget allows (waiting at most `limits.max_wait`) and
    one of its copy slots is free; a budget that stays short fails the copy as "rate-limit"."""
    task = registries.task(item.task)
    limits = limits or default_limits()
    source = task.source.registry
    wait = limits.acquire(source)
    if wait is not None:
        floor = limits.floor_for(source)
        message = f"{source}: rate-limit budget below {floor} pulls; deferred, retry in {wait}s"
        return CopyResult.failure(item, message, reason=FailureReason.RATE_LIMIT)
    if task.target.is_ecr or task.target.is_public_ecr:
        in_sync = _prepare_ecr_target(registries, task.target, item)
        if in_sync is not None:
            return in_sync
    with limits.copy_slot(source):
        result = relay.copy(
            item,
            task.source.endpoint(),
            task.target.endpoint(),
            registries.credentials(task.source),
            registries.credentials(task.target),
        )
    if result.status == "copied" and result.bytes is None:
        reference = result.target_digest or item.target.reference
        size = image_bytes(registries.client(task.target), item.target.repository, reference)
        result = dataclasses.replace(result, bytes=size)
    return result


def _prepare_ecr_target(registries: Registries, target: RegistryConfig, item: SyncItem) -> CopyResult | None:
    """ECR target repositories are created before the first push (as dregsy does). With immutable tags,
    a tag that already holds the source digest is in sync (a push would be refused, not needed)."""
    from regmirror.registries.ecr.repositories import ensure_repository, immutable_tag_in_sync

    start = time.monotonic()
    repository = ensure_repository(target, item.target.repository)
    registries.forget_listing(target, item.target.repository)
    tag, digest = item.target.tag, item.source_digest
    if (
        repository.immutable
        and tag
        and digest
        and immutable_tag_in_sync(target, item.target.repository, tag, digest)
    ):
        return CopyResult(
            item=item,
            status="skipped",
            reason=IN_SYNC,
            duration=time.monotonic() - start,
            bytes=None,
            source_digest=digest,
            target_digest=digest,
            error=None,
            attempts=0,
        )
    return None


def sync_item(
    config: Config,
    item: SyncItem,
    *,
    relay: SkopeoRelay | None = None,
    registries: Registries | None = None,
) -> CopyResult:
    """Digest check, then copy only when needed: redelivering a message never copies bytes twice."""
    registries = registries or shared_registries(config)
    task = registries.task(item.task)
    start = time.monotonic()
    planned = check_item(
        PlannedItem(item), registries.manifests(task.source), registries.manifests(task.target)
    )
    if planned.state == COPY:
        return copy_item(registries, relay or make_relay(config), finalize_item(planned))
    status = {IN_SYNC: "skipped", MISSING: "skipped", CHECK_FAILED: "failed"}[planned.state]
    return CopyResult(
        item=item,
        status=status,  # type: ignore[arg-type]
        reason=planned.state if planned.state != CHECK_FAILED else "check-failed",
        duration=time.monotonic() - start,
        bytes=None,
        source_digest=planned.source_digest,
        target_digest=planned.target_digest,
        error=planned.note or None,
        attempts=0,
    )


def plan_push_event(config: Config, registry_host: str, repository: str, tag: str) -> list[SyncItem]:
    """Items for one pushed image: every task whose source is that registry and whose mapping matches."""
    items: list[SyncItem] = []
    for task in config.tasks:
        if task.source.registry.lower() != registry_host.lower():
            continue
        for index, mapping in enumerate(task.mappings):
            matcher = FromMatcher.parse(mapping.from_)
            hit = matcher.matches(repository) if matcher.is_regex else matcher.plain_path() == repository
            if not hit or tag not in _selected(mapping.tags, tag):
                continue
            path = ToRewriter.parse(mapping.to, from_is_regex=matcher.is_regex).rewrite(repository).path
            items.append(
                SyncItem(
                    task=task.name,
                    source=ImageRef(task.source.registry, repository, tag),
                    target=ImageRef(task.target.registry, path, tag),
                    platform=mapping.platform,
                    mapping=index,
                    extra={"reason": "push-event"},
                )
            )
    return items


def _selected(entries: list[str], tag: str) -> list[str]:
    selector = TagSelector.parse(entries)
    return selector.select([tag] if selector.needs_listing else None)
