"""Images too big or too slow for a Lambda relay (15 minutes, 10 GB of /tmp) go to a Fargate task.

The relay knows an image's size from its source manifests before copying: above `size_limit` bytes
it starts one ECS task of the same relay image (functions/relay/task.py, another entry point of the
same code) with the copy message as the task's input, and the message is done. A copy that runs
out of the Lambda's time (skopeo is given the remaining time less a reserve) is handed off the same
way instead of failing. Without a hand-off configured, both stay plain failures, retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from regmirror.aws import names
from regmirror.errors import RegmirrorError
from regmirror.model import CopyResult, FailureReason, SyncItem
from regmirror.registries.sizes import image_bytes
from regmirror.sync.registries import Registries

HANDED_OFF = "handed-off"  # CopyResult.reason of an item given to a Fargate task
# What a copy cut short in Lambda reports: its time limit, or killed (the OOM killer on a large image)
TIMED_OUT = (FailureReason.TIMEOUT, FailureReason.KILLED)
MAX_TASK_INPUT_BYTES = 8192  # ECS limits a RunTask's overrides to 8 KiB; a copy message is ~1 KiB


class HandoffError(RegmirrorError):
    """ECS did not start the task (capacity, permissions, a bad network setting)."""


@dataclass(frozen=True)
class Handoff:
    """Where a large or slow image goes. `start` sends the copy message to a new task, returns its id."""

    size_limit: int  # bytes; an image above it is not copied in Lambda
    timeout_reserve: float  # seconds of the Lambda's time kept back from skopeo for the hand-off
    start: Callable[[str], str]

    def too_big(self, size: int | None) -> bool:
        """Unknown sizes (unreadable manifests) stay in Lambda: skopeo reports the real problem."""
        return size is not None and size > self.size_limit

    def copy_seconds(self, remaining: float, configured: float) -> float:
        """skopeo's time limit inside a Lambda with `remaining` seconds left."""
        return copy_seconds(remaining, configured, self.timeout_reserve)


def copy_seconds(remaining: float, configured: float, reserve: float) -> float:
    """skopeo's time limit: the configured one, cut to the function's time left less `reserve`."""
    return max(1.0, min(configured, remaining - reserve))


def source_bytes(registries: Registries, item: SyncItem) -> int | None:
    """The image's size from its source manifests (the index and each platform's manifest)."""
    source = registries.task(item.task).source
    reference = item.source_digest or item.source.reference
    return image_bytes(registries.client(source), item.source.repository, reference)


def handed_off(item: SyncItem, task_id: str, size: int | None, why: str) -> CopyResult:
    return CopyResult(
        item=item,
        status="skipped",
        reason=HANDED_OFF,
        duration=0.0,
        bytes=size,
        source_digest=item.source_digest,
        target_digest=None,
        error=f"{why}: copied by Fargate task {task_id}",
        attempts=0,
    )


def ecs_task_starter(
    client: Any,
    *,
    cluster: str,
    task_definition: str,
    container: str,
    subnets: list[str],
    security_groups: list[str],
) -> Callable[[str], str]:
    """`start(body)` for a Fargate task whose container gets the message as REGMIRROR_COPY_MESSAGE."""

    def start(body: str) -> str:
        if len(body.encode()) > MAX_TASK_INPUT_BYTES:
            raise HandoffError(f"copy message of {len(body.encode())} bytes exceeds ECS's overrides limit")
        answer = client.run_task(
            cluster=cluster,
            taskDefinition=task_definition,
            launchType="FARGATE",
            count=1,
            startedBy="regmirror-relay",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": subnets,
                    "securityGroups": security_groups,
                    # public subnets without NAT: the task reaches registries through its public IP
                    "assignPublicIp": "ENABLED",
                }
            },
            overrides={
                "containerOverrides": [
                    {"name": container, "environment": [{"name": names.ENV_COPY_MESSAGE, "value": body}]}
                ]
            },
        )
        tasks = answer.get("tasks") or []
        if not tasks:
            raise HandoffError(f"ECS started no task: {json.dumps(answer.get('failures') or [])}")
        return str(tasks[0]["taskArn"]).rsplit("/", 1)[-1]

    return start
