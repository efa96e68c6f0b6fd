"""Push events for repositories the config itself writes: the copies into the same registry are
dropped (a push loop), copies into other registries stay (a chain); and what a mapping may write."""

from __future__ import annotations

import pytest
from regmirror.config import parse_config
from regmirror.rules.mapping import Mapping
from regmirror.sync.enumerate import plan_push_event, written_by

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
LOOP = f"""\
tasks:
  - name: mirror
    source: {{registry: {ECR}}}
    target: {{registry: {ECR}}}
    mappings: [{{from: "regex:team.*", to: team-mirror}}]
"""
CHAIN = f"""\
tasks:
  - name: in
    source: {{registry: upstream.example.com}}
    target: {{registry: {ECR}}}
    mappings: [{{from: "regex:team/.*", to: mirror}}]
  - name: out
    source: {{registry: {ECR}}}
    target: {{registry: partner.example.com}}
    mappings: [{{from: "regex:mirror/.*", to: partner}}]
"""


def test_the_issue_loop_stops_after_the_first_copy(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config(LOOP)
    (first,) = plan_push_event(config, ECR, "team-a", "1.0")  # a real push: copied once
    assert first.target.repository == "team-mirror/team-a"
    with caplog.at_level("WARNING", "regmirror.plan"):
        assert plan_push_event(config, ECR, "team-mirror/team-a", "1.0") == []  # our own copy
    assert "tasks[0].mappings[0] writes that repository" in caplog.text
    assert written_by(config, ECR.upper(), "team-mirror/team-a") == "tasks[0].mappings[0]"
    assert written_by(config, ECR, "team-a") is None


def test_a_chain_into_another_registry_follows_our_own_copies() -> None:
    config = parse_config(CHAIN)
    assert written_by(config, ECR, "mirror/team/app") == "tasks[0].mappings[0]"
    (onward,) = plan_push_event(config, ECR, "mirror/team/app", "1.0")
    assert str(onward.target) == "partner.example.com/partner/mirror/team/app:1.0"


@pytest.mark.parametrize(
    ("from_", "to", "writes", "never"),
    [
        (
            "regex:team.*",
            "team-mirror",
            ["team-mirror/team-a"],
            ["team-a", "team-mirror/other", "team-mirror"],
        ),
        ("team/app", "copies/app", ["copies/app"], ["team/app", "copies/app/x"]),
        ("team/app", None, ["team/app"], ["team/other"]),
        ("regex:team/.*", "regex:^/team/(.*),/copied/$1", ["copied/x", "team/x"], ["other/x"]),
    ],
)
def test_what_a_mapping_may_write(from_: str, to: str | None, writes: list[str], never: list[str]) -> None:
    rule = Mapping.parse(from_, to, None)
    assert [p for p in writes if rule.may_write(p)] == writes
    assert [p for p in never if rule.may_write(p)] == []
