"""blang/semver v4's own range tests (v4/range_test.go), table by table, against `rules.blang`.

The Go tables are ported as they are; where the Go test accepts either outcome (a nil expectation,
checked only for ranges that parse), the expected outcome is what blang's code returns, noted inline.
Then the quirks dregsy users meet (issue: 1.x.x, !=1.2.x, hyphen ranges), and `Range` keeping them.
"""

from __future__ import annotations

import pytest
from regmirror.rules.blang import (
    BlangTerm,
    blang_range,
    quirk,
    split_and_trim,
    split_comparator_version,
    split_or_parts,
)
from regmirror.rules.semver import Range
from regmirror.rules.version import parse_version

# --- TestSplitAndTrim ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("1.2.3 1.2.3", ["1.2.3", "1.2.3"]),
        ("     1.2.3     1.2.3     ", ["1.2.3", "1.2.3"]),
        ("  >=   1.2.3   <=  1.2.3   ", [">=1.2.3", "<=1.2.3"]),
        ("1.2.3 || >=1.2.3 <1.2.3", ["1.2.3", "||", ">=1.2.3", "<1.2.3"]),
        ("      1.2.3      ||     >=1.2.3     <1.2.3    ", ["1.2.3", "||", ">=1.2.3", "<1.2.3"]),
        # not in the Go table: one-character pieces vanish
        ("1.0.0 - 2.0.0", ["1.0.0", "2.0.0"]),
        ("1.0.0 <", ["1.0.0"]),
    ],
)
def test_split_and_trim(text: str, parts: list[str]) -> None:
    assert split_and_trim(text) == parts


# --- TestSplitComparatorVersion -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (">1.2.3", (">", "1.2.3")),
        (">=1.2.3", (">=", "1.2.3")),
        ("<1.2.3", ("<", "1.2.3")),
        ("<=1.2.3", ("<=", "1.2.3")),
        ("1.2.3", ("", "1.2.3")),
        ("=1.2.3", ("=", "1.2.3")),
        ("==1.2.3", ("==", "1.2.3")),
        ("!=1.2.3", ("!=", "1.2.3")),
        ("!1.2.3", ("!", "1.2.3")),
        ("error", None),
    ],
)
def test_split_comparator_version(text: str, expected: tuple[str, str] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="Could not get version"):
            split_comparator_version(text)
    else:
        assert split_comparator_version(text) == expected


# --- TestBuildVersionRange (through a one-term range) -------------------------------------------


@pytest.mark.parametrize(
    ("operator", "version", "ok"),
    [
        (">", "1.2.3", True),
        (">=", "1.2.3", True),
        ("<", "1.2.3", True),
        ("<=", "1.2.3", True),
        ("", "1.2.3", True),
        ("=", "1.2.3", True),
        ("==", "1.2.3", True),
        ("!=", "1.2.3", True),
        ("!", "1.2.3", True),
        (">>", "1.2.3", False),  # invalid comparator
        ("=", "1invalid", False),  # invalid version
    ],
)
def test_build_version_range(operator: str, version: str, ok: bool) -> None:
    if ok:
        assert blang_range(operator + version) == ((BlangTerm(operator, parse_version(version)),),)
    else:
        with pytest.raises(ValueError, match="Could not parse"):
            blang_range(operator + version)


# --- TestSplitORParts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "alternatives"),
    [
        ([">1.2.3", "||", "<1.2.3", "||", "=1.2.3"], [[">1.2.3"], ["<1.2.3"], ["=1.2.3"]]),
        ([">1.2.3", "<1.2.3", "||", "=1.2.3"], [[">1.2.3", "<1.2.3"], ["=1.2.3"]]),
        ([">1.2.3", "||"], None),
        (["||", ">1.2.3"], None),
        ([], None),  # not in the Go table: an empty range
    ],
)
def test_split_or_parts(parts: list[str], alternatives: list[list[str]] | None) -> None:
    if alternatives is None:
        with pytest.raises(ValueError, match="element in range is '\\|\\|'"):
            split_or_parts(parts)
    else:
        assert split_or_parts(parts) == alternatives


# --- TestExpandWildcardVersion (through the range it expands to) --------------------------------


@pytest.mark.parametrize(
    ("wildcard", "expanded"),
    [
        (">=1.2.x", ">=1.2.0"),
        ("<=1.2.x", "<1.3.0"),
        (">1.2.x", ">=1.3.0"),
        ("<1.2.x", "<1.2.0"),
        ("!=1.2.x", "<1.2.0 >=1.3.0"),
        (">=1.x", ">=1.0.0"),
        ("<=1.x", "<2.0.0"),
        (">1.x", ">=2.0.0"),
        ("<1.x", "<1.0.0"),
        ("!=1.x", "<1.0.0 >=2.0.0"),
        ("1.2.x", ">=1.2.0 <1.3.0"),
        ("1.x", ">=1.0.0 <2.0.0"),
        # not in the Go table: what dregsy users meet
        ("1.x.x", ">=1.0.0 <1.1.0"),
        ("~1.2.x", "1.2.0"),
    ],
)
def test_expand_wildcard_version(wildcard: str, expanded: str) -> None:
    assert blang_range(wildcard) == blang_range(expanded)


def test_expand_wildcard_version_without_digits_fails() -> None:
    with pytest.raises(ValueError, match="Could not get version"):
        blang_range("foox")


# --- TestParseRange -----------------------------------------------------------------------------

PARSE_RANGE = [
    # Simple expressions
    (">1.2.3", [("1.2.2", False), ("1.2.3", False), ("1.2.4", True)]),
    (">=1.2.3", [("1.2.3", True), ("1.2.4", True), ("1.2.2", False)]),
    ("<1.2.3", [("1.2.2", True), ("1.2.3", False), ("1.2.4", False)]),
    ("<=1.2.3", [("1.2.2", True), ("1.2.3", True), ("1.2.4", False)]),
    ("1.2.3", [("1.2.2", False), ("1.2.3", True), ("1.2.4", False)]),
    ("=1.2.3", [("1.2.2", False), ("1.2.3", True), ("1.2.4", False)]),
    ("==1.2.3", [("1.2.2", False), ("1.2.3", True), ("1.2.4", False)]),
    ("!=1.2.3", [("1.2.2", True), ("1.2.3", False), ("1.2.4", True)]),
    ("!1.2.3", [("1.2.2", True), ("1.2.3", False), ("1.2.4", True)]),
    # AND Expressions
    (">1.2.2 <1.2.4", [("1.2.2", False), ("1.2.3", True), ("1.2.4", False)]),
    ("<1.2.2 <1.2.4", [("1.2.1", True), ("1.2.2", False), ("1.2.3", False), ("1.2.4", False)]),
    (">1.2.2 <1.2.5 !=1.2.4", [("1.2.2", False), ("1.2.3", True), ("1.2.4", False), ("1.2.5", False)]),
    (">1.2.2 <1.2.5 !1.2.4", [("1.2.2", False), ("1.2.3", True), ("1.2.4", False), ("1.2.5", False)]),
    # OR Expressions
    (">1.2.2 || <1.2.4", [("1.2.2", True), ("1.2.3", True), ("1.2.4", True)]),
    ("<1.2.2 || >1.2.4", [("1.2.2", False), ("1.2.3", False), ("1.2.4", False)]),
    # Wildcard expressions
    (">1.x", [("0.1.9", False), ("1.2.6", False), ("1.9.0", False), ("2.0.0", True)]),
    (">1.2.x", [("1.1.9", False), ("1.2.6", False), ("1.3.0", True)]),
    # Combined Expressions
    (
        ">1.2.2 <1.2.4 || >=2.0.0",
        [("1.2.2", False), ("1.2.3", True), ("1.2.4", False), ("2.0.0", True), ("2.0.1", True)],
    ),
    (
        "1.x || >=2.0.x <2.2.x",
        [("0.9.2", False), ("1.2.2", True), ("2.0.0", True), ("2.1.8", True), ("2.2.0", False)],
    ),
    (
        ">1.2.2 <1.2.4 || >=2.0.0 <3.0.0",
        [
            ("1.2.2", False),
            ("1.2.3", True),
            ("1.2.4", False),
            ("2.0.0", True),
            ("2.0.1", True),
            ("2.9.9", True),
            ("3.0.0", False),
        ],
    ),
]


def _holds(alternatives: tuple[tuple[BlangTerm, ...], ...], version: str) -> bool:
    parsed = parse_version(version)
    return any(all(term.contains(parsed) for term in alt) for alt in alternatives)


@pytest.mark.parametrize(("text", "cases"), PARSE_RANGE, ids=[t for t, _ in PARSE_RANGE])
def test_parse_range(text: str, cases: list[tuple[str, bool]]) -> None:
    alternatives = blang_range(text)
    version_range = Range.parse(text)
    assert not version_range.extension
    for version, expected in cases:
        assert _holds(alternatives, version) == expected, version
        assert version_range.contains(parse_version(version)) == expected, version


# The Go table's "Simple Expression errors" (nil: either outcome); `!1.2.3` in it parses, as above.
@pytest.mark.parametrize("text", [">>1.2.3", "1.0", "string", "", "fo.ob.ar.x"])
def test_parse_range_errors(text: str) -> None:
    with pytest.raises(ValueError, match=r"Could not|element in range"):
        blang_range(text)


# --- what dregsy users meet ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("1.x.x", ["1.0.0", "1.0.9"], ["1.1.0", "1.9.0", "2.0.0"]),
        ("!=1.2.x", [], ["1.1.9", "1.2.0", "1.3.0"]),
        ("1.0.0 - 2.0.0", [], ["1.0.0", "1.5.0", "2.0.0"]),
        ("<2.0.0", ["2.0.0-rc.1", "1.9.9"], ["2.0.0"]),  # pre-releases take part, as in dregsy
    ],
)
def test_dregsy_reads_these_ranges_so_regmirror_does(
    text: str, inside: list[str], outside: list[str]
) -> None:
    version_range = Range.parse(text)
    assert not version_range.extension
    assert [v for v in inside + outside if version_range.matches_tag(v)] == inside


@pytest.mark.parametrize(
    ("text", "warned"),
    [
        ("1.x.x", True),
        ("!=1.2.x", True),
        ("1.0.0 - 2.0.0", True),
        ("~1.2.x", True),
        (">=1.0.0 <2.0.0", False),
        ("1.2.x", False),
        (">= 1.2.3", False),
    ],
)
def test_surprising_blang_readings_carry_a_warning(text: str, warned: bool) -> None:
    assert bool(quirk(text)) == warned
    assert bool(Range.parse(text).note) == warned


@pytest.mark.parametrize(
    "text", [">=1.31", "~1.2.3", "^1.2.3", "1.2 - 1.4.5", ">=v1.0.0", "1.2.*", ">=1.0.0, <2.0.0"]
)
def test_extensions_serve_only_ranges_blang_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        blang_range(text)
    assert Range.parse(text).extension
