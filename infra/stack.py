"""The regmirror stack of one environment: wires the constructs together."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Fn, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from regmirror.errors import ConfigError

from infra.bundling import core_layer_code
from infra.common import lambda_architecture
from infra.config_facts import ConfigFacts, push_loops, read_config_facts
from infra.constructs.config_secrets import ConfigAndSecrets
from infra.constructs.large_images import LargeImages
from infra.constructs.monitoring import Monitoring
from infra.constructs.push_events import PushEvents, warn_about_other_sources
from infra.constructs.queue_relay import QueueAndRelay, dead_letter_queue, relay_image
from infra.constructs.schedule_lister import ScheduleAndLister
from infra.settings import EnvironmentSettings


class RegmirrorStack(Stack):
    def __init__(
        self,
        scope: Construct,
        settings: EnvironmentSettings,
        facts: ConfigFacts | None = None,
    ) -> None:
        super().__init__(
            scope,
            settings.stack_name,
            env=Environment(account=settings.account, region=settings.region),
            description=settings.description or f"regmirror ({settings.name}): mirrors container images",
        )
        self.settings = settings
        self.facts = facts or read_config_facts(settings.config_path)
        Tags.of(self).add("regmirror:environment", settings.name)
        for key, value in settings.tags.items():
            Tags.of(self).add(key, value)
        self._build()

    @property
    def availability_zones(self) -> list[str]:
        """Two of the region's zones, chosen by CloudFormation (Fn::GetAZs) at deploy time: CDK's
        default asks the account at synth, which fails without AWS credentials (CI, `cdk synth`)."""
        return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]

    def _build(self) -> None:
        settings = self.settings

        self.config = ConfigAndSecrets(self, "Config", settings=settings, facts=self.facts)
        self.layer = lambda_.LayerVersion(
            self,
            "CoreLayer",
            code=core_layer_code(settings.architecture),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_architecture(settings)],
            description="regmirror core package with its pinned runtime dependencies",
        )
        self.copy = QueueAndRelay(self, "Copy", settings=settings, config=self.config)
        self.large_images = (
            LargeImages(
                self,
                "LargeImages",
                settings=settings,
                config=self.config,
                image=relay_image(self, settings),
                relay=self.copy.function,
                dead_letter_queue=self.copy.dead_letter_queue,
            )
            if settings.large_images.enabled
            else None
        )
        # scheduled and push events that could not be delivered or handled (infra.constructs.event_delivery)
        self.event_dead_letters = dead_letter_queue(
            self, "EventDeadLetterQueue", settings.queue.dlq_retention_days
        )
        self.planning = ScheduleAndLister(
            self,
            "Planning",
            settings=settings,
            facts=self.facts,
            config=self.config,
            layer=self.layer,
            copy_queue=self.copy.queue,
            event_dead_letters=self.event_dead_letters,
        )
        self.push = self._push_events()
        functions: dict[str, lambda_.IFunction] = {
            "Lister": self.planning.function,
            "Relay": self.copy.function,
        }
        if self.push is not None:
            functions["Push"] = self.push.function
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            functions=functions,
            dead_letter_queues={
                "CopyQueue": self.copy.dead_letter_queue,
                "PlanQueue": self.planning.dead_letter_queue,
                "Events": self.event_dead_letters,
            },
            copy_queue=self.copy.queue,
        )
        self._outputs()

    def _push_events(self) -> PushEvents | None:
        """Only when some source is an ECR registry of this account and region (others: a warning)."""
        settings = self.settings
        warn_about_other_sources(self, settings, self.facts)
        if not (settings.push_events and self.facts.push_sources_in(settings.account, settings.region)):
            return None
        loops = push_loops(self.facts, settings.account, settings.region)
        if loops:
            raise ConfigError(loops)
        return PushEvents(
            self,
            "Push",
            settings=settings,
            facts=self.facts,
            config=self.config,
            layer=self.layer,
            copy_queue=self.copy.queue,
            event_dead_letters=self.event_dead_letters,
        )

    def _outputs(self) -> None:
        CfnOutput(self, "CopyQueueUrl", value=self.copy.queue.queue_url)
        CfnOutput(self, "PlanQueueUrl", value=self.planning.queue.queue_url)
        CfnOutput(self, "ListerFunctionName", value=self.planning.function.function_name)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
