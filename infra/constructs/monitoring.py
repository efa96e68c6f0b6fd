"""Alarms (dead-letter queues, function errors, planning errors, a stuck copy queue) to an encrypted
SNS topic, and a dashboard of the Powertools metrics (one namespace: images planned, copied, skipped,
failed, bytes).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from regmirror.aws import names

from infra.settings import EnvironmentSettings

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        functions: dict[str, lambda_.IFunction],
        dead_letter_queues: dict[str, sqs.IQueue],
        copy_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="regmirror alarm topic encryption",
            enable_key_rotation=True,
        )
        # CloudWatch publishes alarms to the encrypted topic: it needs the key for that alone.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="regmirror alarms", master_key=key, enforce_ssl=True
        )
        for email in settings.alarms.emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for label, queue in dead_letter_queues.items():
            self._alarm(
                f"{label}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"{label}: dead-letter messages (failed {settings.queue.max_receive_count} times)",
            )
        for label, function in functions.items():
            self._alarm(
                f"{label}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"{label} function errors (crashes or timeouts, not per-image failures)",
            )
        self._alarm(
            "PlanErrors",
            self.metric(names.PLAN_ERRORS, names.LISTER_SERVICE),
            "planning errors: a mapping failed (lister, tags) or digest checks failed",
        )
        self._alarm(
            "CopyQueueAge",
            copy_queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            f"copy queue: oldest message over {settings.alarms.queue_age_minutes} min old (relays behind)",
            threshold=settings.alarms.queue_age_minutes * 60,
        )
        self.dashboard = self._dashboard(copy_queue, dead_letter_queues)

    def _alarm(self, name: str, metric: cloudwatch.Metric, description: str, threshold: float = 1) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            alarm_description=f"regmirror {self.settings.name}: {description}",
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[name] = alarm

    def metric(self, name: str, service: str, statistic: str = "Sum") -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self.settings.metrics_namespace,
            metric_name=name,
            dimensions_map={"service": service},
            statistic=statistic,
            period=PERIOD,
        )

    def _dashboard(
        self, copy_queue: sqs.IQueue, dead_letter_queues: dict[str, sqs.IQueue]
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        planner = [
            self.metric(n, names.LISTER_SERVICE)
            for n in (
                names.IMAGES_PLANNED,
                names.IMAGES_IN_SYNC,
                names.IMAGES_ENQUEUED,
                names.IMAGES_HANDED_OFF,
                names.REFERRERS_DUE,
            )
        ]
        relay = [
            self.metric(n, names.RELAY_SERVICE)
            for n in (
                names.IMAGES_COPIED,
                names.IMAGES_SKIPPED,
                names.IMAGES_FAILED,
                names.IMAGES_DEFERRED,
                names.IMAGES_TO_FARGATE,
                names.REFERRERS_COPIED,
                names.REFERRERS_FAILED,
            )
        ]
        # the large-image Fargate task's own results (no data unless `large_images` is on)
        relay += [
            self.metric(n, names.TASK_SERVICE).with_(label=f"{n} (Fargate)")
            for n in (names.IMAGES_COPIED, names.IMAGES_FAILED)
        ]
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Planned images", left=planner),
            cloudwatch.GraphWidget(title="Relay results", left=relay),
            cloudwatch.GraphWidget(
                title="Bytes copied", left=[self.metric(names.BYTES_COPIED, names.RELAY_SERVICE)]
            ),
        )
        queues = [copy_queue.metric_approximate_number_of_messages_visible(period=PERIOD)]
        queues += [
            q.metric_approximate_number_of_messages_visible(period=PERIOD)
            for q in dead_letter_queues.values()
        ]
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Queue depth", left=queues),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values())),
        )
        return dashboard
