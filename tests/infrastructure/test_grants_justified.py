"""No excess permission: every action a function's role is granted has a reason, checked where it can be.

The AWS integration tests prove the other direction (every call the code makes is granted: they run
under moto's IAM enforcement, tests/integration/aws_iam.py). This table is the reverse: each granted
action of each function, synthesized from the maximal config, and why it is there:

- `Api(method)`: the function's code calls that boto3 method (checked: the call is in the source);
- `Registry(request)`: a registry-API request to ECR that IAM authorizes as that action (skopeo's pulls
  and pushes; the planner's manifest and tag reads). moto is no registry: these are checked against
  AWS's documented mapping only by this table;
- `Service(who)`: AWS itself acts with the function's role (Lambda's SQS poller, log and trace upload,
  the async-invoke destination, ECR creating a KMS-encrypted repository).

A granted action missing here fails (an excess grant, or a new need without a reason); an entry no
longer granted fails too, so the table cannot rot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.aws_grants import granted_actions

ROOT = Path(__file__).resolve().parents[2]
CODE = [ROOT / "layers" / "regmirror" / "python" / "regmirror", ROOT / "functions"]


@dataclass(frozen=True)
class Api:
    method: str  # the boto3 client method (or paginator / Powertools helper) the code calls


@dataclass(frozen=True)
class Registry:
    request: str


@dataclass(frozen=True)
class Service:
    who: str


Reason = Api | Registry | Service

_SQS_POLLER = Service("Lambda's SQS event source (receives, deletes, extends and reads the queue)")
_TELEMETRY = {
    "logs:CreateLogStream": Service("Lambda writing the function's log group"),
    "logs:PutLogEvents": Service("Lambda writing the function's log group"),
    "xray:PutTraceSegments": Service("active tracing"),
    "xray:PutTelemetryRecords": Service("active tracing"),
}
_CONSUMER = {
    "sqs:ReceiveMessage": _SQS_POLLER,
    "sqs:DeleteMessage": _SQS_POLLER,
    "sqs:GetQueueAttributes": _SQS_POLLER,
    # CDK's grantConsumeMessages grants it too; no poller or handler asks for it (left alone: CDK's).
    "sqs:GetQueueUrl": Service("CDK's SqsEventSource grant (grantConsumeMessages)"),
}
_CONFIG = {"s3:GetObject": Api("get_object")}
_CREDENTIALS = {
    "secretsmanager:GetSecretValue": Api("get_secret"),  # Powertools Parameters
    "sts:AssumeRole": Api("assume_role"),
    "ecr:GetAuthorizationToken": Api("get_authorization_token"),
    "ecr-public:GetAuthorizationToken": Api("get_authorization_token"),
    "sts:GetServiceBearerToken": Service("ecr-public:GetAuthorizationToken (AWS requires both)"),
}

# What copying into the targets takes (the relay and its Fargate task).
_COPY: dict[str, Reason] = {
    "ecr:BatchGetImage": Registry("manifest GET/HEAD (skopeo's pull, the checks)"),
    "ecr:GetDownloadUrlForLayer": Registry("blob GET (skopeo's pull)"),
    "ecr:ListImages": Registry("tags/list (why an image is missing at the source)"),
    "ecr:DescribeImages": Api("describe_images"),
    "ecr:BatchCheckLayerAvailability": Registry("blob HEAD before each upload (skopeo's push)"),
    "ecr:InitiateLayerUpload": Registry("blob upload POST (skopeo's push)"),
    "ecr:UploadLayerPart": Registry("blob upload PATCH (skopeo's push)"),
    "ecr:CompleteLayerUpload": Registry("blob upload PUT (skopeo's push)"),
    "ecr:PutImage": Registry("manifest PUT (skopeo's push)"),
    "ecr:DescribeRepositories": Api("describe_repositories"),
    "ecr:CreateRepository": Api("create_repository"),
    "ecr:TagResource": Service("ECR, for CreateRepository with tags"),
    "ecr:PutLifecyclePolicy": Api("put_lifecycle_policy"),
    "kms:CreateGrant": Service("ECR creating a KMS-encrypted repository"),
    "kms:RetireGrant": Service("ECR creating a KMS-encrypted repository"),
    "kms:DescribeKey": Service("ECR creating a KMS-encrypted repository"),
    "ecr-public:BatchCheckLayerAvailability": Registry("blob HEAD (skopeo's push to public ECR)"),
    "ecr-public:InitiateLayerUpload": Registry("blob upload POST (public ECR)"),
    "ecr-public:UploadLayerPart": Registry("blob upload PATCH (public ECR)"),
    "ecr-public:CompleteLayerUpload": Registry("blob upload PUT (public ECR)"),
    "ecr-public:PutImage": Registry("manifest PUT (public ECR)"),
    "ecr-public:DescribeRepositories": Api("describe_repositories"),
    "ecr-public:DescribeImages": Api("describe_images"),
    "ecr-public:CreateRepository": Api("create_repository"),
    "ecr-public:TagResource": Service("ECR Public, for CreateRepository with tags"),
}

JUSTIFIED: dict[str, dict[str, Reason]] = {
    "lister": {
        **_TELEMETRY,
        **_CONSUMER,
        **_CONFIG,
        **_CREDENTIALS,
        # one planning message per task and a continuation; one copy message per image; and Lambda's
        # async on-failure destination for scheduled invocations (the same action on the event DLQ)
        "sqs:SendMessage": Api("send_message_batch"),
        "sqs:ChangeMessageVisibility": Api("change_message_visibility"),
        "ecr:DescribeRepositories": Api("describe_repositories"),
        "ecr:DescribeImages": Api("describe_images"),
        "ecr:BatchGetImage": Registry("manifest GET/HEAD (digest checks of sources and targets)"),
        "ecr:ListImages": Registry("tags/list (tag selection)"),
    },
    "relay": {
        **_TELEMETRY,
        **_CONSUMER,
        **_CONFIG,
        **_CREDENTIALS,
        "sqs:SendMessage": Api("send_message"),  # a copy deferred by a rate-limit budget, delayed
        "sqs:ChangeMessageVisibility": Api("change_message_visibility"),
        **_COPY,
        "ecs:RunTask": Api("run_task"),  # an image too big or too slow for Lambda → Fargate
        "iam:PassRole": Service("ECS, starting the task with its two roles (RunTask)"),
    },
    "push": {
        **_TELEMETRY,
        **_CONFIG,
        # the pushed image's copy message; and Lambda's async on-failure destination (the event DLQ)
        "sqs:SendMessage": Api("send_message_batch"),
        # CDK's SqsDestination grants them with SendMessage on the event DLQ (grantSendMessages)
        "sqs:GetQueueAttributes": Service("CDK's on-failure destination grant (left alone: CDK's)"),
        "sqs:GetQueueUrl": Service("CDK's on-failure destination grant (left alone: CDK's)"),
    },
    # the relay's Fargate task (its execution role, CDK's, pulls the image and writes the logs)
    "task": {
        **_CONFIG,
        **_CREDENTIALS,
        **_COPY,
        "sqs:SendMessage": Api("send_message"),  # a message it could not copy, into the copy DLQ
    },
}


@pytest.fixture(scope="module")
def granted() -> dict[str, tuple[str, ...]]:
    return granted_actions()


@pytest.mark.parametrize("function", sorted(JUSTIFIED))
def test_every_granted_action_has_a_reason(function: str, granted: dict[str, tuple[str, ...]]) -> None:
    actions = set(granted[function])
    assert not any("*" in a for a in actions), "a wildcard action cannot be justified"
    excess = sorted(actions - set(JUSTIFIED[function]))
    assert not excess, f"{function}: granted without a reason (excess, or add why): {excess}"
    stale = sorted(set(JUSTIFIED[function]) - actions)
    assert not stale, f"{function}: reasons for actions no longer granted: {stale}"


def _code_text() -> str:
    return "\n".join(p.read_text() for folder in CODE for p in sorted(folder.rglob("*.py")))


@pytest.mark.parametrize("function", sorted(JUSTIFIED))
def test_every_api_reason_is_a_call_the_code_makes(function: str) -> None:
    code = _code_text()
    for action, reason in JUSTIFIED[function].items():
        if isinstance(reason, Api):
            called = re.search(rf"\.{reason.method}\(|get_paginator\(\"{reason.method}\"\)", code)
            assert called, f"{function}: {action} is justified by {reason.method}, which no code calls"


def test_registry_reasons_name_only_registry_api_actions() -> None:
    """A `Registry` reason is for the ECR actions the registry API maps to, nothing else."""
    registry_actions = {
        "BatchGetImage",
        "GetDownloadUrlForLayer",
        "ListImages",
        "BatchCheckLayerAvailability",
        "InitiateLayerUpload",
        "UploadLayerPart",
        "CompleteLayerUpload",
        "PutImage",
    }
    for function, table in JUSTIFIED.items():
        for action, reason in table.items():
            if isinstance(reason, Registry):
                service, name = action.split(":")
                assert service in ("ecr", "ecr-public") and name in registry_actions, (function, action)
