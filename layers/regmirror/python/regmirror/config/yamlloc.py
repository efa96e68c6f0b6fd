"""Safe YAML loading that remembers where every key and value sits in the file.

The result is plain Python data (dict/list/str/int/float/bool/None) plus two position tables keyed by
path tuples such as ``("tasks", 2, "mappings", 0, "to")``, so a validation error on any path can be
reported with its file, line and column. Syntax errors and unsupported tags become `ConfigProblem`s;
a duplicate key (the last value wins, as in dregsy's yaml.v2) and documents after the first (ignored, as
yaml.v2's Unmarshal ignores them) become warnings.

Numbers keep the text they were written as (`YamlInt.source`, `YamlFloat.source`): Go's YAML decoder
gives a string field the scalar as written, so `tags: [1.30]` means tag "1.30", not "1.3".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from regmirror.errors import ConfigError, ConfigProblem

Path = tuple[str | int, ...]

# Guards against alias bombs and self-referencing anchors, far above any real config.
MAX_NODES = 200_000
MAX_DEPTH = 64

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class YamlInt(int):
    """An integer from YAML that remembers how it was written."""

    source: str


class YamlFloat(float):
    """A float from YAML that remembers how it was written."""

    source: str


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


def format_path(path: Path) -> str:
    """`("tasks", 2, "to")` → `tasks[2].to`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass
class LocatedDocument:
    """Plain data of one YAML document plus where each of its keys and values starts."""

    filename: str
    data: Any = None
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)
    warnings: list[ConfigProblem] = field(default_factory=list)

    def value_position(self, path: Path) -> Position:
        """Where the value at `path` starts; for a path that is absent, where its nearest parent starts."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def key_position(self, path: Path) -> Position:
        """Where the key of the entry at `path` is written; for an absent key, where its parent is."""
        found = self.keys.get(path) or self.values.get(path)
        if found is not None:
            return found
        parent = path[:-1]
        return self.keys.get(parent) or self.value_position(parent)

    def problem(self, path: Path, message: str, *, at_key: bool = False) -> ConfigProblem:
        pos = self.key_position(path) if at_key else self.value_position(path)
        return ConfigProblem(self.filename, pos.line, pos.column, format_path(path), message)


def _position(node: yaml.Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)


class _Converter:
    """Turns a composed node tree into plain data, filling the position tables on the way."""

    def __init__(self, loader: yaml.SafeLoader, doc: LocatedDocument) -> None:
        self.loader = loader
        self.doc = doc
        self.count = 0

    def convert(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES or len(path) > MAX_DEPTH:
            raise _TooBig(node)
        self.doc.values[path] = _position(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node, path)
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            return str(node.value)  # no field takes a date; keep the text (e.g. a tag "2024-01-01")
        value = self.loader.construct_object(node, deep=True)
        if type(value) is int:
            number: YamlInt | YamlFloat = YamlInt(value)
        elif type(value) is float:
            number = YamlFloat(value)
        else:
            return value
        number.source = str(node.value)
        return number

    def _sequence(self, node: yaml.SequenceNode, path: Path) -> list[Any]:
        if node.tag != _SEQ_TAG:
            self._unsupported_tag(node, path)
        return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            self._unsupported_tag(node, path)
        self._check_duplicates(node, path)
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merges; own keys come last and win
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            self.doc.keys[child] = _position(key_node)  # a later duplicate or override wins
            result[key] = self.convert(value_node, child)
        return result

    def _key(self, key_node: yaml.Node, path: Path) -> str | None:
        if isinstance(key_node, yaml.ScalarNode):
            return str(key_node.value)
        pos = _position(key_node)
        self.doc.problems.append(
            ConfigProblem(
                self.doc.filename, pos.line, pos.column, format_path(path), "keys must be plain text"
            )
        )
        return None

    def _check_duplicates(self, node: yaml.MappingNode, path: Path) -> None:
        seen: dict[str, Position] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = str(key_node.value)
            pos = _position(key_node)
            if key in seen:
                message = (
                    f"duplicate key '{key}' (first given at line {seen[key].line}); the last value is used"
                )
                self.doc.warnings.append(
                    ConfigProblem(self.doc.filename, pos.line, pos.column, format_path((*path, key)), message)
                )
            else:
                seen[key] = pos

    def _unsupported_tag(self, node: yaml.Node, path: Path) -> None:
        raise _Fatal(self.doc.problem(path, f"unsupported YAML tag '{node.tag}'"))


class _Fatal(Exception):
    """A problem after which the document's data means nothing (e.g. an unknown type tag)."""

    def __init__(self, problem: ConfigProblem) -> None:
        self.problem = problem


class _TooBig(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def _syntax_problem(filename: str, exc: yaml.MarkedYAMLError) -> ConfigProblem:
    problem = exc.problem or "malformed YAML"
    mark = exc.problem_mark or exc.context_mark
    if "end of stream" in problem and exc.context_mark is not None:
        mark = exc.context_mark  # where the unclosed quote or bracket started, not the end of the file
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    if "'\\t'" in problem:
        message = "tab character found: YAML indentation must use spaces"
    else:
        context = f"{exc.context}: " if exc.context else ""
        message = f"invalid YAML: {context}{problem}"
    return ConfigProblem(filename, line, column, "", message)


def _later_document(loader: yaml.SafeLoader, doc: LocatedDocument) -> None:
    """Warn about a second document: dregsy (yaml.v2 Unmarshal) reads the first one only."""
    try:
        if not loader.check_event(yaml.StreamEndEvent):
            mark = loader.peek_event().start_mark  # type: ignore[no-untyped-call]
            message = "more than one YAML document: only the first is used (as dregsy does)"
            doc.warnings.append(ConfigProblem(doc.filename, mark.line + 1, mark.column + 1, "", message))
    except yaml.YAMLError:  # the later document is not read at all, broken or not
        mark = loader.get_mark()
        message = "text after the first YAML document is ignored (as dregsy does)"
        doc.warnings.append(ConfigProblem(doc.filename, mark.line + 1, mark.column + 1, "", message))


def load_located(text: str, filename: str) -> LocatedDocument:
    """Parse the first YAML document; raises ConfigError for anything that is not well-formed YAML."""
    unreadable = _unreadable_character(text, filename) or _too_deep(text, filename)
    if unreadable is not None:
        raise ConfigError([unreadable])
    doc = LocatedDocument(filename)
    loader = yaml.SafeLoader(text)
    try:
        _compose(loader, doc)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(filename, exc)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(filename, 0, 0, "", f"invalid YAML: {exc}")]) from None
    except _Fatal as exc:
        raise ConfigError([exc.problem]) from None
    except _TooBig as exc:
        pos = _position(exc.node)
        raise ConfigError([ConfigProblem(filename, pos.line, pos.column, "", _TOO_BIG)]) from None
    except RecursionError:  # the YAML composer recurses per level: far deeper than MAX_DEPTH
        raise ConfigError([ConfigProblem(filename, 0, 0, "", _TOO_BIG)]) from None
    finally:
        loader.dispose()
    return doc


_TOO_BIG = "document too large or nested too deeply (check anchors and aliases)"


def _compose(loader: yaml.SafeLoader, doc: LocatedDocument) -> None:
    loader.get_event()  # type: ignore[no-untyped-call]  # StreamStart
    root = None if loader.check_event(yaml.StreamEndEvent) else loader.compose_document()
    if root is not None:
        doc.data = _Converter(loader, doc).convert(root, ())
        _later_document(loader, doc)


_OPEN = (
    yaml.BlockSequenceStartToken,
    yaml.BlockMappingStartToken,
    yaml.FlowSequenceStartToken,
    yaml.FlowMappingStartToken,
)
_CLOSE = (yaml.BlockEndToken, yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)


def _too_deep(text: str, filename: str) -> ConfigProblem | None:
    """Collections nested deeper than MAX_DEPTH, found by the (iterative) scanner before the composer,
    which recurses per level, could exhaust the stack."""
    depth = 0
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            depth += isinstance(token, _OPEN) - isinstance(token, _CLOSE)
            if depth > MAX_DEPTH:
                mark = token.start_mark
                return ConfigProblem(filename, mark.line + 1, mark.column + 1, "", _TOO_BIG)
    except yaml.YAMLError:
        return None  # the composer reports it, with its position
    return None


def _unreadable_character(text: str, filename: str) -> ConfigProblem | None:
    """YAML refuses control characters (other than tab and line breaks) anywhere in the text; say where."""
    found = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if found is None:
        return None
    before = text[: found.start()]
    line, column = before.count("\n") + 1, found.start() - (before.rfind("\n") + 1) + 1
    code = ord(found.group())
    message = (
        f"control character U+{code:04X} is not allowed in YAML (remove it, or write it escaped in quotes)"
    )
    return ConfigProblem(filename, line, column, "", message)
