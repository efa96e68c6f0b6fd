"""The events the functions receive, parsed into small typed values (ValueError on a wrong shape).

- Scheduled event (EventBridge rule → lister): the rule's target input keeps the scheduled event's
  envelope and names the task in `detail.tasks`; a manual invocation may send `{"run": "<regex>"}`
  (dregsy's `-run`: full match on task names) or `{"tasks": [...]}`.
- Planning message (plan queue → lister): one task to plan, with the correlation id of its trigger.
- ECR push event (`aws.ecr`, `ECR Image Action`): the pushed repository, tag and digest.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

PLAN_MESSAGE_VERSION = 1
PLAN_KIND = "plan-task"
_ECR_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Which tasks a scheduled or manual invocation asks for: names, or a regex (None: all)."""

    tasks: tuple[str, ...] = ()
    pattern: str | None = None
    correlation_id: str | None = None
    trigger: str = "schedule"


_FIFO_ID = re.compile(r"[A-Za-z0-9!-/:-@\[-`{-~]{1,128}")  # the characters SQS allows in FIFO ids


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PlanMessage:
    task: str
    correlation_id: str | None = None
    trigger: str = "schedule"

    def to_message(self) -> str:
        body = {
            "v": PLAN_MESSAGE_VERSION,
            "kind": PLAN_KIND,
            "task": self.task,
            "correlation_id": self.correlation_id,
            "trigger": self.trigger,
        }
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    def fifo_keys(self) -> tuple[str, str]:
        """(MessageGroupId, MessageDeduplicationId) on the FIFO planning queue: one group per task, so
        SQS hands out a task's next planning run only once the previous one is done (never two
        planners of one task at once); one id per trigger (a schedule tick's event id), so a
        redelivered tick is planned once."""
        group = self.task if _FIFO_ID.fullmatch(self.task) else "task-" + _digest(self.task)[:40]
        return group, _digest(f"{self.task}\n{self.trigger}\n{self.correlation_id or uuid.uuid4()}")

    @classmethod
    def from_message(cls, body: str) -> PlanMessage:
        data = _object(json.loads(body), "planning message")
        if (data.get("v"), data.get("kind")) != (PLAN_MESSAGE_VERSION, PLAN_KIND):
            raise ValueError("not a regmirror planning message (missing or unknown 'v'/'kind')")
        task = _text(data.get("task"))
        if task is None:
            raise ValueError("planning message without a task name")
        return cls(task, _text(data.get("correlation_id")), _text(data.get("trigger")) or "schedule")


@dataclass(frozen=True, slots=True)
class PushEvent:
    account: str
    region: str
    repository: str
    tag: str
    digest: str | None
    event_id: str | None

    @property
    def registry_host(self) -> str:
        """The private ECR registry the push went to, as a config names it."""
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"{self.account}.dkr.ecr.{self.region}.{suffix}"


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what}: expected a JSON object")
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def is_sqs_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return False
    return all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)


def _names(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(_text(v) for v in value):
        return tuple(value)
    raise ValueError(f"'{field}' must be a list of task names")


def _scheduled(event: dict[str, Any]) -> RunRequest:
    detail = event.get("detail")
    tasks = _names(detail.get("tasks") if isinstance(detail, dict) else None, "detail.tasks")
    if not tasks:
        raise ValueError("scheduled event without detail.tasks: the schedule rule's input names the task")
    return RunRequest(tasks=tasks, correlation_id=_text(event.get("id")), trigger="schedule")


def parse_run_request(event: Any) -> RunRequest:
    """A scheduled event (tasks in `detail.tasks`) or a manual `{"run": regex}` / `{"tasks": [...]}`."""
    event = _object(event, "invocation")
    if event.get("detail-type") == "Scheduled Event":
        return _scheduled(event)
    pattern = event.get("run")
    if pattern is not None and not isinstance(pattern, str):
        raise ValueError("'run' must be a regular expression (string)")
    tasks = _names(event.get("tasks"), "tasks")
    if pattern is None and not tasks:
        raise ValueError('expected a scheduled event, {"run": "<task regex>"} or {"tasks": ["name", ...]}')
    return RunRequest(tasks=tasks, pattern=pattern, correlation_id=_text(event.get("id")), trigger="manual")


def _ecr_detail(event: Any) -> dict[str, Any]:
    event = _object(event, "event")
    if (event.get("source"), event.get("detail-type")) != ("aws.ecr", "ECR Image Action"):
        raise ValueError("not an ECR image action event (source aws.ecr, detail-type 'ECR Image Action')")
    return _object(event.get("detail"), "ECR event detail")


def _account_region(event: dict[str, Any]) -> tuple[str, str]:
    account, region = str(event.get("account", "")), str(event.get("region", ""))
    if not (_ACCOUNT.match(account) and _ECR_REGION.match(region)):
        raise ValueError(f"ECR event with invalid account/region {account!r}/{region!r}")
    return account, region


def parse_push_event(event: Any) -> PushEvent | None:
    """The pushed image of a successful ECR push event; None for a push without tag or not a push.

    Raises ValueError when the event is not an ECR image action at all."""
    detail = _ecr_detail(event)
    if (detail.get("action-type"), detail.get("result")) != ("PUSH", "SUCCESS"):
        return None
    account, region = _account_region(event)
    repository, tag = _text(detail.get("repository-name")), _text(detail.get("image-tag"))
    if repository is None:
        raise ValueError("ECR push event without repository-name")
    if tag is None:
        return None  # pushed by digest only: no tag to mirror
    return PushEvent(
        account, region, repository, tag, _text(detail.get("image-digest")), _text(event.get("id"))
    )


def parse_registry_aliases(raw: str) -> dict[str, str]:
    """`{"<ecr host>": "<host as the config writes it>"}` (JSON) → lower-cased keys; '' → {}."""
    aliases = _object(json.loads(raw), "registry aliases") if raw.strip() else {}
    if not all(isinstance(v, str) for v in aliases.values()):
        raise ValueError("registry aliases must map host names to host names")
    return {str(k).lower(): v for k, v in aliases.items()}
