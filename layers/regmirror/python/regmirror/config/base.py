"""What every config model shares: limits, the value types (text as YAML wrote it, durations, file
paths relative to the config) and the strict base model."""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import CoreSchema

from regmirror.config import values
from regmirror.config.yamlloc import YamlFloat, YamlInt

MIN_INTERVAL = 30  # seconds, as dregsy
MIN_AUTH_REFRESH = 3600.0  # seconds, as dregsy
DEFAULT_CACHE_DURATION = 3600.0
DEFAULT_PAGE_SIZE = 1000  # catalog; listers whose API allows less clamp it
NO_LIMIT = -1  # `maxItems: -1` (any negative number)


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


def null_as_empty(value: Any) -> Any:
    return [] if value is None else value


NANOSECOND = 1e-9
DEFAULT_STALL_TIMEOUT = 120.0  # seconds a copy may move (nearly) no data (skopeo.stall-timeout)
DEFAULT_COPY_TIMEOUT = 1800.0  # the longest one copy may take (skopeo.timeout)


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        return values.parse_go_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) * NANOSECOND  # yaml.v2 decodes a bare number into time.Duration as nanoseconds
    raise Invalid("expected a Go duration such as '1h', '90m' or '1h30m'")


def _seconds(value: Any) -> Any:
    """ours: a Go duration ("90s", "2m") or a plain number of seconds (not dregsy's nanoseconds)."""
    if isinstance(value, str):
        return values.parse_go_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise Invalid("expected a duration such as '90s' or '2m', or a number of seconds")


def _max_items(value: int | None) -> int | None:
    """dregsy: 0 means the default, a negative number no limit."""
    if value is None or value == 0:
        return None
    return NO_LIMIT if value < 0 else value


class _NullIsEmpty:
    """JSON Schema of a list `null_as_empty` reads: the list, or nothing (`tags:` with no value)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        listed = dict(handler(schema))
        listed["type"] = ["array", "null"]  # not anyOf: errors inside the list keep their exact path
        return listed


NULL_IS_EMPTY = _NullIsEmpty()
# What values.parse_go_duration reads (Go's time.ParseDuration, surrounding blanks allowed)
GO_DURATION = r"^\s*[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)\s*$"
# JSON Schema of what the value types read (config.schema): more than their Python types.
_TEXT_SCHEMA = WithJsonSchema({"type": ["string", "number"]})  # a number is read as written
_DURATION_SCHEMA = WithJsonSchema(
    {"anyOf": [{"type": "string", "pattern": GO_DURATION}, {"type": "number", "description": "nanoseconds"}]}
)
_SECONDS_SCHEMA = WithJsonSchema(
    {"anyOf": [{"type": "string", "pattern": GO_DURATION}, {"type": "number", "description": "seconds"}]}
)

Text = Annotated[str, BeforeValidator(scalar_text), _TEXT_SCHEMA]
Name = Annotated[Text, AfterValidator(_not_blank)]
Duration = Annotated[float, BeforeValidator(_duration), _DURATION_SCHEMA]
Seconds = Annotated[float, BeforeValidator(_seconds), _SECONDS_SCHEMA]
MaxItems = Annotated[int | None, AfterValidator(_max_items)]


def _base_dir(info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, dict) else {}
    return str(context.get("base_dir") or os.getcwd())


def existing_file(path: str, info: ValidationInfo) -> str:
    full = os.path.normpath(os.path.join(_base_dir(info), os.path.expanduser(path)))
    if not os.path.isfile(full):
        raise Invalid(f"file not found: {full}")
    return full


class StrictModel(BaseModel):
    # strict: a quoted "60" or "true" stays text and is refused, as Go's decoder refuses it
    model_config = ConfigDict(extra="forbid", strict=True, validate_by_name=True, validate_by_alias=True)
