"""Task → sync items, in two phases.

1. `enumerate_task`: list (lister), match `from`, rewrite `to`, select tags → items, all `pending`.
   Cheap (catalog and tag lists only), so guards (`max-images`, two mappings writing one target) fail
   the plan before anything is copied.
2. `check_items`: compare manifest digests with HEAD requests on source and target, in parallel,
   giving each item its state: `in-sync`, `copy` or `missing-at-source`. HEAD only: an unchanged tag
   costs no manifest GET on the source (Docker Hub counts GETs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from regmirror.config import Config, MappingConfig, Task
from regmirror.errors import ConfigError, ConfigProblem, PlanLimitError, RegmirrorError
from regmirror.model import ImageRef, SyncItem
from regmirror.registries.distribution.media import is_index
from regmirror.rules.match import FromMatcher, ToRewriter
from regmirror.rules.refs import valid_digest
from regmirror.rules.tags import TagSelector

if TYPE_CHECKING:
    from regmirror.sync.record import CopyRecord

log = logging.getLogger("regmirror.plan")

PENDING = "pending"
IN_SYNC = "in-sync"
COPY = "copy"
MISSING = "missing-at-source"
CHECK_FAILED = "check-failed"


class ManifestSource(Protocol):
    """What the planner needs from a registry (RegistryClient implements it)."""

    def list_tags(self, repository: str) -> list[str]: ...

    def head_manifest(self, repository: str, reference: str) -> Any: ...


class TagDigestSource(Protocol):
    """Optional: a source that knows every tag's digest from one listing (ECR, Docker Hub)."""

    def tag_digests(self, repository: str) -> dict[str, str] | None: ...


@dataclass(slots=True)
class PlannedItem:
    item: SyncItem
    state: str = PENDING
    source_digest: str | None = None
    target_digest: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.item.task,
            "mapping": self.item.mapping,
            "source": str(self.item.source),
            "target": str(self.item.target),
            "platform": self.item.platform,
            "state": self.state,
            "source_digest": self.source_digest,
            "target_digest": self.target_digest,
            "note": self.note,
        }


@dataclass(slots=True)
class MappingPlan:
    task: str
    index: int
    from_: str
    to: str | None
    line: int = 0
    listed: int | None = None  # names the lister returned (None: plain `from`, no lister)
    matched: list[str] = field(default_factory=list)
    tag_rule: str = ""
    items: list[PlannedItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "mapping": self.index,
            "from": self.from_,
            "to": self.to,
            "listed": self.listed,
            "matched": self.matched,
            "tags": self.tag_rule,
            "images": len(self.items),
            "notes": self.notes,
            "error": self.error,
        }


@dataclass(slots=True)
class TaskPlan:
    task: str
    mappings: list[MappingPlan] = field(default_factory=list)

    @property
    def items(self) -> list[PlannedItem]:
        return [p for m in self.mappings for p in m.items]

    @property
    def errors(self) -> list[str]:
        return [f"{self.task} mapping {m.index}: {m.error}" for m in self.mappings if m.error]


@dataclass(slots=True)
class Plan:
    tasks: list[TaskPlan] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def items(self) -> list[PlannedItem]:
        return [p for t in self.tasks for p in t.items]

    @property
    def errors(self) -> list[str]:
        return [e for t in self.tasks for e in t.errors]

    def to_copy(self) -> list[SyncItem]:
        return [p.item for p in self.items if p.state == COPY]

    def counts(self) -> dict[str, int]:
        counts = {IN_SYNC: 0, COPY: 0, MISSING: 0, CHECK_FAILED: 0, PENDING: 0}
        for p in self.items:
            counts[p.state] = counts.get(p.state, 0) + 1
        counts["total"] = len(self.items)
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "mappings": [m.to_dict() for t in self.tasks for m in t.mappings],
            "items": [p.to_dict() for p in self.items],
        }


# Names of repositories in a task's source, listed once per task and shared by its mappings.
ListNames = Callable[[Task], list[str]]
ClientFor = Callable[[Any], ManifestSource]  # RegistryConfig -> client


def split_verbatim(tag: str) -> tuple[str | None, str | None]:
    """A verbatim tag entry is `tag`, `sha256:...` or `tag@sha256:...` → (tag, digest)."""
    if "@" in tag:
        name, digest = tag.split("@", 1)
        return name or None, digest
    if valid_digest(tag):
        return None, tag
    return tag, None


def enumerate_task(task: Task, list_names: ListNames, source_client: ManifestSource) -> TaskPlan:
    """Phase 1 for one task: every mapping's items, state `pending`. Never copies anything."""
    plan = TaskPlan(task=task.name)
    names: list[str] | None = None
    for index, mapping in enumerate(task.mappings):
        mplan = MappingPlan(task.name, index, mapping.from_, mapping.to, line=mapping.line)
        plan.mappings.append(mplan)
        try:
            matcher = FromMatcher.parse(mapping.from_)
            if matcher.is_regex:
                if names is None:
                    names = list_names(task)
                mplan.listed = len(names)
                mplan.matched = [n for n in names if matcher.matches(n)]
            else:
                mplan.matched = [matcher.plain_path()]
            _expand_mapping(task, mapping, mplan, source_client)
        except RegmirrorError as exc:
            mplan.error = str(exc)
            mplan.items.clear()
            log.error("task %s mapping %d (%s): %s", task.name, index, mapping.from_, exc)
        _log_mapping(mplan)
    return plan


def _expand_mapping(task: Task, mapping: MappingConfig, mplan: MappingPlan, source: ManifestSource) -> None:
    rewriter = ToRewriter.parse(mapping.to, from_is_regex=mapping.from_is_regex)
    selector = TagSelector.parse(mapping.tags)
    mplan.tag_rule = selector.explain()
    tag_lists = _list_tags(source, mplan.matched) if selector.needs_listing else {}
    for repository in mplan.matched:
        rewrite = rewriter.rewrite(repository)
        if not rewrite.matched:
            mplan.notes.append(f"{repository}: {rewrite.note}")
        for tag in selector.select(tag_lists.get(repository)):
            mplan.items.append(
                PlannedItem(_make_item(task, mplan.index, mapping, repository, rewrite.path, tag))
            )
    if mapping.max_images is not None and len(mplan.items) > mapping.max_images:
        raise PlanLimitError(
            f"matched {len(mplan.items)} images, more than max-images {mapping.max_images} "
            f"(line {mapping.line}); nothing of this mapping is copied. "
            "Narrow `from`/`tags` or raise the guard."
        )


LIST_TAGS_WORKERS = 8  # tag lists of a mapping's repositories are fetched in parallel (latency-bound)


def _list_tags(source: ManifestSource, repositories: list[str]) -> dict[str, list[str]]:
    """Every repository's tags; the first failure fails the mapping, as a sequential loop would."""
    if len(repositories) <= 1:
        return {r: source.list_tags(r) for r in repositories}
    with ThreadPoolExecutor(max_workers=LIST_TAGS_WORKERS, thread_name_prefix="tags") as pool:
        return dict(zip(repositories, pool.map(source.list_tags, repositories), strict=True))


def _make_item(
    task: Task, index: int, mapping: MappingConfig, repository: str, target_path: str, tag: str
) -> SyncItem:
    name, digest = split_verbatim(tag)
    return SyncItem(
        task=task.name,
        source=ImageRef(task.source.registry, repository, name, digest),
        # Pushes go by tag name when one was given, else by digest (as dregsy does).
        target=ImageRef(task.target.registry, target_path, name, None if name else digest),
        platform=mapping.platform,
        mapping=index,
        source_digest=digest,
    )


def _log_mapping(m: MappingPlan) -> None:
    if m.listed is not None:
        log.info(
            "task %s mapping %d: lister returned %d names, %d matched %r: %s",
            m.task,
            m.index,
            m.listed,
            len(m.matched),
            m.from_,
            ", ".join(m.matched[:20]) + (" …" if len(m.matched) > 20 else ""),
        )
    log.info("task %s mapping %d: tags %s → %d images", m.task, m.index, m.tag_rule, len(m.items))
    for note in m.notes:
        log.warning("task %s mapping %d: `to` %r did not match: %s", m.task, m.index, m.to, note)


def check_duplicate_targets(config: Config, plans: Iterable[TaskPlan]) -> None:
    """Two mappings writing the same target reference would overwrite each other: refuse the plan."""
    seen: dict[str, tuple[str, int]] = {}
    problems: list[ConfigProblem] = []
    lines = {t.name: t for t in config.tasks}
    for tplan in plans:
        for m in tplan.mappings:
            for p in m.items:
                key = p.item.key()
                first = seen.setdefault(key, (m.task, m.index))
                if first != (m.task, m.index):
                    field_path = f"tasks[{_task_index(config, m.task)}].mappings[{m.index}]"
                    problems.append(
                        ConfigProblem(
                            config.source_file,
                            m.line or lines[m.task].line,
                            0,
                            field_path,
                            f"writes {key}, which task {first[0]!r} mapping {first[1]} writes too",
                        )
                    )
    if problems:
        raise ConfigError(problems)


def _task_index(config: Config, name: str) -> int:
    return next(i for i, t in enumerate(config.tasks) if t.name == name)


def check_items(
    items: Iterable[PlannedItem],
    source_for: Callable[[SyncItem], ManifestSource],
    target_for: Callable[[SyncItem], ManifestSource],
    *,
    workers: int = 8,
    record: CopyRecord | None = None,
) -> Iterator[PlannedItem]:
    """Phase 2: source digest (listing or HEAD) and target check (record or HEAD) per item, in
    parallel; yields items in input order as their state is known."""
    listings = TagDigestListings()

    def check(p: PlannedItem) -> PlannedItem:
        return check_item(p, source_for(p.item), target_for(p.item), record=record, listings=listings)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="check") as pool:
        yield from pool.map(check, items)


@dataclass(frozen=True, slots=True)
class _Listed:
    """A source digest taken from a digest-bearing listing (no media type there)."""

    digest: str
    media_type: str | None = None


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
) -> PlannedItem:
    """One item's state. The source digest always comes from the source (a digest-bearing listing or
    a HEAD); the target check may be replaced by a fresh copy-record entry for that source digest."""
    item = planned.item
    try:
        src = _source_manifest(item, source, listings)
        if src is None:
            planned.state, planned.note = MISSING, "source has no such tag or digest"
            return planned
        planned.source_digest = src.digest
        entry = record.trusted(item, src.digest) if record is not None else None
        if entry is not None:
            planned.target_digest = entry.target_digest
            planned.state, planned.note = IN_SYNC, "copy record (target not checked)"
            return planned
        planned.target_digest = _target_digest(item, target)
        planned.state = _compare_with_record(planned, src, record)
    except RegmirrorError as exc:
        planned.state, planned.note = CHECK_FAILED, str(exc)
    return planned


def _source_manifest(item: SyncItem, source: ManifestSource, listings: TagDigestListings | None) -> Any:
    if listings is not None and item.source.digest is None:
        listed = listings.digest(source, item.source.repository, item.source.tag)
        if listed is not None:
            return _Listed(listed)
    return source.head_manifest(item.source.repository, item.source.reference)


def _target_digest(item: SyncItem, target: ManifestSource) -> str | None:
    if item.target.tag is None and item.target.digest:
        tgt = target.head_manifest(item.target.repository, item.target.digest)
    else:
        tgt = target.head_manifest(item.target.repository, item.target.reference)
    return tgt.digest if tgt is not None else None


def _compare_with_record(planned: PlannedItem, src: Any, record: CopyRecord | None) -> str:
    """`_compare`, plus: the target holds what the record says was copied from this very source
    digest (how a single-platform copy of a multi-arch source is proven in sync). Keeps the record
    up to date with what the check found."""
    item, source_digest = planned.item, str(src.digest)
    if record is not None and record.proves(item, source_digest, planned.target_digest):
        state = IN_SYNC
    else:
        state = _compare(planned, src)
    if record is not None and planned.target_digest is not None and state == IN_SYNC:
        record.verified(item, source_digest, planned.target_digest)
    elif record is not None:
        record.forget(item)
    return state


def _compare(planned: PlannedItem, src: Any) -> str:
    if planned.target_digest is None:
        planned.note = "not in target"
        return COPY
    if planned.target_digest == src.digest:
        return IN_SYNC
    if planned.item.platform != "all" and is_index(src.media_type):
        # One platform of a multi-arch source: the target holds that platform's manifest, whose digest
        # differs from the index's. Re-copying is cheap (skopeo skips present blobs) but we cannot
        # prove equality without a GET of the source index, so say why we copy.
        planned.note = "single-platform copy of a multi-arch source (no digest proof without a GET)"
        return COPY
    planned.note = "digest differs"
    return COPY


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
