"""The config's models: dregsy's keys and regmirror's, validated value by value.

Keys are written as in dregsy (`skip-tls-verify`, `maxItems`, ...); attributes use snake_case.
regmirror's extensions are marked "ours" below. Loading (with positions) is `config.load`.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from regmirror.config import values
from regmirror.config.yamlloc import YamlFloat, YamlInt
from regmirror.errors import AuthError, ConfigError, ConfigProblem
from regmirror.registries.credentials import check_auth_spec
from regmirror.registries.dockerhub.hosts import is_docker_hub
from regmirror.registries.endpoint import Endpoint
from regmirror.rules.mapping import Mapping
from regmirror.rules.match import REGEX_PREFIX, ToRewriter
from regmirror.rules.tags import TagSelector

MIN_INTERVAL = 30  # seconds, as dregsy
MIN_AUTH_REFRESH = 3600.0  # seconds, as dregsy
DEFAULT_CACHE_DURATION = 3600.0
DEFAULT_PAGE_SIZE = 1000  # catalog; listers whose API allows less clamp it
NO_LIMIT = -1  # `maxItems: -1`


class Invalid(ValueError):
    """A validation failure whose message is final; `key` points below the validated model."""

    def __init__(self, message: str, *key: str | int) -> None:
        super().__init__(message)
        self.key: tuple[str | int, ...] = key


# ---------------------------------------------------------------------------- value types


def scalar_text(value: Any) -> Any:
    """Go's YAML decoder gives a string field the scalar as written (`1.30` stays "1.30")."""
    if isinstance(value, YamlInt | YamlFloat):
        return value.source
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise Invalid("must not be empty")
    return value


def _null_as_empty(value: Any) -> Any:
    return [] if value is None else value


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        return values.parse_go_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value > 0:  # yaml.v2 decodes a bare number into time.Duration as nanoseconds
            raise Invalid("a bare number is read as nanoseconds by Go; add a unit, e.g. '1h' or '90m'")
        return float(value)
    raise Invalid("expected a Go duration such as '1h', '90m' or '1h30m'")


def _max_items(value: int | None) -> int | None:
    if value is not None and value != NO_LIMIT and value < 1:
        raise Invalid("expected a number >= 1, or -1 for no limit")
    return value


Text = Annotated[str, BeforeValidator(scalar_text)]
Name = Annotated[Text, AfterValidator(_not_blank)]
Duration = Annotated[float, BeforeValidator(_duration)]
MaxItems = Annotated[int | None, AfterValidator(_max_items)]


def _base_dir(info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, dict) else {}
    return str(context.get("base_dir") or os.getcwd())


def _existing_file(path: str, info: ValidationInfo) -> str:
    full = os.path.normpath(os.path.join(_base_dir(info), os.path.expanduser(path)))
    if not os.path.isfile(full):
        raise Invalid(f"file not found: {full}")
    return full


class _Model(BaseModel):
    # strict: a quoted "60" or "true" stays text and is refused, as Go's decoder refuses it
    model_config = ConfigDict(extra="forbid", strict=True, validate_by_name=True, validate_by_alias=True)


# ---------------------------------------------------------------------------- top-level sections


class SkopeoConfig(_Model):
    binary: Name = "skopeo"
    certs_dir: Text | None = Field(default=None, alias="certs-dir")


class DockerConfig(_Model):
    """dregsy's docker relay settings: accepted for compatibility and ignored."""

    dockerhost: Text | None = None
    api_version: Text | None = Field(default=None, alias="api-version")


class GlobalListerConfig(_Model):
    max_items: MaxItems = Field(default=None, alias="maxItems")  # None = no limit (dregsy's 100 not applied)
    cache_duration: Duration = Field(default=DEFAULT_CACHE_DURATION, alias="cacheDuration")  # < 0: no cache
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, alias="pageSize", ge=1, le=1000)  # ours

    @field_validator("max_items")
    @classmethod
    def _no_limit_is_none(cls, value: int | None) -> int | None:
        return None if value == NO_LIMIT else value


class RetryConfig(_Model):
    """ours: how often failed work is tried again within a run (see regmirror.retry)."""

    attempts: int = Field(default=5, ge=1, le=20)  # per registry API operation (page, HEAD, GET)
    copy_attempts: int = Field(default=3, alias="copy-attempts", ge=1, le=100)  # skopeo runs per image


# ---------------------------------------------------------------------------- registries


class ListerConfig(_Model):
    type: Literal["catalog", "dockerhub", "index", "ecr"]
    search: Name | None = None  # required for `index`
    namespaces: Annotated[list[Name], BeforeValidator(_null_as_empty)] = Field(default_factory=list)  # ours
    # ours: API base URL override (tests, mirrors)
    base_url: Annotated[Text, AfterValidator(values.check_base_url)] | None = Field(
        default=None, alias="baseUrl"
    )
    page_size: int | None = Field(default=None, alias="pageSize", ge=1, le=1000)  # ours
    max_items: MaxItems = Field(default=None, alias="maxItems")  # ours: None = global, -1 = no limit

    @model_validator(mode="after")
    def _type_needs(self) -> ListerConfig:
        if self.type == "index" and self.search is None:
            raise Invalid("required for lister type 'index'", "search")
        if self.namespaces and self.type != "dockerhub":
            raise Invalid("only the dockerhub lister takes namespaces", "namespaces")
        return self


class EcrRepositorySettings(_Model):
    """How regmirror creates missing repositories in an ECR target (ours)."""

    tag_mutability: Literal["MUTABLE", "IMMUTABLE"] = Field(default="MUTABLE", alias="tag-mutability")
    scan_on_push: bool = Field(default=False, alias="scan-on-push")
    kms_key: Name | None = Field(default=None, alias="kms-key")
    lifecycle_policy: Name | None = Field(default=None, alias="lifecycle-policy")  # JSON text after loading

    @field_validator("lifecycle_policy")
    @classmethod
    def _policy_json(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        text = value if value.lstrip().startswith("{") else _read_text(_existing_file(value, info))
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Invalid(f"lifecycle policy is not valid JSON: {exc.msg} (line {exc.lineno})") from None
        if not isinstance(parsed, dict):
            raise Invalid("lifecycle policy must be a JSON object")
        return text


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _registry_syntax(value: str) -> str:
    values.parse_registry(value)
    return value


def _auth_syntax(value: str | None) -> str | None:
    try:
        check_auth_spec(value, field="auth")
    except AuthError as exc:
        raise Invalid(str(exc).removeprefix("auth: ")) from None
    return value


class RegistryConfig(_Model):
    registry: Annotated[Name, AfterValidator(_registry_syntax)]  # host[:port]; public ECR → public.ecr.aws
    auth: Annotated[Text | None, AfterValidator(_auth_syntax)] = Field(default=None, repr=False)  # unresolved
    skip_tls_verify: bool = Field(default=False, alias="skip-tls-verify")
    insecure: bool = False  # ours: plain HTTP
    ca_file: Text | None = Field(default=None, alias="ca-file")  # ours: absolute after loading
    auth_refresh: Duration | None = Field(default=None, alias="auth-refresh")  # ECR only, seconds
    lister: ListerConfig | None = None
    role_arn: Annotated[Text, AfterValidator(values.check_role_arn)] | None = Field(
        default=None, alias="role-arn"
    )
    region: Annotated[Text, AfterValidator(values.check_region)] | None = None  # ours
    ecr: EcrRepositorySettings | None = None  # ours: target repository creation
    # ours: as a source, keep this many pulls of a RateLimit-* budget in reserve (default 10)
    rate_limit_floor: int | None = Field(default=None, alias="rate-limit-floor", ge=0)
    # ours: as a source, at most this many copies from it at once (default: only --concurrency)
    max_concurrent_copies: int | None = Field(default=None, alias="max-concurrent-copies", ge=1)
    _host: values.RegistryHost = PrivateAttr(default_factory=lambda: values.RegistryHost(""))

    @field_validator("ca_file")
    @classmethod
    def _ca_exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _existing_file(value, info)

    @model_validator(mode="after")
    def _resolve_host(self) -> RegistryConfig:
        self._host = values.parse_registry(self.registry)
        self.registry = self._host.host
        if self.auth_refresh is not None and self._host.ecr_account is None:
            raise Invalid(
                f"auth-refresh is only for ECR registries; '{self.registry}' is not one", "auth-refresh"
            )
        if self.ecr is not None and not self.is_ecr:
            raise Invalid(
                "ecr settings need a private ECR registry (<account>.dkr.ecr.<region>.amazonaws.com)", "ecr"
            )
        _check_lister_fits(self)
        return self

    @property
    def is_ecr(self) -> bool:
        """Private ECR: `<account>.dkr.ecr.<region>.amazonaws.com[.cn]`."""
        return self._host.ecr_account is not None and not self._host.public_ecr

    @property
    def is_public_ecr(self) -> bool:
        """Written `<account>[:<region>]@public.ecr.aws`; `registry` then holds `public.ecr.aws`."""
        return self._host.public_ecr

    @property
    def ecr_account(self) -> str | None:
        return self._host.ecr_account

    @property
    def ecr_region(self) -> str | None:
        if self._host.public_ecr:
            return self._host.ecr_region or self.region or values.PUBLIC_ECR_DEFAULT_REGION
        return self._host.ecr_region

    def endpoint(self) -> Endpoint:
        return Endpoint(
            host=self.registry,
            insecure=self.skip_tls_verify or self.insecure,
            verify_tls=not self.skip_tls_verify,
            ca_file=self.ca_file,
            auth=self.auth,
            plain_http=self.insecure,
        )


def _check_lister_fits(registry: RegistryConfig) -> None:
    lister = registry.lister
    if lister is None or lister.base_url is not None:
        return  # an explicit API URL may point anywhere (tests, mirrors)
    if lister.type == "dockerhub" and not is_docker_hub(registry.registry):
        raise Invalid(
            "the dockerhub lister works with Docker Hub only (registry.hub.docker.com)", "lister", "type"
        )
    if lister.type == "ecr" and registry.ecr_account is None:
        raise Invalid("the ecr lister needs an ECR registry", "lister", "type")


# ---------------------------------------------------------------------------- tasks


def _optional_to(value: str | None) -> str | None:
    return None if value is None or value == "" else values.parse_to(value)


def _parsed(value: str) -> Any:
    """What a validator parsed `value` into (see config.values.Parsed)."""
    assert isinstance(value, values.Parsed), "a mapping's from/to/tags are parsed by their validators"
    return value.parsed


class MappingConfig(_Model):
    from_: Annotated[Name, AfterValidator(values.parse_from)] = Field(alias="from")
    to: Annotated[Text | None, AfterValidator(_optional_to)] = None
    tags: Annotated[
        list[Annotated[Text, AfterValidator(values.parse_tag_entry)]], BeforeValidator(_null_as_empty)
    ] = Field(default_factory=list)
    platform: Annotated[Text, AfterValidator(values.check_platform)] = "all"
    # ours: refuse to plan more images than this (a guard against runaway regexes)
    max_images: int | None = Field(default=None, alias="max-images", ge=1)
    _line: int = PrivateAttr(default=0)
    _rule: Mapping | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _assemble_rules(self) -> MappingConfig:
        """The `Mapping` every user of this mapping asks, made of what the validators parsed."""
        destination = ToRewriter("keep") if self.to is None else _parsed(self.to)
        tags = TagSelector.combine(_parsed(entry) for entry in self.tags)
        self._rule = Mapping.of(_parsed(self.from_), destination, tags)
        return self

    @property
    def rule(self) -> Mapping:
        """The parsed mapping (always set once the model is validated)."""
        assert self._rule is not None  # set by _parse_rules
        return self._rule

    @property
    def line(self) -> int:
        return self._line

    @property
    def from_is_regex(self) -> bool:
        return self.from_.startswith(REGEX_PREFIX)

    @property
    def from_pattern(self) -> str:
        """The regex of `from: regex:<re>` as written (not anchored); the plain path otherwise."""
        return self.from_.removeprefix(REGEX_PREFIX)

    @property
    def to_is_regex(self) -> bool:
        return self.to is not None and self.to.startswith(REGEX_PREFIX)


class Task(_Model):
    name: Name
    interval: int = 0  # seconds; 0 = one-off
    schedule: Annotated[Text, AfterValidator(values.check_schedule)] | None = None  # ours: EventBridge
    verbose: bool = False
    source: RegistryConfig
    target: RegistryConfig
    mappings: Annotated[list[MappingConfig], BeforeValidator(_null_as_empty)] = Field(default_factory=list)
    _line: int = PrivateAttr(default=0)

    @field_validator("interval")
    @classmethod
    def _interval_range(cls, value: int) -> int:
        if value < 0:
            raise Invalid("must be 0 (run once) or a number of seconds >= 30")
        if 0 < value < MIN_INTERVAL:
            raise Invalid(f"minimum is {MIN_INTERVAL} seconds (0 runs the task once)")
        return value

    @model_validator(mode="after")
    def _target_only(self) -> Task:
        if self.source.ecr is not None:
            raise Invalid("ecr settings apply to the target only", "source", "ecr")
        return self

    @property
    def line(self) -> int:
        return self._line


def _relay(value: str) -> str:
    if value not in ("skopeo", "docker"):
        raise Invalid(f"unknown relay '{value}': expected 'skopeo' ('docker' is accepted and runs as skopeo)")
    return "skopeo"


class Config(_Model):
    relay: Annotated[Text, AfterValidator(_relay)] = "skopeo"
    watch: bool = False
    skopeo: SkopeoConfig = Field(default_factory=SkopeoConfig)
    docker: DockerConfig | None = None  # ignored (warning)
    lister: GlobalListerConfig = Field(default_factory=GlobalListerConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)  # ours
    tasks: list[Task]
    _source_file: str = PrivateAttr(default="<string>")
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @field_validator("tasks")
    @classmethod
    def _some_tasks(cls, value: list[Task]) -> list[Task]:
        if not value:
            raise Invalid("at least one task is required")
        return value

    @property
    def source_file(self) -> str:
        return self._source_file

    @property
    def warnings(self) -> list[str]:
        return self._warnings

    def select_tasks(self, pattern: str | None) -> list[Task]:
        """Tasks whose name fully matches `pattern` (RE2, like dregsy's `-run`); all when None."""
        if pattern is None:
            return list(self.tasks)
        try:
            regex = values.compile_regex(pattern)
        except ValueError as exc:
            raise ConfigError([ConfigProblem("command line", 0, 0, "-run", str(exc))]) from None
        return [task for task in self.tasks if regex.fullmatch(task.name)]


__all__ = [
    "Config",
    "DockerConfig",
    "EcrRepositorySettings",
    "GlobalListerConfig",
    "ListerConfig",
    "MappingConfig",
    "RegistryConfig",
    "RetryConfig",
    "SkopeoConfig",
    "Task",
]
