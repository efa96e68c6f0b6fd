"""AWS mode carries referrers too (moto SQS/S3 under IAM enforcement, real registries, real skopeo):
the relay copies an image's signatures, attestations and SBOMs with it; an image the planner finds
in sync whose target lacks a signature that arrived later is enqueued for it (`ReferrersDue`), and
the relay copies just that signature. Verified with the test bed's own code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RegistryFactory
from tests.integration.aws_harness import (
    AwsEnv,
    LambdaContext,
    QueueDriver,
    create_queue_pair,
    emf_metrics,
    load_handler,
    queue_bodies,
    scheduled_event,
    upload_config,
)
from tests.testbed import push_image, write_config
from tests.testbed.images import ImageApi
from tests.testbed.signing import SigningKey, attach, referrer_digests, sign_cosign_tag, verified_signatures


def test_the_relay_copies_referrers_and_the_planner_finds_late_ones(
    aws: AwsEnv, registry_factory: RegistryFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source_registry, target_registry = registry_factory(), registry_factory()
    source, target = ImageApi(source_registry), ImageApi(target_registry)
    key = SigningKey.generate()
    digest = push_image(source_registry, "team/app", "1.0", oci=True)
    sign_cosign_tag(source, "team/app", digest, key)
    attach(source, "team/app", digest, "sbom")
    copy_queue, copy_dlq = create_queue_pair("copy", max_receive_count=3)
    plan_queue, _plan_dlq = create_queue_pair("plan", max_receive_count=3, fifo=True)
    aws.monkeypatch.setenv("REGMIRROR_COPY_QUEUE_URL", copy_queue)
    aws.monkeypatch.setenv("REGMIRROR_PLAN_QUEUE_URL", plan_queue)
    config = write_config(
        tmp_path,
        f"""
        tasks:
          - name: mirror-team
            interval: 300
            source: {{registry: "{source_registry.host}", insecure: true}}
            target: {{registry: "{target_registry.host}", insecure: true}}
            mappings:
              - from: regex:team/.*
        """,
    )
    upload_config(config, aws.monkeypatch)
    lister, relay = load_handler("lister", aws.monkeypatch), load_handler("relay", aws.monkeypatch)

    def run() -> dict[str, float]:
        capsys.readouterr()
        lister.lambda_handler(scheduled_event("mirror-team"), LambdaContext("regmirror-lister"))
        QueueDriver(plan_queue, lister.lambda_handler, "regmirror-lister", batch_size=1).drain()
        QueueDriver(copy_queue, relay.lambda_handler, "regmirror-relay", batch_size=1).drain()
        return emf_metrics(capsys.readouterr().out)

    first = run()
    assert first["ImagesCopied"] == 1  # one image: its referrer tags are not images of their own
    assert first["ReferrersCopied"] == 2
    assert referrer_digests(target, "team/app", digest) == referrer_digests(source, "team/app", digest)
    assert len(verified_signatures(target, "team/app", digest, key.public)) == 1

    late = attach(source, "team/app", digest, "signature", key=key)
    second = run()
    assert second["ImagesInSync"] == 1
    assert second["ReferrersDue"] == 1
    assert second["ImagesSkipped"] == 1  # the relay's check: the image is in sync...
    assert second["ReferrersCopied"] == 1  # ...and its new signature copied
    assert late in verified_signatures(target, "team/app", digest, key.public)

    third = run()
    assert third.get("ReferrersDue", 0) == 0
    assert queue_bodies(copy_queue) == [] and queue_bodies(copy_dlq) == []
