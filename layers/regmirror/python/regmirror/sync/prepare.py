"""Before a push: what the target's kind needs (an ECR repository created), and whether it finds the
image there already (ECR immutable tags). Shared by skopeo's copies and `sync.retag`'s."""

from __future__ import annotations

import time

from regmirror.model import CopyResult, ItemState, SyncItem
from regmirror.sync.registries import Registries


def prepare_target(registries: Registries, item: SyncItem) -> CopyResult | None:
    """What the target's kind needs before a push; a "skipped, in sync" result when it finds the
    target already holds the image (ECR immutable tags)."""
    target = registries.task(item.task).target
    kind = registries.kind(target)
    start = time.monotonic()
    tag, digest = item.target.tag, item.source_digest
    held = kind.prepare_target(target, item.target.repository, tag, digest)
    registries.forget_listing(target, item.target.repository)
    if not held:
        return None
    return CopyResult(
        item=item,
        status="skipped",
        reason=ItemState.IN_SYNC,
        duration=time.monotonic() - start,
        bytes=None,
        source_digest=digest,
        target_digest=digest,
        error=None,
        attempts=0,
    )
