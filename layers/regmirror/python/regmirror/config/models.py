"""The config's models: dregsy's keys and regmirror's, validated value by value.

Keys are written as in dregsy (`skip-tls-verify`, `maxItems`, ...); attributes use snake_case.
regmirror's extensions are marked "ours" below. Loading (with positions) is `config.load`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from regmirror.config import values
from regmirror.config.base import (
    DEFAULT_CACHE_DURATION,
    DEFAULT_COPY_TIMEOUT,
    DEFAULT_PAGE_SIZE,
    DEFAULT_STALL_TIMEOUT,
    MIN_INTERVAL,
    NO_LIMIT,
    NULL_IS_EMPTY,
    Duration,
    Invalid,
    MaxItems,
    Name,
    Seconds,
    StrictModel,
    Text,
    null_as_empty,
)
from regmirror.config.registry import RegistryConfig
from regmirror.errors import ConfigError, ConfigProblem
from regmirror.registries.http.breaker import DEFAULT_COOLDOWN, DEFAULT_FAILURES
from regmirror.registries.paging import DEFAULT_NAME_LIMIT, DEFAULT_PAGE_LIMIT
from regmirror.rules.mapping import Mapping
from regmirror.rules.match import REGEX_PREFIX, ToRewriter, dregsy_anchor
from regmirror.rules.referrers import ALL_REFERRERS, NO_REFERRERS, ReferrerRule
from regmirror.rules.tags import TagSelector

# ---------------------------------------------------------------------------- top-level sections


class SkopeoConfig(StrictModel):
    binary: Name = "skopeo"
    certs_dir: Text | None = Field(default=None, alias="certs-dir")
    # ours: a copy that moves no byte for this long is killed (and tried again); 0 = never
    stall_timeout: Seconds = Field(default=DEFAULT_STALL_TIMEOUT, alias="stall-timeout", ge=0)
    # ours: the longest one copy may take, stalled or not
    timeout: Seconds = Field(default=DEFAULT_COPY_TIMEOUT, gt=0)


class DockerConfig(StrictModel):
    """dregsy's docker relay settings: accepted for compatibility and ignored."""

    dockerhost: Text | None = None
    api_version: Text | None = Field(default=None, alias="api-version")


class GlobalListerConfig(StrictModel):
    max_items: MaxItems = Field(default=None, alias="maxItems")  # None = no limit (dregsy's 100 not applied)
    cache_duration: Duration = Field(default=DEFAULT_CACHE_DURATION, alias="cacheDuration")  # < 0: no cache
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, alias="pageSize", ge=1, le=1000)  # ours
    # ours: a listing reading more pages or names than this fails (a registry paging without end)
    page_limit: int = Field(default=DEFAULT_PAGE_LIMIT, alias="pageLimit", ge=1)
    name_limit: int = Field(default=DEFAULT_NAME_LIMIT, alias="nameLimit", ge=1)

    @field_validator("max_items")
    @classmethod
    def _no_limit_is_none(cls, value: int | None) -> int | None:
        return None if value == NO_LIMIT else value


class RetryConfig(StrictModel):
    """ours: how often failed work is tried again within a run (see regmirror.retry)."""

    attempts: int = Field(default=5, ge=1, le=20)  # per registry API operation (page, HEAD, GET)
    copy_attempts: int = Field(default=3, alias="copy-attempts", ge=1, le=100)  # skopeo runs per image
    # operations in a row without an answer that open a registry's circuit breaker (0 = never)
    breaker_failures: int = Field(default=DEFAULT_FAILURES, alias="breaker-failures", ge=0, le=1000)
    breaker_cooldown: Seconds = Field(default=DEFAULT_COOLDOWN, alias="breaker-cooldown", ge=0)


# ---------------------------------------------------------------------------- tasks


def _optional_to(value: str | None) -> str | None:
    return None if value is None or value == "" else values.parse_to(value)


def _parsed(value: str) -> Any:
    """What a validator parsed `value` into (see config.values.Parsed)."""
    assert isinstance(value, values.Parsed), "a mapping's from/to/tags are parsed by their validators"
    return value.parsed


class ReferrersConfig(StrictModel):
    """ours: `referrers: {artifact-types: [...]}`: only referrers of these artifact types travel."""

    artifact_types: Annotated[
        list[Annotated[Text, AfterValidator(values.check_media_type)]], Field(min_length=1)
    ] = Field(alias="artifact-types")

    def rule(self) -> ReferrerRule:
        return ReferrerRule(artifact_types=frozenset(self.artifact_types))


def _referrers_kind(value: Any) -> str:
    return "<bool>" if isinstance(value, bool | str | int | float) or value is None else "<types>"


# ours: `referrers: true | false | {artifact-types: [...]}` on a task or a mapping (the mapping's wins);
# told apart by the value's shape, so a mistake gets the one message of the form it has
Referrers = Annotated[
    Annotated[bool, Tag("<bool>")] | Annotated[ReferrersConfig, Tag("<types>")],
    Discriminator(_referrers_kind),
]


def referrer_rule(setting: Referrers) -> ReferrerRule:
    if isinstance(setting, ReferrersConfig):
        return setting.rule()
    return ALL_REFERRERS if setting else NO_REFERRERS


class MappingConfig(StrictModel):
    from_: Annotated[Name, AfterValidator(values.parse_from)] = Field(alias="from")
    to: Annotated[Text | None, AfterValidator(_optional_to)] = None
    tags: Annotated[
        list[Annotated[Text, AfterValidator(values.parse_tag_entry)]],
        BeforeValidator(null_as_empty),
        NULL_IS_EMPTY,
    ] = Field(default_factory=list)
    platform: Annotated[Text, AfterValidator(values.check_platform)] = "all"
    # ours: refuse to plan more images than this (a guard against runaway regexes)
    max_images: int | None = Field(default=None, alias="max-images", ge=1)
    referrers: Referrers | None = None  # ours: None = the task's setting
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
        assert self._rule is not None  # set by _assemble_rules
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


class Task(StrictModel):
    name: Name
    interval: int = 0  # seconds; 0 = one-off
    schedule: Annotated[Text, AfterValidator(values.check_schedule)] | None = None  # ours: EventBridge
    verbose: bool = False
    source: RegistryConfig
    target: RegistryConfig
    mappings: Annotated[list[MappingConfig], BeforeValidator(null_as_empty), NULL_IS_EMPTY] = Field(
        default_factory=list
    )
    referrers: Referrers = True  # ours: signatures, attestations, SBOMs travel with the images
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

    def referrer_rule(self, mapping: int) -> ReferrerRule:
        """Which referrers travel with the images of mapping number `mapping`."""
        own = self.mappings[mapping].referrers if 0 <= mapping < len(self.mappings) else None
        return referrer_rule(self.referrers if own is None else own)


def _relay(value: str) -> str:
    if value not in ("skopeo", "docker"):
        raise Invalid(f"unknown relay '{value}': expected 'skopeo' ('docker' is accepted and runs as skopeo)")
    return "skopeo"


class Config(StrictModel):
    relay: Annotated[Text, AfterValidator(_relay)] = "skopeo"
    watch: bool = False
    skopeo: SkopeoConfig = Field(default_factory=SkopeoConfig)
    docker: DockerConfig | None = None  # ignored (warning)
    dockerhost: Text | None = None  # dregsy's deprecated top-level docker settings: ignored (warning)
    api_version: Text | None = Field(default=None, alias="api-version")
    lister: GlobalListerConfig = Field(default_factory=GlobalListerConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)  # ours
    # ours: registries without `auth` use the user's logins (auth.json, ~/.docker/config.json, helpers)
    credentials_from_environment: bool = Field(default=True, alias="credentials-from-environment")
    tasks: Annotated[list[Task], BeforeValidator(null_as_empty), NULL_IS_EMPTY] = Field(
        default_factory=list
    )  # none: no-op
    _source_file: str = PrivateAttr(default="<string>")
    _warnings: list[ConfigProblem] = PrivateAttr(default_factory=list)

    @property
    def source_file(self) -> str:
        return self._source_file

    @property
    def warnings(self) -> list[str]:
        """What loads but is probably a mistake, in file order, each `file:line:column: field: message`."""
        return [str(w) for w in sorted(self._warnings, key=lambda w: (w.line, w.column))]

    def add_warning(self, warning: ConfigProblem) -> None:
        self._warnings.append(warning)

    def select_tasks(self, pattern: str | None) -> list[Task]:
        """Tasks selected by `pattern` as dregsy's `-run` selects them; all when None.

        dregsy trims the expression, a leading `!` inverts it, and `^`/`$` are added as text before a
        search (RE2): `t1` is only `t1`, `t1|t2` is `^t1|t2$` (so `t10` too), `!t1` every other task.
        """
        if pattern is None:
            return list(self.tasks)
        text = pattern.strip()
        inverted = text.startswith("!")
        try:
            regex = values.compile_regex(dregsy_anchor(text.removeprefix("!")))
        except ValueError as exc:
            raise ConfigError([ConfigProblem("command line", 0, 0, "-run", str(exc))]) from None
        return [task for task in self.tasks if regex.search(task.name) != inverted]


__all__ = [
    "Config",
    "DockerConfig",
    "GlobalListerConfig",
    "MappingConfig",
    "RetryConfig",
    "SkopeoConfig",
    "Task",
]
