"""dregsy's YAML config → a validated `Config`, with file/line/column/field on every problem.

`load_config(path)` / `parse_config(text, filename)` return a `Config` or raise `ConfigError` listing
every problem found (YAML syntax, duplicate keys, unknown keys with a did-you-mean hint, wrong types,
bad regexes, tags, durations, hosts, auth values, ...), then add warnings and positions.
"""

from __future__ import annotations

import os

from pydantic import (
    ValidationError,
)

from regmirror.config.base import MIN_AUTH_REFRESH, scalar_text
from regmirror.config.models import Config, Task
from regmirror.config.problems import problem
from regmirror.config.registry import RegistryConfig
from regmirror.config.yamlloc import LocatedDocument, Path, load_located
from regmirror.errors import ConfigError, ConfigProblem


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
    config.warnings.append(str(doc.problem(path, message, at_key=True)))


def _top_level_warnings(config: Config, doc: LocatedDocument) -> None:
    raw = doc.data if isinstance(doc.data, dict) else {}
    if raw.get("relay") == "docker":
        _warn(config, doc, ("relay",), "the docker relay is not supported; images are copied with skopeo")
    if "docker" in raw:
        _warn(config, doc, ("docker",), "the docker section is ignored (regmirror always uses skopeo)")


def _registry_warnings(config: Config, doc: LocatedDocument, path: Path, registry: RegistryConfig) -> None:
    if registry.auth is not None:
        position = doc.value_position((*path, "auth"))
        registry._auth_position = (position.line, position.column)
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
        note = mapping.rule.note
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
        return None, [problem(error, doc) for error in exc.errors(include_url=False)]
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
