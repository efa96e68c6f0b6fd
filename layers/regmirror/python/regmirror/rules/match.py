"""A mapping's `from` and `to`, with dregsy's semantics.

`from`: `regex:<re>` selects listed repository names (names have no leading `/`); dregsy anchors the
pattern by text, adding `^` unless it starts with `^` and `$` unless it ends with `$`, and then
searches: for ordinary patterns that is a match of the whole name. A plain `from` is one repository.

`to`: empty keeps the path; plain `to` is a prefix when `from` is a regex (`ecr` + `myproject/webui`
→ `ecr/myproject/webui`) and the whole new path when `from` is plain; `regex:<re>,<replacement>`
(split at the first comma) runs Go `ReplaceAllString`, unanchored, on the path *with* a leading `/`
(`/myproject/webui`), and the result loses that leading `/` again. Groups of `from` do not reach `to`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from regmirror.rules.goregex import GoMatch, GoRegexp, RegexError, go_expand, go_replace_all, replace_all
from regmirror.rules.refs import repository_problem

__all__ = ["FromMatcher", "GoMatch", "GoRegexp", "Rewrite", "ToRewriter", "go_expand", "go_replace_all"]

REGEX_PREFIX = "regex:"


def dregsy_anchor(pattern: str) -> str:
    """dregsy's `CompileRegex(v, lineMatch=true)`: add `^` / `$` by text unless already there."""
    if not pattern.startswith("^"):
        pattern = "^" + pattern
    if not pattern.endswith("$"):
        pattern += "$"
    return pattern


def _has_top_level_alternation(pattern: str) -> bool:
    """Is there a `|` outside any group or class? Then `^a|b$` is not a whole-name match."""
    depth = 0
    in_class = escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch in "([|)":
            if ch == "|" and depth == 0:
                return True
            depth += {"(": 1, ")": -1}.get(ch, 0)
            in_class = ch == "["
    return False


def anchoring_note(pattern: str) -> str:
    """Explain when dregsy's textual anchoring does not amount to a whole-name match."""
    if _has_top_level_alternation(pattern):
        return (
            f"the pattern {pattern!r} has a top-level '|': anchored as {dregsy_anchor(pattern)!r} "
            "(as dregsy does), so '^' binds to the first alternative and '$' to the last only; "
            "write (a|b) to match whole names"
        )
    if pattern.endswith("\\$") and not pattern.endswith("\\\\$"):
        return f"the pattern {pattern!r} ends in an escaped '$', so no end anchor is added (as in dregsy)"
    return ""


def _strip_path(spec: str) -> str:
    return spec.strip("/")


def _require_repository(path: str, what: str) -> None:
    problem = repository_problem(path)
    if problem:
        raise ValueError(f"{what} {path!r} is not a valid repository path: {problem}")


@dataclass(frozen=True, slots=True)
class FromMatcher:
    """A parsed `from`: a regex over listed names, or one plain repository path."""

    spec: str
    is_regex: bool
    regexp: GoRegexp | None = None  # the anchored pattern, for a regex `from`
    note: str = ""  # caveat worth showing to the user (see anchoring_note), else ""

    @classmethod
    def parse(cls, spec: str) -> FromMatcher:
        if not spec or not spec.strip():
            raise ValueError("'from' is empty")
        if spec.startswith(REGEX_PREFIX):
            pattern = spec[len(REGEX_PREFIX) :]
            if not pattern:
                raise ValueError("'from' has 'regex:' but no regular expression after it")
            try:
                regexp = GoRegexp(dregsy_anchor(pattern))
            except RegexError as exc:
                raise ValueError(
                    f"'from' uses an invalid regular expression {pattern!r}: {exc.reason}"
                ) from None
            return cls(spec, True, regexp, anchoring_note(pattern))
        _require_repository(_strip_path(spec), "'from'")
        return cls(spec, False)

    def matches(self, name: str) -> bool:
        """Does a listed repository name (no leading `/`) belong to this mapping?"""
        if self.regexp is None:
            return name.strip("/") == self.plain_path()
        return self.regexp.search(name)

    def plain_path(self) -> str:
        """The repository of a plain `from` (no leading `/`)."""
        if self.is_regex:
            raise ValueError(f"'from' {self.spec!r} is a regex, not a repository path")
        return _strip_path(self.spec)


@dataclass(frozen=True, slots=True)
class Rewrite:
    """Where one source repository goes: `path` has no leading `/`.

    `matched` is False only when a `to` regex matched nothing (the path is then unchanged, as in
    dregsy); `note` says why, or warns when the result is not a valid repository path.
    """

    path: str
    matched: bool = True
    note: str = ""


RewriteKind = Literal["keep", "prefix", "replace", "regex"]


@dataclass(frozen=True, slots=True)
class ToRewriter:
    """A parsed `to` (see the module docstring for the rules)."""

    kind: RewriteKind
    target: str = ""  # prefix or replacement path for plain `to`
    regexp: GoRegexp | None = None
    replacement: str = ""

    @classmethod
    def parse(cls, spec: str | None, *, from_is_regex: bool) -> ToRewriter:
        if spec is None or spec == "":
            return cls("keep")
        if spec.startswith(REGEX_PREFIX):
            return cls._parse_regex(spec[len(REGEX_PREFIX) :])
        target = _strip_path(spec)
        if not target:
            raise ValueError(f"'to' {spec!r} holds no repository path")
        _require_repository(target, "'to'")
        return cls("prefix" if from_is_regex else "replace", target)

    @classmethod
    def _parse_regex(cls, body: str) -> ToRewriter:
        pattern, comma, replacement = body.partition(",")
        if not comma:
            raise ValueError("'to' regex needs a replacement: write 'regex:<expression>,<replacement>'")
        try:
            regexp = GoRegexp(pattern)
        except RegexError as exc:
            raise ValueError(f"'to' uses an invalid regular expression {pattern!r}: {exc.reason}") from None
        return cls("regex", regexp=regexp, replacement=replacement)

    def for_from(self, *, from_is_regex: bool) -> ToRewriter:
        """This `to` for a `from` of that kind: a plain path is a prefix after a regex `from` and the
        whole new path after a plain one (the parse is not repeated)."""
        if self.kind not in ("prefix", "replace"):
            return self
        return ToRewriter("prefix" if from_is_regex else "replace", self.target)

    def rewrite(self, source_path: str) -> Rewrite:
        """Target path for a source repository path (given without leading `/`)."""
        path = source_path.lstrip("/")
        if self.kind == "keep":
            return Rewrite(path)
        if self.kind == "prefix":
            return _checked(f"{self.target}/{path}")
        if self.kind == "replace":
            return Rewrite(self.target)
        return self._rewrite_regex(path)

    def _rewrite_regex(self, path: str) -> Rewrite:
        assert self.regexp is not None  # kind "regex" always has one
        given = "/" + path
        result, found = replace_all(self.regexp, self.replacement, given)
        if not found:
            return Rewrite(path, matched=False, note=self._no_match_note(given))
        return _checked(result.lstrip("/"))

    def _no_match_note(self, given: str) -> str:
        assert self.regexp is not None
        note = f"'to' regex {self.regexp.pattern!r} matched nothing in {given!r}; path left unchanged"
        pattern = self.regexp.pattern
        if pattern.startswith("^") and not pattern.startswith("^/"):
            note += " (the path given to 'to' starts with '/': anchor with '^/' instead of '^')"
        return note


def _checked(path: str) -> Rewrite:
    problem = repository_problem(path)
    if problem:
        return Rewrite(path, note=f"target path {path!r} is not a valid repository path: {problem}")
    return Rewrite(path)
