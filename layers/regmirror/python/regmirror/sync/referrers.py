"""Stage 3b: an image's referrers (signatures, attestations, SBOMs) follow it into the target.

For an image the target holds (just copied, or found in sync), per subject digest (the image, and
for a whole index each platform's manifest, since signatures are often made per platform): list the
source's referrers (`registries.distribution.referrers`), keep what the mapping's rule selects, list
the target's, and copy what it lacks with the relay, digest for digest (cosign's tags under their
tag). A target without the referrers API gets the fallback index `sha256-<hex>` written, merged with
what it holds. Referrers of referrers (a signature of an SBOM) follow the same way, to `MAX_DEPTH`.

The copy record remembers which referrers the target holds (`CopyRecord.referrers_held`); for
`ttl` seconds after, a subject whose selected source referrers it all remembers is not listed at
the target (the source always is).

A referrer that cannot be copied fails the image's result (reason `referrers`): the next run finds
the image in sync and tries the referrers again; nothing already copied is undone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from regmirror.errors import RegistryError
from regmirror.model import CopyResult, FailureReason, ImageRef, ItemState, ReferrerSummary, SyncItem
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.distribution.media import OCI_INDEX, is_index
from regmirror.registries.distribution.referrers import (
    Listing,
    Referrer,
    RepositoryTags,
    fallback_index,
    fallback_tag,
    list_referrers,
    merged_index,
    might_refer,
)
from regmirror.rules.referrers import ReferrerRule
from regmirror.sync.plan import PlannedItem
from regmirror.sync.record import CopyRecord, ReferrersSeen
from regmirror.sync.registries import Registries

log = logging.getLogger("regmirror.referrers")

MAX_DEPTH = 3  # image → signature → signature of that signature


@dataclass(slots=True)
class _Tally:
    found: Counter[str] = field(default_factory=Counter)
    copied: int = 0
    present: int = 0
    scheme: str = ""
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # referrers the target holds now (listed or copied)
    vouched: bool = False  # some subject's referrers were taken from the copy record, not listed

    def summary(self) -> ReferrerSummary:
        return ReferrerSummary(
            found=sum(self.found.values()),
            copied=self.copied,
            present=self.present,
            types=tuple(sorted(self.found.items())),
            scheme=self.scheme,
            failed=tuple(self.failed),
            warnings=tuple(self.warnings),
        )


@dataclass(frozen=True, slots=True)
class _Sides:
    """The image's two repositories, their tags, and what copies one image between them."""

    item: SyncItem
    source: RegistryClient
    target: RegistryClient
    copy_image: Callable[[SyncItem], CopyResult] | None  # copy.copy_item; None: only count what is missing
    tags: RepositoryTags
    known: ReferrersSeen | None  # what the copy record says the target holds (fresh), or None

    def source_tags(self) -> set[str] | None:
        return self.tags.get(self.source, self.item.source.repository)

    def target_tags(self) -> set[str] | None:
        return self.tags.get(self.target, self.item.target.repository)

    def wrote(self, tag: str) -> None:
        self.tags.added(self.target, self.item.target.repository, tag)

    def copy(self, referrer: Referrer) -> CopyResult:
        assert self.copy_image is not None  # a dry run never copies
        src, dst = self.item.source, self.item.target
        item = SyncItem(
            task=self.item.task,
            source=ImageRef(src.registry, src.repository, digest=referrer.digest),
            target=ImageRef(dst.registry, dst.repository, tag=referrer.tag),
            platform="all",  # an index of artifacts stays one
            mapping=self.item.mapping,
            source_digest=referrer.digest,
            extra={"referrer": referrer.artifact_type},
        )
        return self.copy_image(item)


def referrer_rule(registries: Registries, item: SyncItem) -> ReferrerRule:
    """Which referrers travel with `item` (its task's and mapping's `referrers:`)."""
    return registries.task(item.task).referrer_rule(item.mapping)


def wants_referrers(registries: Registries, item: SyncItem) -> bool:
    return referrer_rule(registries, item).enabled


def in_sync_result(planned: PlannedItem) -> CopyResult:
    """The result of an image the check found in sync (its referrers still to compare)."""
    return CopyResult(
        item=planned.item,
        status="skipped",
        reason=ItemState.IN_SYNC,
        duration=0.0,
        bytes=None,
        source_digest=planned.source_digest,
        target_digest=planned.target_digest,
        error=None,
        attempts=0,
    )


def with_referrers(
    registries: Registries,
    result: CopyResult,
    copy_image: Callable[[SyncItem], CopyResult],
    record: CopyRecord | None = None,
) -> CopyResult:
    """`result` with the image's referrers mirrored and summarized, when its mapping wants them and
    the target holds the image; a referrer not copied makes the result failed."""
    rule = referrer_rule(registries, result.item)
    in_target = result.status == "copied" or result.reason == ItemState.IN_SYNC
    digest = result.target_digest or result.source_digest
    if not rule.enabled or not in_target or digest is None:
        return result
    summary = mirror_referrers(registries, result.item, digest, rule, copy_image, record)
    result = dataclasses.replace(result, referrers=summary)
    if summary.ok:
        return result
    error = f"{len(summary.failed)} referrer(s) not copied: " + "; ".join(summary.failed)
    return dataclasses.replace(result, status="failed", reason=FailureReason.REFERRERS, error=error)


def plan_referrers(
    registries: Registries, items: list[PlannedItem], workers: int, record: CopyRecord | None = None
) -> None:
    """What a sync would copy of each checked image's referrers, on `PlannedItem.referrers` (the
    plan's report: how many, which types, how many the target lacks); nothing is copied."""

    def look(planned: PlannedItem) -> None:
        rule = referrer_rule(registries, planned.item)
        digest = planned.target_digest or planned.source_digest
        if rule.enabled and digest and planned.state in (ItemState.COPY, ItemState.IN_SYNC):
            planned.referrers = mirror_referrers(registries, planned.item, digest, rule, None, record)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="referrers") as pool:
        list(pool.map(look, items))


def missing_referrers(registries: Registries, item: SyncItem, digest: str) -> int:
    """How many referrers of an in-sync image its target lacks (nothing copied): the AWS planner
    sends such an image to the relays, which then copy them."""
    rule = referrer_rule(registries, item)
    if not rule.enabled:
        return 0
    summary = mirror_referrers(registries, item, digest, rule, None)
    return summary.copied + len(summary.failed)


def mirror_referrers(
    registries: Registries,
    item: SyncItem,
    digest: str,
    rule: ReferrerRule,
    copy_image: Callable[[SyncItem], CopyResult] | None,
    record: CopyRecord | None = None,
) -> ReferrerSummary:
    """Copy what the target lacks of the referrers of `digest` (and of its platforms, its referrers);
    without `copy_image`, count it only (`ReferrerSummary.copied`: what a copy would copy). With a
    `record`, what it remembers spares target listings, and what the target holds now is remembered."""
    task = registries.task(item.task)
    sides = _Sides(
        item,
        registries.client(task.source),
        registries.client(task.target),
        copy_image,
        registries.repository_tags,
        record.known_referrers(item, digest) if record is not None else None,
    )
    tally = _Tally()
    visited: set[str] = set()
    try:
        if might_refer(sides.source, sides.source_tags()):
            _walk(sides, [digest], rule, tally, visited)  # asks first whether the source has the API
        if item.platform == "all" and might_refer(sides.source, sides.source_tags()):
            _walk(sides, _children(sides.source, item.source.repository, digest), rule, tally, visited)
    except RegistryError as exc:
        tally.failed.append(f"{digest}: {exc}")
    for warning in tally.warnings:
        log.warning("%s: %s", item.target, warning)
    if record is not None:
        _remember(record, sides, digest, tally)
    return tally.summary()


def _remember(record: CopyRecord, sides: _Sides, digest: str, tally: _Tally) -> None:
    """What the target holds now, for the next runs; what the record vouched for keeps its age, so
    trust never outlives one TTL without a target listing."""
    if tally.held or sides.known is not None:
        since = sides.known.at if sides.known is not None and tally.vouched else None
        record.referrers_held(sides.item, digest, tally.held, tally.scheme, since)


def _walk(sides: _Sides, subjects: list[str], rule: ReferrerRule, tally: _Tally, visited: set[str]) -> None:
    """Breadth first from the image's digests to referrers of referrers, each manifest once."""
    queue: deque[tuple[str, tuple[str, ...]]] = deque((s, (s,)) for s in subjects)  # with its chain
    visited.update(subjects)
    while queue:
        subject, chain = queue.popleft()
        try:
            found = _mirror_subject(sides, subject, chain, rule, tally)
        except RegistryError as exc:
            tally.failed.append(f"referrers of {subject}: {exc}")
            continue
        for referrer in found:
            if referrer.digest not in visited and len(chain) < MAX_DEPTH:
                visited.add(referrer.digest)
                queue.append((referrer.digest, (*chain, referrer.digest)))


def _children(client: RegistryClient, repository: str, digest: str) -> list[str]:
    """The platform manifests of an index (none for an image manifest)."""
    body, media_type, _ = client.get_manifest(repository, digest)
    if not is_index(media_type):
        return []
    manifests = json.loads(body).get("manifests") or []
    return [m["digest"] for m in manifests if isinstance(m, dict) and isinstance(m.get("digest"), str)]


def _mirror_subject(
    sides: _Sides, subject: str, chain: tuple[str, ...], rule: ReferrerRule, tally: _Tally
) -> list[Referrer]:
    """One subject's referrers: the selected ones at the source, copied where the target lacks them;
    one that is the subject itself or what it refers to (`chain`: a listing that lies) is not."""
    source = list_referrers(sides.source, sides.item.source.repository, subject, sides.source_tags())
    tally.warnings.extend(source.warnings)
    selected = _selected(source, subject, chain, rule, tally)
    if not selected:
        return []
    tally.found.update(r.artifact_type for r in selected)
    if sides.known is not None and all(r.digest in sides.known.digests for r in selected):
        tally.present += len(selected)  # the record vouches: the target held them all a moment ago
        tally.held.update(r.digest for r in selected)
        tally.scheme = sides.known.scheme
        tally.vouched = True
        return selected
    target = list_referrers(sides.target, sides.item.target.repository, subject, sides.target_tags())
    tally.scheme = target.scheme
    copied = [r for r in selected if _copy_missing(sides, r, subject, target, tally)]
    _write_fallback_index(sides, subject, target, copied)
    return selected


def _selected(
    source: Listing, subject: str, chain: tuple[str, ...], rule: ReferrerRule, tally: _Tally
) -> list[Referrer]:
    looping = [r for r in source.referrers if r.digest in chain]
    tally.warnings.extend(f"{r.digest} refers back to {subject}: a loop, not followed" for r in looping)
    return [r for r in source.referrers if rule.selects(r.artifact_type) and r not in looping]


def _copy_missing(sides: _Sides, referrer: Referrer, subject: str, target: Listing, tally: _Tally) -> bool:
    """Copy `referrer` unless the target holds it; whether it was copied now."""
    if _present(referrer, target):
        tally.present += 1
        tally.held.add(referrer.digest)
        return False
    if referrer.tag is None and not _refers_to(sides, referrer, subject, target, tally):
        return False
    if sides.copy_image is None:
        tally.copied += 1  # a dry run: counted as to copy
        return False
    result = sides.copy(referrer)
    if result.status == "failed":
        kind = referrer.artifact_type or referrer.media_type
        tally.failed.append(f"{referrer.digest} ({kind}): {result.error}")
        return False
    tally.copied += 1
    tally.held.add(referrer.digest)
    if referrer.tag is not None:
        sides.wrote(referrer.tag)
    return True


def _present(referrer: Referrer, target: Listing) -> bool:
    if referrer.tag is not None:
        return target.tagged().get(referrer.tag) == referrer.digest
    return referrer.digest in target.digests()


def _refers_to(sides: _Sides, referrer: Referrer, subject: str, target: Listing, tally: _Tally) -> bool:
    """Whether the source's manifest of `referrer` names `subject` (a listing may lie); a referrer
    without `subject` can live in a fallback index only (a referrers API would not list it)."""
    body, _, _ = sides.source.get_manifest(sides.item.source.repository, referrer.digest)
    try:
        named = json.loads(body).get("subject", {}).get("digest")
    except (ValueError, AttributeError):
        named = None
    where = f"{referrer.digest} (listed as a referrer of {subject})"
    if named is not None and named != subject:
        tally.warnings.append(f"{where} names {named} as its subject: not copied")
        return False
    if named is None and target.scheme == "api":
        tally.warnings.append(f"{where} has no subject, which the target's referrers API needs: not copied")
        return False
    return True


def _write_fallback_index(sides: _Sides, subject: str, target: Listing, copied: list[Referrer]) -> None:
    """On a target without the referrers API, its `sha256-<hex>` index: what it held plus what was
    copied (the tag schema's rule: whoever pushes a referrer updates the index)."""
    added = [r for r in copied if r.tag is None]  # cosign's tags are found by their names
    if target.scheme != "tag" or not added:
        return
    # read again, not taken from the listing: another relay may have written it since (a warm
    # container's tags are up to a minute old), and what it added must not be dropped
    fresh = fallback_index(sides.target, sides.item.target.repository, subject)
    body = merged_index(tuple(e for e in fresh if isinstance(e, dict)), added)
    sides.target.put_manifest(sides.item.target.repository, fallback_tag(subject), body, OCI_INDEX)
    sides.wrote(fallback_tag(subject))
