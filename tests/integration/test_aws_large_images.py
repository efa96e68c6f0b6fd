"""Images too big or too slow for the relay Lambda go to a Fargate task of the same relay image.

moto's ECS records RunTask (cluster, task definition, the container's environment overrides) but runs
no container: the test plays the container as ECS would start it, running the relay image's other
entry point (functions/relay/task.py) with the task definition's and the overrides' environment,
against real registries with real skopeo. Under IAM enforcement the relay starts the task as its
synthesized role, and the task copies as its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from regmirror.aws import names
from regmirror.model import ImageRef, SyncItem

from tests.conftest import RegistryFactory
from tests.integration.aws_grants import RECORDER
from tests.integration.aws_harness import (
    AwsEnv,
    Invocation,
    QueueDriver,
    create_queue_pair,
    emf_metrics,
    load_handler,
    load_task,
    log_to_stdout,
    queue_bodies,
    reset_process_caches,
    upload_config,
)
from tests.integration.aws_iam import revoke
from tests.testbed import catalog, manifest_digest, push_image, write_config
from tests.testbed.faultproxy import FaultProxy, Rule
from tests.testbed.registry import RegistryServer

CLUSTER = "regmirror-large-images"
FAMILY = "regmirror-relay-task"
RESERVE = 10  # seconds of the relay's time kept back for a hand-off (REGMIRROR_FARGATE_TIMEOUT_RESERVE)
LARGE = 10 * 1024 * 1024  # a size limit the test image (two 4 KiB layers) stays under


@dataclass
class Bed:
    source: RegistryServer
    source_host: str  # the source as the config names it (the server, or a proxy in front of it)
    target: RegistryServer
    copy_queue: str
    dlq: str
    relay: Any
    source_digest: str
    aws: AwsEnv

    def send(self) -> str:
        body = SyncItem(
            "big",
            ImageRef(self.source_host, "team/app", "1.0"),
            ImageRef(self.target.host, "mirror/team/app", "1.0"),
        ).to_message()
        boto3.client("sqs").send_message(QueueUrl=self.copy_queue, MessageBody=body)
        return body

    def invoke(self, seconds: float = 900.0) -> Invocation:
        driver = QueueDriver(
            self.copy_queue, self.relay.lambda_handler, "regmirror-relay", context_seconds=seconds
        )
        invocation = driver.poll_once()
        assert invocation is not None
        return invocation

    def run_task(self, task: dict[str, Any]) -> int:
        """The container ECS would start for `task`: a new process, the task definition's environment
        (the stack puts the DLQ URL there) and the RunTask overrides."""
        reset_process_caches()
        return int(load_task(self.aws.monkeypatch).run(task_environment(task, self.dlq)))


BedFactory = Callable[..., Bed]


def started_tasks() -> list[dict[str, Any]]:
    ecs = boto3.client("ecs")
    arns = ecs.list_tasks(cluster=CLUSTER)["taskArns"]
    return ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []


def task_environment(task: dict[str, Any], dlq: str) -> dict[str, str]:
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == "relay"
    given = {e["name"]: e["value"] for e in override["environment"]}
    return {**os.environ, names.ENV_DEAD_LETTER_QUEUE_URL: dlq, **given}


def _fargate_environment(size_limit: int) -> dict[str, str]:
    """A moto network, cluster and task definition, and the relay's variables the stack sets for them."""
    ec2, ecs = boto3.client("ec2"), boto3.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    # as CDK's Vpc sets it (and moto's task networking needs it)
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="relay-task", Description="outbound only", VpcId=vpc)[
        "GroupId"
    ]
    cluster = ecs.create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
    definition = ecs.register_task_definition(
        family=FAMILY,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="4096",
        # moto sums container memory (ECS does not need it for Fargate)
        containerDefinitions=[{"name": "relay", "image": "relay:test", "essential": True, "memory": 4096}],
    )["taskDefinition"]["taskDefinitionArn"]
    return {
        names.ENV_FARGATE_CLUSTER: cluster,
        names.ENV_FARGATE_TASK_DEFINITION: definition,
        names.ENV_FARGATE_CONTAINER: "relay",
        names.ENV_FARGATE_SUBNETS: ",".join(subnets),
        names.ENV_FARGATE_SECURITY_GROUPS: group,
        names.ENV_FARGATE_SIZE_LIMIT: str(size_limit),
        names.ENV_FARGATE_TIMEOUT_RESERVE: str(RESERVE),
    }


@pytest.fixture
def make_bed(aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path) -> Iterator[BedFactory]:
    """`make_bed(size_limit=N, slow_blobs=S)`: a source with one image of two 4 KiB layers (behind a
    proxy delaying each blob GET by S seconds, when given), an empty target, the copy queue, a moto
    ECS cluster and task definition, and the relay with the stack's large-image environment."""
    proxies: list[FaultProxy] = []

    def make(*, size_limit: int, slow_blobs: float | None = None) -> Bed:
        source, target = registry_factory(), registry_factory()
        digest = push_image(source, "team/app", "1.0", layers=2, layer_size=4096)
        host = source.host
        if slow_blobs is not None:
            blobs = Rule("slow", method="GET", path=r"/v2/.+/blobs/.+")
            proxies.append(FaultProxy(source.host, rules=[blobs], slow_seconds=slow_blobs))
            host = proxies[-1].host
        config = write_config(
            tmp_path,
            f"""
            tasks:
              - name: big
                source: {{registry: "{host}", insecure: true}}
                target: {{registry: "{target.host}", insecure: true}}
                mappings: [{{from: team/app, to: mirror/team/app}}]
            """,
        )
        upload_config(config, aws.monkeypatch)
        copy_queue, dlq = create_queue_pair("copy", max_receive_count=2)
        for key, value in _fargate_environment(size_limit).items():
            aws.monkeypatch.setenv(key, value)
        relay = load_handler("relay", aws.monkeypatch)
        log_to_stdout(relay)
        return Bed(source, host, target, copy_queue, dlq, relay, digest, aws)

    yield make
    for proxy in proxies:
        proxy.stop()


def test_an_image_above_the_size_limit_is_copied_by_a_fargate_task_not_by_the_lambda(
    make_bed: BedFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    bed = make_bed(size_limit=1000)  # the image holds ~8 KiB
    body = bed.send()
    assert bed.invoke().failed == []  # the message is done: the task has it now
    assert catalog(bed.target) == []  # the Lambda copied nothing
    (task,) = started_tasks()
    assert task["launchType"] == "FARGATE" and task["startedBy"] == "regmirror-relay"
    assert task_environment(task, bed.dlq)[names.ENV_COPY_MESSAGE] == body  # the item; no credentials
    relay_output = capsys.readouterr().out
    assert emf_metrics(relay_output)["ImagesToFargate"] == 1
    assert "ImagesCopied" not in emf_metrics(relay_output)
    assert "ecs:RunTask" in RECORDER.calls["relay"]  # made as the relay's role, which must grant it

    assert bed.run_task(task) == 0
    assert manifest_digest(bed.target, "mirror/team/app", "1.0") == bed.source_digest
    assert emf_metrics(capsys.readouterr().out)["ImagesCopied"] == 1
    assert queue_bodies(bed.dlq) == []


def test_an_image_under_the_size_limit_is_copied_in_the_lambda(make_bed: BedFactory) -> None:
    bed = make_bed(size_limit=LARGE)
    bed.send()
    assert bed.invoke().failed == []
    assert manifest_digest(bed.target, "mirror/team/app", "1.0") == bed.source_digest
    assert started_tasks() == []


def test_a_copy_that_outlasts_the_lambdas_time_is_handed_off_instead_of_failing(
    make_bed: BedFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    bed = make_bed(size_limit=LARGE, slow_blobs=8.0)
    bed.send()
    # RESERVE + 3 s left: skopeo gets 3 s, each blob takes 8 s
    assert bed.invoke(seconds=RESERVE + 3).failed == []
    (task,) = started_tasks()
    output = capsys.readouterr().out
    assert "not copied within the function's time" in output
    assert emf_metrics(output)["ImagesToFargate"] == 1
    assert "ImagesFailed" not in emf_metrics(output)
    assert bed.run_task(task) == 0  # no Lambda limit there: the slow copy completes
    assert manifest_digest(bed.target, "mirror/team/app", "1.0") == bed.source_digest


def test_a_task_that_cannot_copy_dead_letters_its_message_with_the_error_and_exits_1(
    make_bed: BedFactory,
) -> None:
    bed = make_bed(size_limit=1000)
    body = bed.send()
    assert bed.invoke().failed == []
    (task,) = started_tasks()
    bed.source.stop()  # the source is gone by the time the task runs
    assert bed.run_task(task) == 1
    messages = boto3.client("sqs").receive_message(
        QueueUrl=bed.dlq, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert [m["Body"] for m in messages] == [body]  # kept, redrivable
    assert messages[0]["MessageAttributes"]["error"]["StringValue"].startswith("check-failed")
    assert catalog(bed.target) == []


def test_without_the_run_task_grant_the_hand_off_fails_and_the_message_is_retried(
    make_bed: BedFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    revoke("relay", "ecs:RunTask")
    bed = make_bed(size_limit=1000)
    bed.send()
    assert len(bed.invoke().failed) == 1
    assert started_tasks() == []
    assert "AccessDenied" in capsys.readouterr().out
