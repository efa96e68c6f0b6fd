"""The copy record: what regmirror last copied to (or verified at) each target reference.

One entry per target reference (`SyncItem.key()`): the source reference and platform it came from, the
source digest, the digest written to the target, and when that was last known to be true (the copy,
or a HEAD of the target that confirmed it). A planner may skip the target HEAD for an entry younger
than the TTL whose source reference, platform and source digest all equal the current ones (some of
them are checked anyway, every run: `sync.spotcheck`). The
source digest is never taken from the record: it always comes from the source (HEAD or a
digest-bearing listing), so a changed source image is always copied. What the record trusts, for at
most `ttl` seconds, is only that nobody changed the *target* behind regmirror's back; older entries
are re-checked with a HEAD (and refreshed), so every TTL brings a full re-verification.

An entry also remembers which referrers (signatures, attestations, SBOMs) of its image the target
held when they were last listed or copied (`ReferrersSeen`): while that is younger than the TTL, an
image whose selected source referrers are all remembered is not listed at the target again (the
source is always listed: signatures arrive after the image).

An expired entry still proves something a plain digest comparison cannot: a single-platform copy of a
multi-arch source holds the platform manifest, whose digest differs from the source index's. When
the target still holds the digest recorded for that exact source digest, the image is in sync.

Storage: one JSON file (default `$XDG_STATE_HOME/regmirror/records/<config>-<hash>.json`), mode 0600,
written atomically (temp file + rename) under an exclusive `flock` on `<file>.lock`; on save the
file is re-read and only the entries this process changed are merged in, so runs that overlap
(daemon tasks, a manual sync) do not lose each other's entries. Entries unseen for `PRUNE_AFTER`
seconds are dropped.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from regmirror.model import SyncItem
from regmirror.rules.refs import valid_digest

log = logging.getLogger("regmirror.record")

RECORD_VERSION = 1
DEFAULT_TTL = 3600.0  # seconds a target check may be skipped after the copy or the last check
PRUNE_AFTER = 30 * 86400.0  # entries not refreshed for this long are dropped on save
CLOCK_SKEW = 0.0  # an entry stamped in the future (the clock was set back) is never trusted
SPOT_FRACTION = 0.05  # of the fresh entries beyond each repository's probe, checked at random anyway


@dataclass(frozen=True, slots=True)
class ReferrersSeen:
    """Referrers of an entry's image the target held at `at` (epoch seconds), and how it holds them."""

    digests: tuple[str, ...]
    scheme: str  # "api" or "tag" (see ReferrerSummary.scheme)
    at: float


@dataclass(frozen=True, slots=True)
class RecordEntry:
    source: str  # source reference as planned, e.g. "registry.example.com/team/app:1.0"
    platform: str  # "all" or os/arch[/variant]
    source_digest: str
    target_digest: str
    verified_at: float  # epoch seconds: the copy, or the last target check that confirmed it
    referrers: ReferrersSeen | None = None  # kept while the target digest stays the same

    def describes(self, item: SyncItem, source_digest: str) -> bool:
        """Same source reference, platform and source digest as `item` has now."""
        return (
            self.source == str(item.source)
            and self.platform == item.platform
            and self.source_digest == source_digest
        )


def state_path(config_file: str | os.PathLike[str], folder: str, suffix: str) -> Path:
    """`$XDG_STATE_HOME/regmirror/<folder>/<config stem>-<hash of its absolute path><suffix>`."""
    config = Path(config_file).expanduser().absolute()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    digest = hashlib.sha256(str(config).encode()).hexdigest()[:12]
    return Path(state) / "regmirror" / folder / f"{config.stem}-{digest}{suffix}"


def default_record_path(config_file: str | os.PathLike[str]) -> Path:
    """`$XDG_STATE_HOME/regmirror/records/<config stem>-<hash of its absolute path>.json`."""
    return state_path(config_file, "records", ".json")


class CopyRecord:
    """Thread-safe in memory; `save()` merges into the file. `path=None` keeps it in memory only."""

    def __init__(
        self,
        path: Path | None = None,
        ttl: float = DEFAULT_TTL,
        *,
        clock: Callable[[], float] = time.time,
        spot_fraction: float = SPOT_FRACTION,
    ) -> None:
        self.path = path
        self.ttl = ttl
        self.spot_fraction = spot_fraction  # of fresh entries checked anyway, beyond one per repository
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, RecordEntry] = {}
        self._changed: set[str] = set()
        self._removed: dict[str, float] = {}  # key -> when this process found the target differing
        self.counts = {"trusted": 0, "verified": 0, "recorded": 0, "forgotten": 0}

    @classmethod
    def open(
        cls,
        path: Path,
        ttl: float = DEFAULT_TTL,
        *,
        clock: Callable[[], float] = time.time,
        spot_fraction: float = SPOT_FRACTION,
    ) -> CopyRecord:
        """Load `path` (absent: empty). An unreadable or malformed file is logged and ignored: the
        record is an optimisation, and starting empty only costs a full check."""
        record = cls(path, ttl, clock=clock, spot_fraction=spot_fraction)
        record._entries = _read(path)
        return record

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: str) -> RecordEntry | None:
        with self._lock:
            return self._entries.get(key)

    # -- what the planner asks ---------------------------------------------------------------------
    def fresh(self, item: SyncItem, source_digest: str) -> RecordEntry | None:
        """The entry for `item` if it may replace a target check now: it describes the item's current
        source digest and was confirmed less than `ttl` seconds ago (and not in the future)."""
        entry = self.get(item.key())
        if entry is None or not entry.describes(item, source_digest):
            return None
        age = self._clock() - entry.verified_at
        return entry if -CLOCK_SKEW <= age < self.ttl else None

    def trusted(self, item: SyncItem, source_digest: str) -> RecordEntry | None:
        """`fresh`, counted as trusted: the caller believes it without a check."""
        entry = self.fresh(item, source_digest)
        if entry is not None:
            self.believed()
        return entry

    def believed(self) -> None:
        """A fresh entry stood in for a target check."""
        with self._lock:
            self.counts["trusted"] += 1

    def proves(self, item: SyncItem, source_digest: str, target_digest: str | None) -> bool:
        """Whether the target's current digest is the one recorded for this exact source digest
        (any age: the target was just checked)."""
        entry = self.get(item.key())
        return (
            entry is not None
            and target_digest is not None
            and entry.describes(item, source_digest)
            and entry.target_digest == target_digest
        )

    def known_referrers(self, item: SyncItem, target_digest: str) -> ReferrersSeen | None:
        """The referrers the target held of `target_digest` under `item`, if listed or copied less
        than `ttl` seconds ago: a source listing they all appear in needs no target listing."""
        entry = self.get(item.key())
        seen = entry.referrers if entry is not None and entry.target_digest == target_digest else None
        if seen is None:
            return None
        age = self._clock() - seen.at
        return seen if -CLOCK_SKEW <= age < self.ttl else None

    # -- what the planner and the relays tell -------------------------------------------------------
    def referrers_held(
        self, item: SyncItem, target_digest: str, digests: set[str], scheme: str, since: float | None = None
    ) -> None:
        """The target holds these referrers of its image (listed or copied now; or, when some were
        vouched for by this record, `since` its earlier stamp). Remembered only on an entry for that
        very target digest: a referrer belongs to the image it refers to."""
        key = item.key()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.target_digest != target_digest:
                return
            seen = ReferrersSeen(tuple(sorted(digests)), scheme, self._clock() if since is None else since)
            self._entries[key] = replace(entry, referrers=seen)
            self._changed.add(key)

    def verified(self, item: SyncItem, source_digest: str, target_digest: str) -> None:
        """A target check found `item` in sync: (re)start its TTL."""
        self._put(item, source_digest, target_digest, "verified")

    def copied(self, item: SyncItem, source_digest: str | None, target_digest: str | None) -> None:
        """A copy succeeded. Recorded only when both digests are known and, for a whole-index copy
        (`--all --preserve-digests`), equal: anything else would be a record of a surprise."""
        if not (
            source_digest and target_digest and valid_digest(source_digest) and valid_digest(target_digest)
        ):
            return
        if item.platform == "all" and source_digest != target_digest:
            log.warning(
                "copy of %s wrote %s, not the source digest %s: not recorded",
                item.target,
                target_digest,
                source_digest,
            )
            return
        self._put(item, source_digest, target_digest, "recorded")

    def forget(self, item: SyncItem) -> None:
        """The target was found absent or different: no entry may vouch for it any more."""
        key = item.key()
        with self._lock:
            if self._entries.pop(key, None) is not None:
                self.counts["forgotten"] += 1
            self._changed.discard(key)
            self._removed[key] = self._clock()

    def _put(self, item: SyncItem, source_digest: str, target_digest: str, counter: str) -> None:
        key = item.key()
        with self._lock:
            before = self._entries.get(key)
            kept = before.referrers if before is not None and before.target_digest == target_digest else None
            now = self._clock()
            entry = RecordEntry(str(item.source), item.platform, source_digest, target_digest, now, kept)
            self._entries[key] = entry
            self._changed.add(key)
            self._removed.pop(key, None)
            self.counts[counter] += 1

    # -- storage -----------------------------------------------------------------------------------
    def save(self) -> None:
        """Merge this process's changes into the file (atomic replace, under the file lock)."""
        if self.path is None:
            return
        with self._lock:
            changed = {k: self._entries[k] for k in self._changed if k in self._entries}
            removed = dict(self._removed)
        if not changed and not removed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with _locked(self.path):
                merged = _merge(_read(self.path), changed, removed, self._clock() - PRUNE_AFTER)
                _write_atomic(self.path, merged)
        except OSError as exc:  # an optimisation must not fail the sync: the next run checks more
            log.warning("cannot save the copy record %s: %s", self.path, exc)
            return
        self._mark_saved(changed, removed)

    def _mark_saved(self, changed: dict[str, RecordEntry], removed: dict[str, float]) -> None:
        with self._lock:
            for key, entry in changed.items():
                if self._entries.get(key) is entry:  # not changed again while saving
                    self._changed.discard(key)
            for key, when in removed.items():
                if self._removed.get(key) == when:
                    del self._removed[key]


def _merge(
    on_disk: dict[str, RecordEntry], changed: dict[str, RecordEntry], removed: dict[str, float], oldest: float
) -> dict[str, RecordEntry]:
    merged = dict(on_disk)
    for key, when in removed.items():
        current = merged.get(key)
        if current is not None and current.verified_at <= when:  # newer news from another run wins
            del merged[key]
    for key, entry in changed.items():
        current = merged.get(key)
        if current is None or current.verified_at <= entry.verified_at:
            merged[key] = entry
    return {k: e for k, e in merged.items() if e.verified_at >= oldest}


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read(path: Path) -> dict[str, RecordEntry]:
    """The entries on disk; a file that is not a record is set aside (renamed, with a warning) and the
    run goes on as with an empty record: it is an optimisation, starting empty costs a full check."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("copy record %s is unreadable (%s): starting with an empty record", path, exc)
        return {}
    entries = _parse(raw)
    if entries is None:
        _set_aside(path)
        return {}
    return entries


def _parse(raw: bytes) -> dict[str, RecordEntry] | None:
    """The entries of a record file's bytes; None when they are no record of this version."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    body = data.get("entries") if isinstance(data, dict) and data.get("version") == RECORD_VERSION else None
    if not isinstance(body, dict):
        return None
    found = ((str(key), _entry(value)) for key, value in body.items())
    return {key: entry for key, entry in found if entry is not None}


def _set_aside(path: Path) -> None:
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        path.rename(aside)
    except OSError as exc:
        log.warning("copy record %s is not a record and cannot be set aside (%s); ignoring it", path, exc)
        return
    log.warning("copy record %s is not a record: set aside as %s; starting with an empty record", path, aside)


def _entry(value: Any) -> RecordEntry | None:
    try:
        entry = RecordEntry(
            source=str(value["source"]),
            platform=str(value["platform"]),
            source_digest=str(value["source_digest"]),
            target_digest=str(value["target_digest"]),
            verified_at=float(value["verified_at"]),
            referrers=_referrers_seen(value.get("referrers")),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return entry if valid_digest(entry.source_digest) and valid_digest(entry.target_digest) else None


def _referrers_seen(value: Any) -> ReferrersSeen | None:
    """An entry's remembered referrers; anything malformed is forgotten (the target is listed)."""
    if not isinstance(value, dict) or not isinstance(value.get("digests"), list):
        return None
    digests = tuple(str(d) for d in value["digests"])
    if not all(valid_digest(d) for d in digests):
        return None
    return ReferrersSeen(digests, str(value.get("scheme", "")), float(value["at"]))


def _write_atomic(path: Path, entries: dict[str, RecordEntry]) -> None:
    body = {"version": RECORD_VERSION, "entries": {k: asdict(e) for k, e in sorted(entries.items())}}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
