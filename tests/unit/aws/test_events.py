"""Parsing of the events the Lambda functions receive (shapes from the AWS documentation)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from regmirror.aws.config_source import _safe_extract
from regmirror.aws.events import PlanMessage, is_sqs_event, parse_push_event, parse_run_request

PUSH = {
    "version": "0",
    "id": "13cde686-328b-6117-af20-0e5566167482",
    "detail-type": "ECR Image Action",
    "source": "aws.ecr",
    "account": "123456789012",
    "time": "2019-11-16T01:54:34Z",
    "region": "us-west-2",
    "resources": [],
    "detail": {
        "result": "SUCCESS",
        "repository-name": "my-repository-name",
        "image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
        "action-type": "PUSH",
        "image-tag": "latest",
    },
}


def test_push_event_names_registry_repository_and_tag() -> None:
    push = parse_push_event(PUSH)
    assert push is not None
    assert push.registry_host == "123456789012.dkr.ecr.us-west-2.amazonaws.com"
    assert (push.repository, push.tag, push.event_id) == ("my-repository-name", "latest", PUSH["id"])


def test_china_regions_use_the_cn_domain() -> None:
    push = parse_push_event({**PUSH, "region": "cn-north-1"})
    assert push is not None and push.registry_host.endswith(".amazonaws.com.cn")


@pytest.mark.parametrize(
    "detail",
    [
        {**PUSH["detail"], "action-type": "DELETE"},  # type: ignore[dict-item]
        {**PUSH["detail"], "result": "FAILURE"},  # type: ignore[dict-item]
        {k: v for k, v in PUSH["detail"].items() if k != "image-tag"},  # type: ignore[union-attr]
    ],
)
def test_deletes_failures_and_untagged_pushes_are_ignored(detail: dict[str, str]) -> None:
    assert parse_push_event({**PUSH, "detail": detail}) is None


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({**PUSH, "source": "aws.s3"}, "not an ECR image action"),
        ({**PUSH, "account": "12"}, "invalid account/region"),
        ({**PUSH, "detail": {**PUSH["detail"], "repository-name": ""}}, "without repository-name"),  # type: ignore[dict-item]
    ],
)
def test_malformed_push_events_are_refused(event: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_push_event(event)


def test_scheduled_event_carries_its_task_and_id() -> None:
    request = parse_run_request({"detail-type": "Scheduled Event", "id": "e1", "detail": {"tasks": ["a"]}})
    assert (request.tasks, request.pattern, request.correlation_id, request.trigger) == (
        ("a",),
        None,
        "e1",
        "schedule",
    )


def test_bare_scheduled_event_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"without detail\.tasks"):
        parse_run_request({"detail-type": "Scheduled Event", "detail": {}})


def test_manual_runs_take_a_regex_or_names() -> None:
    assert parse_run_request({"run": "mirror-.*"}).pattern == "mirror-.*"
    assert parse_run_request({"tasks": ["a", "b"]}).tasks == ("a", "b")
    with pytest.raises(ValueError, match="expected a scheduled event"):
        parse_run_request({})
    with pytest.raises(ValueError, match="list of task names"):
        parse_run_request({"tasks": "a"})


def test_plan_message_round_trip_and_refusals() -> None:
    message = PlanMessage("t", "corr", "manual")
    assert PlanMessage.from_message(message.to_message()) == message
    for body in ('{"v": 2, "kind": "plan-task", "task": "t"}', '{"v": 1, "kind": "plan-task"}', "[]"):
        with pytest.raises(ValueError):
            PlanMessage.from_message(body)


def test_sqs_events_are_recognised_by_every_record() -> None:
    assert is_sqs_event({"Records": [{"eventSource": "aws:sqs"}]})
    assert not is_sqs_event({"Records": [{"eventSource": "aws:sqs"}, {"eventSource": "aws:sns"}]})
    assert not is_sqs_event({"Records": []})
    assert not is_sqs_event(PUSH)


def test_config_bundle_refuses_members_outside_the_folder(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.yaml", "tasks: []")
        archive.writestr("../escape.txt", "x")
    with pytest.raises(ValueError, match="points outside the bundle"):
        _safe_extract(buffer.getvalue(), tmp_path / "bundle")
    assert not (tmp_path / "escape.txt").exists()


def test_planning_messages_group_by_task_and_deduplicate_by_trigger() -> None:
    tick = PlanMessage("mirror-team", "evt-1", "schedule")
    group, dedup = tick.fifo_keys()
    assert group == "mirror-team"
    assert PlanMessage("mirror-team", "evt-1", "schedule").fifo_keys() == (group, dedup)  # the same tick
    assert PlanMessage("mirror-team", "evt-2", "schedule").fifo_keys()[1] != dedup  # the next tick
    assert PlanMessage("other", "evt-1", "schedule").fifo_keys()[0] == "other"
    # without a correlation id every message is its own (never dropped as a duplicate)
    assert PlanMessage("t").fifo_keys()[1] != PlanMessage("t").fifo_keys()[1]
    # a task name SQS does not take as a group id (spaces, non-ASCII, too long) is hashed, stably
    odd = PlanMessage("nightly mirror – ü", "e").fifo_keys()[0]
    assert (
        odd.startswith("task-")
        and len(odd) <= 128
        and odd == PlanMessage("nightly mirror – ü").fifo_keys()[0]
    )
    assert PlanMessage("x" * 200).fifo_keys()[0].startswith("task-")
    assert len(dedup) <= 128
