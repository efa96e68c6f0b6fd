"""The relay's Fargate task: the relay Lambda's image and core, another entry point.

The relay starts it (regmirror.aws.handoff) for an image too big or too slow for Lambda, with the
copy message in REGMIRROR_COPY_MESSAGE. It checks and copies that one image with no limit but
skopeo's own (`skopeo.timeout`) and the task's storage, and exits 0 (copied or in sync) or 1. A
message it could not copy goes to the copy queue's dead-letter queue with the error as an attribute
(alarmed, redrivable), so a handed-off image is never dropped silently.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from regmirror.aws import names
from regmirror.aws.config_source import load_lambda_config
from regmirror.aws.environment import TaskEnvironment
from regmirror.aws.observability import referrer_metrics, route_core_logs
from regmirror.aws.secrets import register_secrets_manager_resolver
from regmirror.aws.sqs import sqs_client
from regmirror.model import SyncItem
from regmirror.sync.copy import sync_item
from regmirror.sync.registries import shared_registries

logger = Logger(service=names.TASK_SERVICE)
metrics = Metrics(service=names.TASK_SERVICE)
register_secrets_manager_resolver()
route_core_logs(logger)
MAX_ERROR_ATTRIBUTE = 1024


def dead_letter(queue_url: str, body: str, error: str) -> None:
    sqs_client().send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes={"error": {"DataType": "String", "StringValue": error[:MAX_ERROR_ATTRIBUTE]}},
    )


def run(environ: Mapping[str, str] | None = None) -> int:
    """One copy message → 0 when the target holds the image, 1 when not (the message dead-lettered)."""
    try:
        return copy_message(environ)
    finally:
        metrics.flush_metrics()  # EMF on stdout: the awslogs driver makes them CloudWatch metrics


def copy_message(environ: Mapping[str, str] | None) -> int:
    environment = TaskEnvironment.from_env(environ)
    body = environment.copy_message
    try:
        item = SyncItem.from_message(body)
    except ValueError as exc:
        logger.error("copy message is malformed", extra={"error": str(exc)})
        dead_letter(environment.dead_letter_queue_url, body, f"malformed: {exc}")
        return 1
    logger.set_correlation_id(item.extra.get("correlation_id"))
    logger.append_keys(task=item.task, image=item.key(), trigger="fargate")
    config = load_lambda_config()
    # No Lambda time limit here: a short rate-limit budget is waited for, as the CLI does.
    result = sync_item(config, item, registries=shared_registries(config))
    for name, value in referrer_metrics(result).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary = {"status": result.status, "reason": result.reason, "seconds": round(result.duration, 3)}
    summary |= {"bytes": result.bytes, "target_digest": result.target_digest}
    if result.status == "failed":
        metrics.add_metric(name=names.IMAGES_FAILED, unit=MetricUnit.Count, value=1)
        logger.error("copy failed", extra={**summary, "error": result.error})
        dead_letter(environment.dead_letter_queue_url, body, f"{result.reason}: {result.error}")
        return 1
    metric = names.IMAGES_COPIED if result.status == "copied" else names.IMAGES_SKIPPED
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    if result.status == "copied" and result.bytes:
        metrics.add_metric(name=names.BYTES_COPIED, unit=MetricUnit.Bytes, value=result.bytes)
    logger.info(f"image {result.status}", extra=summary)
    return 0


if __name__ == "__main__":
    sys.exit(run())
