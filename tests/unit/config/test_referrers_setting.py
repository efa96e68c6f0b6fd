"""`referrers:` on a task and a mapping: the mapping's setting wins; the default is on."""

from __future__ import annotations

from regmirror.config import parse_config
from regmirror.rules.referrers import ALL_REFERRERS, NO_REFERRERS, ReferrerRule

CONFIG = """
tasks:
  - name: t
    source: {registry: a.example}
    target: {registry: b.example}
    %s
    mappings:
      - from: x
      - from: y
        referrers: false
      - from: z
        referrers: {artifact-types: [application/spdx+json, application/vnd.in-toto+json]}
      - from: w
        referrers: true
"""


def rules(task_setting: str) -> list[ReferrerRule]:
    task = parse_config(CONFIG % task_setting).tasks[0]
    return [task.referrer_rule(i) for i in range(4)]


def test_default_on_and_the_mapping_wins() -> None:
    typed = ReferrerRule(artifact_types=frozenset({"application/spdx+json", "application/vnd.in-toto+json"}))
    assert rules("") == [ALL_REFERRERS, NO_REFERRERS, typed, ALL_REFERRERS]
    assert rules("referrers: false") == [NO_REFERRERS, NO_REFERRERS, typed, ALL_REFERRERS]
    only_sboms = ReferrerRule(artifact_types=frozenset({"application/spdx+json"}))
    assert rules("referrers: {artifact-types: [application/spdx+json]}")[0] == only_sboms


def test_an_out_of_range_mapping_gets_the_task_setting() -> None:
    task = parse_config(CONFIG % "referrers: false").tasks[0]
    assert task.referrer_rule(99) == NO_REFERRERS
