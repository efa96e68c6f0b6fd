"""Push Lambda: an ECR push event → copy messages for exactly the pushed image, one per matching mapping.

The event's registry (`<account>.dkr.ecr.<region>.amazonaws.com`) selects the tasks whose source it
is; `REGMIRROR_PUSH_REGISTRY_ALIASES` (JSON `{"<ecr host>": "<host as the config writes it>"}`) maps
it when a config names that registry differently (a pull-through name, a proxy, a test registry).
The relay checks digests before copying, so a repeated event costs no second copy.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from regmirror.aws import names
from regmirror.aws.config_source import load_lambda_config
from regmirror.aws.environment import PushEnvironment
from regmirror.aws.events import parse_push_event, parse_registry_aliases
from regmirror.aws.observability import TRACED_MODULES, route_core_logs
from regmirror.aws.planner import tag_item
from regmirror.aws.sqs import QueueSender
from regmirror.sync.enumerate import plan_push_event

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
route_core_logs(logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    push = parse_push_event(event)
    metrics.add_metric(name=names.PUSH_EVENTS, unit=MetricUnit.Count, value=1)
    if push is None:
        logger.info("not a tagged successful push: nothing to do")
        return {"queued": 0}
    env = PushEnvironment.from_env()
    aliases = parse_registry_aliases(env.registry_aliases)
    registry = aliases.get(push.registry_host.lower(), push.registry_host)
    logger.append_keys(registry=registry, repository=push.repository, tag=push.tag)
    items = [
        tag_item(item, trigger="push", correlation_id=push.event_id, pushed_digest=push.digest)
        for item in plan_push_event(load_lambda_config(), registry, push.repository, push.tag)
    ]
    sent = QueueSender(env.copy_queue_url).send_items(items) if items else 0
    metrics.add_metric(name=names.IMAGES_ENQUEUED, unit=MetricUnit.Count, value=sent)
    targets = [str(item.target) for item in items]
    logger.info("push event handled", extra={"queued": sent, "targets": targets})
    return {"queued": sent, "targets": targets}
