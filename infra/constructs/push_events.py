"""ECR push events → the push function → exactly the pushed image on the copy queue, within seconds.

ECR sends `ECR Image Action` events to the default event bus of the account and region a push happened
in, so a rule here sees pushes to source registries of this stack's account and region (sources in
other accounts or regions need their events forwarded to this bus; they are otherwise mirrored on
schedule only). The pattern keeps only successful tagged pushes to repositories some mapping can
match: exact names for plain `from`, name prefixes for regex `from` with a literal prefix; the
handler applies the full matching (regex, tags) and enqueues one message per target.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
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
from infra.config_facts import ConfigFacts, PushSource
from infra.constructs.config_secrets import ConfigAndSecrets
from infra.constructs.event_delivery import failures_kept, rule_target
from infra.settings import REPO_ROOT, EnvironmentSettings

PUSH_CODE = REPO_ROOT / "functions" / "push"


def push_event_pattern(source: PushSource) -> dict[str, Any]:
    """The EventBridge pattern (as JSON) for successful tagged pushes to `source`'s repositories."""
    detail: dict[str, Any] = {
        "action-type": ["PUSH"],
        "result": ["SUCCESS"],
        "image-tag": [{"exists": True}],
    }
    if not source.any_repository:
        detail["repository-name"] = [*source.exact, *({"prefix": p} for p in source.prefixes)]
    return {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Action"],
        "account": [source.account],
        "region": [source.region],
        "detail": detail,
    }


class PushEvents(Construct):
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
        self.sources = facts.push_sources_in(settings.account, settings.region)
        log_group = function_log_group(self, "Push", settings)
        role = function_role(
            self, "Push", log_group, "regmirror push: enqueues the image an ECR push event names"
        )
        self.function = python_function(
            self,
            "PushFunction",
            description="regmirror push: ECR push event -> copy message(s) for exactly that image",
            code_dir=str(PUSH_CODE),
            layer=layer,
            role=role,
            log_group=log_group,
            memory_mb=256,
            timeout=Duration.seconds(60),
            architecture=lambda_architecture(settings),
            environment={
                **powertools_environment(names.PUSH_SERVICE, settings),
                **config.environment(),
                names.ENV_COPY_QUEUE_URL: copy_queue.queue_url,
            },
        )
        grant_send(copy_queue, role)
        config.grant_config_read(role, "Push")
        suppress_xray_wildcard(self.function)
        suppress_runtime(self.function)
        failures_kept(self.function, event_dead_letters)
        self.rules = [
            events.Rule(
                self,
                f"EcrPush{index}",
                description=f"regmirror: pushes to {source.registry}"[:512],
                event_pattern=_pattern(source),
                targets=[rule_target(self.function, event_dead_letters)],
            )
            for index, source in enumerate(self.sources)
        ]


def warn_about_other_sources(scope: Construct, settings: EnvironmentSettings, facts: ConfigFacts) -> None:
    here = facts.push_sources_in(settings.account, settings.region)
    for other in facts.push_sources:
        if other not in here:
            Annotations.of(scope).add_warning_v2(
                "regmirror:push-events-elsewhere",
                f"source {other.registry} is in {other.account}/{other.region}, not this stack's "
                f"{settings.account}/{settings.region}: its pushes reach this stack only if forwarded",
            )


def _pattern(source: PushSource) -> events.EventPattern:
    raw = push_event_pattern(source)
    return events.EventPattern(
        source=raw["source"],
        detail_type=raw["detail-type"],
        account=raw["account"],
        region=raw["region"],
        detail=raw["detail"],
    )
