"""A mapping's `tags` list, with dregsy's semantics.

Each entry is trimmed, then read as
  `semver: <range>`   tags that parse (tolerantly) as versions inside the range (see semver.py),
  `regex: <re>`       tags the pattern matches as a whole (`!` in front negates),
  `keep: latest N`    after everything else, only the N highest versions stay (the last such entry wins;
                      0: no limit); exactly `keep:`, whitespace, `latest`, whitespace, digits, as dregsy
                      tests it (`keep:latest 2` is a keep regex, with a warning),
  `keep: <re>`        prune filter: a listed tag stays only if every `keep` pattern matches (`!` negates),
  anything else       verbatim: a tag, a digest `sha256:…` or `tag@sha256:…`, never checked or pruned.
No entries means all tags. Tags are listed only when there are no entries (or only `keep` ones) or
when there is a `semver`/`regex` filter.

Expansion: (all listed tags, or the union of the semver and regex matches) → `keep: <re>` filters →
plus the verbatim entries → `keep: latest N` over all of them: tags that are not versions stay, the
versions are ranked by precedence and the top N stay; when none of the tags is a version, the N
last in string order stay → sorted, without duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from regmirror.rules.goregex import GoRegexp, RegexError
from regmirror.rules.match import dregsy_anchor
from regmirror.rules.refs import valid_reference_suffix, valid_tag
from regmirror.rules.semver import Range
from regmirror.rules.version import Version, try_parse_tolerant

SEMVER_PREFIX = "semver:"
REGEX_PREFIX = "regex:"
KEEP_PREFIX = "keep:"
# dregsy's test, on the whole trimmed entry: `keep:`, space, `latest`, space, digits. Anything else after
# `keep:` is a keep regex, even `keep:latest 2` (which keeps only a tag named "latest 2").
_KEEP_COUNT = GoRegexp(r"^keep:[[:space:]]+latest[[:space:]]+[[:digit:]]+$")
_KEEP_COUNT_LOOKALIKE = GoRegexp(r"^latest[[:space:]]+-?[[:digit:]]+$")  # no tag name holds a space
_GO_INT_MAX = 2**63 - 1


class TagEntryError(ValueError):
    """One bad `tags` entry: `index` is its position in the list, `reason` what is wrong."""

    def __init__(self, index: int, entry: object, reason: str) -> None:
        self.index = index
        self.entry = entry
        self.reason = reason
        super().__init__(f"tags[{index}] {entry!r}: {reason}")


@dataclass(frozen=True, slots=True)
class TagPattern:
    """A `regex:`/`keep:` pattern, anchored as dregsy does; `!` in front inverts it."""

    text: str  # as written, after the prefix, trimmed
    regexp: GoRegexp
    inverted: bool

    @classmethod
    def parse(cls, text: str) -> TagPattern:
        inverted = text.startswith("!")
        body = text[1:] if inverted else text
        if not body:
            raise ValueError("no regular expression given")
        try:
            regexp = GoRegexp(dregsy_anchor(body))
        except RegexError as exc:
            raise ValueError(f"invalid regular expression {body!r}: {exc.reason}") from None
        return cls(text, regexp, inverted)

    def matches(self, tag: str) -> bool:
        return self.regexp.search(tag) != self.inverted


@dataclass(slots=True)
class TagEntry:
    """One parsed `tags` entry (its share of a TagSelector; see `TagSelector.combine`)."""

    verbatim: list[str] = field(default_factory=list)
    ranges: list[Range] = field(default_factory=list)
    patterns: list[TagPattern] = field(default_factory=list)
    keep: list[TagPattern] = field(default_factory=list)
    latest: int | None = None  # `keep: latest N`; 0 means no limit (as in dregsy)
    note: str = ""  # a warning: valid, but probably not what was meant


def parse_entry(text: str) -> TagEntry:
    """One `tags` entry (trimmed, like dregsy); ValueError says what is wrong with it."""
    entry = TagEntry()
    _read_entry(text.strip(), entry)
    return entry


def _keep_count(entry: str) -> int:
    """dregsy's count: the text after the last space, as Go's `strconv.Atoi` reads it."""
    last = entry.split(" ")[-1]
    if not (last.isascii() and last.isdigit()) or int(last) > _GO_INT_MAX:
        raise ValueError(f"invalid keep count in {entry!r} (write 'keep: latest N' with single spaces)")
    return int(last)


def _read_keep(entry: str, entries: TagEntry) -> None:
    if _KEEP_COUNT.search(entry):
        entries.latest = _keep_count(entry)  # given more than once, the last one wins
        return
    body = entry[len(KEEP_PREFIX) :].strip()
    entries.keep.append(TagPattern.parse(body))
    if _KEEP_COUNT_LOOKALIKE.search(body):
        entries.note = (
            f"'{entry}' is read as a keep regex (as dregsy reads it) that no tag name matches, so every "
            "listed tag is pruned; for the N highest versions write 'keep: latest N' (a space after 'keep:')"
        )


def _read_entry(entry: str, entries: TagEntry) -> None:
    if entry.startswith(SEMVER_PREFIX):
        version_range = Range.parse(entry[len(SEMVER_PREFIX) :])
        entries.ranges.append(version_range)
        entries.note = version_range.note
    elif entry.startswith(REGEX_PREFIX):
        entries.patterns.append(TagPattern.parse(entry[len(REGEX_PREFIX) :].strip()))
    elif entry.startswith(KEEP_PREFIX):
        _read_keep(entry, entries)
    elif not entry:
        raise ValueError("empty entry")
    elif not valid_reference_suffix(entry):
        raise ValueError(
            "not a tag, digest (sha256:<64 hex>) or tag@digest, nor a 'semver:', 'regex:' or 'keep:' entry"
        )
    else:
        entries.verbatim.append(entry)


def _rank_latest(tags: set[str], count: int) -> set[str]:
    """`keep: latest N`: non-version tags stay; of the versions, the N highest stay."""
    versions: list[tuple[Version, str]] = []
    others: set[str] = set()
    for tag in tags:
        version = try_parse_tolerant(tag)
        if version is None:
            others.add(tag)
        else:
            versions.append((version, tag))
    if not versions:
        return set(sorted(tags, reverse=True)[:count])
    # Equal precedence (v1.0 and 1.0.0, or build metadata only) is decided by the tag text.
    versions.sort(key=lambda pair: (pair[0].precedence_key(), pair[1]), reverse=True)
    return others | {tag for _, tag in versions[:count]}


@dataclass(frozen=True, slots=True)
class TagSelector:
    """A parsed `tags` list; `select(listed_tags)` gives the tags (and digests) to mirror."""

    verbatim: tuple[str, ...] = ()
    ranges: tuple[Range, ...] = ()
    patterns: tuple[TagPattern, ...] = ()
    keep: tuple[TagPattern, ...] = ()
    latest: int | None = None

    @classmethod
    def parse(cls, entries: list[str] | None) -> TagSelector:
        """`TagEntryError` (a ValueError naming the entry's index) on the first bad entry."""
        selector, problems = cls.parse_all(entries)
        if selector is None:
            raise problems[0]
        return selector

    @classmethod
    def parse_all(cls, entries: list[str] | None) -> tuple[TagSelector | None, list[TagEntryError]]:
        """(selector, []) or (None, a TagEntryError for every bad entry)."""
        parsed: list[TagEntry] = []
        problems: list[TagEntryError] = []
        for index, raw in enumerate(entries or []):
            if not isinstance(raw, str):
                reason = f"expected a string, got {type(raw).__name__} (quote the value in YAML)"
                problems.append(TagEntryError(index, raw, reason))
                continue
            try:
                parsed.append(parse_entry(raw))
            except ValueError as exc:
                problems.append(TagEntryError(index, raw, str(exc)))
        return (None, problems) if problems else (cls.combine(parsed), [])

    @classmethod
    def combine(cls, entries: Iterable[TagEntry]) -> TagSelector:
        """The selector of a `tags` list whose entries were parsed one by one (`parse_entry`)."""
        verbatim: list[str] = []
        ranges: list[Range] = []
        patterns: list[TagPattern] = []
        keep: list[TagPattern] = []
        latest: int | None = None
        for entry in entries:
            verbatim += entry.verbatim
            ranges += entry.ranges
            patterns += entry.patterns
            keep += entry.keep
            latest = entry.latest if entry.latest is not None else latest  # the last one wins
        return cls(tuple(verbatim), tuple(ranges), tuple(patterns), tuple(keep), latest)

    @property
    def has_filters(self) -> bool:
        return bool(self.ranges or self.patterns)

    @property
    def needs_listing(self) -> bool:
        """Must the source's tags be listed? (No filters and no verbatim entries means all tags.)"""
        return self.has_filters or not self.verbatim

    def select(self, available: Iterable[str] | None) -> list[str]:
        """Tags to mirror, sorted. `available` (the listed tags) may be None when not needs_listing.

        Listed tags that are not valid tag names are ignored.
        """
        selected: set[str] = set()
        if self.needs_listing:
            if available is None:
                raise ValueError("these tag entries select from the listed tags, but no list was given")
            selected = {t for t in available if valid_tag(t) and self._chosen(t)}
        selected.update(self.verbatim)
        if self.latest:  # 0: no limit
            selected = _rank_latest(selected, self.latest)
        return sorted(selected)

    def _chosen(self, tag: str) -> bool:
        if self.has_filters and not (
            any(r.matches_tag(tag) for r in self.ranges) or any(p.matches(tag) for p in self.patterns)
        ):
            return False
        return all(k.matches(tag) for k in self.keep)

    def explain(self) -> str:
        """One line saying how the tags are chosen, for logs and plan output."""
        parts = [self._explain_listed()] if self.needs_listing else []
        if self.verbatim:
            parts.append(("plus " if parts else "") + ", ".join(self.verbatim))
        if self.latest:
            parts.append(f"then only the latest {self.latest} versions (tags that are not versions stay)")
        return "; ".join(parts)

    def _explain_listed(self) -> str:
        sources = [f"semver {r.text!r}" for r in self.ranges] + [f"regex {_shown(p)}" for p in self.patterns]
        text = "listed tags matching " + " or ".join(sources) if sources else "all listed tags"
        if self.keep:
            text += ", kept if they match " + " and ".join(_shown(k) for k in self.keep)
        return text


def _shown(pattern: TagPattern) -> str:
    return ("not " if pattern.inverted else "") + repr(pattern.regexp.pattern)
