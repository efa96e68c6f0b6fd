"""Environment settings and config facts: the synth-time parsing the constructs rely on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from regmirror.errors import ConfigError

from infra.config_bundle import referenced_files, stage_config_bundle
from infra.config_facts import (
    interval_schedule,
    literal_prefix,
    push_loops,
    read_config_facts,
    secret_arn_patterns,
)
from infra.settings import SettingsError, load_environment
from tests.infrastructure.conftest import make_settings, synth_stack


@pytest.mark.parametrize(
    ("seconds", "expression", "rounded"),
    [
        (30, "rate(1 minute)", 30),
        (60, "rate(1 minute)", None),
        (90, "rate(2 minutes)", 90),
        (300, "rate(5 minutes)", None),
        (3600, "rate(1 hour)", None),
        (7200, "rate(2 hours)", None),
        (5400, "rate(90 minutes)", None),
        (86400, "rate(1 day)", None),
        (172800, "rate(2 days)", None),
    ],
)
def test_interval_becomes_a_whole_minute_rate(seconds: int, expression: str, rounded: int | None) -> None:
    assert interval_schedule(seconds) == (expression, rounded)


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("releases/.*", "releases/"),
        ("^team/app-[0-9]+", "team/app-"),
        ("team/apps?/x", "team/app"),  # `s?` makes the s optional
        ("team/a*", "team/"),
        ("team/a+b", "team/a"),  # `a+` still needs one a
        ("(?i)team/.*", ""),
        ("team/a|other/b", ""),  # alternation: no common prefix can be trusted
        ("team\\.x/.*", "team"),
        (".*", ""),
    ],
)
def test_literal_prefix_is_conservative(pattern: str, prefix: str) -> None:
    assert literal_prefix(pattern) == prefix


def test_secret_arn_patterns_cover_names_partial_and_full_arns() -> None:
    kwargs = {"partition": "aws", "region": "eu-west-1", "account": "123456789012"}
    assert secret_arn_patterns("team/hub", **kwargs) == [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/hub-??????"
    ]
    full = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf"
    assert secret_arn_patterns(full, **kwargs) == [full, f"{full}-??????"]
    partial = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub"
    assert secret_arn_patterns(partial, **kwargs) == [f"{partial}-??????"]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_invalid_config_fails_with_file_line_and_field(tmp_path: Path) -> None:
    config = write(
        tmp_path / "bad.yaml",
        """\
        tasks:
          - name: t
            interval: 10
            source: {registry: a.example.com}
            target: {registry: b.example.com}
            mappings: [{from: x}]
        """,
    )
    with pytest.raises(ConfigError) as raised:
        read_config_facts(config)
    assert f"{config}:3:" in str(raised.value) and "tasks[0].interval" in str(raised.value)


def test_two_tasks_writing_one_target_fail_the_synth(tmp_path: Path) -> None:
    """Each planner Lambda sees one task: a conflict across tasks must be caught before deploying."""
    config = write(
        tmp_path / "conflict.yaml",
        """\
        tasks:
          - name: a
            source: {registry: a.example.com}
            target: {registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com}
            mappings: [{from: team/app, to: app, tags: ["1.0"]}]
          - name: b
            source: {registry: b.example.com}
            target: {registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com}
            mappings: [{from: other/app, to: app, tags: ["1.0"]}]
        """,
    )
    with pytest.raises(ConfigError) as raised:
        read_config_facts(config)
    assert "tasks[1].mappings[0]" in str(raised.value) and "task 'a' mapping 0" in str(raised.value)


def test_a_config_without_tasks_synthesizes_no_schedules(tmp_path: Path) -> None:
    facts = read_config_facts(write(tmp_path / "none.yaml", "tasks: []\n"))
    assert (facts.schedules, facts.one_off_tasks, facts.ecr) == ([], [], {})


def test_config_bundle_refuses_files_outside_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    folder = tmp_path / "conf"
    folder.mkdir()
    config = write(
        folder / "c.yaml",
        """\
        tasks:
          - name: t
            source: {registry: a.example.com, ca-file: ../ca.pem}
            target: {registry: b.example.com}
            mappings: [{from: x}]
        """,
    )
    assert referenced_files(config) == [("tasks[0].source.ca-file", "../ca.pem")]
    with pytest.raises(ConfigError) as raised:
        stage_config_bundle(config, tmp_path)
    assert "tasks[0].source.ca-file" in str(raised.value) and "outside the config's folder" in str(
        raised.value
    )


def test_config_bundle_keeps_relative_layout_and_ignores_inline_policies(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "keep.json").write_text('{"rules": []}')
    config = write(
        tmp_path / "c.yaml",
        """\
        tasks:
          - name: t
            source: {registry: a.example.com}
            target:
              registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com
              ecr: {lifecycle-policy: policies/keep.json}
            mappings: [{from: x}]
          - name: u
            source: {registry: a.example.com}
            target:
              registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com
              ecr: {lifecycle-policy: '{"rules": []}'}
            mappings: [{from: y}]
        """,
    )
    bundle = stage_config_bundle(config, tmp_path)
    assert sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()) == [
        "c.yaml",
        "policies/keep.json",
    ]


def test_environment_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    write(
        tmp_path / "x.yaml",
        """\
        account: "12345"
        region: eu-west-1
        config: examples/aws/dev.yaml
        relay: {timeout_seconds: 1000, copy_budget: 1}
        extra: true
        """,
    )
    with pytest.raises(SettingsError) as raised:
        load_environment("x", tmp_path)
    message = str(raised.value)
    assert f"{tmp_path / 'x.yaml'}: account: String should match pattern" in message
    assert (
        f"{tmp_path / 'x.yaml'}: relay.timeout_seconds: Input should be less than or equal to 900" in message
    )
    assert f"{tmp_path / 'x.yaml'}: relay.copy_budget: Input should be greater than or equal to 2" in message
    assert f"{tmp_path / 'x.yaml'}: extra: Extra inputs are not permitted" in message


def test_example_environments_load() -> None:
    dev, prod = load_environment("dev"), load_environment("prod")
    assert (dev.account, dev.region, dev.relay.copy_budget) == ("111111111111", "eu-west-1", 2)
    assert (prod.account, prod.region, prod.relay.timeout_seconds) == ("222222222222", "eu-central-1", 900)
    assert read_config_facts(prod.config_path).secret_ids == ["regmirror/prod/internal-registry"]


ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("mapping", "followed"),
    [
        ('{from: "regex:team.*", to: team-mirror}', "names starting with 'team'"),  # the loop
        ("{from: team/app, to: team/app-copy}", None),  # exact name, written elsewhere: fine
        ('{from: "regex:team/.*", to: mirror}', None),  # written under mirror/, followed team/*: fine
        ('{from: "regex:.*app", to: mirror}', "a mapping there follows every repository"),
        ('{from: "regex:team/.*", to: "regex:^/team/(.*),/team-copy/$1"}', None),
        ('{from: "regex:team/.*", to: "regex:^/(.*),/$1-copy"}', "names starting with 'team/'"),
    ],
)
def test_a_mapping_writing_what_push_events_follow_in_the_same_registry_fails_the_synth(
    tmp_path: Path, mapping: str, followed: str | None
) -> None:
    config = write(
        tmp_path / "loop.yaml",
        f"""\
        tasks:
          - name: mirror
            source: {{registry: {ECR}}}
            target: {{registry: {ECR}}}
            mappings:
              - {mapping}
        """,
    )
    facts = read_config_facts(config)
    problems = push_loops(facts, "123456789012", "eu-west-1")
    if followed is None:
        assert problems == []
        return
    (problem,) = problems
    assert str(problem).startswith(f"{config}:6:0: tasks[0].mappings[0]: writes ")
    assert f"({followed})" in str(problem) and "push_events: false" in str(problem)
    assert push_loops(facts, "123456789012", "us-east-1") == []  # push events of another region: none
    settings = make_settings(config)
    with pytest.raises(ConfigError) as raised:
        synth_stack(settings, tmp_path / "cdk.out")
    assert "tasks[0].mappings[0]" in str(raised.value)
    synth_stack(make_settings(config, push_events=False), tmp_path / "cdk.out.quiet")  # follows none: fine


def test_following_our_own_copies_onward_to_another_registry_is_a_chain_not_a_loop(tmp_path: Path) -> None:
    config = write(
        tmp_path / "chain.yaml",
        f"""\
        tasks:
          - name: in
            source: {{registry: upstream.example.com}}
            target: {{registry: {ECR}}}
            mappings: [{{from: "regex:team/.*", to: mirror}}]
          - name: out
            source: {{registry: {ECR}}}
            target: {{registry: partner.example.com}}
            mappings: [{{from: "regex:mirror/.*"}}]
        """,
    )
    assert push_loops(read_config_facts(config), "123456789012", "eu-west-1") == []
