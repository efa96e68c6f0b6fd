"""Synthesize regmirror stacks once per test module (CDK synths cost seconds), never running pip.

`aws:cdk:bundling-stacks: []` makes CDK skip asset bundling, so the layer asset is the source folder
and no `pip install --platform ...` runs; everything else (templates, asset manifests, the relay
image's staged build context, cdk-nag) is real.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import aws_cdk as cdk
from aws_cdk import assertions

from infra.app_builder import add_nag_checks
from infra.settings import EnvironmentSettings
from infra.stack import RegmirrorStack

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


@dataclass
class Synthesized:
    stack: RegmirrorStack
    template: assertions.Template
    raw: dict[str, Any]
    outdir: Path
    assets: dict[str, Any]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == kind}

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.get_logical_id(construct.node.default_child))


def synth_stack(settings: EnvironmentSettings, outdir: Path) -> Synthesized:
    app = cdk.App(outdir=str(outdir), context=NO_BUNDLING)
    stack = RegmirrorStack(app, settings)
    add_nag_checks(app)
    assembly = app.synth()  # raises when cdk-nag reports an unacknowledged finding
    artifact = assembly.get_stack_by_name(stack.stack_name)
    raw = artifact.template
    assets = json.loads((outdir / f"{stack.stack_name}.assets.json").read_text())
    return Synthesized(stack, assertions.Template.from_json(raw), raw, outdir, assets)


def make_settings(config: Path, **overrides: Any) -> EnvironmentSettings:
    data: dict[str, Any] = {
        "name": "test",
        "account": "123456789012",
        "region": "eu-west-1",
        "config": str(config),
        "relay": {"memory_mb": 1536, "timeout_seconds": 600, "ephemeral_storage_mb": 3072, "copy_budget": 3},
        "lister": {"memory_mb": 768, "timeout_seconds": 300, "concurrency": 2},
        "queue": {"max_receive_count": 4},
        "alarms": {"emails": ["ops@example.com"], "queue_age_minutes": 30},
        "log_retention_days": 7,
    }
    data.update(overrides)
    return EnvironmentSettings.model_validate(data)
