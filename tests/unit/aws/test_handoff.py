"""The hand-off decision and the RunTask request (the ECS client is a recorder of what it is asked)."""

from __future__ import annotations

from typing import Any

import pytest
from regmirror.aws import names
from regmirror.aws.environment import BadEnvironment, RelayEnvironment
from regmirror.aws.handoff import MAX_TASK_INPUT_BYTES, Handoff, HandoffError, ecs_task_starter


class RecordingEcs:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return self.answer


def starter(ecs: RecordingEcs) -> Any:
    return ecs_task_starter(
        ecs,
        cluster="c",
        task_definition="td:3",
        container="relay",
        subnets=["s1", "s2"],
        security_groups=["g"],
    )


def test_only_known_sizes_above_the_limit_are_too_big() -> None:
    handoff = Handoff(size_limit=100, timeout_reserve=60, start=lambda body: "t")
    assert handoff.too_big(101) and not handoff.too_big(100) and not handoff.too_big(None)


def test_skopeo_gets_the_time_left_less_the_reserve_never_more_than_configured() -> None:
    handoff = Handoff(size_limit=1, timeout_reserve=60, start=lambda body: "t")
    assert handoff.copy_seconds(remaining=900, configured=1800) == 840
    assert handoff.copy_seconds(remaining=900, configured=300) == 300
    assert handoff.copy_seconds(remaining=30, configured=300) == 1.0  # out of time: fail fast, hand off


def test_the_task_gets_the_message_in_its_container_environment_on_fargate_with_a_public_ip() -> None:
    ecs = RecordingEcs({"tasks": [{"taskArn": "arn:aws:ecs:eu-west-1:1:task/c/abc123"}], "failures": []})
    assert starter(ecs)('{"v":1}') == "abc123"
    (call,) = ecs.calls
    assert (call["cluster"], call["taskDefinition"], call["launchType"]) == ("c", "td:3", "FARGATE")
    network = call["networkConfiguration"]["awsvpcConfiguration"]
    assert network == {"subnets": ["s1", "s2"], "securityGroups": ["g"], "assignPublicIp": "ENABLED"}
    (override,) = call["overrides"]["containerOverrides"]
    assert override == {
        "name": "relay",
        "environment": [{"name": names.ENV_COPY_MESSAGE, "value": '{"v":1}'}],
    }


def test_no_task_started_is_an_error_naming_ecs_reasons() -> None:
    ecs = RecordingEcs({"tasks": [], "failures": [{"reason": "RESOURCE:MEMORY"}]})
    with pytest.raises(HandoffError, match="RESOURCE:MEMORY"):
        starter(ecs)("{}")


def test_a_message_too_large_for_the_overrides_is_refused_before_calling_ecs() -> None:
    ecs = RecordingEcs({"tasks": [{"taskArn": "x/y"}]})
    with pytest.raises(HandoffError, match="overrides limit"):
        starter(ecs)("x" * (MAX_TASK_INPUT_BYTES + 1))
    assert ecs.calls == []


def test_a_cluster_without_task_definition_or_subnets_is_a_clear_environment_error() -> None:
    with pytest.raises(BadEnvironment, match=names.ENV_FARGATE_SUBNETS):
        RelayEnvironment.from_env({names.ENV_FARGATE_CLUSTER: "c", names.ENV_FARGATE_TASK_DEFINITION: "td"})
    environment = RelayEnvironment.from_env(
        {
            names.ENV_FARGATE_CLUSTER: "c",
            names.ENV_FARGATE_TASK_DEFINITION: "td",
            names.ENV_FARGATE_CONTAINER: "relay",
            names.ENV_FARGATE_SUBNETS: "s1,s2",
        }
    )
    assert environment.subnets == ["s1", "s2"] and environment.security_groups == []
