"""Fixtures of the AWS-mode tests: one moto server per test module (127.0.0.1), a clean AWS
environment per test. Modules with their own `moto`/`aws` fixtures (test_ecr_moto) override these."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.aws_harness import AwsEnv, MotoAws, aws_environment


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoAws]:
    server = MotoAws()
    yield server
    server.stop()


@pytest.fixture
def aws(moto: MotoAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    yield from aws_environment(moto, monkeypatch)
