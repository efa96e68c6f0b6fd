"""The copy queue, its dead-letter queue and the skopeo relay that consumes it.

One SQS message = one image (a `SyncItem`). The relay checks digests before copying, so a message
delivered twice (after a crash, or a timeout) copies no bytes the second time. A message that fails
`max_receive_count` times moves to the dead-letter queue (alarmed), never blocking the others: the
event source reports batch item failures, so only the failed image of a batch comes back.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, IgnoreMode, Size
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from regmirror.aws import names

from infra.common import (
    acknowledge,
    function_log_group,
    function_role,
    grant_send,
    lambda_architecture,
    powertools_environment,
    suppress_xray_wildcard,
)
from infra.constructs.config_secrets import ConfigAndSecrets
from infra.settings import REPO_ROOT, EnvironmentSettings

RELAY_DOCKERFILE = "functions/relay/Dockerfile"
# The build context is the repository (the image needs the core package and the pinned
# requirements), cut down to what the Dockerfile copies: dockerignore syntax, last match wins.
RELAY_CONTEXT_EXCLUDES = [
    "*",
    "!functions",
    "functions/*",
    "!functions/relay",
    "!layers",
    "layers/*",
    "!layers/regmirror",
    "layers/regmirror/*",
    "!layers/regmirror/python",
    "layers/regmirror/python/*",
    "!layers/regmirror/python/regmirror",
    "!requirements.txt",
    "!requirements-lambda.txt",
    "**/__pycache__",
    "**/*.pyc",
]
DLQ_REASON = (
    "This queue is itself a dead-letter queue: its messages are kept for inspection and redrive, not retried."
)


def relay_image_options(settings: EnvironmentSettings) -> dict[str, Any]:
    """How the relay image is built. The Lambda and the large-image Fargate task build it with the
    same options, so it is one asset (one hash, one image) with two entry points."""
    return {
        "file": RELAY_DOCKERFILE,
        "exclude": RELAY_CONTEXT_EXCLUDES,
        "ignore_mode": IgnoreMode.DOCKER,
        # the Lambda base image and the Go build image are multi-arch: built natively for it
        "platform": ecr_assets.Platform.LINUX_ARM64
        if settings.architecture == "arm64"
        else ecr_assets.Platform.LINUX_AMD64,
    }


def relay_image(scope: Construct, settings: EnvironmentSettings) -> ecr_assets.DockerImageAsset:
    return ecr_assets.DockerImageAsset(
        scope, "RelayImage", directory=str(REPO_ROOT), **relay_image_options(settings)
    )


def visibility_timeout_seconds(function_timeout: int, batching_window: int = 0) -> int:
    """AWS guidance for SQS event sources: at least six times the function timeout (plus the batching
    window), so a message is not redelivered while a throttled or retried invocation still holds it."""
    return 6 * function_timeout + batching_window


def encrypted_queue(
    scope: Construct,
    name: str,
    *,
    visibility: int,
    dlq: sqs.Queue | None,
    max_receive: int,
    fifo: bool = False,
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(visibility),
        retention_period=Duration.days(4),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive) if dlq else None,
        fifo=fifo or None,
    )


def dead_letter_queue(scope: Construct, name: str, retention_days: int, *, fifo: bool = False) -> sqs.Queue:
    """A FIFO queue's dead letters must go to a FIFO queue."""
    queue = sqs.Queue(
        scope,
        name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(retention_days),
        fifo=fifo or None,
    )
    acknowledge(queue, "AwsSolutions-SQS3", DLQ_REASON)
    return queue


class QueueAndRelay(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        config: ConfigAndSecrets,
    ) -> None:
        super().__init__(scope, construct_id)
        relay = settings.relay
        self.dead_letter_queue = dead_letter_queue(
            self, "CopyDeadLetterQueue", settings.queue.dlq_retention_days
        )
        self.queue = encrypted_queue(
            self,
            "CopyQueue",
            visibility=visibility_timeout_seconds(relay.timeout_seconds, relay.max_batching_window_seconds),
            dlq=self.dead_letter_queue,
            max_receive=settings.queue.max_receive_count,
        )
        log_group = function_log_group(self, "Relay", settings)
        role = function_role(
            self, "Relay", log_group, "regmirror relay: copies one image per SQS message with skopeo"
        )
        self.function = lambda_.DockerImageFunction(
            self,
            "RelayFunction",
            description="regmirror relay: digest check, then skopeo copy of one image per message",
            code=lambda_.DockerImageCode.from_image_asset(str(REPO_ROOT), **relay_image_options(settings)),
            architecture=lambda_architecture(settings),
            memory_size=relay.memory_mb,
            timeout=Duration.seconds(relay.timeout_seconds),
            ephemeral_storage_size=Size.mebibytes(relay.ephemeral_storage_mb),
            reserved_concurrent_executions=relay.copy_budget if relay.reserve_concurrency else None,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **powertools_environment(names.RELAY_SERVICE, settings),
                **config.environment(),
                names.ENV_SECRET_MAX_AGE: str(names.DEFAULT_SECRET_MAX_AGE),
                names.ENV_RETRY_BASE_SECONDS: str(relay.retry_base_seconds),
                "TMPDIR": "/tmp",  # noqa: S108 - the only writable path on Lambda
            },
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=relay.batch_size,
                max_batching_window=Duration.seconds(relay.max_batching_window_seconds)
                if relay.max_batching_window_seconds
                else None,
                report_batch_item_failures=True,
                # The copy budget: the poller never invokes more relays than that, so the upstream's
                # limits hold; being the event source's own bound (not a reservation alone), no
                # throttled invocation burns a receive count and pushes messages to the DLQ.
                max_concurrency=relay.copy_budget,
            )
        )
        # A copy deferred by a short rate-limit budget is sent to this queue again with a delay
        # (aws.sqs.requeue_with_delay); the event source grants only what consuming needs.
        grant_send(self.queue, role)
        config.grant_config_read(role, "Relay")
        config.grant_registry_access(role, "Relay", write_targets=True)
        suppress_xray_wildcard(self.function)
