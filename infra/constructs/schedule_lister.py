"""Schedules, the planning queue and the lister (planner) function.

Flow: an EventBridge schedule rule per periodic task invokes the lister with a scheduled event whose
`detail.tasks` names the task → the lister enqueues one planning message per task on the planning
queue → the lister, fed by that queue one message at a time, plans the task (list, match, tags, digest
check) and streams every image that needs copying onto the copy queue in batches of 10.

Why a planning queue rather than planning inside the scheduled invocation: planning a big source is
long; from a queue it gets retries with backoff, a dead-letter queue with an alarm and redrive, and a
concurrency cap (the event source's maximum concurrency) that keeps the source registry's rate limits.
A planning run that approaches its time limit hands the items it has not checked yet to the copy
queue unchecked (the relay checks digests before copying), so a huge task never loses work.
"""

from __future__ import annotations

from aws_cdk import Annotations, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from regmirror.aws import names

from infra.common import (
    function_log_group,
    function_role,
    grant_send,
    lambda_architecture,
    powertools_environment,
    python_function,
    suppress_runtime,
    suppress_xray_wildcard,
)
from infra.config_facts import ConfigFacts
from infra.constructs.config_secrets import ConfigAndSecrets
from infra.constructs.event_delivery import failures_kept, rule_target
from infra.constructs.queue_relay import dead_letter_queue, encrypted_queue, visibility_timeout_seconds
from infra.settings import REPO_ROOT, EnvironmentSettings

LISTER_CODE = REPO_ROOT / "functions" / "lister"


def scheduled_event_input(task: str) -> events.RuleTargetInput:
    """The scheduled event's own envelope, with the task to plan in `detail` (EventBridge sends `{}`)."""
    return events.RuleTargetInput.from_object(
        {
            "version": "0",
            "id": events.EventField.event_id,
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": events.EventField.account,
            "time": events.EventField.time,
            "region": events.EventField.region,
            "detail": {"tasks": [task]},
        }
    )


class ScheduleAndLister(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        facts: ConfigFacts,
        config: ConfigAndSecrets,
        layer: lambda_.ILayerVersion,
        copy_queue: sqs.IQueue,
        event_dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.event_dead_letters = event_dead_letters
        lister = settings.lister
        # FIFO, one message group per task (aws.events.PlanMessage.fifo_keys): SQS never hands out a
        # task's next planning run while one is in flight, however the schedule ticks pile up behind
        # a failed run; a redelivered tick is deduplicated.
        self.dead_letter_queue = dead_letter_queue(
            self, "PlanDeadLetterQueue", settings.queue.dlq_retention_days, fifo=True
        )
        self.queue = encrypted_queue(
            self,
            "PlanQueue",
            visibility=visibility_timeout_seconds(lister.timeout_seconds),
            dlq=self.dead_letter_queue,
            max_receive=settings.queue.max_receive_count,
            fifo=True,
        )
        log_group = function_log_group(self, "Lister", settings)
        role = function_role(
            self, "Lister", log_group, "regmirror lister: plans tasks and enqueues images to copy"
        )
        self.function = python_function(
            self,
            "ListerFunction",
            description="regmirror lister: schedule fan-out and task planning (list, match, tags, digests)",
            code_dir=str(LISTER_CODE),
            layer=layer,
            role=role,
            log_group=log_group,
            memory_mb=lister.memory_mb,
            timeout=Duration.seconds(lister.timeout_seconds),
            architecture=lambda_architecture(settings),
            environment={
                **powertools_environment(names.LISTER_SERVICE, settings),
                **config.environment(),
                names.ENV_COPY_QUEUE_URL: copy_queue.queue_url,
                names.ENV_PLAN_QUEUE_URL: self.queue.queue_url,
                names.ENV_SECRET_MAX_AGE: str(names.DEFAULT_SECRET_MAX_AGE),
                names.ENV_CHECK_WORKERS: str(lister.check_workers),
                names.ENV_HANDOFF_RESERVE: str(lister.handoff_reserve_seconds),
            },
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=1,  # one task per invocation: the whole time limit for it
                report_batch_item_failures=True,
                max_concurrency=lister.concurrency,
            )
        )
        grant_send(self.queue, role)
        grant_send(copy_queue, role)
        config.grant_config_read(role, "Lister")
        config.grant_registry_access(role, "Lister", write_targets=False)
        suppress_xray_wildcard(self.function)
        suppress_runtime(self.function)
        failures_kept(self.function, event_dead_letters)
        self.rules = self._schedules(facts)

    def _schedules(self, facts: ConfigFacts) -> dict[str, events.Rule]:
        """One rule per periodic task; one-off tasks (no interval, no schedule) get none."""
        rules: dict[str, events.Rule] = {}
        for index, schedule in enumerate(facts.schedules):
            if schedule.rounded_from_seconds is not None:
                Annotations.of(self).add_warning_v2(
                    "regmirror:interval-rounded",
                    f"task {schedule.task!r}: interval {schedule.rounded_from_seconds}s runs as "
                    f"{schedule.expression} (EventBridge schedules are whole minutes)",
                )
            rules[schedule.task] = events.Rule(
                self,
                f"Schedule{index}",
                description=f"regmirror task {schedule.task}: {schedule.expression}"[:512],
                schedule=events.Schedule.expression(schedule.expression),
                targets=[
                    rule_target(
                        self.function, self.event_dead_letters, event=scheduled_event_input(schedule.task)
                    )
                ],
            )
        return rules
