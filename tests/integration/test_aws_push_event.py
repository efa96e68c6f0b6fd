"""An ECR push event syncs exactly the pushed image, within one pass: EventBridge (moto) filters with
the pattern the stack synthesizes from the config, the push function enqueues, the relay copies.

moto's ECR is not a registry, so the pushed repository lives in a real local registry and the
event's registry host is mapped to it (REGMIRROR_PUSH_REGISTRY_ALIASES, as for a config that names
the ECR registry by another host)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from regmirror.model import SyncItem

from infra.config_facts import read_config_facts
from infra.constructs.push_events import push_event_pattern
from tests.conftest import RegistryFactory
from tests.integration.aws_harness import (
    ACCOUNT,
    ECR_HOST,
    REGION,
    AwsEnv,
    LambdaContext,
    QueueDriver,
    create_queue_pair,
    ecr_push_event,
    emf_metrics,
    load_handler,
    log_to_stdout,
    queue_arn,
    queue_bodies,
    upload_config,
)
from tests.testbed import (
    ImageApi,
    RegistryServer,
    get_manifest,
    list_tags,
    manifest_digest,
    push_image,
    write_config,
)

CONFIG = """
tasks:
  - name: from-ecr
    interval: 3600
    source:
      registry: {source}
      {insecure}
    target:
      registry: {target}
      insecure: true
    mappings:
      - from: team/app
        to: mirror/app
        tags: ['regex: [0-9.]+']
      - from: regex:releases/.*
        to: partner
"""


def deploy_push_rule(tmp_path: Path) -> str:
    """The push rule as the stack builds it from the deployed config (source = this account's ECR),
    with an SQS queue as target so we can see which events EventBridge lets through."""
    deployed = write_config(
        tmp_path, CONFIG.format(source=ECR_HOST, insecure="", target="127.0.0.1:5000"), "deployed.yaml"
    )
    (source,) = read_config_facts(deployed).push_sources_in(ACCOUNT, REGION)
    sqs, events = boto3.client("sqs"), boto3.client("events")
    delivered = sqs.create_queue(QueueName="push-events")["QueueUrl"]
    events.put_rule(Name="regmirror-push", EventPattern=json.dumps(push_event_pattern(source)))
    events.put_targets(Rule="regmirror-push", Targets=[{"Id": "push", "Arn": queue_arn(delivered)}])
    return delivered


def put_event(event: dict[str, object]) -> None:
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
    }
    assert boto3.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0


def test_push_event_copies_exactly_the_pushed_tag(
    aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    source, target = registry_factory(), registry_factory()
    old = push_image(source, "team/app", "1.0")
    pushed = push_image(source, "team/app", "2.0", platforms=["linux/amd64", "linux/arm64"])
    push_image(source, "releases/tool", "v1")
    delivered = deploy_push_rule(tmp_path)

    push = ecr_push_event("team/app", "2.0", pushed)
    for event in (
        push,
        ecr_push_event("other/repo", "2.0", pushed),  # no mapping reads it
        ecr_push_event("team/app", None, pushed),  # pushed by digest only
        ecr_push_event("team/app", "2.0", pushed, action="DELETE"),
    ):
        put_event(event)
    time.sleep(0.5)
    passed = [json.loads(body) for body in queue_bodies(delivered)]
    assert [
        (e["detail"]["repository-name"], e["detail"].get("image-tag"), e["detail"]["action-type"])
        for e in passed
    ] == [("team/app", "2.0", "PUSH")]

    copy_queue, copy_dlq = create_queue_pair("copy", max_receive_count=3)
    aws.monkeypatch.setenv("REGMIRROR_COPY_QUEUE_URL", copy_queue)
    aws.monkeypatch.setenv("REGMIRROR_PUSH_REGISTRY_ALIASES", json.dumps({ECR_HOST: source.host}))
    runtime = write_config(
        tmp_path, CONFIG.format(source=source.host, insecure="insecure: true", target=target.host)
    )
    upload_config(runtime, aws.monkeypatch)
    push_handler = load_handler("push", aws.monkeypatch)
    relay = load_handler("relay", aws.monkeypatch)

    answer = push_handler.lambda_handler(push, LambdaContext("regmirror-push"))  # the real event shape
    assert answer == {"queued": 1, "targets": [f"{target.host}/mirror/app:2.0"]}
    (body,) = queue_bodies(copy_queue)
    item = SyncItem.from_message(body)
    assert item.extra == {
        "reason": "push-event",
        "trigger": "push",
        "correlation_id": push["id"],
        "pushed_digest": pushed,
    }
    boto3.client("sqs").send_message(QueueUrl=copy_queue, MessageBody=body)

    QueueDriver(copy_queue, relay.lambda_handler, "regmirror-relay").drain()
    assert list_tags(target, "mirror/app") == ["2.0"]  # 1.0 (digest {old}) is left to the schedule
    assert manifest_digest(target, "mirror/app", "2.0") == pushed != old
    assert queue_bodies(copy_dlq) == []


def push_runtime(
    aws: AwsEnv, tmp_path: Path, source: RegistryServer, target: RegistryServer, copy_queue: str
) -> tuple[ModuleType, ModuleType]:
    """The push and relay functions on CONFIG from `source` (the event's ECR host mapped to it)."""
    aws.monkeypatch.setenv("REGMIRROR_COPY_QUEUE_URL", copy_queue)
    aws.monkeypatch.setenv("REGMIRROR_PUSH_REGISTRY_ALIASES", json.dumps({ECR_HOST: source.host}))
    upload_config(
        write_config(
            tmp_path, CONFIG.format(source=source.host, insecure="insecure: true", target=target.host)
        ),
        aws.monkeypatch,
    )
    return load_handler("push", aws.monkeypatch), load_handler("relay", aws.monkeypatch)


def test_push_to_a_regex_mapping_goes_under_its_prefix(
    aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    source, target = registry_factory(), registry_factory()
    digest = push_image(source, "releases/tool", "v1")
    copy_queue, _ = create_queue_pair("copy", max_receive_count=3)
    push_handler, relay = push_runtime(aws, tmp_path, source, target, copy_queue)

    assert push_handler.lambda_handler(
        ecr_push_event("releases/tool", "v1", digest), LambdaContext("regmirror-push")
    )["targets"] == [f"{target.host}/partner/releases/tool:v1"]
    # The first mapping's tag filter ('regex: [0-9.]+') refuses a push of team/app:latest.
    assert push_handler.lambda_handler(
        ecr_push_event("team/app", "latest", digest), LambdaContext("regmirror-push")
    ) == {
        "queued": 0,
        "targets": [],
    }
    QueueDriver(copy_queue, relay.lambda_handler, "regmirror-relay").drain()
    assert manifest_digest(target, "partner/releases/tool", "v1") == digest


def test_a_pushed_signature_tag_copies_the_signature_of_the_mirrored_image_only(
    aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    """cosign signing an image in ECR pushes `sha256-<hex>.sig`: not an image of its own; the image
    it signs gets its referrers copied, when the target holds that image (nothing otherwise)."""
    from tests.testbed.images import ImageApi
    from tests.testbed.signing import SigningKey, fallback_tag, sign_cosign_tag, verified_signatures

    source, target = registry_factory(), registry_factory()
    key = SigningKey.generate()
    mirrored = push_image(source, "team/app", "1.0")
    unmirrored = push_image(source, "team/app", "latest")  # the mapping's tags refuse `latest`
    push_image(target, "mirror/app", "1.0", seed="team/app:1.0")
    copy_queue, copy_dlq = create_queue_pair("copy", max_receive_count=3)
    push_handler, relay = push_runtime(aws, tmp_path, source, target, copy_queue)
    api = ImageApi(source)
    for digest in (mirrored, unmirrored):
        signature = sign_cosign_tag(api, "team/app", digest, key)
        answer = push_handler.lambda_handler(
            ecr_push_event("team/app", fallback_tag(digest) + ".sig", signature),
            LambdaContext("regmirror-push"),
        )
        assert answer["targets"] == [f"{target.host}/mirror/app@{digest}"]

    QueueDriver(copy_queue, relay.lambda_handler, "regmirror-relay").drain()

    target_api = ImageApi(target)
    assert len(verified_signatures(target_api, "mirror/app", mirrored, key.public)) == 1
    assert target_api.head_manifest("mirror/app", unmirrored) is None  # not copied by the signature push
    assert sorted(list_tags(target, "mirror/app")) == ["1.0", fallback_tag(mirrored) + ".sig"]
    assert queue_bodies(copy_dlq) == []


def test_a_second_tag_pushed_for_the_same_image_is_a_manifest_put_not_a_skopeo_copy(
    aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # CI pushing app:2.0 then app:2.0.1 of one build: ECR sends one event per tag, same digest
    source, target = registry_factory(), registry_factory()
    digest = push_image(source, "team/app", "2.0", platforms=["linux/amd64", "linux/arm64"])
    body, media_type, _ = get_manifest(source, "team/app", "2.0")
    ImageApi(source).put_manifest("team/app", "2.0.1", body, media_type)
    copy_queue, copy_dlq = create_queue_pair("copy", max_receive_count=3)
    push_handler, relay = push_runtime(aws, tmp_path, source, target, copy_queue)
    log_to_stdout(relay)
    for tag in ("2.0", "2.0.1"):
        push_handler.lambda_handler(ecr_push_event("team/app", tag, digest), LambdaContext("regmirror-push"))
    capsys.readouterr()

    QueueDriver(copy_queue, relay.lambda_handler, "regmirror-relay").drain()

    assert {tag: manifest_digest(target, "mirror/app", tag) for tag in ("2.0", "2.0.1")} == {
        "2.0": digest,
        "2.0.1": digest,
    }
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["ImagesCopied"] == 2
    assert metrics["ImagesCopiedByManifest"] == 1  # the second: one HEAD, one GET, one PUT
    puts = [r.path.rsplit("/", 1)[1] for r in target.requests("PUT", r"/v2/mirror/app/manifests/.+")]
    # skopeo's copy: two platform manifests and the index; the re-tag: the index under its tag only
    assert len(puts) == 4 and len([p for p in puts if p.startswith("sha256:")]) == 2
    assert queue_bodies(copy_dlq) == []
