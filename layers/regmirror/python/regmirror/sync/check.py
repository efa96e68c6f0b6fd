"""Stage 2: compare manifest digests of source and target, in parallel, giving each item its state:
`in-sync`, `copy` or `missing-at-source` (`check-failed` when a registry did not answer). HEAD only: an
unchanged tag costs no manifest GET on the source (Docker Hub counts GETs); a digest-bearing listing
(ECR) or a fresh copy-record entry replaces HEADs where it can.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from regmirror.errors import RegistryUnavailable, RegmirrorError
from regmirror.model import ItemState, SyncItem
from regmirror.registries.distribution.media import ManifestInfo, is_index
from regmirror.registries.manifests import ManifestSource
from regmirror.rules.refs import valid_digest
from regmirror.sync.plan import SPOT_CHECKED_NOTE, TRUSTED_NOTE, PlannedItem
from regmirror.sync.spotcheck import SpotChecks

if TYPE_CHECKING:
    from regmirror.sync.record import CopyRecord

log = logging.getLogger("regmirror.plan")

# Digest checks in flight per planning run. Each is a round trip or two that waits on the network:
# across a 40 ms link 8 of them took 0.62 s for 48 tags, 16 half that, 32 a further fifth. 32 is also
# the registry client's connection pool, so no connection is opened only to be dropped.
CHECK_WORKERS = 32


def check_items(
    items: Iterable[PlannedItem],
    source_for: Callable[[SyncItem], ManifestSource],
    target_for: Callable[[SyncItem], ManifestSource],
    *,
    workers: int = CHECK_WORKERS,
    record: CopyRecord | None = None,
    then: Callable[[PlannedItem], None] | None = None,
) -> Iterator[PlannedItem]:
    """Phase 2: source digest (listing or HEAD) and target check (record or HEAD) per item, in
    parallel; yields items in input order as their state is known. `then(item)` runs in the checking
    thread once an item's state is known (a sync learns what an image to copy holds)."""
    listings = TagDigestListings()
    spot = SpotChecks(record.spot_fraction) if record is not None else None

    def check(p: PlannedItem) -> PlannedItem:
        target = target_for(p.item)
        checked = check_item(p, source_for(p.item), target, record=record, listings=listings, spot=spot)
        if then is not None:
            then(checked)
        return checked

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="check") as pool:
        yield from pool.map(check, items)


class TagDigestListings:
    """Digest-bearing listings (`TagDigestSource.tag_digests`) fetched once per source repository for
    one planning run and shared by the checking threads. A source without them, a failed listing or a
    tag missing from it falls back to a HEAD."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self._digests: dict[tuple[int, str], dict[str, str] | None] = {}

    def digest(self, source: ManifestSource, repository: str, tag: str | None) -> str | None:
        fetch = getattr(source, "tag_digests", None)
        if fetch is None or tag is None:
            return None
        digests = self._listing(fetch, id(source), repository)
        found = digests.get(tag) if digests else None
        return found if isinstance(found, str) and valid_digest(found) else None

    def _listing(
        self, fetch: Callable[[str], dict[str, str] | None], source_id: int, repository: str
    ) -> dict[str, str] | None:
        key = (source_id, repository)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one listing per repository even when its tags are checked concurrently
            if key not in self._digests:
                try:
                    self._digests[key] = fetch(repository)
                except RegmirrorError as exc:
                    log.warning(
                        "digest listing of %s failed, checking its tags one by one: %s", repository, exc
                    )
                    self._digests[key] = None
            return self._digests[key]


def check_item(
    planned: PlannedItem,
    source: ManifestSource,
    target: ManifestSource,
    *,
    record: CopyRecord | None = None,
    listings: TagDigestListings | None = None,
    spot: SpotChecks | None = None,
) -> PlannedItem:
    """One item's state. The source digest always comes from the source (a digest-bearing listing or
    a HEAD); the target check may be replaced by a fresh copy-record entry for that source digest,
    unless `spot` picks the entry for a check anyway."""
    item = planned.item
    try:
        src = _source_manifest(item, source, listings)
        if src is None:
            planned.state, planned.note = ItemState.MISSING, _missing(item, source)
            return planned
        planned.source_digest = src.digest
        by_record = _by_record(planned, src.digest, record, target, spot) if record else _NO_ENTRY
        if by_record == _TRUSTED:
            return planned
        if by_record == _NO_ENTRY:
            planned.target_digest = _target_digest(item, target)
        planned.state = _compare_with_record(planned, src, record)
    except RegmirrorError as exc:
        planned.state, planned.note = ItemState.CHECK_FAILED, str(exc)
        # an open circuit breaker said so once, at its opening; its refusals are not logged again
        level = logging.DEBUG if isinstance(exc, RegistryUnavailable) else logging.ERROR
        log.log(level, "%s: digest check failed: %s", item.key(), exc)
    return planned


_TRUSTED, _SPOT_CHECKED, _NO_ENTRY = "trusted", "spot-checked", "no entry"


def _by_record(
    planned: PlannedItem,
    source_digest: str,
    record: CopyRecord,
    target: ManifestSource,
    spot: SpotChecks | None,
) -> str:
    """What a fresh record entry does for the target check: `_TRUSTED` (in sync, target not checked),
    `_SPOT_CHECKED` (checked anyway: `planned.target_digest` holds what the target has) or `_NO_ENTRY`."""
    item = planned.item
    entry = record.fresh(item, source_digest)
    if entry is None:
        return _NO_ENTRY
    if spot is not None:
        checked, digest = spot.check(item, entry, lambda: _target_digest(item, target))
        if checked:
            planned.target_digest, planned.note = digest, SPOT_CHECKED_NOTE
            return _SPOT_CHECKED
    record.believed()
    planned.target_digest = entry.target_digest
    planned.state, planned.note = ItemState.IN_SYNC, TRUSTED_NOTE
    return _TRUSTED


def _missing(item: SyncItem, source: ManifestSource) -> str:
    """Why the source has no such image: its repository is missing, or only the tag (or digest).
    One tag listing tells them apart; it is asked only for missing images, which are rare."""
    what = "digest" if item.source.tag is None else "tag"
    try:
        source.list_tags(item.source.repository)
    except RegmirrorError as exc:
        if getattr(exc, "status", None) == 404:
            return f"repository {item.source.repository} missing at the source"
        return f"{what} missing at the source (its repository could not be listed: {exc})"
    return f"{what} {item.source.reference} missing at the source"


def _source_manifest(
    item: SyncItem, source: ManifestSource, listings: TagDigestListings | None
) -> ManifestInfo | None:
    if listings is not None and item.source.digest is None:
        listed = listings.digest(source, item.source.repository, item.source.tag)
        if listed is not None:
            return ManifestInfo(listed, "", -1)  # a listing gives no media type nor manifest size
    return source.head_manifest(item.source.repository, item.source.reference)


def _target_digest(item: SyncItem, target: ManifestSource) -> str | None:
    if item.target.tag is None and item.target.digest:
        tgt = target.head_manifest(item.target.repository, item.target.digest)
    else:
        tgt = target.head_manifest(item.target.repository, item.target.reference)
    return tgt.digest if tgt is not None else None


def _compare_with_record(planned: PlannedItem, src: ManifestInfo, record: CopyRecord | None) -> ItemState:
    """`_compare`, plus: the target holds what the record says was copied from this very source
    digest (how a single-platform copy of a multi-arch source is proven in sync). Keeps the record
    up to date with what the check found."""
    item, source_digest = planned.item, str(src.digest)
    if record is not None and record.proves(item, source_digest, planned.target_digest):
        state = ItemState.IN_SYNC
    else:
        state = _compare(planned, src)
    if record is not None and planned.target_digest is not None and state == ItemState.IN_SYNC:
        record.verified(item, source_digest, planned.target_digest)
    elif record is not None:
        record.forget(item)
    return state


def _compare(planned: PlannedItem, src: ManifestInfo) -> ItemState:
    if planned.target_digest is None:
        planned.note = "not in target"
        return ItemState.COPY
    if planned.target_digest == src.digest:
        return ItemState.IN_SYNC
    if planned.item.platform != "all" and is_index(src.media_type):
        # One platform of a multi-arch source: the target holds that platform's manifest, whose digest
        # differs from the index's. Re-copying is cheap (skopeo skips present blobs) but we cannot
        # prove equality without a GET of the source index, so say why we copy.
        planned.note = "single-platform copy of a multi-arch source (no digest proof without a GET)"
        return ItemState.COPY
    planned.note = "digest differs"
    return ItemState.COPY


def finalize_item(planned: PlannedItem) -> SyncItem:
    """The item to enqueue: pinned to the digest seen at plan time, so source and check agree."""
    item = planned.item
    if planned.source_digest and not item.source_digest:
        return SyncItem(
            task=item.task,
            source=item.source,
            target=item.target,
            platform=item.platform,
            mapping=item.mapping,
            source_digest=planned.source_digest,
            extra=item.extra,
        )
    return item
