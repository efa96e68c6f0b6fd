"""AWS mode end to end on moto (S3, SQS, Secrets Manager, ECR API) and real registries + skopeo:
scheduled event → lister → planning queue → lister plans the task → copy queue → relay → target."""

from __future__ import annotations

import json

import boto3
import pytest
from regmirror.model import SyncItem

from tests.conftest import RegistryFactory
from tests.integration.aws_harness import (
    AwsEnv,
    LambdaContext,
    QueueDriver,
    create_queue_pair,
    emf_metrics,
    load_handler,
    log_to_stdout,
    queue_bodies,
    scheduled_event,
    upload_config,
)
from tests.testbed import RegistryServer, list_tags, manifest_digest, push_image, write_config

MANIFEST_PUTS = r"/v2/.+/manifests/.+"
LISTER = 'lister: {{type: ecr, baseUrl: "{moto}"}}'  # DescribeRepositories on moto's ECR API


class Mirror:
    """Source (htpasswd, password in Secrets Manager) with three team repositories and one other;
    the target already holds team/tool:1.0 with the same digest."""

    def __init__(self, aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: object) -> None:
        self.source: RegistryServer = registry_factory(auth="htpasswd")
        self.target: RegistryServer = registry_factory()
        self.digests = {
            "team/app:1.0": push_image(self.source, "team/app", "1.0"),
            "team/app:2.0": push_image(
                self.source, "team/app", "2.0", platforms=["linux/amd64", "linux/arm64"]
            ),
            "team/tool:1.0": push_image(self.source, "team/tool", "1.0"),
            "other/x:1.0": push_image(self.source, "other/x", "1.0"),
        }
        push_image(self.target, "mirror/team/tool", "1.0", seed="team/tool:1.0")
        secret = json.dumps({"username": self.source.username, "password": self.source.password})
        boto3.client("secretsmanager").create_secret(Name="regmirror/test/source", SecretString=secret)
        ecr_api = boto3.client("ecr")  # the source's lister: DescribeRepositories (moto's ECR API)
        for name in ("team/app", "team/tool", "other/x"):
            ecr_api.create_repository(repositoryName=name)
        self.copy_queue, self.copy_dlq = create_queue_pair("copy", max_receive_count=3)
        self.plan_queue, self.plan_dlq = create_queue_pair("plan", max_receive_count=3, fifo=True)
        aws.monkeypatch.setenv("REGMIRROR_COPY_QUEUE_URL", self.copy_queue)
        aws.monkeypatch.setenv("REGMIRROR_PLAN_QUEUE_URL", self.plan_queue)
        config = write_config(
            tmp_path,  # type: ignore[arg-type]
            f"""
            tasks:
              - name: mirror-team
                interval: 300
                source:
                  registry: {self.source.host}
                  insecure: true
                  auth: secretsmanager:regmirror/test/source
                  {LISTER.format(moto=aws.moto.url)}
                target:
                  registry: {self.target.host}
                  insecure: true
                mappings:
                  - from: regex:team/.*
                    to: mirror
            """,
        )
        upload_config(config, aws.monkeypatch)
        self.lister = load_handler("lister", aws.monkeypatch)
        self.relay = load_handler("relay", aws.monkeypatch)

    def plan_driver(self) -> QueueDriver:
        return QueueDriver(self.plan_queue, self.lister.lambda_handler, "regmirror-lister", batch_size=1)

    def relay_driver(self) -> QueueDriver:
        return QueueDriver(self.copy_queue, self.relay.lambda_handler, "regmirror-relay", batch_size=1)


@pytest.fixture
def mirror(aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: object) -> Mirror:
    return Mirror(aws, registry_factory, tmp_path)


def test_scheduled_run_copies_what_differs_and_skips_what_is_in_sync(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    log_to_stdout(mirror.lister, mirror.relay)
    answer = mirror.lister.lambda_handler(
        scheduled_event("mirror-team", "evt-42"), LambdaContext("regmirror-lister")
    )
    assert answer == {"planning": ["mirror-team"], "queued": 1}

    mirror.plan_driver().drain()
    copies = [SyncItem.from_message(b) for b in queue_bodies(mirror.copy_queue)]
    # team/tool:1.0 is in sync (same digest in the target): not enqueued; other/x is not matched.
    assert sorted(str(i.target) for i in copies) == [
        f"{mirror.target.host}/mirror/team/app:1.0",
        f"{mirror.target.host}/mirror/team/app:2.0",
    ]
    assert {i.extra["correlation_id"] for i in copies} == {"evt-42"}
    assert {i.extra["trigger"] for i in copies} == {"schedule"}
    assert {i.source_digest for i in copies} == {
        mirror.digests["team/app:1.0"],
        mirror.digests["team/app:2.0"],
    }

    sqs = boto3.client("sqs")
    for item in copies:  # back onto the queue, as the lister had sent them
        sqs.send_message(QueueUrl=mirror.copy_queue, MessageBody=item.to_message())
    mirror.relay_driver().drain()

    assert manifest_digest(mirror.target, "mirror/team/app", "1.0") == mirror.digests["team/app:1.0"]
    assert manifest_digest(mirror.target, "mirror/team/app", "2.0") == mirror.digests["team/app:2.0"]
    assert list_tags(mirror.target, "mirror/team/tool") == ["1.0"]
    assert "mirror/other/x" not in str(mirror.target.requests())
    assert queue_bodies(mirror.copy_dlq) == [] and queue_bodies(mirror.plan_dlq) == []

    output = capsys.readouterr().out
    assert "(ecr lister): lister returned 3 repositories" in output  # names from moto's ECR API
    metrics = emf_metrics(output)
    assert metrics["TasksQueued"] == 1
    assert metrics["ImagesPlanned"] == 3
    assert metrics["ImagesInSync"] == 1
    assert metrics["ImagesEnqueued"] == 2
    assert metrics["ImagesCopied"] == 2
    assert metrics.get("ImagesFailed", 0) == 0
    copied = [json.loads(line) for line in output.splitlines() if '"message":"image copied"' in line]
    assert len(copied) == 2 and {c["correlation_id"] for c in copied} == {"evt-42"}
    # Bytes are reported when the core knows them (CopyResult.bytes); the metric sums exactly those.
    assert metrics.get("BytesCopied", 0) == sum(c.get("bytes") or 0 for c in copied)


def test_redelivered_message_copies_nothing_the_second_time(
    mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror.lister.lambda_handler({"run": "mirror-.*"}, LambdaContext("regmirror-lister"))
    mirror.plan_driver().drain()
    driver = mirror.relay_driver()
    driver.drain()
    puts = len(mirror.target.requests(method="PUT", path_regex=MANIFEST_PUTS))
    assert puts >= 2

    first = driver.invocations[0].bodies[0]
    boto3.client("sqs").send_message(QueueUrl=mirror.copy_queue, MessageBody=first)  # a duplicate delivery
    capsys.readouterr()
    driver.drain()
    assert len(mirror.target.requests(method="PUT", path_regex=MANIFEST_PUTS)) == puts
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["ImagesSkipped"] == 1
    assert metrics.get("ImagesCopied", 0) == 0


def test_planner_out_of_time_hands_the_unchecked_rest_to_the_relays(
    mirror: Mirror, aws: AwsEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.monkeypatch.setenv("REGMIRROR_HANDOFF_RESERVE_SECONDS", "120")
    mirror.lister.lambda_handler(scheduled_event("mirror-team"), LambdaContext("regmirror-lister"))
    # 60 s left, 120 s reserve: the planner checks nothing and hands every item over unchecked.
    QueueDriver(
        mirror.plan_queue, mirror.lister.lambda_handler, "regmirror-lister", 1, context_seconds=60
    ).drain()
    bodies = queue_bodies(mirror.copy_queue)
    items = [SyncItem.from_message(b) for b in bodies]
    assert len(items) == 3 and {i.extra["handoff"] for i in items} == {"unchecked"}
    for body in bodies:
        boto3.client("sqs").send_message(QueueUrl=mirror.copy_queue, MessageBody=body)
    mirror.relay_driver().drain()

    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["ImagesHandedOff"] == 3
    assert metrics["ImagesCopied"] == 2 and metrics["ImagesSkipped"] == 1  # the relays checked digests
    assert manifest_digest(mirror.target, "mirror/team/app", "2.0") == mirror.digests["team/app:2.0"]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_unknown_task_in_a_manual_run_queues_nothing(mirror: Mirror) -> None:
    with pytest.raises(ValueError, match="no task named 'nope'"):
        mirror.lister.lambda_handler({"tasks": ["nope"]}, LambdaContext("regmirror-lister"))
    assert queue_bodies(mirror.plan_queue) == []


def test_one_planning_run_per_task_at_a_time_however_the_schedule_ticks_pile_up(mirror: Mirror) -> None:
    """A failed planning run comes back after 6 lister timeouts while the schedule keeps ticking: on
    the FIFO planning queue (one group per task) the next tick of that task waits until the run in
    flight is done, and a tick delivered twice is planned once."""
    for event_id in ("tick-1", "tick-2", "tick-2"):  # EventBridge may deliver an event twice
        mirror.lister.lambda_handler(
            scheduled_event("mirror-team", event_id), LambdaContext("regmirror-lister")
        )
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=mirror.plan_queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "2"  # the duplicate tick was dropped
    # the event source mapping takes batches of 1 (one task per invocation; Lambda hands a FIFO group
    # one batch at a time)
    (first,) = sqs.receive_message(QueueUrl=mirror.plan_queue, MaxNumberOfMessages=1)["Messages"]
    assert "tick-1" in first["Body"]
    # while tick-1's run is in flight, nothing of that task is handed out, however often one asks
    for _ in range(3):
        assert (
            sqs.receive_message(QueueUrl=mirror.plan_queue, MaxNumberOfMessages=10).get("Messages", []) == []
        )
    sqs.delete_message(QueueUrl=mirror.plan_queue, ReceiptHandle=first["ReceiptHandle"])
    (second,) = sqs.receive_message(QueueUrl=mirror.plan_queue, MaxNumberOfMessages=1)["Messages"]
    assert "tick-2" in second["Body"]
