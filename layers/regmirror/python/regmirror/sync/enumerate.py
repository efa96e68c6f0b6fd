"""Stage 1: list (lister), match `from`, rewrite `to`, select tags → items, all `pending`.

Cheap (catalog and tag lists only), so guards (`max-images`, two mappings writing one target) fail the
plan before anything is copied. Also: the items of one pushed image (ECR push events).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from regmirror.config import Config, MappingConfig, Task
from regmirror.errors import ConfigError, ConfigProblem, PlanLimitError, RegmirrorError
from regmirror.model import ImageRef, SyncItem
from regmirror.registries.manifests import ManifestSource
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
                    names = list_names(task)
                mplan.listed = len(names)
                mplan.matched = [n for n in names if rule.selects(n)]
            else:
                mplan.matched = [rule.plain_path]
            _expand_mapping(task, mapping, mplan, source_client)
        except RegmirrorError as exc:
            mplan.error = str(exc)
            mplan.items.clear()
            log.error("task %s mapping %d (%s): %s", task.name, index, mapping.from_, exc)
        _log_mapping(mplan)
    return plan


def _expand_mapping(task: Task, mapping: MappingConfig, mplan: MappingPlan, source: ManifestSource) -> None:
    rule = mapping.rule
    mplan.tag_rule = rule.tags.explain()
    tag_lists = _list_tags(source, mplan.matched) if rule.tags.needs_listing else {}
    for repository in mplan.matched:
        rewrite = rule.target(repository)
        if not rewrite.matched:
            mplan.notes.append(f"{repository}: {rewrite.note}")
        for tag in rule.select_tags(tag_lists.get(repository)):
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


def plan_push_event(config: Config, registry_host: str, repository: str, tag: str) -> list[SyncItem]:
    """Items for one pushed image: every task whose source is that registry and whose mapping matches."""
    items: list[SyncItem] = []
    for task in config.tasks:
        if task.source.registry.lower() != registry_host.lower():
            continue
        for index, mapping in enumerate(task.mappings):
            rule = mapping.rule
            if not rule.selects(repository) or tag not in _selected(rule.tags, tag):
                continue
            path = rule.target(repository).path
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
