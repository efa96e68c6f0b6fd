"""Semantic versions and version ranges, as dregsy reads tags (it uses github.com/blang/semver v4).

Tags are parsed *tolerantly* (blang `ParseTolerant`): an optional `v` prefix, leading zeros dropped,
missing minor/patch filled with 0 (`1.31` = 1.31.0, `0444319` = 444319.0.0); a shortened version may
not carry a pre-release or build suffix (`1.2-rc1` is not a version). Precedence is semver 2.0:
build metadata is ignored, a pre-release sorts before its release.

Ranges: every range blang accepts means the same here: comparators `=`/`==` (or none), `!=`/`!`,
`>`, `>=`, `<`, `<=`; space-separated terms must all hold; `||` separates alternatives; an `x` for
the last number(s) is a wildcard (`1.2.x` = `>=1.2.0 <1.3.0`). Pre-release versions are compared by
plain precedence, so ranges include them (`<2.0.0` holds for `2.0.0-rc.1`), as in dregsy.

Extensions (ranges blang refuses, so no dregsy config changes meaning): `X`/`*` wildcards and
shortened versions (`>=1.31`, `1.2` = `1.2.x`), a `v` prefix, `~`/`~>` (tilde: `~1.2.3` =
`>=1.2.3 <1.3.0`), `^` (caret: `^1.2.3` = `>=1.2.3 <2.0.0`, `^0.2.3` = `>=0.2.3 <0.3.0`), hyphen
ranges (`1.2 - 1.4.5` = `>=1.2.0 <=1.4.5`), commas between terms, `||` without spaces. Where blang has
a bug, the intended meaning is used: `1.x.x` = `>=1.0.0 <2.0.0` (blang: `<1.1.0`) and `!=1.2.x` is
everything outside 1.2.x (blang: nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regmirror.rules.goregex import GoRegexp

_UINT64_MAX = 2**64 - 1
_DIGITS = frozenset("0123456789")
_ALPHANUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")

PreId = int | str


def _contains_only(text: str, allowed: frozenset[str]) -> bool:
    return all(ch in allowed for ch in text)


def _parse_number(text: str, what: str) -> int:
    """A major/minor/patch number as blang reads it: ASCII digits, no leading zero, 64-bit."""
    if not text or not _contains_only(text, _DIGITS):
        raise ValueError(f"invalid {what} number {text!r}")
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"{what} number must not have leading zeros: {text!r}")
    value = int(text)
    if value > _UINT64_MAX:
        raise ValueError(f"{what} number {text!r} is too large")
    return value


def _parse_pre_id(text: str) -> PreId:
    if not text:
        raise ValueError("empty pre-release identifier")
    if _contains_only(text, _DIGITS):
        return _parse_number(text, "numeric pre-release")
    if _contains_only(text, _ALPHANUM):
        return text
    raise ValueError(f"invalid character(s) in pre-release identifier {text!r}")


def _parse_build(text: str) -> tuple[str, ...]:
    ids = tuple(text.split("."))
    for ident in ids:
        if not ident or not _contains_only(ident, _ALPHANUM):
            raise ValueError(f"invalid build metadata {text!r}")
    return ids


@dataclass(frozen=True, slots=True)
class Version:
    """A semantic version. Compare with `<`, `>`… (semver precedence: build metadata ignored)."""

    major: int
    minor: int
    patch: int
    pre: tuple[PreId, ...] = ()
    build: tuple[str, ...] = field(default=(), compare=False)

    def precedence_key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """Sort key: a release (flag 1) beats its pre-releases (flag 0); numeric ids < alphanumeric."""
        ids = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, ids)

    def compare(self, other: Version) -> int:
        mine, theirs = self.precedence_key(), other.precedence_key()
        return (mine > theirs) - (mine < theirs)

    def __lt__(self, other: Version) -> bool:
        return self.precedence_key() < other.precedence_key()

    def __le__(self, other: Version) -> bool:
        return self.precedence_key() <= other.precedence_key()

    def __gt__(self, other: Version) -> bool:
        return self.precedence_key() > other.precedence_key()

    def __ge__(self, other: Version) -> bool:
        return self.precedence_key() >= other.precedence_key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(str(p) for p in self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text


def parse_version(text: str) -> Version:
    """Strict semver 2.0 `MAJOR.MINOR.PATCH[-pre][+build]` (blang `Parse`); ValueError if not."""
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise ValueError(f"{text!r} is not MAJOR.MINOR.PATCH")
    rest, _, build = parts[2].partition("+")
    patch, dash, pre = rest.partition("-")
    return Version(
        major=_parse_number(parts[0], "major"),
        minor=_parse_number(parts[1], "minor"),
        patch=_parse_number(patch, "patch"),
        pre=tuple(_parse_pre_id(p) for p in pre.split(".")) if dash else (),
        build=_parse_build(build) if "+" in parts[2] else (),
    )


def _drop_leading_zeros(part: str) -> str:
    if len(part) <= 1:
        return part
    trimmed = part.lstrip("0")
    return trimmed if trimmed[:1].isascii() and trimmed[:1].isdigit() else "0" + trimmed


def parse_tolerant(text: str) -> Version:
    """How dregsy reads a tag (blang `ParseTolerant`); ValueError when the tag is not a version."""
    stripped = text.strip()
    body = stripped[1:] if stripped.startswith("v") else stripped
    parts = [_drop_leading_zeros(p) for p in body.split(".", 2)]
    if len(parts) < 3:
        if "+" in parts[-1] or "-" in parts[-1]:
            raise ValueError(f"{text!r}: a shortened version cannot carry a pre-release or build suffix")
        parts += ["0"] * (3 - len(parts))
    try:
        return parse_version(".".join(parts))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a version: {exc}") from None


def try_parse_tolerant(text: str) -> Version | None:
    try:
        return parse_tolerant(text)
    except ValueError:
        return None


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
        pending = token if _contains_only(token, _OPERATOR_CHARS) else ""
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


@dataclass(frozen=True, slots=True)
class Range:
    """A version range: `contains(version)` if all terms of any alternative hold."""

    text: str
    alternatives: tuple[tuple[_Interval, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Range:
        if not text.strip():
            raise ValueError("empty semver range")
        try:
            alternatives = tuple(_parse_alternative(alt) for alt in text.split("||"))
        except ValueError as exc:
            raise ValueError(f"invalid semver range {text.strip()!r}: {exc}") from None
        return cls(text.strip(), alternatives)

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
