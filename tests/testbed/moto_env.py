"""moto in server mode on 127.0.0.1 for ECR/STS tests, with the ECR paging front (ecr_pager).

with MotoStack() as aws:          # one per test module (start-up takes about a second)
    aws.apply_env(monkeypatch)    # per test: AWS_ENDPOINT_URL, fake credentials, region
    aws.reset()                   # per test: empty moto state
"""

from __future__ import annotations

import pytest
import requests
from moto.server import ThreadedMotoServer

from tests.testbed.ecr_pager import EcrPager
from tests.testbed.registry import free_port

DEFAULT_ACCOUNT = "123456789012"  # moto's account for the fake credentials
REGION = "eu-central-1"


class MotoStack:
    def __init__(self) -> None:
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.moto_url = f"http://127.0.0.1:{self.port}"
        self.pager = EcrPager(self.moto_url)

    @property
    def url(self) -> str:
        """What AWS_ENDPOINT_URL points at: the paging front, which forwards to moto."""
        return self.pager.url

    def apply_env(self, monkeypatch: pytest.MonkeyPatch, region: str = REGION) -> None:
        for name in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", self.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def reset(self) -> None:
        requests.post(f"{self.moto_url}/moto-api/reset", timeout=30).raise_for_status()
        self.pager.reset()

    def stop(self) -> None:
        self.pager.stop()
        self.server.stop()

    def __enter__(self) -> MotoStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
