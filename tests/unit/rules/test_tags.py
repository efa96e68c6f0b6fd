"""dregsy's `tags` list: parsing, listing decision, expansion, pruning and `keep: latest N`."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from regmirror.rules.tags import TagEntryError, TagSelector, parse_entry
from regmirror.rules.version import try_parse_tolerant

DIGEST = "sha256:" + "ab" * 32
LISTED = [
    "latest",
    "stable",
    "1.0.0",
    "1.2.3",
    "v1.2.4",
    "1.3.0-rc.1",
    "1.31",
    "2.0.0",
    "2.0.0-alpine",
    "2.1.0",
    "0444319",
    "nightly-2024",
]


def select(entries: list[str] | None, available: list[str] | None = LISTED) -> list[str]:
    return TagSelector.parse(entries).select(available)


def test_no_entries_means_all_tags() -> None:
    no_entries: tuple[list[str] | None, ...] = (None, [])
    for entries in no_entries:
        selector = TagSelector.parse(entries)
        assert selector.needs_listing
        assert selector.select(LISTED) == sorted(LISTED)
        assert selector.explain() == "all listed tags"


def test_verbatim_only_needs_no_listing_and_is_not_checked() -> None:
    selector = TagSelector.parse(["1.0.0", "not-at-source", DIGEST, f"v9@{DIGEST}", "1.0.0"])
    assert not selector.needs_listing
    assert selector.verbatim == ("1.0.0", "not-at-source", DIGEST, f"v9@{DIGEST}", "1.0.0")
    assert selector.select(None) == sorted({"1.0.0", "not-at-source", DIGEST, f"v9@{DIGEST}"})
    assert selector.select(["other"]) == selector.select(None)  # a list, if given, is ignored


def test_listing_is_needed_for_filters_and_for_keep_alone() -> None:
    assert TagSelector.parse(["semver: >=1.0.0"]).needs_listing
    assert TagSelector.parse(["regex: v.*", "latest"]).needs_listing
    assert TagSelector.parse(["keep: v.*"]).needs_listing  # no selection given: all tags, pruned
    assert TagSelector.parse(["keep: latest 2"]).needs_listing
    assert not TagSelector.parse(["latest", "keep: v.*"]).needs_listing
    with pytest.raises(ValueError, match="no list was given"):
        TagSelector.parse(["regex: .*"]).select(None)


def test_semver_selects_tolerantly_parsed_versions() -> None:
    # Pre-releases count: 2.0.0-alpine lies below 2.0.0, so `<2.0.0` takes it.
    assert select(["semver: >=1.2.0 <2.0.0"]) == ["1.2.3", "1.3.0-rc.1", "1.31", "2.0.0-alpine", "v1.2.4"]
    # 0444319 is 444319.0.0 for dregsy.
    assert select(["semver: >=400000.0.0"]) == ["0444319"]
    assert select(["semver: <2.0.0 >=1.31.0"]) == ["1.31", "2.0.0-alpine"]
    assert select(["semver: 2.x"]) == ["2.0.0", "2.1.0"]


def test_regex_is_a_whole_match_and_can_be_negated() -> None:
    assert select(["regex: 1\\.2.*"]) == ["1.2.3"]
    assert select(["regex: .*-.*"]) == ["1.3.0-rc.1", "2.0.0-alpine", "nightly-2024"]
    assert select(["regex: !.*\\..*"]) == ["0444319", "latest", "nightly-2024", "stable"]
    assert select(["regex: 2"]) == []  # anchored: no substring match
    assert select(["regex: ^lat"]) == []  # `$` is still added
    # Anchored by text, as dregsy does: `^lat.*|ble$` takes any tag ending in "ble".
    assert select(["regex: lat.*|ble"]) == ["latest", "stable"]


def test_union_of_semver_and_regex() -> None:
    assert select(["semver: 2.x", "regex: lat.*"]) == ["2.0.0", "2.1.0", "latest"]
    assert select(["semver: 9.x || 1.0.0", "semver: 2.1.0"]) == ["1.0.0", "2.1.0"]


def test_keep_filters_prune_the_selection_all_must_match() -> None:
    assert select(["semver: >=1.0.0", "keep: !.*-.*"]) == [
        "0444319",
        "1.0.0",
        "1.2.3",
        "1.31",
        "2.0.0",
        "2.1.0",
        "v1.2.4",
    ]
    assert select(["semver: >=1.0.0", "keep: !.*-.*", "keep: [0-9.]+"]) == [
        "0444319",
        "1.0.0",
        "1.2.3",
        "1.31",
        "2.0.0",
        "2.1.0",
    ]
    assert select(["keep: .*a.*"]) == ["2.0.0-alpine", "latest", "stable"]


def test_verbatim_tags_are_never_pruned() -> None:
    assert select(["regex: 1\\..*", "keep: 1\\.0.*", "stable", "gone"]) == ["1.0.0", "gone", "stable"]


def test_keep_latest_ranks_versions_and_leaves_other_tags() -> None:
    assert select(["keep: latest 2"]) == ["0444319", "2.1.0", "latest", "nightly-2024", "stable"]
    # 1.x is [1.0.0, 2.0.0), which holds 2.0.0-alpine (a pre-release of 2.0.0).
    assert select(["semver: 1.x", "keep: latest 2"]) == ["1.31", "2.0.0-alpine"]
    assert select(["semver: 1.x", "keep: latest 1", "keep: latest 3"]) == [
        "1.3.0-rc.1",
        "1.31",
        "2.0.0-alpine",
    ]
    assert select(["semver: 1.x", "keep: latest 100"]) == select(["semver: 1.x"])


def test_keep_latest_covers_verbatim_tags_too() -> None:
    assert select(["1.0.0", "2.0.0", "3.0.0", "edge", "keep: latest 1"], None) == ["3.0.0", "edge"]


def test_keep_latest_without_versions_uses_string_order() -> None:
    selector = TagSelector.parse(["keep: latest 2"])
    assert selector.select(["2024-01-01", "2024-03-01", "2024-02-01"]) == ["2024-02-01", "2024-03-01"]


def test_keep_latest_breaks_equal_versions_by_text() -> None:
    assert select(["keep: latest 1"], ["1.0", "v1.0.0", "1.0.0+b"]) == ["v1.0.0"]


def test_entries_are_trimmed() -> None:
    selector = TagSelector.parse(
        ["  semver:  >=2.0.0  ", "\tregex:   lat.*  ", " keep:  latest  1 ", " stable "]
    )
    assert selector.ranges[0].text == ">=2.0.0"
    assert selector.patterns[0].regexp.pattern == "^lat.*$"
    assert selector.latest == 1
    assert selector.verbatim == ("stable",)


def test_negation_binds_to_the_pattern_after_trimming() -> None:
    selector = TagSelector.parse(["regex: !  x"])
    assert selector.patterns[0].inverted
    assert selector.patterns[0].regexp.pattern == "^  x$"


def test_listed_tags_that_are_not_tag_names_are_ignored() -> None:
    assert select(None, ["ok", "bad tag", "-x", ""]) == ["ok"]


def test_explain() -> None:
    selector = TagSelector.parse(["semver: >=1.0.0", "regex: !.*rc.*", "keep: .*", "edge", "keep: latest 3"])
    assert selector.explain() == (
        "listed tags matching semver '>=1.0.0' or regex not '^.*rc.*$', kept if they match '^.*$'; "
        "plus edge; then only the latest 3 versions (tags that are not versions stay)"
    )
    assert TagSelector.parse(["a", "b"]).explain() == "a, b"


@pytest.mark.parametrize(
    ("entries", "index", "reason"),
    [
        (["ok", "semver: >=1.0.0 <<"], 1, "no version after it"),
        (["semver: banana"], 0, "not a version"),
        (["semver:"], 0, "empty semver range"),
        (["a", "b", "regex: (x"], 2, "invalid regular expression '\\(x': missing \\)"),
        (["regex: !"], 0, "no regular expression"),
        (["regex:"], 0, "no regular expression"),
        (["keep: [z-a]"], 0, "invalid regular expression"),
        (["keep: latest\t2"], 0, "invalid keep count"),  # dregsy's Atoi reads "latest\t2"
        (["keep: latest 99999999999999999999"], 0, "invalid keep count"),  # beyond Go's int
        (["  "], 0, "empty entry"),
        (["bad tag"], 0, "not a tag, digest"),
        (["Semver: >=1"], 0, "not a tag, digest"),  # prefixes are case-sensitive, as in dregsy
        (["sha256:abc"], 0, "not a tag, digest"),
        ([1.1], 0, "expected a string, got float"),
    ],
)
def test_bad_entries_name_their_index(entries: list[str], index: int, reason: str) -> None:
    with pytest.raises(TagEntryError, match=reason) as info:
        TagSelector.parse(entries)
    assert info.value.index == index
    assert str(info.value).startswith(f"tags[{index}] ")
    assert isinstance(info.value, ValueError)


def test_keep_latest_without_a_count_is_a_pattern() -> None:
    selector = TagSelector.parse(["keep: latest"])
    assert selector.latest is None
    assert selector.select(LISTED) == ["latest"]


def test_catastrophic_tag_patterns_are_linear() -> None:
    started = time.monotonic()
    hostile = ["a" * 50_000 + "!"]
    assert TagSelector.parse(["regex: (a+)+$"]).select(hostile) == []
    assert TagSelector.parse(["keep: (a|a)*b"]).select(hostile) == []
    assert time.monotonic() - started < 2.0


# --- properties ---------------------------------------------------------------------------------
# (deadline=None: CI and dev machines share CPUs; a slow example is not a failure.)

tag_names = st.one_of(
    st.from_regex(r"v?[0-9]{1,2}(\.[0-9]{1,2}){0,2}(-(rc|beta)\.[0-9])?", fullmatch=True),
    st.sampled_from(["latest", "stable", "edge", "nightly", "main", "1.2-rc1"]),
)
entry_lists = st.lists(
    st.one_of(
        st.sampled_from(["semver: >=1.0.0", "semver: 2.x || <0.5", "semver: ^0.1", "semver: *"]),
        st.sampled_from(["regex: v.*", "regex: !.*rc.*", "regex: [a-z]+", "regex: 1.*"]),
        st.sampled_from(["keep: !.*beta.*", "keep: .*[0-9].*", "keep: latest 1", "keep: latest 3"]),
        tag_names,
    ),
    max_size=6,
)


@settings(deadline=None)
@given(entry_lists, st.lists(tag_names, max_size=15))
def test_selection_properties(entries: list[str], available: list[str]) -> None:
    selector = TagSelector.parse(entries)
    result = selector.select(available)
    assert result == sorted(set(result))
    assert set(result) <= set(available) | set(selector.verbatim)
    if selector.latest is None:
        assert set(selector.verbatim) <= set(result)
    else:
        versions = [t for t in result if try_parse_tolerant(t) is not None]
        assert len(versions) <= selector.latest
    assert selector.select(result) == result  # selecting again changes nothing


@settings(deadline=None)
@given(st.lists(tag_names, max_size=15))
def test_no_entries_returns_every_listed_tag(available: list[str]) -> None:
    assert TagSelector.parse([]).select(available) == sorted(set(available))


@settings(deadline=None)
@given(st.lists(tag_names, max_size=15), st.integers(min_value=1, max_value=5))
def test_keep_latest_keeps_the_highest(available: list[str], count: int) -> None:
    result = TagSelector.parse([f"keep: latest {count}"]).select(available)
    versions = {t: v for t in set(available) if (v := try_parse_tolerant(t)) is not None}
    if not versions:
        assert result == sorted(set(available), reverse=True)[:count][::-1]
        return
    kept = [versions[t] for t in result if t in versions]
    dropped = [v for t, v in versions.items() if t not in result]
    assert len(kept) == min(count, len(versions))
    assert all(k >= d for k in kept for d in dropped)
    assert {t for t in available if t not in versions} <= set(result)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["keep: latest 2"], ["2.0", "3.0", "latest"]),
        (["keep:   latest  2"], ["2.0", "3.0", "latest"]),
        (["keep: latest 02"], ["2.0", "3.0", "latest"]),
        (["keep: latest 0"], ["1.0", "2.0", "3.0", "latest"]),  # 0: no limit (dregsy)
        (["keep: latest 1", "keep: latest 0"], ["1.0", "2.0", "3.0", "latest"]),  # the last wins
        (["keep:latest 2"], []),  # a keep regex `^latest 2$`: no tag matches, all are pruned
        (["keep: latest -1"], []),
        (["keep: latest"], ["latest"]),  # a keep regex for the tag named latest
    ],
)
def test_keep_latest_reads_as_dregsy_reads_it(entries: list[str], expected: list[str]) -> None:
    assert TagSelector.parse(entries).select(["1.0", "2.0", "3.0", "latest"]) == expected


@pytest.mark.parametrize(
    ("entry", "warned"),
    [
        ("keep:latest 2", True),
        ("keep: latest -1", True),
        ("keep: latest 2", False),
        ("keep: latest", False),
        ("keep: latest2", False),
    ],
)
def test_a_keep_regex_that_looks_like_keep_latest_carries_a_warning(entry: str, warned: bool) -> None:
    assert bool(parse_entry(entry).note) == warned
