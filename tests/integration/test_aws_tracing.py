"""X-Ray traces of the relay: the work appears as phases (check, copy), not as one subsegment per
registry request. Tracing is on as in Lambda (task root, trace header), the X-Ray SDK's emitter is
replaced by one that keeps what would be sent to the daemon."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from regmirror.model import ImageRef, SyncItem

from tests.conftest import RegistryFactory
from tests.integration.aws_harness import AwsEnv, QueueDriver, create_queue_pair, load_handler, upload_config
from tests.testbed import manifest_digest, push_image, write_config


class KeptEmitter:
    """What the X-Ray SDK would send to the daemon, kept as JSON."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(json.loads(entity.serialize()))

    def set_daemon_address(self, _address: str) -> None:
        return None

    ip, port = "127.0.0.1", 2000


def names(entity: dict[str, Any]) -> list[str]:
    return [entity.get("name", "")] + [n for s in entity.get("subsegments", []) for n in names(s)]


@pytest.fixture
def traced(aws: AwsEnv, tmp_path: Path) -> Iterator[KeptEmitter]:
    from aws_lambda_powertools import Tracer
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.lambda_launcher import LambdaContext

    emitter = KeptEmitter()
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    for key, value in {
        "POWERTOOLS_TRACE_DISABLED": "false",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "_X_AMZN_TRACE_ID": trace,
        "AWS_LAMBDA_FUNCTION_NAME": "regmirror-relay",
    }.items():
        aws.monkeypatch.setenv(key, value)
    # the recorder picked its context when aws_xray_sdk was first imported (outside Lambda here)
    # and a Tracer made with tracing off (any earlier test's handler) turned the SDK off process-wide
    # (Powertools keeps a Tracer's "disabled" in class-level config, sticky: reset it too)
    previous = (xray_recorder.context, xray_recorder.emitter, global_sdk_config.sdk_enabled())
    Tracer._reset_config()
    global_sdk_config.set_sdk_enabled(True)
    xray_recorder.configure(emitter=emitter, sampling=False, context=LambdaContext())
    yield emitter
    xray_recorder.configure(context=previous[0], emitter=previous[1])
    global_sdk_config.set_sdk_enabled(previous[2])
    Tracer._reset_config()


def test_a_relay_trace_shows_the_check_and_copy_phases_and_no_registry_request(
    aws: AwsEnv, traced: KeptEmitter, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    source, target = registry_factory(), registry_factory()
    digest = push_image(source, "team/app", "1.0", platforms=["linux/amd64", "linux/arm64"])
    config = write_config(
        tmp_path,
        f"""
        tasks:
          - name: t
            source: {{registry: "{source.host}", insecure: true}}
            target: {{registry: "{target.host}", insecure: true}}
            mappings: [{{from: team/app}}]
        """,
    )
    upload_config(config, aws.monkeypatch)
    copy_queue, _dlq = create_queue_pair("copy", max_receive_count=2)
    item = SyncItem("t", ImageRef(source.host, "team/app", "1.0"), ImageRef(target.host, "team/app", "1.0"))
    boto3.client("sqs").send_message(QueueUrl=copy_queue, MessageBody=item.to_message())
    relay = load_handler("relay", aws.monkeypatch)
    QueueDriver(copy_queue, relay.lambda_handler, "regmirror-relay").drain()
    assert manifest_digest(target, "team/app", "1.0") == digest

    traced_names = [n for entity in traced.sent for n in names(entity)]
    assert {"## check", "## copy", "## lambda_handler"} <= set(traced_names)
    # the check and the copy's size lookup sent several registry requests: none is a subsegment
    assert not [n for n in traced_names if source.host in n or target.host in n or n.startswith("127.0.0.1")]
    assert "s3" in traced_names  # AWS SDK calls are still traced (the config's GetObject)
