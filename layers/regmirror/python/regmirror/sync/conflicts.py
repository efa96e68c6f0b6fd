"""One target reference, one source: a plan in which two different sources (or one source in two
platform selections) would write one target reference is refused before anything is copied.

Otherwise the last writer wins, and every later run "copies" both again (the target flaps). The check
runs on every plan (within a mapping, across mappings, across tasks) and, in `validate`, on what is known
without listing: plain `from` mappings with only verbatim tags. The same image selected twice (two
mappings, one source, one platform) is no conflict: it is copied once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from regmirror.config import Config, Task
from regmirror.errors import ConfigError, ConfigProblem
from regmirror.sync.enumerate import make_item
from regmirror.sync.plan import MappingPlan, PlannedItem, TaskPlan


@dataclass(frozen=True, slots=True)
class _Writer:
    source: str  # the source reference
    platform: str
    task: str
    mapping: int

    @property
    def content(self) -> tuple[str, str]:
        return self.source, self.platform

    def where(self) -> str:
        return f"task {self.task!r} mapping {self.mapping}"


def check_duplicate_targets(config: Config, plans: Iterable[TaskPlan]) -> None:
    """ConfigError (one problem per conflicting item, at its mapping) when two sources share a target;
    drops the second copy of an image selected twice."""
    seen: dict[str, _Writer] = {}
    problems: list[ConfigProblem] = []
    for tplan in plans:
        for mplan in tplan.mappings:
            mplan.items[:] = [p for p in mplan.items if _keep(config, seen, mplan, p, problems)]
    if problems:
        raise ConfigError(problems)


def _keep(
    config: Config,
    seen: dict[str, _Writer],
    mplan: MappingPlan,
    planned: PlannedItem,
    problems: list[ConfigProblem],
) -> bool:
    item = planned.item
    writer = _Writer(str(item.source), item.platform, mplan.task, mplan.index)
    first = seen.setdefault(item.key(), writer)
    if first is writer:
        return True
    if first.content != writer.content:
        problems.append(_problem(config, mplan, item.key(), writer, first))
    return False  # a conflict is refused; the same image again is copied once


def _problem(config: Config, mplan: MappingPlan, key: str, writer: _Writer, first: _Writer) -> ConfigProblem:
    index = next(i for i, t in enumerate(config.tasks) if t.name == mplan.task)
    task = config.tasks[index]
    what = "" if first.platform == writer.platform else f" ({writer.platform} vs {first.platform})"
    where = "this mapping" if (first.task, first.mapping) == (writer.task, writer.mapping) else first.where()
    return ConfigProblem(
        config.source_file,
        mplan.line or task.line,
        0,
        f"tasks[{index}].mappings[{mplan.index}]",
        f"writes {key} from {writer.source}, which {where} writes from {first.source}{what}: "
        "two sources for one target (the last copy would win)",
    )


def static_plan(task: Task) -> TaskPlan:
    """The items known without listing: plain `from` mappings whose tags are all verbatim."""
    plan = TaskPlan(task=task.name)
    for index, mapping in enumerate(task.mappings):
        mplan = MappingPlan(task.name, index, mapping.from_, mapping.to, line=mapping.line)
        rule = mapping.rule
        if not rule.needs_listing and not rule.tags.needs_listing:
            path = rule.target(rule.plain_path).path
            for tag in rule.select_tags(None):
                mplan.items.append(PlannedItem(make_item(task, index, mapping, rule.plain_path, path, tag)))
        plan.mappings.append(mplan)
    return plan


def check_static_targets(config: Config, tasks: Iterable[Task]) -> None:
    """`check_duplicate_targets` on what `validate` knows without a registry."""
    check_duplicate_targets(config, [static_plan(task) for task in tasks])
