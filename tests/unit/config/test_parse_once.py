"""A mapping's `from`, `to` and `tags` are parsed exactly once per config load: loading parses them,
and planning, push events, the CDK facts and the relay only ask the parsed `Mapping`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from regmirror.config import parse_config
from regmirror.rules import tags as tag_rules
from regmirror.rules.match import FromMatcher, ToRewriter
from regmirror.sync.enumerate import enumerate_task, plan_push_event

from infra.config_facts import read_config_facts

CONFIG = """
tasks:
  - name: t
    source: {registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com}
    target: {registry: 210987654321.dkr.ecr.eu-west-1.amazonaws.com}
    mappings:
      - from: regex:team/.*
        to: regex:team/,mirror/
        tags: ["semver: >=1.0.0", "keep: latest 2"]
      - from: base/busybox
        to: library/busybox
        tags: ["1.36"]
      - from: regex:other/.*
"""


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts every parse of a `from`, a `to` and a tags entry, wherever it is asked for."""
    counts: Counter[str] = Counter()

    def counted(name: str, parse: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return parse(*args, **kwargs)

        return run

    monkeypatch.setattr(FromMatcher, "parse", counted("from", FromMatcher.parse))
    monkeypatch.setattr(ToRewriter, "parse", counted("to", ToRewriter.parse))
    monkeypatch.setattr(tag_rules, "_read_entry", counted("tag entry", tag_rules._read_entry))
    return counts


class Tags:
    """A source with two repositories' tags (no network)."""

    def list_tags(self, repository: str) -> list[str]:
        return ["0.9.0", "1.0.0", "1.1.0", "1.2.0", "latest"]

    def head_manifest(self, repository: str, reference: str) -> None:
        return None


def test_loading_parses_each_part_once_and_nothing_parses_again(parses: Counter[str], tmp_path: Path) -> None:
    path = tmp_path / "regmirror.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    facts = read_config_facts(path)  # the CDK side loads the config and reads its facts from the Mappings
    assert facts.ecr
    config = facts.config
    assert parses == {"from": 3, "to": 2, "tag entry": 3}

    task = config.tasks[0]
    plan = enumerate_task(task, lambda _task: ["team/a", "team/b", "other/c", "base/busybox"], Tags())
    items = [(str(p.item.source), str(p.item.target)) for p in plan.items]
    assert ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/a:1.2.0",
            "210987654321.dkr.ecr.eu-west-1.amazonaws.com/mirror/a:1.2.0") in items  # fmt: skip
    assert len(items) == 2 * 2 + 1 + 5  # two latest versions of team/*, busybox:1.36, every tag of other/c
    pushed = plan_push_event(config, task.source.registry, "team/a", "1.1.0")
    assert [str(i.target) for i in pushed] == ["210987654321.dkr.ecr.eu-west-1.amazonaws.com/mirror/a:1.1.0"]
    assert parses == {"from": 3, "to": 2, "tag entry": 3}  # unchanged


def test_a_config_loaded_twice_is_parsed_twice(parses: Counter[str]) -> None:
    parse_config(CONFIG)
    parse_config(CONFIG)
    assert parses == {"from": 6, "to": 4, "tag entry": 6}
