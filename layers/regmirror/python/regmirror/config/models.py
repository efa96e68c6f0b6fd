"""dregsy's YAML config → validated models, with file/line/column/field on every problem.

`load_config(path)` / `parse_config(text, filename)` return a `Config` or raise `ConfigError` listing
every problem found (YAML syntax, duplicate keys, unknown keys with a did-you-mean hint, wrong types,
bad regexes, tags, durations, hosts, auth values, ...). Keys are written as in dregsy (`skip-tls-verify`,
`maxItems`, ...); attributes use snake_case. regmirror's extensions are marked "ours" below.
"""

from __future__ import annotations

import json
import os
import re
import typing
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from regmirror.config import values
from regmirror.config.yamlloc import LocatedDocument, Path, YamlFloat, YamlInt, load_located
from regmirror.errors import AuthError, ConfigError, ConfigProblem
from regmirror.registries.credentials import check_auth_spec
from regmirror.registries.endpoint import DOCKER_HUB_ALIASES, Endpoint
from regmirror.rules.match import REGEX_PREFIX

MIN_INTERVAL = 30  # seconds, as dregsy
MIN_AUTH_REFRESH = 3600.0  # seconds, as dregsy
DEFAULT_CACHE_DURATION = 3600.0
DEFAULT_PAGE_SIZE = 1000  # catalog; listers whose API allows less clamp it
NO_LIMIT = -1  # `maxItems: -1`


class _Invalid(ValueError):
    """A validation failure whose message is final; `key` points below the validated model."""

    def __init__(self, message: str, *key: str | int) -> None:
        super().__init__(message)
        self.key: tuple[str | int, ...] = key


# ---------------------------------------------------------------------------- value types


def _scalar_text(value: Any) -> Any:
    """Go's YAML decoder gives a string field the scalar as written (`1.30` stays "1.30")."""
    if isinstance(value, YamlInt | YamlFloat):
        return value.source
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise _Invalid("must not be empty")
    return value


def _null_as_empty(value: Any) -> Any:
    return [] if value is None else value


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        return values.parse_go_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value > 0:  # yaml.v2 decodes a bare number into time.Duration as nanoseconds
            raise _Invalid("a bare number is read as nanoseconds by Go; add a unit, e.g. '1h' or '90m'")
        return float(value)
    raise _Invalid("expected a Go duration such as '1h', '90m' or '1h30m'")


def _max_items(value: int | None) -> int | None:
    if value is not None and value != NO_LIMIT and value < 1:
        raise _Invalid("expected a number >= 1, or -1 for no limit")
    return value


Text = Annotated[str, BeforeValidator(_scalar_text)]
Name = Annotated[Text, AfterValidator(_not_blank)]
Duration = Annotated[float, BeforeValidator(_duration)]
MaxItems = Annotated[int | None, AfterValidator(_max_items)]


def _base_dir(info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, dict) else {}
    return str(context.get("base_dir") or os.getcwd())


def _existing_file(path: str, info: ValidationInfo) -> str:
    full = os.path.normpath(os.path.join(_base_dir(info), os.path.expanduser(path)))
    if not os.path.isfile(full):
        raise _Invalid(f"file not found: {full}")
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
            raise _Invalid("required for lister type 'index'", "search")
        if self.namespaces and self.type != "dockerhub":
            raise _Invalid("only the dockerhub lister takes namespaces", "namespaces")
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
            raise _Invalid(f"lifecycle policy is not valid JSON: {exc.msg} (line {exc.lineno})") from None
        if not isinstance(parsed, dict):
            raise _Invalid("lifecycle policy must be a JSON object")
        return text


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _Invalid(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _registry_syntax(value: str) -> str:
    values.parse_registry(value)
    return value


def _auth_syntax(value: str | None) -> str | None:
    try:
        check_auth_spec(value, field="auth")
    except AuthError as exc:
        raise _Invalid(str(exc).removeprefix("auth: ")) from None
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
            raise _Invalid(
                f"auth-refresh is only for ECR registries; '{self.registry}' is not one", "auth-refresh"
            )
        if self.ecr is not None and not self.is_ecr:
            raise _Invalid(
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
    if lister.type == "dockerhub" and registry.registry.lower() not in DOCKER_HUB_ALIASES:
        raise _Invalid(
            "the dockerhub lister works with Docker Hub only (registry.hub.docker.com)", "lister", "type"
        )
    if lister.type == "ecr" and registry.ecr_account is None:
        raise _Invalid("the ecr lister needs an ECR registry", "lister", "type")


# ---------------------------------------------------------------------------- tasks


def _optional_to(value: str | None) -> str | None:
    return None if value is None or value == "" else values.check_to(value)


class MappingConfig(_Model):
    from_: Annotated[Name, AfterValidator(values.check_from)] = Field(alias="from")
    to: Annotated[Text | None, AfterValidator(_optional_to)] = None
    tags: Annotated[
        list[Annotated[Text, AfterValidator(values.check_tag_entry)]], BeforeValidator(_null_as_empty)
    ] = Field(default_factory=list)
    platform: Annotated[Text, AfterValidator(values.check_platform)] = "all"
    # ours: refuse to plan more images than this (a guard against runaway regexes)
    max_images: int | None = Field(default=None, alias="max-images", ge=1)
    _line: int = PrivateAttr(default=0)

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
            raise _Invalid("must be 0 (run once) or a number of seconds >= 30")
        if 0 < value < MIN_INTERVAL:
            raise _Invalid(f"minimum is {MIN_INTERVAL} seconds (0 runs the task once)")
        return value

    @model_validator(mode="after")
    def _target_only(self) -> Task:
        if self.source.ecr is not None:
            raise _Invalid("ecr settings apply to the target only", "source", "ecr")
        return self

    @property
    def line(self) -> int:
        return self._line


def _relay(value: str) -> str:
    if value not in ("skopeo", "docker"):
        raise _Invalid(
            f"unknown relay '{value}': expected 'skopeo' ('docker' is accepted and runs as skopeo)"
        )
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
            raise _Invalid("at least one task is required")
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

    def max_items_for(self, registry: RegistryConfig) -> int | None:
        """Listing limit for a source: its own `maxItems`, else the global one; None = no limit."""
        own = registry.lister.max_items if registry.lister else None
        if own is None:
            return self.lister.max_items
        return None if own == NO_LIMIT else own

    def page_size_for(self, registry: RegistryConfig) -> int:
        own = registry.lister.page_size if registry.lister else None
        return own or self.lister.page_size


# ---------------------------------------------------------------------------- error translation

_TYPE_MESSAGES = {
    "missing": "required field missing",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "list_type": "expected a list",
    "model_type": "expected a mapping of keys to values",
    "model_attributes_type": "expected a mapping of keys to values",
    "dict_type": "expected a mapping of keys to values",
}


def _kind(value: Any) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (type(None), "nothing (null)"),
        (bool, "true/false"),
        (int, "a number"),
        (float, "a decimal number"),
        (str, "text"),
        (list, "a list"),
        (dict, "a mapping"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), "a value of another kind")


def _found_hint(kind: str, value: Any) -> str:
    if kind == "string_type" and isinstance(value, dict):
        return " (quote entries like 'semver: >=1.0' so YAML keeps them as text)"
    if kind == "string_type" and isinstance(value, bool):
        return " (quote it: YAML reads yes/no/on/off as true/false)"
    return ""


def _model_at(path: Path) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Config
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (f.alias, n)), None)
        model = _inner_model(field.annotation) if field else None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _unknown_key(path: Path) -> str:
    import difflib  # only needed on the error path; keeps cold start short

    key = str(path[-1])
    model = _model_at(path[:-1])
    allowed = [f.alias or n for n, f in model.model_fields.items()] if model else []
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key '{key}' (did you mean '{close[0]}'?)"
    return f"unknown key '{key}'; allowed here: {', '.join(sorted(allowed))}"


def _literal_message(error: Any) -> str:
    import difflib  # only needed on the error path; keeps cold start short

    expected = str(error.get("ctx", {}).get("expected", ""))
    message = f"expected one of {expected}"
    given = error.get("input")
    if isinstance(given, str):
        options = {option.lower(): option for option in re.findall(r"'([^']*)'", expected)}
        close = difflib.get_close_matches(given.lower(), list(options), n=1, cutoff=0.6)
        message += f" (did you mean '{options[close[0]]}'?)" if close else f", not '{given}'"
    return message


def _bound_message(error: Any) -> str:
    ctx = error.get("ctx", {})
    if "ge" in ctx:
        return f"must be at least {ctx['ge']}"
    return f"must be at most {ctx.get('le')}"


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "literal_error":
        return _literal_message(error)
    if kind in ("greater_than_equal", "less_than_equal"):
        return _bound_message(error)
    if kind in _TYPE_MESSAGES:
        found = "" if kind == "missing" else f", found {_kind(error.get('input'))}"
        return _TYPE_MESSAGES[kind] + found + _found_hint(kind, error.get("input"))
    return "invalid value"


def _problem(error: Any, doc: LocatedDocument) -> ConfigProblem:
    path: Path = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return doc.problem(path, _unknown_key(path), at_key=True)
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _Invalid) and cause.key:  # a check of the whole model, about one of its keys
        return doc.problem((*path, *cause.key), str(cause), at_key=True)
    if kind == "value_error" and isinstance(cause, ValueError):
        return doc.problem(path, str(cause))
    return doc.problem(path, _message(error), at_key=kind == "missing")


# ---------------------------------------------------------------------------- loading


def _duplicate_task_names(doc: LocatedDocument) -> list[ConfigProblem]:
    tasks = doc.data.get("tasks") if isinstance(doc.data, dict) else None
    if not isinstance(tasks, list):
        return []
    first_line: dict[str, int] = {}
    problems = []
    for index, task in enumerate(tasks):
        name = _scalar_text(task.get("name")) if isinstance(task, dict) else None
        if not isinstance(name, str):
            continue
        path: Path = ("tasks", index, "name")
        if name in first_line:
            message = f"duplicate task name '{name}' (first used at line {first_line[name]})"
            problems.append(doc.problem(path, message))
        else:
            first_line[name] = doc.value_position(path).line
    return problems


def _warn(config: Config, doc: LocatedDocument, path: Path, message: str) -> None:
    config.warnings.append(str(doc.problem(path, message, at_key=True)))


def _top_level_warnings(config: Config, doc: LocatedDocument) -> None:
    raw = doc.data if isinstance(doc.data, dict) else {}
    if raw.get("relay") == "docker":
        _warn(config, doc, ("relay",), "the docker relay is not supported; images are copied with skopeo")
    if "docker" in raw:
        _warn(config, doc, ("docker",), "the docker section is ignored (regmirror always uses skopeo)")


def _registry_warnings(config: Config, doc: LocatedDocument, path: Path, registry: RegistryConfig) -> None:
    if registry.auth_refresh is not None and registry.auth_refresh < MIN_AUTH_REFRESH:
        registry.auth_refresh = MIN_AUTH_REFRESH
        _warn(config, doc, (*path, "auth-refresh"), "auth-refresh below the 1h minimum; using 1h")
    if path[-1] == "target" and registry.lister is not None:
        _warn(config, doc, (*path, "lister"), "a lister on the target is ignored")


def _finish_task(config: Config, doc: LocatedDocument, index: int, task: Task) -> None:
    task._line = doc.value_position(("tasks", index)).line
    for number, mapping in enumerate(task.mappings):
        path: Path = ("tasks", index, "mappings", number)
        mapping._line = doc.value_position(path).line
        note = values.from_note(mapping.from_) if mapping.from_is_regex else ""
        if note:
            _warn(config, doc, (*path, "from"), note)
    for side in ("source", "target"):
        _registry_warnings(config, doc, ("tasks", index, side), getattr(task, side))
    if not task.mappings:
        _warn(config, doc, ("tasks", index, "name"), f"task '{task.name}' has no mappings and does nothing")


def _finish(config: Config, doc: LocatedDocument) -> Config:
    config._source_file = doc.filename
    _top_level_warnings(config, doc)
    for index, task in enumerate(config.tasks):
        _finish_task(config, doc, index, task)
    return config


def _validate(doc: LocatedDocument, base_dir: str) -> tuple[Config | None, list[ConfigProblem]]:
    if doc.data is None:
        return None, [doc.problem((), "the config is empty; expected a mapping with 'tasks'")]
    data = doc.data
    if isinstance(data, dict):  # top-level `x-...` keys hold YAML anchors to reuse (as in Compose files)
        data = {key: value for key, value in data.items() if not key.startswith("x-")}
    try:
        config = Config.model_validate(data, context={"base_dir": base_dir}, by_alias=True, by_name=False)
    except ValidationError as exc:
        return None, [_problem(error, doc) for error in exc.errors(include_url=False)]
    return config, []


def _parse(text: str, filename: str, base_dir: str) -> Config:
    doc = load_located(text, filename)
    config, problems = _validate(doc, base_dir)
    problems = doc.problems + _duplicate_task_names(doc) + problems
    if problems or config is None:
        problems.sort(key=lambda p: (p.line, p.column))
        raise ConfigError(problems)
    return _finish(config, doc)


def parse_config(text: str, filename: str = "<string>") -> Config:
    """Validate config text; relative paths in it resolve against `filename`'s folder (cwd for "<...>")."""
    pseudo = filename.startswith("<")
    base_dir = os.getcwd() if pseudo else os.path.dirname(os.path.abspath(filename))
    return _parse(text, filename, base_dir)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; every problem is raised in one ConfigError."""
    filename = os.fspath(path)
    try:
        with open(filename, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([ConfigProblem(filename, 0, 0, "", f"cannot read config file: {reason}")]) from None
    except UnicodeDecodeError as exc:
        message = f"config file is not UTF-8 text (byte {exc.start})"
        raise ConfigError([ConfigProblem(filename, 0, 0, "", message)]) from None
    return _parse(text, filename, os.path.dirname(os.path.abspath(filename)))


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
    "load_config",
    "parse_config",
]
