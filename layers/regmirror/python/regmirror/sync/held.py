"""Which repositories of a target registry hold a manifest, as a run learns it: each digest check
(the digest a target tag has) and each copy (the digest it wrote). `sync.retag` asks it whether an
image to copy is in the target already, under another tag or in another repository."""

from __future__ import annotations

import threading

from regmirror.model import CopyResult, canonical_host
from regmirror.sync.plan import PlannedItem

MAX_HOLDERS = 4  # repositories kept per manifest: one is enough to copy from


class HeldImages:
    """(target registry, manifest digest) -> repositories holding it. Thread-safe; at most one entry
    per image of the plan, so memory follows the plan's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: dict[tuple[str, str], list[str]] = {}

    def learn(self, registry: str, repository: str, digest: str) -> None:
        key = (canonical_host(registry), digest)
        with self._lock:
            holders = self._holders.setdefault(key, [])
            if repository not in holders and len(holders) < MAX_HOLDERS:
                holders.append(repository)

    def checked(self, planned: PlannedItem) -> None:
        """A digest check saw (or the copy record vouched for) the target tag's digest."""
        if planned.target_digest:
            target = planned.item.target
            self.learn(target.registry, target.repository, planned.target_digest)

    def copied(self, result: CopyResult) -> None:
        if result.status == "copied" and result.target_digest:
            target = result.item.target
            self.learn(target.registry, target.repository, result.target_digest)

    def holders(self, registry: str, digest: str) -> list[str]:
        with self._lock:
            return list(self._holders.get((canonical_host(registry), digest), ()))

    def forget(self, registry: str, repository: str, digest: str) -> None:
        """It was not there after all (deleted since, or a stale record entry)."""
        with self._lock:
            holders = self._holders.get((canonical_host(registry), digest), [])
            if repository in holders:
                holders.remove(repository)
