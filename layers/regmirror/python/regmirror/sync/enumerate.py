"""Stage 1: list (lister), match `from`, rewrite `to`, select tags → items, all `pending`.

Cheap (catalog and tag lists only), so guards (`max-images`; two sources writing one target, see
`sync.conflicts`) fail the plan before anything is copied. Also: the items of one pushed image (ECR push
events).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from regmirror.config import Config, MappingConfig, Task
from regmirror.errors import PlanLimitError, RegmirrorError
from regmirror.model import ImageRef, SyncItem, canonical_host
from regmirror.registries.manifests import ManifestSource
from regmirror.rules.referrers import REFERRERS_ONLY, is_referrer_tag
from regmirror.rules.refs import valid_digest
from regmirror.rules.tags import TagSelector
from regmirror.sync.plan import MappingPlan, PlannedItem, TaskPlan

log = logging.getLogger("regmirror.plan")


# Names of repositories in a task's source, listed once per task and shared by its mappings.
ListNames = Callable[[Task], list[str]]


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
        rule = mapping.rule
        try:
            if rule.needs_listing:
                if names is None:
                    names = _below_prefix(task, list_names(task))
                mplan.listed = len(names)
                mplan.matched = [n for n in names if rule.selects(n)]
                if not mplan.matched:
                    mplan.warnings.append(_matched_nothing(mapping, names))
            else:
                mplan.matched = [rule.plain_path]
            _expand_mapping(task, mapping, mplan, source_client)
        except RegmirrorError as exc:
            mplan.error = str(exc)
            mplan.items.clear()
            log.error("task %s mapping %d (%s): %s", task.name, index, mapping.from_, exc)
        _log_mapping(mplan)
    return plan


def _below_prefix(task: Task, listed: list[str]) -> list[str]:
    """With `registry: host/project`, a regex `from` sees the names below `project/`, without it."""
    relative = (task.source.relative(name) for name in listed)
    return [name for name in relative if name]


_REGEX_SYNTAX = re.compile(r"[\\^$.*+?()\[\]{}|]")


def _matched_nothing(mapping: MappingConfig, names: list[str]) -> str:
    """`from` took none of the listed names: say so, with the nearest ones (a typo is the usual cause)."""
    import difflib  # only on this path

    if not names:
        return f"'from' {mapping.from_!r} matched nothing: the lister returned no names"
    literal = _REGEX_SYNTAX.sub("", mapping.from_pattern)
    nearest = difflib.get_close_matches(literal, names, n=3, cutoff=0.0)
    found = f"'from' {mapping.from_!r} matched none of {len(names)} listed names"
    return f"{found}; nearest: {', '.join(nearest)}"


def _expand_mapping(task: Task, mapping: MappingConfig, mplan: MappingPlan, source: ManifestSource) -> None:
    rule = mapping.rule
    mplan.tag_rule = rule.tags.explain()
    tag_lists = _tag_lists(task, mplan.index, mapping, mplan.matched, source)
    for repository in mplan.matched:
        rewrite = rule.target(repository)
        if not rewrite.matched:
            mplan.notes.append(f"{repository}: {rewrite.note}")
        for tag in rule.select_tags(tag_lists.get(repository)):
            mplan.items.append(
                PlannedItem(make_item(task, mplan.index, mapping, repository, rewrite.path, tag))
            )
    _check_mapping_result(mapping, mplan)


def _tag_lists(
    task: Task, index: int, mapping: MappingConfig, names: list[str], source: ManifestSource
) -> dict[str, list[str]]:
    """Each matched repository's tags, when the tag entries need them (keyed by the name below any
    registry path prefix). With referrers on, their tags (`sha256-<hex>`, cosign's) are not images
    of their own: they travel with the images they refer to (sync.referrers)."""
    if not mapping.rule.tags.needs_listing:
        return {}
    listed = _list_tags(source, [task.source.repository(name) for name in names])
    if task.referrer_rule(index).enabled:
        listed = {repo: [t for t in tags if not is_referrer_tag(t)] for repo, tags in listed.items()}
    return dict(zip(names, listed.values(), strict=True))


def _check_mapping_result(mapping: MappingConfig, mplan: MappingPlan) -> None:
    """Warn when the tags take nothing; refuse a plan above `max-images`."""
    if mplan.matched and not mplan.items and mapping.rule.tags.has_filters:
        mplan.warnings.append(
            f"tags select nothing in {len(mplan.matched)} matched repositories: {mplan.tag_rule}"
        )
    if mapping.max_images is not None and len(mplan.items) > mapping.max_images:
        raise PlanLimitError(
            f"matched {len(mplan.items)} images, more than max-images {mapping.max_images} "
            f"(line {mapping.line}); nothing of this mapping is copied. "
            "Narrow `from`/`tags` or raise the guard."
        )


LIST_TAGS_WORKERS = 32  # tag lists of a mapping's repositories are fetched in parallel (latency-bound)


def _list_tags(source: ManifestSource, repositories: list[str]) -> dict[str, list[str]]:
    """Every repository's tags; the first failure fails the mapping, as a sequential loop would."""
    if len(repositories) <= 1:
        return {r: source.list_tags(r) for r in repositories}
    with ThreadPoolExecutor(max_workers=LIST_TAGS_WORKERS, thread_name_prefix="tags") as pool:
        return dict(zip(repositories, pool.map(source.list_tags, repositories), strict=True))


def make_item(
    task: Task, index: int, mapping: MappingConfig, repository: str, target_path: str, tag: str
) -> SyncItem:
    """The item copying `repository` (a source path, below any registry path prefix) to `target_path`."""
    name, digest = split_verbatim(tag)
    return SyncItem(
        task=task.name,
        source=ImageRef(task.source.registry, task.source.repository(repository), name, digest),
        # Pushes go by tag name when one was given, else by digest (as dregsy does).
        target=ImageRef(
            task.target.registry, task.target.repository(target_path), name, None if name else digest
        ),
        platform=mapping.platform,
        mapping=index,
        source_digest=digest,
    )


def _log_mapping(m: MappingPlan) -> None:
    if m.listed is not None:
        counts = (m.task, m.index, m.listed, len(m.matched), m.from_)
        log.info("task %s mapping %d: lister returned %d names, %d matched %r", *counts)
        log.debug("task %s mapping %d: matched %s", m.task, m.index, ", ".join(m.matched))  # -v
    log.info("task %s mapping %d: tags %s → %d images", m.task, m.index, m.tag_rule, len(m.items))
    for warning in m.warnings:
        log.warning("task %s mapping %d: %s", m.task, m.index, warning)
    for note in m.notes:
        log.warning("task %s mapping %d: `to` %r did not match: %s", m.task, m.index, m.to, note)


def written_by(config: Config, registry_host: str, repository: str) -> str | None:
    """The mapping (`tasks[i].mappings[j]`) that may write `repository` of `registry_host`, if any:
    a push there may be one of our own copies."""
    host = canonical_host(registry_host)
    for i, task in enumerate(config.tasks):
        name = task.target.relative(repository)
        if canonical_host(task.target.registry) != host or not name:
            continue
        for j, mapping in enumerate(task.mappings):
            if mapping.rule.may_write(name):
                return f"tasks[{i}].mappings[{j}]"
    return None


def plan_push_event(config: Config, registry_host: str, repository: str, tag: str) -> list[SyncItem]:
    """Items for one pushed image: every task whose source is that registry and whose mapping matches.

    A push to a repository this config writes may be one of our own copies: its items that would
    write into the same registry again are dropped, or a push loop would copy our copies without end
    (`team-a` → `team-mirror/team-a` → `team-mirror/team-mirror/team-a` …). Items for other
    registries stay: a chain (upstream → ECR → a partner registry) is what such a config is for."""
    writer = written_by(config, registry_host, repository)
    items: list[SyncItem] = []
    for item in _push_items(config, registry_host, repository, tag):
        if writer is not None and canonical_host(item.target.registry) == canonical_host(registry_host):
            log.warning(
                "push of %s/%s:%s not copied to %s: %s writes that repository, so the push may be our "
                "own copy, and copying it into the same registry again would never end",
                registry_host,
                repository,
                tag,
                item.target,
                writer,
            )
            continue
        items.append(item)
    return items


def _referrers_item(
    task: Task, index: int, mapping: MappingConfig, repository: str, path: str, tag: str
) -> SyncItem:
    """A pushed signature, attestation or SBOM tag (`sha256-<hex>.sig`): the image it refers to,
    by digest on both sides, for its referrers only (`REFERRERS_ONLY`): the relay copies them if
    the target holds the image, and copies nothing if it does not (its tags may not be selected)."""
    subject = "sha256:" + tag.removeprefix("sha256-").split(".", 1)[0]
    return SyncItem(
        task=task.name,
        source=ImageRef(task.source.registry, repository, digest=subject),
        target=ImageRef(task.target.registry, path, digest=subject),
        platform="all",
        mapping=index,
        source_digest=subject,
        extra={"reason": "push-event", REFERRERS_ONLY: tag},
    )


def _push_items(config: Config, registry_host: str, repository: str, tag: str) -> list[SyncItem]:
    items: list[SyncItem] = []
    for task in config.tasks:
        name = task.source.relative(repository)
        if task.source.registry.lower() != registry_host.lower() or not name:
            continue
        for index, mapping in enumerate(task.mappings):
            rule = mapping.rule
            if not rule.selects(name):
                continue
            path = task.target.repository(rule.target(name).path)
            if is_referrer_tag(tag) and task.referrer_rule(index).enabled:
                items.append(_referrers_item(task, index, mapping, repository, path, tag))
                continue
            if tag not in _selected(rule.tags, tag):
                continue
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


def _selected(selector: TagSelector, tag: str) -> list[str]:
    return selector.select([tag] if selector.needs_listing else None)
