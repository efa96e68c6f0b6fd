"""Fargate for images too big or too slow for the relay Lambda (settings `large_images`).

An ECS cluster, a Fargate task definition running the relay's own image with its other entry point
(functions/relay/task.py), a task role with the relay's registry grants, and the relay's right to
start exactly that task (ecs:RunTask on that task definition in this cluster, iam:PassRole on its two
roles for ECS only). The relay gets the task's coordinates in its environment
(regmirror.aws.environment.RelayEnvironment); a failed task puts its message into the copy DLQ.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_ecr_assets import DockerImageAsset
from constructs import Construct
from regmirror.aws import names

from infra.common import acknowledge, function_log_group, grant_send, powertools_environment
from infra.constructs.config_secrets import ConfigAndSecrets
from infra.settings import EnvironmentSettings, LargeImageSettings

CONTAINER = "relay"
# The Lambda base image's entry point is the runtime interface client; the task runs the script.
TASK_COMMAND = ["/var/lang/bin/python3", "/var/task/task.py"]
IMAGE_PULL_REASON = (
    "The execution role's ecr:GetAuthorizationToken (to pull the relay image) has no resource type; "
    "its pull actions are scoped to the image's repository."
)
ENVIRONMENT_REASON = (
    "The task's environment holds names only (config object, queue URL, Powertools settings); "
    "credentials come from Secrets Manager at run time, never from the task definition."
)


class LargeImages(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        config: ConfigAndSecrets,
        image: DockerImageAsset,
        relay: lambda_.Function,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        large = settings.large_images
        subnets, security_groups, vpc = self._network(large)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="regmirror relay task: copies one large image handed off by the relay",
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=large.cpu,
            memory_limit_mib=large.memory_mb,
            ephemeral_storage_gib=large.ephemeral_storage_gb,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64
                if settings.architecture == "arm64"
                else ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        log_group = function_log_group(self, "Task", settings)
        self.task_definition.add_container(
            CONTAINER,
            image=ecs.ContainerImage.from_docker_image_asset(image),
            entry_point=TASK_COMMAND,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="relay", log_group=log_group),
            environment={
                **powertools_environment(names.TASK_SERVICE, settings),
                **config.environment(),
                names.ENV_SECRET_MAX_AGE: str(names.DEFAULT_SECRET_MAX_AGE),
                names.ENV_DEAD_LETTER_QUEUE_URL: dead_letter_queue.queue_url,
                "TMPDIR": "/tmp",  # noqa: S108 - the task's ephemeral storage
                "HOME": "/tmp",  # noqa: S108
            },
        )
        acknowledge(self.task_definition, "AwsSolutions-ECS2", ENVIRONMENT_REASON)
        # the execution role (CDK's): pulls the image and writes the log group
        acknowledge(self.task_definition, "AwsSolutions-IAM5[Resource::*]", IMAGE_PULL_REASON)
        config.grant_config_read(self.task_role, "Task")
        config.grant_registry_access(self.task_role, "Task", write_targets=True)
        grant_send(dead_letter_queue, self.task_role)
        self._allow_start(relay)
        relay.add_environment(names.ENV_FARGATE_CLUSTER, self.cluster.cluster_arn)
        relay.add_environment(names.ENV_FARGATE_TASK_DEFINITION, self.task_definition.task_definition_arn)
        relay.add_environment(names.ENV_FARGATE_CONTAINER, CONTAINER)
        relay.add_environment(names.ENV_FARGATE_SUBNETS, ",".join(subnets))
        relay.add_environment(names.ENV_FARGATE_SECURITY_GROUPS, ",".join(security_groups))
        relay.add_environment(names.ENV_FARGATE_SIZE_LIMIT, str(large.size_limit_mb * 1024 * 1024))
        relay.add_environment(names.ENV_FARGATE_TIMEOUT_RESERVE, str(large.timeout_reserve_seconds))

    def _network(self, large: LargeImageSettings) -> tuple[list[str], list[str], ec2.IVpc]:
        """The user's subnets and security groups, or a VPC of two public subnets without NAT."""
        if large.vpc_id:
            vpc = ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=large.vpc_id,
                availability_zones=Stack.of(self).availability_zones,
            )
            return large.subnet_ids, large.security_group_ids, vpc
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)
            ],
            restrict_default_security_group=False,  # no custom-resource Lambda; nothing uses it
            flow_logs={
                "all": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
            },
        )
        group = ec2.SecurityGroup(
            self,
            "TaskSecurityGroup",
            vpc=vpc,
            description="regmirror relay task: outbound only",
            allow_all_outbound=True,
        )
        return [s.subnet_id for s in vpc.public_subnets], [group.security_group_id], vpc

    def _allow_start(self, relay: lambda_.Function) -> None:
        role = relay.role
        assert role is not None
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="StartLargeImageTask",
                actions=["ecs:RunTask"],
                resources=[self.task_definition.task_definition_arn],
                conditions={"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}},
            )
        )
        execution_role = self.task_definition.execution_role
        assert isinstance(execution_role, iam.Role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassLargeImageTaskRoles",
                actions=["iam:PassRole"],
                resources=[self.task_role.role_arn, execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
