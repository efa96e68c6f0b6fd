"""A short rate-limit budget on AWS: the relay puts the message back with a delay instead of failing
it, so waiting for the budget never counts towards maxReceiveCount and never dead-letters an image."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from regmirror.aws.config_source import load_lambda_config
from regmirror.model import ImageRef, SyncItem
from regmirror.sync.registries import shared_registries

from tests.conftest import RegistryFactory
from tests.integration.aws_grants import RECORDER
from tests.integration.aws_harness import (
    AwsEnv,
    QueueDriver,
    create_queue_pair,
    emf_metrics,
    load_handler,
    log_to_stdout,
    queue_bodies,
    upload_config,
)
from tests.testbed import catalog, push_image, write_config


def test_short_budget_defers_the_message_with_a_delay(
    aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = registry_factory(), registry_factory()
    push_image(source, "team/a", "1.0")
    config = write_config(
        tmp_path,
        f"""
        tasks:
          - name: open
            source: {{registry: "{source.host}", insecure: true, rate-limit-floor: 10}}
            target: {{registry: "{target.host}", insecure: true}}
            mappings: [{{from: team/a, to: mirror/team/a}}]
        """,
    )
    upload_config(config, aws.monkeypatch)
    copy_queue, dlq = create_queue_pair("copy", max_receive_count=1)
    relay = load_handler("relay", aws.monkeypatch)
    log_to_stdout(relay)
    # Docker Hub style headers seen on an earlier answer: 2 pulls left of 100 per 6 h, floor 10.
    budgets = shared_registries(load_lambda_config(), max_wait=0).rate_limits  # what the relay will use
    budgets.observe(source.host, 200, {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "2;w=21600"})
    message = SyncItem(
        "open", ImageRef(source.host, "team/a", "1.0"), ImageRef(target.host, "mirror/team/a", "1.0")
    )
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=copy_queue, MessageBody=message.to_message())

    invocation = QueueDriver(copy_queue, relay.lambda_handler, "regmirror-relay").poll_once()
    assert invocation is not None and invocation.failed == []  # not a failure: the original is done
    attributes = sqs.get_queue_attributes(QueueUrl=copy_queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"  # the same image, back later
    assert queue_bodies(dlq) == []
    assert catalog(target) == []  # nothing was pulled from the short source
    output = capsys.readouterr().out
    assert emf_metrics(output)["ImagesDeferred"] == 1
    assert "ImagesFailed" not in emf_metrics(output)
    # the deferral is a send to its own queue: a call the relay's role must be granted (checked
    # against the synthesized role when the test ends, tests/integration/aws_grants.py)
    assert "sqs:SendMessage" in RECORDER.calls["relay"]
