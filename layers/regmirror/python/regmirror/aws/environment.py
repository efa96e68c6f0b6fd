"""One environment model per Lambda function: what its handler reads from the environment, typed and
validated once per invocation, with the defaults `infra/` imports instead of restating them.

A missing or malformed variable is a clear error naming the variable (the stack sets them all).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from regmirror.aws import names

DEFAULT_CHECK_WORKERS = 32  # HEAD requests in flight per planning run: sync.check.CHECK_WORKERS
DEFAULT_HANDOFF_RESERVE_SECONDS = 60  # before the time limit, hand the unchecked rest to the relay
DEFAULT_RETRY_BASE_SECONDS = 60  # backoff before a failed copy message comes back (doubles per try)
DEFAULT_FARGATE_TIMEOUT_RESERVE = 60  # seconds of a relay's time kept to hand a slow copy to Fargate


class BadEnvironment(ValueError):
    """The function's environment is incomplete or malformed (names the variables)."""


class _Environment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        values = dict(os.environ if environ is None else environ)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise BadEnvironment(f"{cls.__name__}: {problems}") from None


class ListerEnvironment(_Environment):
    """The lister Lambda: fans out planning messages and plans one task per message."""

    plan_queue_url: str = Field(validation_alias=names.ENV_PLAN_QUEUE_URL, min_length=1)
    copy_queue_url: str = Field(validation_alias=names.ENV_COPY_QUEUE_URL, min_length=1)
    check_workers: int = Field(
        default=DEFAULT_CHECK_WORKERS, validation_alias=names.ENV_CHECK_WORKERS, ge=1, le=64
    )
    handoff_reserve_seconds: int = Field(
        default=DEFAULT_HANDOFF_RESERVE_SECONDS, validation_alias=names.ENV_HANDOFF_RESERVE, ge=0, le=900
    )


class RelayEnvironment(_Environment):
    """The relay Lambda: one copy per message; with a Fargate cluster, large and slow images go there."""

    retry_base_seconds: int = Field(
        default=DEFAULT_RETRY_BASE_SECONDS, validation_alias=names.ENV_RETRY_BASE_SECONDS, ge=0, le=43200
    )
    fargate_cluster: str = Field(default="", validation_alias=names.ENV_FARGATE_CLUSTER)
    fargate_task_definition: str = Field(default="", validation_alias=names.ENV_FARGATE_TASK_DEFINITION)
    fargate_container: str = Field(default="", validation_alias=names.ENV_FARGATE_CONTAINER)
    fargate_subnets: str = Field(default="", validation_alias=names.ENV_FARGATE_SUBNETS)
    fargate_security_groups: str = Field(default="", validation_alias=names.ENV_FARGATE_SECURITY_GROUPS)
    fargate_size_limit: int = Field(default=0, validation_alias=names.ENV_FARGATE_SIZE_LIMIT, ge=0)
    fargate_timeout_reserve: int = Field(
        default=DEFAULT_FARGATE_TIMEOUT_RESERVE,
        validation_alias=names.ENV_FARGATE_TIMEOUT_RESERVE,
        ge=0,
        le=600,
    )

    @model_validator(mode="after")
    def _fargate_complete(self) -> RelayEnvironment:
        if self.fargate_cluster and not (
            self.fargate_task_definition and self.fargate_container and self.fargate_subnets
        ):
            raise ValueError(
                f"{names.ENV_FARGATE_CLUSTER} needs {names.ENV_FARGATE_TASK_DEFINITION}, "
                f"{names.ENV_FARGATE_CONTAINER} and {names.ENV_FARGATE_SUBNETS}"
            )
        return self

    @property
    def subnets(self) -> list[str]:
        return [s for s in self.fargate_subnets.split(",") if s]

    @property
    def security_groups(self) -> list[str]:
        return [s for s in self.fargate_security_groups.split(",") if s]


class TaskEnvironment(_Environment):
    """The relay's Fargate task: one copy message, given by the relay that handed it off."""

    copy_message: str = Field(validation_alias=names.ENV_COPY_MESSAGE, min_length=1)
    dead_letter_queue_url: str = Field(validation_alias=names.ENV_DEAD_LETTER_QUEUE_URL, min_length=1)


class PushEnvironment(_Environment):
    """The push Lambda: an ECR push event → copy messages."""

    copy_queue_url: str = Field(validation_alias=names.ENV_COPY_QUEUE_URL, min_length=1)
    # JSON {"<ecr host>": "<host as the config writes it>"}; parsed by aws.events.parse_registry_aliases
    registry_aliases: str = Field(default="", validation_alias=names.ENV_PUSH_REGISTRY_ALIASES)
