"""Checks and parsers for single config values: registry hosts, regexes, tags, platforms, durations.

Each function raises ValueError with a plain message (no location: the caller adds file, line and
field) or returns the parsed value. User regular expressions are compiled with RE2 (`re2`), the
engine behind Go's `regexp` that dregsy uses; fixed internal patterns use the standard `re`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import re2

REGEX_PREFIX = "regex:"
SEMVER_PREFIX = "semver:"
KEEP_PREFIX = "keep:"

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would otherwise print every parse error to stderr

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"(?P<host>{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]+))?")
_PRIVATE_ECR = re.compile(r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
_PUBLIC_ECR = re.compile(r"(?P<account>[0-9]{12})(?::(?P<region>[^@]*))?@public\.ecr\.aws")
PUBLIC_ECR_HOST = "public.ecr.aws"
PUBLIC_ECR_DEFAULT_REGION = "us-east-1"  # the ECR Public API lives there
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}")
_PLATFORM_PART = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Fa-f0-9]{32,}")
_SEMVER_COMPARATOR = re.compile(
    r"(?:!=|!|>=|<=|>|<|==|=)?v?[0-9]+(?:\.(?:[0-9]+|[xX*])){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
)
_SEMVER_OPERATOR = re.compile(r"!=|!|>=|<=|>|<|==|=")
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GROUP_NAME = re.compile(r"[A-Za-z0-9_]+")
_RATE = re.compile(r"rate\((?P<n>[0-9]+) (?P<unit>minutes?|hours?|days?)\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?,/#-]+")


# ---------------------------------------------------------------------------- regular expressions


def compile_regex(pattern: str) -> Any:
    """Compile with RE2 (Go's regexp syntax); ValueError names the reason."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "syntax error"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(f"invalid regular expression '{pattern}': {reason}") from None


def anchor(pattern: str) -> str:
    """dregsy anchors a `from` regex: `^` and `$` are added unless already there."""
    if not pattern.startswith("^"):
        pattern = "^" + pattern
    if not pattern.endswith("$"):
        pattern += "$"
    return pattern


def _group_references(template: str) -> list[str]:
    """Group names a Go `Regexp.Expand` template refers to (`$1`, `${1}`, `$name`, `${name}`)."""
    names: list[str] = []
    i = template.find("$")
    while i >= 0:
        rest = template[i + 1 :]
        if rest.startswith("$"):
            i = template.find("$", i + 2)
            continue
        braced = rest.startswith("{")
        found = _GROUP_NAME.match(rest, 1 if braced else 0)
        if found and (not braced or rest[found.end() : found.end() + 1] == "}"):
            names.append(found.group(0))
        i = template.find("$", i + 1)
    return names


def _check_group(name: str, regex: Any) -> None:
    groups = int(regex.groups)
    if name.isdigit():
        if int(name) > groups:
            raise ValueError(f"replacement refers to group ${name} but the regex has {groups} group(s)")
        return
    if name not in regex.groupindex:
        hint = ""
        digits = re.match(r"[0-9]+", name)
        if digits:
            hint = f" (Go reads ${name} as a group named '{name}'; write ${{{digits.group(0)}}} instead)"
        raise ValueError(f"replacement refers to group '{name}', which the regex does not define{hint}")


def check_from(value: str) -> str:
    """A mapping's `from`: `regex:<re>` (anchored, must compile) or a repository path."""
    if value.startswith(REGEX_PREFIX):
        pattern = value[len(REGEX_PREFIX) :]
        if not pattern:
            raise ValueError("regular expression missing after 'regex:'")
        compile_regex(anchor(pattern))
        return value
    check_repository_path(value)
    return value


def check_to(value: str) -> str:
    """A mapping's `to`: `regex:<re>,<replacement>` or a repository path."""
    if not value.startswith(REGEX_PREFIX):
        check_repository_path(value)
        return value
    pattern, comma, replacement = value[len(REGEX_PREFIX) :].partition(",")
    if not comma:
        raise ValueError("expected 'regex:<re>,<replacement>': the comma and replacement are missing")
    regex = compile_regex(pattern)
    for name in _group_references(replacement):
        _check_group(name, regex)
    return value


def check_repository_path(value: str) -> None:
    """A repository path as written in `from`/`to` (leading '/' allowed, like dregsy)."""
    path = value[1:] if value.startswith("/") else value
    if not path:
        raise ValueError("expected a repository path such as 'library/busybox'")
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            raise ValueError(
                f"'{value}' is not a valid repository path: components are lowercase letters, digits "
                "and single '.', '_', '__' or '-' separators (use 'regex:' for patterns)"
            )


# ---------------------------------------------------------------------------- registries


@dataclass(frozen=True, slots=True)
class RegistryHost:
    host: str  # host[:port] to connect to ("public.ecr.aws" for a public ECR spec)
    ecr_account: str | None = None
    ecr_region: str | None = None
    public_ecr: bool = False


def _check_host_shape(value: str) -> None:
    if "://" in value:
        raise ValueError("expected host[:port] without a scheme, e.g. 'registry.example.com:5000'")
    if "/" in value:
        raise ValueError("expected host[:port] without a path (repository paths go into mappings)")
    found = _HOST.fullmatch(value)
    if found is None:
        raise ValueError("expected host[:port], e.g. 'registry.example.com' or '127.0.0.1:5000'")
    port = found.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} out of range 1..65535")


def parse_registry(value: str) -> RegistryHost:
    """`host[:port]`, or public ECR as `<account>[:<region>]@public.ecr.aws`."""
    if "@" in value:
        public = _PUBLIC_ECR.fullmatch(value)
        if public is None:
            raise ValueError("'<account>@' is only for public ECR: '<account>[:<region>]@public.ecr.aws'")
        region = public.group("region")
        if region is not None:
            check_region(region)
        return RegistryHost(PUBLIC_ECR_HOST, public.group("account"), region, True)
    _check_host_shape(value)
    private = _PRIVATE_ECR.fullmatch(value.lower())
    if private is not None:
        return RegistryHost(value, private.group("account"), private.group("region"))
    return RegistryHost(value)


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
    """`all`, or `os/arch[/variant]` such as `linux/arm64/v8`."""
    if value == "all":
        return value
    parts = value.split("/")
    if len(parts) not in (2, 3) or not all(_PLATFORM_PART.fullmatch(p) for p in parts):
        raise ValueError("expected 'all' or os/arch[/variant], e.g. 'linux/amd64' or 'linux/arm/v7'")
    return value


def check_semver_range(text: str) -> None:
    """blang/semver-style range: comparators joined by spaces (AND) and '||' (OR)."""
    for alternative in text.split("||"):
        tokens = alternative.split()
        if not tokens:
            raise ValueError(f"invalid semver range '{text}': empty alternative around '||'")
        merged: list[str] = []
        for token in tokens:  # '>= 1.2.0' is written with a space as often as without
            if merged and _SEMVER_OPERATOR.fullmatch(merged[-1]):
                merged[-1] += token
            else:
                merged.append(token)
        for comparator in merged:
            if not _SEMVER_COMPARATOR.fullmatch(comparator):
                raise ValueError(
                    f"invalid semver range '{text}': '{comparator}' is not a comparison like '>=1.2.0'"
                )


def _check_filter_regex(prefix: str, body: str) -> None:
    pattern = body[1:].strip() if body.startswith("!") else body  # leading '!' negates
    if not pattern:
        raise ValueError(f"regular expression missing after '{prefix}'")
    compile_regex(anchor(pattern))


def _check_keep(body: str) -> None:
    words = body.split()
    if len(words) == 2 and words[0] == "latest":
        if not words[1].isdigit() or int(words[1]) < 1:
            raise ValueError("expected 'keep: latest N' with a whole number N >= 1")
        return
    if words and words[0] == "latest" and len(words) > 2:
        raise ValueError("expected 'keep: latest N' with a whole number N >= 1")
    _check_filter_regex(KEEP_PREFIX, body)


def _check_verbatim_tag(entry: str) -> None:
    name, at, digest = entry.partition("@")
    if _DIGEST.fullmatch(entry) or (at and _TAG.fullmatch(name) and _DIGEST.fullmatch(digest)):
        return
    if not at and _TAG.fullmatch(entry):
        return
    raise ValueError(
        f"'{entry}' is not a valid tag or digest; filters are written 'semver: <range>', "
        "'regex: <re>', 'keep: latest N' or 'keep: <re>'"
    )


def check_tag_entry(value: str) -> str:
    """One `tags` entry (trimmed like dregsy): a semver/regex/keep filter or a verbatim tag/digest."""
    entry = value.strip()
    if entry.startswith(SEMVER_PREFIX):
        body = entry[len(SEMVER_PREFIX) :].strip()
        if not body:
            raise ValueError("semver range missing after 'semver:'")
        check_semver_range(body)
    elif entry.startswith(REGEX_PREFIX):
        _check_filter_regex(REGEX_PREFIX, entry[len(REGEX_PREFIX) :].strip())
    elif entry.startswith(KEEP_PREFIX):
        _check_keep(entry[len(KEEP_PREFIX) :].strip())
    else:
        _check_verbatim_tag(entry)
    return entry


# ---------------------------------------------------------------------------- time


def parse_go_duration(text: str) -> float:
    """Go's `time.ParseDuration` ("1h30m", "90s", "-1s", "1.5h", "0") → seconds."""
    value = text.strip()
    sign = -1.0 if value.startswith("-") else 1.0
    body = value.lstrip("+-") if value[:1] in "+-" else value
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    while pos < len(body):
        part = _DURATION_PART.match(body, pos)
        if part is None or part.group(1) in ("", "."):
            raise ValueError(f"'{text}' is not a Go duration such as '1h', '90m' or '1h30m'")
        total += float(part.group(1)) * _DURATION_UNITS[part.group(2)]
        pos = part.end()
    if not body:
        raise ValueError(f"'{text}' is not a Go duration such as '1h', '90m' or '1h30m'")
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
        raise ValueError("cron() fields may contain only digits, names, '*', '?', ',', '-', '/', '#', 'L', 'W'")
    if (fields[2] == "?") == (fields[4] == "?"):
        raise ValueError("cron(): exactly one of day-of-month and day-of-week must be '?'")
