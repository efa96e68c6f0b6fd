"""Failures on the copy queue: a poison message and an item no retry can fix end in the dead-letter
queue after maxReceiveCount deliveries, without holding up the images around them; an item that
fails until its secret exists is retried (backoff) and then copied."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from regmirror.model import ImageRef, SyncItem

from tests.conftest import RegistryFactory
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
from tests.testbed import list_tags, manifest_digest, push_image, write_config


def item(task: str, source: str, target: str, repository: str, tag: str) -> SyncItem:
    return SyncItem(task, ImageRef(source, repository, tag), ImageRef(target, f"mirror/{repository}", tag))


def test_poison_and_hopeless_messages_dead_letter_while_the_rest_is_copied(
    aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target, locked = registry_factory(), registry_factory(), registry_factory(auth="htpasswd")
    digests = {name: push_image(source, name, "1.0") for name in ("team/a", "team/b", "team/c")}
    config = write_config(
        tmp_path,
        f"""
        tasks:
          - name: open
            source: {{registry: "{source.host}", insecure: true}}
            target: {{registry: "{target.host}", insecure: true}}
            mappings: [{{from: regex:team/.*, to: mirror}}]
          - name: locked
            source: {{registry: "{source.host}", insecure: true}}
            target: {{registry: "{locked.host}", insecure: true, auth: "secretsmanager:regmirror/test/late"}}
            mappings: [{{from: team/c, to: mirror/team/c}}]
        """,
    )
    upload_config(config, aws.monkeypatch)
    copy_queue, dlq = create_queue_pair("copy", max_receive_count=2)
    relay = load_handler("relay", aws.monkeypatch)
    log_to_stdout(relay)

    poison = "{this is not a sync item"
    hopeless = item("gone-task", source.host, target.host, "team/a", "1.0").to_message()  # task not in config
    messages = [
        item("open", source.host, target.host, "team/a", "1.0").to_message(),
        poison,
        item("locked", source.host, locked.host, "team/c", "1.0").to_message(),  # secret missing, at first
        hopeless,
        item("open", source.host, target.host, "team/b", "1.0").to_message(),
    ]
    sqs = boto3.client("sqs")
    sqs.send_message_batch(
        QueueUrl=copy_queue, Entries=[{"Id": str(i), "MessageBody": m} for i, m in enumerate(messages)]
    )

    driver = QueueDriver(copy_queue, relay.lambda_handler, "regmirror-relay", batch_size=10)
    first = driver.poll_once()
    assert first is not None and sorted(first.bodies) == sorted(messages)
    assert sorted(first.failed) == sorted([poison, messages[2], hopeless])
    # Not held up by the failures in their batch:
    assert manifest_digest(target, "mirror/team/a", "1.0") == digests["team/a"]
    assert manifest_digest(target, "mirror/team/b", "1.0") == digests["team/b"]

    secret = json.dumps({"username": locked.username, "password": locked.password})
    boto3.client("secretsmanager").create_secret(Name="regmirror/test/late", SecretString=secret)
    driver.drain(timeout=90)

    assert sorted(queue_bodies(dlq, at_least=2)) == sorted([poison, hopeless])
    assert manifest_digest(locked, "mirror/team/c", "1.0") == digests["team/c"]
    assert list_tags(target, "mirror/team/a") == ["1.0"]
    output = capsys.readouterr().out
    metrics = emf_metrics(output)
    assert metrics["ImagesCopied"] == 3
    assert metrics["ImagesFailed"] == 5  # poison ×2, hopeless ×2, locked ×1 (then copied)
    assert locked.password not in output  # the secret never reaches a log line
    failures = [json.loads(line) for line in output.splitlines() if '"level":"ERROR"' in line]
    assert any("gone-task" in line.get("exception", "") + line.get("message", "") for line in failures)
