"""Building blocks every function construct shares: its log group, its role, its Powertools settings."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.settings import EnvironmentSettings

# CloudWatch Logs retention periods (days) by CDK enum member; settings validate the number.
RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
}

XRAY_REASON = (
    "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions (AWS docs: "
    "'Resource: *' is required); added by CDK for active tracing and grant nothing but trace upload."
)
RUNTIME_REASON = (
    "Python 3.12 is a supported Lambda runtime (deprecation 2028-10). It is pinned on purpose: the core "
    "layer's binary wheels are built for --python-version 3.12 and the relay image uses the python:3.12 "
    "base image; moving to a newer runtime changes all three together."
)


def function_log_group(scope: Construct, name: str, settings: EnvironmentSettings) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        f"{name}Logs",
        retention=RETENTION_DAYS[settings.log_retention_days],
        removal_policy=RemovalPolicy.DESTROY,
    )


def function_role(scope: Construct, name: str, log_group: logs.LogGroup, description: str) -> iam.Role:
    """A role that can write to its own log group and nothing else yet (no AWS managed policies)."""
    role = iam.Role(
        scope,
        f"{name}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )
    log_group.grant_write(role)
    return role


def grant_send(queue: sqs.IQueue, role: iam.IRole) -> None:
    """`sqs:SendMessage` on `queue` only: CDK's `grant_send_messages` adds GetQueueAttributes and
    GetQueueUrl, which no handler calls (the queue URL comes from the environment)."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
    )


def powertools_environment(service: str, settings: EnvironmentSettings) -> dict[str, str]:
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": settings.metrics_namespace,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",  # events hold no secrets, but can be large
    }


def acknowledge(scope: Construct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (`Rule` or `Rule[Finding]`) on scope and its children."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def suppress_xray_wildcard(function: lambda_.Function) -> None:
    """Active tracing puts `xray:*` on `Resource: *` into the role's default policy."""
    role = function.role
    if isinstance(role, Construct):
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", XRAY_REASON)


def suppress_runtime(function: lambda_.Function) -> None:
    acknowledge(function, "AwsSolutions-L1", RUNTIME_REASON)


def stack_partition(scope: Construct) -> str:
    return Stack.of(scope).partition


def lambda_architecture(settings: EnvironmentSettings) -> lambda_.Architecture:
    return lambda_.Architecture.ARM_64 if settings.architecture == "arm64" else lambda_.Architecture.X86_64


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    code_dir: str,
    layer: lambda_.ILayerVersion,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    memory_mb: int,
    timeout: Duration,
    environment: dict[str, str],
    architecture: lambda_.Architecture = lambda_.Architecture.X86_64,
) -> lambda_.Function:
    """A zip Python 3.12 handler (`handler.lambda_handler`) on the core layer, traced, with its own
    role and log group (asynchronous invocations: `constructs.event_delivery.failures_kept`)."""
    return lambda_.Function(
        scope,
        construct_id,
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=architecture,
        handler="handler.lambda_handler",
        code=lambda_.Code.from_asset(code_dir, exclude=["__pycache__", "*.pyc"]),
        layers=[layer],
        memory_size=memory_mb,
        timeout=timeout,
        role=role,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        environment=environment,
    )
