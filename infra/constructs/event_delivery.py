"""How EventBridge events reach a Lambda function without being dropped.

Two hops can fail: EventBridge delivering the event (the async `Invoke` call: throttled, the function
missing, a permission) and the function failing on it (Lambda's own async retries). By default both
drop the event in the end. Here each gives up into one dead-letter queue (alarmed by Monitoring):
EventBridge after 2 retries within an hour (the rule target's DLQ), Lambda after 2 retries within
6 hours (the function's on-failure destination, which also records the error).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs

DELIVERY_RETRIES = 2
DELIVERY_MAX_AGE = Duration.hours(1)
INVOKE_RETRIES = 2
INVOKE_MAX_AGE = Duration.hours(6)


def failures_kept(function: lambda_.Function, dead_letters: sqs.IQueue) -> None:
    """Lambda's async retries for `function`, then the event (with its error) into `dead_letters`."""
    function.configure_async_invoke(
        retry_attempts=INVOKE_RETRIES,
        max_event_age=INVOKE_MAX_AGE,
        on_failure=destinations.SqsDestination(dead_letters),
    )


def rule_target(
    function: lambda_.IFunction, dead_letters: sqs.IQueue, *, event: events.RuleTargetInput | None = None
) -> targets.LambdaFunction:
    """A rule target whose undeliverable events end in `dead_letters`."""
    options: dict[str, Any] = {"event": event} if event is not None else {}
    return targets.LambdaFunction(
        function,
        retry_attempts=DELIVERY_RETRIES,
        max_event_age=DELIVERY_MAX_AGE,
        dead_letter_queue=dead_letters,
        **options,
    )
