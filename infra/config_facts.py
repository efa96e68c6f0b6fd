"""What the stack needs to know about a regmirror config at synth time.

The config is parsed with the core's own loader (so an invalid file fails `cdk synth` with the same
file:line:field message as `regmirror validate`), then reduced to facts the constructs use: which tasks
run on which schedule, which Secrets Manager secrets and which ECR repositories the functions may
touch, and which ECR pushes should trigger a copy.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from regmirror.config import Config, MappingConfig, RegistryConfig, Task, load_config
from regmirror.errors import ConfigProblem
from regmirror.registries.credentials import SECRETS_MANAGER_SCHEME
from regmirror.sync.conflicts import check_static_targets

# Characters that end the literal prefix of a regular expression.
_REGEX_META = set(".[](){}*+?|^$\\")
_QUANTIFIERS = set("*?{")
# Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
_SECRET_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


@dataclass(frozen=True, slots=True)
class TaskSchedule:
    task: str
    expression: str  # EventBridge schedule expression: rate(...) or cron(...)
    rounded_from_seconds: int | None = None  # set when an `interval` was rounded up to whole minutes


@dataclass(slots=True)
class EcrRegistryAccess:
    """Repositories of one private ECR registry (account + region) the functions read or write."""

    account: str
    region: str
    partition: str
    pull: set[str] = field(default_factory=set)  # repository name patterns ("*" allowed at the end)
    push: set[str] = field(default_factory=set)
    list_all: bool = False  # a regex `from` needs DescribeRepositories over the whole registry
    kms_keys: set[str] = field(default_factory=set)  # `ecr.kms-key` of targets (ARN, key id or alias)

    def repository_arn(self, pattern: str) -> str:
        return f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{pattern}"

    def kms_key_arn(self, key: str) -> str:
        """IAM evaluates KMS permissions on key ARNs: an alias can only be covered by `key/*`."""
        if key.startswith("arn:"):
            return key
        if key.startswith("alias/"):
            return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/*"
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{key}"


@dataclass(frozen=True, slots=True)
class PushSource:
    """An ECR registry whose push events may trigger copies, and the repository-name filters."""

    account: str
    region: str
    registry: str  # host as written in the config
    exact: tuple[str, ...]
    prefixes: tuple[str, ...]
    any_repository: bool  # some mapping's regex has no literal prefix: no name filter possible


@dataclass(slots=True)
class ConfigFacts:
    config: Config
    path: Path
    schedules: list[TaskSchedule] = field(default_factory=list)
    one_off_tasks: list[str] = field(default_factory=list)
    secret_ids: list[str] = field(default_factory=list)
    ecr: dict[tuple[str, str], EcrRegistryAccess] = field(default_factory=dict)
    role_arns: list[str] = field(default_factory=list)
    push_sources: list[PushSource] = field(default_factory=list)
    # Public ECR (`<account>@public.ecr.aws`) used through the AWS API: account → target repository patterns.
    public_ecr: dict[str, set[str]] = field(default_factory=dict)

    def push_sources_in(self, account: str, region: str) -> list[PushSource]:
        """ECR delivers push events to the default bus of the pushing account and region only."""
        return [p for p in self.push_sources if p.account == account and p.region == region]


def interval_schedule(seconds: int) -> tuple[str, int | None]:
    """EventBridge rates are whole minutes (at least one): round up, and say when we did."""
    minutes = max(1, math.ceil(seconds / 60))
    rounded = seconds if minutes * 60 != seconds else None
    for unit, size in (("day", 1440), ("hour", 60)):
        if minutes % size == 0:
            count = minutes // size
            return f"rate({count} {unit}{'s' if count > 1 else ''})", rounded
    return f"rate({minutes} minute{'s' if minutes > 1 else ''})", rounded


def literal_prefix(pattern: str) -> str:
    """The text every match of `pattern` starts with ('' when unknown). Conservative: stops at the
    first metacharacter, drops a character a quantifier makes optional, gives up on alternation."""
    body = pattern[1:] if pattern.startswith("^") else pattern
    if "|" in body:
        return ""
    prefix: list[str] = []
    for char in body:
        if char in _REGEX_META:
            if char in _QUANTIFIERS and prefix:
                prefix.pop()
            break
        prefix.append(char)
    return "".join(prefix)


def secret_id(auth: str | None) -> str | None:
    spec = (auth or "").strip()
    scheme, sep, reference = spec.partition(":")
    if sep and scheme == SECRETS_MANAGER_SCHEME and reference.strip():
        return reference.strip()
    return None


def secret_arn_patterns(secret: str, *, partition: str, region: str, account: str) -> list[str]:
    """IAM resources that cover exactly one secret, given as full ARN, partial ARN or name."""
    if secret.startswith("arn:"):
        if _SECRET_ARN_SUFFIX.search(secret):
            # Could be a full ARN, or a partial one whose name happens to end like a suffix.
            return [secret, f"{secret}-??????"]
        return [f"{secret}-??????"]
    return [f"arn:{partition}:secretsmanager:{region}:{account}:secret:{secret}-??????"]


def _ecr_partition(host: str) -> str:
    return "aws-cn" if host.lower().endswith(".amazonaws.com.cn") else "aws"


def _ecr_key(rc: RegistryConfig) -> tuple[str, str] | None:
    """(account, region) of a private ECR registry."""
    if not (rc.is_ecr and rc.ecr_account and rc.ecr_region):
        return None
    return rc.ecr_account, rc.ecr_region


def _private_ecr(rc: RegistryConfig) -> tuple[str, str] | None:
    """(account, region) of a private ECR registry reached with the function role: with an explicit
    `auth` the core uses those credentials instead (as dregsy does), and IAM grants nothing."""
    return None if rc.auth else _ecr_key(rc)


def _target_pattern(mapping: MappingConfig, target: RegistryConfig) -> str:
    """Target repository name (or `prefix*`) a mapping writes, as far as the config tells."""
    if mapping.to_is_regex:
        return target.repository("*")  # a `to` regex may write anywhere (unmatched paths stay)
    if not mapping.from_is_regex:
        return target.repository(mapping.rule.target(mapping.rule.plain_path).path)
    base = f"{mapping.to.strip('/')}/" if mapping.to else ""
    return target.repository(f"{base}{literal_prefix(mapping.from_pattern)}*")


def _source_pattern(mapping: MappingConfig, source: RegistryConfig) -> str:
    if not mapping.from_is_regex:
        return source.repository(mapping.rule.plain_path)
    return source.repository(f"{literal_prefix(mapping.from_pattern)}*")


def _access(facts: ConfigFacts, rc: RegistryConfig) -> EcrRegistryAccess | None:
    key = _private_ecr(rc)
    if key is None:
        return None
    if key not in facts.ecr:
        facts.ecr[key] = EcrRegistryAccess(key[0], key[1], _ecr_partition(rc.registry))
    return facts.ecr[key]


def _add_schedule(facts: ConfigFacts, task: Task) -> None:
    if task.schedule:
        facts.schedules.append(TaskSchedule(task.name, task.schedule))
    elif task.interval:
        expression, rounded = interval_schedule(task.interval)
        facts.schedules.append(TaskSchedule(task.name, expression, rounded))
    else:
        facts.one_off_tasks.append(task.name)


def _add_credentials(facts: ConfigFacts, rc: RegistryConfig) -> None:
    sid = secret_id(rc.auth)
    if sid and sid not in facts.secret_ids:
        facts.secret_ids.append(sid)
    if rc.role_arn and rc.role_arn not in facts.role_arns:
        facts.role_arns.append(rc.role_arn)


def _add_ecr_access(facts: ConfigFacts, task: Task) -> None:
    source, target = _access(facts, task.source), _access(facts, task.target)
    for mapping in task.mappings:
        if source is not None:
            source.pull.add(_source_pattern(mapping, task.source))
            source.list_all = source.list_all or mapping.from_is_regex
        if target is not None:
            target.push.add(_target_pattern(mapping, task.target))
    settings = task.target.ecr
    if target is not None and settings is not None and settings.kms_key:
        target.kms_keys.add(settings.kms_key)


def _add_public_ecr(facts: ConfigFacts, task: Task) -> None:
    for rc, is_target in ((task.source, False), (task.target, True)):
        if rc.is_public_ecr and rc.ecr_account and not rc.auth:
            patterns = facts.public_ecr.setdefault(rc.ecr_account, set())
            if is_target:
                patterns.update(_target_pattern(m, rc) for m in task.mappings)


def _add_task(facts: ConfigFacts, task: Task) -> None:
    _add_schedule(facts, task)
    _add_public_ecr(facts, task)
    _add_credentials(facts, task.source)
    _add_credentials(facts, task.target)
    _add_ecr_access(facts, task)
    _add_push_source(facts, task)


def _followed_names(task: Task) -> tuple[set[str], set[str], bool]:
    """(exact names, name prefixes, any name) of the source repositories the task's mappings read."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    any_repository = False
    for mapping in task.mappings:
        if not mapping.from_is_regex:
            exact.add(task.source.repository(mapping.rule.plain_path))
            continue
        prefix = literal_prefix(mapping.from_pattern)
        if prefix or task.source.path_prefix:
            prefixes.add(task.source.repository(prefix))
        else:
            any_repository = True
    return exact, prefixes, any_repository


def _add_push_source(facts: ConfigFacts, task: Task) -> None:
    key = _ecr_key(task.source)
    if key is None:
        return
    exact, prefixes, any_repository = _followed_names(task)
    for i, known in enumerate(facts.push_sources):
        if (known.account, known.region) == key:
            exact |= set(known.exact)
            prefixes |= set(known.prefixes)
            any_repository = any_repository or known.any_repository
            del facts.push_sources[i]
            break
    facts.push_sources.append(
        PushSource(
            key[0],
            key[1],
            task.source.registry,
            tuple(sorted(exact)),
            tuple(sorted(prefixes)),
            any_repository,
        )
    )


def push_loops(facts: ConfigFacts, account: str, region: str) -> list[ConfigProblem]:
    """Mappings whose copies would be followed back into the registry they were written to: an ECR
    registry of this stack's account and region that a task reads *and* writes (its pushes are
    followed, its copies land there again), and a mapping writing names those reads match. Each copy
    would trigger the next (`team-a` → `team-mirror/team-a` → `team-mirror/team-mirror/team-a` …).
    Refused at synth; the push planner also drops such copies. Following a push onward to another
    registry (a chain) is no loop."""
    looping = _followed_back(facts, (account, region))
    problems: list[ConfigProblem] = []
    for i, task in enumerate(facts.config.tasks):
        key = _ecr_key(task.target)
        followed = looping.get(key) if key else None
        if followed is not None:
            problems += _loops_of(facts, i, task, followed)
    return problems


def _loops_of(facts: ConfigFacts, index: int, task: Task, followed: PushSource) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for j, mapping in enumerate(task.mappings):
        written = _written_pattern(mapping, task.target)
        overlap = _followed_overlap(written, followed)
        if overlap is not None:
            message = _loop_message(written, task.target.registry, overlap)
            where = f"tasks[{index}].mappings[{j}]"
            problems.append(ConfigProblem(str(facts.path), mapping.line, 0, where, message))
    return problems


def _followed_back(facts: ConfigFacts, here: tuple[str, str]) -> dict[tuple[str, str], PushSource]:
    """The names followed by tasks reading and writing one ECR registry of this account and region."""
    looping: dict[tuple[str, str], PushSource] = {}
    for task in facts.config.tasks:
        key = _ecr_key(task.source)
        if key is None or key != _ecr_key(task.target) or key != here:
            continue
        exact, prefixes, anything = _followed_names(task)
        known = looping.get(key)
        if known is not None:
            exact, prefixes = exact | set(known.exact), prefixes | set(known.prefixes)
            anything = anything or known.any_repository
        looping[key] = PushSource(
            *key, task.source.registry, tuple(sorted(exact)), tuple(sorted(prefixes)), anything
        )
    return looping


def _loop_message(written: str, registry: str, overlap: str) -> str:
    return (
        f"writes {written!r} into {registry}, whose pushes this config follows back into it "
        f"({overlap}): each copy would be pushed, followed and copied again without end. Give `to` "
        "a path outside the followed names, or set `push_events: false` for this environment"
    )


def _written_pattern(mapping: MappingConfig, target: RegistryConfig) -> str:
    """`_target_pattern`, but a `to` regex writes under its replacement's literal start (a path the
    regex does not match stays as it is: a copy onto itself, found in sync, no loop)."""
    to = mapping.rule.destination
    if to.kind == "regex":
        return target.repository(to.replacement.split("$", 1)[0].lstrip("/") + "*")
    return _target_pattern(mapping, target)


def _followed_overlap(written: str, push: PushSource) -> str | None:
    """Which followed name filter the written pattern (a name or `prefix*`) meets, if any."""
    if push.any_repository:
        return "a mapping there follows every repository"
    stem = written[:-1] if written.endswith("*") else None
    for name in push.exact:
        if fnmatch.fnmatchcase(name, written):
            return f"repository {name!r}"
    for prefix in push.prefixes:
        meets = (
            written.startswith(prefix) if stem is None else stem.startswith(prefix) or prefix.startswith(stem)
        )
        if meets:
            return f"names starting with {prefix!r}"
    return None


def read_config_facts(path: Path) -> ConfigFacts:
    """Load and validate the config (ConfigError names file, line and field) and collect its facts.

    Targets written by two sources are refused here as `validate` refuses them: each planner Lambda
    plans one task, so a conflict across tasks is only seen at synth time."""
    config = load_config(path)
    check_static_targets(config, config.tasks)
    facts = ConfigFacts(config=config, path=path)
    for task in config.tasks:
        _add_task(facts, task)
    return facts
