"""Each Lambda function's environment model: defaults shared with infra/, clear errors."""

from __future__ import annotations

import pytest
from regmirror.aws import names
from regmirror.aws.environment import (
    DEFAULT_CHECK_WORKERS,
    DEFAULT_HANDOFF_RESERVE_SECONDS,
    DEFAULT_RETRY_BASE_SECONDS,
    BadEnvironment,
    ListerEnvironment,
    PushEnvironment,
    RelayEnvironment,
)

from infra.settings import ListerSettings, RelaySettings

QUEUES = {names.ENV_PLAN_QUEUE_URL: "https://sqs/plan", names.ENV_COPY_QUEUE_URL: "https://sqs/copy"}


def test_defaults_are_the_stacks_defaults() -> None:
    lister = ListerEnvironment.from_env(QUEUES)
    assert (lister.check_workers, lister.handoff_reserve_seconds) == (
        ListerSettings().check_workers,
        ListerSettings().handoff_reserve_seconds,
    )
    assert (lister.check_workers, lister.handoff_reserve_seconds) == (
        DEFAULT_CHECK_WORKERS,
        DEFAULT_HANDOFF_RESERVE_SECONDS,
    )
    assert RelayEnvironment.from_env({}).retry_base_seconds == RelaySettings().retry_base_seconds
    assert RelaySettings().retry_base_seconds == DEFAULT_RETRY_BASE_SECONDS


def test_values_are_read_from_the_variables_the_stack_sets() -> None:
    env = ListerEnvironment.from_env(
        {**QUEUES, names.ENV_CHECK_WORKERS: "3", names.ENV_HANDOFF_RESERVE: "90"}
    )
    assert (env.plan_queue_url, env.copy_queue_url, env.check_workers, env.handoff_reserve_seconds) == (
        "https://sqs/plan",
        "https://sqs/copy",
        3,
        90,
    )
    assert RelayEnvironment.from_env({names.ENV_RETRY_BASE_SECONDS: "1"}).retry_base_seconds == 1
    push = PushEnvironment.from_env({names.ENV_COPY_QUEUE_URL: "q", names.ENV_PUSH_REGISTRY_ALIASES: "{}"})
    assert (push.copy_queue_url, push.registry_aliases) == ("q", "{}")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, names.ENV_PLAN_QUEUE_URL),
        ({**QUEUES, names.ENV_CHECK_WORKERS: "eight"}, names.ENV_CHECK_WORKERS),
        ({**QUEUES, names.ENV_CHECK_WORKERS: "0"}, names.ENV_CHECK_WORKERS),
        ({**QUEUES, names.ENV_COPY_QUEUE_URL: ""}, names.ENV_COPY_QUEUE_URL),
    ],
)
def test_a_missing_or_malformed_variable_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(BadEnvironment, match=named):
        ListerEnvironment.from_env(environ)


def test_the_listers_default_check_workers_are_the_sync_packages() -> None:
    """Kept as a literal (the stack imports these defaults without the sync package): the same figure."""
    from regmirror.sync.check import CHECK_WORKERS

    assert DEFAULT_CHECK_WORKERS == CHECK_WORKERS
