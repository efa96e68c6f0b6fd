"""Tolerant version parsing (blang ParseTolerant, as dregsy) and version ranges."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from regmirror.rules.semver import Range
from regmirror.rules.version import Version, parse_tolerant, parse_version, try_parse_tolerant


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("1.2.3", Version(1, 2, 3)),
        ("v1.2.3", Version(1, 2, 3)),
        (" v1.2.3 ", Version(1, 2, 3)),
        ("1.31", Version(1, 31, 0)),
        ("v1.31", Version(1, 31, 0)),
        ("1", Version(1, 0, 0)),
        ("0444319", Version(444319, 0, 0)),  # a commit-like numeric tag is a version
        ("00", Version(0, 0, 0)),
        ("1.02.3", Version(1, 2, 3)),
        ("1.2.03-rc", Version(1, 2, 3, ("rc",))),
        ("1.2.0-rc.1", Version(1, 2, 0, ("rc", 1))),
        ("1.2.3-rc.1+build.5", Version(1, 2, 3, ("rc", 1), ("build", "5"))),
        ("1.2.3-alpine3.19", Version(1, 2, 3, ("alpine3", 19))),
        ("1.2.3-0", Version(1, 2, 3, (0,))),
        ("1.2.3-x-y", Version(1, 2, 3, ("x-y",))),
        ("1.2.3+20240101", Version(1, 2, 3, (), ("20240101",))),
        ("18446744073709551615", Version(2**64 - 1, 0, 0)),
    ],
)
def test_tolerant_parse(tag: str, expected: Version) -> None:
    version = parse_tolerant(tag)
    assert (version.major, version.minor, version.patch, version.pre, version.build) == (
        expected.major,
        expected.minor,
        expected.patch,
        expected.pre,
        expected.build,
    )


@pytest.mark.parametrize(
    "tag",
    [
        "latest",
        "",
        "v",
        "V1.2.3",  # only a lower-case v is dropped
        "vv1.2.3",
        "1.2-rc1",  # a shortened version cannot carry a suffix
        "1-rc1",
        "1.2+b",
        "1.2.3.4",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-rc..1",
        "1.2.3-01",  # numeric pre-release with a leading zero
        "1.2.3-rc_1",
        "1.2.3+b_1",
        "1.2.x",
        "stable-1.2.3",
        "1.2.3 4",
        "18446744073709551616",  # beyond 64 bits
        "١.٢.٣",  # non-ASCII digits
    ],
)
def test_tolerant_parse_refuses(tag: str) -> None:
    assert try_parse_tolerant(tag) is None
    with pytest.raises(ValueError, match=r"not a version|shortened"):
        parse_tolerant(tag)


@pytest.mark.parametrize("text", ["1.2", "01.2.3", "1.02.3", "1.2.03", "v1.2.3", "1.2.3-", "a.b.c"])
def test_strict_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH|number|pre-release"):
        parse_version(text)


def test_precedence_follows_semver_2() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "1.10.0",
        "2.0.0",
    ]
    versions = [parse_version(v) for v in ordered]
    shuffled = versions[5:] + versions[:5]
    assert sorted(shuffled) == versions
    for low, high in itertools.pairwise(versions):
        assert low < high
        assert high > low
        assert low <= high
        assert high >= low
        assert low.compare(high) == -1
        assert high.compare(low) == 1


def test_build_metadata_does_not_count() -> None:
    assert parse_version("1.2.3+a") == parse_version("1.2.3+b")
    assert parse_version("1.2.3+a").compare(parse_version("1.2.3")) == 0
    assert str(parse_version("1.2.3-rc.1+b.2")) == "1.2.3-rc.1+b.2"


RANGE_CASES = [
    # blang syntax: the same meaning as in dregsy.
    (
        ">=1.0.0 <2.0.0",
        ["1.0.0", "1.5.3", "1.99.99", "2.0.0-rc.1", "v1.2"],
        ["0.9.9", "2.0.0", "1.0.0-rc.1", "x"],
    ),
    (">= 1.0.0  < 2.0.0", ["1.0.0", "1.9.0"], ["2.0.0"]),
    ("1.2.3", ["1.2.3", "v1.2.3", "1.2.3+build"], ["1.2.4", "1.2.3-rc.1"]),
    ("=1.2.3", ["1.2.3"], ["1.2.4"]),
    ("==1.2.3", ["1.2.3"], ["1.2.4"]),
    ("!=1.2.3", ["1.2.4", "1.2.3-rc.1"], ["1.2.3"]),
    ("!1.2.3", ["1.2.4"], ["1.2.3"]),
    (">1.2.3", ["1.2.4", "1.3.0-rc.1"], ["1.2.3", "1.2.3+b", "1.2.2"]),
    ("<1.2.3", ["1.2.2", "1.2.3-rc.1"], ["1.2.3"]),
    ("<=1.2.3", ["1.2.3", "1.2.3+b"], ["1.2.4"]),
    (">=1.2.3-rc.2", ["1.2.3-rc.2", "1.2.3-rc.10", "1.2.3"], ["1.2.3-rc.1", "1.2.3-beta"]),
    ("<1.0.0 || >=3.0.0", ["0.5.0", "3.0.0", "4.1.0"], ["1.0.0", "2.9.9"]),
    (">1.0.0 <2.0.0 || >3.0.0 !=4.2.1", ["1.2.3", "4.2.2"], ["2.0.0", "4.2.1", "1.0.0"]),
    ("1.2.x", ["1.2.0", "1.2.99", "1.3.0-rc.1"], ["1.3.0", "1.1.9", "1.2.0-rc.1"]),
    ("1.x", ["1.0.0", "1.99.0"], ["2.0.0", "0.9.0"]),
    (">=1.2.x", ["1.2.0", "5.0.0"], ["1.1.9"]),
    (">1.2.x", ["1.3.0"], ["1.2.9"]),
    ("<1.2.x", ["1.1.9"], ["1.2.0"]),
    ("<=1.2.x", ["1.2.9"], ["1.3.0"]),
    ("<=1.x", ["1.9.9"], ["2.0.0"]),
    # blang's quirks, kept as dregsy has them (each with a Range.note).
    ("1.x.x", ["1.0.0", "1.0.9"], ["1.1.0", "1.5.0", "2.0.0"]),
    ("!=1.2.x", [], ["1.1.9", "1.2.0", "1.2.7", "1.3.0"]),
    ("1.2.3 - 1.4.5", [], ["1.2.3", "1.4.5", "1.3.0"]),
    ("1.0.0 -", ["1.0.0"], ["1.0.1"]),
    ("- 1.0.0", ["1.0.0"], ["1.0.1"]),
    ("1.0.0 <", ["1.0.0"], ["0.9.0"]),
    ("~1.2.x", ["1.2.0"], ["1.2.1"]),
    # Extensions (ranges blang refuses).
    ("1.2.X", ["1.2.5"], ["1.3.0"]),
    ("1.2.*", ["1.2.5"], ["1.3.0"]),
    ("*", ["0.0.1", "9.9.9-rc.1"], ["latest"]),
    ("x", ["1.0.0"], []),
    (">*", [], ["1.0.0"]),
    ("1.2", ["1.2.0", "1.2.9"], ["1.3.0"]),
    (">=1.31", ["1.31.0", "1.31", "2.0.0"], ["1.30.9"]),
    ("<1.31", ["1.30.9"], ["1.31.0"]),
    (">1.2", ["1.3.0"], ["1.2.9"]),
    ("<=1.2", ["1.2.9"], ["1.3.0"]),
    (">=v1.2.3", ["1.2.3"], ["1.2.2"]),
    ("~1.2.3", ["1.2.3", "1.2.9"], ["1.3.0", "1.2.2"]),
    ("~>1.2.3", ["1.2.9"], ["1.3.0"]),
    ("~1.2", ["1.2.0", "1.2.9"], ["1.3.0"]),
    ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
    ("^1.2.3", ["1.2.3", "1.9.0"], ["2.0.0", "1.2.2"]),
    ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]),
    ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
    ("^1.2", ["1.2.0", "1.9.9"], ["2.0.0", "1.1.0"]),
    ("^0.2", ["0.2.0", "0.2.9"], ["0.3.0"]),
    ("^0.0", ["0.0.9"], ["0.1.0"]),
    ("^0", ["0.9.9"], ["1.0.0"]),
    ("^*", ["3.0.0"], []),
    ("1.2 - 1.4.5", ["1.2.0", "1.4.5"], ["1.1.9", "1.4.6"]),
    ("2.3.4 - 4.5", ["2.3.4", "4.5.9"], ["4.6.0", "2.3.3"]),
    ("* - 2", ["0.0.1", "2.9.9"], ["3.0.0"]),
    (">=1.0.0, <2.0.0", ["1.5.0"], ["2.0.0"]),
    (">=1.0.0,<2.0.0", ["1.5.0"], ["2.0.0"]),
    ("<1.0.0||>=3.0.0", ["0.1.0", "3.0.0"], ["2.0.0"]),
    ("> = 1.2.3", ["1.2.3"], ["1.2.2"]),
]


@pytest.mark.parametrize(("text", "inside", "outside"), RANGE_CASES)
def test_ranges(text: str, inside: list[str], outside: list[str]) -> None:
    version_range = Range.parse(text)
    for tag in inside:
        assert version_range.matches_tag(tag), f"{tag} should be in {text}"
    for tag in outside:
        assert not version_range.matches_tag(tag), f"{tag} should not be in {text}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty semver range"),
        ("   ", "empty semver range"),
        ("||", "empty alternative"),
        ("1.2.3 ||", "empty alternative"),
        ("|| 1.2.3", "empty alternative"),
        (">=", "no version after it"),
        ("1.0.0 <<", "no version after it"),
        ("abc", "'abc' is not a version"),
        ("=>1.0.0", "unknown comparison operator '=>'"),
        ("<>1.0.0", "unknown comparison operator"),
        ("1.x.3", "wildcard can only stand for the last"),
        ("x.1", "wildcard can only stand for the last"),
        ("1.2-rc.1", "needs a full MAJOR.MINOR.PATCH"),
        (">=1.0.0-01", "leading zeros"),
        (">=1.0.0-rc_1", "not a version"),
        ("1.0.0 - --", "not a version"),
        ("1.0.0.0", "not a version"),
        ("latest", "not a version"),
    ],
)
def test_invalid_ranges(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Range.parse(text)


def test_range_text_and_membership() -> None:
    version_range = Range.parse("  >=1.0.0 <2.0.0 ")
    assert str(version_range) == ">=1.0.0 <2.0.0"
    assert Version(1, 4, 0) in version_range
    assert Version(2, 0, 0) not in version_range


# --- properties ---------------------------------------------------------------------------------
# (deadline=None: CI and dev machines share CPUs; a slow example is not a failure.)

numbers = st.integers(min_value=0, max_value=50)
pre_ids = st.one_of(
    # no `x`: blang reads a range term holding one as a wildcard (see test_blang.py)
    st.integers(min_value=0, max_value=20),
    st.from_regex(r"[a-wyz][a-wyz0-9-]{0,4}", fullmatch=True),
)
versions = st.builds(
    Version,
    numbers,
    numbers,
    numbers,
    st.lists(pre_ids, max_size=3).map(tuple),
    st.lists(st.from_regex(r"[a-wyz0-9]{1,3}", fullmatch=True), max_size=2).map(tuple),
)


@settings(deadline=None)
@given(versions)
def test_text_round_trip(version: Version) -> None:
    again = parse_version(str(version))
    assert again == version
    assert again.build == version.build
    assert parse_tolerant("v" + str(version)) == version


@settings(deadline=None)
@given(versions, versions)
def test_order_is_total_and_consistent(a: Version, b: Version) -> None:
    assert a.compare(b) == -b.compare(a)
    assert (a < b) == (a.compare(b) < 0)
    assert (a == b) == (a.compare(b) == 0)
    assert (a <= b) != (a > b)


@settings(deadline=None)
@given(versions, versions)
def test_comparators_agree_with_the_order(a: Version, b: Version) -> None:
    text = str(b)
    assert Range.parse(f">={text}").contains(a) == (a >= b)
    assert Range.parse(f">{text}").contains(a) == (a > b)
    assert Range.parse(f"<{text}").contains(a) == (a < b)
    assert Range.parse(f"<={text}").contains(a) == (a <= b)
    assert Range.parse(f"={text}").contains(a) == (a == b)
    assert Range.parse(f"!={text}").contains(a) != Range.parse(text).contains(a)


@settings(deadline=None)
@given(versions, versions, versions)
def test_hyphen_of_full_versions_is_blangs_two_equalities(a: Version, low: Version, high: Version) -> None:
    hyphen = Range.parse(f"{low} - {high}")  # blang drops the "-": equal to both
    assert hyphen.contains(a) == (a.compare(low) == 0 and a.compare(high) == 0)
    assert not hyphen.extension and hyphen.note


@settings(deadline=None)
@given(versions, st.integers(min_value=0, max_value=50), st.integers(min_value=0, max_value=50))
def test_hyphen_with_a_shortened_end_is_the_extension(a: Version, major: int, minor: int) -> None:
    hyphen = Range.parse(f"{major}.{minor} - {major + 1}")
    assert hyphen.extension
    assert hyphen.contains(a) == (Version(major, minor, 0) <= a < Version(major + 2, 0, 0))


@settings(deadline=None)
@given(versions, st.integers(min_value=0, max_value=50), st.integers(min_value=0, max_value=50))
def test_wildcards_are_half_open_intervals(a: Version, major: int, minor: int) -> None:
    assert Range.parse(f"{major}.{minor}.x").contains(a) == (
        Version(major, minor, 0) <= a < Version(major, minor + 1, 0)
    )
    assert Range.parse(f"{major}.x").contains(a) == (Version(major, 0, 0) <= a < Version(major + 1, 0, 0))
    assert not Range.parse(f"!={major}.x").contains(a)  # blang: <major.0.0 and >=major+1.0.0


@settings(deadline=None)
@given(versions, versions)
def test_tilde_and_caret_keep_the_left_numbers(a: Version, base: Version) -> None:
    tilde = Range.parse(f"~{base}").contains(a)
    assert tilde == (base <= a < Version(base.major, base.minor + 1, 0))
    caret = Range.parse(f"^{base}").contains(a)
    if base.major:
        limit = Version(base.major + 1, 0, 0)
    elif base.minor:
        limit = Version(0, base.minor + 1, 0)
    else:
        limit = Version(0, 0, base.patch + 1)
    assert caret == (base <= a < limit)
