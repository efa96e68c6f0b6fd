"""dregsy's YAML config → a validated `Config`, with file/line/column/field on every problem.

`load_config(path)` / `parse_config(text, filename)` return a `Config` or raise `ConfigError` listing
every problem found (YAML syntax, likely typos of known keys with a did-you-mean hint, wrong types,
bad regexes, tags, durations, hosts, auth values, ...), then add warnings and positions. What dregsy
accepts loads, with a warning where it is probably a mistake (unknown keys, a duplicate key, a second
YAML document, no tasks, bare-number durations, `to` groups the regex lacks).
"""

from __future__ import annotations

import os

from pydantic import (
    ValidationError,
)

from regmirror.config import values
from regmirror.config.base import MIN_AUTH_REFRESH, scalar_text
from regmirror.config.models import Config, MappingConfig, Task
from regmirror.config.problems import problems
from regmirror.config.registry import RegistryConfig
from regmirror.config.unknown import drop_unknown_keys
from regmirror.config.yamlloc import LocatedDocument, Path, load_located
from regmirror.errors import ConfigError, ConfigProblem
from regmirror.rules.mapping import group_notes


def _duplicate_task_names(doc: LocatedDocument) -> list[ConfigProblem]:
    tasks = doc.data.get("tasks") if isinstance(doc.data, dict) else None
    if not isinstance(tasks, list):
        return []
    first_line: dict[str, int] = {}
    problems = []
    for index, task in enumerate(tasks):
        name = scalar_text(task.get("name")) if isinstance(task, dict) else None
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
    config.add_warning(doc.problem(path, message, at_key=True))


def _top_level_warnings(config: Config, doc: LocatedDocument) -> None:
    raw = doc.data if isinstance(doc.data, dict) else {}
    if raw.get("relay") == "docker":
        _warn(config, doc, ("relay",), "the docker relay is not supported; images are copied with skopeo")
    if "docker" in raw:
        _warn(config, doc, ("docker",), "the docker section is ignored (regmirror always uses skopeo)")
    for key in ("dockerhost", "api-version"):
        if key in raw:
            _warn(config, doc, (key,), f"'{key}' is deprecated in dregsy and ignored (regmirror uses skopeo)")
    _bare_duration(config, doc, ("lister", "cacheDuration"))
    _no_tasks(config, doc, raw)


def _no_tasks(config: Config, doc: LocatedDocument, raw: dict[str, object]) -> None:
    if not config.tasks:
        _warn(config, doc, ("tasks",) if "tasks" in raw else (), "no tasks: nothing to do")


def _bare_duration(config: Config, doc: LocatedDocument, path: Path) -> None:
    """yaml.v2 reads a bare number as nanoseconds; so does regmirror, and says so."""
    value = _raw(doc, path)
    if isinstance(value, int | float) and not isinstance(value, bool) and value:
        message = f"a bare number is read as nanoseconds, as Go does ({value} ns); add a unit, e.g. '1h'"
        config.add_warning(doc.problem(path, message))


def _raw(doc: LocatedDocument, path: Path) -> object:
    """The value at `path` as YAML gave it (None when absent)."""
    node: object = doc.data
    for part in path:
        node = _child(node, part)
    return node


def _child(node: object, part: str | int) -> object:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _registry_warnings(config: Config, doc: LocatedDocument, path: Path, registry: RegistryConfig) -> None:
    registry._discover_logins = config.credentials_from_environment
    registry._certs_dir = config.skopeo.certs_dir
    if registry.auth is not None:
        position = doc.value_position((*path, "auth"))
        registry._auth_position = (position.line, position.column)
    _bare_duration(config, doc, (*path, "auth-refresh"))
    if registry.auth_refresh is not None and registry.auth_refresh < MIN_AUTH_REFRESH:
        registry.auth_refresh = MIN_AUTH_REFRESH
        _warn(config, doc, (*path, "auth-refresh"), "auth-refresh below the 1h minimum; using 1h")
    if path[-1] == "target" and registry.lister is not None:
        _warn(config, doc, (*path, "lister"), "a lister on the target is ignored")


def _mapping_warnings(config: Config, doc: LocatedDocument, path: Path, mapping: MappingConfig) -> None:
    """What a mapping's parts carry: tag entries dregsy reads surprisingly, `to` groups that are missing."""
    for index, entry in enumerate(mapping.tags):
        note = values.parsed_note(entry)
        if note:
            config.add_warning(doc.problem((*path, "tags", index), note))
    for note in group_notes(mapping.rule.destination):
        config.add_warning(doc.problem((*path, "to"), note))


def _finish_task(config: Config, doc: LocatedDocument, index: int, task: Task) -> None:
    task._line = doc.value_position(("tasks", index)).line
    for number, mapping in enumerate(task.mappings):
        path: Path = ("tasks", index, "mappings", number)
        mapping._line = doc.value_position(path).line
        note = mapping.rule.note
        if note:
            _warn(config, doc, (*path, "from"), note)
        _mapping_warnings(config, doc, path, mapping)
    for side in ("source", "target"):
        _registry_warnings(config, doc, ("tasks", index, side), getattr(task, side))
    if not task.mappings:
        _warn(config, doc, ("tasks", index, "name"), f"task '{task.name}' has no mappings and does nothing")


def _finish(config: Config, doc: LocatedDocument, warnings: list[ConfigProblem]) -> Config:
    config._source_file = doc.filename
    for warning in warnings:
        config.add_warning(warning)
    _top_level_warnings(config, doc)
    for index, task in enumerate(config.tasks):
        _finish_task(config, doc, index, task)
    return config


def _validate(doc: LocatedDocument, base_dir: str) -> tuple[Config | None, list[ConfigProblem]]:
    """(config, unknown-key warnings) or (None, problems)."""
    data = {} if doc.data is None else doc.data  # an empty file has no tasks, as in dregsy
    if isinstance(data, dict):  # top-level `x-...` keys hold YAML anchors to reuse (as in Compose files)
        data = {key: value for key, value in data.items() if not key.startswith("x-")}
    ignored = drop_unknown_keys(doc, data)
    try:
        config = Config.model_validate(data, context={"base_dir": base_dir}, by_alias=True, by_name=False)
    except ValidationError as exc:
        return None, problems(exc.errors(include_url=False), doc)
    return config, ignored


def _parse(text: str, filename: str, base_dir: str) -> Config:
    doc = load_located(text, filename)
    config, found = _validate(doc, base_dir)
    problems = doc.problems + _duplicate_task_names(doc) + ([] if config else found)
    if problems or config is None:
        problems.sort(key=lambda p: (p.line, p.column))
        raise ConfigError(problems)
    return _finish(config, doc, doc.warnings + found)


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
