"""Build the CDK app: one stack per selected environment, cdk-nag AwsSolutions checks on all of it."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.settings import available_environments, load_environment
from infra.stack import RegmirrorStack

ALL = "all"


def selected_environments(app: cdk.App) -> list[str]:
    """`-c env=NAME` (or `env=a,b`) selects environments; `all` or no value selects every one."""
    value = app.node.try_get_context("env")
    if not value or value == ALL:
        return available_environments()
    return [name.strip() for name in str(value).split(",") if name.strip()]


def add_nag_checks(app: cdk.App) -> None:
    """cdk-nag 3 is a policy-validation plugin: any finding not acknowledged fails `app.synth()`. The
    acknowledgments (each with its reason) are also written into the resources' template Metadata."""
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    for name in selected_environments(app):
        RegmirrorStack(app, load_environment(name))
    add_nag_checks(app)
    return app
