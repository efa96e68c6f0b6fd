"""cdk-nag is really enforced: a wildcard grant nobody acknowledged fails the synth."""

from __future__ import annotations

import textwrap
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from infra.app_builder import add_nag_checks
from infra.stack import RegmirrorStack
from tests.infrastructure.conftest import NO_BUNDLING, make_settings


def test_unacknowledged_wildcard_fails_synth(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            tasks:
              - name: t
                interval: 600
                source: {registry: a.example.com}
                target: {registry: b.example.com}
                mappings: [{from: x}]
            """
        )
    )
    app = cdk.App(outdir=str(tmp_path / "out"), context=NO_BUNDLING)
    stack = RegmirrorStack(app, make_settings(config))
    role = stack.planning.function.role
    assert role is not None
    iam.Policy(
        stack, "Extra", roles=[role], statements=[iam.PolicyStatement(actions=["s3:*"], resources=["*"])]
    )
    add_nag_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "out" / "validation-report.json").read_text()
    assert "AwsSolutions-IAM5[Resource::*]" in report
    assert "AwsSolutions-IAM5[Action::s3:*]" in report
    assert "Regmirror-test/Extra/Resource" in report
