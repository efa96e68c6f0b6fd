"""One mapping's rules, parsed once (at config load): which repositories it takes, where each one goes,
and which of its tags.

Everything that asks "does this mapping take this name?" (the planner, the push-event path, the CDK
facts, `regmirror match`) asks a `Mapping`; nothing parses `from`, `to` or `tags` again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from regmirror.rules.goregex import GoRegexp, parse_template
from regmirror.rules.match import FromMatcher, Rewrite, ToRewriter
from regmirror.rules.tags import TagEntryError, TagSelector

_T = TypeVar("_T")


class MappingError(ValueError):
    """A problem with one key of a mapping: `key` is ("from",), ("to",) or ("tags", index)."""

    def __init__(self, key: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class Mapping:
    """A parsed mapping: `from` (a regex over listed names, or one path), `to` and `tags`."""

    source: FromMatcher
    destination: ToRewriter
    tags: TagSelector

    @classmethod
    def parse(cls, from_spec: str, to_spec: str | None, tag_entries: list[str] | None) -> Mapping:
        """The mapping, or MappingError for its first problem (`checked` gives all of them)."""
        mapping, problems = cls.checked(from_spec, to_spec, tag_entries)
        if mapping is None:
            raise problems[0]
        return mapping

    @classmethod
    def checked(
        cls, from_spec: str, to_spec: str | None, tag_entries: list[str] | None
    ) -> tuple[Mapping | None, list[MappingError]]:
        """(mapping, []) or (None, every problem found), each problem naming its key."""
        problems: list[MappingError] = []
        source = _attempt(problems, ("from",), lambda: FromMatcher.parse(from_spec))
        is_regex = bool(source and source.is_regex)
        destination = _attempt(problems, ("to",), lambda: ToRewriter.parse(to_spec, from_is_regex=is_regex))
        tags, tag_problems = TagSelector.parse_all(tag_entries)
        problems += [MappingError(("tags", p.index), str(p)) for p in tag_problems]
        if problems or source is None or destination is None or tags is None:
            return None, problems
        return cls(source, destination, tags), []

    @classmethod
    def of(cls, source: FromMatcher, destination: ToRewriter, tags: TagSelector) -> Mapping:
        """The mapping of parts parsed one by one (the config's validators do that, each with its key)."""
        return cls(source, destination.for_from(from_is_regex=source.is_regex), tags)

    @property
    def needs_listing(self) -> bool:
        """Must the source's repository list be fetched? (Only a regex `from` selects from it.)"""
        return self.source.is_regex

    @property
    def plain_path(self) -> str:
        """The one repository of a plain `from`; ValueError for a regex `from`."""
        return self.source.plain_path()

    @property
    def note(self) -> str:
        """A caveat about how dregsy anchors the `from` regex, or ""."""
        return self.source.note

    def selects(self, name: str) -> bool:
        """Does this mapping take the repository `name` (no leading `/`)?"""
        if self.source.is_regex:
            return self.source.matches(name)
        return name == self.plain_path

    def target(self, name: str) -> Rewrite:
        """Where the repository `name` goes (`to` applied)."""
        return self.destination.rewrite(name)

    def may_write(self, path: str) -> bool:
        """Could this mapping write the repository `path` (no leading `/`)? Exact for a plain `to`
        or none; for a `to` regex (not invertible) any path under the replacement's literal start,
        and any name it selects (a path the regex does not match stays as it is)."""
        to = self.destination
        if to.kind == "keep":
            return self.selects(path)
        if to.kind == "replace":
            return path == to.target
        if to.kind == "prefix":
            head = f"{to.target}/"
            return path.startswith(head) and self.selects(path[len(head) :])
        literal = to.replacement.split("$", 1)[0].lstrip("/")
        return path.startswith(literal) or self.selects(path)

    def select_tags(self, listed: list[str] | None) -> list[str]:
        """The tags (and digests) to mirror of a repository whose tags are `listed` (None when the
        entries need no listing, see `tags.needs_listing`)."""
        return self.tags.select(listed)


def _attempt(problems: list[MappingError], key: tuple[str | int, ...], parse: Callable[[], _T]) -> _T | None:
    try:
        return parse()
    except ValueError as exc:
        problems.append(MappingError(key, str(exc)))
        return None


def group_notes(rewriter: ToRewriter) -> list[str]:
    """A warning per group the `to` replacement refers to that its regex lacks: Go expands it to
    nothing (so does regmirror, as dregsy), which is rarely what was meant."""
    if rewriter.regexp is None:
        return []
    notes = []
    for piece in parse_template(rewriter.replacement):
        if not isinstance(piece, str):
            note = _missing_group(piece.number, piece.name, rewriter.regexp)
            if note:
                notes.append(note + "; it expands to nothing, as in Go")
    return notes


def _missing_group(ref_number: int, name: str, regex: GoRegexp) -> str:
    if ref_number >= 0:
        if ref_number > regex.group_count:
            return f"replacement refers to group ${name} but the regex has {regex.group_count} group(s)"
        return ""
    if name in regex.group_names:
        return ""
    digits = re.match(r"[0-9]+", name)
    if digits:
        number, rest = digits.group(0), name[digits.end() :]
        return (
            f"replacement refers to group '{name}' (Go reads ${name} as one group name), which the regex "
            f"does not define; write ${{{number}}}{rest} for group {number} followed by '{rest}'"
        )
    return f"replacement refers to group '{name}', which the regex does not define"


__all__ = ["Mapping", "MappingError", "TagEntryError", "group_notes"]
