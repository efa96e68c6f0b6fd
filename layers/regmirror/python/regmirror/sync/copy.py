"""Stage 3: copy one checked item, within the source's rate-limit budget and copy slots, after its
target is prepared (the target's kind: e.g. an ECR repository created); and `sync_item`, the relay's
"check, then copy only when needed" for one queue message, the image's referrers after it
(`sync.referrers`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from regmirror.config import Config
from regmirror.model import CopyResult, FailureReason, ItemState, SyncItem
from regmirror.registries.ratelimit import RateLimits
from regmirror.registries.sizes import image_bytes
from regmirror.rules.referrers import REFERRERS_ONLY
from regmirror.sync.check import check_item, finalize_item
from regmirror.sync.held import HeldImages
from regmirror.sync.phases import Phase, no_phases
from regmirror.sync.plan import PlannedItem
from regmirror.sync.prepare import prepare_target
from regmirror.sync.referrers import with_referrers
from regmirror.sync.registries import Registries, shared_registries
from regmirror.sync.retag import ManifestCopy
from regmirror.sync.skopeo import SkopeoRelay
from regmirror.sync.unavailable import refused, tell_breakers

NOT_MIRRORED = "subject-not-mirrored"  # a skip reason: a referrer of an image the target lacks


def make_relay(config: Config, *, timeout: float | None = None) -> SkopeoRelay:
    """skopeo as the config sets it; `timeout` overrides `skopeo.timeout` (a Lambda's time left)."""
    skopeo = config.skopeo  # each endpoint names its certs.d folder
    return SkopeoRelay(
        binary=skopeo.binary,
        timeout=skopeo.timeout if timeout is None else timeout,
        stall_timeout=skopeo.stall_timeout,
    )


def copy_item(
    registries: Registries,
    relay: SkopeoRelay,
    item: SyncItem,
    *,
    limits: RateLimits | None = None,
    size_hint: int | None = None,
) -> CopyResult:
    """One copy, once the source's rate-limit budget allows (waiting at most `limits.max_wait`) and
    one of its copy slots is free; a budget that stays short fails the copy as "rate-limit". The
    budgets are the run's (`registries.rate_limits`) unless `limits` is given. `size_hint`: the
    image's bytes when known (else they are read back from the target after the copy)."""
    task = registries.task(item.task)
    limits = limits or registries.rate_limits
    source = task.source.registry
    wait = limits.acquire(source)
    if wait is not None:
        floor = limits.floor_for(source)
        message = f"{source}: rate-limit budget below {floor} pulls; deferred, retry in {wait}s"
        return CopyResult.failure(item, message, reason=FailureReason.RATE_LIMIT)
    not_tried = refused(registries, task, item)
    if not_tried is not None:
        return not_tried
    in_sync = prepare_target(registries, item)
    if in_sync is not None:
        return in_sync
    with limits.copy_slot(source):
        result = relay.copy(
            item,
            task.source.endpoint(),
            task.target.endpoint(),
            registries.credentials(task.source),
            registries.credentials(task.target),
            size_hint=size_hint,
        )
    tell_breakers(registries, task, result)
    if result.status == "copied" and result.bytes is None:
        reference = result.target_digest or item.target.reference
        size = image_bytes(registries.client(task.target), item.target.repository, reference)
        result = dataclasses.replace(result, bytes=size)
    return result


def sync_item(
    config: Config,
    item: SyncItem,
    *,
    relay: SkopeoRelay | None = None,
    registries: Registries | None = None,
    phase: Phase = no_phases,
    divert: Callable[[SyncItem], CopyResult | None] | None = None,
) -> CopyResult:
    """Digest check, then copy only when needed: redelivering a message never copies bytes twice.
    `divert` may take a checked item that needs copying elsewhere (its result then stands for it)."""
    registries = registries or shared_registries(config)
    task = registries.task(item.task)
    start = time.monotonic()
    with phase("check"):
        planned = check_item(
            PlannedItem(item), registries.manifests(task.source), registries.manifests(task.target)
        )
    if planned.state == ItemState.COPY and REFERRERS_ONLY in item.extra:
        return _not_mirrored(item, planned, time.monotonic() - start)
    if planned.state == ItemState.COPY:
        ready = finalize_item(planned)
        with phase("retag"):  # a tag of an image the target repository holds: a manifest PUT
            result = ManifestCopy(registries, HeldImages(), probe=True).copy(ready)
        if result is None:
            diverted = divert(ready) if divert is not None else None
            if diverted is not None:
                return diverted
            result = _copied(registries, relay or make_relay(config), ready, phase)
    else:
        result = _checked(item, planned, time.monotonic() - start)
    with phase("referrers"):
        return with_referrers(registries, result, image_copier(registries, relay or make_relay(config)))


def _copied(registries: Registries, relay: SkopeoRelay, item: SyncItem, phase: Phase) -> CopyResult:
    with phase("copy"):
        return copy_item(registries, relay, item)


def image_copier(registries: Registries, relay: SkopeoRelay) -> Callable[[SyncItem], CopyResult]:
    """One image copied by `copy_item`: how the referrers stage copies a referrer."""
    return lambda item: copy_item(registries, relay, item)


def _checked(item: SyncItem, planned: PlannedItem, duration: float) -> CopyResult:
    """The result of an item its check settled: in sync, missing at the source, or the check failed."""
    failed = planned.state == ItemState.CHECK_FAILED
    return CopyResult(
        item=item,
        status="failed" if failed else "skipped",
        reason=FailureReason.CHECK_FAILED if failed else planned.state,
        duration=duration,
        bytes=None,
        source_digest=planned.source_digest,
        target_digest=planned.target_digest,
        error=planned.note or None,
        attempts=0,
    )


def _not_mirrored(item: SyncItem, planned: PlannedItem, duration: float) -> CopyResult:
    """A referrer was pushed for an image the target does not hold: nothing to attach it to, and
    the image itself is not ours to copy here (its mapping's tags decide that)."""
    return CopyResult(
        item=item,
        status="skipped",
        reason=NOT_MIRRORED,
        duration=duration,
        bytes=None,
        source_digest=planned.source_digest,
        target_digest=None,
        error=f"{item.extra[REFERRERS_ONLY]} refers to an image the target does not hold: not copied",
        attempts=0,
    )
