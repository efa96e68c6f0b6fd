"""What every lister shares: the protocol, the item cap, timing/count logging and the list cache.

A lister yields repository names without a leading "/" (`myproject/webui`), already validated.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, cast

from regmirror.registries.paging import DEFAULT_NAME_LIMIT, DEFAULT_PAGE_LIMIT

if TYPE_CHECKING:
    from regmirror.registries.endpoint import Endpoint
    from regmirror.registries.spec import RegistrySpec

log = logging.getLogger("regmirror.listers")


class Lister(Protocol):
    def list_repositories(self) -> Iterator[str]: ...


# -- what listers read from the config (regmirror.config models satisfy these) ---------------
class ListerSpec(Protocol):
    """`source.lister` of a task."""

    @property
    def type(self) -> str | None: ...

    @property
    def page_size(self) -> int | None: ...

    @property
    def max_items(self) -> int | None: ...

    @property
    def search(self) -> str | None: ...  # `index` lister

    @property
    def base_url(self) -> str | None: ...  # an API base URL override (tests, mirrors)

    @property
    def namespaces(self) -> list[str]: ...  # `dockerhub` lister


class SourceSpec(Protocol):
    """A task's `source`."""

    @property
    def registry(self) -> str: ...

    @property
    def auth(self) -> str | None: ...

    @property
    def discover_logins(self) -> bool: ...

    @property
    def lister(self) -> ListerSpec | None: ...

    @property
    def role_arn(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...

    @property
    def ecr_account(self) -> str | None: ...

    @property
    def ca_file(self) -> str | None: ...

    def endpoint(self) -> Endpoint: ...


class GlobalListerSpec(Protocol):
    """The top-level `lister:` section: defaults for every task."""

    @property
    def max_items(self) -> int | None: ...

    @property
    def cache_duration(self) -> float | timedelta | None: ...

    @property
    def page_size(self) -> int | None: ...

    @property
    def page_limit(self) -> int: ...

    @property
    def name_limit(self) -> int: ...


@dataclass(frozen=True)
class ListerSettings:
    """A task's lister settings with the global defaults applied."""

    type: str
    page_size: int
    max_items: int | None  # None or negative: no limit
    cache_duration: float  # seconds; <= 0: no caching
    search: str | None = None  # `index` lister only
    page_limit: int = DEFAULT_PAGE_LIMIT  # a listing reading more pages than this fails (paging without end)
    name_limit: int = DEFAULT_NAME_LIMIT  # … or more names


DEFAULT_PAGE_SIZE = 1000  # catalog; listers whose API allows less clamp it


def _first_set(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _default_type(source: SourceSpec) -> str:
    """The default lister of the registry's kind (ECR's own API for ECR registries, as dregsy)."""
    from regmirror.registries.kinds import kind_of

    return kind_of(cast("RegistrySpec", source)).default_lister


def resolve_settings(source: SourceSpec, global_lister: GlobalListerSpec | None) -> ListerSettings:
    """Task-level values win over the global `lister:` section; the type defaults to the kind's."""
    spec = source.lister
    if spec is None:
        return _with_globals(_default_type(source), None, None, None, global_lister)
    return _with_globals(
        spec.type or _default_type(source), spec.page_size, spec.max_items, spec.search, global_lister
    )


def _with_globals(
    kind: str,
    page_size: int | None,
    max_items: int | None,
    search: str | None,
    global_lister: GlobalListerSpec | None,
) -> ListerSettings:
    if global_lister is None:
        return ListerSettings(kind.lower(), page_size or DEFAULT_PAGE_SIZE, max_items, 0.0, search)
    return ListerSettings(
        type=kind.lower(),
        page_size=_first_set(page_size, global_lister.page_size) or DEFAULT_PAGE_SIZE,
        max_items=_first_set(max_items, global_lister.max_items),
        cache_duration=seconds(global_lister.cache_duration) or 0.0,
        search=search,
        page_limit=global_lister.page_limit,
        name_limit=global_lister.name_limit,
    )


# -- cap and logging ---------------------------------------------------------------------------
def cap_items(
    names: Iterable[str], max_items: int | None, logger: logging.Logger, source: str = ""
) -> Iterator[str]:
    """At most `max_items` names (None or negative: no limit), with a WARNING when the list is cut.

    dregsy cuts silently; here the cut is always logged. Stops consuming `names` at the cut, so a
    paging lister fetches no further pages.
    """
    if max_items is None or max_items < 0:
        yield from names
        return
    for count, name in enumerate(names):
        if count == max_items:
            logger.warning(
                "%s: lister stopped at maxItems=%d; more repositories exist and are left out "
                "(raise lister.maxItems, or set it to -1 for no limit)",
                source or "lister",
                max_items,
            )
            return
        yield name


def logged_listing(names: Iterable[str], logger: logging.Logger, source: str) -> Iterator[str]:
    """Pass names through; when done, log how many there were and how long listing took."""
    start = time.monotonic()
    count = 0
    for name in names:
        count += 1
        yield name
    logger.info("%s: lister returned %d repositories in %.2fs", source, count, time.monotonic() - start)


def seconds(duration: float | timedelta | None) -> float | None:
    if duration is None:
        return None
    return duration.total_seconds() if isinstance(duration, timedelta) else float(duration)


# -- cache -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    names: tuple[str, ...]
    expires: float


_cache: dict[str, _Entry] = {}
_cache_lock = threading.Lock()
_fetch_locks: dict[str, threading.Lock] = {}


def cache_key(*parts: object) -> str:
    """A cache key from the parts that define a list (hashed: an auth spec may be among them)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def clear_lister_cache() -> None:
    with _cache_lock:
        _cache.clear()


class CachedLister:
    """Keeps a lister's result for `cache_duration` seconds, process-wide, per source key.

    `cache_duration` <= 0 or None disables caching (dregsy: a negative `cacheDuration`). Concurrent
    callers of one key wait for a single fetch instead of listing twice.
    """

    def __init__(self, inner: Lister, key: str, cache_duration: float | timedelta | None) -> None:
        self.inner = inner
        self.key = key
        self.cache_duration = seconds(cache_duration) or 0.0

    def _cached(self) -> tuple[str, ...] | None:
        with _cache_lock:
            entry = _cache.get(self.key)
        if entry is None or entry.expires <= time.monotonic():
            return None
        return entry.names

    def _fetch_lock(self) -> threading.Lock:
        with _cache_lock:
            return _fetch_locks.setdefault(self.key, threading.Lock())

    def list_repositories(self) -> Iterator[str]:
        if self.cache_duration <= 0:
            yield from self.inner.list_repositories()
            return
        with self._fetch_lock():
            names = self._cached()
            if names is None:
                names = tuple(self.inner.list_repositories())
                with _cache_lock:
                    _cache[self.key] = _Entry(names, time.monotonic() + self.cache_duration)
            else:
                log.debug("lister cache hit (%d names)", len(names))
        yield from names


class ReportingLister:
    """Applies `max_items` and logs count and duration around any lister."""

    def __init__(
        self, inner: Lister, source: str, max_items: int | None, logger: logging.Logger = log
    ) -> None:
        self.inner = inner
        self.source = source
        self.max_items = max_items
        self.logger = logger

    def list_repositories(self) -> Iterator[str]:
        capped = cap_items(self.inner.list_repositories(), self.max_items, self.logger, self.source)
        yield from logged_listing(capped, self.logger, self.source)
