"""The CLI installed without the `aws` extra (no boto3, botocore or Powertools: imports of them fail,
as in a plain `pip install regmirror`): a registry-to-registry sync works, and a config that needs AWS
says which extra to install, in one line, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.testbed import RegistryServer, manifest_digest, push_image

REGMIRROR = str(Path(sys.executable).with_name("regmirror"))
BLOCKER = """
import sys
BLOCKED = ("boto3", "botocore", "aws_lambda_powertools", "s3transfer")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


@pytest.fixture
def no_aws(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python cannot import the AWS packages (a `sitecustomize` blocks them)."""
    folder = tmp_path / "no-aws"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    return {**os.environ, "PYTHONPATH": str(folder)}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REGMIRROR, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_the_blocker_really_hides_the_aws_packages(no_aws: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import boto3"], env=no_aws, capture_output=True, check=False
    )
    assert done.returncode == 1 and b"No module named 'boto3'" in done.stderr


def test_a_registry_to_registry_sync_needs_no_aws_package(
    no_aws: dict[str, str],
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    digest = push_image(plain_registry, "team/app", "1.0", platforms=["linux/amd64", "linux/arm64"])
    config = tmp_path / "mirror.yaml"
    config.write_text(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{plain_registry.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{second_plain_registry.host}", skip-tls-verify: true}}\n'
        "    mappings: [{from: team/app}]\n",
        encoding="utf-8",
    )
    done = run(no_aws, "sync", "--no-record", str(config))
    assert done.returncode == 0, done.stderr
    assert "1 images: 1 copied" in done.stdout
    assert manifest_digest(second_plain_registry, "team/app", "1.0") == digest


def test_what_needs_aws_names_the_extra_in_one_line(no_aws: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "aws.yaml"
    config.write_text(
        "tasks:\n"
        "  - name: ecr\n"
        "    source: {registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com}\n"
        "    target: {registry: 127.0.0.1:2, insecure: true}\n"
        '    mappings: [{from: team/app, tags: ["1.0"]}]\n'
        "  - name: secret\n"
        '    source: {registry: 127.0.0.1:1, insecure: true, auth: "secretsmanager:team/pull"}\n'
        "    target: {registry: 127.0.0.1:2, insecure: true}\n"
        '    mappings: [{from: team/app, to: other/app, tags: ["1.0"]}]\n',
        encoding="utf-8",
    )
    assert run(no_aws, "validate", str(config)).returncode == 0  # validating needs no AWS package
    ecr = run(no_aws, "plan", str(config), "--task", "ecr")
    assert ecr.returncode == 1 and "Traceback" not in ecr.stderr
    assert ecr.stderr.strip().splitlines()[-1] == (
        "regmirror: an ECR registry without `auth` (reached through the AWS API) needs botocore, "
        "which is not installed: pip install 'regmirror[aws]'"
    )
    secret = run(no_aws, "plan", str(config), "--task", "secret")
    assert secret.returncode == 2 and "Traceback" not in secret.stderr
    assert "tasks[1].source.auth" in secret.stderr and "pip install 'regmirror[aws]'" in secret.stderr
