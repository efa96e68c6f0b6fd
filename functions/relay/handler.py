"""Relay Lambda: one SQS message = one image; digest check, then skopeo copy (regmirror.sync.copy.sync_item).

With a Fargate cluster configured (`large_images` in the environment settings), an image above the
size limit, or a copy that runs out of the function's time, is handed to a Fargate task of this same
image (task.py) instead (regmirror.aws.handoff): the message is then done, counted as ImagesToFargate.

Each record is processed on its own (Powertools BatchProcessor): a failed image fails only its own
message, which comes back after a backoff and lands in the dead-letter queue after
`maxReceiveCount` attempts. A message delivered twice copies nothing the second time: the digest
check finds the target in sync. The function itself errors only on a crash or timeout.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from regmirror.aws import names
from regmirror.aws.config_source import load_lambda_config
from regmirror.aws.environment import RelayEnvironment
from regmirror.aws.handoff import (
    HANDED_OFF,
    TIMED_OUT,
    Handoff,
    copy_seconds,
    ecs_task_starter,
    handed_off,
    source_bytes,
)
from regmirror.aws.observability import TRACED_MODULES, referrer_metrics, route_core_logs, traced_phases
from regmirror.aws.secrets import register_secrets_manager_resolver
from regmirror.aws.sqs import delay_redelivery, requeue_with_delay, retry_delay, sqs_client
from regmirror.model import CopiedBy, CopyResult, FailureReason, SyncItem
from regmirror.sync.copy import make_relay, sync_item
from regmirror.sync.registries import Registries, shared_registries

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
# Per-record failures are reported as batchItemFailures, never as a function error, even when every
# record of a batch failed: function errors (alarmed) then mean crashes and timeouts only.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
register_secrets_manager_resolver()
route_core_logs(logger)
RATE_LIMIT_DEFAULT_DELAY = 60
# Seconds kept back from skopeo without a hand-off: a copy cut short is reported (and retried) by the
# relay itself rather than ended by Lambda's timeout, which would leave no log line and no metric.
REPORT_RESERVE_SECONDS = 15


class CopyFailed(Exception):
    """The image was not copied; the message is retried, then dead-lettered."""


def _record_metrics(result: CopyResult) -> None:
    for name, value in referrer_metrics(result).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if result.reason == FailureReason.RATE_LIMIT:
        return  # counted as deferred, not failed
    if result.reason == HANDED_OFF:
        metrics.add_metric(name=names.IMAGES_TO_FARGATE, unit=MetricUnit.Count, value=1)
        return
    metric = {"copied": names.IMAGES_COPIED, "skipped": names.IMAGES_SKIPPED}.get(
        result.status, names.IMAGES_FAILED
    )
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    if result.status == "copied" and result.reason != CopiedBy.SKOPEO:
        metrics.add_metric(name=names.IMAGES_COPIED_BY_MANIFEST, unit=MetricUnit.Count, value=1)
    if result.status == "copied" and result.bytes:
        metrics.add_metric(name=names.BYTES_COPIED, unit=MetricUnit.Bytes, value=result.bytes)


def _retry_later(record: SQSRecord) -> None:
    count = int(record.attributes.approximate_receive_count or "1")
    delay = retry_delay(count, RelayEnvironment.from_env().retry_base_seconds)
    if delay_redelivery(sqs_client(), record.queue_url, record.receipt_handle, delay):
        logger.info("retrying in %d s (attempt %d)", delay, count)


@functools.cache
def _ecs_client() -> Any:
    """One per container: a boto3 client costs tens of milliseconds to build, a message none."""
    import boto3  # the relay image bundles it

    return boto3.client("ecs")


def relay_handoff(environment: RelayEnvironment) -> Handoff | None:
    if not environment.fargate_cluster:
        return None
    start = ecs_task_starter(
        _ecs_client(),
        cluster=environment.fargate_cluster,
        task_definition=environment.fargate_task_definition,
        container=environment.fargate_container,
        subnets=environment.subnets,
        security_groups=environment.security_groups,
    )
    return Handoff(environment.fargate_size_limit, environment.fargate_timeout_reserve, start)


def _diverter(handoff: Handoff | None, registries: Registries, body: str) -> Any:
    """The size check before a copy: an image above the limit goes to Fargate, not to skopeo here."""
    if handoff is None:
        return None

    def divert(item: SyncItem) -> CopyResult | None:
        size = source_bytes(registries, item)
        if not handoff.too_big(size):
            return None
        return handed_off(item, handoff.start(body), size, f"{size} bytes, above {handoff.size_limit}")

    return divert


@tracer.capture_method
def copy_record(record: SQSRecord, lambda_context: LambdaContext | None = None) -> dict[str, Any]:
    logger.append_keys(message_id=record.message_id)
    item = SyncItem.from_message(record.body)  # ValueError: a poison message fails alone
    logger.set_correlation_id(item.extra.get("correlation_id") or record.message_id)
    logger.append_keys(task=item.task, image=item.key(), trigger=item.extra.get("trigger"))
    config = load_lambda_config()
    handoff = relay_handoff(RelayEnvironment.from_env())
    # Never sleep on a short rate-limit budget inside a Lambda: the message is put back with a delay.
    registries = shared_registries(config, max_wait=0)
    relay = make_relay(config, timeout=_copy_seconds(config.skopeo.timeout, handoff, lambda_context))
    divert = _diverter(handoff, registries, record.body)
    result = sync_item(
        config, item, relay=relay, registries=registries, phase=traced_phases(tracer), divert=divert
    )
    if handoff is not None and result.status == "failed" and result.reason in TIMED_OUT:
        result = handed_off(item, handoff.start(record.body), None, "not copied within the function's time")
    _record_metrics(result)
    return _conclude(record, item, result, registries)


def _conclude(
    record: SQSRecord, item: SyncItem, result: CopyResult, registries: Registries
) -> dict[str, Any]:
    """Log the outcome; defer, retry (raise) or finish the message by it."""
    summary = _summary(item, result)
    if result.status == "failed" and result.reason == FailureReason.RATE_LIMIT:
        delay = registries.rate_limits.defer_seconds(item.source.registry) or RATE_LIMIT_DEFAULT_DELAY
        requeue_with_delay(sqs_client(), record.queue_url, record.body, delay)
        metrics.add_metric(name=names.IMAGES_DEFERRED, unit=MetricUnit.Count, value=1)
        logger.warning("source rate-limit budget is short: deferred", extra={**summary, "delay": delay})
        return {**summary, "status": "deferred", "delay": delay}
    if result.status == "failed":
        logger.error("copy failed", extra={**summary, "error": result.error})
        _retry_later(record)
        raise CopyFailed(f"{item.key()}: {result.reason}: {result.error}")
    if result.reason == HANDED_OFF:
        logger.info("image handed to Fargate", extra={**summary, "note": result.error})
        return {**summary, "status": HANDED_OFF}
    logger.info(f"image {result.status}", extra=summary)
    return summary


def _copy_seconds(configured: float, handoff: Handoff | None, context: LambdaContext | None) -> float:
    if context is None:
        return configured
    reserve = handoff.timeout_reserve if handoff is not None else REPORT_RESERVE_SECONDS
    return copy_seconds(context.get_remaining_time_in_millis() / 1000, configured, reserve)


def _summary(item: SyncItem, result: CopyResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "reason": result.reason,
        "source": str(item.source),
        "target": str(item.target),
        "seconds": round(result.duration, 3),
        "bytes": result.bytes,
        "source_digest": result.source_digest,
        "target_digest": result.target_digest,
    }


def _handle_record(record: SQSRecord, lambda_context: LambdaContext | None = None) -> dict[str, Any]:
    try:
        return copy_record(record, lambda_context)
    except CopyFailed:
        raise
    except Exception:
        logger.exception("message could not be processed")
        metrics.add_metric(name=names.IMAGES_FAILED, unit=MetricUnit.Count, value=1)
        _retry_later(record)
        raise
    finally:
        logger.remove_keys(["message_id", "task", "image", "trigger"])


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(
        event=event, record_handler=_handle_record, processor=processor, context=context
    )
