"""Lister Lambda: schedule fan-out, and planning one task per planning-queue message.

- Scheduled event (one rule per periodic task; the task is in `detail.tasks`) or a manual invocation
  (`{"run": "<task regex>"}` / `{"tasks": [...]}`): queue one planning message per task, return.
- Planning-queue record: plan that task (list, match, tags, digest check) and stream every image that
  needs copying onto the copy queue in batches of 10; near the time limit, hand the rest over
  unchecked (regmirror.aws.planner). A task whose planning crashes or times out comes back from the
  queue and is dead-lettered after `maxReceiveCount` attempts.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from regmirror.aws import names
from regmirror.aws.config_source import load_lambda_config
from regmirror.aws.environment import ListerEnvironment
from regmirror.aws.events import PlanMessage, is_sqs_event, parse_run_request
from regmirror.aws.observability import TRACED_MODULES, route_core_logs, traced_phases
from regmirror.aws.planner import PlanOutcome, TaskPlanner
from regmirror.aws.secrets import register_secrets_manager_resolver
from regmirror.aws.sqs import QueueSender

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
register_secrets_manager_resolver()
route_core_logs(logger)


def fan_out(event: dict[str, Any]) -> dict[str, Any]:
    """One planning message per selected task (unknown names are an error, nothing is queued)."""
    request = parse_run_request(event)
    config = load_lambda_config()
    if request.pattern is not None:
        tasks = [t.name for t in config.select_tasks(request.pattern)]
    else:
        known = {t.name for t in config.tasks}
        unknown = [name for name in request.tasks if name not in known]
        if unknown:
            raise ValueError(f"no task named {', '.join(map(repr, unknown))} in {config.source_file}")
        tasks = list(request.tasks)
    messages = [PlanMessage(t, request.correlation_id, request.trigger).to_message() for t in tasks]
    plan_queue = QueueSender(ListerEnvironment.from_env().plan_queue_url, fifo_keys=_plan_keys)
    sent = plan_queue.send(messages)
    metrics.add_metric(name=names.TASKS_QUEUED, unit=MetricUnit.Count, value=sent)
    logger.info("queued planning", extra={"tasks": tasks, "trigger": request.trigger})
    return {"planning": tasks, "queued": sent}


def _plan_keys(body: str) -> tuple[str, str]:
    return PlanMessage.from_message(body).fifo_keys()  # one planning run per task at a time


def _record_metrics(outcome: PlanOutcome) -> None:
    for name, value in (
        (names.IMAGES_PLANNED, outcome.planned),
        (names.IMAGES_IN_SYNC, outcome.in_sync),
        (names.IMAGES_ENQUEUED, outcome.enqueued + outcome.handed_off),
        (names.IMAGES_HANDED_OFF, outcome.handed_off),
        (names.REFERRERS_DUE, outcome.referrers_due),
        (names.IMAGES_MISSING, outcome.missing),
        (names.PLAN_ERRORS, outcome.errors),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def plan_record(record: SQSRecord, context: LambdaContext) -> dict[str, Any]:
    message = PlanMessage.from_message(record.body)  # ValueError: a poison message fails alone
    logger.set_correlation_id(message.correlation_id or record.message_id)
    logger.append_keys(task=message.task, trigger=message.trigger)
    env = ListerEnvironment.from_env()
    sender = QueueSender(env.copy_queue_url)
    planner = TaskPlanner(
        config=load_lambda_config(),
        send=sender.send_items,
        remaining=lambda: context.get_remaining_time_in_millis() / 1000.0,
        reserve_seconds=env.handoff_reserve_seconds,
        workers=env.check_workers,
        phase=traced_phases(tracer),
    )
    with tracer.provider.in_subsegment("plan_task") as subsegment:
        subsegment.put_annotation(key="task", value=message.task)
        outcome = planner.plan(message.task, correlation_id=message.correlation_id, trigger=message.trigger)
    _record_metrics(outcome)
    logger.info("planned task", extra=outcome.as_dict())
    for error in outcome.mapping_errors:
        logger.error("mapping failed", extra={"error": error})
    return outcome.as_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if is_sqs_event(event):
        return process_partial_response(
            event=event,
            record_handler=lambda record: plan_record(record, context),
            processor=processor,
            context=context,
        )
    logger.set_correlation_id(event.get("id") if isinstance(event, dict) else None)
    return fan_out(event)
