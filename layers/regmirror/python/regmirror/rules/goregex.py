"""Regular expressions with Go's `regexp` semantics, on RE2 (linear time: no ReDoS).

dregsy is written in Go, so its configs use Go regular expressions: RE2 syntax, `$` only at the end
of the text, `ReplaceAllString` with Go's template syntax (`$1`, `${1}`, `${name}`, `$$`) and Go's
rule for empty matches. Python's `re` differs on every one of these points; this module reproduces Go.

The `re2` package has no type stubs: everything it returns is wrapped here in typed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import re2

Span = tuple[int, int]  # (-1, -1) for a group that took no part in the match

# Go stops reading `$<digits>` as a group number once it reaches this value: ten or more digits
# make a group *name* (which never exists), so the reference expands to nothing.
_GO_MAX_GROUP_NUMBER = 100_000_000


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every syntax error to stderr
    return options


_OPTIONS = _re2_options()


def _error_text(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)


def _skip_class(pattern: str, pos: int) -> int:
    """Index just past the character class that opens at `pos` (`[`)."""
    pos += 1
    if pattern.startswith("^", pos):
        pos += 1
    if pattern.startswith("]", pos):  # a leading `]` is literal
        pos += 1
    while pos < len(pattern) and pattern[pos] != "]":
        if pattern.startswith("[:", pos):  # POSIX class such as [:alpha:]
            end = pattern.find(":]", pos + 2)
            pos = end + 2 if end >= 0 else pos + 1
            continue
        pos += 2 if pattern[pos] == "\\" else 1
    return pos + 1


def _group_name_at(pattern: str, pos: int) -> str | None:
    """At a `(`: "" for an unnamed capturing group, its name for a named one, None if not capturing."""
    if not pattern.startswith("?", pos + 1):
        return ""
    for opener in ("(?P<", "(?<"):
        if pattern.startswith(opener, pos):
            end = pattern.find(">", pos)
            return pattern[pos + len(opener) : end]
    return None


def _scan_group_names(pattern: str) -> list[str]:
    names = [""]
    pos = 0
    while pos < len(pattern):
        ch = pattern[pos]
        if pattern.startswith("\\Q", pos):  # literal text up to \E
            end = pattern.find("\\E", pos + 2)
            pos = len(pattern) if end < 0 else end + 2
        elif ch == "\\":
            pos += 2
        elif ch == "[":
            pos = _skip_class(pattern, pos)
        else:
            name = _group_name_at(pattern, pos) if ch == "(" else None
            if name is not None:
                names.append(name)
            pos += 1
    return names


def _subexp_names(pattern: str, group_count: int, first_index: Mapping[str, int]) -> tuple[str, ...]:
    """Go's SubexpNames: the name of every group, index 0 first ("" when unnamed).

    RE2's Python API only tells the first group of each name, but Go lets names repeat, so the
    pattern is scanned; should the scan disagree with RE2, RE2's answer is used.
    """
    names = _scan_group_names(pattern)
    consistent = len(names) == group_count + 1 and all(names[i] == n for n, i in first_index.items())
    if consistent:
        return tuple(names)
    fallback = [""] * (group_count + 1)
    for name, index in first_index.items():
        fallback[index] = name
    return tuple(fallback)


class RegexError(ValueError):
    """A pattern RE2 refuses; `reason` is RE2's explanation (e.g. "missing ): (")."""

    def __init__(self, pattern: str, reason: str) -> None:
        self.pattern = pattern
        self.reason = reason
        super().__init__(f"invalid regular expression {pattern!r}: {reason}")


class GoRegexp:
    """A compiled RE2 pattern. `RegexError` (a ValueError) when the pattern is not valid."""

    __slots__ = ("_compiled", "group_count", "group_names", "pattern")

    def __init__(self, pattern: str) -> None:
        try:
            self._compiled: Any = re2.compile(pattern, _OPTIONS)
        except re2.error as exc:
            raise RegexError(pattern, _error_text(exc)) from None
        self.pattern = pattern
        self.group_count: int = int(self._compiled.groups)
        self.group_names: tuple[str, ...] = _subexp_names(
            pattern, self.group_count, dict(self._compiled.groupindex)
        )

    def __repr__(self) -> str:
        return f"GoRegexp({self.pattern!r})"

    def search(self, text: str) -> bool:
        """Go `MatchString`: does the pattern match anywhere in `text`?"""
        return self._compiled.search(text) is not None

    def fullmatch(self, text: str) -> bool:
        return self._compiled.fullmatch(text) is not None

    def fullmatch_groups(self, text: str) -> tuple[str | None, ...] | None:
        """Groups 1..n of a match of the whole `text` (None for a group that took no part), or None."""
        found = self._compiled.fullmatch(text)
        if found is None:
            return None
        return tuple(found.group(i) for i in range(1, self.group_count + 1))

    def find_at(self, text: bytes, pos: int) -> tuple[Span, ...] | None:
        """Leftmost match starting at or after byte `pos`; spans of group 0..n, (-1, -1) if unset.

        The whole of `text` is the context, so `^` and `\\b` see what lies before `pos` (as in Go).
        """
        found = self._compiled.search(text, pos)
        if found is None:
            return None
        return tuple(tuple(found.span(i)) for i in range(self.group_count + 1))


@dataclass(frozen=True, slots=True)
class GoMatch:
    """One match: the searched text (UTF-8), the spans of groups 0..n and their names ("" if none)."""

    text: bytes
    spans: tuple[Span, ...]
    names: tuple[str, ...]

    def group(self, index: int) -> bytes | None:
        if not 0 <= index < len(self.spans) or self.spans[index][0] < 0:
            return None
        start, end = self.spans[index]
        return self.text[start:end]

    def named(self, name: str) -> bytes | None:
        """Go: the first group of that name that took part in the match (names may repeat)."""
        for index, group_name in enumerate(self.names):
            if group_name == name and self.spans[index][0] >= 0:
                return self.group(index)
        return None


def search(pattern: GoRegexp | str, text: str) -> GoMatch | None:
    """First match of `pattern` in `text` as a GoMatch (for `go_expand`), or None."""
    regexp = pattern if isinstance(pattern, GoRegexp) else GoRegexp(pattern)
    data = text.encode("utf-8")
    spans = regexp.find_at(data, 0)
    return None if spans is None else GoMatch(data, spans, regexp.group_names)


@dataclass(frozen=True, slots=True)
class _GroupRef:
    number: int  # -1: refer by name
    name: str


_Piece = str | _GroupRef


def _is_name_char(ch: str) -> bool:
    # Go: unicode.IsLetter (categories L*) / unicode.IsDigit (Nd) / '_'.
    return ch.isalpha() or ch.isdecimal() or ch == "_"


def _group_number(name: str) -> int:
    """Go's `extract`: ASCII digits without a leading zero are a number, anything else a name (-1)."""
    number = 0
    for ch in name:
        if not "0" <= ch <= "9" or number >= _GO_MAX_GROUP_NUMBER:
            return -1
        number = number * 10 + ord(ch) - ord("0")
    if name[0] == "0" and len(name) > 1:
        return -1
    return number


def _extract(template: str, start: int) -> tuple[_GroupRef, int] | None:
    """Parse `name` or `{name}` at `start` (just after a `$`); None when malformed."""
    brace = template.startswith("{", start)
    begin = start + 1 if brace else start
    end = begin
    while end < len(template) and _is_name_char(template[end]):
        end += 1
    if end == begin:
        return None
    name = template[begin:end]
    if brace:
        if not template.startswith("}", end):
            return None
        end += 1
    return _GroupRef(_group_number(name), name), end


def parse_template(template: str) -> tuple[_Piece, ...]:
    """Split a Go replacement template into literal text and group references."""
    pieces: list[_Piece] = []
    literal: list[str] = []
    pos = 0
    while (dollar := template.find("$", pos)) >= 0:
        literal.append(template[pos:dollar])
        pos = dollar + 1
        if template.startswith("$", pos):  # `$$` is a literal `$`
            literal.append("$")
            pos += 1
            continue
        ref = _extract(template, pos)
        if ref is None:  # malformed: the `$` is kept as text
            literal.append("$")
            continue
        pieces.append("".join(literal))
        literal = []
        pieces.append(ref[0])
        pos = ref[1]
    literal.append(template[pos:])
    pieces.append("".join(literal))
    return tuple(p for p in pieces if p != "")


def _render(pieces: tuple[_Piece, ...], match: GoMatch) -> bytes:
    out = bytearray()
    for piece in pieces:
        if isinstance(piece, str):
            out += piece.encode("utf-8")
            continue
        value = match.group(piece.number) if piece.number >= 0 else match.named(piece.name)
        out += value or b""  # unknown or unset groups expand to nothing
    return bytes(out)


def go_expand(template: str, match: GoMatch) -> str:
    """Go `Regexp.Expand`: `$1`, `${1}`, `${name}`, `$name` (longest run of letters, digits, `_`),
    `$$` → `$`; unknown or unset groups → empty; a malformed `$` stays as is; `\\1` is plain text."""
    return _render(parse_template(template), match).decode("utf-8")


def _rune_width(data: bytes, pos: int) -> int:
    """Width of the UTF-8 sequence at `pos` (0 at the end), like Go's utf8.DecodeRune."""
    if pos >= len(data):
        return 0
    lead = data[pos]
    if lead < 0x80:
        return 1
    width = 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 1
    return min(width, len(data) - pos)


def _advance(data: bytes, search_pos: int, match_end: int) -> int:
    """Where Go's replaceAll searches next: past the match, and always at least one character on."""
    width = _rune_width(data, search_pos)
    if search_pos + width > match_end:
        return search_pos + width
    if search_pos + 1 > match_end:
        return search_pos + 1
    return match_end


def replace_all(regexp: GoRegexp, template: str, text: str) -> tuple[str, int]:
    """Go `ReplaceAllString`, plus how many matches were found (0: text returned unchanged)."""
    pieces = parse_template(template)
    data = text.encode("utf-8")
    out = bytearray()
    last_end = search_pos = found = 0
    while search_pos <= len(data):
        spans = regexp.find_at(data, search_pos)
        if spans is None:
            break
        found += 1
        start, end = spans[0]
        out += data[last_end:start]
        # Go skips an empty match right after the previous match (no double replacement).
        if end > last_end or start == 0:
            out += _render(pieces, GoMatch(data, spans, regexp.group_names))
        last_end = end
        search_pos = _advance(data, search_pos, end)
    out += data[last_end:]
    return out.decode("utf-8"), found


def go_replace_all(pattern: GoRegexp | str, repl: str, text: str) -> str:
    """Go `Regexp.ReplaceAllString(text, repl)`: every non-overlapping match replaced, unanchored."""
    regexp = pattern if isinstance(pattern, GoRegexp) else GoRegexp(pattern)
    return replace_all(regexp, repl, text)[0]
