"""Semantic versions as dregsy reads them (github.com/blang/semver v4): strict `Parse` for versions in
ranges, tolerant `ParseTolerant` for tags.

Tags are parsed *tolerantly*: an optional `v` prefix, leading zeros dropped, missing minor/patch filled
with 0 (`1.31` = 1.31.0, `0444319` = 444319.0.0); a shortened version may not carry a pre-release or
build suffix (`1.2-rc1` is not a version). Precedence is semver 2.0: build metadata is ignored, a
pre-release sorts before its release.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
