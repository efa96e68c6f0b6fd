"""Checks and parsers for single config values: registry hosts, regexes, tags, platforms, durations.

Each function raises ValueError with a plain message (no location: the caller adds file, line and
field) or returns the parsed value. User regular expressions go through `goregex` (RE2, Go's
`regexp` syntax, as dregsy); fixed internal patterns use the standard `re`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from regmirror.rules.goregex import GoRegexp, RegexError
from regmirror.rules.match import FromMatcher, ToRewriter
from regmirror.rules.refs import valid_registry_host, valid_repository
from regmirror.rules.tags import parse_entry

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"(?P<host>{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]+))?")
_PRIVATE_ECR = re.compile(
    r"(?P<account>[a-z0-9-]+)\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
_PUBLIC_ECR = re.compile(r"(?P<account>[0-9]{12})(?::(?P<region>[^@]*))?@public\.ecr\.aws")
PUBLIC_ECR_HOST = "public.ecr.aws"
PUBLIC_ECR_DEFAULT_REGION = "us-east-1"  # the ECR Public API lives there
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}")
_PLATFORM_PART = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_RATE = re.compile(r"rate\((?P<n>[0-9]+) (?P<unit>minutes?|hours?|days?)\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?,/#-]+")


# ---------------------------------------------------------------------------- regexes and tags
# Parsed once, by the validators below; MappingConfig assembles the rules.mapping.Mapping of them.


def compile_regex(pattern: str) -> GoRegexp:
    """Compile with RE2 (Go's regexp syntax); ValueError names the pattern and the reason."""
    try:
        return GoRegexp(pattern)
    except RegexError as exc:
        raise ValueError(f"invalid regular expression '{pattern}': {exc.reason}") from None


class Parsed(str):
    """Config text that carries what it was parsed into (`parsed`): validating a value parses it,
    and that parse is the one every user of the config gets (nothing parses it again)."""

    parsed: Any

    def __new__(cls, text: str, parsed: Any) -> Parsed:
        value = super().__new__(cls, text)
        value.parsed = parsed
        return value


def parsed_note(value: str) -> str:
    """The warning a parsed value carries (e.g. a `tags` entry that is probably a mistake), or ""."""
    return str(getattr(getattr(value, "parsed", None), "note", "") or "")


def parse_from(value: str) -> Parsed:
    """A mapping's `from`: `regex:<re>` (anchored like dregsy, must compile) or a repository path."""
    return Parsed(value, FromMatcher.parse(value))


def parse_to(value: str) -> Parsed:
    """A mapping's `to`: `regex:<re>,<replacement>` or a repository path (references to groups the
    regex lacks expand to nothing, as in Go: `config.load` warns about them)."""
    return Parsed(value, ToRewriter.parse(value, from_is_regex=False))


def parse_tag_entry(value: str) -> Parsed:
    """One `tags` entry: `semver:`/`regex:`/`keep:` filter or a verbatim tag/digest (trimmed, like dregsy)."""
    return Parsed(value.strip(), parse_entry(value))


# ---------------------------------------------------------------------------- registries


@dataclass(frozen=True, slots=True)
class RegistryHost:
    host: str  # host[:port] to connect to ("public.ecr.aws" for a public ECR spec)
    ecr_account: str | None = None
    ecr_region: str | None = None
    public_ecr: bool = False
    path_prefix: str = ""  # `registry: host/project`: every repository path of the task starts with it


def _check_host_shape(value: str) -> None:
    found = _HOST.fullmatch(value)
    if found is None:
        raise ValueError("expected host[:port], e.g. 'registry.example.com' or '127.0.0.1:5000'")
    port = found.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} out of range 1..65535")
    if not valid_registry_host(value):
        raise ValueError("expected host[:port], e.g. 'registry.example.com' or '127.0.0.1:5000'")


def parse_registry(value: str) -> RegistryHost:
    """`host[:port]`, or public ECR as `<account>[:<region>]@public.ecr.aws`."""
    if "@" in value:
        public = _PUBLIC_ECR.fullmatch(value)
        if public is None:
            raise ValueError(
                "expected '<12-digit account id>[:<region>]@public.ecr.aws' ('@' marks public ECR)"
            )
        region = public.group("region")
        if region is not None:
            check_region(region)
        return RegistryHost(PUBLIC_ECR_HOST, public.group("account"), region, True)
    if "://" in value:
        raise ValueError("expected host[:port] without a scheme, e.g. 'registry.example.com:5000'")
    host, _, prefix = value.partition("/")
    _check_host_shape(host)
    prefix = prefix.strip("/")
    if prefix and not valid_repository(prefix):
        raise ValueError(f"the path '{prefix}' after the host is not a repository path such as 'project'")
    private = _PRIVATE_ECR.fullmatch(host.lower())
    if private is not None:
        return RegistryHost(host, private.group("account"), private.group("region"), path_prefix=prefix)
    return RegistryHost(host, path_prefix=prefix)


def check_region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise ValueError(f"'{value}' is not an AWS region name such as 'eu-central-1'")
    return value


def check_role_arn(value: str) -> str:
    if not _ROLE_ARN.fullmatch(value):
        raise ValueError("expected an IAM role ARN such as 'arn:aws:iam::123456789012:role/mirror'")
    return value


def check_base_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(?:/\S*)?", value):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


# ---------------------------------------------------------------------------- mappings


def check_platform(value: str) -> str:
    """`all`, `os` (as dregsy: skopeo `--override-os` only), or `os/arch[/variant]` (`linux/arm64/v8`)."""
    if value == "all":
        return value
    parts = value.split("/")
    if len(parts) > 3 or not all(_PLATFORM_PART.fullmatch(p) for p in parts):
        raise ValueError("expected 'all', an OS or os/arch[/variant], e.g. 'linux/amd64' or 'linux/arm/v7'")
    return value


# An RFC 6838 media type (`type/subtype+suffix`), as an OCI descriptor's artifactType is written.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")


def check_media_type(value: str) -> str:
    """An artifact type of `referrers: {artifact-types: [...]}`."""
    if not _MEDIA_TYPE.fullmatch(value):
        raise ValueError(
            "expected a media type (type/subtype), e.g. 'application/vnd.dev.cosign.artifact.sig.v1+json'"
        )
    return value


# ---------------------------------------------------------------------------- time


def parse_go_duration(text: str) -> float:
    """Go's `time.ParseDuration` ("1h30m", "90s", "-1s", "1.5h", "0") → seconds."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    if body.startswith(("-", "+")):
        body = body[1:]
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    while pos < len(body) or pos == 0:
        part = _DURATION_PART.match(body, pos)
        if part is None or part.group(1) in ("", "."):
            raise ValueError(f"'{text}' is not a Go duration such as '1h', '90m' or '1h30m'")
        total += float(part.group(1)) * _DURATION_UNITS[part.group(2)]
        pos = part.end()
    return sign * total


def check_schedule(value: str) -> str:
    """EventBridge `rate(N unit)` or `cron(min hour day-of-month month day-of-week year)`."""
    rate = _RATE.fullmatch(value)
    if rate is not None:
        _check_rate(int(rate.group("n")), rate.group("unit"))
        return value
    cron = _CRON.fullmatch(value)
    if cron is not None:
        _check_cron(cron.group("fields").split())
        return value
    raise ValueError("expected 'rate(<n> minutes|hours|days)' or 'cron(<6 fields>)', e.g. 'rate(1 hour)'")


def _check_rate(count: int, unit: str) -> None:
    if count < 1:
        raise ValueError("a rate must be at least 1")
    if (count == 1) != (not unit.endswith("s")):
        raise ValueError(f"write 'rate({count} {unit.rstrip('s') + ('' if count == 1 else 's')})'")


def _check_cron(fields: list[str]) -> None:
    if len(fields) != 6:
        raise ValueError("cron() needs 6 fields: minutes hours day-of-month month day-of-week year")
    if not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise ValueError(
            "cron() fields may contain only digits, names, '*', '?', ',', '-', '/', '#', 'L', 'W'"
        )
    if (fields[2] == "?") == (fields[4] == "?"):
        raise ValueError("cron(): exactly one of day-of-month and day-of-week must be '?'")
