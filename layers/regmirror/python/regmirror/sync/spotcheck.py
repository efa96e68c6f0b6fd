"""Spot checks of the copy record: an entry the record would trust (fresh, same source digest) is not
believed blindly. In every planning run, per target repository, the first such entry is checked anyway
(the probe: one HEAD that reveals a wiped or rewritten repository), and so is a random sample of the
others (`CopyRecord.spot_fraction`, default 5 %). Once a check finds the target differing from the
record, no entry of that repository is trusted for the rest of the run: each of its images is checked.

What is left to trust is bounded: a tag changed behind regmirror's back in a repository whose probe
still agrees is found by the sample, or at the latest when the entry's TTL ends (`--verify`: at once).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from regmirror.model import SyncItem, canonical_host
from regmirror.sync.record import SPOT_FRACTION, RecordEntry

log = logging.getLogger("regmirror.record")


@dataclass(slots=True)
class _Repository:
    lock: threading.Lock = field(default_factory=threading.Lock)
    probed: bool = False
    changed: bool = False


class SpotChecks:
    """Per planning run; thread-safe. `rng` is injectable for tests (`fraction` 1: check every entry)."""

    def __init__(self, fraction: float = SPOT_FRACTION, rng: random.Random | None = None) -> None:
        self.fraction = fraction
        self._rng = rng or random.Random()  # noqa: S311 - a sample, not a secret
        self._lock = threading.Lock()
        self._repositories: dict[str, _Repository] = {}

    def check(
        self, item: SyncItem, entry: RecordEntry, target_digest: Callable[[], str | None]
    ) -> tuple[bool, str | None]:
        """(checked, digest): whether the entry had to be checked and, if so, the target's digest
        now (None: absent). `target_digest` is the HEAD; its errors propagate, and a repository whose
        probe failed is probed again by its next entry."""
        repository = self._repository(item)
        with repository.lock:  # the probe first: no entry of a repository is trusted before it
            if not repository.probed:
                digest = target_digest()
                repository.probed = True
                self._compare(item, entry, digest, repository)
                return True, digest
        if repository.changed or self._sampled():
            digest = target_digest()
            self._compare(item, entry, digest, repository)
            return True, digest
        return False, None

    def _sampled(self) -> bool:
        with self._lock:
            return self._rng.random() < self.fraction

    def _repository(self, item: SyncItem) -> _Repository:
        key = f"{canonical_host(item.target.registry)}/{item.target.repository}"
        with self._lock:
            return self._repositories.setdefault(key, _Repository())

    def _compare(
        self, item: SyncItem, entry: RecordEntry, digest: str | None, repository: _Repository
    ) -> None:
        if digest == entry.target_digest:
            return
        with self._lock:
            first, repository.changed = not repository.changed, True
        if first:
            log.warning(
                "copy record out of date: %s holds %s, not %s as recorded (changed or wiped behind "
                "regmirror's back); every image of %s/%s is checked",
                item.target,
                "nothing" if digest is None else digest,
                entry.target_digest,
                item.target.registry,
                item.target.repository,
            )
