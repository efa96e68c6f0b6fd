"""blang/semver v4's `ParseRange`, step for step: what a `semver:` range means in dregsy.

Every range this reader accepts means here exactly what it means in dregsy, quirks included:
- terms are split at spaces, except after `>`, `<` or `=`; a term of one character is dropped
  (`1.0.0 - 2.0.0` is `1.0.0 2.0.0`: equal to both, so nothing);
- a term holding an `x` is a wildcard, expanded by text: `1.x.x` becomes `>=1.0.0 <1.1.0`,
  `!=1.2.x` becomes `<1.2.0 >=1.3.0` (both must hold: nothing), an operator it does not know keeps
  the flattened version (`~1.2.x` is `1.2.0`);
- versions in a range are strict (`MAJOR.MINOR.PATCH`, no `v`, no leading zeros).
`blang_range` raises ValueError where blang returns an error; `rules.semver.Range` then tries its own,
documented extensions (which therefore never change the meaning of a range dregsy loads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from regmirror.rules.version import Version, parse_version

Comparison = Callable[[int], bool]  # applied to Version.compare(range version)

_COMPARATORS: dict[str, Comparison] = {
    "": lambda c: c == 0,
    "=": lambda c: c == 0,
    "==": lambda c: c == 0,
    "!": lambda c: c != 0,
    "!=": lambda c: c != 0,
    ">": lambda c: c == 1,
    ">=": lambda c: c >= 0,
    "<": lambda c: c == -1,
    "<=": lambda c: c <= 0,
}
_NO_SPLIT_AFTER = frozenset(b"><=")


@dataclass(frozen=True, slots=True)
class BlangTerm:
    """One comparator and version of a blang range (`>=1.2.0`)."""

    operator: str
    version: Version

    def contains(self, version: Version) -> bool:
        return _COMPARATORS[self.operator](version.compare(self.version))


BlangRange = tuple[tuple[BlangTerm, ...], ...]  # alternatives (OR) of terms (AND)


def split_and_trim(text: str) -> list[str]:
    """blang `splitAndTrim`: split at spaces not following `>`, `<`, `=`; one-character pieces vanish."""
    return _split(text)[0]


def _split(text: str) -> tuple[list[str], int]:
    """(pieces, how many one-character pieces blang dropped)."""
    data = text.encode("utf-8")
    pieces: list[bytes] = []
    last, last_char, dropped = 0, 0, 0
    for index, char in enumerate(data):
        if char == 0x20 and last_char not in _NO_SPLIT_AFTER:
            if last < index - 1:
                pieces.append(data[last:index])
            dropped += index - last == 1
            last = index + 1
        elif char != 0x20:
            last_char = char
    if last < len(data) - 1:
        pieces.append(data[last:])
    dropped += len(data) - last == 1
    return [p.replace(b" ", b"").decode("utf-8", "surrogateescape") for p in pieces], dropped


def split_or_parts(parts: list[str]) -> list[list[str]]:
    """blang `splitORParts`: alternatives at `||`; none may be first or last (nor the range empty)."""
    alternatives: list[list[str]] = []
    last = 0
    for index, part in enumerate(parts):
        if part == "||":
            if index == 0:
                raise ValueError("First element in range is '||'")
            alternatives.append(parts[last:index])
            last = index + 1
    if last == len(parts):
        raise ValueError("Last element in range is '||'")
    alternatives.append(parts[last:])
    return alternatives


def split_comparator_version(term: str) -> tuple[str, str]:
    """blang `splitComparatorVersion`: the operator is everything before the first digit."""
    digit = next((i for i, ch in enumerate(term) if ch.isdigit()), -1)
    if digit < 0:
        raise ValueError(f"Could not get version from string: {term!r}")
    return term[:digit].strip(), term[digit:]


def _wildcard_position(version: str) -> int:
    """blang `getWildcardType`: 1 major, 2 minor, 3 patch (by the number of parts), 0 none."""
    parts = version.split(".")
    return len(parts) if parts[-1] == "x" and len(parts) <= 3 else 0


def _flatten(version: str) -> str:
    """blang `createVersionFromWildcard`: `1.x.x` → `1.0` → `1.0.0`, `1.2.x` → `1.2.0`."""
    flat = version.replace(".x.x", ".x", 1).replace(".x", ".0", 1)
    return flat + ".0" if len(flat.split(".")) == 2 else flat


def _increment(version: str, position: int) -> str:
    """blang `incrementMajorVersion`/`incrementMinorVersion`; "" where Go's Atoi fails."""
    parts = version.split(".")
    number = parts[position] if position < len(parts) else ""
    if not _go_atoi_ok(number):
        return ""
    parts[position] = str(int(number) + 1)
    return ".".join(parts)


def _go_atoi_ok(text: str) -> bool:
    body = text[1:] if text[:1] in ("+", "-") else text
    return body.isascii() and body.isdigit() and -(2**63) <= int(text) < 2**63


def _expand_wildcard(term: str) -> list[str]:
    """blang `expandWildcardVersion` for one term holding an `x`."""
    operator, version = split_comparator_version(term)
    position = _wildcard_position(version)
    flat = _flatten(version)
    expanded: list[str] = []
    result_operator, increment = "", False
    if operator in (">", "<="):
        result_operator, increment = (">=" if operator == ">" else "<"), True
    elif operator in (">=", "<"):
        result_operator = operator
    elif operator in ("", "=", "=="):
        expanded.append(">=" + flat)
        result_operator, increment = "<", True
    elif operator in ("!=", "!"):
        expanded.append("<" + flat)
        result_operator, increment = ">=", True
    if not increment:
        result = flat
    elif position == 3:
        result = _increment(flat, 1)
    elif position == 2:
        result = _increment(flat, 0)
    else:
        result = ""
    return [*expanded, result_operator + result]


def _term(text: str) -> BlangTerm:
    operator, version = split_comparator_version(text)
    if operator not in _COMPARATORS:
        raise ValueError(f"Could not parse comparator {operator!r} in {text!r}")
    try:
        return BlangTerm(operator, parse_version(version))
    except ValueError as exc:
        raise ValueError(f"Could not parse version {version!r} in {text!r}: {exc}") from None


def blang_range(text: str) -> BlangRange:
    """blang `ParseRange`: the alternatives, or ValueError where blang returns an error."""
    alternatives = split_or_parts(split_and_trim(text))
    expanded = [
        [p for part in alt for p in (_expand_wildcard(part) if "x" in part else [part])]
        for alt in alternatives
    ]
    return tuple(tuple(_term(part) for part in alt) for alt in expanded)


def quirk(text: str) -> str:
    """Why a range blang accepts may not mean what it seems to (a warning), or ""."""
    parts, dropped = _split(text)
    if dropped:
        return "a one-character term (such as '-' of a hyphen range) is dropped, as in dregsy"
    if any(".x.x" in part for part in parts):
        return "'1.x.x' means >=1.0.0 <1.1.0 in dregsy (blang/semver); write '1.x' for all of 1"
    notes = [_wildcard_quirk(part) for part in parts if "x" in part]
    return next((note for note in notes if note), "")


def _wildcard_quirk(term: str) -> str:
    digit = next((i for i, ch in enumerate(term) if ch.isdigit()), 0)
    operator = term[:digit].strip()
    if operator in ("!", "!="):
        return "'!=' with a wildcard matches nothing in dregsy (blang/semver)"
    if operator not in _COMPARATORS:
        return f"'{operator}' with a wildcard means '=' of the flattened version in dregsy (blang/semver)"
    return ""
