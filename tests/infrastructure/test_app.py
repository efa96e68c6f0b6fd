"""`python app.py` synthesizes both example environments (dev, prod) with cdk-nag, exactly as
`cdk synth` would run it, and `-c env=NAME` selects one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_app(outdir: Path, context: dict[str, object]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:bundling-stacks": [], **context}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="module")
def all_environments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    result = run_app(outdir, {"env": "all"})
    assert result.returncode == 0, result.stderr[-4000:]
    return outdir


def template(outdir: Path, name: str) -> dict[str, object]:
    return dict(json.loads((outdir / f"Regmirror-{name}.template.json").read_text()))


def test_app_synthesizes_dev_and_prod_with_their_accounts_regions_and_sizing(all_environments: Path) -> None:
    manifest = json.loads((all_environments / "manifest.json").read_text())
    stacks = {k: v for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack"}
    assert {k: v["environment"] for k, v in stacks.items()} == {
        "Regmirror-dev": "aws://111111111111/eu-west-1",
        "Regmirror-prod": "aws://222222222222/eu-central-1",
    }
    for name, memory, budget in (("dev", 1024, 2), ("prod", 3008, 10)):
        resources = template(all_environments, name)["Resources"]
        assert isinstance(resources, dict)
        images = [r for r in resources.values() if r["Properties"].get("PackageType") == "Image"]
        (relay,) = images
        assert relay["Properties"]["MemorySize"] == memory
        assert "ReservedConcurrentExecutions" not in relay["Properties"]  # the examples reserve none
        concurrency = [
            r["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency")
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::EventSourceMapping"
        ]
        assert budget in concurrency  # the relay's copy budget bounds its event source
    report = json.loads((all_environments / "validation-report.json").read_text())
    assert [r for r in report["pluginReports"] if r.get("conclusion") == "failure"] == []


def test_example_schedules_follow_each_environments_config(all_environments: Path) -> None:
    def schedules(name: str) -> list[str]:
        resources = template(all_environments, name)["Resources"]
        assert isinstance(resources, dict)
        return sorted(
            r["Properties"]["ScheduleExpression"]
            for r in resources.values()
            if "ScheduleExpression" in r.get("Properties", {})
        )

    assert schedules("dev") == ["cron(0 3 * * ? *)", "rate(6 hours)"]  # seed-tools is one-off
    assert schedules("prod") == ["rate(1 hour)", "rate(30 minutes)"]


def test_env_context_selects_one_environment(tmp_path: Path) -> None:
    result = run_app(tmp_path, {"env": "prod"})
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "Regmirror-prod.template.json").is_file()
    assert not (tmp_path / "Regmirror-dev.template.json").exists()


def test_unknown_environment_fails_with_the_known_ones(tmp_path: Path) -> None:
    result = run_app(tmp_path, {"env": "staging"})
    assert result.returncode != 0
    assert "staging.yaml: no such environment file (environments: dev, prod)" in result.stderr
