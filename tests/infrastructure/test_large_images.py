"""`large_images`: a Fargate task of the relay image for images too big or too slow for Lambda."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from regmirror.aws import names
from regmirror.aws.environment import RelayEnvironment

from infra.constructs.large_images import CONTAINER, TASK_COMMAND
from infra.settings import REPO_ROOT, SettingsError, load_environment
from tests.infrastructure.conftest import Synthesized, make_settings, synth_stack
from tests.infrastructure.test_stack import arn_of, ref, role_id_of, statements_of, write_config

ON = {"enabled": True, "size_limit_mb": 2048, "cpu": 2048, "memory_mb": 8192, "ephemeral_storage_gb": 120}


@pytest.fixture(scope="module", name="s")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    config = write_config(tmp_path_factory.mktemp("config"))
    return synth_stack(make_settings(config, large_images=ON), tmp_path_factory.mktemp("cdk.out"))


def only(s: Synthesized, kind: str) -> tuple[str, dict[str, Any]]:
    (found,) = s.resources(kind).items()
    return found[0], found[1]["Properties"]


def relay_variables(s: Synthesized) -> dict[str, Any]:
    return dict(
        s.raw["Resources"][s.logical_id(s.stack.copy.function)]["Properties"]["Environment"]["Variables"]
    )


def test_the_task_runs_the_relay_image_itself_with_its_other_entry_point(s: Synthesized) -> None:
    # one image asset: the Lambda and the task build the same Dockerfile with the same options
    assert len(s.assets["dockerImages"]) == 1
    (image_hash,) = s.assets["dockerImages"]
    _, definition = only(s, "AWS::ECS::TaskDefinition")
    (container,) = definition["ContainerDefinitions"]
    assert image_hash in json.dumps(container["Image"])
    relay = s.raw["Resources"][s.logical_id(s.stack.copy.function)]["Properties"]
    assert image_hash in json.dumps(relay["Code"]["ImageUri"])
    assert container["Name"] == CONTAINER and container["EntryPoint"] == TASK_COMMAND
    # the script is where the Dockerfile puts it (LAMBDA_TASK_ROOT is /var/task in the base image)
    dockerfile = (REPO_ROOT / "functions/relay/Dockerfile").read_text()
    assert "COPY functions/relay/handler.py functions/relay/task.py ${LAMBDA_TASK_ROOT}/" in dockerfile
    assert TASK_COMMAND[-1] == "/var/task/task.py" and '"${LAMBDA_TASK_ROOT}/task.py"' in dockerfile
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"


def test_the_task_is_sized_by_the_settings_and_knows_the_config_and_the_dead_letter_queue(
    s: Synthesized,
) -> None:
    _, definition = only(s, "AWS::ECS::TaskDefinition")
    assert (definition["Cpu"], definition["Memory"]) == ("2048", "8192")
    assert definition["EphemeralStorage"] == {"SizeInGiB": 120}
    assert definition["RequiresCompatibilities"] == ["FARGATE"] and definition["NetworkMode"] == "awsvpc"
    assert definition["RuntimePlatform"]["CpuArchitecture"] == "X86_64"
    (container,) = definition["ContainerDefinitions"]
    variables = {v["Name"]: v["Value"] for v in container["Environment"]}
    assert variables[names.ENV_DEAD_LETTER_QUEUE_URL] == ref(s.logical_id(s.stack.copy.dead_letter_queue))
    assert {names.ENV_CONFIG_BUCKET, names.ENV_CONFIG_KEY, names.ENV_CONFIG_NAME} <= set(variables)
    assert variables["POWERTOOLS_SERVICE_NAME"] == names.TASK_SERVICE
    assert variables["TMPDIR"] == "/tmp"
    assert not any("secret" in str(v).lower() and "arn:" in str(v) for v in variables.values())


def test_the_relay_is_told_where_the_task_is_and_its_environment_model_reads_it(s: Synthesized) -> None:
    variables = relay_variables(s)
    cluster_id, _ = only(s, "AWS::ECS::Cluster")
    definition_id, _ = only(s, "AWS::ECS::TaskDefinition")
    assert variables[names.ENV_FARGATE_CLUSTER] == arn_of(cluster_id)
    assert variables[names.ENV_FARGATE_TASK_DEFINITION] == ref(definition_id)
    assert variables[names.ENV_FARGATE_SIZE_LIMIT] == str(2048 * 1024 * 1024)
    concrete = {k: v if isinstance(v, str) else f"token-{k}" for k, v in variables.items()}
    environment = RelayEnvironment.from_env(concrete)
    assert environment.fargate_size_limit == 2048 * 1024 * 1024
    assert environment.fargate_timeout_reserve == 60
    assert environment.fargate_container == CONTAINER


def test_the_relay_may_start_only_that_task_in_that_cluster_and_pass_only_its_roles(s: Synthesized) -> None:
    statements = {st.get("Sid"): st for st in statements_of(s, role_id_of(s, s.stack.copy.function))}
    cluster_id, _ = only(s, "AWS::ECS::Cluster")
    definition_id, definition = only(s, "AWS::ECS::TaskDefinition")
    start = statements["StartLargeImageTask"]
    assert (start["Action"], start["Resource"]) == ("ecs:RunTask", ref(definition_id))
    assert start["Condition"] == {"ArnEquals": {"ecs:cluster": arn_of(cluster_id)}}
    passing = statements["PassLargeImageTaskRoles"]
    assert passing["Action"] == "iam:PassRole"
    assert sorted(json.dumps(r) for r in passing["Resource"]) == sorted(
        json.dumps(r) for r in (definition["TaskRoleArn"], definition["ExecutionRoleArn"])
    )
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_the_task_role_copies_like_the_relay_and_may_only_dead_letter_into_the_copy_dlq(
    s: Synthesized,
) -> None:
    assert s.stack.large_images is not None
    task_role = s.stack.get_logical_id(s.stack.large_images.task_role.node.default_child)
    statements = statements_of(s, task_role)
    relay = statements_of(s, role_id_of(s, s.stack.copy.function))
    ecr = [st for st in statements if str(st.get("Sid", "")).startswith("Ecr")]
    assert ecr and ecr == [st for st in relay if str(st.get("Sid", "")).startswith("Ecr")]
    sends = [st for st in statements if "sqs:SendMessage" in json.dumps(st["Action"])]
    assert [(st["Action"], st["Resource"]) for st in sends] == [
        ("sqs:SendMessage", arn_of(s.logical_id(s.stack.copy.dead_letter_queue)))
    ]
    assert not any("sqs:ReceiveMessage" in json.dumps(st["Action"]) for st in statements)


def test_a_new_network_is_two_public_subnets_without_nat_with_flow_logs_and_no_inbound(
    s: Synthesized,
) -> None:
    subnets = s.resources("AWS::EC2::Subnet").values()
    # zones chosen at deploy time (Fn::GetAZs): synth needs no AWS credentials for a lookup
    assert sorted(json.dumps(n["Properties"]["AvailabilityZone"]) for n in subnets) == [
        json.dumps({"Fn::Select": [i, {"Fn::GetAZs": ""}]}) for i in (0, 1)
    ]
    assert s.resources("AWS::EC2::NatGateway") == {}
    assert len(s.resources("AWS::EC2::FlowLog")) == 1
    _, group = only(s, "AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in group
    _, cluster = only(s, "AWS::ECS::Cluster")
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
    subnets = relay_variables(s)[names.ENV_FARGATE_SUBNETS]
    for subnet_id in s.resources("AWS::EC2::Subnet"):
        assert subnet_id in json.dumps(subnets)


def test_an_existing_network_is_used_as_given_and_arm64_runs_the_task_on_graviton(tmp_path: Path) -> None:
    network = {
        "vpc_id": "vpc-0abc",
        "subnet_ids": ["subnet-01", "subnet-02"],
        "security_group_ids": ["sg-09"],
    }
    settings = make_settings(
        write_config(tmp_path), large_images={"enabled": True, **network}, architecture="arm64"
    )
    s = synth_stack(settings, tmp_path / "cdk.out")
    assert s.resources("AWS::EC2::VPC") == {} and s.resources("AWS::EC2::SecurityGroup") == {}
    variables = relay_variables(s)
    assert variables[names.ENV_FARGATE_SUBNETS] == "subnet-01,subnet-02"
    assert variables[names.ENV_FARGATE_SECURITY_GROUPS] == "sg-09"
    _, definition = only(s, "AWS::ECS::TaskDefinition")
    assert definition["RuntimePlatform"]["CpuArchitecture"] == "ARM64"


def test_off_by_default_no_fargate_resources_and_no_hand_off(tmp_path: Path) -> None:
    s = synth_stack(make_settings(write_config(tmp_path)), tmp_path / "cdk.out")
    assert s.resources("AWS::ECS::Cluster") == {} and s.resources("AWS::EC2::VPC") == {}
    assert names.ENV_FARGATE_CLUSTER not in relay_variables(s)
    assert (
        RelayEnvironment.from_env(relay_variables(s) | {"REGMIRROR_CONFIG_BUCKET": "b"}).fargate_cluster == ""
    )


@pytest.mark.parametrize(
    ("large_images", "message"),
    [
        ({"cpu": 300}, "large_images: Value error, cpu: 300 is not a Fargate size"),
        ({"cpu": 256, "memory_mb": 1536}, "memory_mb: 1536 does not fit cpu 256"),
        (
            {"cpu": 1024, "memory_mb": 9216},
            "memory_mb: 9216 does not fit cpu 1024 (2048-8192 MiB in steps of 1024)",
        ),
        (
            {"ephemeral_storage_gb": 10},
            "large_images.ephemeral_storage_gb: Input should be greater than or equal to 21",
        ),
        ({"vpc_id": "vpc-0abc"}, "vpc_id, subnet_ids and security_group_ids: give all three or none"),
    ],
)
def test_bad_large_image_settings_name_the_file_and_field(
    tmp_path: Path, large_images: dict[str, Any], message: str
) -> None:
    (tmp_path / "x.yaml").write_text(
        textwrap.dedent(
            f"""\
            account: "123456789012"
            region: eu-west-1
            config: examples/aws/dev.yaml
            large_images: {json.dumps({"enabled": True, **large_images})}
            """
        )
    )
    with pytest.raises(SettingsError) as raised:
        load_environment("x", tmp_path)
    assert f"{tmp_path / 'x.yaml'}: " in str(raised.value)
    assert message in str(raised.value)


def test_the_dashboard_shows_hand_offs_and_the_tasks_results(s: Synthesized) -> None:
    (dashboard,) = s.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert names.IMAGES_TO_FARGATE in body and names.IMAGES_DEFERRED in body
    assert names.TASK_SERVICE in body and "ImagesFailed (Fargate)" in body
