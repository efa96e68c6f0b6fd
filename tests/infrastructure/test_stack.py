"""The regmirror stack, synthesized from a config that exercises every feature, asserted resource by
resource: queues and their wiring, the functions, schedules per task, the push rule, IAM scoping,
alarms, and the cdk-nag run (synth fails on any unacknowledged finding)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match
from regmirror.aws.environment import RelayEnvironment

from tests.infrastructure.conftest import Synthesized, make_settings, synth_stack

ACCOUNT, REGION = "123456789012", "eu-west-1"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
CONFIG = f"""\
tasks:
  - name: hub-to-ecr
    interval: 300
    source:
      registry: registry.hub.docker.com
      auth: secretsmanager:regmirror/test/dockerhub
    target:
      registry: {ECR}
      ecr:
        kms-key: alias/mirror
    mappings:
      - from: library/busybox
        to: mirror/busybox
        tags: [latest]
      - from: regex:library/alp.*
        to: mirror
        tags: [latest]
  - name: odd-interval
    interval: 90
    source:
      registry: 127.0.0.1:5000
      insecure: true
    target:
      registry: {ECR}
    mappings:
      - from: team/app
        to: regex:^/team/(.*),/copied/$1
  - name: ecr-out
    schedule: cron(15 2 * * ? *)
    source:
      registry: {ECR}
      role-arn: arn:aws:iam::{ACCOUNT}:role/regmirror-reader
    target:
      registry: partner.example.com
      auth: secretsmanager:arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:partner-push-AbCdEf
      ca-file: certs/partner-ca.pem
    mappings:
      - from: regex:releases/.*
        to: partner
      - from: base/image
  - name: elsewhere
    interval: 3600
    source:
      registry: 999999999999.dkr.ecr.us-east-1.amazonaws.com
    target:
      registry: {ECR}
    mappings:
      - from: regex:(?i)anything
  - name: once
    source:
      registry: quay.io
    target:
      registry: {ECR}
    mappings:
      - from: skopeo/stable
        tags: [v1.16.1]
  - name: to-public
    source: {{registry: quay.io}}
    target: {{registry: "{ACCOUNT}@public.ecr.aws"}}
    mappings:
      - from: tools/cli
        to: cli
  - name: ecr-with-auth
    source:
      registry: 555555555555.dkr.ecr.{REGION}.amazonaws.com
      auth: secretsmanager:regmirror/test/ecr-user
    target: {{registry: partner.example.com}}
    mappings: [{{from: base/x}}]
"""


def write_config(folder: Path) -> Path:
    """CONFIG in `folder`, with the CA file it names."""
    (folder / "certs").mkdir()
    (folder / "certs" / "partner-ca.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    )
    config = folder / "regmirror.yaml"
    config.write_text(textwrap.dedent(CONFIG))
    return config


@pytest.fixture(scope="module", name="s")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    config = write_config(tmp_path_factory.mktemp("config"))
    return synth_stack(make_settings(config), tmp_path_factory.mktemp("cdk.out"))


def ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def arn_of(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def statements_of(s: Synthesized, role_id: str) -> list[dict[str, Any]]:
    """Every policy statement attached to a role (inline policies and iam.Policy resources)."""
    found: list[dict[str, Any]] = []
    for policy in s.resources("AWS::IAM::Policy").values():
        if ref(role_id) in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_on(statements: list[dict[str, Any]], action: str) -> list[Any]:
    return [r for st in statements if action in as_list(st["Action"]) for r in as_list(st["Resource"])]


def role_id_of(s: Synthesized, function: Any) -> str:
    return s.stack.get_logical_id(function.role.node.default_child)


# ------------------------------------------------------------------------------------------ queues


def test_copy_queue_is_encrypted_redrives_to_its_dlq_and_outlasts_six_relay_timeouts(s: Synthesized) -> None:
    queue_id, dlq_id = s.logical_id(s.stack.copy.queue), s.logical_id(s.stack.copy.dead_letter_queue)
    queue = s.raw["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["VisibilityTimeout"] == 6 * 600  # relay timeout 600 s, no batching window
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": arn_of(dlq_id), "maxReceiveCount": 4}
    dlq = s.raw["Resources"][dlq_id]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert "RedrivePolicy" not in dlq


def test_plan_queue_is_encrypted_redrives_and_outlasts_six_lister_timeouts(s: Synthesized) -> None:
    queue_id = s.logical_id(s.stack.planning.queue)
    dlq_id = s.logical_id(s.stack.planning.dead_letter_queue)
    queue = s.raw["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["VisibilityTimeout"] == 6 * 300
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": arn_of(dlq_id), "maxReceiveCount": 4}
    # FIFO, a group per task (the lister's fifo_keys): one planning run per task at a time
    assert queue["FifoQueue"] is True and s.raw["Resources"][dlq_id]["Properties"]["FifoQueue"] is True
    copy = s.raw["Resources"][s.logical_id(s.stack.copy.queue)]["Properties"]
    assert "FifoQueue" not in copy  # copies of one task run in parallel


def test_every_queue_refuses_requests_without_tls(s: Synthesized) -> None:
    queues = set(s.resources("AWS::SQS::Queue"))
    assert len(queues) == 5  # copy, plan, their dead letters, and the events' dead letters
    protected = set()
    for policy in s.resources("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                protected |= {q["Ref"] for q in policy["Properties"]["Queues"]}
    assert protected == queues


# ------------------------------------------------------------------------------------------ relay


def test_relay_is_the_docker_image_function_with_configured_sizing(s: Synthesized) -> None:
    relay = s.raw["Resources"][s.logical_id(s.stack.copy.function)]["Properties"]
    assert relay["PackageType"] == "Image"
    assert relay["MemorySize"] == 1536
    assert relay["Timeout"] == 600
    assert relay["EphemeralStorage"] == {"Size": 3072}
    assert relay["TracingConfig"] == {"Mode": "Active"}
    assert relay["Architectures"] == ["x86_64"]
    env = relay["Environment"]["Variables"]
    assert env["TMPDIR"] == "/tmp"
    # what the relay's environment model reads, with the stack's (and the model's) defaults
    relay_env = RelayEnvironment.from_env(env)
    assert env["REGMIRROR_RETRY_BASE_SECONDS"] == str(relay_env.retry_base_seconds) == "60"
    assert env["REGMIRROR_SECRET_MAX_AGE"] == "300"
    assert env["POWERTOOLS_SERVICE_NAME"] == "regmirror-relay"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Regmirror"
    assert {"REGMIRROR_CONFIG_BUCKET", "REGMIRROR_CONFIG_KEY", "REGMIRROR_CONFIG_NAME"} <= set(env)


def test_relay_image_asset_builds_functions_relay_dockerfile_from_a_minimal_context(s: Synthesized) -> None:
    images = s.assets["dockerImages"]
    assert len(images) == 1
    source = next(iter(images.values()))["source"]
    assert source["dockerFile"] == "functions/relay/Dockerfile"
    assert source["platform"] == "linux/amd64"
    context = s.outdir / source["directory"]
    files = {str(p.relative_to(context)) for p in context.rglob("*") if p.is_file()}
    assert {
        "functions/relay/Dockerfile",
        "functions/relay/handler.py",
        "functions/relay/policy.json",
        "requirements.txt",
        "requirements-lambda.txt",
        "layers/regmirror/python/regmirror/sync/run.py",
        "layers/regmirror/python/regmirror/aws/names.py",
    } <= files
    # Nothing else: no tests, no venv, no other functions, no caches.
    assert all(
        f.startswith(("functions/relay/", "layers/regmirror/python/regmirror/"))
        or f.startswith("requirements")
        for f in files
    ), sorted(files)
    assert not any("__pycache__" in f for f in files)
    # bytecode is built in the image, by its Python 3.12, after the core is copied in (the task root
    # is read-only on Lambda: without it each cold start compiles the core)
    steps = [
        line.split()[0]
        for line in (context / "functions/relay/Dockerfile").read_text().splitlines()
        if line[:1].isupper()
    ]
    text = (context / "functions/relay/Dockerfile").read_text()
    compile_at = text.index('RUN python -m compileall -q -j 0 "${LAMBDA_TASK_ROOT}/regmirror"')
    assert compile_at > text.index("COPY layers/regmirror/python/regmirror") and "CMD" in steps


def test_relay_consumes_the_copy_queue_with_batch_item_failures_within_its_budget(s: Synthesized) -> None:
    s.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": arn_of(s.logical_id(s.stack.copy.queue)),
            "FunctionName": ref(s.logical_id(s.stack.copy.function)),
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 3},
        },
    )


# ------------------------------------------------------------------------------------------ lister


def test_lister_is_a_python_312_zip_function_with_the_core_layer(s: Synthesized) -> None:
    lister = s.raw["Resources"][s.logical_id(s.stack.planning.function)]["Properties"]
    assert lister["Runtime"] == "python3.12"
    assert lister["Handler"] == "handler.lambda_handler"
    assert lister["Layers"] == [ref(s.stack.get_logical_id(s.stack.layer.node.default_child))]
    assert lister["MemorySize"] == 768
    assert lister["Timeout"] == 300
    env = lister["Environment"]["Variables"]
    assert env["REGMIRROR_COPY_QUEUE_URL"] == ref(s.logical_id(s.stack.copy.queue))
    assert env["REGMIRROR_PLAN_QUEUE_URL"] == ref(s.logical_id(s.stack.planning.queue))
    assert env["POWERTOOLS_SERVICE_NAME"] == "regmirror-lister"
    layer = s.raw["Resources"][s.stack.get_logical_id(s.stack.layer.node.default_child)]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.12"]


def test_lister_consumes_the_plan_queue_one_task_at_a_time(s: Synthesized) -> None:
    s.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": arn_of(s.logical_id(s.stack.planning.queue)),
            "FunctionName": ref(s.logical_id(s.stack.planning.function)),
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
        },
    )


def scheduled_rules(s: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        k: v for k, v in s.resources("AWS::Events::Rule").items() if "ScheduleExpression" in v["Properties"]
    }


def test_one_schedule_rule_per_periodic_task_and_none_for_one_off_tasks(s: Synthesized) -> None:
    by_task: dict[str, str] = {}
    lister_arn = arn_of(s.logical_id(s.stack.planning.function))
    for rule in scheduled_rules(s).values():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == lister_arn
        template = target["InputTransformer"]["InputTemplate"]
        tasks = json.loads(re.sub(r"<[a-z.-]+>", '"placeholder"', template))["detail"]["tasks"]
        assert len(tasks) == 1
        by_task[tasks[0]] = rule["Properties"]["ScheduleExpression"]
    assert by_task == {
        "hub-to-ecr": "rate(5 minutes)",
        "odd-interval": "rate(2 minutes)",  # 90 s rounded up to whole minutes (warned, see below)
        "ecr-out": "cron(15 2 * * ? *)",
        "elsewhere": "rate(1 hour)",
    }


def test_scheduled_event_keeps_the_eventbridge_envelope(s: Synthesized) -> None:
    rule = next(iter(scheduled_rules(s).values()))
    transformer = rule["Properties"]["Targets"][0]["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "id": "$.id",
        "account": "$.account",
        "time": "$.time",
        "region": "$.region",
    }
    assert '"id":<id>' in transformer["InputTemplate"]
    assert '"detail-type":"Scheduled Event"' in transformer["InputTemplate"]
    assert '"source":"aws.events"' in transformer["InputTemplate"]


def test_rounded_interval_is_reported_as_a_synth_warning(s: Synthesized) -> None:
    warnings = s.stack.node.metadata + [m for c in s.stack.node.find_all() for m in c.node.metadata]
    texts = [str(m.data) for m in warnings if m.type == "aws:cdk:warning"]
    assert any("odd-interval" in t and "90s runs as rate(2 minutes)" in t for t in texts), texts
    assert any("999999999999.dkr.ecr.us-east-1.amazonaws.com" in t and "forwarded" in t for t in texts), texts
    assert any("555555555555.dkr.ecr.eu-west-1.amazonaws.com" in t and "forwarded" in t for t in texts), texts


# ------------------------------------------------------------------------------------------ push events


def test_push_rule_matches_successful_tagged_pushes_to_the_mapped_repositories(s: Synthesized) -> None:
    assert s.stack.push is not None
    rules = {k: v for k, v in s.resources("AWS::Events::Rule").items() if "EventPattern" in v["Properties"]}
    assert len(rules) == 1  # the us-east-1 source of another account gets none (warned)
    (rule,) = rules.values()
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Action"],
        "account": [ACCOUNT],
        "region": [REGION],
        "detail": {
            "action-type": ["PUSH"],
            "result": ["SUCCESS"],
            "image-tag": [{"exists": True}],
            "repository-name": ["base/image", {"prefix": "releases/"}],
        },
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == arn_of(s.logical_id(s.stack.push.function))
    assert "Input" not in target and "InputTransformer" not in target  # the real ECR event


def test_push_function_may_only_read_the_config_and_send_copy_messages(s: Synthesized) -> None:
    assert s.stack.push is not None
    statements = statements_of(s, role_id_of(s, s.stack.push.function))
    actions = {a for st in statements for a in as_list(st["Action"])}
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "s3:GetObject",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    assert sorted(map(json.dumps, actions_on(statements, "sqs:SendMessage"))) == sorted(
        json.dumps(arn_of(s.logical_id(q))) for q in (s.stack.copy.queue, s.stack.event_dead_letters)
    )


def test_events_that_cannot_be_delivered_or_handled_end_in_an_alarmed_dead_letter_queue(
    s: Synthesized,
) -> None:
    """EventBridge → Lambda is asynchronous: without these, a failed schedule tick or push is dropped."""
    dead_letters = arn_of(s.logical_id(s.stack.event_dead_letters))
    rules = s.resources("AWS::Events::Rule")
    assert len(rules) >= 4  # the periodic tasks' schedules and the push rule
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": dead_letters}
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}
    assert s.stack.push is not None
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in s.resources("AWS::Lambda::EventInvokeConfig").values()
    }
    for function in (s.stack.planning.function, s.stack.push.function):
        config = configs[s.logical_id(function)]
        assert config["MaximumRetryAttempts"] == 2 and config["MaximumEventAgeInSeconds"] == 6 * 3600
        assert config["DestinationConfig"] == {"OnFailure": {"Destination": dead_letters}}
    # EventBridge may send to it, and only for this stack's rules
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in s.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [ref(s.logical_id(s.stack.event_dead_letters))]
    ]
    senders = [st for st in policy if st["Effect"] == "Allow"]
    assert {st["Principal"]["Service"] for st in senders} == {"events.amazonaws.com"}
    assert all("aws:SourceArn" in json.dumps(st["Condition"]) for st in senders)


# ------------------------------------------------------------------------------------------ IAM


def secret_arn_by_name(name: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, f":secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-??????"],
        ]
    }


PARTNER_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:partner-push-AbCdEf"


@pytest.mark.parametrize("function", ["lister", "relay"])
def test_registry_functions_read_exactly_the_secrets_the_config_names(s: Synthesized, function: str) -> None:
    fn = s.stack.planning.function if function == "lister" else s.stack.copy.function
    statements = statements_of(s, role_id_of(s, fn))
    assert sorted(map(json.dumps, actions_on(statements, "secretsmanager:GetSecretValue"))) == sorted(
        map(
            json.dumps,
            [
                secret_arn_by_name("regmirror/test/dockerhub"),
                PARTNER_SECRET,
                f"{PARTNER_SECRET}-??????",
                secret_arn_by_name("regmirror/test/ecr-user"),
            ],
        )
    )
    assert actions_on(statements, "sts:AssumeRole") == [f"arn:aws:iam::{ACCOUNT}:role/regmirror-reader"]


def repo(name: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


def relay_mapping(s: Synthesized) -> dict[str, Any]:
    relay = ref(s.logical_id(s.stack.copy.function))
    (mapping,) = [
        m["Properties"]
        for m in s.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == relay
    ]
    return mapping


def test_copies_at_once_are_bounded_by_the_event_source_without_reserving_concurrency(s: Synthesized) -> None:
    """A reservation would fail `cdk deploy` in accounts with a small concurrency quota (new ones)."""
    relay = s.raw["Resources"][s.logical_id(s.stack.copy.function)]["Properties"]
    assert "ReservedConcurrentExecutions" not in relay
    assert relay_mapping(s)["ScalingConfig"] == {"MaximumConcurrency": 3}


def test_reserved_concurrency_is_an_opt_in_equal_to_the_copy_budget(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    config = tmp_path_factory.mktemp("reserved") / "regmirror.yaml"
    config.write_text(
        f"tasks:\n  - name: t\n    source: {{registry: {ECR}}}\n    target: {{registry: {ECR}}}\n"
        "    mappings: [{from: team/app, to: mirror/app}]\n"
    )
    settings = make_settings(config, relay={"copy_budget": 7, "reserve_concurrency": True})
    reserved = synth_stack(settings, tmp_path_factory.mktemp("cdk.out"))
    relay = reserved.raw["Resources"][reserved.logical_id(reserved.stack.copy.function)]["Properties"]
    assert relay["ReservedConcurrentExecutions"] == 7
    assert relay_mapping(reserved)["ScalingConfig"] == {"MaximumConcurrency": 7}


def test_relay_may_send_to_its_own_queue_only_to_defer_a_copy(s: Synthesized) -> None:
    """A short rate-limit budget puts the message back with a delay (aws.sqs.requeue_with_delay)."""
    statements = statements_of(s, role_id_of(s, s.stack.copy.function))
    assert actions_on(statements, "sqs:SendMessage") == [arn_of(s.logical_id(s.stack.copy.queue))]


def test_relay_pushes_only_to_the_target_repositories_the_mappings_name(s: Synthesized) -> None:
    statements = statements_of(s, role_id_of(s, s.stack.copy.function))
    assert sorted(actions_on(statements, "ecr:PutImage")) == sorted(
        [
            repo("mirror/busybox"),  # plain from + plain to
            repo("mirror/library/alp*"),  # regex from (literal prefix) under the plain `to` prefix
            repo("*"),  # a `to` regex, and a regex `from` without literal prefix
            repo("skopeo/stable"),  # plain from, no to
        ]
    )
    assert sorted(actions_on(statements, "ecr:GetDownloadUrlForLayer")) == sorted(
        [
            repo("base/image"),
            repo("releases/*"),
            repo("*", "999999999999", "us-east-1"),
            *actions_on(statements, "ecr:PutImage"),
        ]
    )
    assert actions_on(statements, "ecr:GetAuthorizationToken") == ["*"]
    # An ECR registry with an explicit `auth` is reached with that secret: no IAM grant for it.
    assert "555555555555" not in json.dumps(statements)
    assert actions_on(statements, "ecr-public:PutImage") == [f"arn:aws:ecr-public::{ACCOUNT}:repository/cli"]
    assert actions_on(statements, "ecr-public:GetAuthorizationToken") == ["*"]
    assert actions_on(statements, "sts:GetServiceBearerToken") == ["*"]
    (kms,) = [st for st in statements if "kms:CreateGrant" in as_list(st["Action"])]
    assert kms["Resource"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": f"ecr.{REGION}.amazonaws.com"}}


def test_lister_reads_sources_and_targets_but_writes_no_repository(s: Synthesized) -> None:
    statements = statements_of(s, role_id_of(s, s.stack.planning.function))
    assert actions_on(statements, "ecr:PutImage") == []
    assert actions_on(statements, "ecr:CreateRepository") == []
    described = actions_on(statements, "ecr:DescribeRepositories")
    assert repo("*") in described  # a regex `from` lists the whole source registry
    assert repo("mirror/busybox") in described  # digest checks on targets
    assert not [st for st in statements if "kms:CreateGrant" in as_list(st["Action"])]
    assert sorted(map(json.dumps, actions_on(statements, "sqs:SendMessage"))) == sorted(
        json.dumps(arn_of(s.logical_id(q)))
        for q in (s.stack.copy.queue, s.stack.planning.queue, s.stack.event_dead_letters)
    )


def test_config_read_is_one_object_of_the_asset_bucket(s: Synthesized) -> None:
    for fn in (s.stack.planning.function, s.stack.copy.function):
        (resource,) = actions_on(statements_of(s, role_id_of(s, fn)), "s3:GetObject")
        text = json.dumps(resource)
        assert s.stack.config.asset.asset_hash in text and ".zip" in text
        assert "*" not in text


RESOURCE_LESS_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ecr:GetAuthorizationToken",
    "ecr-public:GetAuthorizationToken",
    "sts:GetServiceBearerToken",
}


def test_no_statement_grants_wildcard_actions_and_no_managed_policies(s: Synthesized) -> None:
    for policy in s.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                assert "*" not in action, action
            # `Resource: *` (acknowledged for cdk-nag) only for actions that have no resource type.
            if "*" in as_list(statement["Resource"]):
                assert set(as_list(statement["Action"])) <= RESOURCE_LESS_ACTIONS, statement
    for role in s.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_config_bundle_holds_the_config_and_the_files_it_names(s: Synthesized) -> None:
    (bundle,) = [
        a["source"]["path"]
        for a in s.assets["files"].values()
        if a["source"]["path"] != "Regmirror-test.template.json"
        and (s.outdir / a["source"]["path"] / "regmirror.yaml").exists()
    ]
    files = sorted(
        str(p.relative_to(s.outdir / bundle)) for p in (s.outdir / bundle).rglob("*") if p.is_file()
    )
    assert files == ["certs/partner-ca.pem", "regmirror.yaml"]
    lister = s.raw["Resources"][s.logical_id(s.stack.planning.function)]["Properties"]
    assert lister["Environment"]["Variables"]["REGMIRROR_CONFIG_NAME"] == "regmirror.yaml"


# ------------------------------------------------------------------------------------------ monitoring


def test_alarms_cover_dead_letters_function_and_planning_errors_and_queue_age(s: Synthesized) -> None:
    alarms = s.resources("AWS::CloudWatch::Alarm")
    topic = ref(s.stack.get_logical_id(s.stack.monitoring.topic.node.default_child))
    seen: dict[str, list[Any]] = {}
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [topic]
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        seen.setdefault(props["MetricName"], []).append(props["Dimensions"][0]["Value"])
        if props["MetricName"] == "PlanErrors":
            assert props["Namespace"] == "Regmirror"
            assert props["Dimensions"] == [{"Name": "service", "Value": "regmirror-lister"}]
    dead_letters = (
        s.stack.copy.dead_letter_queue,
        s.stack.planning.dead_letter_queue,
        s.stack.event_dead_letters,
    )
    assert sorted(map(json.dumps, seen["ApproximateNumberOfMessagesVisible"])) == sorted(
        json.dumps({"Fn::GetAtt": [s.logical_id(q), "QueueName"]}) for q in dead_letters
    )
    assert sorted(map(json.dumps, seen["Errors"])) == sorted(
        json.dumps(ref(s.logical_id(f)))
        for f in (s.stack.planning.function, s.stack.copy.function, s.stack.push.function)  # type: ignore[union-attr]
    )
    assert seen["PlanErrors"] == ["regmirror-lister"]
    assert len(alarms) == 8
    (age,) = [a for a in alarms.values() if a["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage"]
    assert age["Properties"]["Threshold"] == 30 * 60


def test_alarm_topic_is_kms_encrypted_tls_only_and_mails_the_configured_address(s: Synthesized) -> None:
    (topic,) = s.resources("AWS::SNS::Topic").values()
    key_id = s.stack.get_logical_id(s.stack.monitoring.topic.master_key.node.default_child)  # type: ignore[union-attr]
    assert topic["Properties"]["KmsMasterKeyId"] == arn_of(key_id)
    assert s.raw["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    s.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    s.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            }
        },
    )


def test_log_groups_have_the_configured_retention(s: Synthesized) -> None:
    groups = s.resources("AWS::Logs::LogGroup")
    assert len(groups) == 3
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {7}


# ------------------------------------------------------------------------------------------ cdk-nag


def test_cdk_nag_ran_and_every_acknowledgment_carries_a_reason(s: Synthesized) -> None:
    report = json.loads((s.outdir / "validation-report.json").read_text())
    failures = [r for r in report["pluginReports"] if r.get("conclusion") == "failure"]
    assert failures == []
    acknowledged: dict[str, list[str]] = {}
    for logical_id, resource in s.raw["Resources"].items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            assert len(rule["reason"]) >= 60, rule
            acknowledged.setdefault(rule["id"], []).append(logical_id)
    assert set(acknowledged) >= {
        "AwsSolutions-L1",  # python3.12 pinned with the layer's wheels
        "AwsSolutions-SQS3",  # the dead-letter queues themselves
        "AwsSolutions-IAM5[Resource::*]",  # ecr:GetAuthorizationToken and X-Ray
        f"AwsSolutions-IAM5[Resource::{repo('releases/*')}]",
    }
    queues = set(s.resources("AWS::SQS::Queue"))
    assert sorted(set(acknowledged["AwsSolutions-SQS3"]) & queues) == sorted(
        s.logical_id(q)
        for q in (
            s.stack.copy.dead_letter_queue,
            s.stack.planning.dead_letter_queue,
            s.stack.event_dead_letters,
        )
    )


# ------------------------------------------------------------------------------------------ arm64


def test_an_arm64_environment_runs_every_function_on_graviton_with_aarch64_wheels_and_image(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from infra.bundling import layer_asset_hash, pip_install_command

    config = tmp_path_factory.mktemp("arm") / "regmirror.yaml"
    config.write_text(
        f"tasks:\n  - name: t\n    interval: 600\n    source: {{registry: {ECR}}}\n"
        "    target: {registry: r.example}\n    mappings: [{from: team/app}]\n"
    )
    arm = synth_stack(make_settings(config, architecture="arm64"), tmp_path_factory.mktemp("cdk.out"))
    functions = arm.resources("AWS::Lambda::Function")
    assert len(functions) == 3  # lister, push, relay
    assert all(f["Properties"]["Architectures"] == ["arm64"] for f in functions.values())
    (layer,) = arm.resources("AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    (image,) = arm.assets["dockerImages"].values()
    assert image["source"]["platform"] == "linux/arm64"
    # the layer's wheels: the aarch64 platform tags, a layer asset of its own
    command = pip_install_command(Path("/t"), architecture="arm64")
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms == ["manylinux2014_aarch64", "manylinux_2_28_aarch64"]
    assert layer_asset_hash("arm64") != layer_asset_hash("x86_64")


def test_architecture_is_x86_64_unless_set_and_other_values_are_refused(
    s: Synthesized, tmp_path: Path
) -> None:
    functions = s.resources("AWS::Lambda::Function")
    assert all(f["Properties"]["Architectures"] == ["x86_64"] for f in functions.values())
    with pytest.raises(ValueError, match="architecture"):
        make_settings(tmp_path / "c.yaml", architecture="sparc")
