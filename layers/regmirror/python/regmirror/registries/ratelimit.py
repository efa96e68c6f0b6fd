"""Rate-limit budget per source registry, and a bound on parallel copies from one source.

Docker Hub announces its pull budget on manifest answers, HEAD included (which does not count
against the limit): `RateLimit-Limit: 100;w=21600` and `RateLimit-Remaining: 76;w=21600` (pulls per
window of `w` seconds). The registry client feeds every answer to `observe`; before a copy starts,
`acquire` (local runs) or `defer_seconds` (the AWS relay handler) asks whether the source still has
more than `floor` pulls left (a copy spends one; `floor` stay in reserve). Otherwise new copies from
that source are deferred rather than failed: locally they wait (at most `max_wait` seconds), on AWS
the message goes back to the queue with a delay.

The estimate between two observations: each started copy spends one pull, and the window gives back
one pull every `w / limit` seconds (Docker Hub's window slides). A 429 holds back new copies from the
source until its `Retry-After`, or `BLOCK_WITHOUT_RETRY_AFTER` seconds when it gives none (Docker Hub's
own 429 also says `RateLimit-Remaining: 0`, which defers by the window estimate).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from regmirror.retry import retry_after_seconds

log = logging.getLogger("regmirror.ratelimit")

DEFAULT_FLOOR = 10  # pulls kept in reserve (other users of the same account or IP)
DEFAULT_MAX_WAIT = 900.0  # seconds a local copy waits for budget before it fails as "rate-limit"
MAX_DEFER = 900  # seconds; SQS DelaySeconds / a sensible visibility extension per round
NO_WINDOW_RECHECK = 60.0  # seconds to defer when the registry gives no window to estimate with
BLOCK_WITHOUT_RETRY_AFTER = 5.0  # seconds a bare 429 (no Retry-After) holds back new copies
LIMIT_HEADER = "RateLimit-Limit"
REMAINING_HEADER = "RateLimit-Remaining"

_ENTRY = re.compile(r"^\s*(\d{1,12})\s*(?:;(.*))?$")
_WINDOW = re.compile(r"(?:^|;)\s*w\s*=\s*(\d{1,12})\s*(?:;|$)")


@dataclass(frozen=True, slots=True)
class Quota:
    """One `RateLimit-*` header value: a count and, when given, its window in seconds."""

    count: int
    window: float | None = None


def parse_quota(value: str | None) -> Quota | None:
    """`100;w=21600` → Quota(100, 21600); `76` → Quota(76); lists (`10, 50;w=60`) → the first entry.

    None when absent or unreadable (a malformed header is ignored, never fatal).
    """
    if not value:
        return None
    first = value[:256].split(",", 1)[0]
    match = _ENTRY.match(first)
    if match is None:
        return None
    window = _WINDOW.search(match.group(2) or "")
    seconds = float(window.group(1)) if window and int(window.group(1)) > 0 else None
    return Quota(int(match.group(1)), seconds)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


@dataclass(slots=True)
class _Budget:
    limit: int | None = None
    remaining: int | None = None
    window: float | None = None
    observed: float = 0.0  # monotonic time of the last observation
    started: int = 0  # copies started since then
    blocked_until: float = 0.0  # after a 429

    def record(self, now: float, limit: Quota | None, remaining: Quota) -> None:
        self.remaining = remaining.count
        if limit is not None:
            self.limit = limit.count
        self.window = remaining.window or (limit.window if limit else None) or self.window
        self.observed, self.started = now, 0

    def _seconds_per_pull(self) -> float | None:
        return self.window / self.limit if self.window and self.limit else None

    def estimate(self, now: float) -> int | None:
        """Whole pulls left now by our estimate; None when the registry never told us."""
        if self.remaining is None:
            return None
        per_pull = self._seconds_per_pull()
        regained = math.floor((now - self.observed) / per_pull) if per_pull else 0
        estimate = self.remaining - self.started + regained
        return min(self.limit, estimate) if self.limit is not None else estimate

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "remaining": self.estimate(now),
            "window": self.window,
            "blocked_for": max(0.0, round(self.blocked_until - now, 1)),
        }

    def seconds_to(self, floor: int, now: float) -> float | None:
        """Seconds until a copy may start (it must leave `floor` pulls); None when it may now."""
        if self.blocked_until > now:
            return self.blocked_until - now
        estimate = self.estimate(now)
        if estimate is None or estimate > floor or self.remaining is None:
            return None
        per_pull = self._seconds_per_pull()
        if per_pull:  # until the window has given back enough for one pull above the floor
            missing = floor + 1 - (self.remaining - self.started)
            return max(self.observed + missing * per_pull - now, 0.0) or None
        # No window to estimate with: wait a while, then trust the budget again until the next HEAD.
        left = NO_WINDOW_RECHECK - (now - self.observed)
        return left if left > 0 else None


class RateLimits:
    """Budgets and copy slots of every source registry seen by the clients and copies of one run (a
    `sync.registries.Registries`; kept with it across the messages of a warm Lambda). Thread-safe."""

    def __init__(
        self,
        *,
        floor: int = DEFAULT_FLOOR,
        max_wait: float = DEFAULT_MAX_WAIT,
        max_defer: int = MAX_DEFER,
        concurrency: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.floor = floor
        self.max_wait = max_wait
        self.max_defer = max_defer
        self.concurrency = concurrency  # per source registry; None = only the pool's bound
        self._per_registry: dict[str, int] = {}
        self._floors: dict[str, int] = {}
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._budgets: dict[str, _Budget] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    @staticmethod
    def _key(registry: str) -> str:
        return registry.lower()

    def configure(
        self,
        *,
        floor: int | None = None,
        max_wait: float | None = None,
        concurrency: int | None = None,
        per_registry: Mapping[str, int] | None = None,
        floors: Mapping[str, int] | None = None,
    ) -> None:
        """Change settings between runs. `per_registry` / `floors`: a source's own copy bound / floor."""
        with self._lock:
            if floor is not None:
                self.floor = floor
            if max_wait is not None:
                self.max_wait = max_wait
            if concurrency is not None:
                self.concurrency = concurrency
            if per_registry is not None:
                self._per_registry = {self._key(k): v for k, v in per_registry.items()}
            if floors is not None:
                self._floors = {self._key(k): v for k, v in floors.items()}
            self._slots.clear()

    def reset(self) -> None:
        """Forget every observation (tests; a new run with other credentials)."""
        with self._lock:
            self._budgets.clear()
            self._slots.clear()

    # -- observations -----------------------------------------------------------------------
    def observe(self, registry: str, status: int, headers: Mapping[str, str]) -> None:
        """Take in one answer from `registry`: its `RateLimit-*` headers, and a 429 if it is one."""
        limit = parse_quota(_header(headers, LIMIT_HEADER))
        remaining = parse_quota(_header(headers, REMAINING_HEADER))
        if remaining is None and status != 429:
            return
        now = self._clock()
        with self._lock:
            budget = self._budgets.setdefault(self._key(registry), _Budget())
            if remaining is not None:
                budget.record(now, limit, remaining)
            if status == 429:
                wait = retry_after_seconds(_header(headers, "Retry-After"))
                budget.blocked_until = now + (BLOCK_WITHOUT_RETRY_AFTER if wait is None else wait)
        if status == 429 or (remaining is not None and remaining.count < self.floor_for(registry)):
            left = remaining.count if remaining else "?"
            log.info("%s: rate limit: %s pulls left (HTTP %d)", registry, left, status)

    # -- decisions --------------------------------------------------------------------------
    def floor_for(self, registry: str) -> int:
        return self._floors.get(self._key(registry), self.floor)

    def _clamp(self, seconds: float) -> int:
        return max(1, min(self.max_defer, math.ceil(seconds)))

    def defer_seconds(self, registry: str) -> int | None:
        """Seconds to put off a new copy from `registry`, or None when it may start now.

        For the AWS relay handler: return the message to the queue with this delay (capped at
        `max_defer`, SQS's 900 s) instead of copying.
        """
        with self._lock:
            budget = self._budgets.get(self._key(registry))
            wait = budget.seconds_to(self.floor_for(registry), self._clock()) if budget else None
        return None if wait is None else self._clamp(wait)

    def try_start(self, registry: str) -> int | None:
        """Like `defer_seconds`, and when a copy may start, count its pull (atomically)."""
        with self._lock:
            budget = self._budgets.get(self._key(registry))
            wait = budget.seconds_to(self.floor_for(registry), self._clock()) if budget else None
            if wait is None:
                if budget is not None:
                    budget.started += 1
                return None
        return self._clamp(wait)

    def acquire(self, registry: str) -> int | None:
        """Local runs: wait (at most `max_wait` s) until a copy from `registry` may start.

        Returns None when it may start (its pull is counted), else the seconds it would still have
        to wait: the caller fails the copy as rate-limited instead of waiting without end.
        """
        waited = 0.0
        while True:
            wait = self.try_start(registry)
            if wait is None:
                return None
            if waited >= self.max_wait:
                return wait
            pause = min(float(wait), self.max_wait - waited)
            log.warning(
                "%s: rate-limit budget below %d; deferring new copies for %.0fs",
                registry,
                self.floor_for(registry),
                pause,
            )
            self._sleep(pause)
            waited += pause

    # -- concurrency ------------------------------------------------------------------------
    def _slot(self, registry: str) -> threading.BoundedSemaphore | None:
        key = self._key(registry)
        with self._lock:
            bound = self._per_registry.get(key, self.concurrency)
            if bound is None or bound < 1:
                return None
            return self._slots.setdefault(key, threading.BoundedSemaphore(bound))

    @contextmanager
    def copy_slot(self, registry: str) -> Iterator[None]:
        """Hold one of the source registry's copy slots for the duration of a copy."""
        slot = self._slot(registry)
        if slot is None:
            yield
            return
        with slot:
            yield

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """What is known per registry, for reports: limit, remaining (estimated), window."""
        now = self._clock()
        with self._lock:
            return {key: b.describe(now) for key, b in self._budgets.items()}


class SourceLimits(Protocol):
    """A task's `source` (config.RegistryConfig): its own floor and copy bound, when set."""

    @property
    def registry(self) -> str: ...

    @property
    def rate_limit_floor(self) -> int | None: ...

    @property
    def max_concurrent_copies(self) -> int | None: ...


def configure_sources(sources: Iterable[SourceLimits], limits: RateLimits) -> RateLimits:
    """Apply the sources' `rate-limit-floor` / `max-concurrent-copies` to `limits`. A registry named
    by several tasks gets the highest floor and the lowest bound."""
    floors: dict[str, int] = {}
    bounds: dict[str, int] = {}
    for source in sources:
        key = source.registry.lower()
        if source.rate_limit_floor is not None:
            floors[key] = max(floors.get(key, 0), source.rate_limit_floor)
        if source.max_concurrent_copies is not None:
            bounds[key] = min(bounds.get(key, source.max_concurrent_copies), source.max_concurrent_copies)
    limits.configure(floors=floors, per_registry=bounds)
    return limits
