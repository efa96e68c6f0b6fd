"""What the AWS-mode integration tests share: moto in server mode on 127.0.0.1, the Lambda handlers
loaded from functions/, Lambda-shaped events (scheduled, SQS, ECR push) and a small SQS driver that
plays the Lambda event source mapping: receive a batch, invoke the handler, delete what succeeded,
let failures come back (and move to the dead-letter queue after maxReceiveCount, as moto does).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer
from regmirror.aws import names
from regmirror.state import reset_process_state

from infra.config_bundle import stage_config_bundle
from tests.integration.aws_grants import RECORDER, recorded, ungranted
from tests.integration.aws_iam import enforce_iam, release_iam
from tests.testbed.registry import free_port

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's account for any fake credentials
REGION = "eu-west-1"
ECR_HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
SERVICES = {
    "lister": names.LISTER_SERVICE,
    "relay": names.RELAY_SERVICE,
    "push": names.PUSH_SERVICE,
    "task": names.TASK_SERVICE,
}


class MotoAws:
    """One moto server (all services) on a free loopback port; `reset()` empties it between tests."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def apply_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        env = {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "POWERTOOLS_METRICS_NAMESPACE": names.DEFAULT_METRICS_NAMESPACE,
            names.ENV_RETRY_BASE_SECONDS: "1",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=30).raise_for_status()

    def stop(self) -> None:
        self.server.stop()


def reset_process_caches() -> None:
    """Config, secrets, ECR and lister caches live per process (per Lambda container)."""
    from aws_lambda_powertools.utilities.parameters import base as parameters_base

    parameters_base.DEFAULT_PROVIDERS.clear()
    parameters_base.clear_caches()
    reset_process_state()


def load_handler(function: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """functions/<function>/handler.py as a fresh module, with that function's Powertools service name."""
    module = _load(function, REPO / "functions" / function / "handler.py", monkeypatch)
    module.lambda_handler = recorded(function, module.lambda_handler)  # its AWS calls vs its grants
    return module


def load_task(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """functions/relay/task.py (the relay's Fargate entry point) as a fresh module; `run(environ)`
    plays the container ECS starts, its AWS calls made as the task role."""
    module = _load("task", REPO / "functions" / "relay" / "task.py", monkeypatch)
    module.run = recorded("task", module.run)
    return module


def _load(function: str, path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", SERVICES[function])
    name = f"regmirror_function_{function}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    # Powertools reuses the handler of an earlier logger of the same name, bound to an earlier
    # test's (possibly closed) stdout.
    log_to_stdout(module)
    return module


def log_to_stdout(*handlers: ModuleType) -> None:
    """Point the handlers' Powertools log handler at the current sys.stdout (pytest's capsys during a
    test; Powertools binds the stream when the logger is first created)."""
    for module in handlers:
        handler = module.logger.registered_handler
        with handler.lock:  # not setStream(): it flushes the old stream, which pytest may have closed
            handler.stream = sys.stdout


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and the handlers read."""

    function_name: str
    seconds: float = 900.0
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# ------------------------------------------------------------------------------------------ events


def scheduled_event(task: str, event_id: str = "sched-0001") -> dict[str, Any]:
    """What the schedule rule's target input delivers (infra/constructs/schedule_lister.py)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-01-01T03:00:00Z",
        "region": REGION,
        "detail": {"tasks": [task]},
    }


def ecr_push_event(repository: str, tag: str | None, digest: str, action: str = "PUSH") -> dict[str, Any]:
    """An ECR image action event as EventBridge delivers it (AWS ECR user guide, 'Event for a completed
    image push')."""
    detail = {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": action,
    }
    if tag is not None:
        detail["image-tag"] = tag
    return {
        "version": "0",
        "id": f"ecr-{uuid.uuid4()}",
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": ACCOUNT,
        "time": "2026-01-01T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def queue_arn(queue_url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_url.rsplit('/', 1)[-1]}"


def sqs_record(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    """One record of a Lambda SQS event, as the event source mapping builds it from a received message."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", ACCOUNT),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(queue_url),
        "awsRegion": REGION,
    }


# ------------------------------------------------------------------------------------------ SQS


def create_queue_pair(
    name: str, max_receive_count: int, visibility: int = 30, *, fifo: bool = False
) -> tuple[str, str]:
    """A queue and its dead-letter queue; `fifo` makes both FIFO (`<name>.fifo`), as the stack's
    planning queue is."""
    sqs = boto3.client("sqs")
    suffix, kind = (".fifo", {"FifoQueue": "true"}) if fifo else ("", {})
    dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=kind)["QueueUrl"]
    redrive = {"deadLetterTargetArn": queue_arn(dlq), "maxReceiveCount": str(max_receive_count)}
    queue = sqs.create_queue(
        QueueName=f"{name}{suffix}",
        Attributes={**kind, "VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    return queue, dlq


def queue_bodies(queue_url: str, *, at_least: int = 0, timeout: float = 30.0) -> list[str]:
    """Receive (and delete) everything visible on a queue; with `at_least`, keep looking until that many
    came (a message redriven to a dead-letter queue may stay invisible there for a moment)."""
    sqs = boto3.client("sqs")
    bodies: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages and (len(bodies) >= at_least or time.monotonic() > deadline):
            return bodies
        if not messages:
            time.sleep(0.25)
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def queue_depth(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


@dataclass
class Invocation:
    bodies: list[str]
    failed: list[str]  # bodies reported in batchItemFailures


@dataclass
class QueueDriver:
    """Plays the SQS event source mapping for one queue and one handler."""

    queue_url: str
    handler: Callable[[dict[str, Any], Any], Any]
    function_name: str
    batch_size: int = 10
    context_seconds: float = 900.0
    invocations: list[Invocation] = field(default_factory=list)

    def poll_once(self) -> Invocation | None:
        sqs = boto3.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return None
        event = {"Records": [sqs_record(m, self.queue_url) for m in messages]}
        response = self.handler(event, LambdaContext(self.function_name, self.context_seconds))
        failed_ids = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        if done:
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        invocation = Invocation(
            [m["Body"] for m in messages], [m["Body"] for m in messages if m["MessageId"] in failed_ids]
        )
        self.invocations.append(invocation)
        return invocation

    def drain(self, timeout: float = 120.0, between: Callable[[int], None] | None = None) -> None:
        """Invoke until the queue is empty (failures included: they come back, then dead-letter)."""
        deadline = time.monotonic() + timeout
        rounds = 0
        while time.monotonic() < deadline:
            if self.poll_once() is not None:
                rounds += 1
                if between is not None:
                    between(rounds)
                continue
            if queue_depth(self.queue_url) == 0:
                return
            time.sleep(0.25)  # failed messages are invisible until their backoff ends
        raise AssertionError(f"{self.queue_url} not drained within {timeout} s")


# ------------------------------------------------------------------------------------------ config


def upload_config(config_path: Path, monkeypatch: pytest.MonkeyPatch, bucket: str = "cdk-assets") -> str:
    """Upload the config bundle as the stack's S3 asset would (a zip keyed by content hash) and point
    the functions' environment at it."""
    folder = stage_config_bundle(config_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, str(path.relative_to(folder)))
    data = buffer.getvalue()
    key = hashlib.sha256(data).hexdigest() + ".zip"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    monkeypatch.setenv(names.ENV_CONFIG_BUCKET, bucket)
    monkeypatch.setenv(names.ENV_CONFIG_KEY, key)
    monkeypatch.setenv(names.ENV_CONFIG_NAME, config_path.name)
    monkeypatch.setattr("tempfile.tempdir", str(config_path.parent / "lambda-tmp"))
    (config_path.parent / "lambda-tmp").mkdir(exist_ok=True)
    return key


# ------------------------------------------------------------------------------------------ metrics


def emf_metrics(output: str) -> dict[str, float]:
    """Sum of every metric in the CloudWatch embedded-metric-format lines Powertools printed."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob.get(metric["Name"])
                values = value if isinstance(value, list) else [value]
                totals[metric["Name"]] = totals.get(metric["Name"], 0.0) + sum(float(v) for v in values)
    return totals


@dataclass
class AwsEnv:
    moto: MotoAws
    monkeypatch: pytest.MonkeyPatch


def aws_environment(moto: MotoAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    """A clean moto with IAM enforced: each handler calls AWS as its synthesized role (aws_iam.py)."""
    moto.apply_env(monkeypatch)
    release_iam(moto.url)
    moto.reset()
    reset_process_caches()
    RECORDER.take()
    enforce_iam(moto.url, monkeypatch)
    try:
        yield AwsEnv(moto, monkeypatch)
    finally:
        release_iam(moto.url)
    reset_process_caches()
    missing = ungranted(RECORDER.take())
    assert not missing, f"AWS calls the stack grants no permission for: {missing}"
