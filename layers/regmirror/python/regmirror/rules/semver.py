"""Version ranges of `semver:` tag entries, as dregsy reads them (github.com/blang/semver v4), plus
documented extensions for ranges dregsy refuses.

A range blang accepts is read by `rules.blang` and means exactly what it means in dregsy, quirks and
all (`1.x.x` = `>=1.0.0 <1.1.0`, `!=1.2.x` = nothing, `1.0.0 - 2.0.0` = nothing; `Range.note` warns about
those). Pre-release versions are compared by plain precedence, so ranges include them (`<2.0.0` holds for
`2.0.0-rc.1`), as in dregsy.

Extensions, only for ranges blang refuses (a dregsy config with one does not load, so none changes
meaning): shortened versions and `X`/`*` wildcards (`>=1.31`, `1.2` = `1.2.x`), a `v` prefix, `~`/`~>`
(tilde: `~1.2.3` = `>=1.2.3 <1.3.0`), `^` (caret: `^1.2.3` = `>=1.2.3 <2.0.0`, `^0.2.3` = `>=0.2.3
<0.3.0`), hyphen ranges with shortened ends (`1.2 - 1.4.5` = `>=1.2.0 <=1.4.5`), commas between terms.
Versions: `rules.version`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from regmirror.rules.blang import blang_range, quirk
from regmirror.rules.goregex import GoRegexp
from regmirror.rules.version import Version, parse_version, try_parse_tolerant

# --- ranges -------------------------------------------------------------------------------------

_OPERATOR_CHARS = frozenset("<>=!~^")
_OPERATORS = frozenset({"", "=", "==", "!=", "!", ">", ">=", "<", "<=", "~", "~>", "^"})
_WILDCARDS = frozenset({"x", "X", "*"})
_RANGE_VERSION = GoRegexp(
    r"v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?"
)


@dataclass(frozen=True, slots=True)
class _Bound:
    version: Version
    inclusive: bool


@dataclass(frozen=True, slots=True)
class _Interval:
    """Versions between two bounds (None: unbounded); `outside` selects the complement instead."""

    lower: _Bound | None = None
    upper: _Bound | None = None
    outside: bool = False

    def contains(self, version: Version) -> bool:
        return self._inside(version) != self.outside

    def _inside(self, version: Version) -> bool:
        lo, hi = self.lower, self.upper
        if lo is not None and (version < lo.version or (version == lo.version and not lo.inclusive)):
            return False
        return hi is None or version < hi.version or (version == hi.version and hi.inclusive)


_EVERYTHING = _Interval()
_NOTHING = _Interval(outside=True)


@dataclass(frozen=True, slots=True)
class _Partial:
    """A version as written in a range: `given` leading numbers are known, the rest are wildcards."""

    numbers: tuple[int, int, int]
    given: int  # 0 (`*`), 1 (`1`, `1.x`), 2 (`1.2`, `1.2.x`) or 3 (full version)
    exact: Version  # numbers with wildcards as 0, plus pre-release/build when given == 3

    def bump(self, position: int) -> Version:
        """The first version above everything that shares the numbers before `position`."""
        major, minor, patch = self.numbers
        if position == 0:
            return Version(major + 1, 0, 0)
        if position == 1:
            return Version(major, minor + 1, 0)
        return Version(major, minor, patch + 1)


def _numbers_given(groups: tuple[str | None, ...]) -> int:
    given = 0
    for group in groups[:3]:
        if group is None or group in _WILDCARDS:
            break
        given += 1
    if any(g is not None and g not in _WILDCARDS for g in groups[given:3]):
        raise ValueError("a wildcard can only stand for the last numbers (as in 1.2.x)")
    return given


def _parse_partial(text: str) -> _Partial:
    groups = _RANGE_VERSION.fullmatch_groups(text)
    if groups is None:
        raise ValueError(f"{text!r} is not a version")
    given = _numbers_given(groups)
    numbers = tuple(int(g) if i < given and g is not None else 0 for i, g in enumerate(groups[:3]))
    major, minor, patch = numbers
    if groups[3] is None and groups[4] is None:
        return _Partial((major, minor, patch), given, Version(major, minor, patch))
    if given < 3:
        raise ValueError(f"{text!r}: a pre-release or build suffix needs a full MAJOR.MINOR.PATCH")
    pre = f"-{groups[3]}" if groups[3] is not None else ""
    build = f"+{groups[4]}" if groups[4] is not None else ""
    return _Partial((major, minor, patch), 3, parse_version(f"{major}.{minor}.{patch}{pre}{build}"))


def _at_least(version: Version) -> _Bound:
    return _Bound(version, inclusive=True)


def _below(version: Version) -> _Bound:
    return _Bound(version, inclusive=False)


def _wildcard_interval(op: str, partial: _Partial) -> _Interval:
    """`op` applied to a shortened version: `1.2` stands for all of [1.2.0, 1.3.0)."""
    if partial.given == 0:
        return _NOTHING if op in (">", "<", "!=", "!") else _EVERYTHING
    low, high = partial.exact, partial.bump(partial.given - 1)
    if op in ("", "=", "==", "~", "~>"):
        return _Interval(_at_least(low), _below(high))
    if op in ("!=", "!"):
        return _Interval(_at_least(low), _below(high), outside=True)
    if op == "^":
        return _Interval(_at_least(low), _below(_caret_limit(partial)))
    bounds = {">": (_at_least(high), None), ">=": (_at_least(low), None), "<": (None, _below(low))}
    lower, upper = bounds.get(op, (None, _below(high)))  # remaining: "<="
    return _Interval(lower, upper)


def _caret_limit(partial: _Partial) -> Version:
    """`^`: the left-most non-zero number (among those given) may not change."""
    major, minor, _ = partial.numbers
    if major > 0 or partial.given == 1:
        return partial.bump(0)
    if minor > 0 or partial.given == 2:
        return partial.bump(1)
    return partial.bump(2)


def _exact_interval(op: str, partial: _Partial) -> _Interval:
    version = partial.exact
    if op in ("", "=", "=="):
        return _Interval(_at_least(version), _Bound(version, inclusive=True))
    if op in ("!=", "!"):
        return _Interval(_at_least(version), _Bound(version, inclusive=True), outside=True)
    if op in ("~", "~>"):
        return _Interval(_at_least(version), _below(partial.bump(1)))
    if op == "^":
        return _Interval(_at_least(version), _below(_caret_limit(partial)))
    bounds = {
        ">": (_Bound(version, inclusive=False), None),
        ">=": (_at_least(version), None),
        "<": (None, _below(version)),
    }
    lower, upper = bounds.get(op, (None, _Bound(version, inclusive=True)))  # remaining: "<="
    return _Interval(lower, upper)


def _comparison(token: str) -> _Interval:
    split = 0
    while split < len(token) and token[split] in _OPERATOR_CHARS:
        split += 1
    op, text = token[:split], token[split:]
    if op not in _OPERATORS:
        raise ValueError(f"unknown comparison operator {op!r} in {token!r}")
    partial = _parse_partial(text)
    return _exact_interval(op, partial) if partial.given == 3 else _wildcard_interval(op, partial)


def _hyphen(first: str, last: str) -> _Interval:
    low, high = _parse_partial(first), _parse_partial(last)
    lower = _at_least(low.exact) if low.given else None
    if high.given == 3:
        upper: _Bound | None = _Bound(high.exact, inclusive=True)
    else:
        upper = _below(high.bump(high.given - 1)) if high.given else None
    return _Interval(lower, upper)


def _join_operators(tokens: list[str]) -> list[str]:
    """`>= 1.2.3` is one term: an operator written apart joins the version after it."""
    joined: list[str] = []
    pending = ""
    for token in tokens:
        token = pending + token
        pending = token if set(token) <= _OPERATOR_CHARS else ""
        if not pending:
            joined.append(token)
    if pending:
        raise ValueError(f"operator {pending!r} has no version after it")
    return joined


def _parse_alternative(text: str) -> tuple[_Interval, ...]:
    tokens = _join_operators(text.replace(",", " ").split())
    if not tokens:
        raise ValueError("empty alternative (nothing between '||' or at an end)")
    terms: list[_Interval] = []
    index = 0
    while index < len(tokens):
        if index + 2 < len(tokens) and tokens[index + 1] == "-":
            terms.append(_hyphen(tokens[index], tokens[index + 2]))
            index += 3
        else:
            terms.append(_comparison(tokens[index]))
            index += 1
    return tuple(terms)


class _Term(Protocol):
    def contains(self, version: Version) -> bool: ...


@dataclass(frozen=True, slots=True)
class Range:
    """A version range: `contains(version)` if all terms of any alternative hold."""

    text: str
    alternatives: tuple[tuple[_Term, ...], ...]
    extension: bool = False  # True: a range blang refuses, read by regmirror's extensions
    note: str = ""  # a warning: blang reads this range, but probably not as meant

    @classmethod
    def parse(cls, text: str) -> Range:
        """blang's reading when blang accepts `text`; else the extensions'; else ValueError."""
        if not text.strip():
            raise ValueError("empty semver range")
        try:
            return cls(text.strip(), blang_range(text), note=quirk(text))
        except ValueError:
            pass  # not a range dregsy loads: the extensions may read it
        try:
            alternatives = tuple(_parse_alternative(alt) for alt in text.split("||"))
        except ValueError as exc:
            raise ValueError(f"invalid semver range {text.strip()!r}: {exc}") from None
        return cls(text.strip(), alternatives, extension=True)

    def contains(self, version: Version) -> bool:
        return any(all(term.contains(version) for term in alt) for alt in self.alternatives)

    def __contains__(self, version: Version) -> bool:
        return self.contains(version)

    def matches_tag(self, tag: str) -> bool:
        """Does the tag, read tolerantly, fall in the range? (False when it is not a version.)"""
        version = try_parse_tolerant(tag)
        return version is not None and self.contains(version)

    def __str__(self) -> str:
        return self.text
