"""A registry of a task (`source`, `target`): host (ECR facts read from it), auth, TLS, lister."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from regmirror.config import values
from regmirror.config.base import (
    NULL_IS_EMPTY,
    Duration,
    Invalid,
    MaxItems,
    Name,
    StrictModel,
    Text,
    existing_file,
    null_as_empty,
)
from regmirror.errors import AuthError
from regmirror.registries.certdirs import certs_roots, host_folder
from regmirror.registries.credentials import check_auth_spec
from regmirror.registries.dockerhub.hosts import is_docker_hub
from regmirror.registries.endpoint import Endpoint

# ---------------------------------------------------------------------------- registries


class ListerConfig(StrictModel):
    type: Literal["catalog", "dockerhub", "index", "ecr"]
    search: Name | None = None  # required for `index`
    namespaces: Annotated[list[Name], BeforeValidator(null_as_empty), NULL_IS_EMPTY] = Field(
        default_factory=list
    )  # ours
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


class EcrRepositorySettings(StrictModel):
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
        text = value if value.lstrip().startswith("{") else _read_text(existing_file(value, info))
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


class RegistryConfig(StrictModel):
    registry: Annotated[
        Name, AfterValidator(_registry_syntax)
    ]  # host[:port][/prefix]; public ECR → public.ecr.aws
    auth: Annotated[Text | None, AfterValidator(_auth_syntax)] = Field(default=None, repr=False)  # unresolved
    skip_tls_verify: bool = Field(default=False, alias="skip-tls-verify")
    insecure: bool = False  # ours: plain HTTP
    # ours: the registry's kind when its host does not tell (a Google registry behind a proxy name)
    kind: Literal["distribution", "gcr"] | None = None
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
    _auth_position: tuple[int, int] = PrivateAttr(default=(0, 0))  # (line, column) of `auth`, set at load
    _discover_logins: bool = PrivateAttr(default=True)  # the config's credentials-from-environment
    _certs_dir: str | None = PrivateAttr(default=None)  # the config's skopeo.certs-dir (None: the default)

    @property
    def discover_logins(self) -> bool:
        """Without `auth`, use the user's logins (docker/podman login, helpers); see registries.logins."""
        return self._discover_logins

    @property
    def auth_position(self) -> tuple[int, int]:
        """Where `auth` is written in the config file ((0, 0) when unknown)."""
        return self._auth_position

    @field_validator("ca_file")
    @classmethod
    def _ca_exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else existing_file(value, info)

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
    def path_prefix(self) -> str:
        """`registry: host/project` (as dregsy loads it): "project", prefixed to every repository path."""
        return self._host.path_prefix

    def repository(self, path: str) -> str:
        """The repository at `path` in this registry (below its path prefix, if any)."""
        return f"{self.path_prefix}/{path}" if self.path_prefix else path

    def relative(self, repository: str) -> str | None:
        """`repository` without the path prefix; None when it lies outside the prefix."""
        if not self.path_prefix:
            return repository
        head = self.path_prefix + "/"
        return repository[len(head) :] if repository.startswith(head) else None

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
            cert_dir=self.cert_folder(),
        )

    def cert_folder(self) -> str | None:
        """This registry's certs.d folder, if one exists (see registries.certdirs)."""
        folder = host_folder(self.registry, certs_roots(self._certs_dir))
        return str(folder) if folder else None


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
