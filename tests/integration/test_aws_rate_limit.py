"""A short rate-limit budget on AWS: the relay puts the message back with a delay instead of failing
it, so waiting for the budget never counts towards maxReceiveCount and never dead-letters an image."""

from __future__ import annotations

from dataclasses import dataclass
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
    Invocation,
    QueueDriver,
    create_queue_pair,
    emf_metrics,
    load_handler,
    log_to_stdout,
    queue_bodies,
    upload_config,
)
from tests.integration.aws_iam import revoke
from tests.testbed import catalog, push_image, write_config
from tests.testbed.registry import RegistryServer


def deferred_scenario(aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path) -> Deferral:
    """A relay invoked for an image whose source has 2 pulls left of 100 with a floor of 10."""
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
    assert invocation is not None
    delayed = sqs.get_queue_attributes(QueueUrl=copy_queue, AttributeNames=["All"])["Attributes"]
    return Deferral(invocation, int(delayed["ApproximateNumberOfMessagesDelayed"]), dlq, target)


@dataclass(frozen=True)
class Deferral:
    invocation: Invocation
    delayed: int
    dlq: str
    target: RegistryServer


def test_short_budget_defers_the_message_with_a_delay(
    aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deferral = deferred_scenario(aws, registry_factory, tmp_path)
    assert deferral.invocation.failed == []  # not a failure: the original is done
    assert deferral.delayed == 1  # the same image, back later
    assert queue_bodies(deferral.dlq) == []
    assert catalog(deferral.target) == []  # nothing was pulled from the short source
    output = capsys.readouterr().out
    assert emf_metrics(output)["ImagesDeferred"] == 1
    assert "ImagesFailed" not in emf_metrics(output)
    # the deferral is a send to its own queue, made as the relay's synthesized role (moto enforces
    # IAM here, tests/integration/aws_iam.py): the role must grant it
    assert "sqs:SendMessage" in RECORDER.calls["relay"]


def test_without_the_send_grant_the_deferral_is_denied_and_the_image_fails(
    aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The enforcement is real: the relay's role as it was before the grant was added (no
    sqs:SendMessage) makes the same deferral AccessDenied, and the image fails instead of waiting."""
    revoke("relay", "sqs:SendMessage")
    deferral = deferred_scenario(aws, registry_factory, tmp_path)
    assert len(deferral.invocation.failed) == 1
    assert deferral.delayed == 0
    output = capsys.readouterr().out
    assert "AccessDenied" in output
    assert "ImagesDeferred" not in emf_metrics(output)
