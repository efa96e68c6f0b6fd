"""Per-environment deployment settings (`infra/environments/<name>.yaml`), validated at synth.

An environment names the AWS account and region, the regmirror config file it deploys and the sizing
of the functions. `cdk synth -c env=prod` selects `infra/environments/prod.yaml`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from regmirror.aws.environment import (
    DEFAULT_CHECK_WORKERS,
    DEFAULT_HANDOFF_RESERVE_SECONDS,
    DEFAULT_RETRY_BASE_SECONDS,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS_DIR = REPO_ROOT / "infra" / "environments"

# Lambda's hard limits (2025): timeout 900 s, memory 128-10240 MB, /tmp 512-10240 MB.
LAMBDA_MAX_TIMEOUT = 900


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelaySettings(_Strict):
    """The skopeo relay: one copy per invocation (batch of SQS messages, each copied in turn)."""

    memory_mb: int = Field(default=2048, ge=512, le=10240)
    timeout_seconds: int = Field(default=900, ge=60, le=LAMBDA_MAX_TIMEOUT)
    # skopeo streams layers but keeps its temp files (and an uncompressed layer when it must
    # recompress) under TMPDIR=/tmp: the largest layer you mirror must fit.
    ephemeral_storage_mb: int = Field(default=4096, ge=512, le=10240)
    # At most this many copies run at once, so an upstream's rate limits hold: the SQS event source's
    # maximum concurrency (what AWS recommends for SQS), and the reserved concurrency too when
    # `reserve_concurrency` (off by default: a reservation comes out of the account's quota, and new
    # accounts, whose quota may be 10, refuse it at `cdk deploy`).
    copy_budget: int = Field(default=4, ge=2, le=1000)
    reserve_concurrency: bool = False
    batch_size: int = Field(default=1, ge=1, le=10)
    max_batching_window_seconds: int = Field(default=0, ge=0, le=300)
    # A failed copy's message comes back after this many seconds, doubled per attempt.
    retry_base_seconds: int = Field(default=DEFAULT_RETRY_BASE_SECONDS, ge=0, le=43200)


class ListerSettings(_Strict):
    """The planner: lists, matches, selects tags and compares digests, then enqueues copies."""

    memory_mb: int = Field(default=1024, ge=256, le=10240)
    timeout_seconds: int = Field(default=900, ge=60, le=LAMBDA_MAX_TIMEOUT)
    # Planning runs at once (one task each); each sends HEAD requests with `check_workers` threads.
    concurrency: int = Field(default=2, ge=2, le=100)
    check_workers: int = Field(default=DEFAULT_CHECK_WORKERS, ge=1, le=64)
    # Seconds kept in reserve before the time limit: when reached, the items not yet checked are
    # handed to the copy queue unchecked (the relay checks digests first), so no work is lost.
    handoff_reserve_seconds: int = Field(default=DEFAULT_HANDOFF_RESERVE_SECONDS, ge=10, le=600)


class QueueSettings(_Strict):
    max_receive_count: int = Field(default=3, ge=1, le=1000)
    dlq_retention_days: int = Field(default=14, ge=1, le=14)


class AlarmSettings(_Strict):
    emails: list[str] = Field(default_factory=list)
    # The copy queue's oldest message older than this means the relays do not keep up (or are stuck).
    queue_age_minutes: int = Field(default=120, ge=5, le=20160)


# Fargate's valid CPU units → memory sizes (MiB) (AWS docs, 2025).
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}


class LargeImageSettings(_Strict):
    """Images too big or too slow for the Lambda relay are copied by a Fargate task of the relay image.

    Off by default. On, the relay reads an image's source manifests before copying (one extra manifest
    GET per image: Docker Hub counts it as a pull) and hands images above `size_limit_mb` to Fargate;
    a copy still running `timeout_reserve_seconds` before the relay's time limit is handed off too.
    """

    enabled: bool = False
    size_limit_mb: int = Field(default=4096, ge=1, le=10240)
    timeout_reserve_seconds: int = Field(default=60, ge=10, le=600)
    cpu: int = 1024
    memory_mb: int = 4096
    ephemeral_storage_gb: int = Field(default=50, ge=21, le=200)  # Fargate's range
    # An existing network: all three, or none (then a VPC with two public subnets, no NAT gateway).
    vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]+$")
    subnet_ids: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid_task_size(self) -> LargeImageSettings:
        if self.cpu not in FARGATE_MEMORY:
            raise ValueError(f"cpu: {self.cpu} is not a Fargate size ({sorted(FARGATE_MEMORY)})")
        sizes = FARGATE_MEMORY[self.cpu]
        if self.memory_mb not in sizes:
            fits = (
                f"{sizes[0]}-{sizes[-1]} MiB in steps of {sizes[1] - sizes[0]}" if self.cpu > 256 else sizes
            )
            raise ValueError(f"memory_mb: {self.memory_mb} does not fit cpu {self.cpu} ({fits})")
        network = (bool(self.vpc_id), bool(self.subnet_ids), bool(self.security_group_ids))
        if any(network) and not all(network):
            raise ValueError("vpc_id, subnet_ids and security_group_ids: give all three or none")
        return self


class EnvironmentSettings(_Strict):
    name: str
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    config: str  # regmirror config file (dregsy format), relative to the repository root
    description: str = ""
    relay: RelaySettings = Field(default_factory=RelaySettings)
    lister: ListerSettings = Field(default_factory=ListerSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    log_retention_days: int = 30
    metrics_namespace: str = Field(default="Regmirror", pattern=r"^[A-Za-z0-9._/#:-]{1,255}$")
    push_events: bool = True
    large_images: LargeImageSettings = Field(default_factory=LargeImageSettings)
    # The functions' CPU: Graviton (`arm64`, about 20 % cheaper per GB-second) or `x86_64`. The layer's
    # wheels and the relay image are built for it.
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    # Secrets named in the config that are encrypted with a customer managed KMS key need kms:Decrypt.
    secret_kms_key_arns: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        allowed = {
            1,
            3,
            5,
            7,
            14,
            30,
            60,
            90,
            120,
            150,
            180,
            365,
            400,
            545,
            731,
            1096,
            1827,
            2192,
            2557,
            2922,
        }
        # (the CloudWatch Logs periods CDK names; infra/common.py maps each to its enum member)
        if value not in allowed:
            raise ValueError(f"must be one of CloudWatch Logs' retention periods {sorted(allowed)}")
        return value

    @field_validator("secret_kms_key_arns")
    @classmethod
    def _kms_arns(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not arn.startswith("arn:") or ":kms:" not in arn or ":key/" not in arn:
                raise ValueError(f"{arn!r} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)")
        return value

    @model_validator(mode="after")
    def _config_exists(self) -> EnvironmentSettings:
        if not self.config_path.is_file():
            raise ValueError(f"config: {self.config} does not exist (relative to {REPO_ROOT})")
        return self

    @property
    def config_path(self) -> Path:
        path = Path(self.config)
        return path if path.is_absolute() else REPO_ROOT / path

    @property
    def stack_name(self) -> str:
        return f"Regmirror-{self.name}"


class SettingsError(ValueError):
    """An environment file is missing or invalid; the message names the file and each bad field."""


def available_environments(directory: Path = ENVIRONMENTS_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_environment(name: str, directory: Path = ENVIRONMENTS_DIR) -> EnvironmentSettings:
    path = directory / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_environments(directory)) or "none"
        raise SettingsError(f"{path}: no such environment file (environments: {known})")
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping of settings")
    data.setdefault("name", name)
    try:
        return EnvironmentSettings.model_validate(data)
    except ValidationError as exc:
        problems = [f"{path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("\n".join(problems)) from exc
